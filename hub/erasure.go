package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// GDPR erasures (docs/protocol.md §17). Applying an erasure records it with
// its holders: the nodes that may hold a copy of what it purged. Each holder
// acknowledges it explicitly once it has purged the body and attachments
// durably; housekeeping marks an erasure done when every holder has, after
// a WAL checkpoint that takes the erased text out of the hub's own files.

// recordErasure records the erasure c applied at hubSeq, and its holders:
// every node enrolled before it and not removed, but the hub and the
// entity's owner. The owner purges its copy before it pushes its own
// erasure; an owner whose entity
// the coordination team erased no longer runs its node (and, should it come
// back, applies the erasure like any puller). reason is the coordination
// team's, for an erasure the hub issued on an owner's behalf; empty for the
// owner's own.
//
// The mirrors are holders too when some version of the entity was public
// (everPublic): they hold nothing else.
func recordErasure(ctx context.Context, tx *sql.Tx, hubSeq int64, c *protocol.Change, reason string, at int64, everPublic bool) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO erasures (hub_seq, id, owner, at, by_hub, reason) VALUES (?, ?, ?, ?, ?, ?)`,
		hubSeq, c.ID, c.Owner, at, boolInt(reason != ""), reason); err != nil {
		return fmt.Errorf("record erasure %s: %w", c.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erasure_holders (hub_seq, node)
		SELECT ?, id FROM nodes WHERE enrolled_at IS NOT NULL AND removed_at IS NULL AND id != ? AND id != ? AND enrolled_hub_seq < ?`,
		hubSeq, protocol.HubID, c.Owner, hubSeq); err != nil {
		return fmt.Errorf("record holders of erasure %s: %w", c.ID, err)
	}
	if everPublic {
		if _, err := tx.ExecContext(ctx, `INSERT INTO erasure_holders (hub_seq, node)
			SELECT ?, ? || name FROM mirrors WHERE enrolled_at IS NOT NULL AND removed_at IS NULL`,
			hubSeq, protocol.MirrorPrefix); err != nil {
			return fmt.Errorf("record mirrors holding erasure %s: %w", c.ID, err)
		}
	}
	return nil
}

// EraseEntity erases an entity of any owner on the coordination team's
// authority: the hub signs the erasure itself (the one change it may sign
// for another owner), so it reaches every holder when the owner no longer
// runs its node. reason is recorded with the erasure. It returns the hub_seq
// of the erasure, 0 when the entity was erased already.
func (h *Hub) EraseEntity(ctx context.Context, id, reason string) (int64, error) {
	if err := protocol.ValidErasureReason(reason); err != nil {
		return 0, err
	}
	_, seq, err := h.author(ctx, draft{id: id, delete: true, erase: true, eraseReason: reason})
	if err != nil {
		return 0, fmt.Errorf("erase %s: %w", id, err)
	}
	if seq > 0 {
		h.log.Info("entity erased by the coordination team", "id", id, "hub_seq", seq, "reason", reason)
	}
	return seq, nil
}

// adminEraseRequest is the body of POST /admin/v1/erasures.
type adminEraseRequest struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// AdminEraseResult answers POST /admin/v1/erasures. HubSeq is 0 when the
// entity had been erased already.
type AdminEraseResult struct {
	ID     string `json:"id"`
	HubSeq int64  `json:"hub_seq"`
}

// PathAdminErasures is where the coordination team erases an entity.
const PathAdminErasures = "/admin/v1/erasures"

func (h *Hub) erasureRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+protocol.PathErasureAck, h.handleErasureAck)
	mux.HandleFunc("POST "+protocol.PathErasureStatus, h.handleErasureStatus)
	mux.HandleFunc("POST "+PathAdminErasures, h.operator(h.handleAdminErase))
}

