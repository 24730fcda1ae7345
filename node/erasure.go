package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// Erasures (docs/protocol.md §17, docs/attachments.md). Applying an erasure
// notes it in erasure_purges (triggers in migration 0004, so every path that
// applies one does). flushErasures purges at once: the attachments the
// entity referenced, unless something live still does, and the WAL, so the
// erased text is in no file of the node. Then the node acknowledges the
// pulled erasures to the hub, which counts an erasure complete only when
// every holder has. Whatever fails is finished later: by the erasure loop,
// before every push and at housekeeping.

// erasureRetryMax caps the wait between attempts to finish erasures.
const erasureRetryMax = time.Minute

// purgeRow is an erasure noted and not yet acknowledged.
type purgeRow struct {
	id     string
	hubSeq sql.NullInt64
	blobs  []protocol.BlobRef
}

// flushErasures purges what was just erased, right after the transaction
// that applied it, and wakes the erasure loop to acknowledge it. A purge that
// cannot finish now (a reader holding the WAL) is left to the loop.
func (n *Node) flushErasures(ctx context.Context) {
	n.blobs.settleMu.Lock()
	n.blobs.settled = false
	n.blobs.settleGen++
	n.blobs.settleMu.Unlock()
	if _, err := n.purgeErasures(ctx); err != nil {
		n.needCheckpoint.Store(true)
		n.log.Info("erasure purge deferred", "err", err)
	}
	select {
	case n.erasureKick() <- struct{}{}:
	default:
	}
}

// erasureKick returns the channel that wakes the erasure loop.
func (n *Node) erasureKick() chan struct{} {
	n.blobs.kickOnce.Do(func() { n.blobs.kick = make(chan struct{}, 1) })
	return n.blobs.kick
}

