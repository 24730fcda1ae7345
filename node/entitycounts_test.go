package node

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

// groupedCounts counts the entities by owner and kind the slow way, as
// Status did before entity_counts.
func groupedCounts(t *testing.T, db *sqlitedb.DB) []EntityCount {
	t.Helper()
	rows, err := db.Reader().QueryContext(t.Context(), `SELECT substr(id, 1, instr(id, ':') - 1) AS owner, kind, count(*)
		FROM entities GROUP BY owner, kind ORDER BY owner, kind`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []EntityCount{}
	for rows.Next() {
		var c EntityCount
		if err := rows.Scan(&c.Owner, &c.Kind, &c.Count); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Status's counts, kept by triggers, stay those of the entities through
// creation, pulls, deletion, and rows removed or changing kind.
func TestStatus_CountsFollowEntities(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	check := func(when string) {
		t.Helper()
		s := mustStatus(t, n)
		want := groupedCounts(t, n.db)
		if !slices.Equal(s.Counts, want) {
			t.Fatalf("%s: counts %v, want %v", when, s.Counts, want)
		}
		var total int64
		for _, c := range want {
			total += c.Count
		}
		if s.Entities != total {
			t.Fatalf("%s: %d entities, want %d", when, s.Entities, total)
		}
	}
	check("empty")
	var own []Entity
	for i := range 5 {
		own = append(own, mustCreate(t, n, "Own "+strings.Repeat("x", i)))
	}
	injectRemote(t, hub, 12)
	mustSync(t, n)
	check("after create and pull")
	if s := mustStatus(t, n); s.Entities != 17 || len(s.Counts) != 3 {
		t.Fatalf("after create and pull: %d entities in %v, want 17 in 3 groups", s.Entities, s.Counts)
	}
	if _, err := n.Delete(t.Context(), own[0].ID, false); err != nil {
		t.Fatal(err)
	}
	check("after a deletion, whose tombstone counts")
	ctx := t.Context()
	if _, err := n.db.Writer().ExecContext(ctx, `UPDATE entities SET kind = 'post' WHERE id = ?`, own[1].ID); err != nil {
		t.Fatal(err)
	}
	check("after a change of kind")
	if _, err := n.db.Writer().ExecContext(ctx, `DELETE FROM entities WHERE id = ?`, own[2].ID); err != nil {
		t.Fatal(err)
	}
	check("after a row removed")
}

// Migration 0019 counts the entities a database already holds.
func TestMigration_EntityCountsOfExistingDatabase(t *testing.T) {
	ctx := context.Background()
	before := fstest.MapFS{}
	err := fs.WalkDir(migrations(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "0019") {
			return err
		}
		b, err := fs.ReadFile(migrations(), p)
		before[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), dbFile)
	old, err := sqlitedb.Open(ctx, path, before)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range []struct{ id, kind string }{
		{"be:01", "resource"}, {"be:02", "resource"}, {"be:03", "event"}, {"fi:01", "resource"}, {"fi:02", "post"}, {"fi:03", "post"},
	} {
		if _, err := old.Writer().ExecContext(ctx, `INSERT INTO entities (id, owner, kind, version, visibility, updated_at, hub_seq)
			VALUES (?, ?, ?, 1, 'public', '2026-01-01T00:00:00.000000000Z', ?)`, e.id, e.id[:2], e.kind, i+1); err != nil {
			t.Fatal(err)
		}
	}
	want := groupedCounts(t, old)
	old.Close()

	db, err := sqlitedb.Open(ctx, path, migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Reader().QueryContext(ctx, `SELECT owner, kind, n FROM entity_counts ORDER BY owner, kind`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []EntityCount
	for rows.Next() {
		var c EntityCount
		if err := rows.Scan(&c.Owner, &c.Kind, &c.Count); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || len(want) != 4 {
		t.Fatalf("counts after the migration %v, want %v", got, want)
	}
}
