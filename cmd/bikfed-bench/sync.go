package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// report collects the figures of one run.
type report struct {
	started time.Time
	cfg     benchConfig

	sqlRate, verifyRate            float64
	verifyRates                    []float64     // every pass of the verification baseline, sorted
	verifyCPU                      time.Duration // CPU time per signature checked, all passes
	verifyStolen                   float64       // the hypervisor's share of the machine during the passes
	applyOne, applyTwo             applyResult
	pullSeconds                    float64
	pullVerified                   bool
	idleSmall, idleLarge, nodeIdle roundStats
	smallSize                      int
	hubPeakKB, nodePeakKB          int64
	noop                           noopReport
	storage                        []dbStorage
}

type roundStats struct {
	p50, p99 time.Duration
	bytes    float64
}

func benchSync(ctx context.Context, cfg benchConfig, dir string, rep *report) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "hub")
	hubProc := exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn")
	hubProc.Stderr = os.Stderr
	if err := hubProc.Start(); err != nil {
		return fmt.Errorf("start hub: %w", err)
	}
	defer func() { hubProc.Process.Signal(syscall.SIGTERM); hubProc.Wait() }()
	if err := waitHTTP(ctx, hubURL+"/healthz"); err != nil {
		return err
	}

	counter := &countingDialer{}
	ccfg := protocol.DefaultClientConfig(hubURL)
	ccfg.Transport = &http.Transport{DialContext: counter.DialContext, MaxIdleConnsPerHost: 4}
	// Three pushing nodes: be pushes half of the changes alone, then nl and
	// pt push a quarter each at the same time.
	loads := []*nodeLoad{{id: "be", share: 2}, {id: "nl", share: 1}, {id: "pt", share: 1}}
	var all []signedBy
	for _, l := range loads {
		if err := l.enrol(ctx, cfg, hubDir, ccfg); err != nil {
			return err
		}
		n := cfg.entities * l.share / 4
		fmt.Fprintf(os.Stderr, "signing %d changes of %s…\n", n, l.id)
		if l.changes, err = signChanges(l.id, l.key, n); err != nil {
			return err
		}
		for _, c := range l.changes {
			all = append(all, signedBy{s: c, pub: l.key.Public()})
		}
	}
	ccfg.Credential = loads[0].cred
	client := protocol.NewClient(ccfg)

	fmt.Fprintln(os.Stderr, "baseline: raw batched SQLite inserts…")
	if rep.sqlRate, err = rawInsertRate(ctx, filepath.Join(dir, "raw.db"), all, cfg.batch); err != nil {
		return err
	}
	// The bodies are encoded and compressed beforehand, exactly as
	// protocol.Client.Push would send them: the client's compression is not the
	// hub's work, and on this machine it would compete with the hub for the
	// same cores. Each node sends one push at a time, as node.Push does, and
	// whatever the hub does in the background (the portal's indexer)
	// competes with them as it would in production. The
	// verification baseline is taken before and after the pushes, the second
	// time once the hub has gone idle, and the median taken: a shared
	// machine's load drifts within seconds.
	fmt.Fprintln(os.Stderr, "baseline: Ed25519 verification on all cores…")
	var verifyRates []float64
	var verifyCPU time.Duration
	var verifyStat cpuStat
	pass := func() {
		c0, s0 := selfCPU(), machineTicks()
		verifyRates = append(verifyRates, verifyRate(all))
		verifyCPU += selfCPU() - c0
		verifyStat = verifyStat.add(machineTicks().sub(s0))
	}
	for range verifyPasses {
		pass()
	}
	fmt.Fprintln(os.Stderr, "hub apply: encoding the pushes…")
	for _, l := range loads {
		if err := l.encode(cfg.batch); err != nil {
			return err
		}
	}
	hc := &http.Client{Transport: ccfg.Transport, Timeout: 5 * time.Minute}
	fmt.Fprintln(os.Stderr, "hub apply: one node pushing…")
	firstPushed := func(res *protocol.PushResult) error {
		rep.smallSize = int(res.HubSeq)
		var err error
		rep.idleSmall, err = idleRounds(ctx, client, counter, res.HubSeq, cfg.rounds)
		return err
	}
	one, err := applyPhase(ctx, hc, hubURL, hubProc.Process.Pid, loads[:1], firstPushed)
	if err != nil {
		return err
	}
	rep.applyOne = one.result()
	fmt.Fprintln(os.Stderr, "hub apply: two nodes pushing at once…")
	two, err := applyPhase(ctx, hc, hubURL, hubProc.Process.Pid, loads[1:], nil)
	if err != nil {
		return err
	}
	rep.applyTwo = two.result()
	fmt.Fprintln(os.Stderr, "baseline: Ed25519 verification on all cores, again once the hub is idle…")
	if err := waitIdle(ctx, hubProc.Process.Pid); err != nil {
		return err
	}
	for range verifyPasses {
		pass()
	}
	rep.verifyCPU = verifyCPU / time.Duration(2*verifyPasses*len(all))
	rep.verifyStolen = verifyStat.share(verifyStat.steal)
	fmt.Fprintf(os.Stderr, "baseline passes, before and after the pushes: %.0f\n", verifyRates)
	slices.Sort(verifyRates)
	rep.verifyRates = verifyRates
	rep.verifyRate = (verifyRates[len(verifyRates)/2-1] + verifyRates[len(verifyRates)/2]) / 2
	st, err := client.Changes(ctx, 0, 1, 0)
	if err != nil {
		return err
	}
	if rep.idleLarge, err = idleRounds(ctx, client, counter, st.HubSeq, cfg.rounds); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "pull: a new node takes the whole aggregate…")
	fiDir := filepath.Join(dir, "fi")
	fiToken, err := cli(cfg.bin, "hub", "register-node", "fi", "--name", "Benchmark puller", "--data", hubDir)
	if err != nil {
		return err
	}
	if _, err := cli(cfg.bin, "node", "init", "--data", fiDir, "--hub", hubURL, "--token", fiToken); err != nil {
		return err
	}
	sync := exec.Command(cfg.bin, "node", "sync", "--data", fiDir, "--log-level", "warn")
	sync.Stderr = os.Stderr
	t0 := time.Now()
	if err := sync.Start(); err != nil {
		return fmt.Errorf("node sync: %w", err)
	}
	// The node's peak is sampled from /proc while it runs: the rusage of a
	// child reports the larger of its own peak and the RSS of this process
	// when it forked (Linux keeps the old address space's peak over exec),
	// and this process holds every signed change.
	sampled := make(chan int64)
	stopSampling := make(chan struct{})
	go func() {
		var peak int64
		for {
			peak = max(peak, peakKB(sync.Process.Pid))
			select {
			case <-stopSampling:
				sampled <- peak
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err = sync.Wait()
	close(stopSampling)
	rep.nodePeakKB = <-sampled
	if err != nil {
		return fmt.Errorf("node sync: %w", err)
	}
	rep.pullSeconds = time.Since(t0).Seconds()
	_, verr := cli(cfg.bin, "verify", "--data", fiDir)
	rep.pullVerified = verr == nil

	fmt.Fprintln(os.Stderr, "idle rounds of a synced node…")
	if rep.nodeIdle, err = nodeIdleRounds(ctx, fiDir, cfg.rounds); err != nil {
		return err
	}
	if rep.noop, err = benchNoop(ctx, cfg, dir, hubURL, hubDir, fiDir); err != nil {
		return err
	}
	rep.hubPeakKB = peakKB(hubProc.Process.Pid)

	fmt.Fprintln(os.Stderr, "storage at rest…")
	for _, d := range []struct {
		name, path string
		target     float64
	}{{"hub.db", filepath.Join(hubDir, "hub.db"), hubBytesTarget}, {"node.db", filepath.Join(fiDir, "node.db"), nodeBytesTarget}} {
		s, err := measureStorage(ctx, d.name, d.path, cfg.entities, d.target)
		if err != nil {
			return err
		}
		rep.storage = append(rep.storage, s)
	}
	return nil
}

// nodeLoad is one pushing node of the apply benchmark.
type nodeLoad struct {
	id      string
	share   int // quarters of the changes
	key     protocol.Key
	cred    string
	changes []protocol.Signed
	pushes  []encodedPush
}

type encodedPush struct {
	from, to int
	body     []byte
}

// enrol registers and enrols l with the hub.
func (l *nodeLoad) enrol(ctx context.Context, cfg benchConfig, hubDir string, ccfg protocol.ClientConfig) error {
	token, err := cli(cfg.bin, "hub", "register-node", l.id, "--name", "Benchmark SIC "+l.id, "--data", hubDir)
	if err != nil {
		return err
	}
	if l.key, err = protocol.GenerateKey(l.id); err != nil {
		return err
	}
	enrol, err := protocol.NewClient(ccfg).Enrol(ctx, protocol.EnrolRequest{Node: l.id, Token: token, KeyID: l.key.ID, PublicKey: l.key.Public(), Epoch: "bench"})
	if err != nil {
		return err
	}
	l.cred = enrol.Credential
	return nil
}

// encode makes l's push bodies.
func (l *nodeLoad) encode(batch int) error {
	for from := 0; from < len(l.changes); from += batch {
		to := min(from+batch, len(l.changes))
		h := protocol.PushHeader{Node: l.id, Epoch: "bench", FromSeq: int64(from + 1), ToSeq: int64(to), HeadSeq: int64(len(l.changes))}
		body, err := encodePush(h, l.changes[from:to])
		if err != nil {
			return err
		}
		l.pushes = append(l.pushes, encodedPush{from, to, body})
	}
	return nil
}

// applyResult is one phase of the apply benchmark.
type applyResult struct {
	nodes, changes int
	rate           float64 // changes/s over the phase's wall time
	hubCPU         float64 // the hub's share of the machine's cores
	cpuPerChange   time.Duration
	idle, stolen   float64 // the machine's idle share, and the share the hypervisor took
	latency        roundStats
	max            time.Duration
}

// applyRaw is what a phase of the apply benchmark counted.
type applyRaw struct {
	nodes, changes int
	wall           time.Duration
	hubTicks       int64
	stat           cpuStat
	times          []time.Duration
}

func (a applyRaw) result() applyResult {
	res := applyResult{nodes: a.nodes, changes: a.changes}
	if a.changes == 0 || a.wall <= 0 {
		return res
	}
	res.rate = float64(a.changes) / a.wall.Seconds()
	res.hubCPU = float64(a.hubTicks) / float64(clockTicks) / a.wall.Seconds() / float64(runtime.NumCPU())
	res.cpuPerChange = time.Duration(a.hubTicks) * (time.Second / clockTicks) / time.Duration(a.changes)
	res.idle, res.stolen = a.stat.share(a.stat.idle), a.stat.share(a.stat.steal)
	res.latency = percentiles(a.times)
	res.max = slices.Max(a.times)
	return res
}

// applyPhase has every node of loads send its pushes, all nodes at once,
// each one push at a time, the next once the previous is answered, as
// node.Push does. first, when set, runs after the first push is answered,
// outside the timing and before the next is sent.
func applyPhase(ctx context.Context, hc *http.Client, hubURL string, hubPid int, loads []*nodeLoad, first func(*protocol.PushResult) error) (applyRaw, error) {
	res := applyRaw{nodes: len(loads)}
	var (
		mu       sync.Mutex
		times    []time.Duration
		paused   time.Duration
		firstErr error
	)
	ticks0, stat0 := cpuTicks(hubPid), machineTicks()
	t0 := time.Now()
	send := func(l *nodeLoad, p *rawPusher, push encodedPush) *protocol.PushResult {
		start := time.Now()
		r, err := p.push(ctx, push.body)
		took := time.Since(start)
		if err == nil && (r.Applied != push.to-push.from || len(r.Refused) > 0) {
			err = fmt.Errorf("applied %d, refused %v", r.Applied, r.Refused)
		}
		mu.Lock()
		defer mu.Unlock()
		times = append(times, took)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("push %s %d-%d: %w", l.id, push.from+1, push.to, err)
		}
		if err != nil {
			return nil
		}
		return r
	}
	var wg sync.WaitGroup
	for _, l := range loads {
		for _, push := range l.pushes {
			res.changes += push.to - push.from
		}
		p := &rawPusher{hc: hc, url: hubURL + protocol.PathPush, cred: l.cred}
		wg.Go(func() {
			pushes := l.pushes
			if first != nil {
				// Alone by construction: first is only given with one node.
				r := send(l, p, pushes[0])
				if r == nil {
					return
				}
				ps, ticks := time.Now(), cpuTicks(hubPid)
				err := first(r)
				mu.Lock()
				paused += time.Since(ps)
				ticks0 += cpuTicks(hubPid) - ticks
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				pushes = pushes[1:]
			}
			for _, push := range pushes {
				if send(l, p, push) == nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	res.wall = time.Since(t0) - paused
	res.stat = machineTicks().sub(stat0)
	res.hubTicks = cpuTicks(hubPid) - ticks0
	res.times = times
	return res, nil
}

// cpuStat is the machine's CPU time from /proc/stat, in clock ticks.
type cpuStat struct{ total, idle, steal int64 }

func machineTicks() cpuStat {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var st cpuStat
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 8, 9: // guest time is already counted in user time
			continue
		case 3, 4: // idle, iowait
			st.idle += n
		case 7:
			st.steal = n
		}
		st.total += n
	}
	return st
}

func (s cpuStat) add(o cpuStat) cpuStat {
	return cpuStat{s.total + o.total, s.idle + o.idle, s.steal + o.steal}
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s cpuStat) sub(before cpuStat) cpuStat {
	return cpuStat{s.total - before.total, s.idle - before.idle, s.steal - before.steal}
}

func (s cpuStat) share(n int64) float64 {
	if s.total == 0 {
		return 0
	}
	return float64(n) / float64(s.total)
}

// verifyPasses is how many times the verification baseline is measured
// before the pushes and again after them: on a shared machine one pass can
// be 15 % off the next, and the median of all of them is the baseline.
const verifyPasses = 3

// signChanges makes n ~1 KB resources, signed as key's owner would sign them.
func signChanges(owner string, key protocol.Key, n int) ([]protocol.Signed, error) {
	drafts := sampledata.Synthetic(owner, n, 2026)
	out := make([]protocol.Signed, n)
	now := time.Now().UTC()
	for i, d := range drafts {
		id, err := protocol.NewEntityID(owner, now)
		if err != nil {
			return nil, err
		}
		c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: owner, Version: 1, Seq: int64(i + 1),
			UpdatedAt: now, Visibility: d.Visibility, Body: d.Body}
		if out[i], err = key.Sign(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rawSchema is the hub's entity table without anything the protocol adds:
// the floor under what applying a push can cost in SQLite.
const rawSchema = `CREATE TABLE entities (
	id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL,
	visibility TEXT NOT NULL, updated_at TEXT NOT NULL, hub_seq INTEGER NOT NULL UNIQUE,
	change BLOB NOT NULL, sig BLOB NOT NULL, hash BLOB NOT NULL
);`

func rawInsertRate(ctx context.Context, path string, signed []signedBy, batch int) (float64, error) {
	changes := make([]protocol.Signed, len(signed))
	for i, s := range signed {
		changes[i] = s.s
	}
	db, err := sqlitedb.Open(ctx, path, fstest.MapFS{"0001_raw.sql": {Data: []byte(rawSchema)}}, sqlitedb.WriterCache(hub.PushCacheMiB))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	type row struct {
		id, owner, vis string
		hash           [32]byte
	}
	// Parsing is not part of the baseline: only the inserts are timed.
	rows := make([]row, len(changes))
	for i, s := range changes {
		c, err := protocol.ParseChange(s.Change)
		if err != nil {
			return 0, err
		}
		rows[i] = row{id: c.ID, owner: c.Owner, vis: string(c.Visibility), hash: s.Hash()}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	t0 := time.Now()
	for from := 0; from < len(changes); from += batch {
		to := min(from+batch, len(changes))
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO entities (id, owner, kind, version, visibility, updated_at, hub_seq, change, sig, hash) VALUES (?, ?, 'resource', 1, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i := from; i < to; i++ {
				if _, err := stmt.ExecContext(ctx, rows[i].id, rows[i].owner, rows[i].vis, now, i+1, []byte(changes[i].Change), changes[i].Sig, rows[i].hash[:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(len(changes)) / time.Since(t0).Seconds(), nil
}

// encodePush encodes a push body exactly as protocol.Client.Push does.
func encodePush(h protocol.PushHeader, changes []protocol.Signed) ([]byte, error) {
	var buf bytes.Buffer
	if err := protocol.CompressPush(&buf, h, changes); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rawPusher posts encoded push bodies: protocol.Client.Push encodes its own.
type rawPusher struct {
	hc        *http.Client
	url, cred string
}

func (p *rawPusher) push(ctx context.Context, body []byte) (*protocol.PushResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.cred)
	req.Header.Set("Content-Type", protocol.ContentTypeNDJSON)
	req.Header.Set("Content-Encoding", protocol.PushEncoding)
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hub answered %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var res protocol.PushResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("decode push result: %w", err)
	}
	return &res, nil
}

// signedBy is a signed change with its signer's public key.
type signedBy struct {
	s   protocol.Signed
	pub []byte
}

func verifyRate(changes []signedBy) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	var bad atomic.Int64
	t0 := time.Now()
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(changes) {
					return
				}
				if !protocol.VerifySignature(changes[i].pub, changes[i].s.Change, changes[i].s.Sig) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		panic("baseline verification failed")
	}
	return float64(len(changes)) / time.Since(t0).Seconds()
}

// idleRounds times changes requests when nothing is new, and counts their bytes on the wire.
func idleRounds(ctx context.Context, c *protocol.Client, counter *countingDialer, head int64, n int) (roundStats, error) {
	// One warm-up round opens the connection, so handshakes are not counted.
	if _, err := c.Changes(ctx, head, 0, 0); err != nil {
		return roundStats{}, err
	}
	b0 := counter.total()
	times := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		f, err := c.Changes(ctx, head, 0, 0)
		times[i] = time.Since(t0)
		if err != nil {
			return roundStats{}, err
		}
		if len(f.Changes) != 0 {
			return roundStats{}, fmt.Errorf("idle round returned %d changes", len(f.Changes))
		}
	}
	st := percentiles(times)
	st.bytes = float64(counter.total()-b0) / float64(n)
	return st, nil
}

// nodeIdleRounds times the node's whole sync round (outbox check, push, pull,
// cursor) when nothing changed anywhere.
func nodeIdleRounds(ctx context.Context, dir string, n int) (roundStats, error) {
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	nd, err := node.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return roundStats{}, err
	}
	defer nd.Close()
	if err := nd.SyncOnce(ctx, nil); err != nil {
		return roundStats{}, err
	}
	times := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		if err := nd.SyncOnce(ctx, nil); err != nil {
			return roundStats{}, err
		}
		times[i] = time.Since(t0)
	}
	return percentiles(times), nil
}

func percentiles(d []time.Duration) roundStats {
	s := slices.Clone(d)
	slices.Sort(s)
	return roundStats{p50: s[len(s)/2], p99: s[min(len(s)-1, len(s)*99/100)]}
}

// waitIdle waits until the process pid has used almost no CPU for half a
// second; it fails after ten minutes.
func waitIdle(ctx context.Context, pid int) error {
	// The portal indexes the whole pushed aggregate first, at most half a
	// core while catching up: minutes for 100,000 resources.
	last, deadline := cpuTicks(pid), time.Now().Add(10*time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		now := cpuTicks(pid)
		if now-last <= 1 { // clock ticks: at most 2% of a core
			return nil
		}
		last = now
	}
	// Measuring on would time the baseline and the idle rounds against a
	// busy hub.
	return fmt.Errorf("the hub (pid %d) did not go idle in 10 minutes", pid)
}

// cpuTicks reads a process's user and system CPU time, in clock ticks.
// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// peakKB reads a running process's peak resident set (VmHWM).
func peakKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

type countingDialer struct{ n atomic.Int64 }

func (c *countingDialer) total() int64 { return c.n.Load() }

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: &c.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// handedOut holds every address freeAddr has returned: the kernel hands a
// port just freed out again, so two processes started in a row could be
// given the same one.
var handedOut sync.Map

func freeAddr() (string, error) {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, seen := handedOut.LoadOrStore(addr, true); !seen {
			return addr, nil
		}
	}
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer: %v", url, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func cli(bin string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bikfed %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}
