package node

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/httplimit"
)

// LimitConfig bounds what clients can take from the admin API's server.
// Every route but the health checks needs the admin token, so there is no
// rate limit here; a request with the token, or a health check, keeps its
// connection even when the server is full.
type LimitConfig struct {
	// HeaderTimeout is how long a client has to send a request's headers.
	HeaderTimeout time.Duration `json:"header_timeout"`
	// ReadTimeout is how long an ordinary request may take from its headers
	// to the end of its body and of the node's work on it.
	ReadTimeout time.Duration `json:"read_timeout"`
	// WriteTimeout is how long writing an ordinary answer may take.
	WriteTimeout time.Duration `json:"write_timeout"`
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// TransferTimeout bounds imports, attachment uploads and downloads, and
	// the sync and verify requests that wait for the hub.
	TransferTimeout time.Duration `json:"transfer_timeout"`
	// MaxHeaderBytes caps a request's headers.
	MaxHeaderBytes int `json:"max_header_bytes"`
	// MaxConns caps open connections, lowered at start to what the
	// open-file limit allows. When full, a new connection replaces the
	// oldest one not serving a health check or an authorised request.
	MaxConns int `json:"max_conns"`
}

// DefaultLimitConfig returns the admin API's limits unless configured otherwise.
func DefaultLimitConfig() LimitConfig {
	return LimitConfig{
		HeaderTimeout:   10 * time.Second,
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		IdleTimeout:     2 * time.Minute,
		TransferTimeout: 30 * time.Minute,
		MaxHeaderBytes:  64 << 10,
		MaxConns:        1024,
	}
}

func (c LimitConfig) validate(bad func(field, format string, args ...any)) {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"limits.header_timeout", c.HeaderTimeout}, {"limits.read_timeout", c.ReadTimeout},
		{"limits.write_timeout", c.WriteTimeout}, {"limits.idle_timeout", c.IdleTimeout},
		{"limits.transfer_timeout", c.TransferTimeout},
	} {
		if d.v <= 0 {
			bad(d.field, "must be positive")
		}
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		bad("limits.max_header_bytes", "%d must be between 4 KiB and 1 MiB", c.MaxHeaderBytes)
	}
	if c.MaxConns < 16 {
		bad("limits.max_conns", "%d must be at least 16", c.MaxConns)
	}
}

// server builds the admin API's HTTP server and the listener that caps
// its connections.
func (n *Node) server(ln net.Listener) (*http.Server, *httplimit.Listener) {
	lc := n.cfg.Limits
	maxConns := httplimit.FitConns(lc.MaxConns)
	if maxConns < lc.MaxConns {
		n.log.Warn("connection cap lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE) to allow more",
			"max_conns", lc.MaxConns, "effective", maxConns)
	}
	capped := httplimit.NewListener(ln, httplimit.ListenerConfig{
		MaxConns:   maxConns,
		RetryAfter: time.Second,
	})
	return &http.Server{
		Handler:           n.guard(n.Handler()),
		ReadHeaderTimeout: lc.HeaderTimeout,
		IdleTimeout:       lc.IdleTimeout,
		MaxHeaderBytes:    lc.MaxHeaderBytes,
		ConnContext:       httplimit.ConnContext,
	}, capped
}

// guard sets a request's read and write deadlines by route and protects
// the connections of health checks and authorised requests.
func (n *Node) guard(next http.Handler) http.Handler {
	lc := n.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		read, write := lc.ReadTimeout, lc.WriteTimeout
		if transferRoute(r.URL.Path) {
			read, write = lc.TransferTimeout, lc.TransferTimeout
		}
		rc := http.NewResponseController(w)
		now := time.Now()
		// The read deadline also bounds the handler's work: once the body
		// is read, the server watches the connection, and a passed deadline
		// cancels the request's context.
		rc.SetReadDeadline(now.Add(read))
		rc.SetWriteDeadline(now.Add(write))
		if r.URL.Path == PathHealth || r.URL.Path == "/readyz" || n.authorised(r) {
			defer httplimit.Protect(r.Context())()
		}
		next.ServeHTTP(w, r)
	})
}

// transferRoute reports the routes that move bulk data or wait for the hub.
func transferRoute(path string) bool {
	return path == PathAdminImport || path == PathAdminSync || path == PathAdminVerify ||
		path == PathAdminBlobs || strings.HasPrefix(path, PathAdminBlobs+"/")
}
