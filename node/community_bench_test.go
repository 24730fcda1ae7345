package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// The community at the scale the read side is sized for: 100,000 posts and
// 500,000 comments from 30 SICs. Run it with
//
//	go test ./node -run '^$' -bench BenchmarkCommunity -benchtime 2000x
//
// Building the data set takes a minute or two; each sub-benchmark reports
// its p99 latency in ms.
const (
	benchPosts    = 100_000
	benchComments = 500_000
	benchSICs     = 30
)

var benchSpaces = []string{"awareness", "helplines", "youth-participation", "hotlines"}

// benchVocab is a made-up vocabulary; words are drawn with a Zipf law, as
// in real text, so some are in most posts and most are rare.
func benchVocab() []string {
	syll := []string{"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "gu", "he", "ji", "fo", "be", "zu"}
	var words []string
	for _, a := range syll {
		for _, b := range syll {
			for _, c := range syll {
				words = append(words, a+b+c)
			}
		}
	}
	return words // 4,096
}

type benchCommunity struct {
	n       *Node
	path    string
	posts   []string
	busy    []string // posts with many comments
	queries []string
}

// benchLanguages are the words of internal/sampledata's synthetic
// resources, by language: real words of nine languages, each common in
// its language.
func benchLanguages() (codes []string, words [][]string) {
	byLang := map[string]map[string]bool{}
	for _, d := range sampledata.Synthetic("xx", 900, 12) {
		var r protocol.Resource
		if err := json.Unmarshal(d.Body, &r); err != nil {
			panic(err)
		}
		if byLang[r.Language] == nil {
			byLang[r.Language] = map[string]bool{}
			codes = append(codes, r.Language)
		}
		for _, w := range strings.Fields(r.Description) {
			byLang[r.Language][strings.ToLower(strings.Trim(w, ".,:"))] = true
		}
	}
	slices.Sort(codes)
	for _, c := range codes {
		ws := slices.Sorted(maps.Keys(byLang[c]))
		words = append(words, ws)
	}
	return codes, words
}

// benchText strings words into sentences: half the words of the post's
// language, half of the long tail (benchVocab by a Zipf law), so a search
// meets words in most texts of a language as well as rare ones.
func benchText(r *rand.Rand, z *rand.Zipf, vocab, lang []string, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			if i%9 == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		w := vocab[z.Uint64()]
		if r.IntN(2) == 0 {
			w = lang[r.IntN(len(lang))]
		}
		if i%9 == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

func buildBenchCommunity(b *testing.B) *benchCommunity {
	return buildCommunity(b, "", benchPosts, benchComments)
}

// buildCommunity writes a community of posts and comments with the SQL
// pulls apply (applyPullSQL), so the triggers do all their work, in
// transactions of 10,000 rows as a pull's pages do. The database is the
// node database of dir, or of a temporary directory when dir is "".
func buildCommunity(tb testing.TB, dir string, posts, comments int) *benchCommunity {
	ctx := context.Background()
	if dir == "" {
		dir = tb.TempDir()
	}
	path := filepath.Join(dir, dbFile)
	db, err := sqlitedb.Open(ctx, path, migrations(), sqlitedb.ReaderMmap(readerMmap), atRest, pageSize)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	bc := &benchCommunity{n: &Node{db: db}, path: path}
	r := rand.New(rand.NewPCG(1, 2))
	vocab := benchVocab()
	codes, langs := benchLanguages()
	z := rand.NewZipf(r, 1.1, 8, uint64(len(vocab)-1))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	span := 700 * 24 * time.Hour
	owners := make([]string, benchSICs)
	for i := range owners {
		owners[i] = fmt.Sprintf("s%02d", i)
	}
	type row struct {
		id, owner, kind, body string
		at                    time.Time
	}
	var rows []row
	postAt := map[string]time.Time{}
	postLang := map[string]int{}
	for i := range posts {
		o := owners[r.IntN(len(owners))]
		at := start.Add(time.Duration(r.Int64N(int64(span))))
		id, _ := protocol.NewEntityID(o, at)
		l := r.IntN(len(codes))
		body, _ := json.Marshal(protocol.Post{Space: benchSpaces[i%len(benchSpaces)], Format: "thread",
			Title: benchText(r, z, vocab, langs[l], 6), Text: benchText(r, z, vocab, langs[l], 40+r.IntN(80)), Language: codes[l],
			Author: protocol.Author{Name: "Author " + o, SIC: o}})
		rows = append(rows, row{id, o, "post", string(body), at})
		bc.posts = append(bc.posts, id)
		postAt[id] = at
		postLang[id] = l
	}
	// A few busy threads take a tenth of the comments; the rest spread out.
	bc.busy = bc.posts[:min(100, len(bc.posts))]
	for i := range comments {
		post := bc.posts[r.IntN(len(bc.posts))]
		if i%10 == 0 {
			post = bc.busy[r.IntN(len(bc.busy))]
		}
		o := owners[r.IntN(len(owners))]
		at := postAt[post].Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		id, _ := protocol.NewEntityID(o, at)
		l := postLang[post]
		body, _ := json.Marshal(protocol.Comment{Post: post, Text: benchText(r, z, vocab, langs[l], 10+r.IntN(40)), Language: codes[l],
			Author: protocol.Author{Name: "Author " + o, SIC: o}})
		rows = append(rows, row{id, o, "comment", string(body), at})
	}
	// Pulled in hub order, which is roughly time order.
	slices.SortFunc(rows, func(a, b row) int { return a.at.Compare(b.at) })
	var hash [32]byte
	var sig [64]byte
	t0 := time.Now()
	for lo := 0; lo < len(rows); lo += 10_000 {
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, applyPullSQL)
			if err != nil {
				return err
			}
			defer st.Close()
			for i, x := range rows[lo:min(lo+10_000, len(rows))] {
				// The signed change holds the body again, as a pulled one does.
				change, err := json.Marshal(&protocol.Change{Protocol: protocol.Version, ID: x.id, Kind: protocol.Kind(x.kind), Owner: x.owner,
					Version: 1, UpdatedAt: x.at, Visibility: protocol.VisibilityCommunity, Body: json.RawMessage(x.body)})
				if err != nil {
					return err
				}
				stored, err := atrest.Compress(change)
				if err != nil {
					return err
				}
				// The body is the change's: nothing of its own is stored.
				if _, err := st.ExecContext(ctx, x.id, x.owner, x.kind, 1, "community", 0, 0, nil, fmtTime(x.at),
					lo+i+1, 1, sig[:], stored, nil, nil, "self", 0, hash[:], hash[:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	tb.Logf("built %d posts and %d comments in %s", posts, comments, time.Since(t0).Round(time.Second))
	// Searches of one or two words, as people type: a word of a language
	// (in most of its texts), or one of the long tail of middling
	// frequency, with a second word of the same language or a common one.
	for range 200 {
		l := langs[r.IntN(len(langs))]
		q := l[r.IntN(len(l))]
		if r.IntN(2) == 0 {
			q = vocab[20+r.IntN(500)]
		}
		switch r.IntN(3) {
		case 0:
			q += " " + l[r.IntN(len(l))]
		case 1:
			q += " " + vocab[r.IntN(200)]
		}
		bc.queries = append(bc.queries, q)
	}
	return bc
}

// p99 reports the 99th percentile of ds in ms.
func reportP99(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	if len(ds) == 0 {
		return
	}
	p := ds[min(len(ds)-1, len(ds)*99/100)]
	b.ReportMetric(float64(p.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
}

func BenchmarkCommunity(b *testing.B) {
	bc := buildBenchCommunity(b)
	ctx := context.Background()
	// As a running node has done at start.
	if err := bc.n.RefreshSearchStats(ctx); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	b.Run("threads", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			q := ThreadQuery{Space: benchSpaces[i%len(benchSpaces)], Member: 1, Limit: 20}
			// Every fourth list is a later page.
			if i%4 == 3 {
				l, err := bc.n.CommunityThreads(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				q.Before = l.Next
			}
			t0 := time.Now()
			l, err := bc.n.CommunityThreads(ctx, q)
			ds = append(ds, time.Since(t0))
			if err != nil || len(l.Threads) != 20 {
				b.Fatalf("%d threads, %v", len(l.Threads), err)
			}
		}
		reportP99(b, ds)
	})
	b.Run("thread", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			post := bc.posts[r.IntN(len(bc.posts))]
			if i%2 == 0 {
				post = bc.busy[r.IntN(len(bc.busy))]
			}
			t0 := time.Now()
			_, err := bc.n.CommunityThread(ctx, post, 1, CommentPage{Limit: 50})
			ds = append(ds, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		reportP99(b, ds)
	})
	b.Run("search", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		hits := 0
		for i := 0; b.Loop(); i++ {
			spaces := benchSpaces
			if i%2 == 0 {
				spaces = benchSpaces[:2]
			}
			t0 := time.Now()
			res, err := bc.n.SearchCommunity(ctx, CommunityQuery{Text: bc.queries[i%len(bc.queries)], Spaces: spaces, Limit: 20})
			ds = append(ds, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			hits += len(res.Hits)
		}
		if hits == 0 {
			b.Fatal("no search found anything")
		}
		reportP99(b, ds)
	})
}

var communityKeep = flag.String("community-keep", "", "with -community-report: build the community in this directory, which must not hold a node yet, and leave it there with community.json, the posts and searches to time its pages with (package node/workspace)")

// CommunityManifest is what -community-keep leaves beside the database for
// the workspace's page benchmark: posts to open, by space, the busiest
// among them, and the searches.
type CommunityManifest struct {
	Spaces  []string            `json:"spaces"`
	Posts   map[string][]string `json:"posts"` // space → posts
	Busy    map[string][]string `json:"busy"`  // space → busy posts
	Queries []string            `json:"queries"`
}

var communityReport = flag.String("community-report", "", "build the community at benchmark scale, time its reads against baselines on the same file and write the figures to this JSON file (cmd/bikfed-bench)")

// CommunityFigures is what TestNode_CommunityAtScale writes for
// cmd/bikfed-bench, which keeps its own copy of the shape.
type CommunityFigures struct {
	Posts        int                `json:"posts"`
	Comments     int                `json:"comments"`
	SICs         int                `json:"sics"`
	BuildSeconds float64            `json:"build_seconds"`
	DBBytes      int64              `json:"db_bytes"`
	Terms        int                `json:"terms"`
	Latencies    []CommunityLatency `json:"latencies"`
}

// CommunityLatency is one timed read: Name is its key, times in ns.
type CommunityLatency struct {
	Name string        `json:"name"`
	N    int           `json:"n"`
	P50  time.Duration `json:"p50"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	// CPU is the calling thread's CPU time per call, on average.
	CPU time.Duration `json:"cpu"`
}

// timings collects one kind of call's latencies and CPU time.
type timings struct {
	ds  []time.Duration
	cpu time.Duration
}

func (ts *timings) time(t *testing.T, fn func() error) {
	t.Helper()
	c0, t0 := threadCPU(), time.Now()
	err := fn()
	ts.ds = append(ts.ds, time.Since(t0))
	ts.cpu += threadCPU() - c0
	if err != nil {
		t.Fatal(err)
	}
}

func (ts *timings) latency(name string) CommunityLatency {
	s := slices.Clone(ts.ds)
	slices.Sort(s)
	return CommunityLatency{Name: name, N: len(s), P50: s[len(s)/2], P99: s[min(len(s)-1, len(s)*99/100)], Max: s[len(s)-1],
		CPU: ts.cpu / time.Duration(len(s))}
}

// keepManifest writes community.json into dir: 2,000 posts and the busy
// ones, by space, and the searches.
func keepManifest(bc *benchCommunity, dir string) error {
	m := CommunityManifest{Spaces: benchSpaces, Posts: map[string][]string{}, Busy: map[string][]string{}, Queries: bc.queries}
	// Post i is in space i mod 4 (buildCommunity).
	for i, id := range bc.posts {
		sp := benchSpaces[i%len(benchSpaces)]
		if i < len(bc.busy) {
			m.Busy[sp] = append(m.Busy[sp], id)
		}
		if i%(len(bc.posts)/2000+1) == 0 {
			m.Posts[sp] = append(m.Posts[sp], id)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "community.json"), b, 0o644)
}

// TestNode_CommunityAtScale times a space's thread list, a thread page and
// a search on the community of BenchmarkCommunity, each call followed by
// its baseline (the least SQLite work on the same file that reads the same
// rows), so that both meet the same moments of a shared machine. It runs
// only with -community-report.
func TestNode_CommunityAtScale(t *testing.T) {
	if *communityReport == "" {
		t.Skip("run with -community-report FILE")
	}
	ctx := context.Background()
	t0 := time.Now()
	bc := buildCommunity(t, *communityKeep, benchPosts, benchComments)
	fig := CommunityFigures{Posts: benchPosts, Comments: benchComments, SICs: benchSICs, BuildSeconds: time.Since(t0).Seconds()}
	db, n := bc.n.db, bc.n
	if st, err := os.Stat(bc.path); err == nil {
		fig.DBBytes = st.Size()
	}
	const calls = 2000
	r := rand.New(rand.NewPCG(3, 4))
	// The node's calls run on this goroutine (the SQLite driver is Go), so
	// the thread's CPU time is theirs.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	drain := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, c any
			if err := rows.Scan(&a, &b, &c); err != nil {
				return err
			}
		}
		return rows.Err()
	}

	// Searches right after the node opened, before it counted its common
	// words: each query once, the first search for a common word counting
	// it.
	var cold timings
	for _, q := range bc.queries {
		cold.time(t, func() error {
			_, err := n.SearchCommunity(ctx, CommunityQuery{Text: q, Spaces: benchSpaces, Limit: 20})
			return err
		})
	}
	fig.Latencies = append(fig.Latencies, cold.latency("search.cold"))
	if err := n.RefreshSearchStats(ctx); err != nil {
		t.Fatal(err)
	}
	fig.Terms = len(n.terms.df)

	var list, listBase timings
	for i := range calls {
		q := ThreadQuery{Space: benchSpaces[i%len(benchSpaces)], Member: 1, Limit: 20}
		at, post := "\uffff", "\uffff"
		if i%4 == 3 { // every fourth list is a later page
			l, err := n.CommunityThreads(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			q.Before = l.Next
			at, post, _ = decodeCursor(l.Next)
		}
		list.time(t, func() error {
			l, err := n.CommunityThreads(ctx, q)
			if err == nil && len(l.Threads) != 20 {
				err = fmt.Errorf("%d threads", len(l.Threads))
			}
			return err
		})
		listBase.time(t, func() error {
			return drain(db.Reader().QueryContext(ctx, `SELECT t.post, t.last_activity_at, e.body FROM community_threads t
				JOIN entities e ON e.id = t.post WHERE t.space = ? AND (t.last_activity_at, t.post) < (?, ?)
				ORDER BY t.last_activity_at DESC, t.post DESC LIMIT 21`, q.Space, at, post))
		})
	}
	fig.Latencies = append(fig.Latencies, list.latency("threads"), listBase.latency("threads.baseline"))

	var page, pageBase timings
	for i := range calls {
		post := bc.posts[r.IntN(len(bc.posts))]
		if i%2 == 0 {
			post = bc.busy[r.IntN(len(bc.busy))]
		}
		page.time(t, func() error {
			_, err := n.CommunityThread(ctx, post, 1, CommentPage{Limit: 50})
			return err
		})
		pageBase.time(t, func() error {
			return db.ReadTx(ctx, func(tx *sql.Tx) error {
				if err := drain(tx.QueryContext(ctx, `SELECT id, updated_at, body FROM entities WHERE id = ?`, post)); err != nil {
					return err
				}
				return drain(tx.QueryContext(ctx, `SELECT i.id, i.created_at, e.body FROM community_items i JOIN entities e ON e.id = i.id
					WHERE i.post = ? AND i.kind = 'comment' ORDER BY i.created_at, i.id LIMIT 51`, post))
			})
		})
	}
	fig.Latencies = append(fig.Latencies, page.latency("thread"), pageBase.latency("thread.baseline"))

	var search, searchBase, ranked timings
	hits := 0
	for i := range calls {
		q := bc.queries[i%len(bc.queries)]
		spaces := benchSpaces
		if i%2 == 0 {
			spaces = benchSpaces[:2]
		}
		search.time(t, func() error {
			res, err := n.SearchCommunity(ctx, CommunityQuery{Text: q, Spaces: spaces, Limit: 20})
			hits += len(res.Hits)
			return err
		})
		searchBase.time(t, func() error {
			return drain(db.Reader().QueryContext(ctx, `SELECT rowid, title, text FROM community_fts WHERE community_fts MATCH ?
				ORDER BY rowid DESC LIMIT 21`, ftsQuery(q)))
		})
		// FTS5's own ranking scores every match: a few calls show its cost.
		if i%40 == 0 {
			ranked.time(t, func() error {
				return drain(db.Reader().QueryContext(ctx, `SELECT rowid, title, text FROM community_fts WHERE community_fts MATCH ?
					ORDER BY rank LIMIT 21`, ftsQuery(q)))
			})
		}
	}
	if hits == 0 {
		t.Fatal("no search found anything")
	}
	fig.Latencies = append(fig.Latencies, search.latency("search"), searchBase.latency("search.baseline"), ranked.latency("search.fts5rank"))

	b, err := json.MarshalIndent(fig, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*communityReport, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if *communityKeep != "" {
		if err := keepManifest(bc, *communityKeep); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range fig.Latencies {
		t.Logf("%-18s p50 %v p99 %v max %v cpu %v", l.Name, l.P50, l.P99, l.Max, l.CPU)
	}
}
