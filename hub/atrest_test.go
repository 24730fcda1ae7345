package hub

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// unpackFixture writes testdata/name (gzip) to dir/as.
func unpackFixture(tb testing.TB, name, dir, as string) string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, zr); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, as)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

type storedRow struct {
	id               string
	change, sig, sum []byte
}

func schemaObjects(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name FROM sqlite_schema WHERE type IN ('index', 'trigger', 'view') ORDER BY 1`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// TestHub_ChangesAtRestMigration opens a hub.db the previous version wrote
// (testdata/hub-v13.db.gz: `bikfed demo` of schema 13, changes stored as
// signed) and checks that the migration keeps every change byte for byte,
// signature and hash included, stores it compressed, and leaves the
// triggers that read changes reading the signed bytes.
func TestHub_ChangesAtRestMigration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	path := unpackFixture(t, "hub-v13.db.gz", cfg.DataDir, "hub.db")

	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var want []storedRow
	rows, err := old.Query(`SELECT id, change, sig, hash FROM entities ORDER BY hub_seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.id, &r.change, &r.sig, &r.sum); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	rows.Close()
	var threads string
	if err := old.QueryRow(`SELECT group_concat(post || '/' || space, ',') FROM (SELECT * FROM community_threads ORDER BY post)`).Scan(&threads); err != nil {
		t.Fatal(err)
	}
	objects := schemaObjects(t, old)
	old.Close()
	if len(want) < 50 || threads == "" {
		t.Fatalf("fixture holds %d entities, threads %q", len(want), threads)
	}

	th := mustOpenHubAt(t, cfg)
	db := th.db.Reader()
	var raw, stored int
	for _, w := range want {
		var change, z, sig, sum []byte
		if err := db.QueryRow(`SELECT change, change_z, sig, hash FROM entities WHERE id = ?`, w.id).Scan(&change, &z, &sig, &sum); err != nil {
			t.Fatalf("%s: %v", w.id, err)
		}
		if !bytes.Equal(change, w.change) || !bytes.Equal(sig, w.sig) || !bytes.Equal(sum, w.sum) {
			t.Fatalf("%s: change, signature or hash differ after the migration", w.id)
		}
		if h := sha256.Sum256(change); !bytes.Equal(h[:], sum) {
			t.Fatalf("%s: hash is not the SHA-256 of the change", w.id)
		}
		if _, err := protocol.Verify(protocol.Signed{Change: change, Sig: sig}, th.lookupKey); err != nil {
			t.Fatalf("%s: %v", w.id, err)
		}
		raw += len(change)
		stored += len(z)
	}
	if stored*4 > raw*3 {
		t.Fatalf("changes take %d bytes stored for %d signed", stored, raw)
	}
	if got := schemaObjects(t, db); !slices.Equal(got, objects) {
		t.Fatalf("indexes, triggers and views after the migration:\n%v\nbefore:\n%v", got, objects)
	}
	// The community triggers read a post's space from its change: run them
	// again, and they must find the same spaces in the decompressed bytes.
	if _, err := th.db.Writer().Exec(`UPDATE entities SET applied_at = applied_at WHERE kind = 'post'`); err != nil {
		t.Fatal(err)
	}
	var again string
	if err := db.QueryRow(`SELECT group_concat(post || '/' || space, ',') FROM (SELECT * FROM community_threads ORDER BY post)`).Scan(&again); err != nil {
		t.Fatal(err)
	}
	if again != threads {
		t.Fatalf("community threads after the triggers ran again:\n%s\nbefore:\n%s", again, threads)
	}
	// The feed hands out the signed bytes.
	byID := map[string]storedRow{}
	for _, w := range want {
		byID[w.id] = w
	}
	feed, _ := pullAll(t, th.enrolNode(t, "lu").client, 0)
	if len(feed) != len(want) {
		t.Fatalf("the feed holds %d changes, the hub %d", len(feed), len(want))
	}
	for _, it := range feed {
		c, err := protocol.ParseChange(it.Change)
		if err != nil {
			t.Fatal(err)
		}
		if w := byID[c.ID]; !bytes.Equal(it.Change, w.change) || !bytes.Equal(it.Sig, w.sig) {
			t.Fatalf("%s: the feed hands out other bytes than were signed", c.ID)
		}
	}
}
