package node

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// Pre-moderation: what a youth member writes is held on the node until a
// youth coordinator of the node approves it. Only then is it authored like
// any own change (signed and queued, or kept local in the national youth
// space); a rejected item stays held with the coordinator's reason, for its
// author to read. A held item is a draft, not an entity: it has no entity
// id, no signature and no outbox row, so no path of the node can send it.

var (
	// ErrNotYouth: the member is not an active youth member with a pseudonym.
	ErrNotYouth = errors.New("not a youth member")
	// ErrNotCoordinator: the member does not hold the youth-coordinator
	// role, or is disabled.
	ErrNotCoordinator = errors.New("not a youth coordinator")
	// ErrOwnHeldItem: a coordinator decides on others' items, not their own.
	ErrOwnHeldItem = errors.New("a coordinator cannot decide on their own item")
	// ErrHeldNotFound: no held item with that id.
	ErrHeldNotFound = errors.New("held item not found")
	// ErrHeldDecided: the item was already approved or rejected.
	ErrHeldDecided = errors.New("held item already decided")
	// ErrInvalidReason: a rejection's reason is empty, too long or not text.
	ErrInvalidReason = errors.New("invalid rejection reason")
)

// HeldState is where a held item is in moderation.
type HeldState string

const (
	HeldWaiting  HeldState = "waiting"
	HeldApproved HeldState = "approved"
	HeldRejected HeldState = "rejected"
)

// MaxHeldReason bounds a rejection's reason, in characters: a few
// sentences to the author, not a second post.
const MaxHeldReason = 1000

// HeldItem is a youth member's post or comment under pre-moderation.
type HeldItem struct {
	ID         string
	MemberID   int64
	Kind       protocol.Kind
	Visibility protocol.Visibility
	// Body is the draft's body with the author set to the member's pseudonym.
	Body      json.RawMessage
	CreatedAt time.Time
	State     HeldState
	// Reason is the coordinator's reason for a rejection.
	Reason    string
	DecidedBy int64
	DecidedAt *time.Time
	// EntityID is the entity an approval wrote.
	EntityID string
}

// HeldFilter selects held items for HeldItems. Results are oldest first;
// After is the last id of the previous page (an unknown id gives none).
type HeldFilter struct {
	State  HeldState
	Member int64
	// Limit defaults to 100 and is at most 1000.
	Limit int
	After string
}

func newHeldID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new held item id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// withPseudonym replaces the body's author with the member's pseudonym:
// whatever the draft claims, a held item speaks only as its member.
func withPseudonym(body json.RawMessage, pseudonym string) (json.RawMessage, error) {
	return withAuthor(body, protocol.Author{Pseudonym: pseudonym})
}

// youthMember returns the member who may write held items.
func (n *Node) youthMember(ctx context.Context, id int64) (account.Member, error) {
	m, err := n.accounts.Get(ctx, id)
	if errors.Is(err, account.ErrNotFound) {
		return account.Member{}, fmt.Errorf("member %d: %w", id, ErrNotYouth)
	}
	if err != nil {
		return account.Member{}, err
	}
	if !m.HasRole(RoleYouth) || m.Pseudonym == "" || m.Status == account.StatusDisabled {
		return account.Member{}, fmt.Errorf("member %d: %w", id, ErrNotYouth)
	}
	return m, nil
}

// coordinator checks that id may decide on held items.
func (n *Node) coordinator(ctx context.Context, id int64) error {
	m, err := n.accounts.Get(ctx, id)
	if errors.Is(err, account.ErrNotFound) {
		return fmt.Errorf("member %d: %w", id, ErrNotCoordinator)
	}
	if err != nil {
		return err
	}
	if !m.HasRole(RoleYouthCoordinator) || m.Status == account.StatusDisabled {
		return fmt.Errorf("member %d: %w", id, ErrNotCoordinator)
	}
	return nil
}

