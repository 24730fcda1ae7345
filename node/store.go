package node

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/protocol"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}

// timeFormat is fixed-width so stored times compare correctly as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func fmtTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func parseTimePtr(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

// State says where an entity is in its journey to the network.
type State string

// The entity states.
const (
	// StateScheduled is an own entity waiting for its publish_at; it is not signed yet.
	StateScheduled State = "scheduled"
	// StatePending is an own change in the outbox the hub has not acknowledged.
	StatePending State = "pending"
	// StateSynced is an own entity the hub has processed.
	StateSynced State = "synced"
	// StateRemote is another owner's entity, pulled from the hub.
	StateRemote State = "remote"
	// StateLocal is an own entity that never leaves this node: a post of
	// the SIC's national youth space, or a comment on one.
	StateLocal State = "local"
)

// Entity is the local view of one entity, as the admin API and CLI show it.
type Entity struct {
	ID         string              `json:"id"`
	Kind       protocol.Kind       `json:"kind"`
	Owner      string              `json:"owner"`
	Version    int64               `json:"version"`
	Visibility protocol.Visibility `json:"visibility"`
	PublishAt  *time.Time          `json:"publish_at"`
	Deleted    bool                `json:"deleted"`
	Erased     bool                `json:"erased"`
	UpdatedAt  time.Time           `json:"updated_at"`
	Body       json.RawMessage     `json:"body"`
	Blobs      []protocol.BlobRef  `json:"blobs"`
	State      State               `json:"state"`
}

// entityRow is an entities row with the bookkeeping the Entity view hides.
type entityRow struct {
	Entity
	scheduled     bool
	outboxSeq     int64
	signedVersion int64
	// local marks an entity that never leaves the node (migration 0009).
	local bool
}

const entityColumns = `id, owner, kind, version, visibility, deleted, erased, publish_at, updated_at,
	scheduled, outbox_seq, signed_version, body, blobs, local`

type scanner interface{ Scan(dest ...any) error }

func scanEntity(s scanner) (entityRow, error) {
	var (
		r         entityRow
		publishAt sql.NullString
		updatedAt string
		body      sql.NullString
		blobs     sql.NullString
	)
	err := s.Scan(&r.ID, &r.Owner, &r.Kind, &r.Version, &r.Visibility, &r.Deleted, &r.Erased,
		&publishAt, &updatedAt, &r.scheduled, &r.outboxSeq, &r.signedVersion, &body, &blobs, &r.local)
	if err != nil {
		return r, err
	}
	r.PublishAt = parseTimePtr(publishAt)
	r.UpdatedAt = parseTime(updatedAt)
	if body.Valid {
		r.Body = json.RawMessage(body.String)
	}
	if blobs.Valid && blobs.String != "" {
		if err := json.Unmarshal([]byte(blobs.String), &r.Blobs); err != nil {
			return r, fmt.Errorf("decode blobs of %s: %w", r.ID, err)
		}
	}
	if r.Blobs == nil {
		r.Blobs = []protocol.BlobRef{}
	}
	return r, nil
}

// view fills in the state, which depends on who is asking and on the push checkpoint.
func (r entityRow) view(self string, checkpoint int64) Entity {
	e := r.Entity
	switch {
	case r.Owner != self:
		e.State = StateRemote
	case r.local:
		e.State = StateLocal
	case r.scheduled:
		e.State = StateScheduled
	case r.outboxSeq > checkpoint:
		e.State = StatePending
	default:
		e.State = StateSynced
	}
	return e
}

