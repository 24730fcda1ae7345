package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// e2eResult is one size of the end-to-end benchmark: resources imported on
// node A travel through the hub to a fresh node B.
type e2eResult struct {
	n                    int
	push, pull           time.Duration // A's sync, then B's
	verifyRate           float64       // the baseline, in the same run
	verifyRates          []float64     // every pass of it, sorted
	verified             bool          // bikfed verify on B: equal
	importTime           time.Duration // A's import, not timed in the transfer
	nodePeak             rssPeak       // B's while pulling
	profiles             []e2eProfile
	hubCPU, aCPU, bCPU   time.Duration // CPU time of each process over the transfer
	hubBytes, nodeBBytes int64         // database files after the transfer
}

// e2eProfile is a summary of one process's CPU profile.
type e2eProfile struct {
	process string
	total   string   // pprof's sampled total
	top     []string // the functions that took the most, flat and cumulative
}

func (r e2eResult) total() time.Duration { return r.push + r.pull }

func (r e2eResult) rate() float64 { return float64(r.n) / r.total().Seconds() }

type e2eReport struct {
	sizes []e2eResult
}

// benchE2E runs the end-to-end benchmark at a fifth of the aggregate's size
// and at its full size.
func benchE2E(ctx context.Context, cfg benchConfig, dir string) (*e2eReport, error) {
	rep := &e2eReport{}
	sizes := []int{cfg.entities / 5, cfg.entities}
	for i, n := range sizes {
		if n <= 0 || (i > 0 && n == sizes[i-1]) {
			continue
		}
		r, err := e2eRun(ctx, cfg, filepath.Join(dir, fmt.Sprintf("e2e-%d", n)), n)
		if err != nil {
			return nil, fmt.Errorf("end to end, %d resources: %w", n, err)
		}
		rep.sizes = append(rep.sizes, r)
	}
	return rep, nil
}

func e2eRun(ctx context.Context, cfg benchConfig, dir string, n int) (e2eResult, error) {
	res := e2eResult{n: n}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "hub")
	profile := func(name string) string { return filepath.Join(dir, name+".pprof") }
	var hubProc *exec.Cmd
	startHub := func(prof string) error {
		hubProc = exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn")
		hubProc.Env = os.Environ()
		if prof != "" {
			hubProc.Env = append(hubProc.Env, "BIKFED_CPU_PROFILE="+prof)
		}
		hubProc.Stderr = os.Stderr
		if err := hubProc.Start(); err != nil {
			return fmt.Errorf("start hub: %w", err)
		}
		return waitHTTP(ctx, hubURL+"/healthz")
	}
	stopHub := func() error {
		if hubProc == nil {
			return nil
		}
		p := hubProc
		hubProc = nil
		p.Process.Signal(syscall.SIGTERM)
		if err := p.Wait(); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		return nil
	}
	defer stopHub()
	if err := startHub(profile("hub")); err != nil {
		return res, err
	}
	aDir, bDir := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, nd := range []struct{ id, dir string }{{"aa", aDir}, {"bb", bDir}} {
		token, err := cli(cfg.bin, "hub", "register-node", nd.id, "--name", "Benchmark SIC "+nd.id, "--data", hubDir)
		if err != nil {
			return res, err
		}
		if _, err := cli(cfg.bin, "node", "init", "--data", nd.dir, "--hub", hubURL, "--token", token); err != nil {
			return res, err
		}
	}

	fmt.Fprintf(os.Stderr, "end to end, %d resources: importing them on node A…\n", n)
	records := filepath.Join(dir, "records.ndjson")
	if err := writeRecords(records, "aa", n); err != nil {
		return res, err
	}
	t0 := time.Now()
	if _, err := cli(cfg.bin, "node", "import", records, "--data", aDir); err != nil {
		return res, err
	}
	res.importTime = time.Since(t0)

	fmt.Fprintf(os.Stderr, "end to end, %d resources: A pushes, then B pulls…\n", n)
	hubTicks := cpuTicks(hubProc.Process.Pid)
	res.push, res.aCPU, _, err = timedSync(cfg.bin, aDir, profile("node-a"))
	if err != nil {
		return res, err
	}
	res.pull, res.bCPU, res.nodePeak, err = timedSync(cfg.bin, bDir, profile("node-b"))
	if err != nil {
		return res, err
	}
	res.hubCPU = time.Duration(cpuTicks(hubProc.Process.Pid)-hubTicks) * (time.Second / clockTicks)
	// The hub's profile ends with the transfer: the hub is started again
	// for what follows, which is no part of it.
	if err := stopHub(); err != nil {
		return res, err
	}
	res.hubBytes = dbBytes(filepath.Join(hubDir, "hub.db"))
	res.nodeBBytes = dbBytes(filepath.Join(bDir, "node.db"))
	if err := startHub(""); err != nil {
		return res, err
	}
	_, verr := cli(cfg.bin, "verify", "--data", bDir)
	res.verified = verr == nil
	// The baseline verifies the very signatures that travelled, read back
	// from the hub's feed by a third node, with the hub stopped.
	fmt.Fprintf(os.Stderr, "end to end, %d resources: baseline, Ed25519 verification on all cores…\n", n)
	signed, err := feedSignatures(ctx, cfg, hubDir, hubURL)
	if err != nil {
		return res, err
	}
	if len(signed) != n {
		return res, fmt.Errorf("the hub's feed holds %d changes, not %d", len(signed), n)
	}
	if err := stopHub(); err != nil {
		return res, err
	}
	for range verifyPasses {
		res.verifyRates = append(res.verifyRates, verifyRate(signed))
	}
	slices.Sort(res.verifyRates)
	res.verifyRate = res.verifyRates[len(res.verifyRates)/2]
	for _, p := range []struct{ name, file string }{{"node A (`node sync`, pushing)", "node-a"}, {"hub", "hub"}, {"node B (`node sync`, pulling)", "node-b"}} {
		if _, err := os.Stat(profile(p.file)); errors.Is(err, os.ErrNotExist) {
			continue // a binary from before BIKFED_CPU_PROFILE
		}
		prof, err := summariseProfile(ctx, cfg, p.name, profile(p.file))
		if err != nil {
			return res, err
		}
		res.profiles = append(res.profiles, prof)
	}
	return res, nil
}