// Hold validates a youth member's draft as Create would, without signing
// it, and keeps it for a coordinator. The author is always the member's own
// pseudonym. Nothing is queued for the hub.
func (n *Node) Hold(ctx context.Context, memberID int64, d Draft) (HeldItem, error) {
	m, err := n.youthMember(ctx, memberID)
	if err != nil {
		return HeldItem{}, err
	}
	if d.Kind != protocol.KindPost && d.Kind != protocol.KindComment {
		return HeldItem{}, fieldError("kind", "a youth member writes a post or a comment, not %q", d.Kind)
	}
	if d.PublishAt != nil {
		return HeldItem{}, fieldError("publish_at", "a held item is published when a coordinator approves it")
	}
	if len(d.Blobs) > 0 {
		return HeldItem{}, fieldError("blobs", "a held item has no attachments")
	}
	if len(d.Body) > protocol.MaxChangeBytes {
		return HeldItem{}, fieldError("body", "%d bytes, limit %d", len(d.Body), protocol.MaxChangeBytes)
	}
	body, err := withPseudonym(d.Body, m.Pseudonym)
	if err != nil {
		return HeldItem{}, err
	}
	id, err := newHeldID()
	if err != nil {
		return HeldItem{}, err
	}
	now := n.now().UTC()
	item := HeldItem{ID: id, MemberID: m.ID, Kind: d.Kind, Visibility: d.Visibility, Body: body,
		CreatedAt: now, State: HeldWaiting}
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		a, err := n.beginAuthor(ctx, tx, now)
		if err != nil {
			return err
		}
		// Nothing is signed, so finish writes nothing; it closes the statements.
		defer a.finish(ctx)
		eid, err := protocol.NewEntityID(n.ident.Node, now)
		if err != nil {
			return err
		}
		// The change an approval would write, checked now so the author
		// hears of a mistake at once, not from a coordinator.
		c := protocol.Change{Protocol: protocol.Version, ID: eid, Kind: d.Kind, Owner: n.ident.Node, Version: 1,
			Seq: a.head + 1, UpdatedAt: now, Visibility: d.Visibility, Body: body, KeyID: n.key.ID}
		if err := checkChange(&c); err != nil {
			return err
		}
		if err := a.checkRules(ctx, &c); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO held_items (id, member_id, kind, visibility, body, created_at, state)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, m.ID, string(d.Kind), string(d.Visibility), string(body), fmtTime(now), string(HeldWaiting))
		if err != nil {
			return fmt.Errorf("store held item: %w", err)
		}
		return nil
	})
	if err != nil {
		return HeldItem{}, unwrapTx(err)
	}
	n.log.Info("youth item held for moderation", "held", id, "member", m.ID, "kind", d.Kind)
	return item, nil
}

const heldColumns = `id, member_id, kind, visibility, body, created_at, state, reason, decided_by, decided_at, entity_id`

func scanHeld(row interface{ Scan(...any) error }) (HeldItem, error) {
	var (
		h                      HeldItem
		kind, vis, body, state string
		created                string
		decidedBy              sql.NullInt64
		decidedAt, entityID    sql.NullString
	)
	if err := row.Scan(&h.ID, &h.MemberID, &kind, &vis, &body, &created, &state, &h.Reason, &decidedBy, &decidedAt, &entityID); err != nil {
		return HeldItem{}, err
	}
	h.Kind, h.Visibility, h.Body, h.State = protocol.Kind(kind), protocol.Visibility(vis), json.RawMessage(body), HeldState(state)
	h.CreatedAt, h.DecidedBy, h.DecidedAt, h.EntityID = parseTime(created), decidedBy.Int64, parseTimePtr(decidedAt), entityID.String
	return h, nil
}

