package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/textdiff"
	"github.com/bikfed/bikfed/protocol"
)

// Translations (docs/people.md, "Translations"). Any SIC may translate any
// public resource of the network; a translation names the resource version
// it was made from, and is outdated once the resource has moved past it.
// The node keeps past resource bodies in resource_versions (migrations 0007
// and 0018), beside the current one in entities, so that what changed since
// can be shown word by word.

var (
	// ErrVersionNotKept is returned for a resource version whose body this
	// node does not hold: pruned, or never pulled because the node only ever
	// saw a later one.
	ErrVersionNotKept = errors.New("that version of the resource is not kept on this node")
	// ErrNotTranslatable is returned for an entity that is not a public,
	// published, live resource, the only kind a translation may be made of.
	ErrNotTranslatable = errors.New("not a public, published resource")
)

// Worklist limits.
const (
	// MaxWorklistQuery is the longest text query, in bytes.
	MaxWorklistQuery     = 200
	defaultWorklistLimit = 20
	maxWorklistLimit     = 100
)

// WorklistFilter selects resources for Translatable.
type WorklistFilter struct {
	// Language is the BCP 47 tag to translate into. Required. A resource
	// or translation in a regional variant of it ("fi-FI" for "fi") counts
	// as being in it.
	Language string
	// Query keeps the resources whose title or description contains every
	// word of it, ignoring case. At most MaxWorklistQuery bytes.
	Query string
	// Limit defaults to 20 and is at most 100.
	Limit int
	// After is the Next of the previous page.
	After string
}

// SourceResource is a resource as a translation is made from it: its
// version is the one the network has.
type SourceResource struct {
	ID        string
	Owner     string
	Version   int64
	UpdatedAt time.Time
	Body      protocol.Resource
	Blobs     []protocol.BlobRef
}

// TranslatablePage is one page of Translatable, newest change first. Next
// is empty on the last page.
type TranslatablePage struct {
	Resources []SourceResource
	Next      string
}

