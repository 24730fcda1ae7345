package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/caddytest"
)

// The network benchmark: a real hub, up to 200 simulated nodes in this
// process pushing and long-polling as running nodes do, and visitors'
// closed-loop public traffic through Caddy in front of one, then two
// mirrors (straight at the hub when the binary has no mirrors).

// networkConfig is the -network run's settings.
type networkConfig struct {
	nodes       int
	duration    time.Duration
	publicConns int
	seed        int // resources each node publishes before the timed part
	traffic     simTraffic
}

// networkHeading is the section's heading, which a -network run replaces.
const networkHeading = "## The network under load"

// networkPhase is one timed part: the same nodes' traffic, with the public
// load sent to the hub itself (mirrors 0) or through Caddy to the mirrors.
type networkPhase struct {
	mirrors int
	// quiet phases have the nodes long-polling but not pushing.
	quiet  bool
	wall   time.Duration
	stats  *opStats
	public publicResult
	// cpu is each process's CPU time over the phase (user+sys), by name.
	cpu         map[string]time.Duration
	idle, steal float64 // the machine's shares over the phase
	lag         *lagWatch
	pushed      int // changes the hub applied
	// missing are the addresses of the mix that did not answer 200 before
	// the phase, left out of its load.
	missing []string
}

type networkReport struct {
	cfg          networkConfig
	started      time.Time
	setupSeconds float64 // registering, enrolling and seeding the nodes
	seeded       int
	noMirrors    bool
	mix          []publicTarget
	phases       []*networkPhase
	peakKB       map[string]int64
	verifiers    int
	// load is the machine's load average (one minute) before and after.
	load [2]string
	// limited is the hub's bikfed_http_limited_total by reason, at the end:
	// what its connection and rate limits turned away or closed.
	limited map[string]float64
}

// quietPhase is the longest a phase with the nodes not pushing runs.
const quietPhase = 20 * time.Second

// publicWarmUp is the unmeasured public load before each phase.
const publicWarmUp = 5 * time.Second

// sidChanges is the changes of a busy Safer Internet Day on today's
// network: ten times an ordinary day's few thousand.
const sidChanges = 30_000

// simTransport is the simulated nodes' one connection pool: each node's
// long-poll holds a connection and its pushes need another. It is Go's
// default transport, as a node's client uses, with room for them all; its
// idle connections are dropped before the hub's idle timeout (2 min) would
// close one under a push.
func simTransport(nodes int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.MaxIdleConns = 2*nodes+16, 2*nodes+16
	return tr
}