// handleAdminErase is POST /admin/v1/erasures {id, reason}.
func (h *Hub) handleAdminErase(w http.ResponseWriter, r *http.Request) {
	var req adminEraseRequest
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := protocol.SplitEntityID(req.ID); err != nil {
		h.writeError(w, r, protocol.Errorf(protocol.CodeInvalidField, "id: %v", err))
		return
	}
	seq, err := h.EraseEntity(r.Context(), req.ID, req.Reason)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, AdminEraseResult{ID: req.ID, HubSeq: seq})
}

// handleErasureAck is POST /v1/erasures/ack: a node acknowledges erasures it
// has purged. Only the node's own holder rows change; hub_seqs it holds no
// copy for are ignored, so acknowledging twice, or an erasure it was not
// asked about, is harmless.
func (h *Hub) handleErasureAck(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	holder := p.node
	if p.mirror != "" {
		holder = protocol.MirrorHolder(p.mirror)
	}
	if holder == "" {
		h.writeError(w, r, protocol.Errorf(protocol.CodeForbidden, "only nodes and mirrors acknowledge erasures"))
		return
	}
	ack, err := protocol.DecodeErasureAck(http.MaxBytesReader(w, r.Body, protocol.MaxErasureAckBytes+1))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.ackErasures(r.Context(), holder, ack.HubSeqs)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleErasureStatus is POST /v1/erasures/status: a node asks how far the
// erasures of its own entities have got, and labels them as one group.
// Another owner's entity is refused: a node learns nothing here about what
// others erase.
func (h *Hub) handleErasureStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if p.node == "" {
		h.writeError(w, r, protocol.Errorf(protocol.CodeForbidden, "only nodes ask for the status of their erasures"))
		return
	}
	q, err := protocol.DecodeErasureStatus(http.MaxBytesReader(w, r.Body, protocol.MaxErasureStatusBytes+1))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, id := range q.IDs {
		if owner, _ := protocol.SplitEntityID(id); owner != p.node {
			h.writeError(w, r, &protocol.Error{Code: protocol.CodeNotOwner, Record: id,
				Message: fmt.Sprintf("owned by %q; a node asks only about its own erasures", owner)})
			return
		}
	}
	res, err := h.ErasureStatus(r.Context(), q.Group, q.IDs)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ErasureStatus reports how far the erasures of entities ids have got and,
// when group is not empty, labels them with it for the console.
func (h *Hub) ErasureStatus(ctx context.Context, group string, ids []string) (*protocol.ErasureStatusResult, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("erasure status: %w", err)
	}
	if group != "" {
		if _, err := h.db.Writer().ExecContext(ctx, `INSERT INTO erasure_groups (id, grp) SELECT value, ? FROM json_each(?)
			WHERE true ON CONFLICT (id) DO UPDATE SET grp = excluded.grp`, group, string(list)); err != nil {
			return nil, fmt.Errorf("label erasures %s: %w", group, err)
		}
	}
	byID := make(map[string]*protocol.ErasureState, len(ids))
	res := &protocol.ErasureStatusResult{Erasures: make([]protocol.ErasureState, len(ids))}
	for i, id := range ids {
		res.Erasures[i] = protocol.ErasureState{ID: id, Holders: []protocol.HolderState{}}
		byID[id] = &res.Erasures[i]
	}
	err = h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT e.id, e.hub_seq, e.done_at IS NOT NULL, h.node, h.acked_at IS NOT NULL
			FROM erasures e LEFT JOIN erasure_holders h ON h.hub_seq = e.hub_seq
			WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.hub_seq, h.node`, string(list))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var seq int64
			var done bool
			var node sql.NullString
			var acked sql.NullBool
			if err := rows.Scan(&id, &seq, &done, &node, &acked); err != nil {
				return err
			}
			st := byID[id]
			if st == nil {
				continue
			}
			if st.HubSeq != seq {
				// An entity is erased once: a later row would be a
				// record of the same erasure.
				st.HubSeq, st.Complete, st.Holders = seq, done, st.Holders[:0]
			}
			if node.Valid {
				st.Holders = append(st.Holders, protocol.HolderState{Node: node.String, Acked: acked.Bool})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("erasure status: %w", err)
	}
	return res, nil
}

// ackErasures records node's acknowledgement of the erasures at hubSeqs.
func (h *Hub) ackErasures(ctx context.Context, node string, hubSeqs []int64) (*protocol.ErasureAckResult, error) {
	list, err := json.Marshal(hubSeqs)
	if err != nil {
		return nil, fmt.Errorf("acknowledge erasures: %w", err)
	}
	res := &protocol.ErasureAckResult{Acknowledged: []int64{}}
	now := toMillis(h.now())
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res.Acknowledged = res.Acknowledged[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE erasure_holders SET acked_at = COALESCE(acked_at, ?)
			WHERE node = ? AND hub_seq IN (SELECT value FROM json_each(?)) RETURNING hub_seq`, now, node, string(list))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			res.Acknowledged = append(res.Acknowledged, seq)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("acknowledge erasures of %s: %w", node, err)
	}
	if len(res.Acknowledged) > 0 {
		h.log.Info("erasures acknowledged", "node", node, "count", len(res.Acknowledged))
		h.kickHousekeeping()
	}
	return res, nil
}

