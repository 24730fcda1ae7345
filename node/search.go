package node

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// OwnFilter selects the node's own entities of one kind for SearchOwn.
type OwnFilter struct {
	Kind protocol.Kind
	// Text keeps entities whose title or description contains it, ignoring
	// the case of ASCII letters.
	Text string
	// State keeps entities in that state; StateScheduled, StatePending and
	// StateSynced leave deleted entities out, StateDeleted keeps only them.
	// Empty: every entity that is not deleted.
	State State
	// Limit defaults to 20 and is at most 100; Offset skips that many.
	Limit, Offset int
}

// StateDeleted is a filter of SearchOwn, not a state an Entity reports: a
// deleted entity is pending or synced like any other.
const StateDeleted State = "deleted"

// maxSearchText bounds the text searched for.
const maxSearchText = 200

// SearchOwn returns a page of the node's own entities of f.Kind, the most
// recently changed first, and how many match in all. It reads only the
// node's own id range, so its cost grows with what the SIC wrote, never
// with what it pulled from the network.
func (n *Node) SearchOwn(ctx context.Context, f OwnFilter) ([]Entity, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	lo, hi := ownerRange(n.ident.Node)
	where := ` FROM entities WHERE id >= ? AND id < ? AND kind = ?`
	args := []any{lo, hi, string(f.Kind)}
	out := []Entity{}
	total := 0
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		st, err := readSyncState(ctx, tx)
		if err != nil {
			return err
		}
		switch f.State {
		case "":
			where += ` AND deleted = 0`
		case StateDeleted:
			where += ` AND deleted = 1`
		case StateScheduled:
			where += ` AND deleted = 0 AND scheduled = 1`
		case StatePending:
			where += ` AND deleted = 0 AND scheduled = 0 AND outbox_seq > ?`
			args = append(args, st.PushCheckpoint)
		case StateSynced:
			where += ` AND deleted = 0 AND scheduled = 0 AND outbox_seq <= ?`
			args = append(args, st.PushCheckpoint)
		default:
			return fieldError("state", "%q is not a state (scheduled, pending, synced or deleted)", f.State)
		}
		if text := strings.TrimSpace(f.Text); text != "" {
			if len(text) > maxSearchText {
				text = text[:maxSearchText]
			}
			pattern := "%" + likeEscaper.Replace(text) + "%"
			where += ` AND (json_extract(body, '$.title') LIKE ? ESCAPE '\' OR json_extract(body, '$.description') LIKE ? ESCAPE '\')`
			args = append(args, pattern, pattern)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
			return fmt.Errorf("count own entities: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+entityColumns+where+` ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`,
			append(args, limit, max(f.Offset, 0))...)
		if err != nil {
			return fmt.Errorf("search own entities: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanEntity(rows)
			if err != nil {
				return fmt.Errorf("search own entities: %w", err)
			}
			out = append(out, r.view(n.ident.Node, st.PushCheckpoint))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, unwrapTx(err)
	}
	return out, total, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
