package hub

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// The coordination team's actions on a node: suspend and resume it, rotate
// its key, remove it. Each takes effect at once: the database and the
// in-memory state that authentication and verification read change together,
// under writeMu, so no push verified before the action commits after it
// (recheckKey).

// NodeRemoval says what happens to a removed node's content.
type NodeRemoval string

const (
	// KeepContent leaves the node's entities on the hub and the portal,
	// verifiable by its retired key.
	KeepContent NodeRemoval = "keep"
	// EraseContent erases every entity of the node network-wide.
	EraseContent NodeRemoval = "erase"
)

// nodeAction is the answer of the node action endpoints.
type nodeAction struct {
	Node      string `json:"node"`
	Suspended bool   `json:"suspended"`
	Removed   bool   `json:"removed"`
	// Token is the enrolment token of a rotation.
	Token string `json:"token,omitempty"`
	// RetiredKeys are the keys retired, valid up to RetiredHubSeq.
	RetiredKeys   []string `json:"retired_keys,omitempty"`
	RetiredHubSeq int64    `json:"retired_hub_seq,omitempty"`
	// Erased counts the entities a removal erased.
	Erased int `json:"erased,omitempty"`
}

// nodeFor returns the in-memory state of a registered node that was not
// removed.
func (h *Hub) nodeFor(id string) (*nodeState, error) {
	if id == protocol.HubID {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "%q is the hub itself", id)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[id]
	if n == nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no node %q is registered", id)
	}
	if n.removed {
		return nil, protocol.Errorf(protocol.CodeConflict, "node %q was removed", id)
	}
	return n, nil
}

// SuspendNode refuses every sync request of node id (push, pull, manifest,
// attachments) with CodeSuspended from now on, until ResumeNode. Its content
// stays where it is.
func (h *Hub) SuspendNode(ctx context.Context, id string) error {
	return h.setSuspended(ctx, id, true)
}

// ResumeNode lifts a suspension.
func (h *Hub) ResumeNode(ctx context.Context, id string) error {
	return h.setSuspended(ctx, id, false)
}

