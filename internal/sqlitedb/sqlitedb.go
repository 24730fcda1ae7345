package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/internal/privfile"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// The driver runs _pragma values sorted (busy_timeout first, the rest
// alphabetically), not in DSN order, so none of these may depend on another
// having run first.
const (
	// _txlock=immediate makes every BEGIN on the writer take the write lock
	// up front. A deferred transaction that reads first and then writes can
	// fail with SQLITE_BUSY when upgrading its lock, and busy_timeout does not
	// help there; taking the lock at BEGIN makes writers simply wait.
	//
	// temp_store keeps statement journals (which a multi-row upsert needs,
	// to undo itself on an error) in memory rather than in a temporary file
	// written through system calls.
	writerParams = "_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)" +
		"&_pragma=secure_delete(ON)" +
		"&_pragma=wal_autocheckpoint(0)" +
		"&_pragma=journal_size_limit(67108864)" +
		"&_pragma=temp_store(MEMORY)" +
		"&_txlock=immediate"

	// Readers leave journal_mode alone: WAL is a property of the file that
	// the writer has already set, and changing it is a write, which
	// query_only forbids. synchronous and secure_delete only matter to
	// connections that write, and foreign keys are only enforced on writes.
	readerParams = "_pragma=busy_timeout(10000)" +
		"&_pragma=query_only(1)"

	// The checkpointer only copies the WAL into the database file.
	checkpointerParams = "_pragma=busy_timeout(10000)"
)

// Checkpoints are taken off the writer (wal_autocheckpoint(0) above): an
// automatic checkpoint runs inside the commit that crosses its threshold, so
// the writer's caller waits for it, 10–15 ms every few megabytes written. A
// goroutine with its own connection checkpoints instead, PASSIVE, which never
// waits for the writer or the readers, once per checkpointEvery while writes
// happen. Under continuous writes a PASSIVE checkpoint may never find the WAL
// wholly copied at the moment a write begins, which is when SQLite starts the
// WAL over, so past walRestartFrames the checkpointer uses RESTART, which
// waits for the writer between two transactions. journal_size_limit then cuts
// the file back.
const (
	checkpointEvery  = time.Second
	checkpointIdle   = time.Minute // for writes made on Writer() directly
	walRestartFrames = 16384       // 64 MiB of 4 KiB pages
)

// DB is one SQLite database file opened as a single-connection writer pool
// and a multi-connection read-only pool.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB

	checkpointer *sql.DB
	countPages   bool          // PageReadsEnv was set at Open
	dirty        atomic.Bool   // a WriteTx committed since the last checkpoint
	stop         chan struct{} // closed by Close to end checkpointLoop
	stopped      chan struct{} // closed when checkpointLoop has returned
}

// Option adjusts how Open opens a database.
type Option func(*options)

type options struct {
	writerCacheKiB int
	readerMmap     int64
	pageSize       int
	steps          map[int64]func(context.Context, *sql.Tx) error
}

// WriterCache sets the writer's page cache, in MiB, above SQLite's 2 MiB.
// A transaction that dirties more pages than its cache holds spills them
// into the WAL before its commit, and writes them again when they change
// once more: the hub's pushes of 1,000 changes dirty a few MiB each.
func WriterCache(mib int) Option {
	return func(o *options) { o.writerCacheKiB = mib << 10 }
}

// ReaderMmap maps up to bytes of the database file into memory on each
// reader connection, so that reading a page already in the operating
// system's cache is a memory access instead of a read call: a query that
// touches many pages spread over a large file (a full-text search over a
// big index) makes hundreds of them. The mapping is shared by the
// connections and costs address space, not memory.
func ReaderMmap(bytes int64) Option {
	return func(o *options) { o.readerMmap = bytes }
}

