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

// ledger is where applied migrations are recorded: the database's own set in
// schema_migrations, as it always has been, and each named set (migrations a
// shared package brings to whichever database uses it) in
// schema_migration_sets, so the two numberings never collide.
type ledger struct {
	set   string // "" for the database's own migrations
	steps map[int64]func(context.Context, *sql.Tx) error
}

func (l ledger) create() string {
	if l.set == "" {
		return `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
	}
	return `CREATE TABLE IF NOT EXISTS schema_migration_sets (
	set_name   TEXT NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL,
	PRIMARY KEY (set_name, version)
)`
}

func (l ledger) query(q string, args ...any) (string, []any) {
	if l.set == "" {
		return fmt.Sprintf(q, "schema_migrations", "1 = 1"), args
	}
	return fmt.Sprintf(q, "schema_migration_sets", "set_name = ?"), append([]any{l.set}, args...)
}

func (l ledger) insert(m migration) (string, []any) {
	const now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
	if l.set == "" {
		return "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, " + now + ")",
			[]any{m.version, m.name}
	}
	return "INSERT INTO schema_migration_sets (set_name, version, name, applied_at) VALUES (?, ?, ?, " + now + ")",
		[]any{l.set, m.version, m.name}
}

// MigrateSet applies the pending migrations of a named set from the root of
// fsys, numbered independently of the database's own migrations and of any
// other set. It lets a package that owns some tables (accounts, say) bring
// them to a database opened by another: Open applies the database's own
// migrations, the package then calls MigrateSet with its name. The rules are
// those of Open's migrations, including the refusal of a set whose recorded
// version is newer than fsys.
func (db *DB) MigrateSet(ctx context.Context, set string, fsys fs.FS) error {
	if !validSetName(set) {
		return fmt.Errorf("migrate set %q: name must be 1 to 64 lowercase letters, digits, '-' or '_'", set)
	}
	if err := db.migrate(ctx, ledger{set: set}, fsys); err != nil {
		return fmt.Errorf("migrate set %s: %w", set, err)
	}
	db.dirty.Store(true)
	return nil
}

func validSetName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func (db *DB) migrate(ctx context.Context, l ledger, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}

	if _, err := db.writer.ExecContext(ctx, l.create()); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}

	var dbMax int64
	q, args := l.query("SELECT COALESCE(MAX(version), 0) FROM %s WHERE %s")
	if err := db.writer.QueryRowContext(ctx, q, args...).Scan(&dbMax); err != nil {
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
		if err := db.apply(ctx, l, fsys, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs one migration and records it in the same transaction, so the
// two can never disagree. The applied check is inside that transaction
// because another process may have opened the same file and migrated it
// since we looked.
func (db *DB) apply(ctx context.Context, l ledger, fsys fs.FS, m migration) error {
	return inTx(ctx, db.writer, nil, func(tx *sql.Tx) error {
		var one int
		q, args := l.query("SELECT 1 FROM %s WHERE %s AND version = ?", m.version)
		err := tx.QueryRowContext(ctx, q, args...).Scan(&one)
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
		if step := l.steps[m.version]; step != nil {
			if err := step(ctx, tx); err != nil {
				return err
			}
		}
		q, args = l.insert(m)
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	})
}

// WithoutDependents runs fn while the indexes, triggers and views that name
// table are dropped, then creates them again from their SQL as the schema
// held it, passed through rewrite when rewrite is not nil. A migration
// that renames a column to give its name to a generated column uses it:
// SQLite's RENAME COLUMN rewrites every dependent to the old column's new
// name, where they must keep reading the name they were written against.
// It is meant for a MigrationStep's transaction.
func WithoutDependents(ctx context.Context, tx *sql.Tx, table string, rewrite func(string) string, fn func() error) error {
	rows, err := tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_schema
		WHERE type IN ('index', 'trigger', 'view') AND sql IS NOT NULL AND (tbl_name = ?1 OR instr(lower(sql), lower(?1)) > 0)
		ORDER BY rowid`, table)
	if err != nil {
		return fmt.Errorf("list dependents of %s: %w", table, err)
	}
	type object struct{ typ, name, sql string }
	var objs []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			rows.Close()
			return err
		}
		objs = append(objs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, o := range objs {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DROP %s "%s"`, strings.ToUpper(o.typ), strings.ReplaceAll(o.name, `"`, `""`))); err != nil {
			return fmt.Errorf("drop %s %s: %w", o.typ, o.name, err)
		}
	}
	if err := fn(); err != nil {
		return err
	}
	// Views first: a trigger may read one. Indexes and triggers follow in
	// the order they were made.
	slices.SortStableFunc(objs, func(a, b object) int {
		return cmp.Compare(boolRank(a.typ != "view"), boolRank(b.typ != "view"))
	})
	for _, o := range objs {
		q := o.sql
		if rewrite != nil {
			q = rewrite(q)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create %s %s again: %w", o.typ, o.name, err)
		}
	}
	return nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
