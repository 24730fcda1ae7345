package workspace

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/node"
)

var (
	communityData   = flag.String("community-data", "", "a node data directory that package node's TestNode_CommunityAtScale left with -community-keep: time the community's pages on it (cmd/bikfed-bench)")
	communityPages  = flag.String("community-report", "", "with -community-data: write the pages' figures to this JSON file")
	communityCallsN = flag.Int("community-calls", 2000, "with -community-data: how many of each page to time")
)

// communityManifest mirrors node.CommunityManifest, which package node
// keeps in a test file.
type communityManifest struct {
	Spaces  []string            `json:"spaces"`
	Posts   map[string][]string `json:"posts"`
	Busy    map[string][]string `json:"busy"`
	Queries []string            `json:"queries"`
}

// pageLatency is one kind of request's latencies, in ns; cmd/bikfed-bench
// reads it.
type pageLatency struct {
	Name  string        `json:"name"`
	N     int           `json:"n"`
	P50   time.Duration `json:"p50"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
	Bytes int           `json:"bytes"` // the last page's size
}

type pageTimings struct {
	ds    []time.Duration
	bytes int
}

func (ts *pageTimings) latency(name string) pageLatency {
	s := slices.Clone(ts.ds)
	slices.Sort(s)
	return pageLatency{Name: name, N: len(s), P50: s[len(s)/2], P99: s[min(len(s)-1, len(s)*99/100)], Max: s[len(s)-1], Bytes: ts.bytes}
}

// TestWorkspace_CommunityAtScale serves the community's pages from a node
// holding 100,000 posts and 500,000 comments, through a real HTTP server
// on loopback to a signed-in member of staff: a space's thread list, a
// thread page and a search. Each request is followed by the node call
// the page is built on, in the same loop, so the difference is what
// HTTP, the session and the rendering add. It runs only with
// -community-data.
func TestWorkspace_CommunityAtScale(t *testing.T) {
	if *communityData == "" {
		t.Skip("run with -community-data DIR, a directory of package node's TestNode_CommunityAtScale -community-keep")
	}
	ctx := t.Context()
	dir := *communityData
	var m communityManifest
	b, err := os.ReadFile(filepath.Join(dir, "community.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Init(ctx, dir, enrolOnly(t), "be.secret", nil); err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	n, err := node.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// As a running node does at start.
	if err := n.RefreshSearchStats(ctx); err != nil {
		t.Fatal(err)
	}
	ws, err := New(n, Config{})
	if err != nil {
		t.Fatal(err)
	}
	store := n.Accounts()
	mem, tok, err := store.Add(ctx, "bench", account.NewMember{
		// A new member at every run on the same directory.
		Email: fmt.Sprintf("anna.%d@example.be", time.Now().UnixNano()), Name: "Anna Peeters", Roles: []string{node.RoleStaff}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Accept(ctx, tok, "correct horse battery staple", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	sess, _, err := store.StartSession(ctx, mem.ID, "bench", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cookie := store.Cookie(sess, false)
	srv := httptest.NewServer(ws.Handler())
	defer srv.Close()
	client := srv.Client()
	get := func(path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		if err != nil {
			return "", err
		}
		req.AddCookie(cookie)
		req.Header.Set("Accept-Language", "en")
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(body), nil
	}
	timed := func(ts *pageTimings, fn func() (string, error)) {
		t.Helper()
		t0 := time.Now()
		body, err := fn()
		ts.ds = append(ts.ds, time.Since(t0))
		if err != nil {
			t.Fatal(err)
		}
		ts.bytes = len(body)
	}
	calls := *communityCallsN
	var out []pageLatency

	// A space's threads: the page, then the node call it makes.
	var list, listNode pageTimings
	for i := range calls {
		space := m.Spaces[i%len(m.Spaces)]
		path, before := "/community/"+space+"/", ""
		if i%4 == 3 { // every fourth list is a later page
			l, err := n.CommunityThreads(ctx, node.ThreadQuery{Space: space, Member: mem.ID, Limit: threadsPerPage, HiddenOf: n.ID()})
			if err != nil {
				t.Fatal(err)
			}
			before = l.Next
			path += "?before=" + url.QueryEscape(before)
		}
		timed(&list, func() (string, error) {
			body, err := get(path)
			if err == nil && strings.Count(body, `href="/community/`+space+`/`) < threadsPerPage {
				err = fmt.Errorf("%s lists fewer than %d threads", path, threadsPerPage)
			}
			return body, err
		})
		timed(&listNode, func() (string, error) {
			_, err := n.CommunityThreads(ctx, node.ThreadQuery{Space: space, Member: mem.ID, Limit: threadsPerPage, Before: before, HiddenOf: n.ID()})
			return "", err
		})
	}
	out = append(out, list.latency("threads"), listNode.latency("threads.node"))

	// A thread: half the calls on the busiest threads, about 500 comments
	// each, of which the page shows the first 50.
	var page, pageNode pageTimings
	for i := range calls {
		space := m.Spaces[i%len(m.Spaces)]
		ids := m.Posts[space]
		if i%2 == 0 {
			ids = m.Busy[space]
		}
		post := ids[(i/len(m.Spaces))%len(ids)]
		timed(&page, func() (string, error) {
			body, err := get("/community/" + space + "/" + post)
			if err == nil && !strings.Contains(body, "<h1") {
				err = fmt.Errorf("thread %s has no heading", post)
			}
			return body, err
		})
		timed(&pageNode, func() (string, error) {
			_, err := n.CommunityThread(ctx, post, mem.ID, node.CommentPage{Limit: commentsPerPage})
			return "", err
		})
	}
	out = append(out, page.latency("thread"), pageNode.latency("thread.node"))

	// Search: in every space the member reads, or in one of them.
	var search, searchNode pageTimings
	hits := 0
	for i := range calls {
		q := m.Queries[i%len(m.Queries)]
		path, spaces := "/community/search?q="+url.QueryEscape(q), node.ReadableSpaces(mem, n.ID())
		if i%2 == 0 {
			space := m.Spaces[(i/2)%len(m.Spaces)]
			path += "&space=" + space
			spaces = []string{space}
		}
		timed(&search, func() (string, error) {
			body, err := get(path)
			hits += strings.Count(body, "<mark>")
			return body, err
		})
		timed(&searchNode, func() (string, error) {
			_, err := n.SearchCommunity(ctx, node.CommunityQuery{Text: q, Spaces: spaces, HiddenOf: n.ID()})
			return "", err
		})
	}
	if hits == 0 {
		t.Fatal("no search page marked a match")
	}
	out = append(out, search.latency("search"), searchNode.latency("search.node"))

	for _, l := range out {
		t.Logf("%-14s p50 %v p99 %v max %v (%d bytes)", l.Name, l.P50, l.P99, l.Max, l.Bytes)
	}
	if *communityPages != "" {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*communityPages, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
