package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func openT(t *testing.T, path string, migrations fs.FS) *DB {
	t.Helper()
	db, err := Open(t.Context(), path, migrations)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func pragma(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func appliedVersions(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.Reader().QueryContext(t.Context(), "SELECT version, name FROM schema_migrations ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v int64
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOpen_Pragmas(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), nil)

	writer := map[string]string{
		"journal_mode":  "wal",
		"busy_timeout":  "10000",
		"synchronous":   "1", // NORMAL
		"foreign_keys":  "1",
		"secure_delete": "1",
		"query_only":    "0",
		// Checkpoints are the background checkpointer's, not the commits'.
		"wal_autocheckpoint": "0",
		"journal_size_limit": "67108864",
		"temp_store":         "2", // MEMORY
		"cache_size":         "-2000",
	}
	for name, want := range writer {
		if got := pragma(t, db.Writer(), name); got != want {
			t.Errorf("writer PRAGMA %s = %q, want %q", name, got, want)
		}
	}
	reader := map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "10000",
		"query_only":   "1",
	}
	for name, want := range reader {
		if got := pragma(t, db.Reader(), name); got != want {
			t.Errorf("reader PRAGMA %s = %q, want %q", name, got, want)
		}
	}
	if got := db.Writer().Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
	if got := db.Reader().Stats().MaxOpenConnections; got < 4 {
		t.Errorf("reader MaxOpenConnections = %d, want >= 4", got)
	}
}

func TestOpen_WriterCache(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil, WriterCache(32))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pragma(t, db.Writer(), "cache_size"); got != "-32768" {
		t.Errorf("writer cache_size = %s, want -32768 (KiB)", got)
	}
	if got := pragma(t, db.Reader(), "cache_size"); got != "-2000" {
		t.Errorf("reader cache_size = %s, want SQLite's default", got)
	}
}

func TestOpen_ReaderMmap(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil, ReaderMmap(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pragma(t, db.Reader(), "mmap_size"); got != "67108864" {
		t.Errorf("reader mmap_size = %s, want 67108864", got)
	}
	if got := pragma(t, db.Writer(), "mmap_size"); got != "0" {
		t.Errorf("writer mmap_size = %s, want 0: the writer reads through its cache", got)
	}
}

// Pragmas live in the DSN so that connections database/sql opens later get
// them too, not only the first one.
func TestOpen_PragmasOnEveryReaderConnection(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), nil)
	ctx := t.Context()
	var conns []*sql.Conn
	for range 3 {
		c, err := db.Reader().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		if got := pragma(t, c, "query_only"); got != "1" {
			t.Errorf("reader conn %d query_only = %q", i, got)
		}
		c.Close()
	}
}

func TestWriteTx_BeginsImmediate(t *testing.T) {
	// With _txlock=immediate the write lock is taken at BEGIN, so a second
	// writer (here: a plain connection from a second Open) cannot start a
	// write transaction even before the first has written anything.
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db := openT(t, path, nil)
	other := openT(t, path, nil)

	err := db.WriteTx(t.Context(), func(tx *sql.Tx) error {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		return other.WriteTx(ctx, func(*sql.Tx) error { return nil })
	})
	if err == nil {
		t.Fatal("second writer began a transaction while the first held BEGIN IMMEDIATE")
	}
}

func TestOpen_CreatesParentDirAndOddPath(t *testing.T) {
	// '?', '#' and '%' would be parsed as URI syntax if not escaped.
	path := filepath.Join(t.TempDir(), "a b?c#d%20e", "nested", "db.sqlite")
	db := openT(t, path, fstest.MapFS{"1_t.sql": file("CREATE TABLE t (x);")})
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the requested path: %v", err)
	}
}

