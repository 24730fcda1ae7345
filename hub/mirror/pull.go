package mirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// keyDirectoryMaxAge is how long a fetched key directory is used, as on a
// node: a key the hub retires reaches the mirror within it.
const keyDirectoryMaxAge = 5 * time.Minute

// pullLoop pulls until ctx is done, retrying with backoff when the hub is
// unreachable: the mirror keeps serving what it has meanwhile.
func (m *Mirror) pullLoop(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		wait := time.Duration(0)
		if m.Ready() {
			wait = m.cfg.LongPoll
		}
		more, err := m.PullOnce(ctx, wait)
		if errors.Is(err, ErrHubRestored) {
			m.log.Error("the hub was restored from a backup: this mirror stops, and rebuilds its copy from the hub when started again", "err", err)
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.log.Warn("pull from the hub", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		if !more && !m.Ready() {
			m.becomeReady(ctx)
		}
	}
	return nil
}

// becomeReady waits until the portal has indexed everything pulled, then
// lets the load balancer send visitors.
func (m *Mirror) becomeReady(ctx context.Context) {
	var last int64
	if err := m.db.Reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&last); err != nil {
		m.log.Warn("read the last change", "err", err)
		return
	}
	if err := m.portal.WaitIndexed(ctx, last); err != nil {
		return
	}
	m.ready.Store(true)
	m.log.Info("mirror caught up with the hub", "cursor", m.Cursor())
}

// PullOnce reads one page of the public feed after the mirror's cursor,
// waiting up to wait for news, and applies it. It reports whether more is
// waiting.
func (m *Mirror) PullOnce(ctx context.Context, wait time.Duration) (bool, error) {
	since := m.Cursor()
	feed, err := m.client.MirrorChanges(ctx, since, pageLimit, wait)
	if err != nil {
		return false, err
	}
	if feed.HubSeq < since {
		// The hub's history is shorter than what this mirror holds: it was
		// restored from a backup, and the changes its nodes push again
		// take hub_seqs this mirror has passed. Its copy is rebuilt.
		if err := os.WriteFile(filepath.Join(m.cfg.DataDir, rebuildFile), nil, 0o600); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: its head is %d, this mirror holds up to %d", ErrHubRestored, feed.HubSeq, since)
	}
	accepted, err := m.verify(ctx, feed.Changes)
	if err != nil {
		return false, err
	}
	if err := m.apply(ctx, since, feed.Next, accepted); err != nil {
		return false, err
	}
	return feed.More, nil
}

