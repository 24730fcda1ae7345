package node

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/privfile"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// Files in the data dir. The key lives apart from the database so that a lost
// or restored database keeps the node's identity.
const (
	dbFile         = "node.db"
	keyFile        = "node.key"
	adminTokenFile = "admin.token"
)

// readerMmap is how much of the database the readers map into memory: a
// community search reads pages all over a large full-text index, and a
// mapped page costs no read call.
const readerMmap = 2 << 30

// Node is a running national node: its database, its key, its sync client.
type Node struct {
	cfg        Config
	log        *slog.Logger
	db         *sqlitedb.DB
	key        protocol.Key
	ident      Identity
	client     *protocol.Client
	adminToken string

	// pushMu serialises pushes with epoch switches, which renumber the outbox.
	pushMu sync.Mutex
	// pullMu serialises applying feed pages; fetching runs outside it so a
	// long-poll never blocks an on-demand sync.
	pullMu sync.Mutex

	keysMu sync.Mutex
	keys   protocol.KeyLookup
	keysAt time.Time // when keys was fetched

	// echoes are own changes the hub acknowledged, which a pull then
	// skips instead of verifying and applying them again (echo.go).
	echoes echoSet

	// kick asks the push loop for a debounced push after a local write.
	kick chan struct{}
	// needCheckpoint is set when an erasure was applied, so housekeeping
	// flushes the WAL that may still hold the purged text.
	needCheckpoint atomic.Bool
	closeOnce      sync.Once
	// clockOff is set while the local clock is more than maxClockSkew from
	// the hub's (clock.go).
	clockOff atomic.Bool
	// storedSkew is the hub's clock minus ours as stored by the last process
	// that measured it (nanoseconds), valid when hasStoredSkew is set.
	storedSkew    atomic.Int64
	hasStoredSkew atomic.Bool

	// ops is gossip membership and metrics (membership.go, metrics.go).
	ops *nodeOps

	// blobs is the local blob store of attachments (blobs.go).
	blobs nodeBlobs

	// accounts and mailer are the node's members and the mail server that
	// invites them (members.go); listenAddr is where Run listens.
	accounts   *account.Store
	mailer     mail.Sender
	listenAddr atomic.Value

	// workspace is the people's web workspace (SetWorkspace); apiOrigin
	// keeps other sites from acting through a member's session cookie on
	// the admin API (apiauth.go).
	workspace atomic.Value
	apiOrigin *http.CrossOriginProtection

	// terms caches the community search index's common words
	// (communityrank.go).
	terms termCache
	// The community's email notifications (notify.go, notifysend.go):
	// the time zone of the digest hour, the sender's wake-up, the key of
	// unsubscribe links and the message catalogues, both read once.
	notifyLoc      *time.Location
	notifyKick     chan struct{}
	notifyPruned   time.Time
	notifyPeriod   string // the digest period last planned
	notifyKeyMu    sync.Mutex
	notifyKeyBytes []byte
	bundleOnce     sync.Once
	bundle         *locale.Bundle
	bundleErr      error
}