func benchNetwork(ctx context.Context, cfg benchConfig, dir string) (*networkReport, error) {
	nc := cfg.network
	rep := &networkReport{cfg: nc, started: time.Now(), peakKB: map[string]int64{}, load: [2]string{loadAverage(), ""}}
	defer func() { rep.load[1] = loadAverage() }()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "network-hub")
	hub := exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn")
	// Every simulated node connects from 127.0.0.1; real ones come from 200
	// addresses, so the per-address cap on connections is lifted.
	hub.Env = append(os.Environ(), "BIKFED_MAX_CONNS_PER_ADDR=4096")
	hub.Stderr = os.Stderr
	if err := hub.Start(); err != nil {
		return nil, fmt.Errorf("start hub: %w", err)
	}
	defer stopProc(hub)
	if err := waitHTTP(ctx, hubURL+"/healthz"); err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(filepath.Join(hubDir, "admin.token"))
	if err != nil {
		return nil, fmt.Errorf("the hub's operator token: %w", err)
	}
	adminToken := strings.TrimSpace(string(tok))

	fmt.Fprintf(os.Stderr, "network: registering and enrolling %d nodes, each publishing %d resources…\n", nc.nodes, nc.seed)
	t0 := time.Now()
	tr := simTransport(nc.nodes)
	defer tr.CloseIdleConnections()
	nodes, err := enrolNodes(ctx, tr, hubURL, adminToken, nc.nodes)
	if err != nil {
		return nil, err
	}
	keys := map[string][]byte{}
	for i, n := range nodes {
		keys[n.id] = n.key.Public()
		// One node in twenty checks the signature of every change it pulls.
		if n.verify = i%20 == 0; n.verify {
			rep.verifiers++
		}
	}
	if err := eachNode(nodes, 8, func(n *simNode) error { _, err := n.push(ctx, nc.seed, nil); return err }); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	rep.seeded = nc.nodes * nc.seed
	if err := waitIndexed(ctx, hubURL, rep.seeded, 10*time.Minute); err != nil {
		return nil, err
	}
	head, err := nodes[0].client.Changes(ctx, 0, 1, 0)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		n.cursor = head.HubSeq // nodes in sync when the timed part starts
	}
	rep.setupSeconds = time.Since(t0).Seconds()
	rep.mix = publicMix(nodes, nc.seed)
	if _, missing, err := checkMix(ctx, hubURL, rep.mix); err != nil || len(missing) > 0 {
		return nil, fmt.Errorf("the hub does not serve the public mix: %v %s", err, strings.Join(missing, ", "))
	}

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	run := func(ph *networkPhase, target string, pids map[string]int) error {
		mix, missing, err := checkMix(ctx, target, rep.mix)
		if err != nil {
			return err
		}
		if len(mix) == 0 {
			return fmt.Errorf("%s serves none of the public mix: %s", target, strings.Join(missing, ", "))
		}
		ph.missing = missing
		// Unmeasured: a mirror just caught up has not rendered a page yet,
		// and the phases compare serving, not first renders.
		if _, _, err := runPublicLoadProcess(ctx, self, dir, publicLoadSpec{Base: target, Conns: nc.publicConns, Duration: publicWarmUp, Mix: mix}); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		return runNetworkPhase(ctx, ph, nodes, keys, nc, self, dir, target, hubURL, adminToken, mix, pids)
	}
	if rep.noMirrors = !mirrorsAvailable(cfg.bin); rep.noMirrors {
		fmt.Fprintln(os.Stderr, "network: this bikfed has no mirrors; the public load goes straight to the hub")
		ph := &networkPhase{}
		if err := run(ph, hubURL, map[string]int{"hub": hub.Process.Pid}); err != nil {
			return nil, err
		}
		rep.phases = append(rep.phases, ph)
		rep.peakKB["hub"] = peakKB(hub.Process.Pid)
		rep.limited, err = hubLimited(ctx, hubURL, adminToken)
		return rep, err
	}

	caddy, err := caddyBinary()
	if err != nil {
		return nil, err
	}
	caddyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var mirrors []*mirror
	defer func() {
		for _, m := range mirrors {
			stopProc(m.proc)
		}
	}()
	for _, name := range []string{"eu1", "eu2"} {
		fmt.Fprintf(os.Stderr, "network: mirror %s catching up…\n", name)
		m, err := startMirror(ctx, cfg.bin, dir, hubDir, hubURL, "http://"+caddyAddr, name)
		if err != nil {
			return nil, err
		}
		mirrors = append(mirrors, m)
		// Caught up is not done: indexing may still be finishing in the
		// background, and would count against the phase.
		if err := waitIdle(ctx, m.pid()); err != nil {
			return nil, err
		}
		var upstreams []string
		pids := map[string]int{"hub": hub.Process.Pid}
		for _, m := range mirrors {
			upstreams = append(upstreams, strings.TrimPrefix(m.url, "http://"))
			pids["mirror "+m.name] = m.pid()
		}
		lb, lbURL, err := startCaddy(ctx, caddy, dir, caddyAddr, upstreams)
		if err != nil {
			return nil, err
		}
		pids["caddy"] = lb.Process.Pid
		// The same mirrors again with the nodes not pushing: no new index
		// generation, so each mirror's page cache stays valid, which tells
		// serving apart from rendering after each change.
		for _, quiet := range []bool{false, true} {
			ph := &networkPhase{mirrors: len(mirrors), quiet: quiet}
			if err = run(ph, lbURL, pids); err != nil {
				break
			}
			rep.phases = append(rep.phases, ph)
		}
		stopCaddy(lb)
		if err != nil {
			return nil, err
		}
	}
	rep.peakKB["hub"] = peakKB(hub.Process.Pid)
	rep.limited, err = hubLimited(ctx, hubURL, adminToken)
	if err != nil {
		return nil, err
	}
	for _, m := range mirrors {
		rep.peakKB["mirror "+m.name] = peakKB(m.pid())
	}
	return rep, nil
}

