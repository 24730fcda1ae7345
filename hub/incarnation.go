package hub

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
)

// incarnationState is the hub's current incarnation and the history of the
// ones before it, as this database knows them.
type incarnationState struct {
	mu sync.RWMutex
	id string
	// ends maps each earlier incarnation to the hub_seq its history ends at
	// in this database: the start_seq of the incarnation that followed it.
	ends map[string]int64
}

// startIncarnation begins a new incarnation of the hub: a random id recorded
// with the current head. Only a serving hub starts one: a one-shot command
// that opens the database would otherwise split an incarnation the nodes saw
// into two, and make the first look cut short.
func (h *Hub) startIncarnation(ctx context.Context) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("start incarnation: %w", err)
	}
	id := hex.EncodeToString(b[:])
	ends := map[string]int64{}
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var head int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
			return fmt.Errorf("read hub_seq: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incarnations (id, started_at, start_seq) VALUES (?, ?, ?)`,
			id, toMillis(h.now()), head); err != nil {
			return fmt.Errorf("record incarnation: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, start_seq FROM incarnations ORDER BY ord`)
		if err != nil {
			return fmt.Errorf("read incarnations: %w", err)
		}
		defer rows.Close()
		prev := ""
		for rows.Next() {
			var cur string
			var start int64
			if err := rows.Scan(&cur, &start); err != nil {
				return fmt.Errorf("read incarnations: %w", err)
			}
			if prev != "" {
				ends[prev] = start
			}
			prev = cur
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("start incarnation: %w", err)
	}
	h.incarnation.mu.Lock()
	h.incarnation.id, h.incarnation.ends = id, ends
	h.incarnation.mu.Unlock()
	h.log.Info("hub incarnation started", "incarnation", id, "hub_seq", h.head.Load(), "earlier", len(ends))
	return nil
}

// Incarnation returns the id of the hub's current incarnation; empty until
// Run starts serving.
func (h *Hub) Incarnation() string {
	h.incarnation.mu.RLock()
	defer h.incarnation.mu.RUnlock()
	return h.incarnation.id
}

// lineage answers what a node that last saw incarnation known may trust: the
// current incarnation and, when known is an earlier one, the hub_seq up to
// which this database holds the history the node saw (0 when it does not
// know that incarnation at all: it was restored from a copy older than it).
func (h *Hub) lineage(known string) (current string, seq int64, differs bool) {
	h.incarnation.mu.RLock()
	defer h.incarnation.mu.RUnlock()
	current = h.incarnation.id
	if known == "" || current == "" || known == current {
		return current, 0, false
	}
	return current, h.incarnation.ends[known], true
}
