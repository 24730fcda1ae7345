package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config configures the portal.
type Config struct {
	// DataDir holds portal.db, the portal's index. Required.
	DataDir string
	// PublicURL is the portal's base URL as visitors reach it, for feeds,
	// sitemaps, JSON-LD and OAI-PMH. When empty, each request's own host is
	// used.
	PublicURL string
	// MinisiteHosts maps host names to minisites ("sid", "youth", "pocc"): a
	// request for such a host is that minisite's view of the portal.
	MinisiteHosts map[string]string
	// AdminEmail is the OAI-PMH repository's contact (Identify's
	// adminEmail): a bare address. Default "portal@bikfed.invalid".
	AdminEmail string
	// RepositoryName is the OAI-PMH repository's name (Identify's
	// repositoryName). Default "Better Internet for Kids: resources of the
	// Safer Internet Centres".
	RepositoryName string
	// PageCacheBytes bounds the cache of rendered responses. Default 32 MiB;
	// negative disables it.
	PageCacheBytes int
	// MaxAge is the Cache-Control max-age of public pages. Default 60s.
	MaxAge time.Duration
	// OAIKey authenticates OAI-PMH resumption tokens. Holders of the same
	// content (the hub and its mirrors, behind one load balancer) share it,
	// so a token issued by one resumes on another. When empty, a key made
	// on the first open and kept in portal.db is used. At least 16 bytes.
	OAIKey []byte
	// IndexSettle is how long the indexer gathers news before it indexes
	// it. Every indexing is a new state of the portal after which pages are
	// rendered anew, so a holder serving heavy traffic from a busy feed (a
	// mirror on Safer Internet Day) gathers longer: its pages trail the
	// feed by that much and are rendered that much less often. Default 50ms.
	IndexSettle time.Duration
	// Now is the clock that decides when a scheduled entity is due: the
	// hub's, so its tests can move it. Default time.Now.
	Now func() time.Time
	// MediaOrigins are the origins ("https://store.example.org") that
	// attachments may be downloaded from besides the portal's own, when the
	// hub redirects downloads to its object store: the pages allow images
	// and media from them.
	MediaOrigins []string
}

// ValidateOrigin checks that s is a bare web origin: http or https, a host,
// an optional port, nothing else.
func ValidateOrigin(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(s, " ;,'\"") {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", s)
	}
	return nil
}

// ValidateMinisiteHosts checks a host → minisite map.
func ValidateMinisiteHosts(m map[string]string) error {
	var errs []error
	for host, site := range m {
		if !slices.Contains(minisiteOrder, site) {
			errs = append(errs, fmt.Errorf("minisite host %q: %q is not a minisite (sid, youth, pocc)", host, site))
		}
		if host == "" || strings.ContainsAny(host, "/ ") {
			errs = append(errs, fmt.Errorf("minisite host %q: not a host name", host))
		}
	}
	return errors.Join(errs...)
}

// Portal is an open portal: its index and the HTTP handlers over it.
type Portal struct {
	cfg    Config
	log    *slog.Logger
	db     *sqlitedb.DB
	src    Source
	eng    *engine
	now    func() time.Time
	tmpl   *templates
	cache  *pageCache
	oaiID  string // the OAI-PMH namespace identifier
	oaiKey []byte // authenticates OAI-PMH resumption tokens
	static staticFiles
	csp    string // Content-Security-Policy of every response

	// cursor is the last hub_seq indexed; gen counts index commits, for the
	// caches; tag is what ETags and Last-Modified are made of.
	cursor atomic.Int64
	// seenSeq is the source's head when the index last caught up with it
	// (IndexedSeq).
	seenSeq atomic.Int64
	gen     atomic.Int64
	tag     atomic.Pointer[indexTag]
	// nextDue is when the earliest scheduled entity is due (unix ms, 0: none).
	nextDue atomic.Int64

	// caughtUp is closed and replaced each time the indexer reaches the
	// source's head, for WaitIndexed.
	mu       sync.Mutex
	caughtUp chan struct{}

	running atomic.Bool
	// rebuilding is set while the index is built from nothing (rebuild.go).
	rebuilding  atomic.Bool
	rebuildFrom time.Time
	// built are the ids indexed since the build from nothing began, nil
	// when not building; only the indexer touches it.
	built map[string]struct{}
	// ahead is the next batch being read while a build from nothing indexes
	// the one before it; only the indexer touches it.
	ahead *batchRead

	matches matchCache
	// distress are the words that put help above search results (help.go).
	distress distressTerms
	// langs are the interface languages (i18n.go).
	langs *interfaceLangs
	// labels and terms make the search forgiving (forgive.go).
	labels *labelIndex
	terms  termCache
	// fragments are pieces of pages rendered once (fragments.go).
	fragments    fragmentCache
	rowCache     rowCache
	profileCache atomic.Pointer[profileSet]
	profileMu    sync.Mutex

	// subs are the bulletin's subscribers, held by the hub (bulletin.go);
	// cop refuses their forms' POSTs from other sites' pages.
	subs Subscriptions
	cop  *http.CrossOriginProtection
}

