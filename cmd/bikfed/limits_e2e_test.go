package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// startProcArgv is startProc for any program: here a shell that lowers
// the open-file limit before it runs bikfed.
func startProcArgv(t testing.TB, name, logDir string, argv ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
	return p
}

// newNetworkNofile is newNetwork with hub flags and, unless nofile is 0,
// the hub limited to nofile open files, as under a default systemd or
// container limit of 1024.
func newNetworkNofile(t *testing.T, nofile int, hubFlags ...string) *network {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	nw := &network{t: t, dir: dir, hubDir: filepath.Join(dir, "hub"), hubAdr: addr, hubURL: "http://" + addr, nodes: map[string]*testNode{}}
	if nofile == 0 {
		nw.hubExtra = hubFlags
		nw.startHub()
		return nw
	}
	args := append([]string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), bikfedBin,
		"hub", "serve", "--data", nw.hubDir, "--listen", nw.hubAdr}, hubFlags...)
	nw.hub = startProcArgv(t, "hub", dir, args...)
	waitFor(t, 30*time.Second, "hub to answer", func() error {
		resp, err := http.Get(nw.hubURL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", nw.hub.cmd.Process.Pid))
	if err == nil && !strings.Contains(string(limits), fmt.Sprintf("Max open files            %d", nofile)) {
		t.Fatalf("the hub's open-file limit is not %d:\n%s", nofile, limits)
	}
	return nw
}

// slowClient holds one connection to addr from the loopback address src:
// a request whose headers (or body) come one byte a second. When the hub
// drops it, it waits a moment and connects again, as an attacker would.
func slowClient(ctx context.Context, addr, src string, slowBody bool, open *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			pause(ctx, 250*time.Millisecond)
			continue
		}
		open.Add(1)
		prefix := "GET /resources HTTP/1.1\r\nHost: hub\r\n"
		if slowBody {
			path := protocol.PathEnrol
			if strings.HasSuffix(src, "3") || strings.HasSuffix(src, "7") {
				path = "/api/v1/entities" // a public route
			}
			prefix = "POST " + path + " HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
		}
		_, err = io.WriteString(c, prefix)
		for err == nil && ctx.Err() == nil {
			pause(ctx, time.Second)
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if slowBody {
				_, err = io.WriteString(c, " ")
			} else {
				_, err = io.WriteString(c, "X: y\r\n")
			}
		}
		c.Close()
		open.Add(-1)
		pause(ctx, 250*time.Millisecond)
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// TestE2E_SlowClients holds 2,000 slow unauthenticated connections (slow
// headers, slow bodies to enrolment and to a public route) against a hub
// limited to 1,024 open files while a node pushes: /healthz answers within
// a second throughout and the push completes.
func TestE2E_SlowClients(t *testing.T) {
	const slowConns = 2000
	// The defaults of the rate limits, which the other tests turn off
	// because all their clients share one address.
	nw := newNetworkNofile(t, 1024, "--public-rate", "20", "--sign-in-rate", "10")
	be := nw.addNode("be")
	nw.startNode(be)
	api := admin(t, be)

	ctx, stop := context.WithCancel(context.Background())
	var attackers sync.WaitGroup
	var open atomic.Int64
	defer func() {
		stop()
		attackers.Wait()
	}()
	for i := range slowConns {
		src := fmt.Sprintf("127.0.0.%d", 2+i%8)
		attackers.Go(func() { slowClient(ctx, nw.hubAdr, src, i%2 == 0, &open) })
	}
	waitFor(t, 20*time.Second, "the slow connections to open", func() error {
		if n := open.Load(); n < slowConns*9/10 {
			return fmt.Errorf("%d of %d open", n, slowConns)
		}
		return nil
	})

	// /healthz on a fresh connection every 100 ms, each within a second.
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var probes, slowest atomic.Int64
	probeErr := make(chan error, 1)
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for ctx.Err() == nil {
			start := time.Now()
			resp, err := probe.Get(nw.hubURL + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("healthz: %s", resp.Status)
				}
			}
			if err != nil {
				select {
				case probeErr <- fmt.Errorf("probe %d: %w", probes.Load()+1, err):
				default:
				}
				return
			}
			probes.Add(1)
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
			pause(ctx, 100*time.Millisecond)
		}
	}()

	const posts = 30
	start := time.Now()
	for i := range posts {
		if _, err := api.publish(fmt.Sprintf("Written under attack %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the node's push to reach the hub", func() error {
		select {
		case err := <-probeErr:
			t.Fatalf("/healthz under %d slow connections: %v", slowConns, err)
		default:
		}
		st, err := hubStatus(nw, 2*time.Second)
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.Node == "be" && n.AppliedSeq >= posts {
				return nil
			}
		}
		return errors.New("not yet applied")
	})
	pushed := time.Since(start)
	// Keep probing a little past the push, under the same load.
	pause(context.Background(), 2*time.Second)
	held := open.Load()
	stop()
	<-probeDone
	select {
	case err := <-probeErr:
		t.Fatalf("/healthz under %d slow connections: %v", slowConns, err)
	default:
	}
	if probes.Load() < 10 {
		t.Fatalf("only %d health probes ran", probes.Load())
	}
	m := scrape(t, nw.hubURL+"/metrics", nw.adminToken())
	t.Logf("%d slow clients (%d connected at the end): %d probes of /healthz, slowest %s; %d posts pushed in %s; hub: %v evicted, %v refused, %v rate limited",
		slowConns, held, probes.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), posts, pushed.Round(time.Millisecond),
		m[`bikfed_http_limited_total{reason="conn_evicted"}`], m[`bikfed_http_limited_total{reason="conn_refused"}`],
		m[`bikfed_http_limited_total{reason="rate"}`]+m[`bikfed_http_limited_total{reason="sign_in"}`])
}

