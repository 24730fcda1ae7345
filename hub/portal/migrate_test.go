package portal

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

// TestMigration_SearchTags: an index made before the tags column gets one,
// filled from the resources already there, and the words list.
func TestMigration_SearchTags(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	first, err := fs.ReadFile(migrationFS, "migrations/0001_portal.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlitedb.Open(ctx, path, fstest.MapFS{"0001_portal.sql": {Data: first}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Writer().Exec(`INSERT INTO resources (rid, id, owner, version, hub_seq, updated_at, title, description, language,
		languages, age_min, age_max, type, topics, audiences, minisites, licence, url, blobs)
		VALUES (7, 'be:1', 'be', 1, 1, 0, 'Cyberpesten in de klas', 'Een gids.', 'nl', '["nl"]', 10, 14, 'lesson-plan',
		'["cyberbullying","hate-speech"]', '["teachers","youth-workers"]', '[]', '', '', '[]');
		INSERT INTO resource_fts (rowid, title, description, translations) VALUES (7, 'Cyberpesten in de klas', 'Een gids.', NULL)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	// Up to 0004: 0005 empties the index, to be rebuilt (TestMigration_Rebuild).
	db, err := sqlitedb.Open(ctx, path, migrationsUpTo(t, "0004"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`"cyberpesten"`, `"gids"`,
		`"` + vocabToken(facetTopic, "hate-speech") + `"`, `"` + vocabToken(facetType, "lesson-plan") + `"`,
		`"` + vocabToken(facetAudience, "youth-workers") + `"`, `"` + vocabToken(facetTopic, "cyberbullying") + `"`,
	} {
		var rid int
		if err := db.Reader().QueryRow(`SELECT rowid FROM resource_fts WHERE resource_fts MATCH ?`, q).Scan(&rid); err != nil || rid != 7 {
			t.Errorf("MATCH %s: rid %d, %v", q, rid, err)
		}
	}
	var doc int
	if err := db.Reader().QueryRow(`SELECT doc FROM resource_terms WHERE term = 'cyberpesten'`).Scan(&doc); err != nil || doc != 1 {
		t.Errorf("resource_terms: cyberpesten in %d, %v", doc, err)
	}
}

// TestMigration_Rebuild: an index made before the table of shown entities
// and before OAI-PMH positions were hub_seqs is emptied and its cursor set
// back, so the indexer fills it again from the aggregate.
func TestMigration_Rebuild(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := sqlitedb.Open(ctx, path, migrationsUpTo(t, "0004"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer().Exec(`INSERT INTO resources (rid, id, owner, version, hub_seq, updated_at, title, description, language,
		languages, age_min, age_max, type, topics, audiences, minisites, licence, url, blobs)
		VALUES (7, 'be:1', 'be', 1, 40, 0, 'Gids', 'Een gids.', 'nl', '["nl"]', 10, 14, 'guide', '[]', '[]', '[]', '', '', '[]');
		INSERT INTO oai (id, seq, stamp, deleted, sets) VALUES ('be:1', 3, 0, 0, ' sic:be ');
		UPDATE state SET value = 40 WHERE key = 'indexed_seq'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if db, err = sqlitedb.Open(ctx, path, sub); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq, n int
	if err := db.Reader().QueryRow(`SELECT value FROM state WHERE key = 'indexed_seq'`).Scan(&seq); err != nil || seq != 0 {
		t.Errorf("indexed_seq = %d, %v; want 0", seq, err)
	}
	if err := db.Reader().QueryRow(`SELECT (SELECT COUNT(*) FROM resources) + (SELECT COUNT(*) FROM oai)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows left, %v", n, err)
	}
}

// migrationsUpTo is the portal's migrations up to the one numbered last.
func migrationsUpTo(t *testing.T, last string) fstest.MapFS {
	t.Helper()
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, e := range entries {
		if e.Name()[:len(last)] > last {
			continue
		}
		b, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}
