package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The community benchmark: a node's community on 100,000 posts and 500,000
// comments from 30 SICs. Package node's TestNode_CommunityAtScale builds
// the node's SQLite file and times the node calls against the least SQL
// that reads the same rows, in the same loop; package node/workspace's
// TestWorkspace_CommunityAtScale then serves the pages a signed-in member
// opens, over HTTP on loopback from that file, each request followed by
// the node call it is built on.

// communityFigures mirrors node.CommunityFigures, the test's report.
type communityFigures struct {
	Posts        int                `json:"posts"`
	Comments     int                `json:"comments"`
	SICs         int                `json:"sics"`
	BuildSeconds float64            `json:"build_seconds"`
	DBBytes      int64              `json:"db_bytes"`
	Terms        int                `json:"terms"`
	Latencies    []communityLatency `json:"latencies"`
}

type communityLatency struct {
	Name string        `json:"name"`
	N    int           `json:"n"`
	P50  time.Duration `json:"p50"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
	CPU  time.Duration `json:"cpu"`
}

// pageLatency mirrors the workspace test's figures of one kind of page.
type pageLatency struct {
	Name  string        `json:"name"`
	N     int           `json:"n"`
	P50   time.Duration `json:"p50"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
	Bytes int           `json:"bytes"`
}

type communityReport struct {
	fig     communityFigures
	pages   map[string]pageLatency
	seconds float64 // the whole run, compiling the test included
	by      map[string]communityLatency
	// load is the machine's load average (one minute) before and after.
	load [2]string
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func benchCommunity(ctx context.Context, cfg benchConfig, dir string) (*communityReport, error) {
	out, pagesOut, data := filepath.Join(dir, "community.json"), filepath.Join(dir, "community-pages.json"), filepath.Join(dir, "community")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "community: building 100,000 posts and 500,000 comments and timing their reads…")
	t0, load := time.Now(), loadAverage()
	for _, args := range [][]string{
		{"./node", "-run", "^TestNode_CommunityAtScale$", "-community-report", out, "-community-keep", data},
		{"./node/workspace", "-run", "^TestWorkspace_CommunityAtScale$", "-community-data", data, "-community-report", pagesOut},
	} {
		cmd := exec.CommandContext(ctx, cfg.goCmd, append([]string{"test", args[0], "-count=1", "-v", "-timeout", "30m"}, args[1:]...)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("community: %s: %w", args[0], err)
		}
	}
	// The file is over a gigabyte.
	os.RemoveAll(data)
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("community: %w", err)
	}
	rep := &communityReport{seconds: time.Since(t0).Seconds(), by: map[string]communityLatency{}, load: [2]string{load, loadAverage()}}
	if err := json.Unmarshal(b, &rep.fig); err != nil {
		return nil, fmt.Errorf("community: %w", err)
	}
	for _, l := range rep.fig.Latencies {
		rep.by[l.Name] = l
	}
	b, err = os.ReadFile(pagesOut)
	if err != nil {
		return nil, fmt.Errorf("community: %w", err)
	}
	var pages []pageLatency
	if err := json.Unmarshal(b, &pages); err != nil {
		return nil, fmt.Errorf("community: %w", err)
	}
	rep.pages = map[string]pageLatency{}
	for _, l := range pages {
		rep.pages[l.Name] = l
	}
	for _, name := range []string{"threads", "threads.node", "thread", "thread.node", "search", "search.node"} {
		if rep.pages[name].N == 0 {
			return nil, fmt.Errorf("community: the pages' report has no %s", name)
		}
	}
	for _, name := range []string{"threads", "threads.baseline", "thread", "thread.baseline", "search", "search.baseline", "search.cold", "search.fts5rank"} {
		if rep.by[name].N == 0 {
			return nil, fmt.Errorf("community: the report has no %s", name)
		}
	}
	return rep, nil
}

