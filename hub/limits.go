package hub

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/protocol"
)

// LimitConfig bounds what clients can take from the hub's HTTP server:
// time, header size, connections, request rates and long-polls. Health
// checks and requests with a valid credential are never rate limited, and
// their connections are never closed to make room for others.
type LimitConfig struct {
	// HeaderTimeout is how long a client has to send a request's headers.
	// Default 10s.
	HeaderTimeout time.Duration
	// ReadTimeout is how long an ordinary request may take from its headers
	// to the end of its body and of the hub's work on it. Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout is how long writing an ordinary answer, or one page of
	// the changes feed once its wait is over, may take. Default 30s.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request. Default 2m.
	IdleTimeout time.Duration
	// TransferTimeout bounds the requests that move bulk data: a push's
	// body and its answer, an attachment's upload or download. Default 15m.
	TransferTimeout time.Duration
	// MaxHeaderBytes caps a request's headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxConns caps open connections, lowered at start to what the
	// open-file limit allows. When full, a new connection replaces the
	// oldest one not serving a health check or a credential. Default 8192.
	MaxConns int
	// MaxConnsPerAddr caps the open connections of one client address (an
	// IPv6 /64 counts as one); excess ones get a 503. Default 256.
	MaxConnsPerAddr int
	// PublicRate and PublicBurst are the requests per second, and the burst
	// above that, one client address may send to the public surfaces: the
	// portal, the public JSON API, feeds, OAI-PMH and /files. Default 20 and
	// 100; a rate of 0 turns the limit off.
	PublicRate  float64
	PublicBurst int
	// SignInRate and SignInBurst are the attempts per minute, and the burst,
	// one client address may make at enrolment (POST /v1/enrol) and the
	// console's sign-in pages. Default 10 and 5; a rate of 0 turns the limit off.
	SignInRate  float64
	SignInBurst int
	// LongPollsPerCredential caps the long-polls one credential may hold
	// open at once. Default 4.
	LongPollsPerCredential int
	// FeedPageBytes caps one changes feed page (before compression); a page
	// always holds at least one change. Default 4 MiB.
	FeedPageBytes int
	// TrustedProxies are reverse proxies in front of the hub: behind them
	// the client address is taken from X-Forwarded-For, and their own
	// connections have no per-address cap.
	TrustedProxies []netip.Prefix
}

// DefaultLimitConfig returns the limits a hub runs with unless configured otherwise.
func DefaultLimitConfig() LimitConfig {
	return LimitConfig{
		HeaderTimeout:          10 * time.Second,
		ReadTimeout:            30 * time.Second,
		WriteTimeout:           30 * time.Second,
		IdleTimeout:            2 * time.Minute,
		TransferTimeout:        15 * time.Minute,
		MaxHeaderBytes:         64 << 10,
		MaxConns:               8192,
		MaxConnsPerAddr:        256,
		PublicRate:             20,
		PublicBurst:            100,
		SignInRate:             10,
		SignInBurst:            5,
		LongPollsPerCredential: 4,
		FeedPageBytes:          4 << 20,
	}
}

func (c LimitConfig) validate(bad func(field, format string, args ...any)) {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"Limits.HeaderTimeout", c.HeaderTimeout}, {"Limits.ReadTimeout", c.ReadTimeout},
		{"Limits.WriteTimeout", c.WriteTimeout}, {"Limits.IdleTimeout", c.IdleTimeout},
		{"Limits.TransferTimeout", c.TransferTimeout},
	} {
		if d.v <= 0 {
			bad(d.field, "must be positive")
		}
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		bad("Limits.MaxHeaderBytes", "must be between 4 KiB and 1 MiB, got %d", c.MaxHeaderBytes)
	}
	if c.MaxConns < 16 {
		bad("Limits.MaxConns", "must be at least 16, got %d", c.MaxConns)
	}
	if c.MaxConnsPerAddr < 1 {
		bad("Limits.MaxConnsPerAddr", "must be at least 1, got %d", c.MaxConnsPerAddr)
	}
	if c.PublicRate < 0 || (c.PublicRate > 0 && c.PublicBurst < 1) {
		bad("Limits.PublicRate", "must be 0 (off) or positive with a burst of at least 1")
	}
	if c.SignInRate < 0 || (c.SignInRate > 0 && c.SignInBurst < 1) {
		bad("Limits.SignInRate", "must be 0 (off) or positive with a burst of at least 1")
	}
	if c.LongPollsPerCredential < 1 {
		bad("Limits.LongPollsPerCredential", "must be at least 1, got %d", c.LongPollsPerCredential)
	}
	if c.FeedPageBytes < 64<<10 {
		bad("Limits.FeedPageBytes", "must be at least 64 KiB, got %d", c.FeedPageBytes)
	}
}

// limits is the hub's running limiter state.
type limits struct {
	cfg     LimitConfig
	proxies httplimit.Proxies
	public  *httplimit.RateLimiter // nil when off
	signIn  *httplimit.RateLimiter // nil when off
}

func newLimits(cfg LimitConfig) *limits {
	l := &limits{cfg: cfg, proxies: cfg.TrustedProxies}
	if cfg.PublicRate > 0 {
		l.public = httplimit.NewRateLimiter(cfg.PublicRate, cfg.PublicBurst)
	}
	if cfg.SignInRate > 0 {
		l.signIn = httplimit.NewRateLimiter(cfg.SignInRate/60, cfg.SignInBurst)
	}
	return l
}

