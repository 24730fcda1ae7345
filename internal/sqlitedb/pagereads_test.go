package sqlitedb

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// With PageReadsEnv set, a database counts the pages its connections read,
// on every pool and even on a reader that would map the file: a lookup by
// key reads a few pages, a scan of the table all of them.
func TestPagesRead_CountsLookupsAndScans(t *testing.T) {
	t.Setenv(PageReadsEnv, "1")
	ctx := context.Background()
	migrations := fstest.MapFS{"0001_t.sql": {Data: []byte(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);`)}}
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(ctx, path, migrations, ReaderMmap(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", 1000)
	if _, err := db.Writer().ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
		INSERT INTO t (id, v) SELECT i, ? FROM n`, filler); err != nil {
		t.Fatal(err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	read := func(q string) int64 {
		t.Helper()
		before := PagesRead()[path]
		db, err := Open(ctx, path, migrations, ReaderMmap(1<<30))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := db.Reader().QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return PagesRead()[path] - before
	}
	lookup := read(`SELECT length(v) FROM t WHERE id = 2000`)
	scan := read(`SELECT sum(length(v)) FROM t`)
	t.Logf("pages read: %d by a lookup, %d by a scan", lookup, scan)
	if lookup < 3 || lookup > 20 {
		t.Errorf("a lookup read %d pages, want a few", lookup)
	}
	if scan < 1000 {
		t.Errorf("a scan of 4,000 rows of 1 KB read %d pages, want at least 1,000", scan)
	}
}

// Without PageReadsEnv, nothing is counted.
func TestPagesRead_OffByDefault(t *testing.T) {
	t.Setenv(PageReadsEnv, "")
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n, ok := PagesRead()[path]; ok {
		t.Errorf("counted %d pages with counting off", n)
	}
}
