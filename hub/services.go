package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// The audit events of the guide to online services.
const (
	EventServiceSaved     account.EventType = "service-saved"
	EventServiceWithdrawn account.EventType = "service-withdrawn"
)

// ErrSlugTaken refuses a service whose slug another live entry of the
// guide already has: the portal would give the address to only one.
var ErrSlugTaken = errors.New("another service of the guide has this slug")

// ServiceEntry is a live entry of the guide, as the hub holds it.
type ServiceEntry struct {
	ID        string
	Version   int64
	UpdatedAt time.Time
	Service   protocol.Service
}

// Services lists the hub's live service entries by name.
func (h *Hub) Services(ctx context.Context) ([]ServiceEntry, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT change FROM entities WHERE owner = ? AND kind = ? AND deleted = 0
		ORDER BY json_extract(change, '$.body.name') COLLATE NOCASE, id`, protocol.HubID, string(protocol.KindService))
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	defer rows.Close()
	var out []ServiceEntry
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		e, err := serviceEntry(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Service reads the live service entry id; a missing, deleted or
// foreign entity is protocol.ErrNotFound.
func (h *Hub) Service(ctx context.Context, id string) (ServiceEntry, error) {
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT change FROM entities WHERE id = ? AND owner = ? AND kind = ? AND deleted = 0`,
		id, protocol.HubID, string(protocol.KindService)).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return ServiceEntry{}, protocol.Errorf(protocol.CodeNotFound, "no service %s", id)
	}
	if err != nil {
		return ServiceEntry{}, fmt.Errorf("read service %s: %w", id, err)
	}
	return serviceEntry(raw)
}

func serviceEntry(raw []byte) (ServiceEntry, error) {
	var e ServiceEntry
	c, err := decodeStored(raw, &e.Service)
	if err != nil {
		return e, err
	}
	e.ID, e.Version, e.UpdatedAt = c.ID, c.Version, c.UpdatedAt
	return e, nil
}

// decodeStored decodes a stored change and its body into body.
func decodeStored(raw []byte, body any) (*protocol.Change, error) {
	var c protocol.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode stored change: %w", err)
	}
	if err := json.Unmarshal(c.Body, body); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", c.Kind, c.ID, err)
	}
	return &c, nil
}

// CheckService validates s as the body of a public, hub-owned service
// change, with protocol's own rules; a *protocol.ValidationError names the
// fields at fault ("body.name", "body.versions[0].language", …).
func (h *Hub) CheckService(s protocol.Service) error {
	return h.checkHubBody(protocol.KindService, s)
}

// checkHubBody validates body as that of a public change of kind owned by
// the hub, with protocol's own rules, before anything is signed.
func (h *Hub) checkHubBody(kind protocol.Kind, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("check %s: %w", kind, err)
	}
	now := h.now().UTC()
	id, err := protocol.NewEntityID(protocol.HubID, now)
	if err != nil {
		return err
	}
	c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: kind, Owner: protocol.HubID, Version: 1, Seq: 1,
		UpdatedAt: now, Visibility: protocol.VisibilityPublic, Body: raw, KeyID: h.key.ID}
	return c.Validate()
}

// ServiceSave is an entry of the guide written in the console.
type ServiceSave struct {
	// ID is the entry to change; empty publishes a new one.
	ID      string
	Service protocol.Service
	// MemberID and Address name the member of the team in the audit log.
	MemberID int64
	Address  string
}

// SaveService publishes s as a signed, public, hub-owned service change:
// a new entity, or a new version of s.ID. The slug must be free among
// the guide's other live entries. The save goes to the audit log.
func (h *Hub) SaveService(ctx context.Context, s ServiceSave) (string, error) {
	if s.ID != "" {
		if _, err := h.Service(ctx, s.ID); err != nil {
			return "", err
		}
	}
	if s.Service.Slug != "" {
		var other string
		err := h.db.Reader().QueryRowContext(ctx, `SELECT id FROM entities WHERE owner = ? AND kind = ? AND deleted = 0 AND id != ?
			AND json_extract(change, '$.body.slug') = ? LIMIT 1`, protocol.HubID, string(protocol.KindService), s.ID, s.Service.Slug).Scan(&other)
		switch {
		case err == nil:
			return "", fmt.Errorf("%s is %s's: %w", s.Service.Slug, other, ErrSlugTaken)
		case !errors.Is(err, sql.ErrNoRows):
			return "", fmt.Errorf("check slug: %w", err)
		}
	}
	id := s.ID
	var err error
	if id == "" {
		id, err = h.Publish(ctx, protocol.KindService, protocol.VisibilityPublic, s.Service)
	} else {
		err = h.UpdateEntity(ctx, id, protocol.VisibilityPublic, s.Service)
	}
	if err != nil {
		return "", err
	}
	h.recordService(ctx, EventServiceSaved, id, s.Service.Slug, s.MemberID, s.Address)
	return id, nil
}

// WithdrawService takes the entry id out of the guide with a tombstone
// version, which every node applies as a deletion; the withdrawal goes
// to the audit log.
func (h *Hub) WithdrawService(ctx context.Context, id string, memberID int64, address string) error {
	e, err := h.Service(ctx, id)
	if err != nil {
		return err
	}
	if err := h.DeleteEntity(ctx, id, false); err != nil {
		return err
	}
	h.recordService(ctx, EventServiceWithdrawn, id, e.Service.Slug, memberID, address)
	return nil
}

// recordService writes a change of the guide to the audit log. The change
// is out: an audit line that fails is logged but cannot take it back.
func (h *Hub) recordService(ctx context.Context, ev account.EventType, id, slug string, memberID int64, address string) {
	detail := id
	if slug != "" {
		detail += " (" + slug + ")"
	}
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		return h.accounts.RecordTx(ctx, tx, account.Event{Type: ev, MemberID: memberID, Actor: account.MemberActor(memberID),
			Address: address, Detail: detail})
	})
	if err != nil {
		h.log.Error("record a change of the guide in the audit log", "service", id, "err", err)
	}
	h.log.Info("guide entry changed in the console", "event", string(ev), "service", id, "member", memberID)
}