func getHeldTx(ctx context.Context, tx *sql.Tx, id string) (HeldItem, error) {
	h, err := scanHeld(tx.QueryRowContext(ctx, `SELECT `+heldColumns+` FROM held_items WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return HeldItem{}, fmt.Errorf("held item %q: %w", id, ErrHeldNotFound)
	}
	if err != nil {
		return HeldItem{}, fmt.Errorf("read held item %q: %w", id, err)
	}
	return h, nil
}

// HeldItem returns one held item.
func (n *Node) HeldItem(ctx context.Context, id string) (HeldItem, error) {
	var h HeldItem
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		h, err = getHeldTx(ctx, tx, id)
		return err
	})
	return h, err
}

// HeldItems returns held items, oldest first: a coordinator's queue
// (State waiting), or a member's own items with their decisions.
func (n *Node) HeldItems(ctx context.Context, f HeldFilter) ([]HeldItem, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT ` + heldColumns + ` FROM held_items WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Member != 0 {
		q += ` AND member_id = ?`
		args = append(args, f.Member)
	}
	if f.After != "" {
		q += ` AND (created_at, id) > (SELECT created_at, id FROM held_items WHERE id = ?)`
		args = append(args, f.After)
	}
	q += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit)
	out := []HeldItem{}
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHeld(rows)
			if err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list held items: %w", err)
	}
	return out, nil
}

// ApproveHeld writes the held item as an own entity, through the same path
// as Create, and marks it approved, with the audit event, in the same
// transaction. Approving an approved item again returns it as it is: one
// item is never two entities.
func (n *Node) ApproveHeld(ctx context.Context, id string, coordinatorID int64) (HeldItem, error) {
	if err := n.coordinator(ctx, coordinatorID); err != nil {
		return HeldItem{}, err
	}
	var h HeldItem
	err := n.write(ctx, func(a *author) error {
		var err error
		if h, err = getHeldTx(ctx, a.tx, id); err != nil {
			return err
		}
		if h.MemberID == coordinatorID {
			return ErrOwnHeldItem
		}
		switch h.State {
		case HeldApproved:
			return nil
		case HeldRejected:
			return fmt.Errorf("held item %q was rejected: %w", id, ErrHeldDecided)
		}
		r, _, err := a.put(ctx, "", Draft{Kind: h.Kind, Visibility: h.Visibility, Body: h.Body}, false)
		if err != nil {
			return err
		}
		if err := a.recordAuthor(ctx, r.ID, h.MemberID); err != nil {
			return err
		}
		at := a.now
		if _, err := a.tx.ExecContext(ctx, `UPDATE held_items SET state = ?, decided_by = ?, decided_at = ?, entity_id = ?
			WHERE id = ? AND state = ?`, string(HeldApproved), coordinatorID, fmtTime(at), r.ID, id, string(HeldWaiting)); err != nil {
			return fmt.Errorf("approve held item %q: %w", id, err)
		}
		if err := n.accounts.RecordTx(ctx, a.tx, account.Event{Type: account.EventHeldApproved, MemberID: h.MemberID,
			Actor: account.MemberActor(coordinatorID), Detail: fmt.Sprintf("held %s %s published as %s", h.Kind, id, r.ID)}); err != nil {
			return err
		}
		h.State, h.DecidedBy, h.DecidedAt, h.EntityID = HeldApproved, coordinatorID, &at, r.ID
		return nil
	})
	if err != nil {
		return HeldItem{}, err
	}
	n.log.Info("held youth item approved", "held", id, "coordinator", coordinatorID, "entity", h.EntityID)
	return h, nil
}

// RejectHeld keeps the held item unpublished with the coordinator's reason,
// which its author reads in their own items.
func (n *Node) RejectHeld(ctx context.Context, id string, coordinatorID int64, reason string) (HeldItem, error) {
	reason = strings.TrimSpace(reason)
	switch k := utf8.RuneCountInString(reason); {
	case !utf8.ValidString(reason):
		return HeldItem{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidReason)
	case k == 0:
		return HeldItem{}, fmt.Errorf("%w: required, so the author knows what to change", ErrInvalidReason)
	case k > MaxHeldReason:
		return HeldItem{}, fmt.Errorf("%w: %d characters, limit %d", ErrInvalidReason, k, MaxHeldReason)
	}
	if err := n.coordinator(ctx, coordinatorID); err != nil {
		return HeldItem{}, err
	}
	var h HeldItem
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		if h, err = getHeldTx(ctx, tx, id); err != nil {
			return err
		}
		if h.MemberID == coordinatorID {
			return ErrOwnHeldItem
		}
		if h.State != HeldWaiting {
			return fmt.Errorf("held item %q is %s: %w", id, h.State, ErrHeldDecided)
		}
		at := n.now().UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE held_items SET state = ?, reason = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			string(HeldRejected), reason, coordinatorID, fmtTime(at), id); err != nil {
			return fmt.Errorf("reject held item %q: %w", id, err)
		}
		if err := n.accounts.RecordTx(ctx, tx, account.Event{Type: account.EventHeldRejected, MemberID: h.MemberID,
			Actor: account.MemberActor(coordinatorID), Detail: fmt.Sprintf("held %s %s rejected", h.Kind, id)}); err != nil {
			return err
		}
		h.State, h.Reason, h.DecidedBy, h.DecidedAt = HeldRejected, reason, coordinatorID, &at
		return nil
	})
	if err != nil {
		return HeldItem{}, err
	}
	n.log.Info("held youth item rejected", "held", id, "coordinator", coordinatorID)
	return h, nil
}
