package portal

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// rankCap is the most hits ranked with bm25. Ranking is nearly the whole
// cost of a full-text query (about 22 ms for 6,000 hits at 100,000
// resources); beyond the cap, title matches come first, then the rest, each
// newest first, at the cost of two plain matches.
const rankCap = 400

// resourceRow is an indexed resource as pages show it.
type resourceRow struct {
	RID         uint32
	ID          string
	Owner       string
	Version     int64
	HubSeq      int64
	Updated     time.Time
	Title       string
	Description string
	Language    string
	Languages   []string
	AgeMin      int
	AgeMax      int
	Type        string
	Topics      []string
	Audiences   []string
	Minisites   []string
	Licence     string
	URL         string
	Blobs       []protocol.BlobRef
	// TransLangs are the languages of its public translations.
	TransLangs []string

	// summary and langs are what a card shows of the description and
	// languages, made once when the row is read for a list, a small part
	// of the cost of reading it.
	summary string
	langs   []langView
}

// searchResult is one gallery page.
type searchResult struct {
	Query *Query
	hits
	Items []*resourceRow
}

// search runs a gallery query: full-text matching in SQLite, filtering,
// counting and ordering in the engine, then the page's rows from SQLite.
func (p *Portal) search(ctx context.Context, q *Query) (*searchResult, error) {
	var text, tier bitset
	var ranked []uint32
	known := p.known(ctx)
	forms := p.forms(known)
	if fq := searchExprForms(q.Text, p.labels, known, false, forms); fq != "" {
		var err error
		if text, err = p.matchSet(ctx, fq); err != nil {
			return nil, err
		}
		if len(text) == 0 {
			// Nothing as typed: perhaps the last word was not finished.
			if pq := searchExprForms(q.Text, p.labels, known, true, forms); pq != fq {
				fq = pq
				if text, err = p.matchSet(ctx, fq); err != nil {
					return nil, err
				}
			}
		}
		if q.Sort == sortRelevance {
			if n := text.count(); n <= rankCap {
				if n > 0 {
					if ranked, err = p.ranked(ctx, fq); err != nil {
						return nil, err
					}
				}
			} else if tier, err = p.matchSet(ctx, "{title} : ("+fq+")"); err != nil {
				return nil, err
			}
		}
	}
	h := p.eng.search(q, text, ranked, tier)
	items, err := p.rows(ctx, h.RIDs)
	if err != nil {
		return nil, err
	}
	return &searchResult{Query: q, hits: h, Items: items}, nil
}

// matchCacheMin is the smallest match set worth keeping: reading a common
// word's doclist out of FTS5 is most of a search's cost, a rare word's is not.
const matchCacheMin = 2000

// matchSet is the set of resources matching an FTS5 query. The rowids come
// back as one string: stepping database/sql once per hit costs more than
// the match itself when a common word hits most of the index.
func (p *Portal) matchSet(ctx context.Context, fq string) (bitset, error) {
	gen := p.gen.Load()
	if b, ok := p.matches.get(fq, gen); ok {
		return b, nil
	}
	b, err := p.readMatchSet(ctx, fq)
	if err == nil && b.count() >= matchCacheMin {
		p.matches.put(fq, gen, b)
	}
	return b, err
}

func (p *Portal) readMatchSet(ctx context.Context, fq string) (bitset, error) {
	var list sql.NullString
	if err := p.db.Reader().QueryRowContext(ctx, `SELECT group_concat(rowid, ',') FROM resource_fts WHERE resource_fts MATCH ?`, fq).Scan(&list); err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	out := bitset{}
	var n uint32
	digits := false
	for i := 0; i < len(list.String); i++ {
		c := list.String[i]
		if c >= '0' && c <= '9' {
			n = n*10 + uint32(c-'0')
			digits = true
			continue
		}
		if digits {
			out.set(n)
		}
		n, digits = 0, false
	}
	if digits {
		out.set(n)
	}
	return out, nil
}

func (p *Portal) ranked(ctx context.Context, fq string) ([]uint32, error) {
	// Title matches weigh most, then a label the resource is tagged with,
	// then the description, then translations.
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT rowid FROM resource_fts WHERE resource_fts MATCH ?
		ORDER BY bm25(resource_fts, 10.0, 2.0, 1.0, 4.0) LIMIT ?`, fq, rankCap)
	if err != nil {
		return nil, fmt.Errorf("rank: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var rid uint32
		if err := rows.Scan(&rid); err != nil {
			return nil, fmt.Errorf("rank: %w", err)
		}
		out = append(out, rid)
	}
	return out, rows.Err()
}

const rowColumns = `r.rid, r.id, r.owner, r.version, r.hub_seq, r.updated_at, r.title, r.description, r.language,
	r.languages, r.age_min, r.age_max, r.type, r.topics, r.audiences, r.minisites, r.licence, r.url, r.blobs,
	(SELECT json_group_array(t.language) FROM translations t WHERE t.resource = r.id)`

func scanRow(sc interface{ Scan(...any) error }) (*resourceRow, error) {
	var r resourceRow
	var updated int64
	var langs, topics, auds, minis, blobs, tlangs string
	if err := sc.Scan(&r.RID, &r.ID, &r.Owner, &r.Version, &r.HubSeq, &updated, &r.Title, &r.Description, &r.Language,
		&langs, &r.AgeMin, &r.AgeMax, &r.Type, &topics, &auds, &minis, &r.Licence, &r.URL, &blobs, &tlangs); err != nil {
		return nil, err
	}
	r.Updated = time.UnixMilli(updated).UTC()
	r.Languages, r.Topics, r.Audiences, r.Minisites = jsonList(langs), jsonList(topics), jsonList(auds), jsonList(minis)
	r.TransLangs = jsonList(tlangs)
	_ = jsonUnmarshal(blobs, &r.Blobs)
	return &r, nil
}

// rows reads the resources at rids, in that order; a rid no longer indexed
// is left out. Rows listed recently come from the row cache.
func (p *Portal) rows(ctx context.Context, rids []uint32) ([]*resourceRow, error) {
	if len(rids) == 0 {
		return nil, nil
	}
	found := make([]*resourceRow, len(rids))
	epoch := p.rowCache.get(rids, found)
	var missing []uint32
	for i, r := range found {
		if r == nil {
			missing = append(missing, rids[i])
		}
	}
	if len(missing) > 0 {
		read, err := p.readRows(ctx, missing)
		if err != nil {
			return nil, err
		}
		p.rowCache.put(epoch, read)
		byRID := make(map[uint32]*resourceRow, len(read))
		for _, r := range read {
			byRID[r.RID] = r
		}
		for i, r := range found {
			if r == nil {
				found[i] = byRID[rids[i]]
			}
		}
	}
	out := found[:0]
	for _, r := range found {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// readRows reads the resources at rids from SQLite, in no particular order.
func (p *Portal) readRows(ctx context.Context, rids []uint32) ([]*resourceRow, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT `+rowColumns+` FROM resources r
		WHERE r.rid IN (SELECT value FROM json_each(?))`, jsonText(rids))
	if err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	defer rows.Close()
	out := make([]*resourceRow, 0, len(rids))
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("read resources: %w", err)
		}
		r.summary = summary(r.Description, cardSummary)
		r.langs = langViews(unionLangs(r.Language, r.Languages, r.TransLangs))
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	return out, nil
}

