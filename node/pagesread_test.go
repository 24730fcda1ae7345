package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// TestPagesRead_IndependentOfAggregate checks that what a node does on its
// own, again and again, reads the same number of database pages whatever the
// size of the aggregate it holds: opening the node, a no-op one-shot sync as
// `bikfed node sync` makes it (push, pull, attachments, status), and the
// start of a serving node up to the end of its start-up work. Twenty-five
// times the entities may only add the pages of deeper B-trees.
func TestPagesRead_IndependentOfAggregate(t *testing.T) {
	t.Setenv(sqlitedb.PageReadsEnv, "1")
	small := aggregatePages(t, 200)
	large := aggregatePages(t, 5000)
	const slack = 30 // a B-tree level more on each of the tables and indexes read
	for _, step := range []string{"open", "sync", "start"} {
		t.Logf("%s: %d pages at 200 entities, %d at 5,000", step, small[step], large[step])
		if large[step] > small[step]+slack {
			t.Errorf("%s reads %d pages at 5,000 entities, %d at 200: it grows with the aggregate", step, large[step], small[step])
		}
	}
}

// aggregatePages builds a node holding total entities and returns the pages
// each step then reads.
func aggregatePages(t *testing.T, total int) map[string]int64 {
	t.Helper()
	dir := aggregateNode(t, total)
	pages := map[string]int64{}
	pages["open"] = pagesRead(t, dir, func(*Node) {})
	pages["sync"] = pagesRead(t, dir, func(n *Node) {
		if err := n.SyncOnce(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := n.FetchBlobs(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := mustStatus(t, n); s.Entities != int64(total) {
			t.Fatalf("status: %d entities, want %d", s.Entities, total)
		}
	})
	// Goroutines started together read the same pages on different
	// connections, each with a cache of its own, or not, as they happen to
	// meet: the fewest of a few starts is what the start needs.
	for range 3 {
		p := pagesRead(t, dir, func(n *Node) { runUntilStarted(t, n) })
		if pages["start"] == 0 || p < pages["start"] {
			pages["start"] = p
		}
	}
	return pages
}

// aggregateNode makes a node holding total entities, half its own resources
// and half pulled from other SICs (resources, and community posts whose
// words the search index counts), synced, and returns its data directory.
func aggregateNode(t *testing.T, total int) string {
	t.Helper()
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	n := openNode(t, dir)
	var b strings.Builder
	for i := range total / 2 {
		line, _ := json.Marshal(resourceDraft(fmt.Sprintf("Own resource %d about privacy and safety", i)))
		b.Write(line)
		b.WriteByte('\n')
	}
	if res, err := n.Import(t.Context(), strings.NewReader(b.String())); err != nil || res.Created != total/2 {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	injectRemote(t, hub, total-total/2)
	mustSync(t, n)
	if s := mustStatus(t, n); s.Entities != int64(total) || s.Pending != 0 {
		t.Fatalf("status after sync: %d entities, %d pending, want %d and 0", s.Entities, s.Pending, total)
	}
	// The first start catches up with what the sync brought (the
	// notifications' queue of new posts); later ones find nothing new.
	runUntilStarted(t, n)
	n.Close()
	return dir
}

// pagesRead opens the node in dir, runs f on it, closes it and returns the
// pages read from its database meanwhile.
func pagesRead(t *testing.T, dir string, f func(n *Node)) int64 {
	t.Helper()
	path := filepath.Join(dir, dbFile)
	before := sqlitedb.PagesRead()[path]
	n, err := Open(t.Context(), testConfig(dir), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	f(n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return sqlitedb.PagesRead()[path] - before
}

// injectRemote puts count changes of two other SICs on the hub: resources,
// and every other a community post, with a few words of its own as people's
// posts have, so that the search index's vocabulary grows with them.
func injectRemote(t *testing.T, hub *fakeHub, count int) {
	t.Helper()
	owners := []string{"fi", "pt"}
	keys := map[string]protocol.Key{}
	for _, o := range owners {
		keys[o] = hub.remoteKey(t, o)
	}
	words := strings.Fields("online safety privacy settings parents children school games social media friends report help")
	signed := make([]protocol.Signed, count)
	changes := make([]*protocol.Change, count)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < count; i += workers {
				o := owners[i%len(owners)]
				c := &protocol.Change{Protocol: protocol.Version, Owner: o, Version: 1, UpdatedAt: time.Now().UTC()}
				text := strings.Join([]string{words[i%len(words)], words[(i/3)%len(words)], words[(i/7)%len(words)], "and more"}, " ")
				if i%2 == 0 {
					c.Kind, c.Visibility = protocol.KindPost, protocol.VisibilityCommunity
					c.Body = postBody(o, "awareness", "Question "+text, "What do you think about "+text+"? "+ownWords(i))
				} else {
					c.Kind, c.Visibility = protocol.KindResource, protocol.VisibilityPublic
					c.Body = resourceBody("Remote resource on " + text)
				}
				c.ID, _ = protocol.NewEntityID(o, time.Now())
				s, err := keys[o].Sign(c)
				if err != nil {
					t.Error(err)
					return
				}
				signed[i], changes[i] = s, c
			}
		})
	}
	wg.Wait()
	// Seqs follow the owner's order, as a node would push them.
	seqs := map[string]int64{}
	for i, c := range changes {
		seqs[c.Owner]++
		if c.Seq = seqs[c.Owner]; c.Seq != 0 {
			s, err := keys[c.Owner].Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			signed[i] = s
		}
		hub.inject(c, signed[i])
	}
}

// runUntilStarted runs n until its start-up work (publication, hub probe,
// push, the search's kept word counts) is done, then stops it.
func runUntilStarted(t *testing.T, n *Node) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln) }()
	waitFor(t, 10*time.Second, "start-up work", func() bool {
		n.terms.mu.Lock()
		defer n.terms.mu.Unlock()
		return n.terms.loaded
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// ownWords makes the words only post i has: names, places, typos.
func ownWords(i int) string {
	var b strings.Builder
	for j := range 24 {
		fmt.Fprintf(&b, "w%dx%d ", i, j)
	}
	return b.String()
}
