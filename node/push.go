package node

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// pushHeaderRoom leaves space in a batch for the header line and framing.
const pushHeaderRoom = 64 << 10

// Push sends the outbox to the hub, batch by batch, until it is caught up.
func (n *Node) Push(ctx context.Context) error {
	n.pushMu.Lock()
	defer n.pushMu.Unlock()
	// The node's own erasure is purged here before the hub ever sees it:
	// the hub does not wait for the owner's acknowledgement.
	err := n.settleErasures(ctx)
	if err == nil {
		err = n.push(ctx)
	}
	if err != nil && ctx.Err() == nil {
		n.recordError(ctx, "push", err)
	}
	return err
}

type outboxRow struct {
	seq     int64
	id      string
	version int64
	s       protocol.Signed
}

// sentPush is a batch sent to the hub, with the hub's answer.
type sentPush struct {
	h    protocol.PushHeader
	rows []outboxRow
	res  *protocol.PushResult
	err  error
}

// sendPush reads the outbox after seq after and sends it as one batch; nil
// when there is nothing to send. The hub's answer, or the error of sending,
// is in the result.
func (n *Node) sendPush(ctx context.Context, st syncState, after int64) (*sentPush, error) {
	rows, _, err := n.readOutbox(ctx, after)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	// Attachments go first: the hub refuses a change whose blobs it lacks.
	if err := n.uploadBlobs(ctx, rows); err != nil {
		return nil, err
	}
	h := protocol.PushHeader{
		Node: n.ident.Node, Epoch: st.Epoch,
		// From the checkpoint, not the first row: the header's range is
		// what lets the hub advance over seqs it has nothing to apply for.
		FromSeq: after + 1,
		ToSeq:   rows[len(rows)-1].seq,
		HeadSeq: st.HeadSeq,
	}
	h.HeadSeq = max(h.HeadSeq, h.ToSeq)
	batch := make([]protocol.Signed, len(rows))
	for i, r := range rows {
		batch[i] = r.s
	}
	p := &sentPush{h: h, rows: rows}
	p.res, p.err = n.client.Push(ctx, h, batch)
	return p, nil
}

// maxLostResends is how many times in a row a push sends a batch again
// when the hub got none of it up to a missing line, before it waits for the
// next push.
const maxLostResends = 3

