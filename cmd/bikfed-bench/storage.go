package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// dbStorage is what one database file takes per resource once the sync
// benchmark has pushed the aggregate to the hub and pulled it to a node.
type dbStorage struct {
	name      string  // "hub.db", "node.db"
	target    float64 // bytes per resource at most
	resources int
	fileBytes int64 // the file after a checkpoint, free pages included
	used      int64 // bytes of the pages the tables and indexes use
	signed    float64
	objects   []objectSize // largest first
}

type objectSize struct {
	name  string
	bytes int64
}

// Storage targets, bytes per ~1 KB resource.
const (
	hubBytesTarget  = 1.1 * 1024
	nodeBytesTarget = 0.8 * 1024
)

// measureStorage checkpoints the database at path into its main file and
// reads, from SQLite's dbstat table, how many bytes of pages each table and
// index takes. It may run while a process has the database open: the
// checkpoint then moves what it can, and dbstat reads the pages as a reader
// sees them, WAL included.
func measureStorage(ctx context.Context, name, path string, resources int, target float64) (dbStorage, error) {
	s := dbStorage{name: name, target: target, resources: resources}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path}).String()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return s, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return s, fmt.Errorf("%s: checkpoint: %w", name, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`)
	if err != nil {
		return s, fmt.Errorf("%s: dbstat: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o objectSize
		if err := rows.Scan(&o.name, &o.bytes); err != nil {
			return s, err
		}
		s.used += o.bytes
		s.objects = append(s.objects, o)
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	// The signed bytes of the resources, for scale: what one copy of each
	// change takes uncompressed.
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(AVG(length(change)), 0) FROM entities WHERE kind = 'resource'`).Scan(&s.signed); err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return s, err
	}
	s.fileBytes = st.Size()
	return s, nil
}

func (s dbStorage) perResource() float64 { return float64(s.used) / float64(max(s.resources, 1)) }

// storageMarkdown is the report's storage section.
func storageMarkdown(b *strings.Builder, stores []dbStorage) {
	if len(stores) == 0 {
		return
	}
	fmt.Fprintf(b, "## Storage at rest\n\n")
	fmt.Fprintf(b, "After the pull above: the hub's hub.db and the pulling node's node.db, checkpointed, measured with SQLite's `dbstat` (bytes of the pages each table and index uses, free space inside them included, free pages not). Each change is stored once, compressed with zstd and a dictionary trained on changes (internal/atrest); the signed bytes are derived from it on read.\n\n")
	fmt.Fprintf(b, "| database | resources | signed bytes per change | pages in use per resource (target) | file per resource |\n|---|---|---|---|---|\n")
	for _, s := range stores {
		fmt.Fprintf(b, "| %s | %d | %.0f B | **%.0f B** (≤ %.0f B) — %s | %.0f B |\n", s.name, s.resources, s.signed, s.perResource(), s.target,
			verdict(s.perResource() <= s.target), float64(s.fileBytes)/float64(max(s.resources, 1)))
	}
	b.WriteString("\n")
	for _, s := range stores {
		fmt.Fprintf(b, "| %s: table or index | bytes per resource | share |\n|---|---|---|\n", s.name)
		var rest int64
		for i, o := range s.objects {
			if i >= 8 {
				rest += o.bytes
				continue
			}
			fmt.Fprintf(b, "| %s | %.0f | %.0f %% |\n", o.name, float64(o.bytes)/float64(max(s.resources, 1)), 100*float64(o.bytes)/float64(max(s.used, 1)))
		}
		if rest > 0 {
			fmt.Fprintf(b, "| %d others | %.0f | %.0f %% |\n", len(s.objects)-8, float64(rest)/float64(max(s.resources, 1)), 100*float64(rest)/float64(max(s.used, 1)))
		}
		b.WriteString("\n")
	}
}