// ProfileLanguages returns the languages of this SIC's live profiles, in the
// order the profiles give them, or none when it has published no profile.
func (n *Node) ProfileLanguages(ctx context.Context) ([]string, error) {
	lo, hi := ownerRange(n.ident.Node)
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT body FROM entities
		WHERE id >= ? AND id < ? AND kind = 'profile' AND deleted = 0 AND body IS NOT NULL ORDER BY id`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("read profiles: %w", err)
		}
		var p protocol.Profile
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			continue
		}
		for _, l := range p.Languages {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return out, nil
}

// queryWords splits a text query into the lower-case words every match must contain.
func queryWords(q string) []string {
	return strings.Fields(strings.ToLower(q))
}

func matchesWords(r *protocol.Resource, words []string) bool {
	if len(words) == 0 {
		return true
	}
	text := strings.ToLower(r.Title + "\n" + r.Description)
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// Translatable lists the network's public, published, live resources that
// are not available in f.Language and have no live translation into it yet,
// on any node: what this SIC could translate next. Own resources are
// included, since a SIC may translate its own into another of its
// languages.
func (n *Node) Translatable(ctx context.Context, f WorklistFilter) (TranslatablePage, error) {
	lang, err := protocol.ParseLanguageTag(f.Language)
	if err != nil {
		return TranslatablePage{}, fieldError("language", "%v", err)
	}
	if len(f.Query) > MaxWorklistQuery || !utf8.ValidString(f.Query) {
		return TranslatablePage{}, fieldError("q", "at most %d bytes of text", MaxWorklistQuery)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultWorklistLimit
	}
	limit = min(limit, maxWorklistLimit)
	// A regional variant is written "fi-FI": the tag, a dash, more.
	variant := lang + "-%"
	// The public resources' index gives the order, so a page stops reading
	// once it is full; the unary + on e.id drops its column affinity, which
	// would otherwise keep the planner off the index on a translation's
	// resource.
	q := `SELECT e.id, e.owner, e.version, e.updated_at, e.body, e.blobs FROM entities e INDEXED BY entities_public_resources
		WHERE e.kind = 'resource' AND e.visibility = 'public' AND e.deleted = 0
			AND e.scheduled = 0 AND (e.publish_at IS NULL OR e.publish_at <= ?1) AND e.body IS NOT NULL
			AND NOT (json_extract(e.body, '$.language') = ?2 OR json_extract(e.body, '$.language') LIKE ?3)
			AND NOT EXISTS (SELECT 1 FROM json_each(e.body, '$.languages') l WHERE l.value = ?2 OR l.value LIKE ?3)
			AND NOT EXISTS (SELECT 1 FROM entities t
				WHERE t.kind = 'translation' AND t.deleted = 0 AND json_extract(t.body, '$.resource') = +e.id
					AND (json_extract(t.body, '$.language') = ?2 OR json_extract(t.body, '$.language') LIKE ?3))`
	args := []any{fmtTime(n.now()), lang, variant}
	if f.After != "" {
		at, id, ok := strings.Cut(f.After, "|")
		if !ok || len(at) != len(timeFormat) || id == "" {
			return TranslatablePage{}, fieldError("after", "not a page of this list")
		}
		q += ` AND (e.updated_at, e.id) < (?4, ?5)`
		args = append(args, at, id)
	}
	q += ` ORDER BY e.updated_at DESC, e.id DESC`
	words := queryWords(f.Query)
	var page TranslatablePage
	err = n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		page = TranslatablePage{}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("list translatable resources: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				s         SourceResource
				updatedAt string
				body      string
				blobs     sql.NullString
			)
			if err := rows.Scan(&s.ID, &s.Owner, &s.Version, &updatedAt, &body, &blobs); err != nil {
				return fmt.Errorf("list translatable resources: %w", err)
			}
			if err := json.Unmarshal([]byte(body), &s.Body); err != nil {
				// Every stored body was validated; one that is not a resource
				// is no work for a translator.
				continue
			}
			if !matchesWords(&s.Body, words) {
				continue
			}
			if len(page.Resources) == limit {
				last := page.Resources[limit-1]
				page.Next = fmtTime(last.UpdatedAt) + "|" + last.ID
				return nil
			}
			s.UpdatedAt = parseTime(updatedAt)
			s.Blobs = decodeBlobs(blobs)
			page.Resources = append(page.Resources, s)
		}
		return rows.Err()
	})
	if err != nil {
		return TranslatablePage{}, err
	}
	return page, nil
}

func decodeBlobs(s sql.NullString) []protocol.BlobRef {
	var out []protocol.BlobRef
	if s.Valid && s.String != "" {
		_ = json.Unmarshal([]byte(s.String), &out)
	}
	return out
}

// TranslationSource returns the resource id as a translation would be made
// from it now: public, published and live, at the version the network has.
func (n *Node) TranslationSource(ctx context.Context, id string) (SourceResource, error) {
	e, err := n.Get(ctx, id)
	if err != nil {
		return SourceResource{}, err
	}
	now := n.now()
	if e.Kind != protocol.KindResource || e.Visibility != protocol.VisibilityPublic || e.Deleted ||
		e.State == StateScheduled || (e.PublishAt != nil && e.PublishAt.After(now)) {
		return SourceResource{}, fmt.Errorf("translate %s: %w", id, ErrNotTranslatable)
	}
	s := SourceResource{ID: e.ID, Owner: e.Owner, Version: e.Version, UpdatedAt: e.UpdatedAt, Blobs: e.Blobs}
	if err := json.Unmarshal(e.Body, &s.Body); err != nil {
		return SourceResource{}, fmt.Errorf("translate %s: %w", id, ErrNotTranslatable)
	}
	return s, nil
}

// OwnTranslation is one of this SIC's translations with where its source
// stands.
type OwnTranslation struct {
	ID          string
	Version     int64
	UpdatedAt   time.Time
	Translation protocol.Translation
	// Source is the resource at its current network version; Body is
	// empty when the resource is deleted or not held.
	Source SourceResource
	// SourceDeleted says the resource is deleted (or was never pulled here).
	SourceDeleted bool
}

// Outdated reports whether the source has moved past the version the
// translation was made from.
func (t OwnTranslation) Outdated() bool {
	return !t.SourceDeleted && t.Source.Version > t.Translation.SourceVersion
}

// OutdatedFilter selects translations for OutdatedTranslations.
type OutdatedFilter struct {
	// Language keeps the translations into it (or a regional variant of
	// it); empty keeps all.
	Language string
	// Limit defaults to 20 and is at most 100; Offset skips that many.
	Limit, Offset int
}

// OutdatedTranslations lists this SIC's live translations whose resource
// has a newer version than the one they were made from, the resource
// changed most recently first. more says there are further pages.
func (n *Node) OutdatedTranslations(ctx context.Context, f OutdatedFilter) (list []OwnTranslation, more bool, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultWorklistLimit
	}
	limit = min(limit, maxWorklistLimit)
	lo, hi := ownerRange(n.ident.Node)
	q := `SELECT t.id, t.version, t.updated_at, t.body, r.id, r.owner,
			CASE WHEN r.scheduled = 1 THEN r.signed_version ELSE r.version END AS rv, r.updated_at, r.body, r.blobs
		FROM entities t JOIN entities r ON r.id = json_extract(t.body, '$.resource')
		WHERE t.id >= ? AND t.id < ? AND t.kind = 'translation' AND t.deleted = 0 AND t.body IS NOT NULL
			AND r.kind = 'resource' AND r.deleted = 0 AND r.body IS NOT NULL
			AND (CASE WHEN r.scheduled = 1 THEN r.signed_version ELSE r.version END) > json_extract(t.body, '$.source_version')`
	args := []any{lo, hi}
	if f.Language != "" {
		lang, err := protocol.ParseLanguageTag(f.Language)
		if err != nil {
			return nil, false, fieldError("language", "%v", err)
		}
		q += ` AND (json_extract(t.body, '$.language') = ? OR json_extract(t.body, '$.language') LIKE ?)`
		args = append(args, lang, lang+"-%")
	}
	q += ` ORDER BY r.updated_at DESC, t.id LIMIT ? OFFSET ?`
	args = append(args, limit+1, max(f.Offset, 0))
	rows, err := n.db.Reader().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list outdated translations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			o                    OwnTranslation
			tAt, tBody, rAt, rBd string
			blobs                sql.NullString
		)
		if err := rows.Scan(&o.ID, &o.Version, &tAt, &tBody, &o.Source.ID, &o.Source.Owner, &o.Source.Version,
			&rAt, &rBd, &blobs); err != nil {
			return nil, false, fmt.Errorf("list outdated translations: %w", err)
		}
		if json.Unmarshal([]byte(tBody), &o.Translation) != nil || json.Unmarshal([]byte(rBd), &o.Source.Body) != nil {
			continue
		}
		o.UpdatedAt, o.Source.UpdatedAt = parseTime(tAt), parseTime(rAt)
		o.Source.Blobs = decodeBlobs(blobs)
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list outdated translations: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// OwnTranslations lists this SIC's live translations, into f.Language
// when it is set, the most recently written first, each with where its
// source stands. more says there are further pages.
func (n *Node) OwnTranslations(ctx context.Context, f OutdatedFilter) (list []OwnTranslation, more bool, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultWorklistLimit
	}
	limit = min(limit, maxWorklistLimit)
	lo, hi := ownerRange(n.ident.Node)
	q := `SELECT t.id, t.version, t.updated_at, t.body, r.id, r.owner,
			CASE WHEN r.scheduled = 1 THEN r.signed_version ELSE r.version END, r.updated_at, r.body, r.blobs,
			coalesce(r.deleted OR r.kind != 'resource', 1)
		FROM entities t LEFT JOIN entities r ON r.id = json_extract(t.body, '$.resource')
		WHERE t.id >= ? AND t.id < ? AND t.kind = 'translation' AND t.deleted = 0 AND t.body IS NOT NULL`
	args := []any{lo, hi}
	if f.Language != "" {
		lang, err := protocol.ParseLanguageTag(f.Language)
		if err != nil {
			return nil, false, fieldError("language", "%v", err)
		}
		q += ` AND (json_extract(t.body, '$.language') = ? OR json_extract(t.body, '$.language') LIKE ?)`
		args = append(args, lang, lang+"-%")
	}
	q += ` ORDER BY t.updated_at DESC, t.id LIMIT ? OFFSET ?`
	args = append(args, limit+1, max(f.Offset, 0))
	rows, err := n.db.Reader().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list own translations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			o                OwnTranslation
			tAt, tBody       string
			rID, rOwner, rAt sql.NullString
			rBody, blobs     sql.NullString
			rVersion         sql.NullInt64
		)
		if err := rows.Scan(&o.ID, &o.Version, &tAt, &tBody, &rID, &rOwner, &rVersion, &rAt, &rBody, &blobs,
			&o.SourceDeleted); err != nil {
			return nil, false, fmt.Errorf("list own translations: %w", err)
		}
		if json.Unmarshal([]byte(tBody), &o.Translation) != nil {
			continue
		}
		o.UpdatedAt = parseTime(tAt)
		o.Source.ID = o.Translation.Resource
		if rID.Valid {
			o.Source.Owner, o.Source.Version = rOwner.String, rVersion.Int64
			o.Source.UpdatedAt = parseTime(rAt.String)
			o.Source.Blobs = decodeBlobs(blobs)
			if rBody.Valid && !o.SourceDeleted {
				_ = json.Unmarshal([]byte(rBody.String), &o.Source.Body)
			}
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list own translations: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// GetTranslation returns one of this SIC's translations with where its
// source stands.
func (n *Node) GetTranslation(ctx context.Context, id string) (OwnTranslation, error) {
	e, err := n.Get(ctx, id)
	if err != nil {
		return OwnTranslation{}, err
	}
	if e.Kind != protocol.KindTranslation || e.Owner != n.ident.Node || e.Deleted {
		return OwnTranslation{}, protocol.Errorf(protocol.CodeNotFound, "no translation %s of this node", id)
	}
	o := OwnTranslation{ID: e.ID, Version: e.Version, UpdatedAt: e.UpdatedAt}
	if err := json.Unmarshal(e.Body, &o.Translation); err != nil {
		return OwnTranslation{}, fmt.Errorf("read translation %s: %w", id, err)
	}
	src, err := n.Get(ctx, o.Translation.Resource)
	switch {
	case errors.Is(err, protocol.ErrNotFound):
		o.Source.ID, o.SourceDeleted = o.Translation.Resource, true
		return o, nil
	case err != nil:
		return OwnTranslation{}, err
	}
	o.Source = SourceResource{ID: src.ID, Owner: src.Owner, Version: src.Version, UpdatedAt: src.UpdatedAt, Blobs: src.Blobs}
	if src.State == StateScheduled {
		var signed int64
		if err := n.db.Reader().QueryRowContext(ctx, `SELECT signed_version FROM entities WHERE id = ?`, src.ID).Scan(&signed); err != nil {
			return OwnTranslation{}, fmt.Errorf("read %s: %w", src.ID, err)
		}
		o.Source.Version = signed
	}
	o.SourceDeleted = src.Deleted || src.Kind != protocol.KindResource
	if !o.SourceDeleted {
		_ = json.Unmarshal(src.Body, &o.Source.Body)
	}
	return o, nil
}

// ResourceVersion returns a version of a resource as this node stored it.
func (n *Node) ResourceVersion(ctx context.Context, id string, version int64) (textdiff.ResourceVersion, time.Time, error) {
	var body, at string
	var blobs sql.NullString
	// The current version is the entity itself; resource_versions holds
	// the past ones (migration 0018).
	err := n.db.Reader().QueryRowContext(ctx, `SELECT body, blobs, updated_at FROM entities
			WHERE id = ?1 AND version = ?2 AND kind = 'resource' AND deleted = 0 AND body IS NOT NULL
		UNION ALL SELECT body, blobs, at FROM resource_versions WHERE id = ?1 AND version = ?2
		LIMIT 1`,
		id, version).Scan(&body, &blobs, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return textdiff.ResourceVersion{}, time.Time{}, fmt.Errorf("%s v%d: %w", id, version, ErrVersionNotKept)
	}
	if err != nil {
		return textdiff.ResourceVersion{}, time.Time{}, fmt.Errorf("read %s v%d: %w", id, version, err)
	}
	var v textdiff.ResourceVersion
	if err := json.Unmarshal([]byte(body), &v.Body); err != nil {
		return textdiff.ResourceVersion{}, time.Time{}, fmt.Errorf("decode %s v%d: %w", id, version, err)
	}
	v.Blobs = decodeBlobs(blobs)
	return v, parseTime(at), nil
}

// SourceChanges is what changed in a resource between two versions.
type SourceChanges struct {
	Resource string
	From, To int64
	FromAt   time.Time
	ToAt     time.Time
	Fields   []textdiff.Field
}

// SourceDiff compares version from of resource id with version to, field by
// field. It returns ErrVersionNotKept when either body is not on this node.
func (n *Node) SourceDiff(ctx context.Context, id string, from, to int64) (SourceChanges, error) {
	old, oldAt, err := n.ResourceVersion(ctx, id, from)
	if err != nil {
		return SourceChanges{}, err
	}
	cur, curAt, err := n.ResourceVersion(ctx, id, to)
	if err != nil {
		return SourceChanges{}, err
	}
	return SourceChanges{Resource: id, From: from, To: to, FromAt: oldAt, ToAt: curAt,
		Fields: textdiff.Resources(old, cur)}, nil
}

// SICNames returns the names the given owners' live profiles give their
// centres, by owner; an owner with no profile on this node is left out.
func (n *Node) SICNames(ctx context.Context, owners []string) (map[string]string, error) {
	out := make(map[string]string, len(owners))
	for _, owner := range owners {
		if _, done := out[owner]; done {
			continue
		}
		lo, hi := ownerRange(owner)
		var name sql.NullString
		err := n.db.Reader().QueryRowContext(ctx, `SELECT json_extract(body, '$.name') FROM entities
			WHERE id >= ? AND id < ? AND kind = 'profile' AND deleted = 0 AND body IS NOT NULL
			ORDER BY updated_at DESC LIMIT 1`, lo, hi).Scan(&name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("read profile of %s: %w", owner, err)
		case name.Valid && name.String != "":
			out[owner] = name.String
		}
	}
	return out, nil
}