// settleErasures purges pending erasures and acknowledges the purged ones.
// It fails only while one of the node's own erasures is not purged: that
// must not reach the hub before the purge, since the hub does not wait for
// the owner. Anything else that fails is logged and tried again later.
func (n *Node) settleErasures(ctx context.Context) error {
	gen, settled := n.settleState()
	if settled {
		return nil
	}
	if _, err := n.purgeErasures(ctx); err != nil {
		var own bool
		if qerr := n.db.Reader().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM erasure_purges
			WHERE hub_seq IS NULL AND purged = 0)`).Scan(&own); qerr != nil || own {
			return err
		}
		if ctx.Err() == nil {
			n.log.Warn("erasure purge failed; retrying later", "err", err)
		}
		return nil
	}
	left, err := n.ackErasures(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("erasure acknowledgement failed; retrying later", "err", err)
		}
		return nil
	}
	if left == 0 {
		n.markSettled(gen)
	}
	return nil
}

// settleState returns the count of erasures noted so far and whether all of
// them are known settled.
func (n *Node) settleState() (int64, bool) {
	n.blobs.settleMu.Lock()
	defer n.blobs.settleMu.Unlock()
	return n.blobs.settleGen, n.blobs.settled
}

// markSettled records that every erasure is settled, unless one was noted
// since gen was read.
func (n *Node) markSettled(gen int64) {
	n.blobs.settleMu.Lock()
	defer n.blobs.settleMu.Unlock()
	if n.blobs.settleGen == gen {
		n.blobs.settled = true
	}
}

// erasureLoop finishes erasures until ctx ends: at start (a crash may have
// left some), when flushErasures wakes it, and with backoff while the hub
// cannot be told.
func (n *Node) erasureLoop(ctx context.Context) {
	wait := time.Second
	for {
		gen, _ := n.settleState()
		pending := false
		if _, err := n.purgeErasures(ctx); err != nil {
			pending = true
			if ctx.Err() == nil {
				n.log.Warn("erasure purge failed; retrying", "err", err, "in", wait)
			}
		}
		left, err := n.ackErasures(ctx)
		if err != nil {
			pending = true
			if ctx.Err() == nil {
				n.log.Warn("erasure acknowledgement failed; retrying", "err", err, "in", wait)
			}
		} else if left > 0 {
			pending = true
		}
		if !pending {
			n.markSettled(gen)
			wait = time.Second
		}
		var retry <-chan time.Time
		var t *time.Timer
		if pending {
			t = time.NewTimer(wait)
			retry = t.C
			wait = min(wait*2, erasureRetryMax)
		}
		select {
		case <-ctx.Done():
		case <-n.erasureKick():
		case <-retry:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// readPurges reads the noted erasures, purged or not.
func (n *Node) readPurges(ctx context.Context, purged bool, limit int) ([]purgeRow, error) {
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT entity_id, hub_seq, blobs FROM erasure_purges WHERE purged = ?
		ORDER BY entity_id LIMIT ?`, boolInt(purged), limit)
	if err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	defer rows.Close()
	var out []purgeRow
	for rows.Next() {
		var r purgeRow
		var blobs sql.NullString
		if err := rows.Scan(&r.id, &r.hubSeq, &blobs); err != nil {
			return nil, fmt.Errorf("read erasures: %w", err)
		}
		if blobs.Valid && blobs.String != "" {
			if err := json.Unmarshal([]byte(blobs.String), &r.blobs); err != nil {
				return nil, fmt.Errorf("decode attachments of erased %s: %w", r.id, err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// purgeErasures deletes the attachments of noted erasures that nothing live
// still references, checkpoints the WAL and marks them purged; the node's own
// erasures, which nobody waits for, are then forgotten. It returns how many
// erasures it purged.
func (n *Node) purgeErasures(ctx context.Context) (int, error) {
	// Fetches hold the read side while they store a blob, so none can put
	// back a file this purge has just deleted.
	n.blobs.purge.Lock()
	defer n.blobs.purge.Unlock()
	todo, err := n.readPurges(ctx, false, 1000)
	if err != nil || len(todo) == 0 {
		return 0, err
	}
	store, err := n.blobStore()
	if err != nil {
		return 0, fmt.Errorf("purge erasures: %w", err)
	}
	removed := 0
	for _, r := range todo {
		for _, b := range r.blobs {
			used, err := n.blobInUse(ctx, b.SHA256)
			if err != nil {
				return 0, fmt.Errorf("purge erasure of %s: %w", r.id, err)
			}
			if used {
				continue
			}
			// Delete syncs the directory: the removal is durable when it returns.
			if err := store.Delete(ctx, b.SHA256); err != nil {
				return 0, fmt.Errorf("purge erasure of %s: %w", r.id, err)
			}
			if _, err := n.db.Writer().ExecContext(ctx, `DELETE FROM blob_fetches WHERE sha256 = ?`, b.SHA256); err != nil {
				return 0, fmt.Errorf("purge erasure of %s: %w", r.id, err)
			}
			removed++
		}
	}
	// secure_delete zeroed the erased rows in the main file; the WAL may
	// still hold the pages as they were until it is checkpointed.
	if err := n.db.Checkpoint(ctx); err != nil {
		return 0, fmt.Errorf("purge erasures: %w", err)
	}
	ids := make([]string, len(todo))
	for i, r := range todo {
		ids[i] = r.id
	}
	list, _ := json.Marshal(ids)
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE erasure_purges SET purged = 1 WHERE entity_id IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM erasure_purges WHERE purged = 1 AND hub_seq IS NULL`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge erasures: %w", err)
	}
	n.log.Info("erasures purged", "count", len(todo), "attachments_removed", removed)
	return len(todo), nil
}

// blobInUse reports whether a live entity or a change waiting in the outbox
// references sha: such a blob survives another entity's erasure.
func (n *Node) blobInUse(ctx context.Context, sha string) (bool, error) {
	var used bool
	err := n.db.Reader().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM entities e, json_each(e.blobs) j
			WHERE e.blobs IS NOT NULL AND e.deleted = 0 AND json_extract(j.value, '$.sha256') = ?1)
		OR EXISTS (SELECT 1 FROM outbox o, json_each(CAST(o.change AS TEXT), '$.blobs') j
			WHERE instr(o.change, X'22626c6f627322') > 0 AND json_extract(j.value, '$.sha256') = ?1)`, sha).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("look up references of %s: %w", sha, err)
	}
	return used, nil
}

// blobErased reports whether sha was an attachment of an entity erased here
// that nothing live references: it must not be served, even before the purge
// has removed it.
func (n *Node) blobErased(ctx context.Context, sha string) (bool, error) {
	var erased bool
	err := n.db.Reader().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM erasure_purges p, json_each(p.blobs) j
			WHERE p.blobs IS NOT NULL AND json_extract(j.value, '$.sha256') = ?1)
		AND NOT EXISTS (SELECT 1 FROM entities e, json_each(e.blobs) j
			WHERE e.blobs IS NOT NULL AND e.deleted = 0 AND json_extract(j.value, '$.sha256') = ?1)`, sha).Scan(&erased)
	if err != nil {
		return false, fmt.Errorf("look up erasures of %s: %w", sha, err)
	}
	return erased, nil
}

// ackErasures tells the hub about every purged erasure it has not been told
// of, and forgets those the hub answered for. It returns how many are left.
func (n *Node) ackErasures(ctx context.Context) (int, error) {
	for {
		rows, err := n.readPurges(ctx, true, protocol.MaxErasureAcks)
		if err != nil {
			return 0, err
		}
		var seqs []int64
		for _, r := range rows {
			if r.hubSeq.Valid && r.hubSeq.Int64 > 0 {
				seqs = append(seqs, r.hubSeq.Int64)
			}
		}
		if len(seqs) == 0 {
			var left int
			if err := n.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM erasure_purges`).Scan(&left); err != nil {
				return 0, fmt.Errorf("count erasures: %w", err)
			}
			return left, nil
		}
		res, err := n.client.AckErasures(ctx, seqs)
		if err != nil {
			return len(seqs), err
		}
		list, _ := json.Marshal(seqs)
		if _, err := n.db.Writer().ExecContext(ctx, `DELETE FROM erasure_purges WHERE purged = 1 AND hub_seq IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
			return len(seqs), fmt.Errorf("forget acknowledged erasures: %w", err)
		}
		n.log.Info("erasures acknowledged", "count", len(seqs), "held", len(res.Acknowledged), "hub_seqs", seqString(seqs))
	}
}

// seqString lists up to ten hub_seqs for a log line.
func seqString(seqs []int64) string {
	var b strings.Builder
	for i, s := range seqs {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(seqs)-i)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}
