package hub

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/privfile"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// shutdownTimeout bounds how long Run waits for in-flight requests.
const shutdownTimeout = 10 * time.Second

// PushCacheMiB is the page cache of hub.db's writer: a push of 1,000
// changes of ~1 KB dirties 2–3 MiB of pages, which must stay in the cache
// until the commit (sqlitedb.WriterCache).
const PushCacheMiB = 32

// housekeepInterval is how often pull cursors are flushed to the database and
// erasures are checked for completion. Status reads the in-memory cursors, so
// it stays exact; this only bounds what a crash can forget (a cursor a node
// will report again on its next poll anyway).
const housekeepInterval = 2 * time.Second

// Hub is an open hub: its database, keys and in-memory sync state. It owns
// its background goroutines; Close stops them.
type Hub struct {
	cfg        Config
	log        *slog.Logger
	db         *sqlitedb.DB
	key        protocol.Key
	adminToken string
	// now is the clock; tests replace it.
	now func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// verifyQ feeds the records of every push to one verifier per core
	// (apply.go), oldest push first.
	verifyQ chan verifyJob

	// writeMu serialises apply transactions, so hub_seq allocation from head
	// is safe and commit order is hub_seq order.
	writeMu sync.Mutex
	// head is the last committed hub_seq.
	head atomic.Int64

	// keys is the key directory, copied on write (enrolment is rare, lookups
	// happen once per pushed change).
	keys atomic.Pointer[map[string]protocol.KeyInfo]
	// keysMu serialises reloads of keys (reloadKeys).
	keysMu sync.Mutex

	// mu guards nodes, mirrors and notify.
	mu    sync.Mutex
	nodes map[string]*nodeState
	// mirrors are the registered mirrors (mirrors.go).
	mirrors map[string]*mirrorState
	notify  chan struct{} // closed and replaced at every commit, to wake long-polls

	// authorMu serialises hub authoring, which allocates the hub's outbox seq.
	authorMu sync.Mutex

	// accounts and mailer are the coordination team's members and the mail
	// server that invites them (members.go); listenAddr is where Run listens.
	accounts   *account.Store
	mailer     mail.Sender
	listenAddr atomic.Value

	drainOnce sync.Once
	drain     chan struct{} // closed when the server shuts down: long-polls return at once
	kick      chan struct{} // wakes the housekeeping loop early

	gzip   sync.Pool
	closed atomic.Bool

	// ops is membership, metrics and the lag history (membership.go).
	ops *ops
	// console is the coordination team's console, set by SetConsole.
	console http.Handler

	portal *portal.Portal // the public portal; its indexer runs with Run
	// pushing counts pushes being read or applied and pushedAt is when the
	// last one ended (unix ms): the portal's indexer steps back while nodes
	// push, so indexing never slows down applying.
	pushing  atomic.Int32
	pushedAt atomic.Int64
	stmts    applyStmts // the apply path's prepared statements (apply.go)

	blobs blobState // attachments' store and staging, opened at first use (blobs.go)

	incarnation incarnationState // this start of the server and the ones before (incarnation.go)
	limits      *limits          // the HTTP server's limits (limits.go)
	// longPolls counts the long-polls each credential holds; guarded by mu.
	longPolls map[string]int

	// The bulletin (bulletin.go, subscribers.go, bulletinsend.go): the
	// languages its subscribers choose among and its mails speak, the
	// limit of subscriptions per client address (nil: none), and the
	// sender's wake-up and its stop after failures.
	bulletinLangs  *locale.Bundle
	subscribeLimit *httplimit.RateLimiter
	sendKick       chan struct{}
	senderStopped  atomic.Bool
}

// nodeState is the in-memory copy of a node's row, so authentication and an
// idle poll touch no database.
type nodeState struct {
	name           string
	countries      []string // the countries it may publish a profile for
	credHash       []byte
	enrolled       bool
	enrolledHubSeq int64
	epoch          string
	appliedSeq     int64
	headSeq        int64
	pullCursor     int64
	lastPullAt     time.Time
	pullDirty      bool
	suspended      bool          // every sync request is refused (nodeadmin.go)
	removed        bool          // deregistered: no credential, no enrolment, not an erasure holder
	inflight       []*pushTicket // pushes admitted and not finished (admit.go)
}

// Open opens the hub in cfg.DataDir: the database (migrated), the hub's
// signing key and the operator token, creating them on first use.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Hub, error) {
	return open(ctx, cfg, logger, time.Now)
}

