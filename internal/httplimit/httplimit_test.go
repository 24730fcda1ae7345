package httplimit

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen starts a capped listener on loopback and accepts into a channel.
func listen(t *testing.T, cfg ListenerConfig) (*Listener, chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, cfg)
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	return l, accepted
}

// dialFrom connects to l from the loopback address src (127.0.0.0/8 all
// reaches the loopback interface, so each is a distinct client).
func dialFrom(t *testing.T, l net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func next(t *testing.T, accepted chan net.Conn) *Conn {
	t.Helper()
	select {
	case c := <-accepted:
		return c.(*Conn)
	case <-time.After(2 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// closedByServer reports whether the server closed c, reading what it sent.
func closedByServer(t *testing.T, c net.Conn) (bool, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			ne, ok := err.(net.Error)
			return !(ok && ne.Timeout()), sb.String()
		}
	}
}

func TestListener_PerAddrCap(t *testing.T) {
	l, accepted := listen(t, ListenerConfig{MaxConnsPerAddr: 2, RetryAfter: 3 * time.Second})
	dialFrom(t, l, "127.0.0.2")
	s1 := next(t, accepted)
	dialFrom(t, l, "127.0.0.2")
	next(t, accepted)
	over := dialFrom(t, l, "127.0.0.2")
	closed, got := closedByServer(t, over)
	if !closed || !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Retry-After: 3\r\n") {
		t.Fatalf("third connection from one address: closed %v, got %q; want a 503 with Retry-After: 3", closed, got)
	}
	// Another address is not affected, and a closed connection frees its place.
	dialFrom(t, l, "127.0.0.3")
	next(t, accepted)
	s1.Close()
	dialFrom(t, l, "127.0.0.2")
	next(t, accepted)
	if l.Refused() != 1 {
		t.Errorf("Refused = %d, want 1", l.Refused())
	}
}

func TestListener_ExemptProxy(t *testing.T) {
	proxy := netip.MustParseAddr("127.0.0.9")
	l, accepted := listen(t, ListenerConfig{MaxConnsPerAddr: 1, Exempt: func(a netip.Addr) bool { return a == proxy }})
	for range 3 {
		dialFrom(t, l, proxy.String())
		next(t, accepted)
	}
	if l.Refused() != 0 || l.Open() != 3 {
		t.Fatalf("a trusted proxy: refused %d, open %d; want 0 and 3", l.Refused(), l.Open())
	}
}

func TestListener_EvictsOldestUnprotected(t *testing.T) {
	l, accepted := listen(t, ListenerConfig{MaxConns: 3})
	ctx := func(c *Conn) context.Context { return ConnContext(context.Background(), c) }
	c1 := dialFrom(t, l, "127.0.0.2")
	s1 := next(t, accepted)
	release := Protect(ctx(s1)) // the oldest serves a health check
	c2 := dialFrom(t, l, "127.0.0.3")
	s2 := next(t, accepted)
	dialFrom(t, l, "127.0.0.4")
	next(t, accepted)

	c4 := dialFrom(t, l, "127.0.0.5")
	s4 := next(t, accepted)
	if closed, _ := closedByServer(t, c2); !closed {
		t.Fatal("the oldest unprotected connection was not closed to make room")
	}
	c1.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c1.Read(make([]byte, 1)); err == nil || !err.(net.Error).Timeout() {
		t.Fatalf("the protected connection was closed: %v", err)
	}
	s2.Close() // the server noticing it is gone frees nothing twice
	if l.Open() != 3 || l.Evicted() != 1 {
		t.Fatalf("open %d evicted %d, want 3 and 1", l.Open(), l.Evicted())
	}

	// With every connection protected, a new one is refused, not queued.
	release()
	for _, s := range []*Conn{s1, s4} {
		defer Protect(ctx(s))()
	}
	dialFrom(t, l, "127.0.0.6")
	defer Protect(ctx(next(t, accepted)))() // it took the unprotected third one's place
	refused := dialFrom(t, l, "127.0.0.7")
	if closed, got := closedByServer(t, refused); !closed || !strings.HasPrefix(got, "HTTP/1.1 503 ") {
		t.Fatalf("with every connection protected: closed %v, got %q; want a 503", closed, got)
	}
	_ = c4
}

func TestListener_ServesHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, ListenerConfig{MaxConns: 16, MaxConnsPerAddr: 4})
	var protectedSeen atomic.Bool
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release := Protect(r.Context())
		c := r.Context().Value(connKey{}).(*Conn)
		protectedSeen.Store(c.protected.Load() == 1)
		release()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c := dialFrom(t, l, "127.0.0.1")
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !protectedSeen.Load() {
		t.Fatalf("status %d, protected %v", resp.StatusCode, protectedSeen.Load())
	}
}

func TestRateLimiter_Allow(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := NewRateLimiter(2, 3)
	l.now = func() time.Time { return now }
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 3 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow(a)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v, retry after %s; want refused, about 500ms", ok, wait)
	}
	if RetryAfterSeconds(wait) != 1 {
		t.Errorf("Retry-After = %d, want 1", RetryAfterSeconds(wait))
	}
	if ok, _ := l.Allow(b); !ok {
		t.Fatal("another address is limited too")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("not allowed again after the refill")
	}
	// One IPv6 /64 is one client.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:1")
	for range 3 {
		l.Allow(v6a)
	}
	if ok, _ := l.Allow(v6b); ok {
		t.Fatal("a second address of the same /64 has its own budget")
	}
}

func TestRateLimiter_ForgetsQuietAddresses(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := NewRateLimiter(1000, 1)
	l.now = func() time.Time { return now }
	for i := range maxTracked {
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	now = now.Add(2 * time.Second)
	l.Allow(netip.MustParseAddr("192.0.2.1"))
	if n := len(l.addrs); n != 1 {
		t.Fatalf("tracking %d addresses after a sweep, want 1", n)
	}
}

func TestProxies_ClientAddr(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "192.0.2.7:5000", "", "192.0.2.7"},
		{"direct client's forged header is ignored", "192.0.2.7:5000", "198.51.100.1", "192.0.2.7"},
		{"behind the proxy", "10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},
		{"client-written hops left of the proxy's are ignored", "10.0.0.2:5000", "203.0.113.9, 198.51.100.1", "198.51.100.1"},
		{"chain of trusted proxies", "10.0.0.2:5000", "198.51.100.1, 10.1.1.1", "198.51.100.1"},
		{"garbage hop stops at the proxy", "10.0.0.2:5000", "not-an-ip", "10.0.0.2"},
		{"proxy without header", "10.0.0.2:5000", "", "10.0.0.2"},
		{"mapped IPv4", "[::ffff:192.0.2.7]:5000", "", "192.0.2.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := proxies.ClientAddr(r).String(); got != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFitConns(t *testing.T) {
	limit := openFileLimit()
	if limit == 0 {
		t.Skip("open-file limit unknown here")
	}
	if got := FitConns(1 << 30); uint64(got) > limit {
		t.Errorf("FitConns = %d, above the open-file limit %d", got, limit)
	}
	if got := FitConns(16); got != 16 && limit > fdReserve+64 {
		t.Errorf("FitConns(16) = %d, want 16", got)
	}
}

func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.2:1", "198.51.100.1, 10.1.1.1")
	f.Add("10.0.0.2:1", ",,::1,")
	f.Add("192.0.2.1:1", "x")
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := proxies.ClientAddr(r)
		if peer := addrOf(remote); !proxies.Contains(peer) && got != peer {
			t.Fatalf("client address %s, but the peer %s is no proxy", got, peer)
		}
		AddrKey(got)
	})
}
