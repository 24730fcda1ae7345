package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// The portal benchmark: a hub holding cfg.entities public resources, its
// portal index rebuilt from scratch, search-with-facets latency through the
// JSON API, and gallery page throughput under load from a second process
// against net/http serving a static file of the same size in the same run.

// portalReport collects the portal's figures.
type portalReport struct {
	entities     int
	indexSeconds float64 // rebuilding the index of the whole aggregate
	// indexCPU is the hub's CPU time through the rebuild, and indexIdle the
	// share of the machine's cores idle meanwhile: on a shared machine the
	// wall time depends on what else runs, the CPU time much less.
	indexCPU      time.Duration
	indexIdle     float64
	search        latency
	searchText    latency
	searchFacets  latency
	searchSynced  latency // each query's first run after a sync landed
	pageBytes     int
	static        loadResult // net/http, static file, full GET
	cached        loadResult // the gallery, full GET (the page cache serves it)
	rendered      loadResult // the gallery, full GET, rendered every time
	staticCond    loadResult // net/http, static file, If-Modified-Since
	conditional   loadResult // the gallery, If-None-Match
	conns         int
	duration      time.Duration
	hubPeakKB     int64
	portalDBBytes int64
}

// rebuildTarget is the longest the index of 100,000 resources may take to
// rebuild; a smaller aggregate is held to its share of it.
const rebuildTarget = 15 * time.Second

func (rep *portalReport) rebuildMet() bool {
	return rep.indexSeconds < rebuildTarget.Seconds()*float64(rep.entities)/100_000
}

type latency struct {
	n             int
	p50, p99, max time.Duration
}

func latencyOf(d []time.Duration) latency {
	s := slices.Clone(d)
	slices.Sort(s)
	return latency{n: len(s), p50: s[len(s)/2], p99: s[min(len(s)-1, len(s)*99/100)], max: s[len(s)-1]}
}

// portalQueries are what visitors ask the gallery: words in the synthetic
// content's languages, prefixes, facets alone and combined, deep pages and
// every sort order.
var portalQueries = []string{
	"", "lang=nl", "lang=fi&age=8", "topic=privacy&type=guide", "age=13-15&audience=parents", "minisite=sid",
	"lang=de&lang=fr&topic=cyberbullying", "country=be&sort=title", "page=40", "sort=oldest&lang=sv",
	"q=privacy", "q=online+safety", "q=veiligheid", "q=s%C3%A9curit%C3%A9", "q=Kinder+Eltern", "q=turvallisuus",
	"q=priv", "q=schermtijd&lang=nl", "q=bullying&age=10-12", "q=password+settings&type=tip-sheet",
	"q=online&sort=newest", "q=children&sort=relevance", "q=fake+news&lang=en", "q=ajuda&lang=pt",
	"q=cyberbullying+kindness", "q=video&topic=gaming", "q=famille&age=6-9", "q=mobbning", "q=dati+privacy",
	"q=help&page=3", "q=respect&country=be&minisite=youth", "q=social+media&audience=teachers&age=13",
}