// Init enrols a node with the hub and stores its identity in dataDir. token is
// the one-time enrolment token "<node>.<secret>" from the hub's register-node.
// The node key is created once and reused; every Init starts a new epoch and
// resets the pull cursor, so re-initialising an existing node (a new token
// after a restore, say) makes it re-adopt its content from the hub.
func Init(ctx context.Context, dataDir, hubURL, token string, logger *slog.Logger) (*Identity, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "node")
	nodeID, secret, ok := strings.Cut(token, ".")
	if !ok || secret == "" {
		return nil, errors.New("init: enrolment token must be <node>.<secret>")
	}
	if err := protocol.ValidNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("init: enrolment token: %w", err)
	}
	if nodeID == protocol.HubID {
		return nil, errors.New("init: the hub id cannot be used by a node")
	}
	if u, err := url.Parse(hubURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("init: hub URL %q must be an http(s) URL", hubURL)
	}
	if dataDir == "" {
		return nil, errors.New("init: data dir required")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("init: create data dir: %w", err)
	}
	privfile.WarnIfOpen(log, dataDir)

	db, err := sqlitedb.Open(ctx, filepath.Join(dataDir, dbFile), migrations(), atRest, pageSize)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	defer db.Close()
	var existing string
	err = db.Reader().QueryRowContext(ctx, `SELECT node FROM identity WHERE id = 1`).Scan(&existing)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("init: read identity: %w", err)
	}
	if existing != "" && existing != nodeID {
		return nil, fmt.Errorf("init: data dir %s belongs to node %q, the token is for %q", dataDir, existing, nodeID)
	}

	key, created, err := loadOrCreateKey(dataDir, nodeID)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if created {
		log.Info("created node key", "key_id", key.ID)
	}
	if _, err := ensureAdminToken(dataDir); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	epoch, err := newEpochID()
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}

	ccfg := DefaultConfig().Client.clientConfig(hubURL, "")
	ccfg.Logger = log
	client := protocol.NewClient(ccfg)
	resp, err := client.Enrol(ctx, protocol.EnrolRequest{
		Node: nodeID, Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: epoch,
	})
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if resp.Credential == "" {
		return nil, errors.New("init: hub returned no credential")
	}

	now := time.Now().UTC()
	id := &Identity{Node: nodeID, Name: resp.Name, HubURL: hubURL, KeyID: key.ID, Epoch: epoch, EnrolledAt: now, Credential: resp.Credential,
		Countries: resp.Countries}
	// NULL when the hub did not say: the node then assumes the hub's default.
	var countries any
	if resp.Countries != nil {
		countries = strings.Join(resp.Countries, ",")
	}
	var renumbered int
	err = db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO identity (id, node, name, hub_url, credential, key_id, enrolled_at, countries)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET node = excluded.node, name = excluded.name, hub_url = excluded.hub_url,
				credential = excluded.credential, key_id = excluded.key_id, enrolled_at = excluded.enrolled_at,
				countries = excluded.countries`,
			id.Node, id.Name, id.HubURL, id.Credential, id.KeyID, fmtTime(now), countries)
		if err != nil {
			return fmt.Errorf("store identity: %w", err)
		}
		renumbered, err = startEpochTx(ctx, tx, key, epoch, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("init: enrolled with the hub but could not store the credential (ask for a new token): %w", err)
	}
	log.Info("node enrolled", "node", nodeID, "hub", hubURL, "epoch", epoch, "renumbered", renumbered, "reinit", existing != "")
	return id, nil
}

// loadOrCreateKey reads the node's 32-byte Ed25519 seed, creating it (0600) if missing.
func loadOrCreateKey(dataDir, nodeID string) (protocol.Key, bool, error) {
	path := filepath.Join(dataDir, keyFile)
	if err := privfile.Restrict(path); err != nil {
		return protocol.Key{}, false, fmt.Errorf("read node key: %w", err)
	}
	seed, err := os.ReadFile(path)
	if err == nil {
		k, err := protocol.KeyFromSeed(nodeID, seed)
		if err != nil {
			return k, false, fmt.Errorf("read %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return protocol.Key{}, false, fmt.Errorf("read node key: %w", err)
	}
	k, err := protocol.GenerateKey(nodeID)
	if err != nil {
		return k, false, err
	}
	if err := writeFileExcl(path, k.Private.Seed()); err != nil {
		return k, false, fmt.Errorf("write node key: %w", err)
	}
	return k, true, nil
}

// writeFileExcl creates a private file, refusing to overwrite one: a key or
// token that exists is never silently replaced.
func writeFileExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AdminTokenPath is where a node keeps its admin API token.
func AdminTokenPath(dataDir string) string { return filepath.Join(dataDir, adminTokenFile) }

// ensureAdminToken returns the admin token in dataDir, creating it (0600) if missing.
func ensureAdminToken(dataDir string) (string, error) {
	path := AdminTokenPath(dataDir)
	if err := privfile.Restrict(path); err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", fmt.Errorf("admin token in %s is shorter than 16 characters", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := writeFileExcl(path, []byte(tok+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ensureAdminToken(dataDir)
		}
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return tok, nil
}

// Open opens an initialised node's data dir. It does not start syncing: Run does.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open node: invalid config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dbPath := filepath.Join(cfg.DataDir, dbFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return nil, errNotInitialised
	}
	privfile.WarnIfOpen(logger.With("component", "node"), cfg.DataDir)
	keyPath := filepath.Join(cfg.DataDir, keyFile)
	if err := privfile.Restrict(keyPath); err != nil {
		return nil, fmt.Errorf("open node: %w", err)
	}
	seed, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotInitialised
	}
	if err != nil {
		return nil, fmt.Errorf("open node: read key: %w", err)
	}
	opts := []sqlitedb.Option{atRest, pageSize}
	if cfg.MapDatabase {
		opts = append(opts, sqlitedb.ReaderMmap(readerMmap))
	}
	db, err := sqlitedb.Open(ctx, dbPath, migrations(), opts...)
	if err != nil {
		return nil, fmt.Errorf("open node: %w", err)
	}
	ident, err := readIdentity(ctx, db.Reader())
	if err != nil {
		db.Close()
		return nil, err
	}
	key, err := protocol.KeyFromSeed(ident.Node, seed)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open node: %w", err)
	}
	if key.ID != ident.KeyID {
		db.Close()
		return nil, fmt.Errorf("open node: %s holds key %s but the node enrolled with %s: run bikfed node init again", keyFile, key.ID, ident.KeyID)
	}
	accounts, mailer, err := openAccounts(ctx, db, ident.Node, cfg, logger)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open node: %w", err)
	}
	token := cfg.AdminToken
	if token == "" {
		if token, err = ensureAdminToken(cfg.DataDir); err != nil {
			db.Close()
			return nil, fmt.Errorf("open node: %w", err)
		}
	}
	nlog := logger.With("component", "node", "node", ident.Node)
	ccfg := cfg.Client.clientConfig(ident.HubURL, ident.Credential)
	ccfg.Logger = nlog
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	ccfg.Clock = cfg.Clock
	n := &Node{
		cfg:        cfg,
		log:        nlog,
		db:         db,
		key:        key,
		ident:      ident,
		client:     protocol.NewClient(ccfg),
		adminToken: token,
		kick:       make(chan struct{}, 1),
		accounts:   accounts,
		mailer:     mailer,
		apiOrigin:  http.NewCrossOriginProtection(),
		notifyKick: make(chan struct{}, 1),
	}
	if n.notifyLoc, err = cfg.Notify.location(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open node: notify time zone: %w", err)
	}
	n.initOps()
	if st, err := readSyncState(ctx, db.Reader()); err == nil && st.HubClockOffset != nil {
		// Until this process hears from the hub itself (a one-shot command
		// may never), the offset the serving node last measured stands.
		n.storedSkew.Store(int64(*st.HubClockOffset))
		n.hasStoredSkew.Store(true)
	}
	// A crash may have left erased text in the WAL; the first housekeeping
	// run flushes it.
	n.needCheckpoint.Store(true)
	return n, nil
}

// ID returns the node id.
func (n *Node) ID() string { return n.ident.Node }

// AdminToken returns the admin API's bearer token, for a CLI or a demo that
// talks to the admin API it just started. It is deliberately not in Status.
func (n *Node) AdminToken() string { return n.adminToken }

// Identity returns the node's enrolment (the epoch as of Open).
func (n *Node) Identity() Identity { return n.ident }

// Close closes the database. Call it after Run has returned.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() { err = n.db.Close() })
	return err
}

// Run serves the admin API on ln and runs the sync loops and schedules until
// ctx is done, then stops everything and waits for it.
func (n *Node) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	n.listenAddr.Store(ln.Addr().String())
	srv, ln := n.server(ln)
	srv.ErrorLog = slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("serve admin api: %w", err)
			cancel()
		}
	})
	sched, err := n.startCron(ctx)
	if err != nil {
		cancel()
		srv.Close()
		wg.Wait()
		return err
	}
	stopMembership, err := n.startMembership(ctx)
	if err != nil {
		cancel()
		srv.Close()
		<-sched.Stop().Done()
		wg.Wait()
		return err
	}
	wg.Go(func() { n.pushLoop(ctx) })
	wg.Go(func() { n.blobLoop(ctx) })
	wg.Go(func() { n.notifyLoop(ctx) })
	if n.cfg.LongPoll {
		wg.Go(func() { n.pullLoop(ctx) })
	}
	wg.Go(func() {
		// Catch up at start: whatever was published while we were down, and
		// whatever the outbox still holds.
		if _, err := n.PublishDue(ctx, n.now()); err != nil && ctx.Err() == nil {
			n.log.Warn("publish due entities", "err", err)
		}
		if err := n.probeHub(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("hub not reachable at start; working offline", "err", err)
		}
		n.kickPush()
		// The counts housekeeping kept, not a new count: that reads the
		// whole community's search index.
		if err := n.LoadSearchStats(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("community search statistics", "err", err)
		}
	})
	n.log.Info("node running", "admin", ln.Addr().String(), "hub", n.ident.HubURL, "long_poll", n.cfg.LongPoll)

	<-ctx.Done()
	// Leave the gossip cluster first, so the hub records a departure, not a
	// failure.
	stopMembership()
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		n.log.Warn("admin api shutdown", "err", err)
		srv.Close()
	}
	select {
	case <-sched.Stop().Done():
	case <-shutdownCtx.Done():
		n.log.Warn("cron jobs still running at shutdown")
	}
	wg.Wait()
	n.log.Info("node stopped")
	select {
	case err := <-serveErr:
		return err
	default:
		return nil
	}
}

// authorised compares the admin token in constant time.
func (n *Node) authorised(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(n.adminToken)) == 1
}
