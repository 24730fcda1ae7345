package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	posts   []string
	busy    []string // posts with many comments
	queries []string
}

func benchText(r *rand.Rand, z *rand.Zipf, vocab []string, words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocab[z.Uint64()])
	}
	return b.String()
}

func buildBenchCommunity(b *testing.B) *benchCommunity {
	return buildCommunity(b, benchPosts, benchComments)
}

// buildCommunity writes a community of posts and comments with the SQL
// pulls apply (applyPullSQL), so the triggers do all their work, in
// transactions of 10,000 rows as a pull's pages do.
func buildCommunity(tb testing.TB, posts, comments int) *benchCommunity {
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, filepath.Join(tb.TempDir(), dbFile), migrations(), sqlitedb.ReaderMmap(readerMmap))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	bc := &benchCommunity{n: &Node{db: db}}
	r := rand.New(rand.NewPCG(1, 2))
	vocab := benchVocab()
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
	for i := range posts {
		o := owners[r.IntN(len(owners))]
		at := start.Add(time.Duration(r.Int64N(int64(span))))
		id, _ := protocol.NewEntityID(o, at)
		body, _ := json.Marshal(protocol.Post{Space: benchSpaces[i%len(benchSpaces)], Format: "thread",
			Title: benchText(r, z, vocab, 6), Text: benchText(r, z, vocab, 40+r.IntN(80)), Language: "en", Author: protocol.Author{Name: "Author " + o, SIC: o}})
		rows = append(rows, row{id, o, "post", string(body), at})
		bc.posts = append(bc.posts, id)
		postAt[id] = at
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
		body, _ := json.Marshal(protocol.Comment{Post: post, Text: benchText(r, z, vocab, 10+r.IntN(40)), Language: "en", Author: protocol.Author{Name: "Author " + o, SIC: o}})
		rows = append(rows, row{id, o, "comment", string(body), at})
	}
	// Pulled in hub order, which is roughly time order.
	slices.SortFunc(rows, func(a, b row) int { return a.at.Compare(b.at) })
	t0 := time.Now()
	for lo := 0; lo < len(rows); lo += 10_000 {
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, applyPullSQL)
			if err != nil {
				return err
			}
			defer st.Close()
			for i, x := range rows[lo:min(lo+10_000, len(rows))] {
				if _, err := st.ExecContext(ctx, x.id, x.owner, x.kind, 1, "community", 0, 0, nil, fmtTime(x.at),
					lo+i+1, 1, x.owner+":k1", []byte("h"), []byte("s"), []byte("{}"), x.body, nil, "self", 0); err != nil {
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
	// Searches of one or two words of middling frequency, as people type.
	for range 200 {
		q := vocab[20+r.IntN(500)]
		if r.IntN(2) == 0 {
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