// PageSize sets the page size of a database this Open creates; an existing
// file keeps the one it was made with. Rows that take a sizeable share of a
// page waste less of it in larger pages: six ~600-byte rows fill a 4 KiB page
// to 88 %, twenty-seven fill a 16 KiB one to 99 %.
func PageSize(bytes int) Option {
	return func(o *options) { o.pageSize = bytes }
}

// MigrationStep runs fn right after the SQL of the database's own migration
// number version, in its transaction, for the work SQL cannot do alone
// (rewriting rows with Go code, or rebuilding whatever depends on a column
// whose name is taken over). It runs exactly when that migration is
// applied, once: a failure rolls the migration back with it and the next
// Open tries both again.
func MigrationStep(version int64, fn func(ctx context.Context, tx *sql.Tx) error) Option {
	return func(o *options) {
		if o.steps == nil {
			o.steps = map[int64]func(context.Context, *sql.Tx) error{}
		}
		o.steps[version] = fn
	}
}

// Open opens (creating if needed) the database at path and applies any
// pending migrations from the root of migrations, which may be nil.
func Open(ctx context.Context, path string, migrations fs.FS, opts ...Option) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Private: the databases hold user data that erasure requests must be
	// able to remove, so other local users have no business reading them.
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// SQLite creates files with 0644 less the umask, but reuses existing
	// ones and gives a new -wal or -shm the database file's own mode. So the
	// three files are made (or brought back to) 0600 before SQLite opens
	// them, and stay so through every checkpoint and restart.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := privfile.Ensure(abs + suffix); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}

	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db := &DB{path: path, countPages: countPageReads()}
	if err := db.open(ctx, abs, migrations, o); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context, abs string, migrations fs.FS, o options) error {
	if o.pageSize > 0 {
		if err := setPageSize(ctx, abs, o.pageSize); err != nil {
			return err
		}
	}
	params := writerParams
	if o.writerCacheKiB > 0 {
		params += fmt.Sprintf("&_pragma=cache_size(-%d)", o.writerCacheKiB)
	}
	var err error
	if db.writer, err = sql.Open("sqlite", dsn(abs, params)); err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)

	// sql.Open connects lazily, and DSN pragma errors only surface on
	// connect, so force one now rather than on the first real query.
	if err := db.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	// journal_mode(WAL) does not fail when it cannot switch (some network
	// and in-memory filesystems); it reports the mode it kept. Without WAL
	// the reader pool would block the writer, so refuse early.
	var mode string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("writer: journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("writer: journal mode is %q, want wal", mode)
	}

	if err := db.migrate(ctx, ledger{steps: o.steps}, migrations); err != nil {
		return err
	}

	rparams := readerParams
	if o.readerMmap > 0 && !db.countPages {
		rparams += fmt.Sprintf("&_pragma=mmap_size(%d)", o.readerMmap)
	}
	if db.reader, err = sql.Open("sqlite", dsn(abs, rparams)); err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	n := max(4, runtime.NumCPU())
	db.reader.SetMaxOpenConns(n)
	// The default of 2 idle connections would close and reopen connections
	// (re-running every pragma) under steady concurrent reads.
	db.reader.SetMaxIdleConns(n)
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("reader: %w", err)
	}

	if db.checkpointer, err = sql.Open("sqlite", dsn(abs, checkpointerParams)); err != nil {
		return fmt.Errorf("checkpointer: %w", err)
	}
	db.checkpointer.SetMaxOpenConns(1)
	db.checkpointer.SetMaxIdleConns(1)
	db.checkpointer.SetConnMaxIdleTime(0)
	if err := db.checkpointer.PingContext(ctx); err != nil {
		return fmt.Errorf("checkpointer: %w", err)
	}
	db.stop, db.stopped = make(chan struct{}), make(chan struct{})
	go db.checkpointLoop()
	return nil
}

