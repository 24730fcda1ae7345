package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// The audit events of the bulletin.
const (
	EventBulletinPublished account.EventType = "bulletin-published"
	EventBulletinSending   account.EventType = "bulletin-sending"
)

// ErrEditionTaken refuses a bulletin whose edition another live bulletin
// already has: an edition has one address and is sent once.
var ErrEditionTaken = errors.New("another bulletin has this edition")

// BulletinEntry is a live edition of the bulletin, as the hub holds it.
type BulletinEntry struct {
	ID        string
	Version   int64
	UpdatedAt time.Time
	Bulletin  protocol.Bulletin
}

// Bulletins lists the hub's live editions, newest edition first.
func (h *Hub) Bulletins(ctx context.Context) ([]BulletinEntry, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT change FROM entities WHERE owner = ? AND kind = ? AND deleted = 0
		ORDER BY json_extract(change, '$.body.edition') DESC, id`, protocol.HubID, string(protocol.KindBulletin))
	if err != nil {
		return nil, fmt.Errorf("list bulletins: %w", err)
	}
	defer rows.Close()
	var out []BulletinEntry
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("list bulletins: %w", err)
		}
		e, err := bulletinEntry(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// BulletinByEdition reads the live bulletin of edition; none is
// protocol.ErrNotFound.
func (h *Hub) BulletinByEdition(ctx context.Context, edition string) (BulletinEntry, error) {
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT change FROM entities WHERE owner = ? AND kind = ? AND deleted = 0
		AND json_extract(change, '$.body.edition') = ? ORDER BY hub_seq LIMIT 1`, protocol.HubID, string(protocol.KindBulletin), edition).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return BulletinEntry{}, protocol.Errorf(protocol.CodeNotFound, "no bulletin %s", edition)
	}
	if err != nil {
		return BulletinEntry{}, fmt.Errorf("read bulletin %s: %w", edition, err)
	}
	return bulletinEntry(raw)
}

func bulletinEntry(raw []byte) (BulletinEntry, error) {
	var e BulletinEntry
	c, err := decodeStored(raw, &e.Bulletin)
	if err != nil {
		return e, err
	}
	e.ID, e.Version, e.UpdatedAt = c.ID, c.Version, c.UpdatedAt
	return e, nil
}

// CheckBulletin validates b as the body of a public, hub-owned bulletin
// change with protocol's own rules; a *protocol.ValidationError names the
// fields at fault.
func (h *Hub) CheckBulletin(b protocol.Bulletin) error {
	return h.checkHubBody(protocol.KindBulletin, b)
}

// SaveBulletin publishes b as a signed, public, hub-owned bulletin change:
// a new entity, or a new version of the live edition it names. The save
// goes to the audit log.
func (h *Hub) SaveBulletin(ctx context.Context, b protocol.Bulletin, memberID int64, address string) (string, error) {
	if err := h.CheckBulletin(b); err != nil {
		return "", err
	}
	id := ""
	switch e, err := h.BulletinByEdition(ctx, b.Edition); {
	case err == nil:
		id = e.ID
	case protocol.ErrorCode(err) != protocol.CodeNotFound:
		return "", err
	}
	var err error
	if id == "" {
		id, err = h.Publish(ctx, protocol.KindBulletin, protocol.VisibilityPublic, b)
	} else {
		err = h.UpdateEntity(ctx, id, protocol.VisibilityPublic, b)
	}
	if err != nil {
		return "", err
	}
	h.recordBulletin(ctx, EventBulletinPublished, b.Edition, memberID, address)
	return id, nil
}

// recordBulletin writes a step of the bulletin to the audit log. The step
// is done: an audit line that fails is logged but cannot take it back.
func (h *Hub) recordBulletin(ctx context.Context, ev account.EventType, edition string, memberID int64, address string) {
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		return h.accounts.RecordTx(ctx, tx, account.Event{Type: ev, MemberID: memberID, Actor: account.MemberActor(memberID),
			Address: address, Detail: edition})
	})
	if err != nil {
		h.log.Error("record a step of the bulletin in the audit log", "edition", edition, "err", err)
	}
	h.log.Info("bulletin", "event", string(ev), "edition", edition, "member", memberID)
}