func TestOpen_EmptyPath(t *testing.T) {
	if _, err := Open(t.Context(), "", nil); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

func TestMigrate_AppliesInOrder(t *testing.T) {
	// Lexically "10_..." sorts before "2_...", so this only passes if
	// ordering is numeric: 10 alters the table 2 creates.
	migrations := fstest.MapFS{
		"10_add_column.sql": file("ALTER TABLE items ADD COLUMN note TEXT;"),
		"2_items.sql":       file("CREATE TABLE items (id INTEGER PRIMARY KEY);"),
		"0001_base.sql":     file("CREATE TABLE base (id INTEGER PRIMARY KEY);"),
		"README.md":         file("not a migration"),
		"sub/3_ignored.sql": file("this is not SQL"),
	}
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), migrations)

	want := []string{"0001_base.sql", "2_items.sql", "10_add_column.sql"}
	if got := appliedVersions(t, db); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("applied %v, want %v", got, want)
	}
	if _, err := db.Writer().ExecContext(t.Context(), "INSERT INTO items (id, note) VALUES (1, 'x')"); err != nil {
		t.Errorf("schema not migrated: %v", err)
	}
	var at string
	if err := db.Reader().QueryRowContext(t.Context(), "SELECT applied_at FROM schema_migrations WHERE version = 10").Scan(&at); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
		t.Errorf("applied_at %q is not RFC 3339: %v", at, err)
	}
}

func TestMigrate_MultipleStatementsInOneFile(t *testing.T) {
	migrations := fstest.MapFS{
		"0001_init.sql": file(`
-- comments and several statements, including a trigger whose body has its own semicolons
CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0);
CREATE TABLE log (msg TEXT);
CREATE TRIGGER a_ins AFTER INSERT ON a BEGIN
	INSERT INTO log (msg) VALUES ('one');
	INSERT INTO log (msg) VALUES ('two');
END;
INSERT INTO a (id) VALUES (1);
INSERT INTO a (id) VALUES (2);
`),
	}
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), migrations)
	var nA, nLog int
	if err := db.Reader().QueryRowContext(t.Context(), "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM log)").Scan(&nA, &nLog); err != nil {
		t.Fatal(err)
	}
	if nA != 2 || nLog != 4 {
		t.Errorf("got %d rows in a and %d in log, want 2 and 4: not every statement ran", nA, nLog)
	}
}

func TestMigrate_EmptyAndCommentOnlyFiles(t *testing.T) {
	migrations := fstest.MapFS{
		"1_empty.sql":   file(""),
		"2_comment.sql": file("-- intentionally nothing\n"),
	}
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), migrations)
	if got := appliedVersions(t, db); len(got) != 2 {
		t.Errorf("applied %v, want both recorded", got)
	}
}

func TestMigrate_Idempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	// Not idempotent SQL on purpose: running it twice would fail.
	migrations := fstest.MapFS{
		"1_t.sql": file("CREATE TABLE t (x); INSERT INTO t VALUES (1);"),
	}
	db, err := Open(t.Context(), path, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	migrations["2_u.sql"] = file("INSERT INTO t VALUES (2);")
	db = openT(t, path, migrations)
	var n int
	if err := db.Reader().QueryRowContext(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("t has %d rows, want 2 (each migration exactly once)", n)
	}
	if got := appliedVersions(t, db); len(got) != 2 {
		t.Errorf("applied %v, want 2 rows", got)
	}
}

func TestMigrate_FailureRollsBackThatMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	migrations := fstest.MapFS{
		"1_ok.sql":  file("CREATE TABLE ok (x);"),
		"2_bad.sql": file("CREATE TABLE half (x); THIS IS NOT SQL;"),
	}
	_, err := Open(t.Context(), path, migrations)
	if err == nil || !strings.Contains(err.Error(), "2_bad.sql") {
		t.Fatalf("Open error = %v, want one naming 2_bad.sql", err)
	}

	migrations["2_bad.sql"] = file("CREATE TABLE half (x);")
	db := openT(t, path, migrations) // would fail if "half" had survived
	if got := appliedVersions(t, db); strings.Join(got, ",") != "1_ok.sql,2_bad.sql" {
		t.Errorf("applied %v", got)
	}
}

