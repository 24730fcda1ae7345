package portal

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

// The index keeps every shown entity with the exact bytes of its change
// (table entities) and their attachments (table attachments): the JSON API
// of entities and the hub's /files/ answer from them, so they show exactly
// what the pages show, and a mirror, which builds this same index, serves
// them as the hub does. A translation stays in the table while its resource
// is not shown; shownSQL leaves it out.

// shownSQL is the condition on e, a row of entities, that the entity is
// shown: a translation only while its resource is.
const shownSQL = `(e.kind != 'translation' OR EXISTS (SELECT 1 FROM entities r WHERE r.id = e.ref AND r.kind = 'resource'))`

// putEntity keeps a shown change, its exact bytes, and its attachments;
// first says the index holds nothing of it yet (applier.first).
func (a *applier) putEntity(ctx context.Context, d *decoded, first bool) error {
	c := d.ch
	var ref string
	if t, ok := d.body.(*protocol.Translation); ok {
		ref = t.Resource
	}
	var publishAt sql.NullInt64
	if c.PublishAt != nil {
		publishAt = sql.NullInt64{Int64: c.PublishAt.UnixMilli(), Valid: true}
	}
	_, err := a.exec(ctx, `INSERT INTO entities (id, kind, owner, ref, langs, publish_at, hub_seq, change)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, owner = excluded.owner, ref = excluded.ref,
		langs = excluded.langs, publish_at = excluded.publish_at, hub_seq = excluded.hub_seq, change = excluded.change`,
		c.ID, string(c.Kind), c.Owner, ref, jsonText(d.langs), publishAt, d.c.HubSeq, d.c.Raw)
	if err != nil {
		return fmt.Errorf("index entity %s: %w", c.ID, err)
	}
	if !first {
		if _, err := a.exec(ctx, `DELETE FROM attachments WHERE entity = ?`, c.ID); err != nil {
			return fmt.Errorf("index attachments of %s: %w", c.ID, err)
		}
	}
	for _, b := range c.Blobs {
		if _, err := a.exec(ctx, `INSERT INTO attachments (sha256, name, media_type, entity) VALUES (?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET media_type = excluded.media_type`, b.SHA256, b.Name, b.MediaType, c.ID); err != nil {
			return fmt.Errorf("index attachments of %s: %w", c.ID, err)
		}
	}
	return nil
}

// dropEntity forgets an entity that is not shown, and its attachments.
func (a *applier) dropEntity(ctx context.Context, id string) error {
	if _, err := a.exec(ctx, `DELETE FROM entities WHERE id = ?`, id); err != nil {
		return fmt.Errorf("unindex entity %s: %w", id, err)
	}
	if _, err := a.exec(ctx, `DELETE FROM attachments WHERE entity = ?`, id); err != nil {
		return fmt.Errorf("unindex attachments of %s: %w", id, err)
	}
	return nil
}

// PublicFile reports whether name, with content sha256, is an attachment of
// a shown entity, and its media type: the only files the public may fetch.
func (p *Portal) PublicFile(ctx context.Context, sha256, name string) (mediaType string, ok bool, err error) {
	err = p.db.Reader().QueryRowContext(ctx, `SELECT a.media_type FROM attachments a JOIN entities e ON e.id = a.entity
		WHERE a.sha256 = ? AND a.name = ? AND `+shownSQL+` LIMIT 1`, sha256, name).Scan(&mediaType)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up file %s: %w", sha256, err)
	}
	return mediaType, true, nil
}

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiNotPublic is the one answer for anything the public may not see: an
// entity that is not shown gets exactly the answer a missing id gets.
func apiNotPublic() *response {
	return apiErrorResponse(http.StatusNotFound, protocol.CodeNotFound, "no such public entity")
}

// apiEntity is an entity as the JSON API shows it: metadata and the body.
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
		return apiEntity{}, fmt.Errorf("decode indexed change: %w", err)
	}
	blobs := c.Blobs
	if blobs == nil {
		blobs = []protocol.BlobRef{}
	}
	return apiEntity{ID: c.ID, Kind: c.Kind, Owner: c.Owner, Version: c.Version, UpdatedAt: c.UpdatedAt,
		PublishAt: c.PublishAt, HubSeq: hubSeq, Blobs: blobs, Body: c.Body}, nil
}

// entityQuery is a validated GET /api/v1/entities query.
type entityQuery struct {
	kind  protocol.Kind
	owner string
	lang  string
	after string
	limit int
}

