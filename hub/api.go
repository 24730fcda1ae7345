package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// The public JSON API serves the aggregate's public content until the portal
// is built. Everything here goes through publicFilter: an entity that is not
// public, is deleted, is scheduled for later, is a translation of something
// not public, or is hidden by moderation does not exist for this API, and a
// request for it gets exactly the answer a missing id gets.

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// errNotPublic is the one answer for anything the public may not see.
var errNotPublic = protocol.Errorf(protocol.CodeNotFound, "no such public entity")

// publicFilter selects the entities a public surface may show. ?1 is now in
// unix ms. A translation shows only while its resource does; the latest
// moderation decision about an entity that is not a dismiss (which leaves
// it as it was), if any, may hide it.
const publicFilter = `e.visibility = 'public' AND e.deleted = 0 AND (e.publish_at IS NULL OR e.publish_at <= ?1)
	AND (e.kind != 'translation' OR EXISTS (SELECT 1 FROM entities r WHERE r.id = e.ref
		AND r.visibility = 'public' AND r.deleted = 0 AND (r.publish_at IS NULL OR r.publish_at <= ?1)))
	AND COALESCE((SELECT json_extract(CAST(m.change AS TEXT), '$.body.decision') FROM entities m
		WHERE m.ref = e.id AND m.kind = 'moderation' AND m.deleted = 0
			AND json_extract(CAST(m.change AS TEXT), '$.body.decision') != 'dismiss' ORDER BY m.hub_seq DESC LIMIT 1), '') != 'hide'`

// apiEntity is an entity as the public API shows it: metadata and the
// decoded body.
type apiEntity struct {
	ID        string             `json:"id"`
	Kind      protocol.Kind      `json:"kind"`
	Owner     string             `json:"owner"`
	Version   int64              `json:"version"`
	UpdatedAt time.Time          `json:"updated_at"`
	PublishAt *time.Time         `json:"publish_at,omitempty"`
	HubSeq    int64              `json:"hub_seq"`
	Blobs     []protocol.BlobRef `json:"blobs"`
	Body      json.RawMessage    `json:"body"`
	// Outdated is set on translations: the resource has moved past the
	// version they were made from.
	Outdated *bool `json:"outdated,omitempty"`
}

func toAPIEntity(hubSeq int64, raw []byte) (apiEntity, error) {
	var c protocol.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		return apiEntity{}, fmt.Errorf("decode stored change: %w", err)
	}
	blobs := c.Blobs
	if blobs == nil {
		blobs = []protocol.BlobRef{}
	}
	return apiEntity{ID: c.ID, Kind: c.Kind, Owner: c.Owner, Version: c.Version, UpdatedAt: c.UpdatedAt,
		PublishAt: c.PublishAt, HubSeq: hubSeq, Blobs: blobs, Body: c.Body}, nil
}

// apiQuery is a validated GET /api/v1/entities query.
type apiQuery struct {
	kind  protocol.Kind
	owner string
	lang  string
	after string
	limit int
}

func parseAPIQuery(get func(string) string) (apiQuery, error) {
	q := apiQuery{limit: apiDefaultLimit, after: get("after")}
	if k := get("kind"); k != "" {
		q.kind = protocol.Kind(k)
		if !q.kind.Known() {
			return q, protocol.Errorf(protocol.CodeBadRequest, "kind must be one of the protocol's kinds")
		}
	}
	if o := get("owner"); o != "" {
		if protocol.ValidNodeID(o) != nil {
			return q, protocol.Errorf(protocol.CodeBadRequest, "owner must be a node id")
		}
		q.owner = o
	}
	if l := get("lang"); l != "" {
		canon, err := protocol.ParseLanguageTag(l)
		if err != nil {
			return q, protocol.Errorf(protocol.CodeBadRequest, "lang must be a BCP 47 language tag")
		}
		q.lang = canon
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, protocol.Errorf(protocol.CodeBadRequest, "limit must be a positive number")
		}
		q.limit = min(n, apiMaxLimit)
	}
	if len(q.after) > 64 {
		return q, protocol.Errorf(protocol.CodeBadRequest, "after must be an entity id")
	}
	return q, nil
}

