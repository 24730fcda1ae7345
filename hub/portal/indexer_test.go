package portal

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// memSource is an aggregate held in memory, busy when told so.
type memSource struct {
	changes []Change
	busy    atomic.Bool
}

func newMemSource(tb testing.TB, n int) *memSource {
	tb.Helper()
	now := time.Now().UTC()
	src := &memSource{}
	for i, d := range sampledata.Synthetic("be", n, 7) {
		id, err := protocol.NewEntityID("be", now)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := json.Marshal(&protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: "be", Version: 1,
			Seq: int64(i + 1), UpdatedAt: now, Visibility: d.Visibility, Body: d.Body, KeyID: "be-0123456789abcdef"})
		if err != nil {
			tb.Fatal(err)
		}
		src.changes = append(src.changes, Change{HubSeq: int64(i + 1), Raw: raw})
	}
	return src
}

func (s *memSource) Changes(_ context.Context, since int64, limit int) ([]Change, error) {
	i := sort.Search(len(s.changes), func(i int) bool { return s.changes[i].HubSeq > since })
	return s.changes[i:min(i+limit, len(s.changes))], nil
}

func (s *memSource) Entity(context.Context, string) (Change, bool, error) {
	return Change{}, false, nil
}
func (s *memSource) Subscribe() <-chan struct{} { return make(chan struct{}) }
func (s *memSource) Busy() bool                 { return s.busy.Load() }
func (s *memSource) SpeaksFor(owner, country string) bool {
	return slices.Contains(protocol.DefaultCountries(owner), country)
}

