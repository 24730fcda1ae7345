package hub

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/protocol"
)

// serveLimited serves th's hub the way Run does, limits included, and
// returns its address.
func serveLimited(tb testing.TB, th *testHub) string {
	tb.Helper()
	addr, _ := serveLimitedListener(tb, th)
	return addr
}

func serveLimitedListener(tb testing.TB, th *testHub) (string, *httplimit.Listener) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, capped := th.server(ln)
	go srv.Serve(capped)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), capped
}

// rawRequest sends req on a fresh connection and reads the answer.
func rawRequest(tb testing.TB, addr, req string) (*http.Response, []byte) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestHub_Guard_RateLimits(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) {
		c.Limits.PublicRate, c.Limits.PublicBurst = 1, 3
		c.Limits.SignInRate, c.Limits.SignInBurst = 1, 2
	})
	n := th.enrolNode(t, "be")
	h := th.guard(th.Handler())
	do := func(method, path, from, bearer string) *http.Response {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("{}")
		}
		r, _ := http.NewRequest(method, "http://hub"+path, body)
		r.RemoteAddr = from + ":40000"
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := &recorder{header: http.Header{}}
		h.ServeHTTP(w, r)
		return &http.Response{StatusCode: w.status, Header: w.header}
	}
	t.Run("public", func(t *testing.T) {
		for i := range 3 {
			if got := do("GET", "/api/v1/entities", "192.0.2.1", "").StatusCode; got != 200 {
				t.Fatalf("request %d of the burst: %d", i+1, got)
			}
		}
		resp := do("GET", "/api/v1/entities", "192.0.2.1", "")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("past the burst: %d, want 429", resp.StatusCode)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want whole seconds", resp.Header.Get("Retry-After"))
		}
		if resp.Header.Get("Connection") != "close" {
			t.Error("a refused request keeps its connection: its unread body would be waited for")
		}
		for _, path := range []string{"/", "/feed.atom", "/oai?verb=Identify", "/files/" + strings.Repeat("0", 64) + "/x.pdf"} {
			if got := do("GET", path, "192.0.2.1", "").StatusCode; got != http.StatusTooManyRequests {
				t.Errorf("GET %s from the same address: %d, want 429", path, got)
			}
		}
		if got := do("GET", "/api/v1/entities", "192.0.2.2", "").StatusCode; got != 200 {
			t.Errorf("another address: %d, want 200", got)
		}
	})
	t.Run("exempt", func(t *testing.T) {
		for range 10 {
			if got := do("GET", "/healthz", "192.0.2.1", "").StatusCode; got != 200 {
				t.Fatalf("/healthz from a limited address: %d", got)
			}
			if got := do("GET", protocol.PathKeys, "192.0.2.1", n.cred).StatusCode; got != 200 {
				t.Fatalf("a node's request from a limited address: %d", got)
			}
		}
		if got := do("GET", protocol.PathKeys, "192.0.2.1", "be.forged").StatusCode; got != http.StatusTooManyRequests {
			t.Errorf("an invalid credential: %d, want 429", got)
		}
	})
	t.Run("GET with a body", func(t *testing.T) {
		r, _ := http.NewRequest("GET", "http://hub/files/"+strings.Repeat("0", 64)+"/x.pdf", strings.NewReader("slow"))
		r.RemoteAddr = "192.0.2.9:40000"
		w := &recorder{header: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != http.StatusBadRequest || w.header.Get("Connection") != "close" {
			t.Fatalf("GET with a body: %d, Connection %q; want 400 and close", w.status, w.header.Get("Connection"))
		}
	})
	t.Run("sign-in", func(t *testing.T) {
		for i := range 2 {
			if got := do("POST", protocol.PathEnrol, "192.0.2.3", "").StatusCode; got == http.StatusTooManyRequests {
				t.Fatalf("enrolment %d of the burst refused", i+1)
			}
		}
		if got := do("POST", pathConsoleSignIn, "192.0.2.3", "").StatusCode; got != http.StatusTooManyRequests {
			t.Fatalf("third sign-in attempt: %d, want 429", got)
		}
		// Sign-in attempts have their own budget: the address may still browse.
		if got := do("GET", "/api/v1/entities", "192.0.2.3", "").StatusCode; got != 200 {
			t.Errorf("browsing after the sign-in limit: %d, want 200", got)
		}
	})
}