// enrolNodes registers and enrols nodes sim001… with the hub, one at a
// time: the hub reloads its key directory after each enrolment, and two
// enrolments at once can leave the later key out of it until the next one
// (the last reload to finish wins, and it may have read before the other
// enrolment committed); the node's pushes are then refused as unknown_key.
func enrolNodes(ctx context.Context, tr http.RoundTripper, hubURL, adminToken string, count int) ([]*simNode, error) {
	hc := &http.Client{Timeout: time.Minute}
	nodes := make([]*simNode, count)
	for i := range nodes {
		n, err := newSimNode(ctx, hc, tr, hubURL, adminToken, fmt.Sprintf("sim%03d", i+1), i+1)
		if err != nil {
			return nil, err
		}
		nodes[i] = n
	}
	return nodes, nil
}

// eachNode runs f on every node, conc at a time, and returns the first error.
func eachNode(nodes []*simNode, conc int, f func(*simNode) error) error {
	work := make(chan *simNode)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for n := range work {
				if err := f(n); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range nodes {
		work <- n
	}
	close(work)
	wg.Wait()
	return first
}

// publicMix is what visitors ask for on Safer Internet Day: mostly
// resource pages reached from search engines and shared links, then the
// home page, the gallery's searches, the SID minisite, the feeds and the
// open-data API.
func publicMix(nodes []*simNode, seed int) []publicTarget {
	rng := rand.New(rand.NewPCG(15, 4))
	var resources []string
	for range 300 {
		n := nodes[rng.IntN(len(nodes))]
		resources = append(resources, "/resources/"+n.owned[rng.IntN(min(seed, len(n.owned)))].id)
	}
	var searches []string
	for _, q := range portalQueries {
		if q != "" {
			searches = append(searches, "/resources?"+q)
		}
	}
	return []publicTarget{
		{Kind: "home", Weight: 15, Paths: []string{"/", "/fr/", "/de/", "/nl/", "/it/"}},
		{Kind: "search", Weight: 20, Paths: searches},
		{Kind: "resource", Weight: 35, Paths: resources},
		{Kind: "minisite", Weight: 12, Paths: []string{"/sid/", "/fr/sid/", "/youth/"}},
		{Kind: "feed", Weight: 8, Paths: []string{"/feed.atom", "/feed.rss", "/feed.json", "/news/feed.atom"}},
		{Kind: "api", Weight: 10, Paths: []string{"/api/v1/entities", "/api/v1/entities?kind=resource&limit=50", "/api/v1/resources?q=privacy", "/api/v1/resources?lang=fr&page=2"}},
	}
}

// checkMix asks once for every address of the mix and returns the mix of
// those that answered 200, and the others with their answers: the load
// must measure pages, not errors.
func checkMix(ctx context.Context, base string, mix []publicTarget) ([]publicTarget, []string, error) {
	var kept []publicTarget
	var missing []string
	for _, t := range mix {
		status := map[string]int{}
		k := t
		k.Paths = nil
		for _, p := range t.Paths {
			if _, seen := status[p]; !seen {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return nil, nil, err
				}
				resp.Body.Close()
				status[p] = resp.StatusCode
				if resp.StatusCode != http.StatusOK {
					missing = append(missing, fmt.Sprintf("`%s` (%s)", p, resp.Status))
				}
			}
			if status[p] == http.StatusOK {
				k.Paths = append(k.Paths, p)
			}
		}
		if len(k.Paths) > 0 {
			kept = append(kept, k)
		}
	}
	return kept, missing, nil
}