// runIndexer opens a portal over src and runs its indexer until the test ends.
func runIndexer(t *testing.T, src Source) *Portal {
	t.Helper()
	p, err := Open(t.Context(), Config{DataDir: t.TempDir()}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return p
}

// While the hub reports nodes pushing, the indexer takes a small share of
// the time, so that it does not slow the pushes; it catches up once they end.
func TestRun_GivesWayWhilePushing(t *testing.T) {
	const n = 3 * indexBatch
	// The same backlog indexed with nothing pushing, timed.
	free := newMemSource(t, n)
	start := time.Now()
	p := runIndexer(t, free)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := p.WaitIndexed(ctx, n); err != nil {
		t.Fatalf("indexing %d changes: %v", n, err)
	}
	took := time.Since(start)

	busy := newMemSource(t, n)
	busy.busy.Store(true)
	p = runIndexer(t, busy)
	time.Sleep(took)
	// The first batch starts at once; after it the indexer rests nineteen
	// times as long as the batch took, so in the time the whole backlog took
	// before it reaches the second at most.
	if got := p.IndexedSeq(); got > 2*indexBatch {
		t.Fatalf("indexed %d of %d changes while busy, in the time all of them took when not", got, n)
	}
	busy.busy.Store(false)
	if err := p.WaitIndexed(ctx, n); err != nil {
		t.Fatalf("catching up once the pushes ended: %v", err)
	}
}

// An index built from nothing takes the aggregate in large transactions
// while the source is quiet, and a build cut short by the process dying
// goes on from its last commit to the same index as a build in one go.
func TestRebuild_ResumesAfterACrash(t *testing.T) {
	const n = 2*indexBatch + 500
	src := newMemSource(t, n-1)
	// A translation of the first resource, in the last batch: its language
	// is one of the resource's in the engine.
	var first protocol.Change
	if err := json.Unmarshal(src.changes[0].Raw, &first); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.Translation{Resource: first.ID, SourceVersion: 1, Language: "is", Title: "Leiðarvísir",
		Method: "human", Review: "reviewed"})
	tid, err := protocol.NewEntityID("be", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(&protocol.Change{Protocol: protocol.Version, ID: tid, Kind: protocol.KindTranslation, Owner: "be",
		Version: 1, Seq: n, UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: body, KeyID: "be-0123456789abcdef"})
	src.changes = append(src.changes, Change{HubSeq: n, Raw: raw})
	whole, err := Open(t.Context(), Config{DataDir: t.TempDir()}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if !whole.rebuilding.Load() {
		t.Fatal("an empty index is not being built from nothing")
	}
	if more, err := whole.IndexOnce(t.Context()); err != nil || more {
		t.Fatalf("building %d changes from nothing: more %v, err %v; want all in one transaction", n, more, err)
	}
	if whole.rebuilding.Load() || whole.IndexedSeq() != n {
		t.Fatalf("after the build: rebuilding %v, indexed %d of %d", whole.rebuilding.Load(), whole.IndexedSeq(), n)
	}

	// The same build, cut short after its first transaction: the source was
	// busy, so the batch was an ordinary one, and the process died before
	// the next.
	dir := t.TempDir()
	src.busy.Store(true)
	cut, err := Open(t.Context(), Config{DataDir: dir}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if more, err := cut.IndexOnce(t.Context()); err != nil || !more {
		t.Fatalf("first batch: more %v, err %v", more, err)
	}
	cut.Close()
	src.busy.Store(false)
	resumed, err := Open(t.Context(), Config{DataDir: dir}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if got := resumed.IndexedSeq(); got != indexBatch {
		t.Fatalf("reopened at %d, want the first batch's end %d", got, indexBatch)
	}
	for {
		more, err := resumed.IndexOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	for _, q := range []string{`SELECT count(*) FROM resources`, `SELECT count(*) FROM entities`, `SELECT count(*) FROM oai`,
		`SELECT count(*) FROM resource_fts WHERE resource_fts MATCH 'online'`, `SELECT total(hub_seq) FROM resources`} {
		var a, b float64
		if err := whole.db.Reader().QueryRow(q).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := resumed.db.Reader().QueryRow(q).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if a != b || a == 0 {
			t.Errorf("%s: %v built in one go, %v resumed after a crash", q, a, b)
		}
	}
	if a, b := whole.eng.size(), resumed.eng.size(); a != b || a == 0 {
		t.Errorf("the engine holds %d built in one go, %d resumed", a, b)
	}
	checkEngine(t, whole)
	checkEngine(t, resumed)
	checkTags(t, whole)
	checkTags(t, resumed)
	rid, _ := whole.eng.rid(first.ID)
	if langs := whole.eng.docs[rid].values[facetLang]; !slices.Contains(langs, "is") {
		t.Errorf("the first resource's languages are %v, without its translation's", langs)
	}
}

// checkEngine checks that the engine holds what SQLite does: the documents
// the indexer made while decoding are those read back from the rows.
func checkEngine(t *testing.T, p *Portal) {
	t.Helper()
	want, err := p.loadDocs(t.Context(), p.db.Reader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.eng.mu.RLock()
	defer p.eng.mu.RUnlock()
	if len(p.eng.ids) != len(want) {
		t.Fatalf("the engine holds %d resources, the index %d", len(p.eng.ids), len(want))
	}
	for rid, w := range want {
		g := p.eng.docs[rid]
		if g == nil {
			t.Fatalf("rid %d (%s) is not in the engine", rid, w.id)
		}
		same := g.id == w.id && g.updated == w.updated && g.ageMin == w.ageMin && g.ageMax == w.ageMax && g.fold == w.fold
		for f := range g.values {
			same = same && slices.Equal(g.values[f], w.values[f])
		}
		if !same {
			t.Fatalf("rid %d: the engine holds %+v, the index %+v", rid, *g, *w)
		}
	}
}

// checkTags checks that the full-text row of every resource holds the tags
// tagsSQL makes of its row, and its title's words.
func checkTags(t *testing.T, p *Portal) {
	t.Helper()
	rows, err := p.db.Reader().Query(`SELECT r.rid, r.title, ` + tagsSQL + ` FROM resources r`)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		rid         int64
		title, tags string
	}
	var all []res
	for rows.Next() {
		var r res
		if err := rows.Scan(&r.rid, &r.title, &r.tags); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	rows.Close()
	for i, r := range all {
		if i%37 != 0 {
			continue
		}
		words := strings.Fields(r.tags)
		words = append(words, strings.FieldsFunc(fold(r.title), func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) })...)
		for _, w := range words {
			var n int
			if err := p.db.Reader().QueryRow(`SELECT count(*) FROM resource_fts WHERE resource_fts MATCH ? AND rowid = ?`,
				`"`+w+`"`, r.rid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("resource %d (%q, tags %q): the full-text index does not hold %q", r.rid, r.title, r.tags, w)
			}
		}
	}
}

// An entity that comes twice in a build from nothing is indexed as its
// later version: what the first version held is gone.
func TestRebuild_EntityTwice(t *testing.T) {
	src := newMemSource(t, 3)
	var ch protocol.Change
	if err := json.Unmarshal(src.changes[0].Raw, &ch); err != nil {
		t.Fatal(err)
	}
	ch.Blobs = []protocol.BlobRef{{SHA256: strings.Repeat("ab", 32), Size: 3, MediaType: "text/plain", Name: "notes.txt"}}
	raw, err := json.Marshal(&ch)
	if err != nil {
		t.Fatal(err)
	}
	src.changes[0].Raw = raw
	ch.Blobs, ch.Version, ch.Seq = nil, 2, 4
	raw, err = json.Marshal(&ch)
	if err != nil {
		t.Fatal(err)
	}
	src.changes = append(src.changes, Change{HubSeq: 4, Raw: raw})
	p, err := Open(t.Context(), Config{DataDir: t.TempDir()}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.rebuilding.Load() {
		t.Fatal("an empty index is not being built from nothing")
	}
	if _, err := p.IndexOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	var files int
	var version int64
	if err := p.db.Reader().QueryRow(`SELECT count(*) FROM attachments WHERE entity = ?`, ch.ID).Scan(&files); err != nil {
		t.Fatal(err)
	}
	if err := p.db.Reader().QueryRow(`SELECT version FROM resources WHERE id = ?`, ch.ID).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if files != 0 || version != 2 {
		t.Errorf("after its second version: %d attachments, version %d; want none, 2", files, version)
	}
}