// hubStatus is network.status with a timeout: a hub that no longer
// accepts connections must fail the test, not hang it.
func hubStatus(nw *network, timeout time.Duration) (*protocol.NetworkStatus, error) {
	req, _ := http.NewRequest("GET", nw.hubURL+protocol.PathStatus, nil)
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: %s", resp.Status)
	}
	var st protocol.NetworkStatus
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// appliedSeq is the hub's checkpoint for a node, read from memory by
// /v1/status.
func appliedSeq(nw *network, id string) (int64, error) {
	st, err := hubStatus(nw, 2*time.Second)
	if err != nil {
		return 0, err
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n.AppliedSeq, nil
		}
	}
	return 0, fmt.Errorf("hub status has no node %s", id)
}

// stalledReader asks the hub for a whole feed page and, once the page
// has begun, stops reading. Its receive buffer is set before the
// handshake, so the page cannot vanish into it.
func stalledReader(t *testing.T, addr, token string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 128<<10)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s?since=0 HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\n\r\n", protocol.PathChanges, token)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	head := make([]byte, 1024)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatalf("stalled reader: the page did not begin: %v", err)
	}
	return c
}

// TestE2E_StalledFeedReaders: four clients (the hub's database readers
// are four here) ask for feed pages far larger than the socket buffers and
// stop reading mid-page. A node's push and another node's pull are not
// delayed by more than a second, /readyz stays ready, and the write
// deadline closes the stalled connections.
func TestE2E_StalledFeedReaders(t *testing.T) {
	const (
		bigPosts  = 200
		postBytes = 60_000
		stalled   = 4
	)
	nw := newNetworkNofile(t, 0, "--feed-page-bytes", strconv.Itoa(16<<20), "--write-timeout", "3s")
	a, b := nw.addNode("be"), nw.addNode("fi")
	drafts := make([]sampledata.Draft, bigPosts)
	for i := range drafts {
		body, _ := json.Marshal(map[string]any{"space": "helplines", "format": "thread", "language": "en", "author": map[string]any{"name": "e2e", "sic": "be"},
			"title": fmt.Sprintf("Long report %d", i), "text": strings.Repeat("A long report on helpline contacts. ", postBytes/36)})
		drafts[i] = sampledata.Draft{Kind: "post", Visibility: "community", Body: body}
	}
	importDrafts(t, a, drafts)
	nw.startNode(a)
	nw.startNode(b)
	apiA, apiB := admin(t, a), admin(t, b)
	waitFor(t, 90*time.Second, "the big posts to reach node fi", func() error {
		if n := ownerCounts(t, b, "be"); n < bigPosts {
			return fmt.Errorf("%d of %d", n, bigPosts)
		}
		return nil
	})

	// One round: a post written on a, the time until the hub has applied
	// it (the push) and from then until b holds it (the pull).
	round := func(label string) (push, pull time.Duration) {
		t.Helper()
		before, err := appliedSeq(nw, "be")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		id, err := apiA.publish(label)
		if err != nil {
			t.Fatal(err)
		}
		deadline := start.Add(20 * time.Second)
		for {
			if seq, err := appliedSeq(nw, "be"); err == nil && seq > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the push of %s did not reach the hub within 20s", label, id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		applied := time.Now()
		for !apiB.has(id) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s did not reach node fi within 20s", label, id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return applied.Sub(start), time.Since(applied)
	}
	worst := func(label string) (push, pull time.Duration) {
		for i := range 3 {
			p, q := round(fmt.Sprintf("%s %d", label, i))
			push, pull = max(push, p), max(pull, q)
		}
		return push, pull
	}
	basePush, basePull := worst("baseline")

	var conns []net.Conn
	for range stalled {
		conns = append(conns, stalledReader(t, nw.hubAdr, nw.adminToken()))
	}
	stalledAt := time.Now()
	push, pull := worst("stalled")
	resp, err := (&http.Client{Timeout: time.Second}).Get(nw.hubURL + "/readyz")
	if err != nil {
		t.Fatalf("/readyz with %d stalled readers: %v", stalled, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz with %d stalled readers: %s", stalled, resp.Status)
	}
	t.Logf("push: %s baseline, %s with %d stalled readers; pull: %s baseline, %s stalled",
		basePush.Round(time.Millisecond), push.Round(time.Millisecond), stalled, basePull.Round(time.Millisecond), pull.Round(time.Millisecond))
	if push > basePush+time.Second {
		t.Errorf("stalled readers delayed the push by %s", (push - basePush).Round(time.Millisecond))
	}
	if pull > basePull+time.Second {
		t.Errorf("stalled readers delayed the pull by %s", (pull - basePull).Round(time.Millisecond))
	}

	// The write deadline (3s) ends each stalled page, and the connection
	// closes: what the kernel had buffered arrives, far short of the page.
	waitFor(t, 15*time.Second, "the write deadline to end the stalled pages", func() error {
		b, err := os.ReadFile(nw.hub.log)
		if err != nil {
			return err
		}
		if n := strings.Count(string(b), `msg="feed aborted"`); n < stalled {
			return fmt.Errorf("%d of %d aborted", n, stalled)
		}
		return nil
	})
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		n, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stalled reader %d: still open %s after it stopped reading", i+1, time.Since(stalledAt).Round(time.Second))
		}
		if n+1024 >= bigPosts*postBytes {
			t.Errorf("stalled reader %d received the whole page (%d bytes)", i+1, n)
		}
	}
}
