package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/protocol"
)

// Pull reads the hub's changes feed until it is caught up, without waiting.
func (n *Node) Pull(ctx context.Context) error {
	return n.pullAll(ctx, nil)
}

// verified is one feed item after verification.
type verified struct {
	c     *protocol.Change
	err   error
	hash  [32]byte
	blobs []byte
	// echo: an own change the hub acknowledged, coming back; it was not
	// verified and is not applied (echo.go).
	echo bool
	// stored and bodyOwn are the entity's change_z and body_own, made here
	// on every core rather than in the transaction that applies the page.
	stored  []byte
	bodyOwn any
}

// atRest fills r's stored and bodyOwn from the change's signed bytes.
func (r *verified) atRest(change []byte) error {
	var err error
	if r.bodyOwn, err = ownBody(pulledBody(r.c.Body), change); err != nil {
		return err
	}
	r.stored, err = atrest.Compress(change)
	return err
}

// fetchedPage is one feed page, verified and ready to apply after since.
type fetchedPage struct {
	since, next int64
	more        bool
	// restored says the page showed we were restored from a backup; a new
	// epoch has started and the cursor is back at 0.
	restored bool
	feed     *protocol.Feed
	results  []verified
	// incarnation is the hub incarnation that served the page, and lineage
	// the end of the asked one's history when that was another (-1: none).
	incarnation string
	lineage     int64
}

// fetchPage reads and verifies the page after since, a cursor obtained from
// hub incarnation inc; sent is the sync state read before the request. It
// touches no entity.
func (n *Node) fetchPage(ctx context.Context, since int64, inc string, sent syncState, wait time.Duration) (fetchedPage, error) {
	p := fetchedPage{since: since}
	feed, err := n.client.ChangesAfter(ctx, protocol.FeedQuery{Since: since, Limit: protocol.MaxFeedPage, Wait: wait, Incarnation: inc})
	if err != nil {
		return p, err
	}
	n.checkClock()
	if rewound, err := n.checkRewound(ctx, feed, since, inc, sent); err != nil || rewound {
		p.restored = rewound
		return p, err
	}
	if feed.You != nil {
		restored, err := n.maybeRestored(ctx, *feed.You, sent)
		if err != nil {
			return p, err
		}
		if restored {
			n.kickPush()
			p.restored = true
			return p, nil
		}
	}
	if p.results, err = n.verifyFeed(ctx, feed.Changes); err != nil {
		return p, err
	}
	p.feed = feed
	p.incarnation, p.lineage = feed.Incarnation, -1
	if feed.LineageSeq != nil {
		p.lineage = *feed.LineageSeq
	}
	p.next = max(feed.Next, since)
	if len(feed.Changes) > 0 {
		p.next = max(p.next, feed.Changes[len(feed.Changes)-1].HubSeq)
	}
	// A page that does not move the cursor cannot lead anywhere new.
	p.more = feed.More && p.next > since
	return p, nil
}

// pullPage reads, verifies and applies one page after the stored cursor. It
// reports whether more is waiting (including when the cursor moved under it)
// and whether the hub answered with nothing new.
func (n *Node) pullPage(ctx context.Context, wait time.Duration) (more, idle bool, err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			n.recordError(ctx, "pull", err)
		}
	}()
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return false, false, err
	}
	p, err := n.fetchPage(ctx, st.PullCursor, st.HubIncarnation, st, wait)
	if err != nil || p.restored {
		return p.restored, false, err
	}
	_, moved, err := n.applyPage(ctx, p)
	if err != nil {
		return false, false, err
	}
	return p.more || moved, p.next == p.since, nil
}

// pullAll pulls until the hub has nothing more. Fetching and verifying the
// next page overlaps with applying the current one: the feed says where the
// next page starts, and applyPage refuses a page whose cursor has moved, so
// reading ahead can never apply anything out of order.
func (n *Node) pullAll(ctx context.Context, progress func(done, total int64)) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			n.recordError(ctx, "pull", err)
		}
	}()
	for {
		done, err := n.pullPipeline(ctx, progress)
		if err != nil || done {
			return err
		}
	}
}