func (n *Node) push(ctx context.Context) error {
	switched := false
	lost := 0 // batches in a row the hub made no progress on for a lost line
	for {
		st, err := readSyncState(ctx, n.db.Reader())
		if err != nil {
			return err
		}
		if st.Reconcile {
			// Before anything new goes out: the hub may lack own changes it
			// once acknowledged, and what is pending may have to be re-based
			// on versions it holds.
			if err := n.reconcileLocked(ctx); err != nil {
				return err
			}
			continue
		}
		cur, err := n.sendPush(ctx, st, st.PushCheckpoint)
		if err != nil || cur == nil {
			return err
		}
		h, rows, res, err := cur.h, cur.rows, cur.res, cur.err
		n.checkClock()
		if err != nil {
			if errors.Is(err, protocol.ErrSeqGap) || errors.Is(err, protocol.ErrEpochMismatch) {
				if switched {
					return fmt.Errorf("push after starting a new epoch: %w", err)
				}
				if err := n.newEpochLocked(ctx, fmt.Sprintf("hub refused seq %d-%d: %v", h.FromSeq, h.ToSeq, err)); err != nil {
					return err
				}
				switched = true
				continue
			}
			return err
		}
		if res.Epoch == st.Epoch && res.AppliedSeq > h.HeadSeq {
			// The hub has processed seqs this outbox never issued: the
			// database was restored from a backup. Our seqs would be taken
			// for changes the hub already has.
			if switched {
				return fmt.Errorf("push: hub checkpoint %d is past our head %d even in a new epoch", res.AppliedSeq, h.HeadSeq)
			}
			if err := n.newEpochLocked(ctx, fmt.Sprintf("hub has applied seq %d of epoch %s but our outbox ends at %d (restored from a backup?)",
				res.AppliedSeq, st.Epoch, h.HeadSeq)); err != nil {
				return err
			}
			switched = true
			continue
		}
		if res.Duplicates > 0 && !switched {
			// The hub skipped some of our seqs as already processed. After a
			// lost response that is true; after a restore from a backup the
			// hub holds other changes under those seqs, and our changes would
			// be lost. Only the content tells the two apart.
			ok, err := n.hubHasBatch(ctx, rows, res.Refused)
			if err != nil {
				return err
			}
			if !ok {
				if err := n.newEpochLocked(ctx, fmt.Sprintf("hub skipped seqs %d-%d of epoch %s as processed but does not hold our changes (restored from a backup?)",
					h.FromSeq, res.AppliedSeq, st.Epoch)); err != nil {
					return err
				}
				switched = true
				continue
			}
		}
		checkpoint := min(max(res.AppliedSeq, st.PushCheckpoint), h.HeadSeq)
		if err := n.storePushResult(ctx, st.Epoch, checkpoint, res, rebaseRefused(rows, res.Refused)); err != nil {
			return err
		}
		n.echoes.add(acknowledged(rows, checkpoint, res.Refused), res.HubSeq)
		n.ops.metrics.pushed(res)
		n.log.Info("pushed", "from", h.FromSeq, "to", h.ToSeq, "applied_seq", res.AppliedSeq,
			"applied", res.Applied, "duplicates", res.Duplicates, "refused", len(res.Refused), "truncated", res.Truncated)
		for _, r := range res.Refused {
			n.log.Warn("hub refused a change", "record", r.Name(), "code", r.Code, "reason", r.Reason)
		}
		if res.MissingSeq > 0 {
			// A line was lost on the way (a proxy, say): the hub held the
			// checkpoint below it, and the loop sends from there again.
			n.log.Warn("hub did not receive every seq of the batch; sending again from its checkpoint",
				"from", h.FromSeq, "to", h.ToSeq, "missing_seq", res.MissingSeq)
		}
		// A refused rebase target is reconciled at the top of the loop.
		if checkpoint <= st.PushCheckpoint {
			if res.MissingSeq > 0 && lost < maxLostResends {
				lost++
				continue
			}
			return fmt.Errorf("push seq %d-%d: hub made no progress (applied_seq %d)", h.FromSeq, h.ToSeq, res.AppliedSeq)
		}
		lost = 0
	}
}

// hubHasBatch reports whether the hub holds every change of the batch it did
// not refuse, or a later version of it.
func (n *Node) hubHasBatch(ctx context.Context, rows []outboxRow, refused []protocol.Refusal) (bool, error) {
	m, err := n.client.Manifest(ctx, n.ident.Node)
	if err != nil {
		return false, err
	}
	have := make(map[string]protocol.ManifestEntry, len(m.Entries))
	for _, e := range m.Entries {
		have[e.ID] = e
	}
	skip := make(map[int64]bool, len(refused))
	for _, r := range refused {
		skip[r.Seq] = true
	}
	for _, r := range rows {
		if skip[r.seq] {
			continue
		}
		e, ok := have[r.id]
		if !ok || e.Version < r.version {
			return false, nil
		}
		if h := r.s.Hash(); e.Version == r.version && e.Hash != hex.EncodeToString(h[:]) {
			return false, nil
		}
	}
	return true, nil
}