// server builds the hub's HTTP server and the listener that caps its
// connections.
func (h *Hub) server(ln net.Listener) (*http.Server, *httplimit.Listener) {
	lc := h.limits.cfg
	maxConns := httplimit.FitConns(lc.MaxConns)
	if maxConns < lc.MaxConns {
		h.log.Warn("connection cap lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE) to allow more",
			"max_conns", lc.MaxConns, "effective", maxConns)
	}
	capped := httplimit.NewListener(ln, httplimit.ListenerConfig{
		MaxConns:        maxConns,
		MaxConnsPerAddr: lc.MaxConnsPerAddr,
		Exempt:          h.limits.proxies.Contains,
		RetryAfter:      time.Second,
		OnRefuse:        h.ops.metrics.limited.WithLabelValues("conn_refused").Inc,
		OnEvict:         h.ops.metrics.limited.WithLabelValues("conn_evicted").Inc,
	})
	return &http.Server{
		Handler:           h.guard(h.Handler()),
		ReadHeaderTimeout: lc.HeaderTimeout,
		IdleTimeout:       lc.IdleTimeout,
		MaxHeaderBytes:    lc.MaxHeaderBytes,
		ConnContext:       httplimit.ConnContext,
	}, capped
}

// guard applies the limits before a request reaches its handler: its read
// and write deadlines by route, the rate limits of unauthenticated
// requests, and protection of the connections of health checks and
// credentials.
func (h *Hub) guard(next http.Handler) http.Handler {
	lc := h.limits.cfg
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if path == "/healthz" || path == "/readyz" {
			defer httplimit.Protect(r.Context())()
			setDeadlines(w, lc.ReadTimeout, lc.WriteTimeout)
			next.ServeHTTP(w, r)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.ContentLength != 0 {
			// No GET route reads a body; one sent anyway would be waited
			// for under the long deadlines of downloads.
			w.Header().Set("Connection", "close")
			h.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "a %s request has no body", r.Method))
			return
		}
		authed := false
		if authz := r.Header.Get("Authorization"); authz != "" {
			_, err := h.authenticate(authz)
			authed = err == nil
		}
		// The read deadline also bounds the handler's work: once the body
		// is read, the server watches the connection, and a passed deadline
		// cancels the request's context.
		switch {
		case path == protocol.PathChanges:
			// The handler narrows the write deadline once its wait is over.
			d := h.cfg.LongPollMax + lc.WriteTimeout
			setDeadlines(w, d, d)
		case r.Method == http.MethodGet && (strings.HasPrefix(path, protocol.PathBlobs) || strings.HasPrefix(path, protocol.PathFiles)),
			authed && (path == protocol.PathPush || strings.HasPrefix(path, protocol.PathBlobs)):
			// Downloads, and the bodies of pushes and uploads: bulk data
			// at the client's pace.
			setDeadlines(w, lc.TransferTimeout, lc.TransferTimeout)
		default:
			setDeadlines(w, lc.ReadTimeout, lc.WriteTimeout)
		}
		if authed {
			defer httplimit.Protect(r.Context())()
			next.ServeHTTP(w, r)
			return
		}
		lim, reason := h.limits.public, "rate"
		if signInRoute(r) {
			lim, reason = h.limits.signIn, "sign_in"
		}
		if lim != nil {
			if ok, wait := lim.Allow(h.limits.proxies.ClientAddr(r)); !ok {
				h.ops.metrics.limited.WithLabelValues(reason).Inc()
				tooBusy(w, http.StatusTooManyRequests, protocol.CodeTooManyRequests, wait, "too many requests from this address")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// signInRoute reports the endpoints that take a secret from an
// unauthenticated client: guessing is slowed by their own, stricter rate.
func signInRoute(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == protocol.PathEnrol || strings.HasPrefix(r.URL.Path, pathConsoleSignIn))
}

func setDeadlines(w http.ResponseWriter, read, write time.Duration) {
	rc := http.NewResponseController(w)
	now := time.Now()
	rc.SetReadDeadline(now.Add(read))
	rc.SetWriteDeadline(now.Add(write))
}

// tooBusy answers a request the hub will not serve now. The connection is
// closed after the answer so an unread request body is never waited for.
func tooBusy(w http.ResponseWriter, status int, code protocol.Code, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(wait)))
	w.Header().Set("Connection", "close")
	writeJSON(w, status, protocol.ErrorResponse{Error: &protocol.Error{Code: code, Message: msg}})
}

// longPollSlot takes one of a credential's long-poll places; ok is false
// when all are held.
func (h *Hub) longPollSlot(who string) (release func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.longPolls[who] >= h.limits.cfg.LongPollsPerCredential {
		return nil, false
	}
	h.longPolls[who]++
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.longPolls[who]--; h.longPolls[who] <= 0 {
			delete(h.longPolls, who)
		}
	}, true
}

// feedWriteDeadline gives a feed page WriteTimeout from now: a client that
// stops reading loses its connection instead of holding the hub's memory.
func (h *Hub) feedWriteDeadline(w http.ResponseWriter) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.limits.cfg.WriteTimeout))
}