// Open opens (creating or migrating) the portal's index in cfg.DataDir and
// loads the facet sets into memory. It does not index: Run does.
func Open(ctx context.Context, cfg Config, src Source, logger *slog.Logger) (*Portal, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return open(ctx, cfg, src, logger, now)
}

func open(ctx context.Context, cfg Config, src Source, logger *slog.Logger, now func() time.Time) (*Portal, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("open portal: DataDir required")
	}
	if err := ValidateMinisiteHosts(cfg.MinisiteHosts); err != nil {
		return nil, fmt.Errorf("open portal: %w", err)
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || u.Host == "" {
			return nil, fmt.Errorf("open portal: PublicURL %q is not an absolute URL", cfg.PublicURL)
		}
		cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
	if cfg.OAIKey != nil && len(cfg.OAIKey) < 16 {
		return nil, fmt.Errorf("open portal: OAIKey must be at least 16 bytes")
	}
	for _, o := range cfg.MediaOrigins {
		if err := ValidateOrigin(o); err != nil {
			return nil, fmt.Errorf("open portal: MediaOrigins: %w", err)
		}
	}
	if cfg.AdminEmail == "" {
		cfg.AdminEmail = DefaultAdminEmail
	}
	if cfg.RepositoryName == "" {
		cfg.RepositoryName = DefaultRepositoryName
	}
	if err := ValidateAdminEmail(cfg.AdminEmail); err != nil {
		return nil, fmt.Errorf("open portal: AdminEmail: %w", err)
	}
	if err := ValidateRepositoryName(cfg.RepositoryName); err != nil {
		return nil, fmt.Errorf("open portal: RepositoryName: %w", err)
	}
	if cfg.PageCacheBytes == 0 {
		cfg.PageCacheBytes = 32 << 20
	}
	if cfg.IndexSettle <= 0 {
		cfg.IndexSettle = indexSettle
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 60 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	migrations, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open portal: %w", err)
	}
	db, err := sqlitedb.Open(ctx, filepath.Join(cfg.DataDir, "portal.db"), migrations)
	if err != nil {
		return nil, fmt.Errorf("open portal: %w", err)
	}
	langs, err := loadInterfaceLangs()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open portal: %w", err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open portal: %w", err)
	}
	p := &Portal{
		cfg:      cfg,
		csp:      contentPolicy(cfg.MediaOrigins),
		log:      logger.With("component", "portal"),
		db:       db,
		src:      src,
		eng:      newEngine(),
		now:      now,
		tmpl:     tmpl,
		langs:    langs,
		labels:   newLabelIndex(langs),
		cache:    newPageCache(cfg.PageCacheBytes),
		oaiID:    oaiNamespace(cfg.PublicURL),
		static:   loadStatic(),
		caughtUp: make(chan struct{}),
		cop:      http.NewCrossOriginProtection(),
	}
	if p.oaiKey, err = loadOAIKey(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open portal: %w", err)
	}
	if cfg.OAIKey != nil {
		p.oaiKey = slices.Clone(cfg.OAIKey)
	}
	if err := p.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open portal: %w", err)
	}
	if p.cursor.Load() == 0 {
		p.startRebuild(ctx)
	}
	return p, nil
}

