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

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// report collects the figures of one run.
type report struct {
	started time.Time
	cfg     benchConfig

	sqlRate, verifyRate, applyRate float64
	applyCPU                       float64   // the hub's share of the machine's cores while pushes were applied
	verifyRates                    []float64 // every pass of the verification baseline, sorted
	pushLatency                    roundStats
	pushMax                        time.Duration
	pullSeconds                    float64
	pullVerified                   bool
	idleSmall, idleLarge, nodeIdle roundStats
	smallSize                      int
	hubPeakKB, nodePeakKB          int64
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

	token, err := cli(cfg.bin, "hub", "register-node", "be", "--name", "Benchmark SIC", "--data", hubDir)
	if err != nil {
		return err
	}
	key, err := protocol.GenerateKey("be")
	if err != nil {
		return err
	}
	counter := &countingDialer{}
	ccfg := protocol.DefaultClientConfig(hubURL)
	ccfg.Transport = &http.Transport{DialContext: counter.DialContext, MaxIdleConnsPerHost: 4}
	plain := protocol.NewClient(ccfg)
	enrol, err := plain.Enrol(ctx, protocol.EnrolRequest{Node: "be", Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: "bench"})
	if err != nil {
		return err
	}
	ccfg.Credential = enrol.Credential
	client := protocol.NewClient(ccfg)

	fmt.Fprintf(os.Stderr, "signing %d changes…\n", cfg.entities)
	changes, err := signChanges(key, cfg.entities)
	if err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "baseline: raw batched SQLite inserts…")
	if rep.sqlRate, err = rawInsertRate(ctx, filepath.Join(dir, "raw.db"), changes, cfg.batch); err != nil {
		return err
	}
	// The bodies are encoded and compressed beforehand, exactly as
	// protocol.Client.Push would send them: the client's compression is not the
	// hub's work, and on this machine it would compete with the hub for the
	// same cores. The pushes are sent one after the other, each after the
	// previous answer, so whatever the hub does in the background (the
	// portal's indexer) competes with them as it would in production. The
	// verification baseline is taken before and after the pushes, the second
	// time once the hub has gone idle, and the median taken: a shared
	// machine's load drifts within seconds.
	fmt.Fprintln(os.Stderr, "baseline: Ed25519 verification on all cores…")
	var verifyRates []float64
	for range verifyPasses {
		verifyRates = append(verifyRates, verifyRate(key, changes))
	}
	fmt.Fprintln(os.Stderr, "hub apply: encoding the pushes…")
	type push struct {
		from, to int
		body     []byte
	}
	var pushes []push
	for from := 0; from < len(changes); from += cfg.batch {
		to := min(from+cfg.batch, len(changes))
		h := protocol.PushHeader{Node: "be", Epoch: "bench", FromSeq: int64(from + 1), ToSeq: int64(to), HeadSeq: int64(len(changes))}
		body, err := encodePush(h, changes[from:to])
		if err != nil {
			return err
		}
		pushes = append(pushes, push{from, to, body})
	}
	fmt.Fprintln(os.Stderr, "hub apply: pushing over HTTP…")
	pusher := &rawPusher{hc: &http.Client{Transport: ccfg.Transport, Timeout: 5 * time.Minute}, url: hubURL + protocol.PathPush, cred: enrol.Credential}
	var pushTime time.Duration
	var pushTicks int64
	var pushTimes []time.Duration
	for _, p := range pushes {
		from, to := p.from, p.to
		t0, c0 := time.Now(), cpuTicks(hubProc.Process.Pid)
		res, err := pusher.push(ctx, p.body)
		pushTime += time.Since(t0)
		pushTimes = append(pushTimes, time.Since(t0))
		pushTicks += cpuTicks(hubProc.Process.Pid) - c0
		if err != nil {
			return fmt.Errorf("push %d-%d: %w", from+1, to, err)
		}
		if res.Applied != to-from || len(res.Refused) > 0 {
			return fmt.Errorf("push %d-%d: applied %d, refused %v", from+1, to, res.Applied, res.Refused)
		}
		if from == 0 {
			rep.smallSize = to
			if rep.idleSmall, err = idleRounds(ctx, client, counter, res.HubSeq, cfg.rounds); err != nil {
				return err
			}
		}
	}
	rep.applyRate = float64(len(changes)) / pushTime.Seconds()
	rep.pushLatency = percentiles(pushTimes)
	rep.pushMax = slices.Max(pushTimes)
	rep.applyCPU = float64(pushTicks) / float64(clockTicks) / pushTime.Seconds() / float64(runtime.NumCPU())
	fmt.Fprintln(os.Stderr, "baseline: Ed25519 verification on all cores, again once the hub is idle…")
	if err := waitIdle(ctx, hubProc.Process.Pid); err != nil {
		return err
	}
	for range verifyPasses {
		verifyRates = append(verifyRates, verifyRate(key, changes))
	}
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
	rep.hubPeakKB = peakKB(hubProc.Process.Pid)
	return nil
}

// verifyPasses is how many times the verification baseline is measured
// before the pushes and again after them: on a shared machine one pass can
// be 15 % off the next, and the median of all of them is the baseline.
const verifyPasses = 3

// signChanges makes n ~1 KB resources, signed as be would sign them.
func signChanges(key protocol.Key, n int) ([]protocol.Signed, error) {
	drafts := sampledata.Synthetic("be", n, 2026)
	out := make([]protocol.Signed, n)
	now := time.Now().UTC()
	for i, d := range drafts {
		id, err := protocol.NewEntityID("be", now)
		if err != nil {
			return nil, err
		}
		c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: "be", Version: 1, Seq: int64(i + 1),
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

func rawInsertRate(ctx context.Context, path string, changes []protocol.Signed, batch int) (float64, error) {
	db, err := sqlitedb.Open(ctx, path, fstest.MapFS{"0001_raw.sql": {Data: []byte(rawSchema)}})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	type row struct {
		id, vis string
		hash    [32]byte
	}
	// Parsing is not part of the baseline: only the inserts are timed.
	rows := make([]row, len(changes))
	for i, s := range changes {
		c, err := protocol.ParseChange(s.Change)
		if err != nil {
			return 0, err
		}
		rows[i] = row{id: c.ID, vis: string(c.Visibility), hash: s.Hash()}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	t0 := time.Now()
	for from := 0; from < len(changes); from += batch {
		to := min(from+batch, len(changes))
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO entities (id, owner, kind, version, visibility, updated_at, hub_seq, change, sig, hash) VALUES (?, 'be', 'resource', 1, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i := from; i < to; i++ {
				if _, err := stmt.ExecContext(ctx, rows[i].id, rows[i].vis, now, i+1, []byte(changes[i].Change), changes[i].Sig, rows[i].hash[:]); err != nil {
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

func verifyRate(key protocol.Key, changes []protocol.Signed) float64 {
	pub := key.Public()
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
				if !protocol.VerifySignature(pub, changes[i].Change, changes[i].Sig) {
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

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
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
