package node

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func unpackFixture(t *testing.T, name, to string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(name) == ".gz" {
		if r, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

type nodeRow struct {
	id, kind, keyID   string
	version           int64
	change, sig, hash []byte
	body              sql.NullString
	scheduled         bool
}

func nodeRows(t *testing.T, db *sql.DB) []nodeRow {
	t.Helper()
	rows, err := db.Query(`SELECT id, kind, COALESCE(key_id, ''), version, change, sig, hash, body, scheduled FROM entities ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []nodeRow
	for rows.Next() {
		var r nodeRow
		if err := rows.Scan(&r.id, &r.kind, &r.keyID, &r.version, &r.change, &r.sig, &r.hash, &r.body, &r.scheduled); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestNode_ChangesAtRestMigration opens a node.db the previous version wrote
// (testdata/node-v17.db.gz: the be node of `bikfed demo` at schema 17, with
// own, pulled and scheduled entities) and checks that the migration keeps
// every change, signature, hash and body, stores each change once and
// compressed, and leaves the triggers reading the bodies they read before.
func TestNode_ChangesAtRestMigration(t *testing.T) {
	dir := t.TempDir()
	unpackFixture(t, "node-v17.db.gz", filepath.Join(dir, dbFile))
	unpackFixture(t, "node-v17.key", filepath.Join(dir, keyFile))

	old, err := sql.Open("sqlite", filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	want := nodeRows(t, old)
	const searchQ = `SELECT i.id || ' ' || s.title || ' ' || s.text FROM community_items i JOIN community_fts s ON s.rowid = i.n ORDER BY i.id`
	search := queryStrings(t, old, searchQ)
	objects := queryStrings(t, old, `SELECT type || ' ' || name FROM sqlite_schema WHERE type IN ('index', 'trigger', 'view') ORDER BY 1`)
	pastVersions := queryStrings(t, old, `SELECT r.id || ' v' || r.version FROM resource_versions r
		JOIN entities e ON e.id = r.id AND r.version < e.version ORDER BY 1`)
	old.Close()
	var scheduled int
	for _, r := range want {
		if r.scheduled {
			scheduled++
		}
	}
	if len(want) < 50 || len(search) == 0 || scheduled == 0 {
		t.Fatalf("fixture: %d entities, %d scheduled, %d searchable", len(want), scheduled, len(search))
	}

	n := openNode(t, dir)
	db := n.db.Reader()
	got := nodeRows(t, db)
	if len(got) != len(want) {
		t.Fatalf("%d entities after the migration, %d before", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.id != w.id || g.keyID != w.keyID || !bytes.Equal(g.change, w.change) || !bytes.Equal(g.sig, w.sig) || !bytes.Equal(g.hash, w.hash) {
			t.Fatalf("%s: change, key, signature or hash differ after the migration", w.id)
		}
		if g.body != w.body {
			t.Fatalf("%s: body %v after the migration, %v before", w.id, g.body, w.body)
		}
	}
	var raw, stored, own int
	if err := db.QueryRow(`SELECT SUM(length(change)), SUM(length(change_z)), COUNT(body_own) FROM entities`).Scan(&raw, &stored, &own); err != nil {
		t.Fatal(err)
	}
	// Only the scheduled entity's body is not the one its change gives.
	if stored*4 > raw*3 || own != scheduled {
		t.Fatalf("%d bytes stored for %d signed; %d bodies of their own, want %d", stored, raw, own, scheduled)
	}
	after := queryStrings(t, db, `SELECT type || ' ' || name FROM sqlite_schema WHERE type IN ('index', 'trigger', 'view') ORDER BY 1`)
	wantObjects := slices.DeleteFunc(slices.Clone(objects), func(s string) bool { return s == "trigger resource_version_on_insert" })
	// Migration 0019, which runs after this one, adds the triggers that
	// keep entity_counts.
	wantObjects = append(wantObjects, "trigger entity_counts_on_delete", "trigger entity_counts_on_insert", "trigger entity_counts_on_update")
	slices.Sort(wantObjects)
	if !slices.Equal(after, wantObjects) {
		t.Fatalf("indexes, triggers and views after the migration:\n%v\nwant:\n%v", after, wantObjects)
	}
	// Triggers fired by an update of body or change are fired by an update
	// of what those derive from.
	for _, name := range []string{"community_on_update", "moderation_on_update", "resource_version_on_update"} {
		var q string
		if err := db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, name).Scan(&q); err != nil {
			t.Fatal(err)
		}
		if !updateOf.MatchString(q) || !strings.Contains(updateOf.FindString(q), "body_own, change_z") {
			t.Fatalf("%s fires on %q", name, updateOf.FindString(q))
		}
	}
	// The current version of a resource is read from entities; the past
	// ones stay in resource_versions.
	if p := queryStrings(t, db, `SELECT id || ' v' || version FROM resource_versions ORDER BY 1`); !slices.Equal(p, pastVersions) {
		t.Fatalf("past versions after the migration: %v, want %v", p, pastVersions)
	}
	for _, w := range want {
		if w.kind != "resource" || !w.body.Valid || w.scheduled {
			continue
		}
		v, _, err := n.ResourceVersion(t.Context(), w.id, w.version)
		if err != nil {
			t.Fatalf("%s v%d: %v", w.id, w.version, err)
		}
		if v.Body.Title == "" {
			t.Fatalf("%s v%d: no title", w.id, w.version)
		}
	}
	// The community triggers index a post's words from its body: fired
	// again, they must find the same words.
	if _, err := n.db.Writer().Exec(`UPDATE entities SET version = version WHERE kind IN ('post', 'comment')`); err != nil {
		t.Fatal(err)
	}
	if again := queryStrings(t, db, searchQ); !slices.Equal(again, search) {
		t.Fatalf("search index after the triggers ran again:\n%v\nbefore:\n%v", again, search)
	}
}