// runNetworkPhase runs the nodes' traffic and the public load for one
// duration. pids names the processes whose CPU time is measured.
func runNetworkPhase(ctx context.Context, ph *networkPhase, nodes []*simNode, keys map[string][]byte, nc networkConfig,
	self, dir, target, hubURL, adminToken string, mix []publicTarget, pids map[string]int) error {
	what := "the hub"
	if ph.mirrors > 0 {
		what = fmt.Sprintf("Caddy and %d mirror(s)", ph.mirrors)
	}
	fmt.Fprintf(os.Stderr, "network: %d nodes and %d visitors' connections to %s for %s…\n", len(nodes), nc.publicConns, what, nc.duration)
	ph.stats, ph.lag = newOpStats(), newLagWatch()
	sent := &sentLog{at: map[string]sentChange{}}
	seq0 := 0
	for _, n := range nodes {
		seq0 += int(n.seq)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var pulls, pushes, watch sync.WaitGroup
	ticks0, machine0, self0 := map[string]int64{}, machineTicks(), selfCPU()
	for name, pid := range pids {
		ticks0[name] = cpuTicks(pid)
	}
	t0 := time.Now()
	for _, n := range nodes {
		pulls.Go(func() { n.pullLoop(pctx, nc.traffic, ph.stats, sent, keys) })
		if !ph.quiet {
			pushes.Go(func() { n.pushLoop(stop, nc.traffic, ph.stats, sent) })
		}
	}
	if ph.mirrors > 0 {
		watch.Go(func() { ph.lag.watch(pctx, hubURL, adminToken, 500*time.Millisecond) })
	}
	var loadCPU time.Duration
	var err error
	ph.public, loadCPU, err = runPublicLoadProcess(ctx, self, dir, publicLoadSpec{Base: target, Conns: nc.publicConns, Duration: ph.duration(nc), Mix: mix})
	close(stop)
	pushes.Wait()
	ph.wall = time.Since(t0)
	ph.cpu = map[string]time.Duration{"public load process": loadCPU, "this process (the simulated nodes)": selfCPU() - self0}
	for name, pid := range pids {
		ph.cpu[name] = time.Duration(cpuTicks(pid)-ticks0[name]) * (time.Second / clockTicks)
	}
	st := machineTicks().sub(machine0)
	ph.idle, ph.steal = st.share(st.idle), st.share(st.steal)
	// The pushes stopped: the lag now is what the mirrors still have to pull.
	if ph.mirrors > 0 {
		ph.lag.sample(ctx, hubURL, adminToken)
	}
	cancel()
	pulls.Wait()
	watch.Wait()
	for _, n := range nodes {
		ph.pushed += int(n.seq)
	}
	ph.pushed -= seq0
	return err
}

// hubLimited reads the hub's bikfed_http_limited_total counters from its
// metrics, by reason.
func hubLimited(ctx context.Context, hubURL, adminToken string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the hub's metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the hub's metrics: %s %v", resp.Status, err)
	}
	return parseLimited(string(b)), nil
}

// parseLimited takes the bikfed_http_limited_total samples of a metrics page.
func parseLimited(page string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(page, "\n") {
		rest, ok := strings.CutPrefix(l, `bikfed_http_limited_total{reason="`)
		if !ok {
			continue
		}
		reason, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[reason] = v
		}
	}
	return out
}

// cores is CPU time over wall time: how many of the machine's cores it took.
func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return cpu.Seconds() / wall.Seconds()
}

// perMirrorCPU is the public requests per CPU-second of all the mirrors.
func (p *networkPhase) perMirrorCPU() float64 {
	var m time.Duration
	for name, c := range p.cpu {
		if strings.HasPrefix(name, "mirror ") {
			m += c
		}
	}
	return perCPU(p.public.Requests, m)
}