func TestMigrate_RefusesDuplicateNumber(t *testing.T) {
	migrations := fstest.MapFS{
		"0001_a.sql": file("CREATE TABLE a (x);"),
		"1_b.sql":    file("CREATE TABLE b (x);"),
	}
	path := filepath.Join(t.TempDir(), "db.sqlite")
	_, err := Open(t.Context(), path, migrations)
	if err == nil || !strings.Contains(err.Error(), "share version 1") {
		t.Fatalf("Open error = %v, want duplicate version error", err)
	}
}

func TestMigrate_RefusesUnnumberedFile(t *testing.T) {
	for _, name := range []string{"init.sql", "0_zero.sql"} {
		migrations := fstest.MapFS{name: file("CREATE TABLE a (x);")}
		if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), migrations); err == nil {
			t.Errorf("Open accepted migration %q", name)
		}
	}
}

func TestMigrate_RefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	newer := fstest.MapFS{
		"1_a.sql": file("CREATE TABLE a (x);"),
		"2_b.sql": file("CREATE TABLE b (x);"),
		"7_c.sql": file("CREATE TABLE c (x);"),
	}
	db, err := Open(t.Context(), path, newer)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	older := fstest.MapFS{
		"1_a.sql": newer["1_a.sql"],
		"2_b.sql": newer["2_b.sql"],
	}
	_, err = Open(t.Context(), path, older)
	want := "database schema version 7 is newer than this binary (max 2)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open error = %v, want %q", err, want)
	}
	_, err = Open(t.Context(), path, nil)
	if err == nil || !strings.Contains(err.Error(), "(max 0)") {
		t.Fatalf("Open with nil migrations error = %v, want newer-schema error", err)
	}
}

func TestWriteTx_RollbackOnError(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{"1_t.sql": file("CREATE TABLE t (x);")})
	ctx := t.Context()
	boom := errors.New("boom")

	err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteTx error = %v, want wrapped boom", err)
	}
	if !strings.HasPrefix(err.Error(), "write tx: ") {
		t.Errorf("WriteTx error %q lacks prefix", err)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn was swallowed")
			}
		}()
		db.WriteTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
				return err
			}
			panic("boom")
		})
	}()

	var n int
	if err := db.Writer().QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("t has %d rows after failed transactions, want 0", n)
	}

	if err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (3)")
		return err
	}); err != nil {
		t.Fatalf("WriteTx after rollbacks (writer connection leaked?): %v", err)
	}
}

func TestWriteTx_ForeignKeysEnforced(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{
		"1_t.sql": file("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p(id));"),
	})
	err := db.WriteTx(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(t.Context(), "INSERT INTO c VALUES (42)")
		return err
	})
	if err == nil {
		t.Fatal("insert violating a foreign key succeeded")
	}
}

func TestReader_QueryOnly(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{"1_t.sql": file("CREATE TABLE t (x);")})
	ctx := t.Context()

	_, err := db.Reader().ExecContext(ctx, "INSERT INTO t VALUES (1)")
	var serr *sqlite.Error
	if !errors.As(err, &serr) || serr.Code()&0xff != sqlite3.SQLITE_READONLY {
		t.Fatalf("write through Reader() error = %v, want SQLITE_READONLY", err)
	}

	err = db.ReadTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)")
		return err
	})
	if err == nil || !strings.HasPrefix(err.Error(), "read tx: ") {
		t.Fatalf("write in ReadTx error = %v, want read tx error", err)
	}
}