func (r *communityReport) markdown() string {
	f := r.fig
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The community\n\n")
	fmt.Fprintf(&b, "A node's community (docs/community.md) at the scale it is built for: %d posts and %d comments from %d SICs in the four Communities of Practice, ", f.Posts, f.Comments, f.SICs)
	b.WriteString("their text in nine languages (the words of `internal/sampledata`'s synthetic resources, mixed half and half with a made-up long tail of rarer words drawn by a Zipf law, as in real text), ")
	fmt.Fprintf(&b, "written into a node's SQLite file with the SQL a pull applies, so that the read side's triggers do all their work: %.0f s to build, %.0f MiB of `node.db` (its WAL aside); the whole section took %.0f s, compiling included (`go run ./cmd/bikfed-bench -community` runs it alone).\n\n", f.BuildSeconds, float64(f.DBBytes)/(1<<20), r.seconds)
	fmt.Fprintf(&b, "The machine is shared: its load average (one minute, %d cores) was %s when the section started and %s when it ended. A request waits whenever the machine runs more than it has cores for.\n\n", runtime.NumCPU(), r.load[0], r.load[1])

	b.WriteString("**The pages.** The node's workspace serves the pages to a signed-in member of staff, from that file, over HTTP on loopback (`go test ./node/workspace -run TestWorkspace_CommunityAtScale -community-data DIR`), one request at a time, from a client in the same process: ")
	b.WriteString("a space's thread list, 20 threads with the member's unread markers (every fourth request a later page); ")
	b.WriteString("a thread page, the post and its first 50 replies rendered from Markdown (half the requests on the 100 busiest threads, about 500 replies each; opening a thread marks it read, a write when the member had not seen it); ")
	b.WriteString("a search, 20 hits with snippets for one or two words (200 queries; half the requests in one space, half in the five spaces the member reads). ")
	b.WriteString("Each request is followed by the node call the page is built on, in the same loop: the difference is what the session, the page's other lookups, the rendering and HTTP add.\n\n")
	b.WriteString("| page | requests | p50 | p99 | max | page size | the node call: p50 / p99 | p99 / the node call's p99 | target |\n|---|---|---|---|---|---|---|---|---|\n")
	page := func(what, name string, target time.Duration) {
		l, nc := r.pages[name], r.pages[name+".node"]
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.1f KiB | %s / %s | %.1f | p99 < %.0f ms — %s |\n", what, l.N, ms(l.P50), ms(l.P99), ms(l.Max), float64(l.Bytes)/1024,
			ms(nc.P50), ms(nc.P99), l.P99.Seconds()/nc.P99.Seconds(), target.Seconds()*1000, verdict(l.P99 < target))
	}
	page("a space's thread list", "threads", 20*time.Millisecond)
	page("a thread page", "thread", 20*time.Millisecond)
	page("search", "search", 30*time.Millisecond)

	b.WriteString("\n**The node calls.** The same calls in the node package, on the file just built (`go test ./node -run TestNode_CommunityAtScale -community-report FILE`), timed around the call: ")
	b.WriteString("`CommunityThreads` (every fourth call a later page), `CommunityThread` with 50 comments (half the calls on the busiest threads), ")
	fmt.Fprintf(&b, "`SearchCommunity` (half the calls in two of the four spaces), after the node counted its %d common words as it does at start. ", f.Terms)
	b.WriteString("Each call is followed by its baseline, the least SQLite work on the same file that reads the same rows, in the same loop. The CPU time the calling thread spent per call (the SQLite driver runs on it) is what a call costs, however long it waited.\n\n")
	b.WriteString("| read | calls | p50 | p99 | max | CPU per call | baseline | baseline p50 / p99 / CPU | p99 / baseline p99 |\n|---|---|---|---|---|---|---|---|---|\n")
	row := func(what, name, base, baseWhat string) {
		l, bl := r.by[name], r.by[base]
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s / %s / %s | %.1f |\n", what, l.N, ms(l.P50), ms(l.P99), ms(l.Max), ms(l.CPU),
			baseWhat, ms(bl.P50), ms(bl.P99), ms(bl.CPU), l.P99.Seconds()/bl.P99.Seconds())
	}
	row("a space's thread list", "threads", "threads.baseline", "the page's thread rows and post bodies read in SQL, nothing decoded")
	row("a thread page", "thread", "thread.baseline", "the post's and 51 comments' rows read in SQL, nothing decoded")
	row("search", "search", "search.baseline", "FTS5 alone: the newest 21 matches of the words with their text, neither ranked nor filtered")
	cold, rank := r.by["search.cold"], r.by["search.fts5rank"]
	fmt.Fprintf(&b, "\n| for comparison | calls | p50 | p99 | max | CPU per call |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| search right after the node opened, before it counted its common words (each query once: the first search for a common word counts its rows) | %d | %s | %s | %s | %s |\n", cold.N, ms(cold.P50), ms(cold.P99), ms(cold.Max), ms(cold.CPU))
	fmt.Fprintf(&b, "| FTS5's own ranking of the same words (`ORDER BY rank`: bm25 scores every match), every 40th search | %d | %s | %s | %s | %s |\n\n", rank.N, ms(rank.P50), ms(rank.P99), ms(rank.Max), ms(rank.CPU))
	b.WriteString("A search ranks its 500 most recent matches with bm25's own formula and weights, computed by the node from their words, and takes the words' counts from the index's vocabulary, those of common words counted once at start and every hour (docs/community.md, \"Reading the community\"). FTS5's own ranking costs in proportion to all the matches: little for a rare word, much for a common one.\n")
	return b.String()
}

// replaceSection puts section, which starts with its "## " heading, in
// place of the report's section of the same heading, or at its end.
func replaceSection(report, section string) string {
	heading := strings.TrimLeft(section, "\n")
	heading = heading[:strings.Index(heading, "\n")+1]
	i := strings.Index(report, "\n"+heading)
	if i < 0 {
		return strings.TrimRight(report, "\n") + "\n" + section
	}
	end := len(report)
	if j := strings.Index(report[i+1+len(heading):], "\n## "); j >= 0 {
		end = i + 1 + len(heading) + j
	}
	return report[:i] + section + report[end:]
}