// readErasures lists every open erasure, with the holders that have not
// acknowledged it, and the last maxDoneErasures completed ones.
func (h *Hub) readErasures(ctx context.Context, tx *sql.Tx) ([]protocol.Erasure, error) {
	pending := make(map[int64][]string)
	rows, err := tx.QueryContext(ctx, `SELECT hub_seq, node FROM erasure_holders WHERE acked_at IS NULL ORDER BY hub_seq, node`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var seq int64
		var node string
		if err := rows.Scan(&seq, &node); err != nil {
			rows.Close()
			return nil, err
		}
		pending[seq] = append(pending[seq], node)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT e.hub_seq, e.id, e.at, e.done_at, e.by_hub, e.reason, COALESCE(g.grp, '')
		FROM erasures e LEFT JOIN erasure_groups g ON g.id = e.id
		WHERE e.done_at IS NULL OR e.hub_seq >= COALESCE((SELECT hub_seq FROM erasures WHERE done_at IS NOT NULL
			ORDER BY hub_seq DESC LIMIT 1 OFFSET ?), 0)
		ORDER BY e.hub_seq`, maxDoneErasures-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []protocol.Erasure
	for rows.Next() {
		var e protocol.Erasure
		var at int64
		var done sql.NullInt64
		var byHub bool
		if err := rows.Scan(&e.HubSeq, &e.ID, &at, &done, &byHub, &e.Reason, &e.Group); err != nil {
			return nil, err
		}
		e.At, e.DoneAt = fromMillis(at), timePtr(done)
		e.By = protocol.ErasedByOwner
		if byHub {
			e.By = protocol.ErasedByHub
		}
		// Complete is what housekeeping recorded: acknowledged by every
		// holder and flushed from the hub's WAL.
		e.Complete = done.Valid
		if !done.Valid {
			e.Pending = pending[e.HubSeq]
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// completeErasures marks the erasures every holder has acknowledged as done,
// after a WAL checkpoint has moved the purged pages out of the WAL
// (secure_delete already zeroed them in the main file).
func (h *Hub) completeErasures(ctx context.Context) error {
	var done []int64
	waiting := false // an erasure some holder has not acknowledged yet
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT e.hub_seq, EXISTS (SELECT 1 FROM erasure_holders x
		WHERE x.hub_seq = e.hub_seq AND x.acked_at IS NULL) FROM erasures e WHERE e.done_at IS NULL ORDER BY e.hub_seq`)
	if err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	for rows.Next() {
		var seq int64
		var open bool
		if err := rows.Scan(&seq, &open); err != nil {
			rows.Close()
			return fmt.Errorf("read erasures: %w", err)
		}
		if open {
			waiting = true
		} else {
			done = append(done, seq)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read erasures: %w", err)
	}
	if len(done) == 0 && !waiting {
		return nil
	}
	// The hub's own copy goes at once, whatever the holders still owe.
	if err := h.purgeErasedBlobs(ctx); err != nil {
		return fmt.Errorf("complete erasures: %w", err)
	}
	if len(done) == 0 {
		return nil
	}
	if err := h.db.Checkpoint(ctx); err != nil {
		// Readers kept the WAL; the next round tries again.
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

// purgeErasedBlobs removes now, rather than at the next collection, the
// attachments erasures left unreferenced (syncBlobRefs marks them with
// last_referenced_at 0), so the hub's copy is gone within seconds and an
// erasure is complete only once it is. As in CollectBlobs the rows go first; an object
// whose deletion then fails is an orphan a later collection removes.
func (h *Hub) purgeErasedBlobs(ctx context.Context) error {
	var doomed []string
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		doomed = doomed[:0]
		rows, err := tx.QueryContext(ctx, `DELETE FROM blobs WHERE last_referenced_at = 0
			AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = blobs.sha256) RETURNING sha256`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				return err
			}
			doomed = append(doomed, sha)
		}
		return rows.Err()
	})
	if err != nil || len(doomed) == 0 {
		if err != nil {
			return fmt.Errorf("purge erased attachments: %w", err)
		}
		return nil
	}
	store, _, err := h.blobStore(ctx)
	if err != nil {
		return fmt.Errorf("purge erased attachments: %w", err)
	}
	var errs []error
	for _, sha := range doomed {
		if err := store.Delete(ctx, sha); err != nil {
			errs = append(errs, err)
		}
	}
	h.log.Info("erased attachments purged", "blobs", len(doomed)-len(errs))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("purge erased attachments: %w", err)
	}
	return nil
}