func (q entityQuery) key() string {
	return string(q.kind) + "|" + q.owner + "|" + q.lang + "|" + strconv.Itoa(q.limit) + "|" + q.after
}

func parseEntityQuery(get func(string) string) (entityQuery, error) {
	q := entityQuery{limit: apiDefaultLimit, after: get("after")}
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

// shownEntities lists shown entities by id, after the id q.after, and
// whether more follow.
func (p *Portal) shownEntities(ctx context.Context, q entityQuery) ([]apiEntity, bool, error) {
	var sb strings.Builder
	sb.WriteString(`SELECT e.hub_seq, e.change FROM entities e WHERE e.id > ?1 AND ` + shownSQL)
	args := []any{q.after}
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
		fmt.Fprintf(&sb, ` AND EXISTS (SELECT 1 FROM json_each(e.langs) WHERE value = ?%d)`, len(args))
	}
	args = append(args, q.limit+1)
	fmt.Fprintf(&sb, ` ORDER BY e.id LIMIT ?%d`, len(args))
	rows, err := p.db.Reader().QueryContext(ctx, sb.String(), args...)
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

// shownEntity returns one shown entity of kind (any kind when empty), false
// if there is none.
func (p *Portal) shownEntity(ctx context.Context, id string, kind protocol.Kind) (apiEntity, bool, error) {
	var seq int64
	var raw []byte
	err := p.db.Reader().QueryRowContext(ctx, `SELECT e.hub_seq, e.change FROM entities e
		WHERE e.id = ?1 AND (?2 = '' OR e.kind = ?2) AND `+shownSQL, id, string(kind)).Scan(&seq, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return apiEntity{}, false, nil
	}
	if err != nil {
		return apiEntity{}, false, fmt.Errorf("read public entity: %w", err)
	}
	e, err := toAPIEntity(seq, raw)
	return e, err == nil, err
}

// handleAPIEntities is GET /api/v1/entities?kind=&owner=&lang=&limit=&after=.
func (p *Portal) handleAPIEntities(w http.ResponseWriter, r *http.Request, q *req) {
	eq, err := parseEntityQuery(r.URL.Query().Get)
	if err != nil {
		var pe *protocol.Error
		errors.As(err, &pe)
		p.apiError(w, r, http.StatusBadRequest, pe.Code, pe.Message)
		return
	}
	p.respond(w, r, q.key("api-entities")+"|"+eq.key(), func() (*response, error) {
		list, more, err := p.shownEntities(r.Context(), eq)
		if err != nil {
			return nil, err
		}
		out := struct {
			Entities []apiEntity `json:"entities"`
			Next     string      `json:"next,omitempty"`
		}{Entities: list}
		if more {
			out.Next = list[len(list)-1].ID
		}
		return jsonResponse(out)
	})
}

// handleAPIEntity is GET /api/v1/entities/{id}.
func (p *Portal) handleAPIEntity(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("api-entity")+"|"+id, func() (*response, error) {
		e, ok, err := p.shownEntity(r.Context(), id, "")
		if err != nil {
			return nil, err
		}
		if !ok {
			return apiNotPublic(), nil
		}
		return jsonResponse(e)
	})
}

// handleAPITranslations is GET /api/v1/resources/{id}/translations: the
// shown translations of a shown resource, each with "outdated" computed
// from its source version.
func (p *Portal) handleAPITranslations(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("api-translations")+"|"+id, func() (*response, error) {
		ctx := r.Context()
		res, ok, err := p.shownEntity(ctx, id, protocol.KindResource)
		if err != nil {
			return nil, err
		}
		if !ok {
			return apiNotPublic(), nil
		}
		rows, err := p.db.Reader().QueryContext(ctx, `SELECT e.hub_seq, e.change FROM entities e
			WHERE e.ref = ? AND e.kind = 'translation' ORDER BY e.id`, res.ID)
		if err != nil {
			return nil, fmt.Errorf("list translations: %w", err)
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
				return nil, fmt.Errorf("list translations: %w", err)
			}
			e, err := toAPIEntity(seq, raw)
			if err != nil {
				return nil, err
			}
			var t protocol.Translation
			if err := json.Unmarshal(e.Body, &t); err != nil {
				return nil, fmt.Errorf("decode translation %s: %w", e.ID, err)
			}
			outdated := t.SourceVersion < res.Version
			e.Outdated = &outdated
			out.Translations = append(out.Translations, e)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list translations: %w", err)
		}
		return jsonResponse(out)
	})
}