// writeRecords writes n synthetic ~1 KB resources of owner as import records,
// the same drafts the sync benchmarks sign.
func writeRecords(path, owner string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, d := range sampledata.Synthetic(owner, n, 2026) {
		rec := struct {
			Kind       protocol.Kind       `json:"kind"`
			Visibility protocol.Visibility `json:"visibility"`
			Body       json.RawMessage     `json:"body"`
		}{d.Kind, d.Visibility, d.Body}
		if err := enc.Encode(rec); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssPeak is a process's peak resident set (VmHWM) and the largest parts of
// it seen in anonymous memory and in mapped files, in KiB.
type rssPeak struct{ hwm, anon, file int64 }

// sample reads pid's resident set from /proc into p.
func (p *rssPeak) sample(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			p.hwm = max(p.hwm, v)
		case "RssAnon:":
			p.anon = max(p.anon, v)
		case "RssFile:":
			p.file = max(p.file, v)
		}
	}
}

// timedSync runs `bikfed node sync` on dataDir as its own process, writing
// a CPU profile to prof, and returns its wall time from start to exit, its CPU
// time and its peak RSS, sampled from /proc while it runs.
func timedSync(bin, dataDir, prof string) (wall, cpu time.Duration, peak rssPeak, err error) {
	cmd := exec.Command(bin, "node", "sync", "--data", dataDir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "BIKFED_CPU_PROFILE="+prof)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, peak, fmt.Errorf("node sync: %w", err)
	}
	sampled := make(chan rssPeak)
	stop := make(chan struct{})
	go func() {
		var p rssPeak
		for {
			p.sample(cmd.Process.Pid)
			select {
			case <-stop:
				sampled <- p
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err = cmd.Wait()
	wall = time.Since(t0)
	close(stop)
	peak = <-sampled
	if err != nil {
		return 0, 0, peak, fmt.Errorf("node sync: %w: %s", err, lastLine(errb.String()))
	}
	if st := cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	return wall, cpu, peak, nil
}

// lastLine is the last non-empty line of s: a failed command's error, after
// its progress bar.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// feedSignatures reads every change of the hub's feed, with its signer's
// public key, as a newly enrolled node would pull them.
func feedSignatures(ctx context.Context, cfg benchConfig, hubDir, hubURL string) ([]signedBy, error) {
	l := &nodeLoad{id: "cc"}
	if err := l.enrol(ctx, cfg, hubDir, protocol.DefaultClientConfig(hubURL)); err != nil {
		return nil, err
	}
	ccfg := protocol.DefaultClientConfig(hubURL)
	ccfg.Credential = l.cred
	client := protocol.NewClient(ccfg)
	dir, err := client.Keys(ctx)
	if err != nil {
		return nil, err
	}
	lookup := dir.Lookup()
	var out []signedBy
	var since int64
	for {
		feed, err := client.Changes(ctx, since, protocol.MaxFeedPage, 0)
		if err != nil {
			return nil, err
		}
		for _, it := range feed.Changes {
			c, err := protocol.ParseChange(it.Change)
			if err != nil {
				return nil, err
			}
			k, ok := lookup(c.KeyID)
			if !ok {
				return nil, fmt.Errorf("hub_seq %d: key %s not in the directory", it.HubSeq, c.KeyID)
			}
			out = append(out, signedBy{s: it.Signed, pub: k.PublicKey})
		}
		if !feed.More || feed.Next <= since {
			return out, nil
		}
		since = feed.Next
	}
}

// dbBytes is the size of an SQLite database with its write-ahead log.
func dbBytes(path string) int64 {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	return total
}

// Where a process's time goes, named by the functions that hold each step
// (cumulative time): the sync command's steps, then the hub's.
var e2eSteps = []struct{ fn, what string }{
	{"node.Open", "opening the node"},
	{"node.(*Node).reconcileLocked", "reconciling with the hub's manifest (a new epoch)"},
	{"node.(*Node).readOutbox", "reading the outbox"},
	{"protocol.CompressPush", "encoding and compressing pushes"},
	{"node.(*Node).storePushResult", "storing push results"},
	{"protocol.(*Client).ChangesAfter", "fetching feed pages (HTTP, gzip, JSON)"},
	{"protocol.VerifyBatchAt", "verifying signatures, in Ed25519 batches"},
	{"node.(*Node).applyPage", "applying pulled pages"},
	{"node.(*Node).FetchBlobs", "looking for attachments to fetch"},
	{"node.(*Node).Status", "the status printed at the end"},
	{"hub.Open", "opening the hub"},
	{"hub.(*Hub).handlePush", "push requests"},
	{"hub.(*Hub).applyBatch", "applying pushes"},
	{"hub.(*Hub).writeFeedPage", "serving feed pages"},
	{"hub/portal.(*Portal).IndexOnce", "the portal's indexer"},
}

// e2eTopFlat is how many functions of their own time each summary lists.
const e2eTopFlat = 3

// summariseProfile reads a CPU profile with `go tool pprof -top`: the
// functions with the most time of their own, then the steps of e2eSteps
// the process went through, with the time spent in them and below.
func summariseProfile(ctx context.Context, cfg benchConfig, process, path string) (e2eProfile, error) {
	cmd := exec.CommandContext(ctx, cfg.goCmd, "tool", "pprof", "-top", "-nodecount=100000", cfg.bin, path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return e2eProfile{}, fmt.Errorf("go tool pprof %s: %v: %s", path, err, errb.String())
	}
	p, err := summariseTop(process, out.String())
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// summariseTop summarises the output of `go tool pprof -top`.
func summariseTop(process, top string) (e2eProfile, error) {
	p := e2eProfile{process: process}
	type fn struct {
		name      string
		flat, cum float64 // shares of the samples, %
		cumTime   string
	}
	var fns []fn
	header := true
	for _, line := range strings.Split(top, "\n") {
		if strings.HasPrefix(line, "Duration:") {
			p.total = strings.TrimSpace(line)
		}
		f := strings.Fields(line)
		if header {
			header = len(f) == 0 || f[0] != "flat"
			continue
		}
		if len(f) < 6 {
			continue
		}
		flat, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cum, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		fns = append(fns, fn{name: strings.Join(f[5:], " "), flat: flat, cum: cum, cumTime: f[3]})
	}
	if len(fns) == 0 {
		return p, errors.New("empty CPU profile")
	}
	slices.SortStableFunc(fns, func(a, b fn) int { return cmp.Compare(b.flat, a.flat) })
	for _, f := range fns[:min(len(fns), e2eTopFlat)] {
		p.top = append(p.top, fmt.Sprintf("`%s` — %.1f %% of its own", f.name, f.flat))
	}
	for _, st := range e2eSteps {
		for _, f := range fns {
			if f.name == "github.com/bikfed/bikfed/"+st.fn {
				p.top = append(p.top, fmt.Sprintf("%s (`%s`) — %s, %.1f %%", st.what, st.fn, f.cumTime, f.cum))
				break
			}
		}
	}
	return p, nil
}

func (r *e2eReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## End to end: one node to another through the hub\n\n")
	fmt.Fprintf(&b, "Synthetic ~1 KB resources (the drafts the sync benchmarks sign) imported on node A with `bikfed node import`; then, timed, `bikfed node sync` on A (push everything, pull what is new) and, once it exits, `bikfed node sync` on node B, enrolled beforehand and empty (pull everything). One-shot sync commands, each a process of its own, as a SIC's cron or operator runs them; the hub is a `bikfed hub serve` process, its portal indexing what arrives meanwhile. Every change is verified twice: by the hub when it is pushed, by B when it is pulled; A's sync reads its own changes back from the feed too, and skips them without verifying them again (docs/protocol.md §12). The baseline verifies the same signatures, read back from the hub's feed, one at a time on all cores (median of %d passes, the hub stopped).\n\n", verifyPasses)
	fmt.Fprintf(&b, "| resources | A's sync (push) | B's sync (pull) | whole transfer | docs/s | baseline: single-signature verification | **ratio** (target ≥ 1.0) | `bikfed verify` on B |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range r.sizes {
		ratio := r.rate() / r.verifyRate
		fmt.Fprintf(&b, "| %d | %.2f s | %.2f s | %.2f s | %.0f | %.0f /s | **%.2f** — %s | %s |\n", r.n, r.push.Seconds(), r.pull.Seconds(), r.total().Seconds(),
			r.rate(), r.verifyRate, ratio, verdict(ratio >= 1), map[bool]string{true: "equal", false: "**differences**"}[r.verified])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "| resources | CPU time: A / hub / B (over the transfer, %d cores) | B's peak RSS (most seen anonymous; in mapped files) | hub.db / B's node.db after it | A's import (not timed) |\n|---|---|---|---|---|\n", runtime.NumCPU())
	for _, r := range r.sizes {
		fmt.Fprintf(&b, "| %d | %.2f s / %.2f s / %.2f s | %.0f MiB (%.0f MiB; %.0f MiB) | %.2f / %.2f KB per resource | %.1f s |\n", r.n, r.aCPU.Seconds(), r.hubCPU.Seconds(), r.bCPU.Seconds(),
			float64(r.nodePeak.hwm)/1024, float64(r.nodePeak.anon)/1024, float64(r.nodePeak.file)/1024, float64(r.hubBytes)/1024/float64(r.n), float64(r.nodeBBytes)/1024/float64(r.n), r.importTime.Seconds())
	}
	b.WriteString("\n| resources | CPU time of the three processes per change | single-signature verification, CPU per signature (cores / baseline rate) | CPU ratio | cores busy over the transfer |\n|---|---|---|---|---|\n")
	for _, r := range r.sizes {
		spent := (r.aCPU + r.hubCPU + r.bCPU).Seconds()
		perSig := float64(runtime.NumCPU()) / r.verifyRate
		fmt.Fprintf(&b, "| %d | %.0f µs | %.0f µs | %.2f | %.0f %% |\n", r.n, 1e6*spent/float64(r.n), 1e6*perSig, perSig*float64(r.n)/spent, 100*spent/(float64(runtime.NumCPU())*r.total().Seconds()))
	}
	b.WriteString("\nThe ratio's target asks the whole transfer to go as fast as the machine verifies each signature once, one at a time. Each change is verified twice on the way (at the hub, then at B), one after the other, so that alone, even in batches of about half the work each, costs about what the baseline spends; the CPU ratio above (the baseline's CPU per signature over the CPU the three processes spent per change) is therefore bounded near 1 before anything is stored, sent or compressed, and the rest of the transfer (SQLite on both sides, HTTP, zstd, the indexer) comes on top. The share of the cores busy shows how much of the wall time waited on something other than the CPU (round trips, one push at a time, fsync).\n")
	b.WriteString("\nB's peak resident set (`VmHWM`) counts its own memory (anonymous) and the file pages mapped into it: a one-shot command such as this `node sync` does not map node.db (only `node serve` does, for its search: `MapDatabase` in node/config.go), so those are the pages of the `bikfed` executable it ran. The two parts are sampled apart every 20 ms (`RssAnon`, `RssFile`), and the largest of each is shown.\n")
	if len(r.sizes) > 0 {
		last := r.sizes[len(r.sizes)-1]
		fmt.Fprintf(&b, "\nWhere the time goes at %d resources: CPU profiles of the three processes (`BIKFED_CPU_PROFILE=file`, written by each process for its whole life, the hub's up to the end of the transfer, read with `go tool pprof -top`). For each, the functions that took the most time of their own, then the steps it went through, each with the time spent in it and in what it calls, and that time's share of the process's samples.\n\n", last.n)
		for _, p := range last.profiles {
			fmt.Fprintf(&b, "- %s — %s\n", p.process, p.total)
			for _, l := range p.top {
				fmt.Fprintf(&b, "  - %s\n", l)
			}
		}
	}
	return b.String()
}