// OpenForCommand opens the hub for a one-shot command while no server runs:
// the database and keys, without the portal or any background work, so the
// command writes hub.db and nothing else. Its Handler serves the API without
// the portal.
func OpenForCommand(ctx context.Context, cfg Config, logger *slog.Logger) (*Hub, error) {
	return openHub(ctx, cfg, logger, time.Now, false)
}

// open is Open with a clock, for tests of expiry and scheduling.
func open(ctx context.Context, cfg Config, logger *slog.Logger, now func() time.Time) (*Hub, error) {
	return openHub(ctx, cfg, logger, now, true)
}

// openHub opens the hub; serving adds the portal and the background work a
// server needs.
func openHub(ctx context.Context, cfg Config, logger *slog.Logger, now func() time.Time, serving bool) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open hub: invalid config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open hub: %w", err)
	}
	privfile.WarnIfOpen(logger.With("component", "hub"), cfg.DataDir)
	h := &Hub{
		cfg:     cfg,
		log:     logger.With("component", "hub"),
		now:     now,
		nodes:   make(map[string]*nodeState),
		mirrors: make(map[string]*mirrorState),
		notify:  make(chan struct{}),
		drain:   make(chan struct{}),
		kick:    make(chan struct{}, 1),

		limits:    newLimits(cfg.Limits),
		longPolls: make(map[string]int),
		sendKick:  make(chan struct{}, 1),
	}
	if cfg.Bulletin.SubscribeRate > 0 {
		h.subscribeLimit = httplimit.NewRateLimiter(cfg.Bulletin.SubscribeRate/3600, cfg.Bulletin.SubscribeBurst)
	}
	h.initOps()
	var err error
	if h.key, err = loadOrCreateKey(filepath.Join(cfg.DataDir, "hub.key")); err != nil {
		return nil, fmt.Errorf("open hub: %w", err)
	}
	h.adminToken = cfg.AdminToken
	if h.adminToken == "" {
		if h.adminToken, err = loadOrCreateToken(filepath.Join(cfg.DataDir, "admin.token")); err != nil {
			return nil, fmt.Errorf("open hub: %w", err)
		}
	}
	migrations, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open hub: %w", err)
	}
	if h.db, err = sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "hub.db"), migrations, sqlitedb.WriterCache(PushCacheMiB),
		sqlitedb.MigrationStep(changesAtRestVersion, migrateChangesAtRest)); err != nil {
		return nil, fmt.Errorf("open hub: %w", err)
	}
	if err := h.loadAll(ctx); err != nil {
		h.db.Close()
		return nil, fmt.Errorf("open hub: %w", err)
	}
	if h.accounts, h.mailer, err = openAccounts(ctx, h.db, cfg, logger); err != nil {
		h.db.Close()
		return nil, fmt.Errorf("open hub: %w", err)
	}
	if h.bulletinLangs, err = bulletinBundle(); err != nil {
		h.db.Close()
		return nil, fmt.Errorf("open hub: %w", err)
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if !serving {
		return h, nil
	}
	pcfg := portal.Config{DataDir: cfg.DataDir, PublicURL: cfg.PublicURL, MinisiteHosts: cfg.MinisiteHosts,
		AdminEmail: cfg.OAIAdminEmail, RepositoryName: cfg.OAIRepositoryName, Now: h.now}
	if cfg.Blobs.Store == BlobStoreS3 && cfg.Blobs.Redirect {
		// Without a region, finding the origin asks the store, which may
		// not be up yet; the portal then still works, but its pages block
		// players and posters redirected to the store.
		if origin, err := s3.DownloadOrigin(ctx, cfg.Blobs.S3); err != nil {
			h.log.Warn("pages will not allow media from the object store", "err", err)
		} else {
			pcfg.MediaOrigins = []string{origin}
		}
	}
	if h.portal, err = portal.Open(ctx, pcfg, portalSource{h}, logger); err != nil {
		h.cancel()
		h.db.Close()
		return nil, fmt.Errorf("open hub: %w", err)
	}
	h.portal.SetSubscriptions(h)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.housekeep()
	}()
	if cfg.Backup.To != "" {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.backupLoop()
		}()
	}
	h.startVerifiers()
	h.wg.Add(1)
	go h.runSender()     // a sending a crash cut goes on (bulletinsend.go)
	h.kickHousekeeping() // erasures left pending by the last run
	h.log.Info("hub open", "data_dir", cfg.DataDir, "hub_seq", h.head.Load(), "key_id", h.key.ID)
	return h, nil
}