// loadOAIKey returns the 256-bit key of resumption tokens, made on the first
// open. It is kept in the state table, whose values are integers, as four
// rows, so that tokens issued before a restart stay valid.
func loadOAIKey(ctx context.Context, db *sqlitedb.DB) ([]byte, error) {
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, fmt.Errorf("oai key: %w", err)
	}
	key := make([]byte, 32)
	err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		for i := range 4 {
			name := fmt.Sprintf("oai_key%d", i)
			if _, err := tx.ExecContext(ctx, `INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
				name, int64(binary.BigEndian.Uint64(fresh[i*8:]))); err != nil {
				return err
			}
			var v int64
			if err := tx.QueryRowContext(ctx, `SELECT value FROM state WHERE key = ?`, name).Scan(&v); err != nil {
				return err
			}
			binary.BigEndian.PutUint64(key[i*8:], uint64(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("oai key: %w", err)
	}
	return key, nil
}

// OAIKey is the key that authenticates the portal's OAI-PMH resumption
// tokens, to be given to the other holders of the same content
// (Config.OAIKey).
func (p *Portal) OAIKey() []byte { return slices.Clone(p.oaiKey) }

// Close closes the index. Call it after Run has returned.
func (p *Portal) Close() error {
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("close portal: %w", err)
	}
	return nil
}

// IndexedSeq is the last hub_seq the index reflects.
func (p *Portal) IndexedSeq() int64 { return max(p.cursor.Load(), p.seenSeq.Load()) }

// WaitIndexed blocks until the index has caught up with hub_seq seq or ctx
// is done.
func (p *Portal) WaitIndexed(ctx context.Context, seq int64) error {
	for {
		p.mu.Lock()
		ch := p.caughtUp
		p.mu.Unlock()
		if p.IndexedSeq() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Portal) signalCaughtUp() {
	p.mu.Lock()
	close(p.caughtUp)
	p.caughtUp = make(chan struct{})
	p.mu.Unlock()
}

// load reads the indexer's state and the facet sets of every indexed
// resource.
func (p *Portal) load(ctx context.Context) error {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT key, value FROM state`)
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	var appliedAt int64
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return fmt.Errorf("load state: %w", err)
		}
		switch k {
		case "indexed_seq":
			p.cursor.Store(v)
		case "gen":
			p.gen.Store(v)
		case "applied_at":
			appliedAt = v
		}
	}
	rows.Close()
	tag, err := readTag(ctx, p.db.Reader(), p.gen.Load(), p.cursor.Load(), appliedAt)
	if err != nil {
		return err
	}
	p.tag.Store(&tag)
	if err := p.refreshNextDue(ctx); err != nil {
		return err
	}
	docs, err := p.loadDocs(ctx, p.db.Reader(), nil)
	if err != nil {
		return err
	}
	p.eng.replace(docs)
	p.log.Info("portal index loaded", "resources", len(docs), "indexed_seq", p.cursor.Load())
	return nil
}

// docColumns are what the engine keeps of a resource.
const docColumns = `SELECT r.rid, r.id, r.owner, r.updated_at, r.age_min, r.age_max, r.type, r.language,
	r.languages, r.topics, r.audiences, r.minisites, r.title,
	(SELECT json_group_array(t.language) FROM translations t WHERE t.resource = r.id)
	FROM resources r`

// querier is a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadDocs reads what the engine keeps of the resources ids, or of every
// resource when ids is nil. The indexer passes its transaction, so the rows
// are exactly what it is about to commit.
func (p *Portal) loadDocs(ctx context.Context, q querier, ids []string) (map[uint32]*doc, error) {
	var rows *sql.Rows
	var err error
	if ids == nil {
		rows, err = q.QueryContext(ctx, docColumns)
	} else {
		rows, err = q.QueryContext(ctx, docColumns+` WHERE r.id IN (SELECT value FROM json_each(?))`, jsonText(ids))
	}
	if err != nil {
		return nil, fmt.Errorf("load resources: %w", err)
	}
	defer rows.Close()
	out := make(map[uint32]*doc)
	for rows.Next() {
		var rid uint32
		var d doc
		var owner, typ, lang, langs, topics, auds, minis, title, tlangs string
		if err := rows.Scan(&rid, &d.id, &owner, &d.updated, &d.ageMin, &d.ageMax, &typ, &lang,
			&langs, &topics, &auds, &minis, &title, &tlangs); err != nil {
			return nil, fmt.Errorf("load resources: %w", err)
		}
		d.values[facetCountry] = []string{owner}
		d.values[facetType] = []string{typ}
		d.values[facetTopic] = jsonList(topics)
		d.values[facetAudience] = jsonList(auds)
		d.values[facetMinisite] = jsonList(minis)
		d.values[facetLang] = unionLangs(lang, jsonList(langs), jsonList(tlangs))
		d.fold = foldTitle(title)
		out[rid] = &d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load resources: %w", err)
	}
	return out, nil
}

// refreshNextDue reads when the next scheduled entity is due.
func (p *Portal) refreshNextDue(ctx context.Context) error {
	var due sql.NullInt64
	if err := p.db.Reader().QueryRowContext(ctx, `SELECT MIN(due) FROM pending`).Scan(&due); err != nil {
		return fmt.Errorf("read pending: %w", err)
	}
	p.nextDue.Store(due.Int64)
	return nil
}

// ValidMinisite reports whether s names a minisite.
func ValidMinisite(s string) bool { return slices.Contains(minisiteOrder, s) }
