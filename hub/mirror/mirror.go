// Package mirror is a read-only replica of the hub's public portal, for
// serving Safer Internet Day's traffic from several machines behind a load
// balancer (docs/scale.md).
//
// A mirror enrols with the hub with a one-time token (Enrol), then pulls
// the hub's public selection with the sync protocol (long-polls of the
// changes feed with its mirror credential), verifies every change's
// signature against the key directory as a node does, refuses anything
// that is not public, and keeps what it accepted in mirror.db. Its own
// portal index (package portal, portal.db) is built from that copy, so it
// serves the same pages, feeds, sitemaps, JSON API and OAI-PMH answers as
// the hub, with the same ETags. Attachments come from the object store (a
// presigned redirect, or streamed) or, without one, from the hub once and
// then from the mirror's own cache.
//
// Erasures reach a mirror in the feed: it applies them, purges its copy,
// its index and its cached attachments, then acknowledges them, and the
// hub lists it among the holders until it has.
//
// A mirror never holds community or youth content, nor anyone's personal
// data: the hub sends it nothing else, and it refuses a non-public change
// should one arrive. Bulletin subscriptions, the one form of the public
// portal that takes personal data, are passed to the hub as they come.
//
// Routes (Handler):
//
//	GET /healthz                  200 "ok" once caught up with the hub; 503 before
//	GET /files/{sha256}/{name}    an attachment of a public entity
//	POST /…, GET /…/bulletin/…    bulletin subscription pages: proxied to the hub
//	GET /…                        the public portal (package portal)
package mirror

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/file"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// IdentityFile is the mirror's enrolment, in its data directory.
const IdentityFile = "mirror.json"

// Identity is what enrolment gave the mirror. The credential reads the
// hub's public feed only; the file is private to the mirror's user.
type Identity struct {
	Hub               string `json:"hub"`
	Name              string `json:"name"`
	Credential        string `json:"credential"`
	PublicURL         string `json:"public_url,omitempty"`
	OAIKey            []byte `json:"oai_key,omitempty"`
	OAIAdminEmail     string `json:"oai_admin_email,omitempty"`
	OAIRepositoryName string `json:"oai_repository_name,omitempty"`
}

// Enrol spends token at the hub and writes the mirror's identity into
// dataDir.
func Enrol(ctx context.Context, dataDir, hubURL, token string) (*Identity, error) {
	u, err := url.Parse(hubURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("enrol mirror: %q is not the hub's http(s) URL", hubURL)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("enrol mirror: %w", err)
	}
	c := protocol.NewClient(protocol.DefaultClientConfig(strings.TrimRight(hubURL, "/")))
	res, err := c.EnrolMirror(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	id := &Identity{Hub: strings.TrimRight(hubURL, "/"), Name: res.Name, Credential: res.Credential, PublicURL: res.PublicURL,
		OAIKey: res.OAIKey, OAIAdminEmail: res.OAIAdminEmail, OAIRepositoryName: res.OAIRepositoryName}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("enrol mirror: %w", err)
	}
	path := filepath.Join(dataDir, IdentityFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("enrol mirror: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("enrol mirror: %w", err)
	}
	return id, nil
}

// LoadIdentity reads the identity Enrol wrote.
func LoadIdentity(dataDir string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, IdentityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s: enrol the mirror first (bikfed mirror init)", dataDir, IdentityFile)
	}
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("read %s: %w", IdentityFile, err)
	}
	if id.Hub == "" || id.Credential == "" {
		return nil, fmt.Errorf("read %s: no hub or credential", IdentityFile)
	}
	return &id, nil
}

// Config is a mirror's configuration.
type Config struct {
	DataDir string
	// PublicURL is the portal's public address (the load balancer's); empty
	// takes the hub's, given at enrolment.
	PublicURL     string
	MinisiteHosts map[string]string
	// Blobs says where attachments come from: the hub's object store when
	// Store is "s3", else the hub, cached under DataDir/files.
	Blobs BlobConfig
	// LongPoll is how long one pull waits at the hub for news.
	LongPoll time.Duration
	// IndexSettle is how long the mirror's index gathers pulled changes
	// before it indexes them (portal.Config.IndexSettle).
	IndexSettle time.Duration
	// PageCacheBytes and MaxAge are the portal's (portal.Config).
	PageCacheBytes int
	MaxAge         time.Duration
}