// Close stops the background work, saves the pull cursors and closes the
// database. Call it after Run has returned.
func (h *Hub) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.cancel()
	h.stopLongPolls()
	h.wg.Wait()
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.flushCursors(ctx); err != nil {
		errs = append(errs, err)
	}
	if h.portal != nil {
		if err := h.portal.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close hub: %w", err)
	}
	return nil
}

// Run serves the hub's HTTP API on ln until ctx is done, then shuts the server
// down, giving in-flight requests up to 10 seconds.
func (h *Hub) Run(ctx context.Context, ln net.Listener) error {
	if err := h.startIncarnation(ctx); err != nil {
		return err
	}
	h.listenAddr.Store(ln.Addr().String())
	srv, ln := h.server(ln)
	srv.ErrorLog = slog.NewLogLogger(h.log.Handler(), slog.LevelWarn)
	// Long-polls would otherwise hold Shutdown for their whole wait.
	srv.RegisterOnShutdown(h.stopLongPolls)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	pctx, stopIndex := context.WithCancel(ctx)
	defer stopIndex()
	h.wg.Go(func() { h.portal.Run(pctx) })
	stopOps, err := h.startOps(ln)
	if err != nil {
		srv.Close()
		<-errc
		return err
	}
	defer stopOps()
	h.startBlobGC()
	h.log.Info("hub serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Leave the gossip cluster before the API goes away, so that nodes see
	// a departure, not a failure, and /readyz turns away new traffic.
	stopOps()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func (h *Hub) stopLongPolls() { h.drainOnce.Do(func() { close(h.drain) }) }

// AdminToken returns the operator's bearer token.
func (h *Hub) AdminToken() string { return h.adminToken }

// HubSeq returns the last committed hub_seq.
func (h *Hub) HubSeq() int64 { return h.head.Load() }

// KeyID returns the id of the hub's signing key.
func (h *Hub) KeyID() string { return h.key.ID }

// housekeep flushes pull cursors, completes erasures and notices changes
// committed to the database by anything but the apply path, every
// housekeepInterval or when kicked.
func (h *Hub) housekeep() {
	t := time.NewTicker(housekeepInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		if err := h.refreshHead(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("refresh hub_seq", "err", err)
		}
		if err := h.flushCursors(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("flush pull cursors", "err", err)
		}
		if err := h.flushMirrors(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("flush mirror cursors", "err", err)
		}
		if err := h.completeErasures(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("complete erasures", "err", err)
		}
	}
}

// advanceHead publishes a committed hub_seq and wakes the long-polls.
func (h *Hub) advanceHead(head int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.head.Load()
	if head <= old {
		return
	}
	h.head.Store(head)
	close(h.notify)
	h.notify = make(chan struct{})
	// Every applied change took the next hub_seq. Gossip tells the nodes.
	h.ops.metrics.applied.Add(float64(head - old))
	h.hintHead(head)
}

// refreshHead picks up changes another process committed to the database.
func (h *Hub) refreshHead(ctx context.Context) error {
	var head int64
	if err := h.db.Reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
		return fmt.Errorf("read hub_seq: %w", err)
	}
	h.advanceHead(head)
	return nil
}

func (h *Hub) kickHousekeeping() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// loadOrCreateKey reads the hub's 32-byte Ed25519 seed, creating it (0600) on
// first use.
func loadOrCreateKey(path string) (protocol.Key, error) {
	if err := privfile.Restrict(path); err != nil {
		return protocol.Key{}, fmt.Errorf("hub key: %w", err)
	}
	seed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return protocol.Key{}, fmt.Errorf("hub key: %w", err)
		}
		if err := writeSecretFile(path, seed); err != nil {
			return protocol.Key{}, fmt.Errorf("hub key: %w", err)
		}
	} else if err != nil {
		return protocol.Key{}, fmt.Errorf("hub key: %w", err)
	}
	k, err := protocol.KeyFromSeed(protocol.HubID, seed)
	if err != nil {
		return protocol.Key{}, fmt.Errorf("hub key %s: %w", path, err)
	}
	return k, nil
}

// loadOrCreateToken reads the operator token, creating a random one (0600) on
// first use.
func loadOrCreateToken(path string) (string, error) {
	if err := privfile.Restrict(path); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < minAdminToken {
			return "", fmt.Errorf("admin token %s: shorter than %d characters", path, minAdminToken)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok, err := randomSecret()
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := writeSecretFile(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// writeSecretFile creates path with mode 0600, refusing to overwrite, and
// syncs it so a crash right after Open cannot lose the key that signed
// something.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// randomSecret returns 32 random bytes, base64url without padding.
func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