// readOutbox reads the next batch after the checkpoint, within the batch
// limits. full reports that a limit ended it: more rows may follow.
func (n *Node) readOutbox(ctx context.Context, checkpoint int64) (out []outboxRow, full bool, err error) {
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT seq, entity_id, version, change, sig FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`,
		checkpoint, n.cfg.PushBatch)
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	size := 0
	for rows.Next() {
		var r outboxRow
		var change []byte
		if err := rows.Scan(&r.seq, &r.id, &r.version, &change, &r.s.Sig); err != nil {
			return nil, false, fmt.Errorf("read outbox: %w", err)
		}
		r.s.Change = change
		// Each line: the change, the base64 signature and the framing.
		size += len(change) + (len(r.s.Sig)+2)/3*4 + 32
		if len(out) > 0 && size > protocol.MaxBatchBytes-pushHeaderRoom {
			return out, true, nil
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	return out, len(out) == n.cfg.PushBatch, nil
}

// acknowledged returns the hashes of the rows up to checkpoint that the hub
// did not refuse: what the feed will bring back as it was sent.
func acknowledged(rows []outboxRow, checkpoint int64, refused []protocol.Refusal) [][32]byte {
	skip := make(map[int64]bool, len(refused))
	for _, r := range refused {
		skip[r.Seq] = true
	}
	out := make([][32]byte, 0, len(rows))
	for _, r := range rows {
		if r.seq <= checkpoint && !skip[r.seq] {
			out = append(out, r.s.Hash())
		}
	}
	return out
}

// rebaseRefused picks the refusals that say the hub holds the entity in a
// version at or past ours: only a database restored from a backup signs a
// version the hub already has. Those changes are re-based, not dropped.
func rebaseRefused(rows []outboxRow, refused []protocol.Refusal) map[int64]string {
	var out map[int64]string
	for _, rf := range refused {
		if rf.Code != protocol.CodeStaleVersion && rf.Code != protocol.CodeVersionConflict {
			continue
		}
		for _, r := range rows {
			if r.seq == rf.Seq && r.id == rf.ID {
				if out == nil {
					out = map[int64]string{}
				}
				out[r.seq] = r.id
			}
		}
	}
	return out
}

// storePushResult stores the checkpoint and the refusals in one transaction,
// and drops the outbox rows the hub has processed. Changes in rebase (seq to
// entity id) are noted for reconciliation instead of kept as refusals, when
// they are still their entity's latest local state.
func (n *Node) storePushResult(ctx context.Context, epoch string, checkpoint int64, res *protocol.PushResult, rebase map[int64]string) error {
	now := time.Now().UTC()
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		noted := 0
		for seq, id := range rebase {
			r, err := tx.ExecContext(ctx, `INSERT INTO rebase (entity_id, seq) SELECT id, outbox_seq FROM entities
				WHERE id = ? AND outbox_seq = ? AND scheduled = 0
				ON CONFLICT (entity_id) DO UPDATE SET seq = excluded.seq`, id, seq)
			if err != nil {
				return fmt.Errorf("note rebase of %s: %w", id, err)
			}
			// Otherwise a later local version (a rebase already) superseded
			// it: nothing is lost either way, so it is no refusal to show.
			if k, _ := r.RowsAffected(); k > 0 {
				noted++
			}
		}
		if noted > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET reconcile = 1 WHERE id = 1`); err != nil {
				return fmt.Errorf("note rebase: %w", err)
			}
		}
		// max(): another process (the CLI's sync beside a serving node) may
		// have stored a later checkpoint meanwhile.
		r, err := tx.ExecContext(ctx, `UPDATE sync_state SET push_checkpoint = max(push_checkpoint, ?), last_push_at = ?, last_push_attempt_at = ?,
			last_push_error = NULL, hub_seq = max(hub_seq, ?), hub_clock_offset_ms = coalesce(?, hub_clock_offset_ms)
			WHERE id = 1 AND epoch = ?`,
			checkpoint, fmtTime(now), fmtTime(now), res.HubSeq, n.clockOffsetMillis(), epoch)
		if err != nil {
			return fmt.Errorf("store push checkpoint: %w", err)
		}
		if k, _ := r.RowsAffected(); k != 1 {
			return fmt.Errorf("store push checkpoint: epoch %s was replaced meanwhile", epoch)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= (SELECT push_checkpoint FROM sync_state WHERE id = 1)`); err != nil {
			return fmt.Errorf("drop acknowledged outbox: %w", err)
		}
		if len(res.Refused) == 0 {
			return nil
		}
		stmt, err := tx.PrepareContext(ctx, insertRefusalSQL)
		if err != nil {
			return fmt.Errorf("prepare refusal insert: %w", err)
		}
		defer stmt.Close()
		for _, rf := range res.Refused {
			if _, ok := rebase[rf.Seq]; ok {
				continue
			}
			if rf.Code == protocol.CodeErased {
				// Refused because the entity is erased at the hub: when it
				// is erased here too (the refused change was one of our
				// pending changes, emptied when the erasure was applied),
				// nothing that was meant is lost.
				var local bool
				if err := tx.QueryRowContext(ctx, `SELECT erased FROM entities WHERE id = ?`, rf.ID).Scan(&local); err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("read %s: %w", rf.ID, err)
				}
				if local {
					continue
				}
			}
			if err := insertRefusal(ctx, stmt, "push", 0, rf, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store push result: %w", err)
	}
	return nil
}

// newEpochLocked starts a new epoch; the caller holds pushMu.
func (n *Node) newEpochLocked(ctx context.Context, reason string) error {
	epoch, err := newEpochID()
	if err != nil {
		return err
	}
	var renumbered int
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		renumbered, err = startEpochTx(ctx, tx, n.key, epoch, time.Now().UTC())
		return err
	})
	if err != nil {
		return fmt.Errorf("start new epoch: %w", err)
	}
	// Whatever called for a new epoch (a restore from a backup, a hub that
	// lost our pushes), what the hub acknowledged before it is not taken
	// for what it will send back (echo.go).
	n.echoes.reset()
	n.log.Warn("started a new epoch", "reason", reason, "epoch", epoch, "renumbered", renumbered)
	return nil
}

// maybeRestored starts a new epoch when the hub's checkpoint for us cannot
// be one this database and the hub reached together: past our outbox head
// (this database is older than what it once pushed), or behind what the hub
// once acknowledged to us (the hub's database is older than our pushes). The
// new epoch reconciles by manifest before it pushes. sent is the sync state
// read before the request that brought you was sent: an answer may be
// written before a push that we stored since, so only what the hub had
// acknowledged before the request counts against it.
func (n *Node) maybeRestored(ctx context.Context, you protocol.Checkpoint, sent syncState) (bool, error) {
	n.pushMu.Lock()
	defer n.pushMu.Unlock()
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return false, err
	}
	var reason string
	switch {
	case you.Epoch == st.Epoch && you.AppliedSeq > st.HeadSeq:
		reason = fmt.Sprintf("hub has applied seq %d of epoch %s but our outbox ends at %d (restored from a backup?)",
			you.AppliedSeq, st.Epoch, st.HeadSeq)
	case st.Epoch != sent.Epoch:
		// A new epoch started since: the answer says nothing about it.
		return false, nil
	case you.Epoch == sent.Epoch && you.AppliedSeq < sent.PushCheckpoint:
		reason = fmt.Sprintf("hub has applied seq %d of epoch %s but acknowledged %d to us (hub restored from an older copy?)",
			you.AppliedSeq, sent.Epoch, sent.PushCheckpoint)
	case you.Epoch != sent.Epoch && sent.PushCheckpoint > 0:
		reason = fmt.Sprintf("hub holds epoch %q but acknowledged seq %d of epoch %s to us (hub restored from an older copy?)",
			you.Epoch, sent.PushCheckpoint, sent.Epoch)
	default:
		return false, nil
	}
	err = n.newEpochLocked(ctx, reason)
	return err == nil, err
}

// recordError keeps the last push or pull error for the status page.
func (n *Node) recordError(ctx context.Context, what string, err error) {
	n.ops.metrics.failed(what)
	now := fmtTime(time.Now())
	q := `UPDATE sync_state SET last_push_error = ?, last_push_attempt_at = ? WHERE id = 1`
	if what == "pull" {
		q = `UPDATE sync_state SET last_pull_error = ?, last_pull_attempt_at = ? WHERE id = 1`
	}
	if _, werr := n.db.Writer().ExecContext(context.WithoutCancel(ctx), q, truncateErr(err), now); werr != nil {
		n.log.Warn("record sync error", "what", what, "err", werr)
	}
}

// kickPush asks the push loop for a debounced push; it never blocks.
func (n *Node) kickPush() {
	n.kickAnnounce()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// pushLoop pushes shortly after local writes, so a burst of edits goes out
// as one batch.
func (n *Node) pushLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		if d := n.cfg.PushDebounce; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		select {
		case <-n.kick:
		default:
		}
		if err := n.Push(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("push failed; retrying on the next write or schedule", "err", err)
		}
	}
}
