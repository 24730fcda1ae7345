package httplimit

import (
	"container/list"
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ListenerConfig bounds the connections a Listener keeps open.
type ListenerConfig struct {
	// MaxConns caps the open connections; 0 means no cap. When the cap is
	// reached, a new connection takes the place of the oldest one that is
	// not serving a protected request, so health checks and authenticated
	// clients always get in while slow clients hold the rest.
	MaxConns int
	// MaxConnsPerAddr caps the open connections of one client address (an
	// IPv6 /64 counts as one); 0 means no cap. Excess connections get a 503
	// at once, so one address can never fill MaxConns.
	MaxConnsPerAddr int
	// Exempt reports addresses without a per-address cap: reverse proxies
	// that carry many clients.
	Exempt func(netip.Addr) bool
	// RetryAfter is what a refused connection is told to wait.
	RetryAfter time.Duration
	// OnRefuse and OnEvict, when set, count refused and evicted connections.
	OnRefuse, OnEvict func()
}

// Listener enforces a ListenerConfig on the connections it accepts. Use it
// with http.Server.ConnContext set to ConnContext, so handlers can Protect
// their connection.
type Listener struct {
	net.Listener
	cfg ListenerConfig

	mu      sync.Mutex
	order   list.List // *Conn, oldest first
	perAddr map[netip.Addr]int

	refused atomic.Int64
	evicted atomic.Int64
}

// NewListener wraps ln.
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	return &Listener{Listener: ln, cfg: cfg, perAddr: make(map[netip.Addr]int)}
}

// Refused is how many connections were refused for a per-address cap, or
// because every open one was protected.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// Evicted is how many connections were closed to make room for new ones.
func (l *Listener) Evicted() int64 { return l.evicted.Load() }

// Open is how many connections are open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

// Accept returns the next connection within the caps. A connection over a
// per-address cap is answered with a 503 and closed here, never queued.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ra := remoteAddr(nc.RemoteAddr())
		key := AddrKey(ra)
		c := &Conn{Conn: nc, l: l, key: key}
		var victim *Conn
		l.mu.Lock()
		ok := true
		if l.cfg.MaxConnsPerAddr > 0 && l.perAddr[key] >= l.cfg.MaxConnsPerAddr && (l.cfg.Exempt == nil || !l.cfg.Exempt(ra)) {
			ok = false
		} else if l.cfg.MaxConns > 0 && l.order.Len() >= l.cfg.MaxConns {
			if victim = l.oldestUnprotectedLocked(); victim == nil {
				ok = false
			} else {
				l.removeLocked(victim)
			}
		}
		if ok {
			c.elem = l.order.PushBack(c)
			l.perAddr[key]++
		}
		l.mu.Unlock()
		if victim != nil {
			l.evicted.Add(1)
			if l.cfg.OnEvict != nil {
				l.cfg.OnEvict()
			}
			victim.Conn.Close()
		}
		if !ok {
			l.refused.Add(1)
			if l.cfg.OnRefuse != nil {
				l.cfg.OnRefuse()
			}
			l.refuse(nc)
			continue
		}
		return c, nil
	}
}

// refuse answers a connection that will not be served. The write cannot
// block for long: the socket is new and its buffer empty.
func (l *Listener) refuse(nc net.Conn) {
	secs := max(int(l.cfg.RetryAfter.Round(time.Second)/time.Second), 1)
	nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	nc.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + strconv.Itoa(secs) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\nConnection: close\r\n\r\ntoo many connections"))
	nc.Close()
}

func (l *Listener) oldestUnprotectedLocked() *Conn {
	for e := l.order.Front(); e != nil; e = e.Next() {
		if c := e.Value.(*Conn); c.protected.Load() == 0 {
			return c
		}
	}
	return nil
}

func (l *Listener) removeLocked(c *Conn) {
	if c.elem == nil {
		return
	}
	l.order.Remove(c.elem)
	c.elem = nil
	if l.perAddr[c.key]--; l.perAddr[c.key] <= 0 {
		delete(l.perAddr, c.key)
	}
}

// Conn is a connection a Listener accepted.
type Conn struct {
	net.Conn
	l         *Listener
	key       netip.Addr
	elem      *list.Element // guarded by l.mu; nil once removed
	protected atomic.Int32
	closeOnce sync.Once
}

// Close closes the connection and frees its place.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		c.l.removeLocked(c)
		c.l.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets Protect find the
// connection a request came on.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// Protect keeps the request's connection from being closed to make room
// for new ones until release is called (when the request is done).
func Protect(ctx context.Context) (release func()) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	if !ok {
		return func() {}
	}
	c.protected.Add(1)
	return func() { c.protected.Add(-1) }
}

func remoteAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
