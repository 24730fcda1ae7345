package node

import (
	"context"
	"database/sql"
	"fmt"
)

// DecidedHeld returns the latest decided held items, the most recently
// decided first: what the youth coordinators approved and rejected, for
// them to see who decided what. limit defaults to 20 and is at most 1000.
func (n *Node) DecidedHeld(ctx context.Context, limit int) ([]HeldItem, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 1000)
	out := []HeldItem{}
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+heldColumns+` FROM held_items WHERE state <> 'waiting'
			ORDER BY decided_at DESC, id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHeld(rows)
			if err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("decided held items: %w", err)
	}
	return out, nil
}

// HeldWaitingCount returns how many held items wait for a coordinator.
func (n *Node) HeldWaitingCount(ctx context.Context) (int, error) {
	var k int
	if err := n.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM held_items WHERE state = 'waiting'`).Scan(&k); err != nil {
		return 0, fmt.Errorf("count waiting held items: %w", err)
	}
	return k, nil
}
