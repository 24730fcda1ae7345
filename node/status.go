package node

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// statusRefusals is how many refusals Status shows.
const statusRefusals = 50

// Status is the node's own view of its sync health.
type Status struct {
	Node           string    `json:"node"`
	Name           string    `json:"name,omitempty"`
	HubURL         string    `json:"hub_url"`
	KeyID          string    `json:"key_id"`
	Epoch          string    `json:"epoch"`
	EpochStartedAt time.Time `json:"epoch_started_at"`
	// HeadSeq is the outbox's latest seq in this epoch.
	HeadSeq int64 `json:"head_seq"`
	// PushCheckpoint is the highest seq the hub has acknowledged.
	PushCheckpoint int64 `json:"push_checkpoint"`
	// Pending is how many outbox changes wait for the hub.
	Pending int64 `json:"pending"`
	// Scheduled is how many own entities wait for their publish_at.
	Scheduled int64 `json:"scheduled"`
	// PullCursor is the hub_seq the node has applied up to.
	PullCursor int64 `json:"pull_cursor"`
	// HubSeq is the hub's head as last seen; PullLag is how far behind it we are.
	HubSeq  int64 `json:"hub_seq"`
	PullLag int64 `json:"pull_lag"`
	// HubIncarnation is the hub incarnation the pull cursor came from.
	HubIncarnation string `json:"hub_incarnation,omitempty"`
	// Reconciling says the node has yet to compare its own content with the
	// hub's manifest and re-send what the hub lacks: after a new epoch, or
	// after the hub went back in time (HubRewoundAt). Until it has, neither
	// PullLag nor Pending says the network holds what this node has.
	Reconciling bool `json:"reconciling"`
	// HubRewoundAt is when the node last found the hub behind what it had
	// pulled or pushed (the hub was restored from an older copy).
	HubRewoundAt *time.Time `json:"hub_rewound_at,omitempty"`
	// ClockOffsetSeconds is the hub's clock minus the local one, as the
	// latest answer measured it; ClockSkewed is set when that is more than a
	// minute. Publication and change times follow the hub's clock.
	ClockOffsetSeconds float64 `json:"clock_offset_seconds"`
	ClockSkewed        bool    `json:"clock_skewed,omitempty"`
	ClockMeasured      bool    `json:"clock_measured"`

	LastPushAt        *time.Time `json:"last_push_at,omitempty"`
	LastPushAttemptAt *time.Time `json:"last_push_attempt_at,omitempty"`
	LastPushError     string     `json:"last_push_error,omitempty"`
	LastPullAt        *time.Time `json:"last_pull_at,omitempty"`
	LastPullAttemptAt *time.Time `json:"last_pull_attempt_at,omitempty"`
	LastPullError     string     `json:"last_pull_error,omitempty"`
	// Refusals are the newest 50, newest first; RefusalCount counts all kept.
	Refusals     []Refusal `json:"refusals"`
	RefusalCount int64     `json:"refusal_count"`
	// ErasuresWaiting counts erasures this node has still to finish: purge
	// the erased text and files, or acknowledge them to the hub.
	ErasuresWaiting int64 `json:"erasures_waiting"`
	// Entities counts every entity held, tombstones included.
	Entities int64         `json:"entities"`
	Counts   []EntityCount `json:"counts"`
}

// EntityCount is how many entities of one kind one owner has here.
type EntityCount struct {
	Owner string        `json:"owner"`
	Kind  protocol.Kind `json:"kind"`
	Count int64         `json:"count"`
}

// Status reports the node's sync state, refusals and entity counts.
func (n *Node) Status(ctx context.Context) (Status, error) {
	s := Status{Node: n.ident.Node, Name: n.ident.Name, HubURL: n.ident.HubURL, KeyID: n.key.ID,
		Refusals: []Refusal{}, Counts: []EntityCount{}}
	var stored *time.Duration
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		st, err := readSyncState(ctx, tx)
		if err != nil {
			return err
		}
		s.Epoch, s.EpochStartedAt, s.HeadSeq, s.PushCheckpoint = st.Epoch, st.EpochStartedAt, st.HeadSeq, st.PushCheckpoint
		s.PullCursor, s.HubSeq, s.PullLag = st.PullCursor, st.HubSeq, max(0, st.HubSeq-st.PullCursor)
		s.HubIncarnation, s.Reconciling, s.HubRewoundAt = st.HubIncarnation, st.Reconcile, st.HubRewoundAt
		stored = st.HubClockOffset
		s.LastPushAt, s.LastPushAttemptAt, s.LastPushError = st.LastPushAt, st.LastPushTry, st.LastPushError
		s.LastPullAt, s.LastPullAttemptAt, s.LastPullError = st.LastPullAt, st.LastPullTry, st.LastPullError
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE seq > ?`, st.PushCheckpoint).Scan(&s.Pending); err != nil {
			return fmt.Errorf("count pending: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM entities WHERE scheduled = 1`).Scan(&s.Scheduled); err != nil {
			return fmt.Errorf("count scheduled: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM erasure_purges WHERE purged = 0 OR hub_seq IS NOT NULL`).Scan(&s.ErasuresWaiting); err != nil {
			return fmt.Errorf("count erasures: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM refusals`).Scan(&s.RefusalCount); err != nil {
			return fmt.Errorf("count refusals: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT at, source, line, seq, entity_id, version, hub_seq, code, reason
			FROM refusals ORDER BY rid DESC LIMIT ?`, statusRefusals)
		if err != nil {
			return fmt.Errorf("read refusals: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r Refusal
			var at string
			if err := rows.Scan(&at, &r.Source, &r.Line, &r.Seq, &r.ID, &r.Version, &r.HubSeq, &r.Code, &r.Reason); err != nil {
				return fmt.Errorf("read refusals: %w", err)
			}
			r.At = parseTime(at)
			s.Refusals = append(s.Refusals, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read refusals: %w", err)
		}
		// Kept by triggers (migration 0019): a GROUP BY over entities would
		// read every entity, however little changed.
		crows, err := tx.QueryContext(ctx, `SELECT owner, kind, n FROM entity_counts WHERE n > 0 ORDER BY owner, kind`)
		if err != nil {
			return fmt.Errorf("count entities: %w", err)
		}
		defer crows.Close()
		for crows.Next() {
			var c EntityCount
			if err := crows.Scan(&c.Owner, &c.Kind, &c.Count); err != nil {
				return fmt.Errorf("count entities: %w", err)
			}
			s.Entities += c.Count
			s.Counts = append(s.Counts, c)
		}
		return crows.Err()
	})
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	skew, ok := n.clockSkew()
	if !ok && stored != nil {
		// Another process (the serving node) measured it.
		skew, ok = *stored, true
	}
	if ok {
		s.ClockMeasured = true
		s.ClockOffsetSeconds = skew.Seconds()
		s.ClockSkewed = skew.Abs() > maxClockSkew
	}
	return s, nil
}