func benchPortal(ctx context.Context, cfg benchConfig, dir string) (*portalReport, error) {
	rep := &portalReport{entities: cfg.entities, conns: 16, duration: 8 * time.Second}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "portal-hub")
	start := func() (*exec.Cmd, error) {
		p := exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn")
		p.Stderr = os.Stderr
		if err := p.Start(); err != nil {
			return nil, fmt.Errorf("start hub: %w", err)
		}
		return p, waitHTTP(ctx, hubURL+"/healthz")
	}
	stop := func(p *exec.Cmd) { p.Process.Signal(syscall.SIGTERM); p.Wait() }
	hub, err := start()
	if err != nil {
		return nil, err
	}
	token, err := cli(cfg.bin, "hub", "register-node", "be", "--name", "Benchmark SIC", "--data", hubDir)
	if err != nil {
		stop(hub)
		return nil, err
	}
	key, err := protocol.GenerateKey("be")
	if err != nil {
		stop(hub)
		return nil, err
	}
	ccfg := protocol.DefaultClientConfig(hubURL)
	enrol, err := protocol.NewClient(ccfg).Enrol(ctx, protocol.EnrolRequest{Node: "be", Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: "bench"})
	if err != nil {
		stop(hub)
		return nil, err
	}
	ccfg.Credential = enrol.Credential
	client := protocol.NewClient(ccfg)
	fmt.Fprintf(os.Stderr, "portal: signing and pushing %d resources…\n", cfg.entities)
	changes, err := signChanges("be", key, cfg.entities)
	if err != nil {
		stop(hub)
		return nil, err
	}
	for from := 0; from < len(changes); from += cfg.batch {
		to := min(from+cfg.batch, len(changes))
		h := protocol.PushHeader{Node: "be", Epoch: "bench", FromSeq: int64(from + 1), ToSeq: int64(to), HeadSeq: int64(len(changes))}
		if _, err := client.Push(ctx, h, changes[from:to]); err != nil {
			stop(hub)
			return nil, err
		}
	}
	if err := waitIndexed(ctx, hubURL, cfg.entities, 10*time.Minute); err != nil {
		stop(hub)
		return nil, err
	}
	// The index is derived: rebuild it from the aggregate, timed.
	stop(hub)
	for _, f := range []string{"portal.db", "portal.db-wal", "portal.db-shm"} {
		os.Remove(filepath.Join(hubDir, f))
	}
	fmt.Fprintln(os.Stderr, "portal: rebuilding the index from the aggregate…")
	stat0 := machineTicks()
	t0 := time.Now()
	if hub, err = start(); err != nil {
		return nil, err
	}
	defer stop(hub)
	if err := waitIndexed(ctx, hubURL, cfg.entities, 10*time.Minute); err != nil {
		return nil, err
	}
	rep.indexSeconds = time.Since(t0).Seconds()
	rep.indexCPU = time.Duration(cpuTicks(hub.Process.Pid)) * (time.Second / clockTicks)
	stat := machineTicks().sub(stat0)
	rep.indexIdle = stat.share(stat.idle)
	fmt.Fprintf(os.Stderr, "portal: index rebuilt in %.1f s\n", rep.indexSeconds)
	if st, err := os.Stat(filepath.Join(hubDir, "portal.db")); err == nil {
		rep.portalDBBytes = st.Size()
	}

	fmt.Fprintln(os.Stderr, "portal: search latency…")
	if err := rep.measureSearch(ctx, hubURL); err != nil {
		return nil, err
	}
	// The same queries, each run once right after a sync landed: a new index
	// generation, so nothing cached from before answers them.
	fmt.Fprintln(os.Stderr, "portal: search latency right after syncs…")
	var synced []time.Duration
	for r := range 10 {
		seq := int64(len(changes) + 1 + r)
		d := sampledata.Synthetic("be", 1, int64(1000+r))[0]
		id, err := protocol.NewEntityID("be", time.Now())
		if err != nil {
			return nil, err
		}
		sc, err := key.Sign(&protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: "be", Version: 1, Seq: seq,
			UpdatedAt: time.Now().UTC(), Visibility: d.Visibility, Body: d.Body})
		if err != nil {
			return nil, err
		}
		if _, err := client.Push(ctx, protocol.PushHeader{Node: "be", Epoch: "bench", FromSeq: seq, ToSeq: seq, HeadSeq: seq}, []protocol.Signed{sc}); err != nil {
			return nil, err
		}
		if err := waitIndexed(ctx, hubURL, int(seq), time.Minute); err != nil {
			return nil, err
		}
		for _, q := range portalQueries {
			t0 := time.Now()
			if err := searchOnce(ctx, http.DefaultClient, hubURL, q); err != nil {
				return nil, err
			}
			synced = append(synced, time.Since(t0))
		}
	}
	rep.searchSynced = latencyOf(synced)

	fmt.Fprintln(os.Stderr, "portal: gallery throughput under load…")
	page := hubURL + "/resources"
	resp, err := http.Get(page)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	rep.pageBytes = len(body)
	staticDir := filepath.Join(dir, "static")
	os.MkdirAll(staticDir, 0o755)
	if err := os.WriteFile(filepath.Join(staticDir, "page.html"), body, 0o644); err != nil {
		return nil, err
	}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(staticDir))}
	go srv.Serve(sln)
	defer srv.Close()
	staticURL := "http://" + sln.Addr().String() + "/page.html"
	st, _ := os.Stat(filepath.Join(staticDir, "page.html"))
	ims := st.ModTime().UTC().Format(http.TimeFormat)
	runs := []struct {
		into    *loadResult
		url     string
		headers []string
		status  int
	}{
		{&rep.static, staticURL, nil, 200},
		{&rep.cached, page, nil, 200},
		{&rep.rendered, page, []string{"Cache-Control: no-cache"}, 200},
		{&rep.staticCond, staticURL, []string{"If-Modified-Since: " + ims}, 304},
		{&rep.conditional, page, []string{"If-None-Match: " + etag}, 304},
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if *r.into, err = runLoadProcess(ctx, self, r.url, r.headers, rep.conns, rep.duration); err != nil {
			return nil, err
		}
		if r.into.Status[fmt.Sprint(r.status)] != r.into.Requests {
			return nil, fmt.Errorf("load on %s %v: statuses %v, want all %d", r.url, r.headers, r.into.Status, r.status)
		}
	}
	rep.hubPeakKB = peakKB(hub.Process.Pid)
	return rep, nil
}