func (h *Hub) setSuspended(ctx context.Context, id string, suspended bool) error {
	if _, err := h.nodeFor(id); err != nil {
		return err
	}
	var at any
	if suspended {
		at = toMillis(h.now())
	}
	if err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE nodes SET suspended_at = ? WHERE id = ?`, at, id)
		return err
	}); err != nil {
		return fmt.Errorf("suspend %s: %w", id, err)
	}
	h.mu.Lock()
	h.nodes[id].suspended = suspended
	h.mu.Unlock()
	h.log.Info("node suspension", "node", id, "suspended", suspended)
	return nil
}

// RotateNodeKey retires node id's keys at the current head and revokes its
// credential, and returns an enrolment token for the node to enrol a new key
// with. Changes the old key signed that the hub sequenced before stay
// verifiable; anything signed with it from now on is refused.
func (h *Hub) RotateNodeKey(ctx context.Context, id string) (nodeAction, error) {
	if _, err := h.nodeFor(id); err != nil {
		return nodeAction{}, err
	}
	res := nodeAction{Node: id}
	var tok string
	err := h.retireNode(ctx, id, func(tx *sql.Tx) error {
		var err error
		tok, err = newEnrolTokenTx(ctx, tx, id, h.now(), h.cfg.EnrolTokenTTL)
		return err
	}, &res)
	if err != nil {
		return res, fmt.Errorf("rotate key of %s: %w", id, err)
	}
	res.Token = tok
	h.log.Info("node key rotated", "node", id, "retired_keys", res.RetiredKeys, "retired_hub_seq", res.RetiredHubSeq)
	return res, nil
}

// RemoveNode deregisters node id: its keys are retired at the current head,
// its credential and enrolment tokens revoked, and it may never enrol again.
// With EraseContent its entities are erased network-wide; with KeepContent
// they stay, verifiable by the retired key.
func (h *Hub) RemoveNode(ctx context.Context, id string, content NodeRemoval) (nodeAction, error) {
	if content != KeepContent && content != EraseContent {
		return nodeAction{}, protocol.Errorf(protocol.CodeInvalidField, "content: must be %q or %q: what happens to the node's entities is an explicit choice", KeepContent, EraseContent)
	}
	res := nodeAction{Node: id, Removed: true}
	if _, err := h.nodeFor(id); err != nil {
		// Removing a removed node again finishes an erasure that stopped.
		if errors.Is(err, protocol.ErrConflict) && content == EraseContent {
			n, err := h.eraseOwner(ctx, id)
			res.Erased = n
			return res, err
		}
		return nodeAction{}, err
	}
	err := h.retireNode(ctx, id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM enrol_tokens WHERE node = ?`, id); err != nil {
			return err
		}
		// A removed node will never acknowledge an erasure: its copy went
		// with its machine, and waiting for it would keep erasures open.
		if _, err := tx.ExecContext(ctx, `DELETE FROM erasure_holders WHERE node = ? AND acked_at IS NULL`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE nodes SET removed_at = ?, suspended_at = NULL WHERE id = ?`, toMillis(h.now()), id)
		return err
	}, &res)
	if err != nil {
		return res, fmt.Errorf("remove %s: %w", id, err)
	}
	h.mu.Lock()
	h.nodes[id].removed, h.nodes[id].suspended = true, false
	h.mu.Unlock()
	h.log.Info("node removed", "node", id, "content", content, "retired_keys", res.RetiredKeys, "retired_hub_seq", res.RetiredHubSeq)
	if content == EraseContent {
		n, err := h.eraseOwner(ctx, id)
		res.Erased = n
		if err != nil {
			return res, fmt.Errorf("remove %s: erase its content (run the removal again to finish): %w", id, err)
		}
	}
	return res, nil
}

// retireNode retires every key of node id in use at the current head and
// revokes its credential, with more in the same transaction. It holds writeMu
// so that the head it records is the last change the old key may have, and
// it reloads the key directory before any later push is applied.
func (h *Hub) retireNode(ctx context.Context, id string, more func(*sql.Tx) error, res *nodeAction) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	now := toMillis(h.now())
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res.RetiredKeys = res.RetiredKeys[:0]
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&res.RetiredHubSeq); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE keys SET retired_at = ?, retired_hub_seq = ?
			WHERE owner = ? AND retired_at IS NULL AND retired_hub_seq = 0 RETURNING key_id`, now, res.RetiredHubSeq, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			res.RetiredKeys = append(res.RetiredKeys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET credential_hash = NULL WHERE id = ?`, id); err != nil {
			return err
		}
		return more(tx)
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.nodes[id].credHash = nil
	h.mu.Unlock()
	return h.reloadKeys(ctx)
}

// nodeAllowed says whether node (empty: the operator) may still sync, for a
// request that authenticated before a wait.
func (h *Hub) nodeAllowed(node string) error {
	if node == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[node]
	switch {
	case n == nil || n.credHash == nil:
		return protocol.Errorf(protocol.CodeUnauthorized, "the credential of %s was revoked", node)
	case n.suspended:
		return protocol.Errorf(protocol.CodeSuspended, "node %s is suspended by the coordination team", node)
	}
	return nil
}

// recheckKey refuses a verified change whose key was retired after it was
// verified, while its push waited to be applied. The caller holds writeMu,
// which retirement holds too.
func (h *Hub) recheckKey(it *pushItem) {
	if it.refusal != nil || it.change == nil {
		return
	}
	c := it.change
	if k, ok := h.lookupKey(c.KeyID); ok && !k.ValidFor(0) {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeBadSignature,
			Reason: fmt.Sprintf("key %q was retired at hub_seq %d; changes signed with it after that are refused", c.KeyID, k.RetiredHubSeq)}
	}
}

// enrolAllowed refuses, inside enrolment's transaction, a removed node and a
// retired key: a rotation must not be undone by enrolling the old key again.
func enrolAllowed(ctx context.Context, tx *sql.Tx, node, keyID string) error {
	var removed bool
	if err := tx.QueryRowContext(ctx, `SELECT removed_at IS NOT NULL FROM nodes WHERE id = ?`, node).Scan(&removed); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if removed {
		return protocol.Errorf(protocol.CodeUnauthorized, "node %s was removed from the network", node)
	}
	var retired bool
	err := tx.QueryRowContext(ctx, `SELECT retired_at IS NOT NULL OR retired_hub_seq > 0 FROM keys WHERE key_id = ?`, keyID).Scan(&retired)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if retired {
		return protocol.Errorf(protocol.CodeInvalidField, "public_key: key %s was retired; enrol a new key (bikfed node rekey)", keyID)
	}
	return nil
}

// notRemoved refuses to register a removed node again: its id and its
// entities' ids belong to the past.
func (h *Hub) notRemoved(id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.nodes[id]; n != nil && n.removed {
		return protocol.Errorf(protocol.CodeConflict, "node %q was removed and cannot be registered again", id)
	}
	return nil
}

// newEnrolTokenTx replaces node's unused enrolment tokens with a new one.
func newEnrolTokenTx(ctx context.Context, tx *sql.Tx, node string, now time.Time, ttl time.Duration) (string, error) {
	secret, err := randomSecret()
	if err != nil {
		return "", err
	}
	hash := sha256.Sum256([]byte(secret))
	if _, err := tx.ExecContext(ctx, `DELETE FROM enrol_tokens WHERE node = ? AND used_at IS NULL`, node); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_tokens (secret_hash, node, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash[:], node, toMillis(now), toMillis(now.Add(ttl))); err != nil {
		return "", err
	}
	return node + "." + secret, nil
}

// handleNodeAction is POST /admin/v1/nodes/{id}/{action}: suspend, resume,
// rotate-key, or remove with {"content": "keep"|"erase"}.
func (h *Hub) handleNodeAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := protocol.ValidNodeID(id); err != nil {
		h.writeError(w, r, protocol.Errorf(protocol.CodeInvalidField, "node: %v", err))
		return
	}
	var (
		res nodeAction
		err error
	)
	switch r.PathValue("action") {
	case "suspend":
		err = h.SuspendNode(r.Context(), id)
		res = nodeAction{Node: id, Suspended: true}
	case "resume":
		err = h.ResumeNode(r.Context(), id)
		res = nodeAction{Node: id}
	case "rotate-key":
		res, err = h.RotateNodeKey(r.Context(), id)
	case "remove":
		var req struct {
			Content NodeRemoval `json:"content"`
		}
		if err := readJSON(w, r, &req); err != nil {
			h.writeError(w, r, err)
			return
		}
		res, err = h.RemoveNode(r.Context(), id, req.Content)
	default:
		h.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no node action %q", r.PathValue("action")))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// removedNodeReason is the reason recorded for the erasures of a removed
// node's content.
const removedNodeReason = "the node was removed from the network with its content"

// eraseOwner erases every entity of owner not erased yet, network-wide,
// each with an erasure the hub signs (protocol.Change.IsHubErasure), tracked
// like any erasure. Run again after a failure, it continues where it stopped.
func (h *Hub) eraseOwner(ctx context.Context, owner string) (int, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT id FROM entities WHERE id >= ? AND id < ? AND erased = 0 ORDER BY id`,
		owner+":", owner+";")
	if err != nil {
		return 0, fmt.Errorf("list entities of %s: %w", owner, err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list entities of %s: %w", owner, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list entities of %s: %w", owner, err)
	}
	n := 0
	for _, id := range ids {
		if _, _, err := h.author(ctx, draft{id: id, delete: true, erase: true, eraseReason: removedNodeReason}); err != nil {
			return n, err
		}
		n++
	}
	h.log.Info("content of removed node erased", "node", owner, "entities", n)
	return n, nil
}