// ErasureGroup is a group of erasures one owner labelled together (an
// erasure of a person: everything one member of the owner's node wrote),
// with how far each holder has got.
type ErasureGroup struct {
	Owner, Group string
	// At is when the hub applied the first of them.
	At time.Time
	// Records counts the erasures the hub has applied; Done those complete.
	Records, Done int
	Holders       []GroupHolder
}

// GroupHolder is one holder of a group's erasures: Acked of Total
// acknowledged.
type GroupHolder struct {
	Node         string
	Acked, Total int
}

// Complete reports whether every erasure of the group is complete.
func (g ErasureGroup) Complete() bool { return g.Done == g.Records }

// ErasureGroups lists the labelled groups of erasures, newest first.
func (h *Hub) ErasureGroups(ctx context.Context) ([]ErasureGroup, error) {
	var out []ErasureGroup
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT e.owner, g.grp, MIN(e.at), COUNT(*), COUNT(e.done_at)
			FROM erasure_groups g JOIN erasures e ON e.id = g.id
			GROUP BY e.owner, g.grp ORDER BY MIN(e.hub_seq) DESC`)
		if err != nil {
			return err
		}
		index := map[[2]string]int{}
		for rows.Next() {
			var g ErasureGroup
			var at int64
			if err := rows.Scan(&g.Owner, &g.Group, &at, &g.Records, &g.Done); err != nil {
				rows.Close()
				return err
			}
			g.At = fromMillis(at)
			index[[2]string{g.Owner, g.Group}] = len(out)
			out = append(out, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT e.owner, g.grp, x.node, COUNT(*), COUNT(x.acked_at)
			FROM erasure_groups g JOIN erasures e ON e.id = g.id JOIN erasure_holders x ON x.hub_seq = e.hub_seq
			GROUP BY e.owner, g.grp, x.node ORDER BY x.node`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var owner, grp string
			var gh GroupHolder
			if err := rows.Scan(&owner, &grp, &gh.Node, &gh.Total, &gh.Acked); err != nil {
				return err
			}
			if i, ok := index[[2]string{owner, grp}]; ok {
				out[i].Holders = append(out[i].Holders, gh)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read erasure groups: %w", err)
	}
	return out, nil
}