// verify checks every change of a page as a node would, and that it is
// public. A change that fails is refused, named with its reason in the
// log, and not stored; the rest of the page is.
func (m *Mirror) verify(ctx context.Context, items []protocol.MirrorFeedItem) ([]protocol.MirrorFeedItem, error) {
	lookup, err := m.keyLookup(ctx, false)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(items))
	check := func(idx []int, lookup protocol.KeyLookup) {
		protocol.InBatches(len(idx), func(lo, hi int) { checkItems(items, idx[lo:hi], lookup, errs) })
	}
	all := make([]int, len(items))
	for i := range all {
		all[i] = i
	}
	check(all, lookup)
	var unknown []int
	for i, err := range errs {
		if errors.Is(err, protocol.ErrUnknownKey) {
			unknown = append(unknown, i)
		}
	}
	if len(unknown) > 0 {
		// A node enrolled or re-keyed since the directory was fetched.
		if lookup, err = m.keyLookup(ctx, true); err != nil {
			return nil, err
		}
		check(unknown, lookup)
	}
	out := items[:0:0]
	for i, it := range items {
		if errs[i] != nil {
			m.log.Error("change from the hub refused", "hub_seq", it.HubSeq, "err", errs[i])
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// checkItems verifies items[idx...] into errs: a withdrawal names an entity;
// a change is signed by its owner's key, the signatures checked as one
// batch, and public.
func checkItems(items []protocol.MirrorFeedItem, idx []int, lookup protocol.KeyLookup, errs []error) {
	var signed []protocol.Signed
	var hubSeqs []int64
	var changes []int
	for _, i := range idx {
		if w := items[i].Withdrawn; w != "" {
			if _, err := protocol.SplitEntityID(w); err != nil {
				errs[i] = fmt.Errorf("withdrawal: %w", err)
			}
			continue
		}
		signed, hubSeqs, changes = append(signed, items[i].Signed), append(hubSeqs, items[i].HubSeq), append(changes, i)
	}
	cs, verrs := protocol.VerifyBatchAt(signed, hubSeqs, lookup)
	for k, i := range changes {
		errs[i] = checkChange(cs[k], verrs[k])
	}
}

// checkItem verifies one item as checkItems does.
func checkItem(it protocol.MirrorFeedItem, lookup protocol.KeyLookup) error {
	errs := make([]error, 1)
	checkItems([]protocol.MirrorFeedItem{it}, []int{0}, lookup, errs)
	return errs[0]
}

// checkChange completes the check of a change once protocol has parsed it
// into c and judged its signature (err).
func checkChange(c *protocol.Change, err error) error {
	if err != nil {
		if c != nil {
			return fmt.Errorf("%s v%d: %w", c.ID, c.Version, err)
		}
		return err
	}
	if !c.Public() {
		return fmt.Errorf("%s v%d: visibility %s is not public; a mirror holds public content only", c.ID, c.Version, c.Visibility)
	}
	return nil
}

func (m *Mirror) keyLookup(ctx context.Context, refresh bool) (protocol.KeyLookup, error) {
	m.mu.Lock()
	keys, at := m.keys, m.keysAt
	m.mu.Unlock()
	if keys != nil && !refresh && time.Since(at) < keyDirectoryMaxAge {
		return keys, nil
	}
	dir, err := m.client.Keys(ctx)
	if err != nil {
		return nil, err
	}
	keys = dir.Lookup()
	m.mu.Lock()
	m.keys, m.keysAt = keys, time.Now()
	m.mu.Unlock()
	return keys, nil
}

// stored is an item as mirror.db keeps it.
type stored struct {
	id     string
	erased bool
	blobs  []protocol.BlobRef // the version's attachments
}

func itemState(it protocol.MirrorFeedItem) (stored, error) {
	if it.Withdrawn != "" {
		return stored{id: it.Withdrawn, erased: it.Erased}, nil
	}
	c, err := protocol.ParseChange(it.Change)
	if err != nil {
		return stored{}, err
	}
	return stored{id: c.ID, erased: c.Erased, blobs: c.Blobs}, nil
}

// apply stores a verified page and moves the cursor to next, in one
// transaction; erasures are queued for acknowledgement in it too. Cached
// attachments that the new versions no longer have are removed after the
// commit.
func (m *Mirror) apply(ctx context.Context, since, next int64, items []protocol.MirrorFeedItem) error {
	var dropped []string
	err := m.db.WriteTx(ctx, func(tx *sql.Tx) error {
		dropped = dropped[:0]
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT value FROM state WHERE key = 'cursor'`).Scan(&cursor); err != nil {
			return err
		}
		if cursor != since {
			return fmt.Errorf("cursor moved from %d to %d meanwhile", since, cursor)
		}
		for _, it := range items {
			st, err := itemState(it)
			if err != nil {
				return err
			}
			var old []byte
			err = tx.QueryRowContext(ctx, `DELETE FROM entities WHERE id = ? RETURNING change`, st.id).Scan(&old)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			gone := oldBlobs(old, st.blobs)
			dropped = append(dropped, gone...)
			var change, sig any
			if it.Withdrawn == "" {
				change, sig = []byte(it.Change), it.Sig
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO entities (hub_seq, id, change, sig, applied_at, erased) VALUES (?, ?, ?, ?, ?, ?)`,
				it.HubSeq, st.id, change, sig, it.AppliedAt, st.erased); err != nil {
				return err
			}
			if st.erased {
				list, _ := json.Marshal(gone)
				if _, err := tx.ExecContext(ctx, `INSERT INTO acks (hub_seq, blobs) VALUES (?, ?) ON CONFLICT DO NOTHING`, it.HubSeq, string(list)); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE state SET value = ? WHERE key = 'cursor'`, max(next, since))
		return err
	})
	if err != nil {
		return fmt.Errorf("apply pulled changes: %w", err)
	}
	m.cursor.Store(max(next, since))
	if len(items) > 0 {
		m.mu.Lock()
		close(m.notify)
		m.notify = make(chan struct{})
		m.mu.Unlock()
		m.kickAcks()
	}
	m.dropCached(ctx, dropped)
	return nil
}

// oldBlobs lists the attachments of the stored version old that the new
// version does not have.
func oldBlobs(old []byte, now []protocol.BlobRef) []string {
	if old == nil {
		return nil
	}
	var c struct {
		Blobs []protocol.BlobRef `json:"blobs"`
	}
	if json.Unmarshal(old, &c) != nil {
		return nil
	}
	var gone []string
	for _, b := range c.Blobs {
		if !slices.ContainsFunc(now, func(n protocol.BlobRef) bool { return n.SHA256 == b.SHA256 }) {
			gone = append(gone, b.SHA256)
		}
	}
	return gone
}

// dropCached removes attachments from the mirror's cache (none is kept
// with an object store). One still attached to another public entity is
// fetched again when asked for.
func (m *Mirror) dropCached(ctx context.Context, shas []string) {
	if m.cache == nil {
		return
	}
	for _, sha := range shas {
		if err := m.cache.Delete(ctx, sha); err != nil {
			m.log.Warn("remove a cached attachment", "sha256", sha, "err", err)
		}
	}
}

func (m *Mirror) kickAcks() {
	select {
	case m.ackKick <- struct{}{}:
	default:
	}
}

// ackLoop acknowledges the erasures applied here once the portal's index
// has purged them and the purged pages have left mirror.db's WAL.
func (m *Mirror) ackLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.ackKick:
		}
		if err := m.ackOnce(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("acknowledge erasures", "err", err)
		}
	}
}

// ackOnce acknowledges what is due and reports the first error.
func (m *Mirror) ackOnce(ctx context.Context) error {
	rows, err := m.db.Reader().QueryContext(ctx, `SELECT hub_seq, blobs FROM acks ORDER BY hub_seq`)
	if err != nil {
		return err
	}
	var seqs []int64
	var blobs []string
	for rows.Next() {
		var seq int64
		var list string
		if err := rows.Scan(&seq, &list); err != nil {
			rows.Close()
			return err
		}
		var shas []string
		json.Unmarshal([]byte(list), &shas)
		seqs, blobs = append(seqs, seq), append(blobs, shas...)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(seqs) == 0 {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.portal.WaitIndexed(wctx, seqs[len(seqs)-1]); err != nil {
		return fmt.Errorf("wait for the index to purge: %w", err)
	}
	m.dropCached(ctx, blobs)
	if err := m.db.Checkpoint(ctx); err != nil {
		return err
	}
	res, err := m.client.AckErasures(ctx, seqs)
	if err != nil {
		return err
	}
	_, err = m.db.Writer().ExecContext(ctx, `DELETE FROM acks WHERE hub_seq <= ?`, seqs[len(seqs)-1])
	if err == nil {
		m.log.Info("erasures acknowledged", "count", len(res.Acknowledged))
	}
	return err
}

// bindingsFile keeps the last country bindings, so a mirror started while
// the hub is unreachable shows the same profiles as before.
const bindingsFile = "bindings.json"

func (m *Mirror) loadBindings() map[string][]string {
	var b protocol.MirrorBindings
	raw, err := os.ReadFile(filepath.Join(m.cfg.DataDir, bindingsFile))
	if err == nil && json.Unmarshal(raw, &b) == nil {
		m.subsOpen.Store(b.SubscriptionsOpen)
		return b.Nodes
	}
	return map[string][]string{}
}

// bindingsLoop refreshes the country bindings and whether the hub takes
// subscriptions, at start and then every few minutes.
func (m *Mirror) bindingsLoop(ctx context.Context) {
	for {
		if err := m.refreshBindings(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("read the country bindings", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Minute):
		}
	}
}

func (m *Mirror) refreshBindings(ctx context.Context) error {
	b, err := m.client.MirrorBindings(ctx)
	if err != nil {
		return err
	}
	if b.Nodes == nil {
		b.Nodes = map[string][]string{}
	}
	m.mu.Lock()
	m.bindings = b.Nodes
	m.mu.Unlock()
	m.subsOpen.Store(b.SubscriptionsOpen)
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	path := filepath.Join(m.cfg.DataDir, bindingsFile)
	if err := os.WriteFile(path+".tmp", raw, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