// BlobConfig is where a mirror's attachments come from.
type BlobConfig struct {
	Store         string // "s3", or empty for the hub and a local cache
	S3            s3.Config
	Redirect      bool          // with s3: presigned redirects, else streamed
	PresignExpiry time.Duration // with Redirect
}

// DefaultConfig returns a mirror's defaults.
func DefaultConfig() Config {
	return Config{DataDir: "bikfed-mirror", LongPoll: 30 * time.Second, IndexSettle: time.Second,
		Blobs: BlobConfig{Redirect: true, PresignExpiry: 15 * time.Minute}}
}

// pageLimit is how many changes one pull asks for.
const pageLimit = 1000

// Mirror is an open mirror.
type Mirror struct {
	cfg    Config
	id     *Identity
	log    *slog.Logger
	db     *sqlitedb.DB
	portal *portal.Portal
	client *protocol.Client
	hubURL *url.URL
	proxy  *httputil.ReverseProxy

	mu       sync.Mutex
	notify   chan struct{} // closed and replaced at every commit
	bindings map[string][]string
	keys     protocol.KeyLookup
	keysAt   time.Time

	ready    atomic.Bool
	subsOpen atomic.Bool // the hub takes bulletin subscriptions
	cursor   atomic.Int64
	ackKick  chan struct{}

	store blobstore.Store // the object store, with Blobs.Store "s3"
	cache *file.Store     // else the attachments fetched from the hub
	fetch *http.Client
}

// Open opens (creating or migrating) the mirror's databases in
// cfg.DataDir; the mirror must have been enrolled there.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Mirror, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LongPoll <= 0 {
		cfg.LongPoll = 30 * time.Second
	}
	id, err := LoadIdentity(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	hubURL, err := url.Parse(id.Hub)
	if err != nil {
		return nil, fmt.Errorf("open mirror: hub %q: %w", id.Hub, err)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = id.PublicURL
	}
	if err := startAfresh(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("open mirror: rebuild: %w", err)
	}
	migrations, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "mirror.db"), migrations)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	m := &Mirror{cfg: cfg, id: id, log: logger.With("mirror", id.Name), db: db, hubURL: hubURL,
		notify: make(chan struct{}), ackKick: make(chan struct{}, 1), fetch: &http.Client{Timeout: 10 * time.Minute}}
	fail := func(err error) (*Mirror, error) {
		db.Close()
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	var cursor int64
	if err := db.Reader().QueryRowContext(ctx, `SELECT value FROM state WHERE key = 'cursor'`).Scan(&cursor); err != nil {
		return fail(err)
	}
	m.cursor.Store(cursor)
	m.bindings = m.loadBindings()
	cc := protocol.DefaultClientConfig(id.Hub)
	cc.Credential = id.Credential
	cc.UserAgent = "bikfed-mirror/1"
	cc.Logger = m.log
	m.client = protocol.NewClient(cc)
	switch cfg.Blobs.Store {
	case "s3":
		if m.store, err = s3.New(ctx, cfg.Blobs.S3); err != nil {
			return fail(err)
		}
	case "", "hub":
		if m.cache, err = file.New(filepath.Join(cfg.DataDir, "files")); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("blob store %q is not s3 or hub", cfg.Blobs.Store))
	}
	pcfg := portal.Config{DataDir: cfg.DataDir, PublicURL: cfg.PublicURL, MinisiteHosts: cfg.MinisiteHosts,
		AdminEmail: id.OAIAdminEmail, RepositoryName: id.OAIRepositoryName, OAIKey: id.OAIKey,
		PageCacheBytes: cfg.PageCacheBytes, MaxAge: cfg.MaxAge, IndexSettle: cfg.IndexSettle}
	if m.store != nil && cfg.Blobs.Redirect {
		origin, err := s3.DownloadOrigin(ctx, cfg.Blobs.S3)
		if err != nil {
			return fail(err)
		}
		pcfg.MediaOrigins = []string{origin}
	}
	if m.portal, err = portal.Open(ctx, pcfg, source{m}, logger); err != nil {
		return fail(err)
	}
	m.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(m.hubURL)
			r.SetXForwarded()
			// The hub's portal serves minisites by host name: it sees the
			// visitor's.
			r.Out.Host = r.In.Host
		},
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.portal.SetSubscriptions(hubSubscriptions{&m.subsOpen})
	return m, nil
}

