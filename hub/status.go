package hub

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"

	"github.com/bikfed/bikfed/protocol"
)

// maxDoneErasures bounds how many completed erasures status lists.
const maxDoneErasures = 100

// Nodes returns the sync status of every registered node, by id.
func (h *Hub) Nodes(ctx context.Context) ([]protocol.NodeStatus, error) {
	st, err := h.status(ctx, "")
	if err != nil {
		return nil, err
	}
	return st.Nodes, nil
}

// NetworkStatus returns the hub's view of the whole network: every node's
// sync health and the erasures with the nodes that have not applied them.
func (h *Hub) NetworkStatus(ctx context.Context) (*protocol.NetworkStatus, error) {
	return h.status(ctx, "")
}

// handleStatus is GET /v1/status: the operator sees the network, a node
// only itself.
func (h *Hub) handleStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st, err := h.status(r.Context(), p.node)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// status reads the network status; with only set, just that node's, without
// erasures (they name other nodes).
func (h *Hub) status(ctx context.Context, only string) (*protocol.NetworkStatus, error) {
	now := h.now()
	st := &protocol.NetworkStatus{Nodes: []protocol.NodeStatus{}}
	if h.portal != nil {
		st.PortalIndexedSeq = h.portal.IndexedSeq()
	}
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&st.HubSeq); err != nil {
			return err
		}
		counts := make(map[string]int)
		rows, err := tx.QueryContext(ctx, `SELECT owner, COUNT(*) FROM entities WHERE deleted = 0 GROUP BY owner`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var owner string
			var n int
			if err := rows.Scan(&owner, &n); err != nil {
				rows.Close()
				return err
			}
			counts[owner] = n
			st.Entities += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `SELECT id, name, enrolled_at IS NOT NULL, epoch, applied_seq, head_seq,
			last_push_at, last_success_at, refusal_count FROM nodes WHERE id != ? AND (? = '' OR id = ?) ORDER BY id`,
			protocol.HubID, only, only)
		if err != nil {
			return err
		}
		for rows.Next() {
			var ns protocol.NodeStatus
			var lastPush, lastSuccess sql.NullInt64
			if err := rows.Scan(&ns.Node, &ns.Name, &ns.Enrolled, &ns.Epoch, &ns.AppliedSeq, &ns.HeadSeq,
				&lastPush, &lastSuccess, &ns.RefusalCount); err != nil {
				rows.Close()
				return err
			}
			ns.LastPushAt, ns.LastSuccessAt = timePtr(lastPush), timePtr(lastSuccess)
			ns.Entities = counts[ns.Node]
			st.Nodes = append(st.Nodes, ns)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}

		for i := range st.Nodes {
			ns := &st.Nodes[i]
			// The pull cursor lives in memory between flushes; memory is the
			// truth.
			h.mu.Lock()
			if n := h.nodes[ns.Node]; n != nil {
				ns.Suspended, ns.Removed = n.suspended, n.removed
				ns.PullCursor = n.pullCursor
				if !n.lastPullAt.IsZero() {
					t := n.lastPullAt.UTC()
					ns.LastPullAt = &t
					if ns.LastSuccessAt == nil || t.After(*ns.LastSuccessAt) {
						ns.LastSuccessAt = &t
					}
				}
				// A push committed after this snapshot began is newer still.
				if n.epoch == ns.Epoch && n.appliedSeq > ns.AppliedSeq {
					ns.AppliedSeq, ns.HeadSeq = n.appliedSeq, max(ns.HeadSeq, n.headSeq)
				}
			}
			h.mu.Unlock()
			ns.PushLag = max(0, ns.HeadSeq-ns.AppliedSeq)
			ns.PullLag = max(0, st.HubSeq-ns.PullCursor)
			// A cursor past every hub_seq this database ever gave out means
			// the hub lost changes the node had: it was restored from an
			// older copy. Lag 0 would say the node is in step.
			if head := max(st.HubSeq, h.head.Load()); ns.PullCursor > head {
				ns.CursorAhead = ns.PullCursor - head
			}
			if ns.PullLag > 0 {
				var appliedAt int64
				err := tx.QueryRowContext(ctx, `SELECT applied_at FROM entities WHERE hub_seq > ? ORDER BY hub_seq LIMIT 1`, ns.PullCursor).Scan(&appliedAt)
				if err == nil {
					ns.PullLagSeconds = max(0, now.Sub(fromMillis(appliedAt)).Seconds())
				} else if err != sql.ErrNoRows {
					return err
				}
			}
			if err := h.readRefusals(ctx, tx, ns); err != nil {
				return err
			}
		}
		if only != "" {
			return nil
		}
		st.Erasures, err = h.readErasures(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	h.addLiveness(st, now)
	return st, nil
}

func (h *Hub) readRefusals(ctx context.Context, tx *sql.Tx, ns *protocol.NodeStatus) error {
	rows, err := tx.QueryContext(ctx, `SELECT at, line, seq, entity, version, code, reason FROM rejections
		WHERE node = ? ORDER BY rowid_ DESC LIMIT ?`, ns.Node, maxKeptRefusals)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r protocol.Refusal
		var at int64
		var code string
		if err := rows.Scan(&at, &r.Line, &r.Seq, &r.ID, &r.Version, &code, &r.Reason); err != nil {
			return err
		}
		r.At, r.Code = fromMillis(at), protocol.Code(code)
		ns.Refusals = append(ns.Refusals, r)
	}
	return rows.Err()
}