// recorder is a ResponseWriter that keeps the status and headers only.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

func TestHub_Changes_LongPollsPerCredential(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.Limits.LongPollsPerCredential = 2 })
	n := th.enrolNode(t, "be")
	other := th.enrolNode(t, "nl")
	poll := func(ctx context.Context, cred string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", th.url+protocol.PathChanges+"?since=0&wait=20s", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		return http.DefaultClient.Do(req)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if resp, err := poll(ctx, n.cred); err == nil {
				resp.Body.Close()
			}
		})
	}
	held := func() int {
		th.mu.Lock()
		defer th.mu.Unlock()
		return th.longPolls["be"]
	}
	eventually(t, 5*time.Second, func() bool { return held() == 2 }, "two long-polls held")

	resp, err := poll(t.Context(), n.cred)
	if err != nil {
		t.Fatal(err)
	}
	var body protocol.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || body.Error == nil || body.Error.Code != protocol.CodeTooManyRequests {
		t.Fatalf("third long-poll: %s %+v, want 429 too_many_requests", resp.Status, body.Error)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// A pull that does not wait, and another credential's long-poll, are not counted.
	if f, err := n.client.Changes(t.Context(), 0, 0, 0); err != nil || f == nil {
		t.Fatalf("a pull without wait: %v", err)
	}
	octx, ocancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer ocancel()
	if resp, err := poll(octx, other.cred); err == nil {
		resp.Body.Close()
		t.Fatalf("another node's long-poll answered at once: %s", resp.Status)
	}

	cancel()
	wg.Wait()
	eventually(t, 5*time.Second, func() bool { return held() == 0 }, "long-polls released")
	rctx, rcancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer rcancel()
	if resp, err := poll(rctx, n.cred); err == nil {
		resp.Body.Close()
		t.Fatalf("a long-poll after the others ended answered at once: %s", resp.Status)
	}
}

func TestHub_Server_MaxHeaderBytes(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.Limits.MaxHeaderBytes = 8 << 10 })
	addr := serveLimited(t, th)
	resp, _ := rawRequest(t, addr, "GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	big := fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Pad: %s\r\n\r\n", strings.Repeat("a", 16<<10))
	resp, _ = rawRequest(t, addr, big)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB of headers: %s, want 431", resp.Status)
	}
}

func TestHub_Server_SlowBodyCut(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) {
		c.Limits.ReadTimeout = 300 * time.Millisecond
		c.Limits.SignInRate = 0
	})
	addr := serveLimited(t, th)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "POST "+protocol.PathEnrol+" HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The client never sends the rest: the hub must give up on it.
	io.Copy(io.Discard, c)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("a body that never arrives held its connection for %s", took)
	}
}

func TestHub_Changes_PageBytes(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.Limits.FeedPageBytes = 64 << 10 })
	be := th.enrolNode(t, "be")
	var ss []protocol.Signed
	for i := range 12 {
		body := resourceBody(fmt.Sprintf("resource %d", i))
		body.Description = strings.Repeat("x", 9000)
		ss = append(ss, be.sign(t, be.newChange(t, protocol.KindResource, protocol.VisibilityPublic, body)))
	}
	be.mustPush(t, ss...)

	var got []protocol.FeedItem
	pages := 0
	for since := int64(0); ; {
		pages++
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s?since=%d", th.url, protocol.PathChanges, since), nil)
		req.Header.Set("Authorization", "Bearer "+be.cred)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var f protocol.Feed
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Changes) == 0 {
			t.Fatalf("page %d is empty", pages)
		}
		if len(raw) > 64<<10+512 {
			t.Errorf("page %d is %d bytes, past the 64 KiB bound", pages, len(raw))
		}
		got = append(got, f.Changes...)
		if !f.More {
			break
		}
		since = f.Next
	}
	if len(got) != 12 || pages < 2 {
		t.Fatalf("%d changes in %d pages, want 12 in several", len(got), pages)
	}
}