// Close closes the mirror's databases; Run must have returned.
func (m *Mirror) Close() error {
	return errors.Join(m.portal.Close(), m.db.Close())
}

// Name is the mirror's registered name.
func (m *Mirror) Name() string { return m.id.Name }

// Ready reports whether the mirror has caught up with the hub once and
// indexed what it pulled: before that it would serve an incomplete portal.
func (m *Mirror) Ready() bool { return m.ready.Load() }

// Cursor is the hub_seq up to which the mirror holds the public selection.
func (m *Mirror) Cursor() int64 { return m.cursor.Load() }

// Portal is the mirror's portal.
func (m *Mirror) Portal() *portal.Portal { return m.portal }

// Run pulls, indexes and acknowledges until ctx is done, or until the hub
// turns out to have been restored from a backup (ErrHubRestored).
func (m *Mirror) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { m.portal.Run(ctx) })
	wg.Go(func() { m.ackLoop(ctx) })
	wg.Go(func() { m.bindingsLoop(ctx) })
	err := m.pullLoop(ctx)
	cancel()
	wg.Wait()
	return err
}

// ErrHubRestored stops a mirror whose hub was restored from a backup older
// than what the mirror holds. The mirror rebuilds its copy at its next
// start (Open), so a supervisor that restarts it heals it.
var ErrHubRestored = errors.New("the hub was restored from an older backup")

// rebuildFile in the data directory makes Open start the copy afresh.
const rebuildFile = "rebuild"

// startAfresh removes the mirror's copy and index when a rebuild is due.
func startAfresh(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, rebuildFile)); err != nil {
		return nil
	}
	for _, db := range []string{"mirror.db", "portal.db"} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(filepath.Join(dir, db+suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return os.Remove(filepath.Join(dir, rebuildFile))
}

// Handler serves the public portal, its attachments and /healthz.
func (m *Mirror) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !m.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "catching up")
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET "+protocol.PathFiles+"{sha256}/{name}", m.handleFile)
	portalHandler := m.portal.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if toHub(r) {
			m.proxy.ServeHTTP(w, r)
			return
		}
		portalHandler.ServeHTTP(w, r)
	})
	return mux
}

// toHub reports whether a request belongs to the hub: the bulletin's
// subscription, confirmation and unsubscription, whose addresses and
// tokens only the hub holds. Everything else the portal answers.
func toHub(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	p := r.URL.Path
	return strings.Contains(p, "/bulletin/confirm") || strings.Contains(p, "/bulletin/unsubscribe") ||
		strings.Contains(p, "/bulletin/subscribe")
}

// hubSubscriptions stands for the hub's subscribers on a mirror's pages:
// every subscription request is passed to the hub before the portal sees
// it (toHub), so only Open, which decides whether the pages show the form,
// is ever asked; it answers as the hub last said.
type hubSubscriptions struct{ open *atomic.Bool }

func (s hubSubscriptions) Open() bool { return s.open.Load() }
func (hubSubscriptions) Subscribe(*http.Request, string, string) error {
	return errors.New("subscriptions are taken by the hub")
}
func (hubSubscriptions) CheckBulletinLink(string, bool) error {
	return errors.New("subscriptions are taken by the hub")
}
func (hubSubscriptions) ConfirmSubscription(context.Context, string) error {
	return errors.New("subscriptions are taken by the hub")
}
func (hubSubscriptions) Unsubscribe(context.Context, string) error {
	return errors.New("subscriptions are taken by the hub")
}

// shutdownTimeout is how long in-flight requests get when the mirror stops.
const shutdownTimeout = 10 * time.Second

// Serve runs the mirror (Run) and serves Handler on ln until ctx is done.
func (m *Mirror) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	rctx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(rctx) }()
	m.log.Info("mirror serving", "addr", ln.Addr().String(), "hub", m.id.Hub)
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	}
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
		stop()
		<-runErr
	case err = <-runErr:
		// The hub was restored: stop serving an outdated copy.
		stop()
		err = errors.Join(err, shutdown())
	case <-ctx.Done():
		err = shutdown()
		stop()
		<-runErr
	}
	return err
}