// mirrorCores is the cores each mirror took over the phase, by name.
func (p *networkPhase) mirrorCores() []float64 {
	var out []float64
	for _, name := range sortedKeys(p.cpu) {
		if strings.HasPrefix(name, "mirror ") {
			out = append(out, cores(p.cpu[name], p.wall))
		}
	}
	return out
}

// perCPU is n per second of cpu.
func perCPU(n int, cpu time.Duration) float64 {
	if cpu <= 0 {
		return 0
	}
	return float64(n) / cpu.Seconds()
}

func phaseName(p *networkPhase) string {
	name := "public load at the hub"
	switch p.mirrors {
	case 0:
	case 1:
		name = "Caddy → 1 mirror"
	default:
		name = fmt.Sprintf("Caddy → %d mirrors", p.mirrors)
	}
	if p.quiet {
		name += ", nodes not pushing"
	}
	return name
}

// duration is how long the phase's load runs: a quiet phase is a
// reference, shorter.
func (p *networkPhase) duration(nc networkConfig) time.Duration {
	if p.quiet {
		return min(nc.duration, quietPhase)
	}
	return nc.duration
}

// phaseOf finds the phase with m mirrors, quiet or not.
func (r *networkReport) phaseOf(m int, quiet bool) *networkPhase {
	for _, p := range r.phases {
		if p.mirrors == m && p.quiet == quiet {
			return p
		}
	}
	return nil
}