// waitIndexed waits until the portal's gallery holds n resources.
func waitIndexed(ctx context.Context, hubURL string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var page struct {
			Total int `json:"total"`
		}
		resp, err := http.Get(hubURL + "/api/v1/resources?per_page=1")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if page.Total == n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the portal indexed %d of %d resources in %s", page.Total, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// measureSearch times the JSON API, which runs the gallery's search with all
// facets counted, with the page cache bypassed: every request searches.
func (rep *portalReport) measureSearch(ctx context.Context, hubURL string) error {
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var all, text, facets []time.Duration
	for round := -1; round < 30; round++ {
		for _, q := range portalQueries {
			t0 := time.Now()
			if err := searchOnce(ctx, client, hubURL, q); err != nil {
				return err
			}
			d := time.Since(t0)
			if round < 0 {
				continue // warm-up
			}
			all = append(all, d)
			if strings.HasPrefix(q, "q=") {
				text = append(text, d)
			} else {
				facets = append(facets, d)
			}
		}
	}
	rep.search, rep.searchText, rep.searchFacets = latencyOf(all), latencyOf(text), latencyOf(facets)
	return nil
}

// searchOnce runs one gallery search through the JSON API, past the page
// cache, and checks that every facet was counted.
func searchOnce(ctx context.Context, client *http.Client, hubURL, q string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", hubURL+"/api/v1/resources?"+q, nil)
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var page struct {
		Total  int                        `json:"total"`
		Facets map[string]json.RawMessage `json:"facets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 || len(page.Facets) != 7 {
		return fmt.Errorf("search %s: %s %v", q, resp.Status, err)
	}
	return nil
}

// loadResult is what the load generator reports.
type loadResult struct {
	Requests int            `json:"requests"`
	Errors   int            `json:"errors"`
	Bytes    int64          `json:"bytes"`
	Seconds  float64        `json:"seconds"`
	Status   map[string]int `json:"status"`
}

func (l loadResult) rate() float64 {
	if l.Seconds == 0 {
		return 0
	}
	return float64(l.Requests) / l.Seconds
}

// loadConfig is the load generator mode: bikfed-bench -load URL.
type loadConfig struct {
	url      string
	duration time.Duration
	conns    int
	headers  headerList
}

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, "; ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// loadFlags registers the load generator's flags.
func loadFlags() *loadConfig {
	l := &loadConfig{}
	flag.StringVar(&l.url, "load", "", "load generator mode: GET this URL from -conns connections for -duration and print the counts as JSON")
	flag.DurationVar(&l.duration, "duration", 8*time.Second, "load generator: how long")
	flag.IntVar(&l.conns, "conns", 16, "load generator: concurrent connections")
	flag.Var(&l.headers, "header", "load generator: a request header, \"Name: value\" (repeatable)")
	return l
}

// runLoadProcess runs the load generator as a second process, so the load
// does not share the measuring process's scheduler and heap.
func runLoadProcess(ctx context.Context, self, target string, headers []string, conns int, d time.Duration) (loadResult, error) {
	args := []string{"-load", target, "-duration", d.String(), "-conns", fmt.Sprint(conns)}
	for _, h := range headers {
		args = append(args, "-header", h)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("load generator: %w", err)
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, fmt.Errorf("load generator: %w", err)
	}
	return res, nil
}

// runLoad is the load generator: closed-loop GETs on keep-alive
// connections, bodies read to the end, no compression (the static baseline
// sends none).
func runLoad(l *loadConfig) error {
	if _, err := url.Parse(l.url); err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: l.conns, MaxConnsPerHost: l.conns, DisableCompression: true}
	client := &http.Client{Transport: tr}
	var requests, errs, bytes atomic.Int64
	var mu sync.Mutex
	status := map[string]int{}
	deadline := time.Now().Add(l.duration)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range l.conns {
		wg.Go(func() {
			local := map[string]int{}
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", l.url, nil)
				for _, h := range l.headers {
					k, v, _ := strings.Cut(h, ": ")
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				bytes.Add(n)
				requests.Add(1)
				local[fmt.Sprint(resp.StatusCode)]++
			}
			mu.Lock()
			for k, v := range local {
				status[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return json.NewEncoder(os.Stdout).Encode(loadResult{Requests: int(requests.Load()), Errors: int(errs.Load()),
		Bytes: bytes.Load(), Seconds: time.Since(t0).Seconds(), Status: status})
}

func (rep *portalReport) markdown() string {
	if rep == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## The public portal\n\n")
	fmt.Fprintf(&b, "A hub holding %d public resources (synthetic, ~1 KB, nine languages) pushed through the sync API; the portal's index (`portal.db`, FTS5 and facet sets) rebuilt from scratch, then measured over HTTP on loopback.\n\n", rep.entities)
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| rebuilding the index of the whole aggregate (hub start to gallery complete; target < %.0f s at 100,000) | %.1f s (%.0f resources/s) — %s |\n",
		rebuildTarget.Seconds(), rep.indexSeconds, float64(rep.entities)/rep.indexSeconds, verdict(rep.rebuildMet()))
	fmt.Fprintf(&b, "| the hub's CPU time through the rebuild (start included), on %d cores; the machine's cores idle meanwhile | %.1f s; %.0f %% |\n",
		runtime.NumCPU(), rep.indexCPU.Seconds(), 100*rep.indexIdle)
	fmt.Fprintf(&b, "| portal.db size (the database file, beside its WAL) | %.0f MiB |\n", float64(rep.portalDBBytes)/(1<<20))
	fmt.Fprintf(&b, "| hub peak RSS, through indexing and load | %.0f MiB |\n\n", float64(rep.hubPeakKB)/1024)

	fmt.Fprintf(&b, "### Search with facets\n\n")
	fmt.Fprintf(&b, "`GET /api/v1/resources?…` with every facet counted (language, age, topic, type, audience, country, campaign), `Cache-Control: no-cache` so each request searches; %d realistic queries (words in several languages, prefixes, relevance ranking, facets alone and combined, deep pages, every sort), %d rounds, one client, timed at the client (HTTP included). The text goes through the forgiving search (docs/portal.md): \"privacy\" and \"online safety\" are topics, searched also as their tags and their names in the 28 interface languages, and \"children\" an audience, searched also as its tag.\n\n", len(portalQueries), rep.search.n/len(portalQueries))
	fmt.Fprintf(&b, "| queries | p50 | p99 | max |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| all | %s | %s | %s |\n", ms(rep.search.p50), ms(rep.search.p99), ms(rep.search.max))
	fmt.Fprintf(&b, "| with search text | %s | %s | %s |\n", ms(rep.searchText.p50), ms(rep.searchText.p99), ms(rep.searchText.max))
	fmt.Fprintf(&b, "| facets only | %s | %s | %s |\n", ms(rep.searchFacets.p50), ms(rep.searchFacets.p99), ms(rep.searchFacets.max))
	fmt.Fprintf(&b, "| all, each run once right after a sync landed (a new index generation; %d runs) | %s | %s | %s |\n\n", rep.searchSynced.n, ms(rep.searchSynced.p50), ms(rep.searchSynced.p99), ms(rep.searchSynced.max))
	fmt.Fprintf(&b, "Target: p99 under 20 ms — %s (right after a sync: %s).\n\n", verdict(rep.search.p99 < 20*time.Millisecond), verdict(rep.searchSynced.p99 < 20*time.Millisecond))

	fmt.Fprintf(&b, "### Gallery throughput under load\n\n")
	fmt.Fprintf(&b, "The gallery's first page (`/resources`, %d bytes of HTML) against `net/http`'s `FileServer` serving a file of the same bytes, in the same run. The load comes from a second process (`bikfed-bench -load`): %d keep-alive connections, closed loop, %s per measure, no compression.\n\n", rep.pageBytes, rep.conns, rep.duration)
	fmt.Fprintf(&b, "| measure | requests/s | ratio |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| baseline: static file, full GET | %.0f | 1 |\n", rep.static.rate())
	fmt.Fprintf(&b, "| gallery, full GET (rendered once per index generation, then from the page cache) | %.0f | %.2f |\n", rep.cached.rate(), rep.cached.rate()/rep.static.rate())
	fmt.Fprintf(&b, "| gallery, full GET with `Cache-Control: no-cache` (searched every time; the page rendered from its template, with the pieces it repeats kept rendered, docs/portal.md) | %.0f | %.2f |\n", rep.rendered.rate(), rep.rendered.rate()/rep.static.rate())
	fmt.Fprintf(&b, "| baseline: static file, conditional GET (`If-Modified-Since`, 304) | %.0f | 1 |\n", rep.staticCond.rate())
	fmt.Fprintf(&b, "| gallery, conditional GET (`If-None-Match`, 304) | %.0f | %.2f |\n\n", rep.conditional.rate(), rep.conditional.rate()/rep.staticCond.rate())
	rendered := rep.rendered.rate() / rep.static.rate()
	cond := rep.conditional.rate() / rep.staticCond.rate()
	fmt.Fprintf(&b, "Targets: uncached pages, searched and rendered on every request, at least 0.3 of the static file — %s (%.2f; from the page cache: %.2f); conditional GETs at least 0.8 — %s (%.2f).\n",
		verdict(rendered >= 0.3), rendered, rep.cached.rate()/rep.static.rate(), verdict(cond >= 0.8), cond)
	return b.String()
}
