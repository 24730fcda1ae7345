package sqlitedb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

type migration struct {
	version int64
	name    string // file name, recorded so a database shows where its schema came from
}

// loadMigrations lists the .sql files at the root of fsys in version order.
// Files with other extensions and subdirectories are ignored, so a README
// can live beside the migrations; a .sql file without a version number is
// an error, because silently skipping a misnamed migration would ship a
// binary whose schema differs from what its code expects.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	if fsys == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	seen := make(map[int64]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		digits := name[:len(name)-len(strings.TrimLeft(name, "0123456789"))]
		if digits == "" {
			return nil, fmt.Errorf("migration %q: name must start with a version number", name)
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %q: version: %w", name, err)
		}
		if v == 0 {
			// 0 is what an empty schema_migrations reports, so a version 0
			// migration could never be told apart from "nothing applied".
			return nil, fmt.Errorf("migration %q: versions start at 1", name)
		}
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		ms = append(ms, migration{version: v, name: name})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return ms, nil
}

func (db *DB) migrate(ctx context.Context, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}

	const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
	if _, err := db.writer.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	var dbMax int64
	if err := db.writer.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&dbMax); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var fileMax int64
	if len(ms) > 0 {
		fileMax = ms[len(ms)-1].version
	}
	// An older binary running against a newer schema would read and write
	// tables whose meaning it does not know; refusing is the only safe move.
	if dbMax > fileMax {
		return fmt.Errorf("database schema version %d is newer than this binary (max %d)", dbMax, fileMax)
	}

	for _, m := range ms {
		if err := db.apply(ctx, fsys, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs one migration and records it in the same transaction, so the
// two can never disagree. The applied check is inside that transaction
// because another process may have opened the same file and migrated it
// since we looked.
func (db *DB) apply(ctx context.Context, fsys fs.FS, m migration) error {
	return inTx(ctx, db.writer, nil, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM schema_migrations WHERE version = ?", m.version).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		body, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
			m.version, m.name)
		return err
	})
}