func (r *networkReport) markdown() string {
	var b strings.Builder
	nc := r.cfg
	pushesPerSec := float64(nc.nodes) / nc.traffic.pushEvery.Seconds()
	meanBatch := float64(1+nc.traffic.maxBatch) / 2
	fmt.Fprintf(&b, "\n%s\n\n", networkHeading)
	fmt.Fprintf(&b, "`go run ./cmd/bikfed-bench -network -nodes %d -duration %s -public-conns %d`, on %s, %s. ", nc.nodes, nc.duration, nc.publicConns, r.started.UTC().Format("2006-01-02"), machine())
	fmt.Fprintf(&b, "A real hub process on loopback and %d simulated nodes in the benchmark's process, each with its own Ed25519 key and credential: registered through the hub's admin API (`POST /admin/v1/nodes`), enrolled with `protocol.Client.Enrol`, each publishing %d resources (%d in all, ~1 KB, synthetic, nine languages) before the timed part, in %.0f s. ", nc.nodes, nc.seed, r.seeded, r.setupSeconds)
	fmt.Fprintf(&b, "Then each node, over real HTTP with real signatures and no client retries (every failed request counts):\n\n")
	changesPerSec := pushesPerSec * meanBatch
	fmt.Fprintf(&b, "- pushes a batch of 1 to %d new or updated public resources (a third of them new versions of its earlier ones), signed with its key, every %s on average (uniformly %s–%s): %.0f pushes/s and about %.0f changes/s for the network, %.0f an hour. ",
		nc.traffic.maxBatch, nc.traffic.pushEvery, nc.traffic.pushEvery/2, nc.traffic.pushEvery*3/2, pushesPerSec, changesPerSec, 3600*changesPerSec)
	fmt.Fprintf(&b, "Today's 31 SICs publish a few thousand changes a day; take a busy Safer Internet Day as ten times that, 30,000: these nodes write that whole day's changes every %.0f minutes, and each of their pushes wakes every long-poll waiting at the hub. It is the day's peak with a wide margin, not its average.\n",
		sidChanges/changesPerSec/60)
	fmt.Fprintf(&b, "- keeps a long-poll of the changes feed open (`ChangesAfter`, wait %s), asking again at once after news, with its own cursor, as a running node does. %d of the %d nodes check every pulled change's signature; the others do not, since here all their verification would run on the same two cores as the hub.\n\n", nc.traffic.longPoll, r.verifiers, nc.nodes)
	fmt.Fprintf(&b, "The machine is shared: its load average (one minute, %d cores) was %s when the section started and %s when it ended.\n\n", runtime.NumCPU(), r.load[0], r.load[1])
	fmt.Fprintf(&b, "Meanwhile visitors: %d keep-alive connections from a second process (`bikfed-bench -public-load`), closed loop, compression accepted, each request a page drawn from this mix, anything but a 200 counted as an error:\n\n", nc.publicConns)
	b.WriteString("| page | share | addresses |\n|---|---|---|\n")
	w := totalWeight(r.mix)
	for _, t := range r.mix {
		ex := t.Paths[0]
		if len(t.Paths) > 1 {
			ex = fmt.Sprintf("%d, e.g. `%s`, `%s`", len(t.Paths), t.Paths[0], t.Paths[1])
		} else {
			ex = "`" + ex + "`"
		}
		fmt.Fprintf(&b, "| %s | %.0f %% | %s |\n", t.Kind, 100*float64(t.Weight)/float64(w), ex)
	}
	b.WriteString("\n")
	if r.noMirrors {
		b.WriteString("The `bikfed` binary measured has no mirrors (`bikfed mirror serve`), so the visitors' load goes straight to the hub, beside the nodes' traffic; nothing is measured through Caddy.\n\n")
	} else {
		fmt.Fprintf(&b, "The visitors reach the portal through Caddy (%s, built from the Go module proxy), reverse proxying round robin to the mirrors with an active health check on `/healthz` every second; each mirror (`bikfed mirror serve`) pulls the hub's public feed and serves the portal from its own index. The phases run one after the other on the same hub and nodes, %s each: Caddy in front of one mirror, then a second mirror enrolled, caught up, and Caddy restarted over both; after each, %s more with the nodes long-polling but not pushing, a reference in which the mirrors' index does not change. Each phase starts once every mirror's `/healthz` answers 200 (caught up and indexed) and the mirror has gone idle, after %s of the same public load unmeasured (the pages' first renders), and with the addresses of the mix that answer 200 through Caddy (any other is left out of that phase's load and named below). ", caddytest.Version, nc.duration, min(nc.duration, quietPhase), publicWarmUp)
		fmt.Fprintf(&b, "Each mirror runs with `GOMAXPROCS=%d`: one mirror per machine is the real deployment, and here every process shares two cores; with one core each, a mirror stands for a machine of fixed size and a second mirror adds capacity as a second machine would, where left to the default one mirror alone could already take both cores. The lag is the hub's own figure (`GET /admin/v1/mirrors`: the hub's head minus the mirror's cursor), sampled every 0.5 s.\n\n", mirrorProcs)
	}

	b.WriteString("| measure |")
	for _, p := range r.phases {
		fmt.Fprintf(&b, " %s |", phaseName(p))
	}
	b.WriteString("\n|---|")
	for range r.phases {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(label string, f func(p *networkPhase) string) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, p := range r.phases {
			fmt.Fprintf(&b, " %s |", f(p))
		}
		b.WriteString("\n")
	}
	opCell := func(op string) func(*networkPhase) string {
		return func(p *networkPhase) string {
			s := p.stats.summary(op)
			if s.n == 0 && s.errors == 0 {
				return "none"
			}
			return fmt.Sprintf("%d, **%d errors**, p50 %s, p99 %s", s.n, s.errors, ms(s.p50), ms(s.p99))
		}
	}
	row("phase wall time", func(p *networkPhase) string { return fmt.Sprintf("%.1f s", p.wall.Seconds()) })
	row("push (sent to answered): count, errors, latency", opCell("push"))
	row("changes applied by the hub", func(p *networkPhase) string {
		return fmt.Sprintf("%d (%.0f/s)", p.pushed, float64(p.pushed)/p.wall.Seconds())
	})
	row("pull answered with changes (long-poll, so waiting for news is included)", opCell("pull"))
	row("long-polls that ended with nothing new", func(p *networkPhase) string { return fmt.Sprint(p.stats.idle) })
	row("delivery: a change from its push to another node's pull", func(p *networkPhase) string {
		s := p.stats.summary("delivery")
		if s.n == 0 {
			return "none"
		}
		return fmt.Sprintf("%d, p50 %s, p99 %s, max %s", s.n, ms(s.p50), ms(s.p99), ms(s.max))
	})
	row("public GET: count, errors, latency", func(p *networkPhase) string {
		return fmt.Sprintf("%d, **%d errors**, p50 %s, p99 %s", p.public.Requests, p.public.Errors, ms(p.public.P50), ms(p.public.P99))
	})
	row("**public requests/s**", func(p *networkPhase) string { return fmt.Sprintf("**%.0f**", p.public.rate()) })
	for _, k := range kindsInOrder(r.mix) {
		row("public GET "+k+": count, errors, p50 / p99", func(p *networkPhase) string {
			s := p.public.Kinds[k]
			return fmt.Sprintf("%d, %d, %s / %s", s.N, s.Errors, ms(s.P50), ms(s.P99))
		})
	}
	for _, name := range sortedKeys(r.phases[len(r.phases)-1].cpu) {
		row("CPU: "+name+" (cores, user+sys / wall)", func(p *networkPhase) string {
			c, ok := p.cpu[name]
			if !ok {
				return "—"
			}
			return fmt.Sprintf("%.2f", cores(c, p.wall))
		})
	}
	if !r.noMirrors {
		row("public requests per CPU-second of the mirrors / of Caddy", func(p *networkPhase) string {
			return fmt.Sprintf("%.0f / %.0f", p.perMirrorCPU(), perCPU(p.public.Requests, p.cpu["caddy"]))
		})
	}
	row("the machine idle / taken by the hypervisor (steal)", func(p *networkPhase) string {
		return fmt.Sprintf("%.0f %% / %.0f %%", 100*p.idle, 100*p.steal)
	})
	if !r.noMirrors {
		for _, name := range []string{"eu1", "eu2"} {
			row("mirror "+name+" lag in changes: max / when the pushes stopped", func(p *networkPhase) string {
				p.lag.mu.Lock()
				defer p.lag.mu.Unlock()
				if _, ok := p.lag.last[name]; !ok {
					return "—"
				}
				return fmt.Sprintf("%d / %d", p.lag.max[name], p.lag.last[name])
			})
		}
		row("lag samples (failed)", func(p *networkPhase) string { return fmt.Sprintf("%d (%d)", p.lag.samples, p.lag.errs) })
	}
	b.WriteString("\n")
	b.WriteString("| process | peak RSS (`VmHWM`) through the whole run |\n|---|---|\n")
	for _, name := range sortedKeys(r.peakKB) {
		fmt.Fprintf(&b, "| %s | %.0f MiB |\n", name, float64(r.peakKB[name])/1024)
	}
	b.WriteString("\n")

	var errs []string
	for _, p := range r.phases {
		for _, op := range []string{"push", "pull"} {
			if s := p.stats.summary(op); s.errors > 0 {
				errs = append(errs, fmt.Sprintf("%s, %s: %d, the first: %s", phaseName(p), op, s.errors, s.firstErr))
			}
		}
		for _, k := range sortedKeys(p.public.Kinds) {
			if s := p.public.Kinds[k]; s.Errors > 0 {
				errs = append(errs, fmt.Sprintf("%s, public %s: %d, the first: %s", phaseName(p), k, s.Errors, s.FirstError))
			}
		}
		if p.lag.errs > 0 {
			errs = append(errs, fmt.Sprintf("%s, reading the mirrors' lag: %d, the first: %s", phaseName(p), p.lag.errs, p.lag.first))
		}
	}
	same := true
	for _, p := range r.phases {
		same = same && slices.Equal(p.missing, r.phases[0].missing)
	}
	switch {
	case same && len(r.phases[0].missing) > 0:
		fmt.Fprintf(&b, "**Left out of the load in every phase**, as they did not answer 200 through it before it started: %s.\n\n", strings.Join(r.phases[0].missing, ", "))
	case !same:
		for _, p := range r.phases {
			if len(p.missing) > 0 {
				fmt.Fprintf(&b, "**Left out of the load in phase \"%s\"**, as they did not answer 200 there before it started: %s.\n\n", phaseName(p), strings.Join(p.missing, ", "))
			}
		}
	}
	var lim []string
	for _, k := range sortedKeys(r.limited) {
		lim = append(lim, fmt.Sprintf("%s %.0f", k, r.limited[k]))
	}
	if len(lim) == 0 {
		lim = []string{"none"}
	}
	fmt.Fprintf(&b, "What the hub's limits turned away or closed over the whole run (`bikfed_http_limited_total` by reason): %s.\n\n", strings.Join(lim, ", "))
	if len(errs) == 0 {
		b.WriteString("Errors: none, in every operation of every phase (target: zero) — met.\n")
	} else {
		b.WriteString("Errors (target: zero) — **missed**:\n\n")
		for _, e := range errs {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	one, two := r.phaseOf(1, false), r.phaseOf(2, false)
	if one != nil && two != nil {
		ratio := two.public.rate() / one.public.rate()
		fmt.Fprintf(&b, "\nPublic requests/s through Caddy with the nodes pushing: %.0f with one mirror, %.0f with two: **%.2f×**. ", one.public.rate(), two.public.rate(), ratio)
		if ratio >= 1.3 {
			b.WriteString("The second mirror serves clearly more.\n")
		} else {
			fmt.Fprintf(&b, "**Two mirrors do not serve clearly more here.** This machine has %d cores for the hub, the simulated nodes, the load generator, Caddy and the mirrors at once, beside whatever else runs on it (idle %.0f %% of the time in the two-mirror phase; load average %s to %s): a second mirror process adds no core, only another process to share them with. ", runtime.NumCPU(), 100*two.idle, r.load[0], r.load[1])
			if used := two.mirrorCores(); slices.Max(used) < 0.8*mirrorProcs {
				fmt.Fprintf(&b, "Neither mirror used the core it may use (%.2f and %.2f cores): they waited for the machine's cores, not for their own limit. ", used[0], used[1])
			}
			fmt.Fprintf(&b, "What a second machine would add is the mirrors' own capacity, requests per CPU-second of the mirrors: %.0f with one, %.0f with two.", one.perMirrorCPU(), two.perMirrorCPU())
			if q1, q2 := r.phaseOf(1, true), r.phaseOf(2, true); q1 != nil && q2 != nil {
				fmt.Fprintf(&b, " With the nodes not pushing, %.0f and %.0f (%.0f and %.0f requests/s through Caddy, %.2f×).", q1.perMirrorCPU(), q2.perMirrorCPU(), q1.public.rate(), q2.public.rate(), q2.public.rate()/q1.public.rate())
				// Said only when the quiet phases show it clearly: a second
				// mirror costing less per request there than while the nodes push.
				if q2.perMirrorCPU()/q1.perMirrorCPU() > 1.2*two.perMirrorCPU()/one.perMirrorCPU() {
					b.WriteString(" While the nodes push, each mirror pulls, verifies and indexes every change, and each change makes a new index generation after which a page is rendered again (docs/portal.md): two mirrors each do all of that work, where one mirror did it once, so the second mirror's share of the machine goes to following the feed more than to serving visitors.")
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// networkDefaults are the -network run's settings beside its flags.
func networkDefaults() networkConfig {
	return networkConfig{
		nodes: 200, duration: 60 * time.Second, publicConns: 32, seed: 20,
		traffic: simTraffic{pushEvery: 5 * time.Second, maxBatch: 3, longPoll: 25 * time.Second},
	}
}

// validate refuses settings the benchmark cannot run with.
func (nc networkConfig) validate() error {
	switch {
	case nc.nodes < 1 || nc.nodes > 999:
		return fmt.Errorf("-nodes must be 1 to 999")
	case nc.duration < time.Second:
		return fmt.Errorf("-duration must be at least 1s")
	case nc.publicConns < 1:
		return fmt.Errorf("-public-conns must be at least 1")
	case nc.traffic.pushEvery <= 0:
		return fmt.Errorf("-push-every must be positive")
	}
	return nil
}
