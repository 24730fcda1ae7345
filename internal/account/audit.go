package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// EventType names what an audit event records.
type EventType string

const (
	EventSignIn             EventType = "sign-in"
	EventSignInFailed       EventType = "sign-in-failed"
	EventSignOut            EventType = "sign-out"
	EventSignOutEverywhere  EventType = "sign-out-everywhere"
	EventMemberAdded        EventType = "member-added"
	EventInvited            EventType = "invited"
	EventInvitationAccepted EventType = "invitation-accepted"
	EventRolesChanged       EventType = "roles-changed"
	EventMemberDisabled     EventType = "member-disabled"
	EventMemberRemoved      EventType = "member-removed"
	// EventMemberErased records the removal of a member together with
	// everything they wrote (Store.EraseTx); its detail is a count, never
	// what they wrote nor who they were.
	EventMemberErased    EventType = "member-erased"
	EventResetRequested  EventType = "password-reset-requested"
	EventPasswordReset   EventType = "password-reset"
	EventPasswordChanged EventType = "password-changed"
	// EventHeldApproved and EventHeldRejected record a coordinator's
	// decision on a young member's item held for pre-moderation.
	EventHeldApproved EventType = "held-approved"
	EventHeldRejected EventType = "held-rejected"
)

// ErrInvalidEvent: an event to record has no type or no actor.
var ErrInvalidEvent = errors.New("audit event needs a type and an actor")

// ActorAnonymous is the actor of events caused by someone not signed in.
const ActorAnonymous = "anonymous"

func memberActor(id int64) string { return "member:" + strconv.FormatInt(id, 10) }

// MemberActor names a signed-in member as the actor of an event.
func MemberActor(id int64) string { return memberActor(id) }

// Event is one entry of the audit log.
type Event struct {
	ID       int64
	At       time.Time
	Type     EventType
	MemberID int64  // the member the event is about; 0 if none is known
	Actor    string // who caused it: MemberActor(id), ActorAnonymous, or the caller's name for itself ("cli")
	Address  string // the client's address, when there was a client
	Detail   string
}

func audit(ctx context.Context, tx *sql.Tx, now time.Time, e Event) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO audit (at, event, member_id, actor, address, detail) VALUES (?, ?, ?, ?, ?, ?)",
		ms(now), e.Type, sql.NullInt64{Int64: e.MemberID, Valid: e.MemberID != 0}, e.Actor, e.Address, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Type, err)
	}
	return nil
}

// RecordTx appends e to the audit log inside tx, a write transaction on the
// database the store lives in, so the event commits or rolls back with the
// change it records. At is the store's clock; e.At is ignored.
func (s *Store) RecordTx(ctx context.Context, tx *sql.Tx, e Event) error {
	if e.Type == "" || e.Actor == "" {
		return ErrInvalidEvent
	}
	return audit(ctx, tx, s.now(), e)
}

// Audit returns up to limit events, newest first, older than the event with
// id before (0 for the newest), so that a page's last id fetches the next.
func (s *Store) Audit(ctx context.Context, before int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	var events []Event
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			`SELECT id, at, event, member_id, actor, address, detail FROM audit
			 WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e Event
			var at int64
			var member sql.NullInt64
			if err := rows.Scan(&e.ID, &at, &e.Type, &member, &e.Actor, &e.Address, &e.Detail); err != nil {
				return err
			}
			e.At, e.MemberID = fromMS(at), member.Int64
			events = append(events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return events, nil
}

// PruneAudit deletes the events older than age and returns how many.
func (s *Store) PruneAudit(ctx context.Context, age time.Duration) (int64, error) {
	var n int64
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM audit WHERE at < ?", ms(s.now().Add(-age)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return n, nil
}