func TestConcurrentReadersWhileWriting(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{
		"1_t.sql": file("CREATE TABLE t (x); INSERT INTO t VALUES (1);"),
	})
	ctx := t.Context()
	count := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, ctx context.Context) (int, error) {
		var n int
		err := q.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n)
		return n, err
	}

	// A reader is not blocked by an open write transaction and sees only
	// committed rows.
	err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		n, err := count(db.Reader(), rctx)
		if err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("reader saw %d rows during the write tx, want 1 (committed only)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The converse, which a rollback journal cannot do: a writer commits
	// while a reader holds an open snapshot, and the reader's snapshot is
	// unaffected. In rollback-journal mode this commit would wait for the
	// reader's SHARED lock until the timeout.
	err = db.ReadTx(ctx, func(rtx *sql.Tx) error {
		if n, err := count(rtx, ctx); err != nil || n != 2 {
			t.Errorf("snapshot count = %d, %v; want 2", n, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := db.WriteTx(wctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(wctx, "INSERT INTO t VALUES (3)")
			return err
		}); err != nil {
			t.Errorf("commit while a reader was open: %v", err)
		}
		if n, err := count(rtx, ctx); err != nil || n != 2 {
			t.Errorf("snapshot count after concurrent commit = %d, %v; want still 2", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := count(db.Reader(), ctx); err != nil || n != 3 {
		t.Errorf("count after both = %d, %v; want 3", n, err)
	}
}

func TestCheckpoint_TruncatesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db := openT(t, path, fstest.MapFS{"1_t.sql": file("CREATE TABLE t (x TEXT);")})
	ctx := t.Context()

	secret := "erase-me-" + strings.Repeat("x", 100)
	for _, q := range []string{"INSERT INTO t VALUES (?)", "DELETE FROM t WHERE x = ?"} {
		if err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, q, secret)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("expected a non-empty WAL before checkpoint: %v", err)
	}

	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 0 {
		t.Errorf("WAL is %d bytes after Checkpoint, want 0", fi.Size())
	}
	main, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(main), "erase-me-") {
		t.Error("deleted text still present in the database file (secure_delete not in effect?)")
	}
}

// The writer never checkpoints, so only the background checkpointer can
// move committed pages into the database file: the file grows to hold the
// rows without anything else asking for it.
func TestCheckpointer_CopiesWALInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db := openT(t, path, fstest.MapFS{"1_t.sql": file("CREATE TABLE t (x TEXT);")})
	ctx := t.Context()
	row := strings.Repeat("y", 1000)
	if err := db.WriteTx(ctx, func(tx *sql.Tx) error {
		for range 4000 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (?)", row); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	if before >= 3<<20 {
		t.Fatalf("database file is %d bytes right after the commit: the commit checkpointed", before)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err = os.Stat(path); err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= 3<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 10 s: nothing checkpointed the WAL", fi.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCheckpoint_ReportsBlockingReader(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{
		"1_t.sql": file("CREATE TABLE t (x); INSERT INTO t VALUES (1);"),
	})
	ctx := t.Context()
	err := db.ReadTx(ctx, func(rtx *sql.Tx) error {
		var n int
		if err := rtx.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			return err
		}
		if _, err := db.Writer().ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
			return err
		}
		// Give up at once instead of after busy_timeout; the writer pool
		// has a single connection, so this reaches the one Checkpoint uses.
		if _, err := db.Writer().ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
			return err
		}
		defer db.Writer().ExecContext(ctx, "PRAGMA busy_timeout = 10000")
		err := db.Checkpoint(ctx)
		if err == nil || !strings.Contains(err.Error(), "blocked by readers") {
			t.Errorf("Checkpoint while a reader pinned the WAL: %v, want blocked by readers", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Errorf("Checkpoint after the reader finished: %v", err)
	}
}

func TestOpen_FilesArePrivate(t *testing.T) {
	// The usual umask, under which SQLite alone would make 0644 files.
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	check := func(t *testing.T, path string) {
		t.Helper()
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s: mode %04o, want 0600", filepath.Base(name), perm)
			}
		}
	}
	write := func(t *testing.T, db *DB) {
		t.Helper()
		err := db.WriteTx(t.Context(), func(tx *sql.Tx) error {
			_, err := tx.Exec("CREATE TABLE IF NOT EXISTS t (x INTEGER); INSERT INTO t VALUES (1)")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("new", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		db := openT(t, path, nil)
		write(t, db)
		check(t, path)
		if err := db.Checkpoint(t.Context()); err != nil {
			t.Fatal(err)
		}
		write(t, db)
		check(t, path)
	})

	t.Run("existing files opened to everyone", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		write(t, db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := os.Chmod(name, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db = openT(t, path, nil)
		write(t, db)
		check(t, path)
	})
}

func setVersions(t *testing.T, db *DB, set string) []string {
	t.Helper()
	rows, err := db.Reader().QueryContext(t.Context(), "SELECT name FROM schema_migration_sets WHERE set_name = ? ORDER BY version", set)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDB_MigrateSet(t *testing.T) {
	own := fstest.MapFS{
		"0001_a.sql": file("CREATE TABLE a (x);"),
		"0002_b.sql": file("CREATE TABLE b (x);"),
	}
	accounts := fstest.MapFS{
		"0001_members.sql": file("CREATE TABLE members (x);"),
	}
	other := fstest.MapFS{
		"0001_c.sql": file("CREATE TABLE c (x);"),
	}

	t.Run("sets and the database's own migrations share numbers", func(t *testing.T) {
		db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), own)
		if err := db.MigrateSet(t.Context(), "accounts", accounts); err != nil {
			t.Fatal(err)
		}
		if err := db.MigrateSet(t.Context(), "other", other); err != nil {
			t.Fatal(err)
		}
		if got := appliedVersions(t, db); !slices.Equal(got, []string{"0001_a.sql", "0002_b.sql"}) {
			t.Errorf("own migrations = %v", got)
		}
		if got := setVersions(t, db, "accounts"); !slices.Equal(got, []string{"0001_members.sql"}) {
			t.Errorf("accounts set = %v", got)
		}
		for _, table := range []string{"a", "b", "members", "c"} {
			if _, err := db.Reader().ExecContext(t.Context(), "SELECT x FROM "+table); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})

	t.Run("reapplying runs nothing twice and adds new files", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db.sqlite")
		db := openT(t, path, own)
		if err := db.MigrateSet(t.Context(), "accounts", accounts); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db = openT(t, path, own)
		more := fstest.MapFS{
			"0001_members.sql":  accounts["0001_members.sql"],
			"0002_sessions.sql": file("CREATE TABLE sessions (x);"),
		}
		if err := db.MigrateSet(t.Context(), "accounts", more); err != nil {
			t.Fatal(err)
		}
		if got := setVersions(t, db, "accounts"); !slices.Equal(got, []string{"0001_members.sql", "0002_sessions.sql"}) {
			t.Errorf("accounts set = %v", got)
		}
	})

	t.Run("refuses a set newer than the binary", func(t *testing.T) {
		db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), nil)
		newer := fstest.MapFS{
			"0001_members.sql":  accounts["0001_members.sql"],
			"0002_sessions.sql": file("CREATE TABLE sessions (x);"),
		}
		if err := db.MigrateSet(t.Context(), "accounts", newer); err != nil {
			t.Fatal(err)
		}
		err := db.MigrateSet(t.Context(), "accounts", accounts)
		if err == nil || !strings.Contains(err.Error(), "newer than this binary (max 1)") {
			t.Fatalf("MigrateSet error = %v, want newer-schema error", err)
		}
	})

	t.Run("a failed migration leaves no trace", func(t *testing.T) {
		db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), nil)
		bad := fstest.MapFS{"0001_bad.sql": file("CREATE TABLE d (x); SELECT nonsense FROM nowhere;")}
		if err := db.MigrateSet(t.Context(), "accounts", bad); err == nil {
			t.Fatal("MigrateSet accepted a failing migration")
		}
		if got := setVersions(t, db, "accounts"); len(got) != 0 {
			t.Errorf("accounts set = %v, want none", got)
		}
		if _, err := db.Reader().ExecContext(t.Context(), "SELECT x FROM d"); err == nil {
			t.Error("table d survived the failed migration")
		}
	})

	t.Run("refuses bad set names", func(t *testing.T) {
		db := openT(t, filepath.Join(t.TempDir(), "db.sqlite"), nil)
		for _, name := range []string{"", "Accounts", "a b", "a;drop", strings.Repeat("a", 65)} {
			if err := db.MigrateSet(t.Context(), name, accounts); err == nil {
				t.Errorf("MigrateSet accepted set name %q", name)
			}
		}
	})
}

func TestMigrationStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	fsys := fstest.MapFS{
		"0001_t.sql": {Data: []byte(`CREATE TABLE t (x INTEGER);`)},
		"0002_u.sql": {Data: []byte(`CREATE TABLE u (y INTEGER);`)},
	}
	runs := 0
	failing := MigrationStep(2, func(ctx context.Context, tx *sql.Tx) error {
		runs++
		if _, err := tx.ExecContext(ctx, `INSERT INTO u VALUES (1)`); err != nil {
			return err
		}
		return errors.New("step failed")
	})
	if _, err := Open(t.Context(), path, fsys, failing); err == nil {
		t.Fatal("a failing step did not fail the migration")
	}
	step := MigrationStep(2, func(ctx context.Context, tx *sql.Tx) error {
		runs++
		_, err := tx.ExecContext(ctx, `INSERT INTO u VALUES (2)`)
		return err
	})
	db, err := Open(t.Context(), path, fsys, step)
	if err != nil {
		t.Fatal(err)
	}
	var n, y int
	if err := db.Reader().QueryRow(`SELECT COUNT(*), MAX(y) FROM u`).Scan(&n, &y); err != nil {
		t.Fatal(err)
	}
	// The failed step's row went with its migration; the second run's stays.
	if n != 1 || y != 2 {
		t.Fatalf("u holds %d rows, last %d; want the second step's row alone", n, y)
	}
	db.Close()
	db, err = Open(t.Context(), path, fsys, step)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if runs != 2 {
		t.Fatalf("step ran %d times, want 2 (once failing, once applied, not again)", runs)
	}
}

