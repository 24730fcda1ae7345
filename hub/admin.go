package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// Publish authors a new hub-owned entity (a service, a moderation decision,
// hub news, …), signed with the hub's key and applied through the push path,
// so it gets a hub_seq and reaches the nodes through the feed. body is the
// kind's body: a protocol body struct, a map, or raw JSON.
func (h *Hub) Publish(ctx context.Context, kind protocol.Kind, vis protocol.Visibility, body any) (string, error) {
	raw, err := bodyJSON(body)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", kind, err)
	}
	c, _, err := h.author(ctx, draft{kind: kind, vis: vis, body: raw})
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", kind, err)
	}
	return c.ID, nil
}

// UpdateEntity writes a new version of a hub-owned entity with visibility vis
// (empty keeps the current one) and body. Its publish_at and attachments are
// kept.
func (h *Hub) UpdateEntity(ctx context.Context, id string, vis protocol.Visibility, body any) error {
	raw, err := bodyJSON(body)
	if err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if _, _, err := h.author(ctx, draft{id: id, vis: vis, body: raw}); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	return nil
}

// DeleteEntity deletes a hub-owned entity with a tombstone version; with erase
// the version is an erasure, tracked until every node has applied it.
// Deleting a deleted entity again is a no-op (erasing it is not).
func (h *Hub) DeleteEntity(ctx context.Context, id string, erase bool) error {
	if _, _, err := h.author(ctx, draft{id: id, delete: true, erase: erase}); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// draft is what the operator asks of a hub-owned entity.
type draft struct {
	id           string // empty: a new entity
	kind         protocol.Kind
	vis          protocol.Visibility
	publishAt    *time.Time
	setPublishAt bool // on update: replace publish_at (with publishAt, maybe nil)
	body         json.RawMessage
	delete       bool
	erase        bool
	// eraseReason makes an erasure the coordination team's: allowed for an
	// entity of any owner, signed by the hub (EraseEntity).
	eraseReason string
}

func bodyJSON(body any) (json.RawMessage, error) {
	switch b := body.(type) {
	case nil:
		return nil, protocol.Errorf(protocol.CodeInvalidField, "body: required")
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "body: %v", err)
	}
	return raw, nil
}

// author builds, signs and applies one change of a hub-owned entity. It
// returns the change and its hub_seq (0 when it was a no-op).
func (h *Hub) author(ctx context.Context, d draft) (*protocol.Change, int64, error) {
	h.authorMu.Lock()
	defer h.authorMu.Unlock()
	now := h.now().UTC()
	c := &protocol.Change{Protocol: protocol.Version, Owner: protocol.HubID, UpdatedAt: now}
	if d.id == "" {
		id, err := protocol.NewEntityID(protocol.HubID, now)
		if err != nil {
			return nil, 0, err
		}
		c.ID, c.Kind, c.Version, c.Visibility, c.PublishAt, c.Body = id, d.kind, 1, d.vis, d.publishAt, d.body
	} else {
		prev, err := h.storedChange(ctx, d.id)
		if err != nil {
			return nil, 0, err
		}
		if prev.Owner != protocol.HubID && d.eraseReason == "" {
			return nil, 0, protocol.Errorf(protocol.CodeNotOwner, "%s is owned by %q; only its owner may change it", d.id, prev.Owner)
		}
		if d.delete && (prev.Erased || prev.Deleted && !d.erase) {
			return prev, 0, nil
		}
		if !d.delete && prev.Deleted {
			return nil, 0, protocol.Errorf(protocol.CodeConflict, "%s is deleted", d.id)
		}
		c.ID, c.Owner, c.Kind, c.Version, c.Visibility, c.PublishAt, c.Blobs = prev.ID, prev.Owner, prev.Kind, prev.Version+1, prev.Visibility, prev.PublishAt, prev.Blobs
		if d.vis != "" {
			c.Visibility = d.vis
		}
		if d.setPublishAt {
			c.PublishAt = d.publishAt
		}
		c.Body = d.body
		if d.delete {
			c.Deleted, c.Erased, c.Body = true, d.erase, nil
			if d.erase {
				c.Blobs = nil
			}
		}
	}
	if c.PublishAt != nil {
		t := c.PublishAt.UTC()
		c.PublishAt = &t
	}
	// The hub's outbox position from the table, which authorMu keeps in step
	// with what this process commits.
	var seq int64
	if err := h.db.Reader().QueryRowContext(ctx, `SELECT applied_seq + 1 FROM nodes WHERE id = ?`, protocol.HubID).Scan(&seq); err != nil {
		return nil, 0, fmt.Errorf("read hub outbox seq: %w", err)
	}
	c.Seq = seq
	c.KeyID = h.key.ID
	if err := c.Validate(); err != nil {
		return nil, 0, err
	}
	s, err := h.key.Sign(c)
	if err != nil {
		return nil, 0, err
	}
	// The same verification and apply as a node's push: the hub is the owner
	// "hub" with an outbox of its own.
	it := &pushItem{line: 2, signed: s, eraseReason: d.eraseReason}
	h.verify(it, protocol.HubID)
	if it.fail != nil {
		return nil, 0, protocol.Errorf(protocol.CodeUnavailable, "check %s: %v; try again", c.ID, it.fail)
	}
	if it.refusal != nil {
		return nil, 0, &protocol.Error{Code: it.refusal.Code, Message: it.refusal.Reason, Record: c.ID}
	}
	b := &batch{
		header: protocol.PushHeader{Node: protocol.HubID, Epoch: hubEpoch, FromSeq: seq, ToSeq: seq, HeadSeq: seq},
		items:  []*pushItem{it},
	}
	res, err := h.applyBatch(ctx, b)
	if err != nil {
		return nil, 0, err
	}
	if len(res.Refused) > 0 {
		r := res.Refused[0]
		return nil, 0, &protocol.Error{Code: r.Code, Message: r.Reason, Record: c.ID}
	}
	if res.Applied != 1 {
		// Another process took this outbox seq first.
		return nil, 0, protocol.Errorf(protocol.CodeConflict, "hub outbox seq %d was taken concurrently; try again", seq)
	}
	return c, res.HubSeq, nil
}