func getEntityTx(ctx context.Context, tx *sql.Tx, id string) (entityRow, error) {
	r, err := scanEntity(tx.QueryRowContext(ctx, `SELECT `+entityColumns+` FROM entities WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, protocol.Errorf(protocol.CodeNotFound, "entity %s not found", id)
	}
	if err != nil {
		return r, fmt.Errorf("read entity %s: %w", id, err)
	}
	return r, nil
}

// syncState is the one sync_state row.
type syncState struct {
	Epoch          string
	EpochStartedAt time.Time
	HeadSeq        int64
	PushCheckpoint int64
	PullCursor     int64
	HubSeq         int64
	LastPushAt     *time.Time
	LastPushTry    *time.Time
	LastPushError  string
	LastPullAt     *time.Time
	LastPullTry    *time.Time
	LastPullError  string
	// HubIncarnation is the hub incarnation the pull cursor was obtained from;
	// HubPrevIncarnation the one before it, whose history ended at HubPrevEnd.
	HubIncarnation     string
	HubPrevIncarnation string
	HubPrevEnd         int64
	// Reconcile says the next push compares own content with the hub's first.
	Reconcile    bool
	HubRewoundAt *time.Time
	// HubClockOffset is the hub's clock minus ours, as last stored; nil
	// before any measurement.
	HubClockOffset *time.Duration
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSyncState(ctx context.Context, q querier) (syncState, error) {
	var (
		s                syncState
		started          string
		pushAt, pullAt   sql.NullString
		pushTry, pullTry sql.NullString
		pushErr, pullErr sql.NullString
		rewoundAt        sql.NullString
		clockOffset      sql.NullInt64
	)
	err := q.QueryRowContext(ctx, `SELECT epoch, epoch_started_at, head_seq, push_checkpoint, pull_cursor, hub_seq,
		last_push_at, last_push_attempt_at, last_push_error, last_pull_at, last_pull_attempt_at, last_pull_error,
		hub_incarnation, reconcile, hub_rewound_at, hub_clock_offset_ms, hub_prev_incarnation, hub_prev_end
		FROM sync_state WHERE id = 1`).
		Scan(&s.Epoch, &started, &s.HeadSeq, &s.PushCheckpoint, &s.PullCursor, &s.HubSeq,
			&pushAt, &pushTry, &pushErr, &pullAt, &pullTry, &pullErr,
			&s.HubIncarnation, &s.Reconcile, &rewoundAt, &clockOffset, &s.HubPrevIncarnation, &s.HubPrevEnd)
	if err != nil {
		return s, fmt.Errorf("read sync state: %w", err)
	}
	s.EpochStartedAt = parseTime(started)
	s.LastPushAt, s.LastPullAt = parseTimePtr(pushAt), parseTimePtr(pullAt)
	s.LastPushTry, s.LastPullTry = parseTimePtr(pushTry), parseTimePtr(pullTry)
	s.LastPushError, s.LastPullError = pushErr.String, pullErr.String
	s.HubRewoundAt = parseTimePtr(rewoundAt)
	if clockOffset.Valid {
		d := time.Duration(clockOffset.Int64) * time.Millisecond
		s.HubClockOffset = &d
	}
	return s, nil
}

// Identity is what enrolment established: who this node is and where its hub is.
type Identity struct {
	Node       string    `json:"node"`
	Name       string    `json:"name,omitempty"`
	HubURL     string    `json:"hub_url"`
	KeyID      string    `json:"key_id"`
	Epoch      string    `json:"epoch"`
	EnrolledAt time.Time `json:"enrolled_at"`
	// Credential authenticates the node to the hub; it is never shown.
	Credential string `json:"-"`
	// Countries are those the hub lets the node publish a profile for, as
	// its enrolment answer gave them; nil when the hub did not say.
	Countries []string `json:"countries,omitempty"`
}

// errNotInitialised is what every entry point says about an empty data dir.
var errNotInitialised = errors.New("node not initialised: run bikfed node init --hub URL --token T")

func readIdentity(ctx context.Context, q querier) (Identity, error) {
	var id Identity
	var at string
	var countries sql.NullString
	err := q.QueryRowContext(ctx, `SELECT i.node, i.name, i.hub_url, i.credential, i.key_id, i.enrolled_at, s.epoch, i.countries
		FROM identity i, sync_state s WHERE i.id = 1 AND s.id = 1`).
		Scan(&id.Node, &id.Name, &id.HubURL, &id.Credential, &id.KeyID, &at, &id.Epoch, &countries)
	if errors.Is(err, sql.ErrNoRows) {
		return id, errNotInitialised
	}
	if err != nil {
		return id, fmt.Errorf("read identity: %w", err)
	}
	id.EnrolledAt = parseTime(at)
	if countries.Valid {
		id.Countries = []string{}
		if countries.String != "" {
			id.Countries = strings.Split(countries.String, ",")
		}
	}
	return id, nil
}

// newEpochID returns a random epoch id; epochs only need to differ.
func newEpochID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new epoch: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// startEpochTx starts a new epoch: the hub's checkpoint of the old epoch no
// longer describes this outbox (re-init, restore from a backup, or a hub that
// lost our seqs), so the changes not yet acknowledged are re-signed as seqs
// 1..k of the new epoch, acknowledged rows are dropped, and the pull cursor
// goes back to 0 so the node re-adopts whatever the hub holds of its own.
// The seq is inside the signed bytes, so renumbering means re-signing; the
// entity rows that carried those changes are updated to the new bytes.
func startEpochTx(ctx context.Context, tx *sql.Tx, key protocol.Key, epoch string, now time.Time) (renumbered int, err error) {
	var checkpoint int64
	err = tx.QueryRowContext(ctx, `SELECT push_checkpoint FROM sync_state WHERE id = 1`).Scan(&checkpoint)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read push checkpoint: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, checkpoint); err != nil {
		return 0, fmt.Errorf("drop acknowledged outbox: %w", err)
	}
	type pending struct {
		seq    int64
		id     string
		change []byte
	}
	var rows []pending
	rs, err := tx.QueryContext(ctx, `SELECT seq, entity_id, change FROM outbox ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	for rs.Next() {
		var p pending
		if err := rs.Scan(&p.seq, &p.id, &p.change); err != nil {
			rs.Close()
			return 0, fmt.Errorf("read outbox: %w", err)
		}
		rows = append(rows, p)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	// Renumbering in ascending order never collides: each new seq is at most
	// its old seq and below every old seq still to be renumbered.
	for i, p := range rows {
		newSeq := int64(i + 1)
		var c protocol.Change
		if err := json.Unmarshal(p.change, &c); err != nil {
			return 0, fmt.Errorf("decode outbox seq %d: %w", p.seq, err)
		}
		c.Seq = newSeq
		s, err := key.Sign(&c)
		if err != nil {
			return 0, fmt.Errorf("re-sign outbox seq %d: %w", p.seq, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET seq = ?, change = ?, sig = ? WHERE seq = ?`,
			newSeq, []byte(s.Change), s.Sig, p.seq); err != nil {
			return 0, fmt.Errorf("renumber outbox seq %d: %w", p.seq, err)
		}
		// Only the seq changed: the body the change gives is the same, so
		// body_own stays right; hash and key_id follow change_z.
		stored, err := atrest.Compress(s.Change)
		if err != nil {
			return 0, fmt.Errorf("renumber entity %s: %w", p.id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entities SET outbox_seq = ?, change_z = ?, sig = ?
			WHERE id = ? AND outbox_seq = ?`, newSeq, stored, s.Sig, p.id, p.seq); err != nil {
			return 0, fmt.Errorf("renumber entity %s: %w", p.id, err)
		}
	}
	// Own entities whose change was acknowledged in the old epoch must not look
	// pending against the new, lower seqs.
	if _, err := tx.ExecContext(ctx, `UPDATE entities SET outbox_seq = 0 WHERE outbox_seq > 0
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = entities.outbox_seq AND o.entity_id = entities.id)`); err != nil {
		return 0, fmt.Errorf("reset outbox seqs: %w", err)
	}
	// The hub's checkpoint no longer says what it holds of ours: the next
	// push compares by manifest first (docs/protocol.md §11, reconciliation).
	_, err = tx.ExecContext(ctx, `INSERT INTO sync_state (id, epoch, epoch_started_at, head_seq, push_checkpoint, pull_cursor, reconcile)
		VALUES (1, ?, ?, ?, 0, 0, 1)
		ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, epoch_started_at = excluded.epoch_started_at,
			head_seq = excluded.head_seq, push_checkpoint = 0, pull_cursor = 0, reconcile = 1`,
		epoch, fmtTime(now), len(rows))
	if err != nil {
		return 0, fmt.Errorf("store epoch: %w", err)
	}
	return len(rows), nil
}

// Refusal is a record refused on push, a pulled change that failed
// verification, or a scheduled entity that could not be published.
type Refusal struct {
	// Source is "push", "pull" or "publish".
	Source string `json:"source"`
	// HubSeq is the feed position of a refused pulled change.
	HubSeq int64 `json:"hub_seq,omitempty"`
	protocol.Refusal
}

func insertRefusal(ctx context.Context, stmt *sql.Stmt, source string, hubSeq int64, r protocol.Refusal, now time.Time) error {
	at := r.At
	if at.IsZero() {
		at = now
	}
	reason := r.Reason
	if len(reason) > 2000 {
		reason = reason[:2000]
	}
	_, err := stmt.ExecContext(ctx, fmtTime(at), source, r.Line, r.Seq, r.ID, r.Version, hubSeq, string(r.Code), reason)
	if err != nil {
		return fmt.Errorf("store refusal of %s: %w", r.Name(), err)
	}
	return nil
}

const insertRefusalSQL = `INSERT INTO refusals (at, source, line, seq, entity_id, version, hub_seq, code, reason)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// ownerRange returns the id range of owner's entities: ids are "<owner>:<ULID>"
// and ';' follows ':' in byte order.
func ownerRange(owner string) (lo, hi string) { return owner + ":", owner + ";" }

// truncateErr keeps stored error messages short.
func truncateErr(err error) string {
	s := err.Error()
	if len(s) > 1000 {
		s = s[:1000]
	}
	return strings.ToValidUTF8(s, "?")
}