// checkpointLoop copies the WAL into the database file in the background
// until Close.
func (db *DB) checkpointLoop() {
	defer close(db.stopped)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		}
		if !db.dirty.Swap(false) && time.Since(last) < checkpointIdle {
			continue
		}
		last = time.Now()
		var busy, logFrames, done int
		// Errors are not fatal: the WAL keeps every commit, and the next
		// round or Close checkpoints it.
		if db.checkpointer.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done) != nil {
			continue
		}
		if logFrames > walRestartFrames {
			db.checkpointer.QueryRow("PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &logFrames, &done)
		}
	}
}

// setPageSize gives a new, empty database file its page size. It needs a
// connection of its own: the driver runs DSN pragmas in alphabetical order,
// and journal_mode (which writes the first page, fixing the page size) comes
// before page_size.
func setPageSize(ctx context.Context, abs string, size int) error {
	st, err := os.Stat(abs)
	if err != nil || st.Size() > 0 {
		return err
	}
	c, err := sql.Open("sqlite", dsn(abs, "_pragma=busy_timeout(10000)"))
	if err != nil {
		return fmt.Errorf("page size: %w", err)
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", size)); err != nil {
		return fmt.Errorf("page size: %w", err)
	}
	if _, err := c.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("page size: %w", err)
	}
	return nil
}

// dsn builds a file: URI because only that form lets SQLite see the path
// verbatim; the path is escaped so that '?', '#' or '%' in a directory name
// cannot be mistaken for the start of the query.
func dsn(abs, params string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letters: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String() + "?" + params
}

// Close closes both pools. It is safe to call on a partially opened DB.
func (db *DB) Close() error {
	var errs []error
	if db.stop != nil {
		close(db.stop)
		<-db.stopped
		db.stop = nil
	}
	if db.countPages {
		db.tallyPageReads()
	}
	if db.checkpointer != nil {
		if err := db.checkpointer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close checkpointer: %w", err))
		}
	}
	if db.reader != nil {
		if err := db.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close reader: %w", err))
		}
	}
	if db.writer != nil {
		if err := db.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close writer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Writer returns the single-connection write pool. Holding a transaction or
// an unclosed *sql.Rows from it blocks every other writer, including a
// nested WriteTx, which would deadlock.
func (db *DB) Writer() *sql.DB { return db.writer }

// Reader returns the read-only pool.
func (db *DB) Reader() *sql.DB { return db.reader }

// Path returns the path Open was given.
func (db *DB) Path() string { return db.path }

// WriteTx runs fn in a transaction on the writer, committing if fn returns
// nil and rolling back otherwise (including when fn panics). fn must not use
// Writer() or call WriteTx itself: the writer has one connection and fn
// already holds it.
func (db *DB) WriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := inTx(ctx, db.writer, nil, fn); err != nil {
		return fmt.Errorf("write tx: %w", err)
	}
	db.dirty.Store(true)
	return nil
}

// ReadTx runs fn in a transaction on the reader pool, so every query in fn
// sees the same snapshot even while the writer commits.
func (db *DB) ReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := inTx(ctx, db.reader, &sql.TxOptions{ReadOnly: true}, fn); err != nil {
		return fmt.Errorf("read tx: %w", err)
	}
	return nil
}

func inTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) (err error) {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// ErrTxDone means database/sql already rolled back because ctx
		// ended; that is not a second failure worth reporting.
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		// Commit cleans up after itself on failure, so skip the deferred
		// rollback rather than report a spurious ErrTxDone.
		committed = true
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// Checkpoint copies the whole WAL into the main database file and truncates
// the WAL to zero bytes. secure_delete only scrubs freed pages in the main
// file; until a checkpoint completes, the WAL can still hold the pages a
// deletion overwrote, so erasure must be followed by a successful Checkpoint.
//
// It returns an error if a reader's open transaction kept the checkpoint
// from completing after busy_timeout, since the WAL is then not truncated.
func (db *DB) Checkpoint(ctx context.Context) error {
	var busy, logFrames, checkpointed int
	err := db.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint: blocked by readers, %d of %d wal frames checkpointed", checkpointed, logFrames)
	}
	return nil
}
