package caddytest_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/caddytest"
)

// upstream is a tiny server standing in for a mirror: /healthz answers ok,
// every other path names the upstream and echoes the Host it was asked for.
// It can be stopped abruptly and started again on the same address.
type upstream struct {
	t    testing.TB
	name string
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func startUpstream(t testing.TB, name string) *upstream {
	t.Helper()
	u := &upstream{t: t, name: name}
	u.start("127.0.0.1:0")
	t.Cleanup(u.stop)
	return u
}

func (u *upstream) start(addr string) {
	u.t.Helper()
	var l net.Listener
	var err error
	// The port was just released by stop; give the kernel a moment if it
	// is not free yet.
	for range 50 {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		u.t.Fatalf("listen %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s", u.name, r.Host)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	u.mu.Lock()
	u.addr, u.srv = l.Addr().String(), srv
	u.mu.Unlock()
}

// stop closes the listener and every connection at once, as a crash would.
func (u *upstream) stop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.srv != nil {
		u.srv.Close()
		u.srv = nil
	}
}

func get(client *http.Client, url, host string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
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
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return string(body), nil
}

// served returns which upstream answered body.
func served(body string) string { name, _, _ := strings.Cut(body, " "); return name }

func TestStart_Failover(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	srv := caddytest.Start(t, []string{a.addr, b.addr})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want http://127.0.0.1:PORT", srv.URL)
	}
	client := &http.Client{Timeout: 15 * time.Second}

	// Both get traffic.
	count := map[string]int{}
	for i := range 20 {
		body, err := get(client, srv.URL+fmt.Sprintf("/page/%d", i), "")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		count[served(body)]++
	}
	if count["a"] == 0 || count["b"] == 0 {
		t.Fatalf("round robin over both: got %v", count)
	}

	// A closed loop of requests runs while a stops; after at most the one
	// in flight, every request succeeds, answered by b.
	var (
		mu       sync.Mutex
		failures []error
		after    = map[string]int{}
		stopped  bool
		done     = make(chan struct{})
		finished = make(chan struct{})
	)
	go func() {
		defer close(finished)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			mu.Lock()
			wasStopped := stopped
			mu.Unlock()
			body, err := get(client, srv.URL+fmt.Sprintf("/loop/%d", i), "")
			mu.Lock()
			if err != nil {
				failures = append(failures, err)
			} else if wasStopped {
				after[served(body)]++
			}
			mu.Unlock()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	a.stop()
	mu.Lock()
	stopped = true
	mu.Unlock()
	time.Sleep(2 * time.Second)
	close(done)
	<-finished
	t.Logf("while a was stopped: %v answered, %d failed", after, len(failures))
	if len(failures) > 1 {
		t.Fatalf("%d requests failed after an upstream stopped (at most the one in flight may): %v", len(failures), failures)
	}
	if after["b"] < 10 {
		t.Fatalf("after a stopped, b answered %d requests (%v)", after["b"], after)
	}
	if after["a"] > 1 {
		t.Fatalf("after a stopped, a answered %d requests", after["a"])
	}

	// a comes back on its address and gets traffic again once the active
	// check sees it and its passive failure has expired.
	a.start(a.addr)
	deadline := time.Now().Add(15 * time.Second)
	for {
		body, err := get(client, srv.URL+"/back", "")
		if err != nil {
			t.Fatalf("after a restarted: %v", err)
		}
		if served(body) == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a restarted but got no traffic within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The portal serves minisites by host name, so the visitor's Host must
// reach the upstream as sent, port included.
func TestStart_HostPassedThrough(t *testing.T) {
	a := startUpstream(t, "a")
	srv := caddytest.Start(t, []string{a.addr})
	body, err := get(&http.Client{Timeout: 10 * time.Second}, srv.URL+"/", "sid.example.org:8000")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a host=sid.example.org:8000"; body != want {
		t.Fatalf("got %q, want %q", body, want)
	}
}

// With every upstream down a request fails after the try duration rather
// than hanging, and Caddy still starts (mirrors may all be catching up).
func TestStart_AllDown(t *testing.T) {
	a := startUpstream(t, "a")
	addr := a.addr
	a.stop()
	srv := caddytest.Start(t, []string{addr}, caddytest.TryDuration(time.Second))
	start := time.Now()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Fatalf("status %d with no upstream up, want 5xx", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v with a try duration of 1s", d)
	}
}

// Adding an upstream is a reload, as docs/scale.md tells an operator to do.
func TestServer_SetUpstreams(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	srv := caddytest.Start(t, []string{a.addr})
	if err := srv.SetUpstreams(a.addr, b.addr); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]bool{}
	for i := 0; i < 50 && !seen["b"]; i++ {
		body, err := get(client, srv.URL+"/", "")
		if err != nil {
			t.Fatal(err)
		}
		seen[served(body)] = true
	}
	if !seen["b"] {
		t.Fatalf("b added by reload got no traffic: %v", seen)
	}
}

// The Caddyfile docker-compose.yml runs loads in the pinned release.
func TestShippedCaddyfile(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	caddytest.Validate(t, filepath.Join(filepath.Dir(file), "..", "..", "docs", "Caddyfile"))
}