func TestWithoutDependents(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), fstest.MapFS{
		"0001_t.sql": {Data: []byte(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
			CREATE TABLE log (v TEXT);
			CREATE INDEX t_v ON t (length(v));
			CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.v); END;
			CREATE VIEW t_long AS SELECT id FROM t WHERE length(v) > 3;`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.WriteTx(t.Context(), func(tx *sql.Tx) error {
		return WithoutDependents(t.Context(), tx, "t", nil, func() error {
			if _, err := tx.Exec(`ALTER TABLE t RENAME COLUMN v TO raw`); err != nil {
				return err
			}
			_, err := tx.Exec(`ALTER TABLE t ADD COLUMN v TEXT GENERATED ALWAYS AS (upper(raw)) VIRTUAL`)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`INSERT INTO t (raw) VALUES ('abcd')`); err != nil {
		t.Fatal(err)
	}
	// The trigger and the view read the generated column, not the renamed one.
	var logged string
	var long int
	if err := db.Reader().QueryRow(`SELECT (SELECT v FROM log), (SELECT COUNT(*) FROM t_long)`).Scan(&logged, &long); err != nil {
		t.Fatal(err)
	}
	if logged != "ABCD" || long != 1 {
		t.Fatalf("trigger logged %q, view counts %d", logged, long)
	}
	var n int
	if err := db.Reader().QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('t_v', 't_ins', 't_long')`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d of 3 dependents exist again (%v)", n, err)
	}
}

func TestPageSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	fsys := fstest.MapFS{"0001_t.sql": {Data: []byte(`CREATE TABLE t (x INTEGER);`)}}
	size := func(opts ...Option) int {
		db, err := Open(t.Context(), path, fsys, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.Reader().QueryRow(`PRAGMA page_size`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := size(PageSize(16384)); n != 16384 {
		t.Fatalf("new database: page size %d, want 16384", n)
	}
	// An existing file keeps its page size, whatever is asked.
	if n := size(PageSize(8192)); n != 16384 {
		t.Fatalf("reopened database: page size %d, want 16384", n)
	}
}