// PublicEntities lists public entities by id, after the id q.after.
func (h *Hub) publicEntities(ctx context.Context, q apiQuery) ([]apiEntity, bool, error) {
	var sb strings.Builder
	sb.WriteString(`SELECT e.hub_seq, e.change FROM entities e WHERE ` + publicFilter + ` AND e.id > ?2`)
	args := []any{toMillis(h.now()), q.after}
	if q.kind != "" {
		args = append(args, string(q.kind))
		fmt.Fprintf(&sb, ` AND e.kind = ?%d`, len(args))
	}
	if q.owner != "" {
		// An owner's ids are the range ["<owner>:", "<owner>;"): ';' follows ':'.
		args = append(args, q.owner+":", q.owner+";")
		fmt.Fprintf(&sb, ` AND e.id >= ?%d AND e.id < ?%d`, len(args)-1, len(args))
	}
	if q.lang != "" {
		args = append(args, q.lang)
		n := len(args)
		fmt.Fprintf(&sb, ` AND (json_extract(CAST(e.change AS TEXT), '$.body.language') = ?%d
			OR EXISTS (SELECT 1 FROM json_each(CAST(e.change AS TEXT), '$.body.languages') WHERE value = ?%d))`, n, n)
	}
	args = append(args, q.limit+1)
	fmt.Fprintf(&sb, ` ORDER BY e.id LIMIT ?%d`, len(args))
	rows, err := h.db.Reader().QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list public entities: %w", err)
	}
	defer rows.Close()
	out := []apiEntity{}
	more := false
	for rows.Next() {
		if len(out) == q.limit {
			more = true
			break
		}
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, false, fmt.Errorf("list public entities: %w", err)
		}
		e, err := toAPIEntity(seq, raw)
		if err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list public entities: %w", err)
	}
	return out, more, nil
}

// publicEntity returns one public entity of kind (any kind when empty), or
// errNotPublic.
func (h *Hub) publicEntity(ctx context.Context, id string, kind protocol.Kind) (apiEntity, error) {
	var seq int64
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT e.hub_seq, e.change FROM entities e WHERE e.id = ?2 AND (?3 = '' OR e.kind = ?3) AND `+publicFilter,
		toMillis(h.now()), id, string(kind)).Scan(&seq, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return apiEntity{}, errNotPublic
	}
	if err != nil {
		return apiEntity{}, fmt.Errorf("read public entity: %w", err)
	}
	return toAPIEntity(seq, raw)
}

// handleAPIList is GET /api/v1/entities?kind=&owner=&lang=&limit=&after=.
func (h *Hub) handleAPIList(w http.ResponseWriter, r *http.Request) {
	q, err := parseAPIQuery(r.URL.Query().Get)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	list, more, err := h.publicEntities(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Entities []apiEntity `json:"entities"`
		Next     string      `json:"next,omitempty"`
	}{Entities: list}
	if more {
		out.Next = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// handleAPIGet is GET /api/v1/entities/{id}.
func (h *Hub) handleAPIGet(w http.ResponseWriter, r *http.Request) {
	e, err := h.publicEntity(r.Context(), r.PathValue("id"), "")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// handleAPITranslations is GET /api/v1/resources/{id}/translations: the
// public translations of a public resource, each with "outdated" computed
// from its source version.
func (h *Hub) handleAPITranslations(w http.ResponseWriter, r *http.Request) {
	res, err := h.publicEntity(r.Context(), r.PathValue("id"), protocol.KindResource)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rows, err := h.db.Reader().QueryContext(r.Context(), `SELECT e.hub_seq, e.change FROM entities e
		WHERE e.ref = ?2 AND e.kind = 'translation' AND `+publicFilter+` ORDER BY e.id`, toMillis(h.now()), res.ID)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("list translations: %w", err))
		return
	}
	defer rows.Close()
	out := struct {
		Resource     string      `json:"resource"`
		Version      int64       `json:"version"`
		Translations []apiEntity `json:"translations"`
	}{Resource: res.ID, Version: res.Version, Translations: []apiEntity{}}
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			h.writeError(w, r, fmt.Errorf("list translations: %w", err))
			return
		}
		e, err := toAPIEntity(seq, raw)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		var t protocol.Translation
		if err := json.Unmarshal(e.Body, &t); err != nil {
			h.writeError(w, r, fmt.Errorf("decode translation %s: %w", e.ID, err))
			return
		}
		outdated := t.SourceVersion < res.Version
		e.Outdated = &outdated
		out.Translations = append(out.Translations, e)
	}
	if err := rows.Err(); err != nil {
		h.writeError(w, r, fmt.Errorf("list translations: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}
