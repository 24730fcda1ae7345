package portal

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

const (
	// indexBatch is how many changes one index transaction takes: large
	// enough that FTS5's per-statement flush is amortised, small enough that
	// the engine and the pages catch up in steps during a bulk import.
	indexBatch = 1000
	// indexPoll is the backstop for a missed commit signal (and for commits
	// made by another process on the hub's database).
	indexPoll = 2 * time.Second
	// indexSettle lets a burst of commits land before indexing, so a node's
	// push of many batches is indexed in large transactions.
	indexSettle = 50 * time.Millisecond
)

// Run follows the aggregate until ctx is done: it indexes every change past
// its cursor, wakes on each commit the source signals, and indexes scheduled
// entities when they fall due.
//
// Indexing yields by resting after each batch: as long as the batch took
// while catching up (half of one core at most, leaving the rest to serving
// pages), and busyRest times as long while the source is busy (nodes pushing
// to the hub), so a bulk push is applied at full speed and indexed in step
// behind it. Resting in wall time never starves the indexer, as a thread at
// a lower nice value did for seconds on a loaded machine. An index built
// from nothing (rebuild.go) does not rest while the source is quiet: until
// it has caught up its pages are incomplete, and finishing it matters more
// than serving them fast.
func (p *Portal) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return fmt.Errorf("portal indexer already running")
	}
	defer p.running.Store(false)
	// A read made ahead ends with ctx; waiting for it leaves nothing
	// reading the source once Run has returned.
	defer p.takeRead(-1, 0)
	for {
		wake := p.src.Subscribe()
		t0 := time.Now()
		more, err := p.IndexOnce(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Warn("index", "err", err)
		}
		took := time.Since(t0)
		switch {
		case p.src.Busy():
			if !sleep(ctx, max(busyRest*took, indexSettle)) {
				return nil
			}
			if more && err == nil {
				continue
			}
		case more && err == nil:
			if !p.rebuilding.Load() && !sleep(ctx, took) {
				return nil
			}
			continue
		}
		wait := indexPoll
		if due := p.nextDue.Load(); due > 0 {
			wait = min(wait, max(time.Until(time.UnixMilli(due)), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			t.Stop()
			if !sleep(ctx, p.cfg.IndexSettle) {
				return nil
			}
		case <-t.C:
		}
	}
}

// busyRest is how many times as long as a batch took the indexer rests
// while the source is busy: a twentieth of one core at most.
const busyRest = 19

// sleep waits d, reporting false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// IndexOnce indexes the next batch of changes and the scheduled entities
// now due. It reports whether more changes are waiting.
func (p *Portal) IndexOnce(ctx context.Context) (more bool, err error) {
	cursor := p.cursor.Load()
	limit := indexBatch
	if p.rebuilding.Load() && !p.src.Busy() {
		limit = rebuildBatch
	}
	rd := p.takeRead(cursor, limit)
	if rd == nil {
		rd = p.read(ctx, cursor, limit)
	}
	head, changes, err := rd.head, rd.changes, rd.err
	if err != nil {
		return false, fmt.Errorf("read changes: %w", err)
	}
	if p.rebuilding.Load() && len(changes) == limit {
		p.readAhead(ctx, changes[len(changes)-1].HubSeq, limit)
	}
	now := p.now().UTC()
	var due []string
	if d := p.nextDue.Load(); d > 0 && d <= now.UnixMilli() {
		if due, err = p.dueIDs(ctx, now); err != nil {
			return false, err
		}
	}
	if len(changes) == 0 && len(due) == 0 {
		p.seen(head)
		p.endRebuild(ctx)
		p.signalCaughtUp()
		return false, nil
	}
	a := &applier{p: p, now: now, touched: map[string]bool{}, removed: map[string]bool{}}
	dctx, stopDecoding := context.WithCancel(ctx)
	defer stopDecoding()
	ahead := decodeAhead(dctx, changes)
	var tag indexTag
	err = p.db.WriteTx(ctx, func(tx *sql.Tx) error {
		a.tx = tx
		if err := tx.QueryRowContext(ctx, `SELECT value FROM state WHERE key = 'applied_at'`).Scan(&a.appliedAt); err != nil {
			return err
		}
		for d := range ahead {
			if err := a.applyRaw(ctx, &d); err != nil {
				return err
			}
			cursor = d.c.HubSeq
		}
		for _, id := range due {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending WHERE id = ?`, id); err != nil {
				return err
			}
			if err := a.reconsider(ctx, id); err != nil {
				return err
			}
		}
		if err := a.finish(ctx); err != nil {
			return err
		}
		// What the engine will hold, read in the transaction that writes it.
		ids := make([]string, 0, len(a.touched))
		for id := range a.touched {
			ids = append(ids, id)
		}
		var err error
		if a.docs, err = a.loadDocs(ctx, ids); err != nil {
			return err
		}
		a.ids = ids
		gen := p.gen.Load() + 1
		_, err = tx.ExecContext(ctx, `UPDATE state SET value = CASE key
			WHEN 'indexed_seq' THEN ?1 WHEN 'gen' THEN ?2 WHEN 'applied_at' THEN ?3 END
			WHERE key IN ('indexed_seq', 'gen', 'applied_at')`,
			cursor, gen, a.appliedAt)
		if err != nil {
			return err
		}
		if tag, err = readTag(ctx, tx, gen, cursor, a.appliedAt); err != nil {
			return err
		}
		// From the commit until the engine is in step, rows are read from
		// SQLite only.
		p.rowCache.close()
		return nil
	})
	if err != nil {
		p.rowCache.reopen(a.ftsRIDs)
		return false, fmt.Errorf("index: %w", err)
	}
	// Committed. The in-memory part (facet sets, cached match sets) is
	// brought in step before the generation moves on: a response is cached
	// under a generation, so one rendered under the new generation must see
	// the new state, or it would be served until the next commit.
	p.refreshEngine(a)
	gen := p.gen.Load()
	p.advanceMatches(ctx, gen, gen+1, a.ftsRIDs)
	p.rowCache.reopen(a.ftsRIDs)
	p.cursor.Store(cursor)
	p.gen.Store(gen + 1)
	p.tag.Store(&tag)
	if err := p.refreshNextDue(ctx); err != nil {
		return false, err
	}
	if a.erased {
		// Erased text must leave every SQLite file: the rows are gone
		// (secure_delete, FTS secure-delete), and the checkpoint takes the
		// overwritten pages out of the WAL.
		if err := p.db.Checkpoint(ctx); err != nil {
			p.log.Warn("checkpoint after erasure", "err", err)
		}
	}
	more = len(changes) == limit
	if !more {
		p.seen(head)
		p.endRebuild(ctx)
		p.signalCaughtUp()
	}
	return more, nil
}

// batchRead is one read of the source: up to limit changes after since,
// and the source's head read before them.
type batchRead struct {
	since   int64
	limit   int
	head    int64
	changes []Change
	err     error
	done    chan struct{} // closed once the fields above are set
}

// read reads the changes after since.
func (p *Portal) read(ctx context.Context, since int64, limit int) *batchRead {
	rd := &batchRead{since: since, limit: limit}
	// Read before the changes: once they are all indexed, so is every
	// hub_seq up to it, whatever the source left out as not public.
	if hs, ok := p.src.(headSource); ok {
		rd.head = hs.Head()
	}
	rd.changes, rd.err = p.src.Changes(ctx, since, limit)
	return rd
}

// readAhead starts reading the batch after since while the one before it
// is indexed: reading the aggregate (and whatever the source does to give
// out a change) then runs on another core than the index's writer. Only a
// build from nothing reads ahead; a live index reads batches as they come.
func (p *Portal) readAhead(ctx context.Context, since int64, limit int) {
	rd := &batchRead{since: since, limit: limit, done: make(chan struct{})}
	p.ahead = rd
	go func() {
		defer close(rd.done)
		r := p.read(ctx, since, limit)
		rd.head, rd.changes, rd.err = r.head, r.changes, r.err
	}()
}

// takeRead returns the read made ahead of the batch after since, once
// done, or nil if there is none for it.
func (p *Portal) takeRead(since int64, limit int) *batchRead {
	rd := p.ahead
	p.ahead = nil
	if rd == nil {
		return nil
	}
	<-rd.done
	if rd.since != since || rd.limit != limit {
		return nil
	}
	return rd
}

// headSource is a Source that knows the last hub_seq it holds, public or
// not (Head). The portal's cursor stops at the last change the source gave
// it; IndexedSeq goes on to the head once nothing up to it is left.
type headSource interface {
	Head() int64
}

// seen notes that every hub_seq up to head is indexed.
func (p *Portal) seen(head int64) {
	for {
		old := p.seenSeq.Load()
		if head <= old || p.seenSeq.CompareAndSwap(old, head) {
			return
		}
	}
}

func (p *Portal) dueIDs(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id FROM pending WHERE due <= ? ORDER BY due LIMIT ?`, now.UnixMilli(), indexBatch)
	if err != nil {
		return nil, fmt.Errorf("read due entities: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read due entities: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// refreshEngine brings the in-memory facet sets in step with the commit.
func (p *Portal) refreshEngine(a *applier) {
	found := make(map[string]bool, len(a.docs))
	p.eng.mu.Lock()
	defer p.eng.mu.Unlock()
	for rid, d := range a.docs {
		p.eng.put(rid, d)
		found[d.id] = true
	}
	for id := range a.removed {
		if !found[id] {
			p.eng.remove(id)
		}
	}
	for _, id := range a.ids {
		if !found[id] {
			p.eng.remove(id)
		}
	}
	p.eng.reorderLocked()
}

// applier applies one batch of changes to the index inside one transaction.
type applier struct {
	p   *Portal
	tx  *sql.Tx
	now time.Time
	// appliedAt is the latest time of receipt of the changes indexed (unix
	// ms), carried from batch to batch.
	appliedAt int64
	touched   map[string]bool // resources whose row, FTS row or facets changed
	removed   map[string]bool // resources taken out of the index
	ftsRIDs   []uint32        // rids whose full-text row was rewritten or removed
	erased    bool
	// ids and docs are the touched resources and their rows after the batch.
	ids  []string
	docs map[uint32]*doc
	// protos are what the index makes of the resources indexed in the
	// batch, from their last version, made while it was decoded.
	protos map[string]*resourceProto
	// stmts are the statements prepared in tx, by their text: a batch runs
	// the same few statements thousands of times, and preparing one costs
	// as much as running it.
	stmts map[string]*sql.Stmt
}

// first reports whether id comes for the first time in a build from
// nothing (rebuild.go), and notes that it came: the index then holds
// nothing of it, and there is nothing of it to delete first.
func (a *applier) first(id string) bool {
	if a.p.built == nil {
		return false
	}
	if _, ok := a.p.built[id]; ok {
		return false
	}
	a.p.built[id] = struct{}{}
	return true
}

// stmt returns q prepared in the batch's transaction, which closes it.
func (a *applier) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := a.stmts[q]; ok {
		return s, nil
	}
	s, err := a.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if a.stmts == nil {
		a.stmts = make(map[string]*sql.Stmt)
	}
	a.stmts[q] = s
	return s, nil
}

// exec runs q in the batch's transaction. Its statements run without ctx's
// cancellation, which the driver watches with a goroutine per statement:
// the transaction watches it already, and rolls back when it ends, so the
// next statement fails and the batch stops all the same.
func (a *applier) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := a.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(context.WithoutCancel(ctx), args...)
}

// queryRow runs q in the batch's transaction, as exec does.
func (a *applier) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := a.stmt(ctx, q)
	if err != nil {
		// The same statement unprepared gives the row its error.
		return a.tx.QueryRowContext(ctx, q, args...)
	}
	return s.QueryRowContext(context.WithoutCancel(ctx), args...)
}

// clampUpdated takes the hub's receive time for a change's updated_at when
// the owner's clock put it later: every list the portal orders by recency
// (home page, gallery, feeds, sitemaps) would otherwise keep a change dated
// 2099 at its top for good.
func clampUpdated(ch *protocol.Change, c Change) {
	if !c.AppliedAt.IsZero() && ch.UpdatedAt.After(c.AppliedAt) {
		ch.UpdatedAt = c.AppliedAt
	}
}

// decoded is a change read and decoded ahead of the transaction that
// indexes it: decoding is a fifth of the work of indexing and needs no
// database, so it runs on another core while the writer indexes the changes
// before it.
type decoded struct {
	c Change
	// ch is the change's decoding, nil for a withdrawal; err is why it
	// could not be decoded.
	ch  *protocol.Change
	err error
	// body is the body's decoding, or bodyErr why there is none.
	body    any
	bodyErr error
	// langs are the body's language and languages, whatever its kind: what
	// the JSON API's lang filter matches.
	langs []string
	// res is what the index makes of a resource without reading it back.
	res *resourceProto
}

// resourceProto is what the index makes of one version of a resource, made
// while decoding it: what the engine keeps of it (doc), but for its rid and
// its translations' languages, and its full-text row, but for its
// translations' text. The index knows those.
type resourceProto struct {
	doc                      *doc
	title, description, tags string
}

// decode decodes c for apply.
func decode(c Change) decoded {
	d := decoded{c: c}
	if c.Raw == nil {
		return d
	}
	var ch protocol.Change
	if d.err = json.Unmarshal(c.Raw, &ch); d.err != nil {
		return d
	}
	clampUpdated(&ch, c)
	d.ch = &ch
	d.body, d.bodyErr = protocol.DecodeBody(ch.Kind, ch.Body)
	var l struct {
		Language  string   `json:"language"`
		Languages []string `json:"languages"`
	}
	_ = json.Unmarshal(ch.Body, &l)
	d.langs = []string{}
	for _, s := range append([]string{l.Language}, l.Languages...) {
		if s != "" && !slices.Contains(d.langs, s) {
			d.langs = append(d.langs, s)
		}
	}
	if r, ok := d.body.(*protocol.Resource); ok {
		// The row indexResource writes, as loadDocs and finish would read
		// it back.
		doc := &doc{id: ch.ID, updated: ch.UpdatedAt.UnixMilli(), ageMin: r.AgeMin, ageMax: r.AgeMax, fold: foldTitle(r.Title)}
		doc.values[facetCountry] = []string{ch.Owner}
		doc.values[facetType] = []string{r.Type}
		doc.values[facetTopic] = r.Topics
		doc.values[facetAudience] = r.Audiences
		doc.values[facetMinisite] = r.Minisites
		doc.values[facetLang] = unionLangs(r.Language, r.Languages)
		tags := make([]string, 0, len(r.Topics)+1+len(r.Audiences))
		for _, t := range r.Topics {
			tags = append(tags, vocabToken(facetTopic, t))
		}
		tags = append(tags, vocabToken(facetType, r.Type))
		for _, t := range r.Audiences {
			tags = append(tags, vocabToken(facetAudience, t))
		}
		d.res = &resourceProto{doc: doc, title: r.Title, description: r.Description, tags: strings.Join(tags, " ")}
	}
	return d
}

// decodeAhead decodes changes in order on its own goroutine, a little ahead
// of the reader of the channel, until ctx ends.
func decodeAhead(ctx context.Context, changes []Change) <-chan decoded {
	out := make(chan decoded, 64)
	go func() {
		defer close(out)
		for _, c := range changes {
			select {
			case out <- decode(c):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (a *applier) applyRaw(ctx context.Context, d *decoded) error {
	c := d.c
	if !c.AppliedAt.IsZero() {
		a.appliedAt = max(a.appliedAt, c.AppliedAt.UnixMilli())
	}
	if c.Raw == nil {
		return a.withdraw(ctx, c)
	}
	if d.err != nil {
		// The hub verified every stored change; one it cannot read is skipped
		// rather than stopping the index for everything after it.
		a.p.log.Warn("skip undecodable change", "hub_seq", c.HubSeq, "err", d.err)
		return nil
	}
	return a.apply(ctx, d)
}

// withdraw takes everything of an entity that is no longer public out of
// the index. Its kind is not known, so every kind's tables are cleared.
func (a *applier) withdraw(ctx context.Context, c Change) error {
	if c.Erased {
		a.erased = true
	}
	if c.ID == "" {
		a.p.log.Warn("skip withdrawal without an id", "hub_seq", c.HubSeq)
		return nil
	}
	if _, err := a.exec(ctx, `DELETE FROM pending WHERE id = ?`, c.ID); err != nil {
		return fmt.Errorf("unschedule %s: %w", c.ID, err)
	}
	for _, k := range indexedKinds {
		if err := a.unindex(ctx, c.ID, k, c.HubSeq); err != nil {
			return err
		}
	}
	return nil
}

// indexedKinds are the kinds the index has tables for.
var indexedKinds = []protocol.Kind{protocol.KindResource, protocol.KindTranslation, protocol.KindPost,
	protocol.KindService, protocol.KindBulletin, protocol.KindProfile, protocol.KindEvent}

// apply indexes one decoded change, the entity's latest version. What is
// shown is protocol.Change.ShownAt: nothing else is consulted, so a mirror,
// which gets public changes only, builds the same index as the hub.
func (a *applier) apply(ctx context.Context, d *decoded) error {
	c, hubSeq := d.ch, d.c.HubSeq
	first := a.first(c.ID)
	if c.Erased {
		a.erased = true
	}
	if c.Public() && !c.Deleted && !c.ShownAt(a.now) {
		// Not yet. Index it when due.
		if _, err := a.exec(ctx, `INSERT INTO pending (id, due) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET due = excluded.due`, c.ID, c.PublishAt.UnixMilli()); err != nil {
			return fmt.Errorf("schedule %s: %w", c.ID, err)
		}
		return a.unindex(ctx, c.ID, c.Kind, hubSeq)
	}
	if !first {
		if _, err := a.exec(ctx, `DELETE FROM pending WHERE id = ?`, c.ID); err != nil {
			return fmt.Errorf("unschedule %s: %w", c.ID, err)
		}
	}
	if !c.ShownAt(a.now) {
		return a.unindex(ctx, c.ID, c.Kind, hubSeq)
	}
	if d.bodyErr != nil {
		a.p.log.Warn("skip undecodable body", "id", c.ID, "err", d.bodyErr)
		return a.unindex(ctx, c.ID, c.Kind, hubSeq)
	}
	if err := a.putEntity(ctx, d, first); err != nil {
		return err
	}
	var err error
	switch b := d.body.(type) {
	case *protocol.Resource:
		if a.protos == nil {
			a.protos = make(map[string]*resourceProto)
		}
		a.protos[c.ID] = d.res
		return a.indexResource(ctx, c, hubSeq, b)
	case *protocol.Translation:
		return a.indexTranslation(ctx, c, hubSeq, b)
	case *protocol.Post:
		if b.Space != "news" {
			// Only the news space is public; the protocol refuses a public
			// post elsewhere, and this keeps it so whatever arrives.
			return a.unindex(ctx, c.ID, c.Kind, hubSeq)
		}
		_, err = a.exec(ctx, `INSERT INTO news (id, owner, hub_seq, updated_at, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hub_seq = excluded.hub_seq, updated_at = excluded.updated_at, body = excluded.body`,
			c.ID, c.Owner, hubSeq, c.UpdatedAt.UnixMilli(), string(c.Body))
	case *protocol.Service:
		_, err = a.exec(ctx, `INSERT INTO services (id, hub_seq, updated_at, name, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hub_seq = excluded.hub_seq, updated_at = excluded.updated_at, name = excluded.name, body = excluded.body`,
			c.ID, hubSeq, c.UpdatedAt.UnixMilli(), b.Name, string(c.Body))
	case *protocol.Event:
		_, err = a.exec(ctx, `INSERT INTO events (id, owner, version, hub_seq, updated_at, edition, start, country, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, version = excluded.version, hub_seq = excluded.hub_seq,
			updated_at = excluded.updated_at, edition = excluded.edition, start = excluded.start, country = excluded.country,
			body = excluded.body`,
			c.ID, c.Owner, c.Version, hubSeq, c.UpdatedAt.UnixMilli(), b.Edition, b.Start.UnixMilli(), b.Country, string(c.Body))
	case *protocol.Bulletin:
		_, err = a.exec(ctx, `INSERT INTO bulletins (id, hub_seq, updated_at, edition, body) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hub_seq = excluded.hub_seq, updated_at = excluded.updated_at, edition = excluded.edition, body = excluded.body`,
			c.ID, hubSeq, c.UpdatedAt.UnixMilli(), b.Edition, string(c.Body))
	case *protocol.Profile:
		_, err = a.exec(ctx, `INSERT INTO profiles (id, owner, hub_seq, updated_at, country, name, body) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hub_seq = excluded.hub_seq, updated_at = excluded.updated_at, country = excluded.country,
			name = excluded.name, body = excluded.body`,
			c.ID, c.Owner, hubSeq, c.UpdatedAt.UnixMilli(), b.Country, b.Name, string(c.Body))
	default:
		// Comments, flags and moderation decisions are never public.
		return a.unindex(ctx, c.ID, c.Kind, hubSeq)
	}
	if err != nil {
		return fmt.Errorf("index %s: %w", c.ID, err)
	}
	return nil
}

func (a *applier) indexResource(ctx context.Context, c *protocol.Change, hubSeq int64, r *protocol.Resource) error {
	blobs := c.Blobs
	if blobs == nil {
		blobs = []protocol.BlobRef{}
	}
	list := func(l []string) string {
		if l == nil {
			l = []string{}
		}
		return jsonText(l)
	}
	_, err := a.exec(ctx, `INSERT INTO resources (id, owner, version, hub_seq, updated_at, title, description,
		language, languages, age_min, age_max, type, topics, audiences, minisites, licence, url, blobs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, version = excluded.version, hub_seq = excluded.hub_seq,
		updated_at = excluded.updated_at, title = excluded.title, description = excluded.description,
		language = excluded.language, languages = excluded.languages, age_min = excluded.age_min, age_max = excluded.age_max,
		type = excluded.type, topics = excluded.topics, audiences = excluded.audiences, minisites = excluded.minisites,
		licence = excluded.licence, url = excluded.url, blobs = excluded.blobs`,
		c.ID, c.Owner, c.Version, hubSeq, c.UpdatedAt.UnixMilli(), r.Title, r.Description,
		r.Language, list(r.Languages), r.AgeMin, r.AgeMax, r.Type, list(r.Topics), list(r.Audiences), list(r.Minisites),
		r.Licence, r.URL, jsonText(blobs))
	if err != nil {
		return fmt.Errorf("index resource %s: %w", c.ID, err)
	}
	a.touched[c.ID] = true
	sets := " sic:" + c.Owner + " type:" + r.Type + " "
	for _, l := range unionLangs(r.Language, r.Languages) {
		sets += "language:" + l + " "
	}
	return a.oaiRecord(ctx, c.ID, hubSeq, false, sets)
}

// oaiRecord gives an OAI-PMH record the sequence seq, the hub_seq of the
// change that made it (so a position in a harvest means the same on every
// holder of the same content), and a new datestamp. sets is kept as it was
// when empty (a deletion keeps its set memberships, so set-selective
// harvesters see the deletion too).
func (a *applier) oaiRecord(ctx context.Context, id string, seq int64, deleted bool, sets string) error {
	_, err := a.exec(ctx, `INSERT INTO oai (id, seq, stamp, deleted, sets) VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (id) DO UPDATE SET seq = ?2, stamp = ?3, deleted = ?4, sets = CASE WHEN ?5 = '' THEN sets ELSE ?5 END`,
		id, seq, a.now.UnixMilli(), boolInt(deleted), sets)
	if err != nil {
		return fmt.Errorf("oai record %s: %w", id, err)
	}
	return nil
}

func (a *applier) indexTranslation(ctx context.Context, c *protocol.Change, hubSeq int64, t *protocol.Translation) error {
	var prev sql.NullString
	if err := a.queryRow(ctx, `SELECT resource FROM translations WHERE id = ?`, c.ID).Scan(&prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("index translation %s: %w", c.ID, err)
	}
	_, err := a.exec(ctx, `INSERT INTO translations (id, resource, owner, hub_seq, updated_at, language, title,
		description, url, method, review, source_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET resource = excluded.resource, owner = excluded.owner, hub_seq = excluded.hub_seq,
		updated_at = excluded.updated_at, language = excluded.language, title = excluded.title,
		description = excluded.description, url = excluded.url, method = excluded.method, review = excluded.review,
		source_version = excluded.source_version`,
		c.ID, t.Resource, c.Owner, hubSeq, c.UpdatedAt.UnixMilli(), t.Language, t.Title, t.Description, t.URL,
		t.Method, t.Review, t.SourceVersion)
	if err != nil {
		return fmt.Errorf("index translation %s: %w", c.ID, err)
	}
	if prev.Valid {
		a.touched[prev.String] = true
	}
	a.touched[t.Resource] = true
	return nil
}

// unindex takes an entity out of every public table; hubSeq is the change
// that took it out.
func (a *applier) unindex(ctx context.Context, id string, kind protocol.Kind, hubSeq int64) error {
	if err := a.dropEntity(ctx, id); err != nil {
		return err
	}
	switch kind {
	case protocol.KindResource:
		var rid int64
		err := a.queryRow(ctx, `DELETE FROM resources WHERE id = ? RETURNING rid`, id).Scan(&rid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unindex %s: %w", id, err)
		}
		if _, err := a.exec(ctx, `DELETE FROM resource_fts WHERE rowid = ?`, rid); err != nil {
			return fmt.Errorf("unindex %s: %w", id, err)
		}
		a.ftsRIDs = append(a.ftsRIDs, uint32(rid))
		a.removed[id] = true
		delete(a.touched, id)
		return a.oaiRecord(ctx, id, hubSeq, true, "")
	case protocol.KindTranslation:
		var res string
		err := a.queryRow(ctx, `DELETE FROM translations WHERE id = ? RETURNING resource`, id).Scan(&res)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unindex %s: %w", id, err)
		}
		a.touched[res] = true
		return nil
	case protocol.KindPost:
		_, err := a.exec(ctx, `DELETE FROM news WHERE id = ?`, id)
		return err
	case protocol.KindService:
		_, err := a.exec(ctx, `DELETE FROM services WHERE id = ?`, id)
		return err
	case protocol.KindBulletin:
		_, err := a.exec(ctx, `DELETE FROM bulletins WHERE id = ?`, id)
		return err
	case protocol.KindProfile:
		_, err := a.exec(ctx, `DELETE FROM profiles WHERE id = ?`, id)
		return err
	case protocol.KindEvent:
		_, err := a.exec(ctx, `DELETE FROM events WHERE id = ?`, id)
		return err
	}
	return nil
}

// reconsider indexes an entity again from the source's latest version of
// it, when it fell due.
func (a *applier) reconsider(ctx context.Context, id string) error {
	c, ok, err := a.p.src.Entity(ctx, id)
	if err != nil {
		return fmt.Errorf("read %s: %w", id, err)
	}
	if !ok {
		return nil
	}
	if c.Raw == nil {
		if c.ID == "" {
			c.ID = id
		}
		return a.withdraw(ctx, c)
	}
	d := decode(c)
	if d.err != nil {
		return nil
	}
	return a.apply(ctx, &d)
}

// loadDocs reads what the engine keeps of the resources ids after the
// batch. Of a resource indexed in the batch, its document was made while
// decoding it: only its rid and its translations' languages are read. The
// others (a resource whose translation changed) are read whole.
func (a *applier) loadDocs(ctx context.Context, ids []string) (map[uint32]*doc, error) {
	var known, others []string
	for _, id := range ids {
		if a.protos[id] != nil {
			known = append(known, id)
		} else {
			others = append(others, id)
		}
	}
	docs := make(map[uint32]*doc, len(ids))
	if len(others) > 0 {
		var err error
		if docs, err = a.p.loadDocs(ctx, a.tx, others); err != nil {
			return nil, err
		}
	}
	if len(known) == 0 {
		return docs, nil
	}
	rows, err := a.tx.QueryContext(ctx, `SELECT r.rid, r.id,
		(SELECT json_group_array(t.language) FROM translations t WHERE t.resource = r.id)
		FROM resources r WHERE r.id IN (SELECT value FROM json_each(?))`, jsonText(known))
	if err != nil {
		return nil, fmt.Errorf("load resources: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid uint32
		var id, tlangs string
		if err := rows.Scan(&rid, &id, &tlangs); err != nil {
			return nil, fmt.Errorf("load resources: %w", err)
		}
		d := *a.protos[id].doc
		base := d.values[facetLang]
		d.values[facetLang] = unionLangs(base[0], base[1:], jsonList(tlangs))
		docs[rid] = &d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load resources: %w", err)
	}
	return docs, nil
}

// finish rewrites the full-text rows of every touched resource, one
// statement each, in rowid order: FTS5 keeps a transaction's terms in
// memory and writes them out when that grows large, at the commit, or at a
// rowid lower than the one before; and a statement that writes many rows
// of a virtual table copies every page it changes into a statement journal
// first, which for the full-text rows of a large batch costs more than
// writing them. Of a resource indexed in the batch, only its translations'
// text is read back; the rest of its row was made while decoding it.
func (a *applier) finish(ctx context.Context) error {
	if len(a.touched) == 0 {
		return nil
	}
	var known, others []string
	for id := range a.touched {
		if a.protos[id] != nil {
			known = append(known, id)
		} else {
			others = append(others, id)
		}
	}
	type ftsRow struct {
		rid                uint32
		title, description string
		translations, tags sql.NullString
	}
	var fts []ftsRow
	read := func(q string, ids []string, scan func(rows *sql.Rows) (ftsRow, error)) error {
		if len(ids) == 0 {
			return nil
		}
		rows, err := a.tx.QueryContext(ctx, q, jsonText(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scan(rows)
			if err != nil {
				return err
			}
			fts = append(fts, f)
		}
		return rows.Err()
	}
	const translationsSQL = `(SELECT group_concat(t.title || ' ' || t.description, ' ') FROM translations t WHERE t.resource = r.id)`
	err := read(`SELECT r.rid, r.id, `+translationsSQL+` FROM resources r WHERE r.id IN (SELECT value FROM json_each(?))`, known,
		func(rows *sql.Rows) (ftsRow, error) {
			var f ftsRow
			var id string
			if err := rows.Scan(&f.rid, &id, &f.translations); err != nil {
				return f, err
			}
			p := a.protos[id]
			f.title, f.description, f.tags = p.title, p.description, sql.NullString{String: p.tags, Valid: true}
			return f, nil
		})
	if err == nil {
		err = read(`SELECT r.rid, r.title, r.description, `+translationsSQL+`, `+tagsSQL+`
			FROM resources r WHERE r.id IN (SELECT value FROM json_each(?))`, others,
			func(rows *sql.Rows) (ftsRow, error) {
				var f ftsRow
				err := rows.Scan(&f.rid, &f.title, &f.description, &f.translations, &f.tags)
				return f, err
			})
	}
	if err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	if len(fts) == 0 {
		return nil
	}
	slices.SortFunc(fts, func(x, y ftsRow) int { return cmp.Compare(x.rid, y.rid) })
	for _, f := range fts {
		a.ftsRIDs = append(a.ftsRIDs, f.rid)
	}
	if _, err := a.exec(ctx, `DELETE FROM resource_fts WHERE rowid IN (SELECT value FROM json_each(?))`, jsonText(a.ftsRIDs[len(a.ftsRIDs)-len(fts):])); err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	for _, f := range fts {
		if _, err := a.exec(ctx, `INSERT INTO resource_fts (rowid, title, description, translations, tags) VALUES (?, ?, ?, ?, ?)`,
			f.rid, f.title, f.description, f.translations, f.tags); err != nil {
			return fmt.Errorf("full-text index: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