// storedChange reads and decodes the stored latest version of an entity.
func (h *Hub) storedChange(ctx context.Context, id string) (*protocol.Change, error) {
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT change FROM entities WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no entity %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", id, err)
	}
	var c protocol.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", id, err)
	}
	return &c, nil
}

// adminEntityRequest is the body of POST and PUT /admin/v1/entities.
type adminEntityRequest struct {
	Kind       protocol.Kind       `json:"kind"`
	Visibility protocol.Visibility `json:"visibility"`
	// PublishAt schedules publication; on PUT, absent keeps it and null clears it.
	PublishAt json.RawMessage `json:"publish_at"`
	Body      json.RawMessage `json:"body"`
}

// adminEntityResult answers the admin entity endpoints.
type adminEntityResult struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Deleted bool   `json:"deleted,omitempty"`
	Erased  bool   `json:"erased,omitempty"`
	HubSeq  int64  `json:"hub_seq"`
}

func (req *adminEntityRequest) draft() (draft, error) {
	d := draft{kind: req.Kind, vis: req.Visibility, body: req.Body}
	if len(req.PublishAt) > 0 {
		d.setPublishAt = true
		if string(req.PublishAt) != "null" {
			var t time.Time
			if err := json.Unmarshal(req.PublishAt, &t); err != nil {
				return d, protocol.Errorf(protocol.CodeInvalidField, "publish_at: %v", err)
			}
			d.publishAt = &t
		}
	}
	if len(d.body) == 0 || string(d.body) == "null" {
		return d, protocol.Errorf(protocol.CodeInvalidField, "body: required")
	}
	return d, nil
}

// handleAdminPublish is POST /admin/v1/entities.
func (h *Hub) handleAdminPublish(w http.ResponseWriter, r *http.Request) {
	var req adminEntityRequest
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	d, err := req.draft()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c, seq, err := h.author(r.Context(), d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, adminEntityResult{ID: c.ID, Version: c.Version, HubSeq: seq})
}

// handleAdminUpdate is PUT /admin/v1/entities/{id}.
func (h *Hub) handleAdminUpdate(w http.ResponseWriter, r *http.Request) {
	var req adminEntityRequest
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	d, err := req.draft()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d.id = r.PathValue("id")
	c, seq, err := h.author(r.Context(), d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminEntityResult{ID: c.ID, Version: c.Version, HubSeq: seq})
}

// handleAdminDelete is DELETE /admin/v1/entities/{id}[?erase=1].
func (h *Hub) handleAdminDelete(w http.ResponseWriter, r *http.Request) {
	erase := false
	switch r.URL.Query().Get("erase") {
	case "", "0", "false":
	case "1", "true":
		erase = true
	default:
		h.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "erase must be 1 or 0"))
		return
	}
	c, seq, err := h.author(r.Context(), draft{id: r.PathValue("id"), delete: true, erase: erase})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminEntityResult{ID: c.ID, Version: c.Version, Deleted: c.Deleted, Erased: c.Erased, HubSeq: seq})
}

// handleAdminRegister is POST /admin/v1/nodes {id, name, countries}:
// register-node over HTTP, for tooling that does not open the hub's database.
func (h *Hub) handleAdminRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Countries []string `json:"countries"`
	}
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	tok, err := h.RegisterNode(r.Context(), req.ID, req.Name, req.Countries...)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Node  string `json:"node"`
		Token string `json:"token"`
	}{req.ID, tok})
}