// pullPipeline runs one read-ahead pipeline from the stored cursor. It
// returns done=false when it had to stop early (a new epoch, a cursor moved
// by another pull) and should be started again.
func (n *Node) pullPipeline(ctx context.Context, progress func(done, total int64)) (done bool, err error) {
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	type result struct {
		p   fetchedPage
		err error
	}
	pages := make(chan result, 1)
	wg.Go(func() {
		defer close(pages)
		since, inc := st.PullCursor, st.HubIncarnation
		for {
			p, err := n.fetchPage(ctx, since, inc, st, 0)
			select {
			case pages <- result{p, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || p.restored || !p.more {
				return
			}
			since = p.next
			if p.incarnation != "" {
				inc = p.incarnation
			}
		}
	})
	for r := range pages {
		if r.err != nil {
			return false, r.err
		}
		if r.p.restored {
			return false, nil
		}
		applied, moved, err := n.applyPage(ctx, r.p)
		if err != nil {
			return false, err
		}
		if moved {
			return false, nil
		}
		if progress != nil {
			progress(r.p.next, max(r.p.feed.HubSeq, r.p.next))
		}
		if len(r.p.feed.Changes) > 0 {
			n.log.Debug("pulled", "since", r.p.since, "next", r.p.next, "changes", len(r.p.feed.Changes),
				"applied", applied, "hub_seq", r.p.feed.HubSeq)
		}
		if !r.p.more {
			return true, nil
		}
	}
	return false, ctx.Err()
}

// verifyFeed verifies every change on all cores before any transaction
// starts, except the echoes of own changes (echo.go). An unknown key
// refreshes the key directory once per page.
func (n *Node) verifyFeed(ctx context.Context, items []protocol.FeedItem) ([]verified, error) {
	results := make([]verified, len(items))
	if len(items) == 0 {
		return results, nil
	}
	hashes := make([][32]byte, len(items))
	for i := range items {
		hashes[i] = items[i].Signed.Hash()
	}
	echo := n.echoes.take(hashes)
	all := make([]int, 0, len(items))
	for i := range items {
		if echo[i] {
			results[i] = verified{echo: true, hash: hashes[i]}
			continue
		}
		all = append(all, i)
	}
	n.ops.metrics.echoes.Add(float64(len(items) - len(all)))
	if len(all) == 0 {
		return results, nil
	}
	lookup, err := n.keyLookup(ctx, false)
	if err != nil {
		return nil, err
	}
	verifyParallel(items, hashes, all, results, lookup)
	var unknown []int
	for i, r := range results {
		if errors.Is(r.err, protocol.ErrUnknownKey) {
			unknown = append(unknown, i)
		}
	}
	if len(unknown) > 0 {
		// A node enrolled or re-keyed since we last fetched the directory.
		if lookup, err = n.keyLookup(ctx, true); err != nil {
			return nil, err
		}
		verifyParallel(items, hashes, unknown, results, lookup)
	}
	return results, nil
}

// verifyParallel verifies items[idx...], whose hashes are given, into
// results on every core, in batches; Ed25519 verification is the dominant
// cost of a pull.
func verifyParallel(items []protocol.FeedItem, hashes [][32]byte, idx []int, results []verified, lookup protocol.KeyLookup) {
	protocol.InBatches(len(idx), func(lo, hi int) {
		part := idx[lo:hi]
		signed := make([]protocol.Signed, len(part))
		hubSeqs := make([]int64, len(part))
		for k, i := range part {
			signed[k], hubSeqs[k] = items[i].Signed, items[i].HubSeq
		}
		changes, errs := protocol.VerifyBatchAt(signed, hubSeqs, lookup)
		for k, i := range part {
			c, err := changes[k], errs[k]
			r := verified{c: c, err: err}
			if err == nil {
				r.hash = hashes[i]
				if len(c.Blobs) > 0 {
					r.blobs, r.err = json.Marshal(c.Blobs)
				}
				if r.err == nil {
					r.err = r.atRest(items[i].Signed.Change)
				}
			}
			results[i] = r
		}
	})
}

// keyDirectoryMaxAge is how long a fetched key directory is used: a key the
// hub retires (a rotation, a removed node) reaches every puller within it.
const keyDirectoryMaxAge = 5 * time.Minute

// keyLookup returns the cached key directory, fetching it when there is none,
// when it is older than keyDirectoryMaxAge or when refresh is set.
func (n *Node) keyLookup(ctx context.Context, refresh bool) (protocol.KeyLookup, error) {
	n.keysMu.Lock()
	defer n.keysMu.Unlock()
	if n.keys != nil && !refresh && time.Since(n.keysAt) < keyDirectoryMaxAge {
		return n.keys, nil
	}
	dir, err := n.client.Keys(ctx)
	if err != nil {
		return nil, err
	}
	n.keys, n.keysAt = dir.Lookup(), time.Now()
	return n.keys, nil
}

// applyPullSQL applies a pulled change only when it is newer than the local
// copy. The second condition re-adopts the hub's bytes of an own version the
// hub already has with other bytes (after an epoch renumbered the outbox),
// once our own copy is no longer waiting to be pushed. The third applies an
// erasure over whatever differs from it: the hub takes no version after an
// erasure, so it is the entity's final state, even over an own change made
// on a database restored from before it.
const applyPullSQL = `INSERT INTO entities (id, owner, kind, version, visibility, deleted, erased, publish_at, updated_at,
		scheduled, outbox_seq, hub_seq, signed_version, sig, change_z, body_own, blobs)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		owner = excluded.owner, kind = excluded.kind, version = excluded.version,
		visibility = excluded.visibility, deleted = excluded.deleted, erased = excluded.erased,
		publish_at = excluded.publish_at, updated_at = excluded.updated_at, scheduled = 0, outbox_seq = 0,
		hub_seq = excluded.hub_seq, signed_version = excluded.signed_version,
		sig = excluded.sig, change_z = excluded.change_z, body_own = excluded.body_own, blobs = excluded.blobs
	WHERE excluded.version > entities.version
		OR (excluded.version = entities.version AND entities.owner = ? AND entities.scheduled = 0
			AND entities.outbox_seq <= ? AND entities.hash IS NOT ?)
		OR (excluded.erased AND entities.hash IS NOT ?)`

// applyPage applies one verified page and its cursor in one transaction. It
// applies nothing and reports moved when the stored cursor is no longer since.
func (n *Node) applyPage(ctx context.Context, p fetchedPage) (applied int, moved bool, err error) {
	since, next, feed, results := p.since, p.next, p.feed, p.results
	items := feed.Changes
	// An item signed by a key the directory does not show, even fetched
	// again, is not the change's fault: the directory may not list a key
	// the hub accepted yet. Skipping it would lose it for good (the cursor
	// passes it), so the page applies up to it and the pull is retried.
	var held error
	for i, r := range results {
		if errors.Is(r.err, protocol.ErrUnknownKey) {
			held = fmt.Errorf("%w at hub_seq %d: %v", errHeldBack, items[i].HubSeq, r.err)
			items, next = items[:i], items[i].HubSeq-1
			break
		}
	}
	n.pullMu.Lock()
	defer n.pullMu.Unlock()
	now := time.Now().UTC()
	self := n.ident.Node
	erased := false
	var refused []protocol.Refusal
	rebased := 0
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		applied, erased, refused, rebased = 0, false, refused[:0], 0
		var rb *author
		var cursor, checkpoint int64
		if err := tx.QueryRowContext(ctx, `SELECT pull_cursor, push_checkpoint FROM sync_state WHERE id = 1`).Scan(&cursor, &checkpoint); err != nil {
			return fmt.Errorf("read pull cursor: %w", err)
		}
		if cursor != since {
			moved = true
			return nil
		}
		// An idle round (no changes) only moves the cursor: no statement
		// to prepare.
		var upsert, refusal *sql.Stmt
		var err error
		for i, item := range items {
			r := results[i]
			if r.echo {
				continue
			}
			if r.err != nil {
				if refusal == nil {
					if refusal, err = tx.PrepareContext(ctx, insertRefusalSQL); err != nil {
						return fmt.Errorf("prepare refusal insert: %w", err)
					}
					defer refusal.Close()
				}
				rf := protocol.Refusal{Code: protocol.ErrorCode(r.err), Reason: r.err.Error(), At: now}
				var ve *protocol.ValidationError
				if errors.As(r.err, &ve) {
					rf.Code = ve.Code
				}
				if r.c != nil {
					rf.ID, rf.Version, rf.Seq = r.c.ID, r.c.Version, r.c.Seq
				}
				if err := insertRefusal(ctx, refusal, "pull", item.HubSeq, rf, now); err != nil {
					return err
				}
				refused = append(refused, rf)
				continue
			}
			if upsert == nil {
				if upsert, err = tx.PrepareContext(ctx, applyPullSQL); err != nil {
					return fmt.Errorf("prepare apply: %w", err)
				}
				defer upsert.Close()
			}
			c := r.c
			if c.Owner == self {
				ok, err := n.rebaseOnPull(ctx, tx, &rb, c, r.hash, checkpoint)
				if err != nil {
					return err
				}
				if ok {
					rebased++
					continue
				}
			}
			var blobs any
			if r.blobs != nil {
				blobs = string(r.blobs)
			}
			// The body is the change's: body_own stays NULL unless the
			// change's bytes say otherwise than what was parsed from them.
			if r.stored == nil {
				if err := r.atRest(item.Signed.Change); err != nil {
					return fmt.Errorf("apply %s v%d: %w", c.ID, c.Version, err)
				}
			}
			res, err := upsert.ExecContext(ctx, c.ID, c.Owner, string(c.Kind), c.Version, string(c.Visibility), c.Deleted, c.Erased,
				fmtTimePtr(c.PublishAt), fmtTime(c.UpdatedAt), item.HubSeq, c.Version,
				item.Signed.Sig, r.stored, r.bodyOwn, blobs, self, checkpoint, r.hash[:], r.hash[:])
			if err != nil {
				return fmt.Errorf("apply %s v%d: %w", c.ID, c.Version, err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				applied++
				if c.Erased {
					erased = true
				}
				if c.Erased && c.Owner == self {
					// Own changes of it still waiting to be pushed must not
					// carry the erased text to the hub.
					if rb == nil {
						if rb, err = n.beginAuthor(ctx, tx, n.now()); err != nil {
							return err
						}
					}
					if err := rb.erasePending(ctx, c.ID); err != nil {
						return err
					}
				}
			}
		}
		if rb != nil {
			if err := rb.finish(ctx); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_state SET pull_cursor = ?, hub_seq = max(hub_seq, ?), last_pull_at = ?,
			last_pull_attempt_at = ?, last_pull_error = NULL,
			hub_prev_incarnation = CASE WHEN ? >= 0 AND hub_incarnation != '' AND ? != hub_incarnation THEN hub_incarnation ELSE hub_prev_incarnation END,
			hub_prev_end = CASE WHEN ? >= 0 AND hub_incarnation != '' AND ? != hub_incarnation THEN ? ELSE hub_prev_end END,
			hub_incarnation = CASE WHEN ? != '' THEN ? ELSE hub_incarnation END,
			hub_clock_offset_ms = coalesce(?, hub_clock_offset_ms) WHERE id = 1`,
			next, feed.HubSeq, fmtTime(now), fmtTime(now),
			p.lineage, p.incarnation, p.lineage, p.incarnation, p.lineage,
			p.incarnation, p.incarnation, n.clockOffsetMillis())
		if err != nil {
			return fmt.Errorf("store pull cursor: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("apply feed page after %d: %w", since, err)
	}
	if !moved {
		n.ops.metrics.pulled(len(feed.Changes), applied, refused)
		n.echoes.passed(next)
	}
	if erased {
		n.flushErasures(ctx)
	}
	for _, rf := range refused {
		n.log.Warn("pulled change failed verification; not applied", "record", rf.Name(), "code", rf.Code, "reason", rf.Reason)
	}
	if rebased > 0 {
		n.log.Warn("own changes not yet pushed met newer versions at the hub (database restored from a backup?); sent again on top of them",
			"count", rebased)
		n.kickPush()
	}
	if held != nil && !moved {
		return applied, moved, held
	}
	return applied, moved, nil
}

// errHeldBack says a pull stopped before a change it cannot verify yet.
var errHeldBack = errors.New("pull held back before a change signed by a key the key directory does not list")

// rebaseOnPull re-bases an own change still waiting to be pushed when the
// pulled change c, of the same entity, is at or past its version with other
// content: the hub holds versions made from a newer copy of this database
// (restored from a backup and edited since). The local edit is the newest
// intent, so it is signed again on top of c rather than overwritten by it
// or refused later; an erasure alone is never built upon (§17). It reports
// whether it re-based; a is the author it opens on first use.
func (n *Node) rebaseOnPull(ctx context.Context, tx *sql.Tx, a **author, c *protocol.Change, hash [32]byte, checkpoint int64) (bool, error) {
	var version, outboxSeq int64
	var scheduled bool
	var localHash []byte
	err := tx.QueryRowContext(ctx, `SELECT version, outbox_seq, scheduled, hash FROM entities WHERE id = ?`, c.ID).
		Scan(&version, &outboxSeq, &scheduled, &localHash)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", c.ID, err)
	}
	if c.Erased {
		return false, nil // final: applied over the local change, never built upon
	}
	if scheduled || outboxSeq <= checkpoint || c.Version < version || c.Version == version && bytes.Equal(localHash, hash[:]) {
		return false, nil
	}
	r, err := getEntityTx(ctx, tx, c.ID)
	if err != nil {
		return false, err
	}
	if sameContent(r, c) {
		return false, nil
	}
	if *a == nil {
		if *a, err = n.beginAuthor(ctx, tx, n.now()); err != nil {
			return false, err
		}
	}
	if _, err := (*a).rebase(ctx, r, c.Version); err != nil {
		return false, err
	}
	return true, nil
}

// pullLoop long-polls the hub so shared content arrives within seconds.
// Failures back off exponentially with jitter, up to a minute.
func (n *Node) pullLoop(ctx context.Context) {
	const minBackoff, maxBackoff = time.Second, time.Minute
	backoff := minBackoff
	wait := n.cfg.LongPollWait
	for ctx.Err() == nil {
		start := time.Now()
		more, idle, err := n.pullPage(ctx, wait)
		if err == nil && more {
			// Catch up with the read-ahead pipeline, then long-poll again.
			err = n.pullAll(ctx, nil)
			more = false
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("pull failed; retrying", "err", err, "in", backoff)
			if !sleepCtx(ctx, backoff/2+rand.N(backoff/2+1)) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = minBackoff
		if more {
			wait = 0
			continue
		}
		wait = n.cfg.LongPollWait
		// A hub that answers an idle long-poll at once is not holding it;
		// do not turn that into a busy loop. An answer with news is the
		// long-poll working: poll again at once.
		if idle && time.Since(start) < wait/10 && !sleepCtx(ctx, wait/10) {
			return
		}
	}
}

// sleepCtx sleeps for d or until ctx is done, reporting whether it slept fully.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// probeHub asks the hub for our checkpoint before pushing, so a database
// restored from a backup starts a new epoch before its seqs are mistaken for
// ones the hub already has. The feed's "you" carries the checkpoint; one item
// is the cheapest way to get it.
func (n *Node) probeHub(ctx context.Context) error {
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return err
	}
	feed, err := n.client.ChangesAfter(ctx, protocol.FeedQuery{Since: st.PullCursor, Limit: 1, Incarnation: st.HubIncarnation})
	if err != nil {
		return err
	}
	n.checkClock()
	if rewound, err := n.checkRewound(ctx, feed, st.PullCursor, st.HubIncarnation, st); err != nil || rewound {
		return err
	}
	if feed.You != nil {
		if _, err := n.maybeRestored(ctx, *feed.You, st); err != nil {
			return err
		}
	}
	return nil
}

// SyncOnce pushes everything pending, then pulls until the hub has nothing
// more. progress, if set, is called after each page with the pull cursor and
// the hub's head.
func (n *Node) SyncOnce(ctx context.Context, progress func(done, total int64)) error {
	before, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return err
	}
	if before.HeadSeq > before.PushCheckpoint {
		if err := n.probeHub(ctx); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	pushErr := n.Push(ctx)
	var pe *protocol.Error
	if pushErr != nil && !errors.As(pushErr, &pe) {
		// The hub is unreachable; pulling would only wait for the same timeouts.
		return fmt.Errorf("sync: %w", pushErr)
	}
	if err := n.pullAll(ctx, progress); err != nil {
		return fmt.Errorf("sync: %w", errors.Join(pushErr, err))
	}
	// What this pull erased is acknowledged now, not at the next sync
	// (erasure.go).
	if err := n.settleErasures(ctx); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	after, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return err
	}
	if after.Epoch != before.Epoch || after.HeadSeq > after.PushCheckpoint || after.Reconcile {
		// Pulling found we were restored from a backup and renumbered the
		// outbox: send it in the new epoch now rather than on the next trigger.
		pushErr = n.Push(ctx)
	}
	if pushErr != nil {
		return fmt.Errorf("sync: %w", pushErr)
	}
	return nil
}