func TestHub_Changes_StalledReaderCut(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) {
		// Long enough that the stalled connections are still open when
		// the readers are checked on a loaded machine.
		c.Limits.WriteTimeout = 8 * time.Second
		c.Limits.FeedPageBytes = 16 << 20
	})
	be := th.enrolNode(t, "be")
	// A page far larger than what the kernel buffers on both sides of a
	// connection (4 MiB each at most here).
	const pageBytes = 200 * 60_000
	for range 4 {
		var ss []protocol.Signed
		for i := range 50 {
			body := resourceBody(fmt.Sprintf("resource %d", i))
			body.Description = strings.Repeat("y", 60_000)
			ss = append(ss, be.sign(t, be.newChange(t, protocol.KindResource, protocol.VisibilityPublic, body)))
		}
		be.mustPush(t, ss...)
	}
	addr, capped := serveLimitedListener(t, th)

	// Four readers ask for big pages and read nothing: as many as the
	// database has readers.
	var conns []net.Conn
	for range 4 {
		c, err := smallWindowDial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s?since=0 HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\n\r\n", protocol.PathChanges, be.cred)
		conns = append(conns, c)
	}
	// The hub takes the four connections (on a loaded machine, not at
	// once); the pages are read, and the hub's readers go back to the
	// pool while the clients still hold their connections.
	eventually(t, 10*time.Second, func() bool { return capped.Open() == 4 }, "the four readers connected")
	eventually(t, 10*time.Second, func() bool { return th.db.Reader().Stats().InUse == 0 }, "database readers released")
	if n := capped.Open(); n != 4 {
		t.Fatalf("%d connections open, want the 4 stalled readers'", n)
	}
	for i := range 3 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		if _, err := th.Manifest(ctx, ""); err != nil {
			t.Fatalf("manifest %d with four stalled feed readers: %v", i+1, err)
		}
		cancel()
		if d := time.Since(start); d > time.Second {
			t.Errorf("manifest took %s", d)
		}
	}
	// The write deadline closes the stalled connections.
	eventually(t, 15*time.Second, func() bool { return capped.Open() == 0 }, "stalled feed connections closed by the hub")
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _ := io.Copy(io.Discard, c); n >= pageBytes {
			t.Errorf("stalled reader %d received the whole page (%d bytes)", i+1, n)
		}
	}
}

// smallWindowDial connects with a small receive buffer, set before the
// handshake so the window stays small: a page then cannot vanish into
// kernel buffers, and a client that stops reading stalls the writer.
func smallWindowDial(addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		})
		return errors.Join(err, serr)
	}}
	return d.Dial("tcp", addr)
}

func TestLimitConfig_Validate(t *testing.T) {
	valid := DefaultConfig()
	valid.DataDir = "/tmp/x"
	for _, tc := range []struct {
		name  string
		mod   func(*LimitConfig)
		field string
	}{
		{"valid", func(*LimitConfig) {}, ""},
		{"rates off", func(l *LimitConfig) { l.PublicRate, l.SignInRate = 0, 0 }, ""},
		{"read timeout", func(l *LimitConfig) { l.ReadTimeout = 0 }, "Limits.ReadTimeout"},
		{"header bytes", func(l *LimitConfig) { l.MaxHeaderBytes = 2 << 20 }, "Limits.MaxHeaderBytes"},
		{"conns", func(l *LimitConfig) { l.MaxConns = 2 }, "Limits.MaxConns"},
		{"conns per addr", func(l *LimitConfig) { l.MaxConnsPerAddr = 0 }, "Limits.MaxConnsPerAddr"},
		{"negative rate", func(l *LimitConfig) { l.PublicRate = -1 }, "Limits.PublicRate"},
		{"no burst", func(l *LimitConfig) { l.SignInBurst = 0 }, "Limits.SignInRate"},
		{"long-polls", func(l *LimitConfig) { l.LongPollsPerCredential = 0 }, "Limits.LongPollsPerCredential"},
		{"page bytes", func(l *LimitConfig) { l.FeedPageBytes = 1000 }, "Limits.FeedPageBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.mod(&c.Limits)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("err = %v, want %s error", err, tc.field)
			}
		})
	}
}