// resource reads one indexed resource; nil when it is not public.
func (p *Portal) resource(ctx context.Context, id string) (*resourceRow, error) {
	r, err := scanRow(p.db.Reader().QueryRowContext(ctx, `SELECT `+rowColumns+` FROM resources r WHERE r.id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read resource: %w", err)
	}
	return r, nil
}

// translationRow is a public translation of an indexed resource.
type translationRow struct {
	ID            string
	Owner         string
	Updated       time.Time
	Language      string
	Title         string
	Description   string
	URL           string
	Method        string
	Review        string
	SourceVersion int64
	Outdated      bool
}

func (p *Portal) translations(ctx context.Context, r *resourceRow) ([]translationRow, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id, owner, updated_at, language, title, description, url,
		method, review, source_version FROM translations WHERE resource = ? ORDER BY language, updated_at DESC`, r.ID)
	if err != nil {
		return nil, fmt.Errorf("read translations: %w", err)
	}
	defer rows.Close()
	var out []translationRow
	for rows.Next() {
		var t translationRow
		var updated int64
		if err := rows.Scan(&t.ID, &t.Owner, &updated, &t.Language, &t.Title, &t.Description, &t.URL, &t.Method,
			&t.Review, &t.SourceVersion); err != nil {
			return nil, fmt.Errorf("read translations: %w", err)
		}
		t.Updated = time.UnixMilli(updated).UTC()
		t.Outdated = t.SourceVersion < r.Version
		out = append(out, t)
	}
	return out, rows.Err()
}

// matchCache keeps the match sets of common words. A set stored is never
// modified (the engine only reads it), so it is shared without copying; when
// the index changes, the indexer carries the sets over to the new generation
// by checking only the resources that changed (advance), so a sync landing
// does not make every visitor's next search read whole doclists again.
type matchCache struct {
	mu    sync.Mutex
	gen   int64
	sets  map[string]bitset
	order []string
}

const (
	matchCacheSize = 64
	// matchCarryMax is the most changed resources advance re-checks; after a
	// larger batch the sets are dropped and read again when asked for.
	matchCarryMax = 64
)

func (c *matchCache) get(fq string, gen int64) (bitset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	b, ok := c.sets[fq]
	return b, ok
}

func (c *matchCache) put(fq string, gen int64, b bitset) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.sets == nil {
		c.gen, c.sets, c.order = gen, map[string]bitset{}, nil
	}
	if _, ok := c.sets[fq]; ok {
		return
	}
	if len(c.order) == matchCacheSize {
		delete(c.sets, c.order[0])
		c.order = c.order[1:]
	}
	c.sets[fq] = b
	c.order = append(c.order, fq)
}

// advance carries the cached sets of generation from over to generation to:
// changed are the rids whose full-text row was rewritten or removed in
// between. It is called by the indexer right after the commit.
func (p *Portal) advanceMatches(ctx context.Context, from, to int64, changed []uint32) {
	c := &p.matches
	c.mu.Lock()
	if c.gen != from || len(changed) > matchCarryMax {
		c.gen, c.sets, c.order = to, map[string]bitset{}, nil
		c.mu.Unlock()
		return
	}
	old := make(map[string]bitset, len(c.sets))
	for k, v := range c.sets {
		old[k] = v
	}
	c.mu.Unlock()
	arg := jsonText(changed)
	fresh := make(map[string]bitset, len(old))
	for fq, b := range old {
		nb := b.clone()
		for _, rid := range changed {
			nb.clear(rid)
		}
		rows, err := p.db.Reader().QueryContext(ctx, `SELECT rowid FROM resource_fts WHERE resource_fts MATCH ?
			AND rowid IN (SELECT value FROM json_each(?))`, fq, arg)
		if err != nil {
			continue
		}
		for rows.Next() {
			var rid uint32
			if rows.Scan(&rid) == nil {
				nb.set(rid)
			}
		}
		rows.Close()
		if rows.Err() == nil {
			fresh[fq] = nb
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != from {
		return
	}
	c.gen, c.sets = to, fresh
	c.order = slices.DeleteFunc(c.order, func(fq string) bool { _, ok := fresh[fq]; return !ok })
}
