package hub

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// changesAtRestVersion is the migration that compresses entities.change
// (migrations/0014_changes_at_rest.sql); migrateChangesAtRest is its Go part.
const changesAtRestVersion = 14

func migrateChangesAtRest(ctx context.Context, tx *sql.Tx) error {
	return sqlitedb.WithoutDependents(ctx, tx, "entities", nil, func() error {
		for _, q := range []string{
			`ALTER TABLE entities RENAME COLUMN change TO change_z`,
			`UPDATE entities SET change_z = atrest_compress(change_z)`,
			`ALTER TABLE entities ADD COLUMN change BLOB GENERATED ALWAYS AS (atrest_decompress(change_z)) VIRTUAL`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("compress changes: %w", err)
			}
		}
		return nil
	})
}

// Times are stored as unix milliseconds: they compare as integers in SQL
// (publish_at <= now) and cost no parsing on the apply path.
func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// load brings the in-memory state up from the database at Open: the hub_seq
// head, the key directory (with the hub's own key) and the nodes.
func (h *Hub) load(ctx context.Context) error {
	now := h.now()
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// The hub's own outbox is checkpointed like a node's, so hub authoring
		// goes through the push apply path unchanged.
		if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, name, created_at, enrolled_at, epoch)
			VALUES (?, 'hub', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			protocol.HubID, toMillis(now), toMillis(now), hubEpoch); err != nil {
			return fmt.Errorf("hub row: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys (key_id, owner, public_key, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING`,
			h.key.ID, protocol.HubID, []byte(h.key.Public()), toMillis(now)); err != nil {
			return fmt.Errorf("hub key: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	// The counter restarts from what is committed, so a crash can never hand
	// out a hub_seq twice: rows are never removed, only moved to a higher seq.
	var head int64
	if err := h.db.Reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
		return fmt.Errorf("load hub_seq: %w", err)
	}
	h.head.Store(head)
	if err := h.reloadKeys(ctx); err != nil {
		return err
	}
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT id, name, enrolled_at IS NOT NULL, enrolled_hub_seq,
		credential_hash, epoch, applied_seq, head_seq, pull_cursor, last_pull_at, countries,
		suspended_at IS NOT NULL, removed_at IS NOT NULL FROM nodes`)
	if err != nil {
		return fmt.Errorf("load nodes: %w", err)
	}
	defer rows.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for rows.Next() {
		var id string
		var n nodeState
		var pullAt sql.NullInt64
		var countries string
		if err := rows.Scan(&id, &n.name, &n.enrolled, &n.enrolledHubSeq, &n.credHash, &n.epoch,
			&n.appliedSeq, &n.headSeq, &n.pullCursor, &pullAt, &countries, &n.suspended, &n.removed); err != nil {
			return fmt.Errorf("load nodes: %w", err)
		}
		n.countries = splitCountries(countries)
		if pullAt.Valid {
			n.lastPullAt = fromMillis(pullAt.Int64)
		}
		h.nodes[id] = &n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load nodes: %w", err)
	}
	return nil
}

// loadAll reads the nodes and the mirrors.
func (h *Hub) loadAll(ctx context.Context) error {
	if err := h.load(ctx); err != nil {
		return err
	}
	return h.loadMirrors(ctx)
}

// hubEpoch is the epoch of the hub's own outbox; the hub's database is its
// outbox, so it never restarts one.
const hubEpoch = "hub"

// reloadKeys replaces the cached key directory with the table's contents.
// Reloads run one at a time: two enrolments committing together would
// otherwise each read the table, and the slower reload, which read before
// the other's commit, would store a directory without the other's key.
func (h *Hub) reloadKeys(ctx context.Context) error {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT key_id, owner, public_key, created_at, retired_at, retired_hub_seq FROM keys`)
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	defer rows.Close()
	m := make(map[string]protocol.KeyInfo)
	for rows.Next() {
		var k protocol.KeyInfo
		var pub []byte
		var created int64
		var retired sql.NullInt64
		if err := rows.Scan(&k.KeyID, &k.Owner, &pub, &created, &retired, &k.RetiredHubSeq); err != nil {
			return fmt.Errorf("load keys: %w", err)
		}
		k.PublicKey = pub
		k.CreatedAt = fromMillis(created)
		k.RetiredAt = timePtr(retired)
		m[k.KeyID] = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	h.keys.Store(&m)
	return nil
}

// lookupKey is the protocol.KeyLookup over the cached directory.
func (h *Hub) lookupKey(id string) (protocol.KeyInfo, bool) {
	k, ok := (*h.keys.Load())[id]
	return k, ok
}

// flushCursors writes the pull cursors polled since the last flush, in one
// transaction.
func (h *Hub) flushCursors(ctx context.Context) error {
	type cursor struct {
		node   string
		cursor int64
		at     time.Time
	}
	var dirty []cursor
	h.mu.Lock()
	for id, n := range h.nodes {
		if n.pullDirty {
			dirty = append(dirty, cursor{id, n.pullCursor, n.lastPullAt})
			n.pullDirty = false
		}
	}
	h.mu.Unlock()
	if len(dirty) == 0 {
		return nil
	}
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE nodes SET pull_cursor = ?, last_pull_at = ?,
			last_success_at = MAX(COALESCE(last_success_at, 0), ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range dirty {
			if _, err := stmt.ExecContext(ctx, c.cursor, toMillis(c.at), toMillis(c.at), c.node); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Mark them dirty again so the next flush retries.
		h.mu.Lock()
		for _, c := range dirty {
			if n := h.nodes[c.node]; n != nil {
				n.pullDirty = true
			}
		}
		h.mu.Unlock()
		return fmt.Errorf("flush pull cursors: %w", err)
	}
	return nil
}
