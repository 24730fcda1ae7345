package hub

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"time"

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

// holder is what erasure tracking needs of a node.
type holder struct {
	node           string
	enrolledHubSeq int64
	cursor         int64
}

func (h *Hub) holders() []holder {
	h.mu.Lock()
	defer h.mu.Unlock()
	hs := make([]holder, 0, len(h.nodes))
	for id, n := range h.nodes {
		if id == protocol.HubID || !n.enrolled || n.removed {
			continue
		}
		hs = append(hs, holder{id, n.enrolledHubSeq, n.pullCursor})
	}
	return hs
}

// pendingFor lists the nodes that may still hold what erasure e purged: every
// enrolled node but its owner (which made it) that enrolled before it and has
// not pulled past it. Nodes store their pull cursor in the same transaction
// as the rows they apply, so a cursor past the erasure means it is applied.
func pendingFor(hs []holder, hubSeq int64, owner string) []string {
	var p []string
	for _, x := range hs {
		if x.node != owner && x.enrolledHubSeq < hubSeq && x.cursor < hubSeq {
			p = append(p, x.node)
		}
	}
	slices.Sort(p)
	return p
}

func (h *Hub) readErasures(ctx context.Context, tx *sql.Tx) ([]protocol.Erasure, error) {
	rows, err := tx.QueryContext(ctx, `SELECT hub_seq, id, owner, at, done_at FROM erasures
		WHERE done_at IS NULL OR hub_seq >= COALESCE((SELECT hub_seq FROM erasures WHERE done_at IS NOT NULL
			ORDER BY hub_seq DESC LIMIT 1 OFFSET ?), 0)
		ORDER BY hub_seq`, maxDoneErasures-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hs := h.holders()
	var out []protocol.Erasure
	for rows.Next() {
		var e protocol.Erasure
		var owner string
		var at int64
		var done sql.NullInt64
		if err := rows.Scan(&e.HubSeq, &e.ID, &owner, &at, &done); err != nil {
			return nil, err
		}
		e.At, e.DoneAt = fromMillis(at), timePtr(done)
		if !done.Valid {
			e.Pending = pendingFor(hs, e.HubSeq, owner)
		}
		e.Complete = len(e.Pending) == 0
		out = append(out, e)
	}
	return out, rows.Err()
}

// completeErasures marks erasures that no node is pending on as done, after a
// WAL checkpoint has moved the purged pages out of the WAL (secure_delete
// already zeroed them in the main file).
func (h *Hub) completeErasures(ctx context.Context) error {
	type open struct {
		hubSeq int64
		owner  string
	}
	var todo []open
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT hub_seq, owner FROM erasures WHERE done_at IS NULL ORDER BY hub_seq`)
	if err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.hubSeq, &o.owner); err != nil {
			rows.Close()
			return fmt.Errorf("read erasures: %w", err)
		}
		todo = append(todo, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	hs := h.holders()
	var done []int64
	watch := int64(0)
	for _, o := range todo {
		if len(pendingFor(hs, o.hubSeq, o.owner)) == 0 {
			done = append(done, o.hubSeq)
		} else if watch == 0 {
			watch = o.hubSeq
		}
	}
	h.erasureWatch.Store(watch)
	if len(done) == 0 {
		return nil
	}
	if err := h.db.Checkpoint(ctx); err != nil {
		// Readers kept the WAL; the next round tries again.
		if watch == 0 {
			h.erasureWatch.Store(done[0])
		}
		return fmt.Errorf("complete erasures: %w", err)
	}
	now := toMillis(h.now())
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, seq := range done {
			if _, err := tx.ExecContext(ctx, `UPDATE erasures SET done_at = ? WHERE hub_seq = ?`, now, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete erasures: %w", err)
	}
	h.log.Info("erasures complete", "count", len(done), "time", time.UnixMilli(now).UTC())
	return nil
}
