package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotIntact is returned by Check for a database SQLite finds damaged.
var ErrNotIntact = errors.New("database is not intact")

// Snapshot writes a consistent copy of the database at src, which may be
// open and written by another process, to dest (which must not exist) with
// VACUUM INTO: the copy is one read transaction's view, never a file copy
// of a live database, and its WAL is folded in. The copy is 0600.
func Snapshot(ctx context.Context, src, dest string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("snapshot %s: %s exists", src, dest)
	}
	db, err := sql.Open("sqlite", dsn(abs, "_pragma=busy_timeout(30000)"))
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	defer db.Close()
	// VACUUM INTO takes a file name, not a bound parameter's URI; quotes are
	// doubled as SQL string literals want.
	q := "VACUUM INTO '" + strings.ReplaceAll(dest, "'", "''") + "'"
	if _, err := db.ExecContext(ctx, q); err != nil {
		os.Remove(dest)
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	if err := os.Chmod(dest, 0o600); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	return nil
}

// Check runs SQLite's integrity check on the database file at path, which
// no process may be writing.
func Check(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(abs, "mode=ro"))
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("check %s: %w: %v", path, ErrNotIntact, err)
	}
	if res != "ok" {
		return fmt.Errorf("check %s: %w: %s", path, ErrNotIntact, res)
	}
	return nil
}
