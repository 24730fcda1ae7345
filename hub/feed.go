package hub

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/bikfed/bikfed/protocol"
)

// feedFlushBytes is how much of a page is written (or compressed) at once.
const feedFlushBytes = 64 << 10

// longPollRetry is what a client over its long-poll cap is told to wait:
// about as long as it takes one of its long-polls to end when news comes.
const longPollRetry = 5 * time.Second

// handleChanges is GET /v1/changes?since=S&limit=N&wait=D.
func (h *Hub) handleChanges(w http.ResponseWriter, r *http.Request) {
	var waited time.Duration
	defer h.ops.metrics.observeFeed(time.Now(), &waited)
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	since, limit, wait, err := parseFeedQuery(q.Get("since"), q.Get("limit"), q.Get("wait"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	wait = min(wait, h.cfg.LongPollMax)
	if p.mirror != "" {
		h.handleMirrorChanges(w, r, p.mirror, since, limit, wait) // mirrors.go
		return
	}
	known := q.Get("incarnation")
	if len(known) > protocol.MaxIncarnationID {
		h.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "incarnation longer than %d characters", protocol.MaxIncarnationID))
		return
	}
	// Before the page: the page must not be taken for a continuation of what
	// the node saw when this database does not hold that history.
	if cur, seq, differs := h.lineage(known); cur != "" {
		w.Header().Set(protocol.HeaderIncarnation, cur)
		if differs {
			w.Header().Set(protocol.HeaderLineageSeq, strconv.FormatInt(seq, 10))
		}
	}
	if p.node != "" {
		h.recordPull(p.node, since)
	}
	if wait > 0 && h.head.Load() <= since {
		who := p.node
		if who == "" {
			who = protocol.HubID // the operator's token
		}
		release, ok := h.longPollSlot(who)
		if !ok {
			h.ops.metrics.limited.WithLabelValues("long_poll").Inc()
			tooBusy(w, http.StatusTooManyRequests, protocol.CodeTooManyRequests, longPollRetry,
				fmt.Sprintf("this credential already holds %d long-polls", h.limits.cfg.LongPollsPerCredential))
			return
		}
		start := time.Now()
		h.waitForChanges(r.Context(), since, wait)
		waited = time.Since(start)
		release()
		// The node may have been suspended, re-keyed or removed meanwhile.
		if err := h.nodeAllowed(p.node); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	// The clock as the answer starts, not as the request came in: a node
	// measures its offset from the answer's arrival.
	w.Header().Set(protocol.HeaderHubTime, protocol.FormatHubTime(h.now()))
	var you *protocol.Checkpoint
	if p.node != "" {
		you = h.checkpoint(p.node)
	}
	// Nothing new: answer from memory. An idle sync round costs no database
	// access at all.
	if head := h.head.Load(); head <= since {
		buf := make([]byte, 0, 256)
		buf = appendFeedTrailer(append(buf, `{"changes":[`...), head, since, false, you)
		h.feedWriteDeadline(w)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
		w.WriteHeader(http.StatusOK)
		w.Write(buf)
		return
	}
	if err := h.writeFeedPage(r.Context(), w, r, since, limit, you); err != nil {
		h.writeError(w, r, err)
	}
}

// parseFeedQuery parses the changes feed's parameters. wait is a Go duration
// ("30s") or a number of seconds.
func parseFeedQuery(sinceS, limitS, waitS string) (since int64, limit int, wait time.Duration, err error) {
	if sinceS != "" {
		if since, err = strconv.ParseInt(sinceS, 10, 64); err != nil || since < 0 {
			return 0, 0, 0, protocol.Errorf(protocol.CodeBadRequest, "since must be a hub_seq >= 0")
		}
	}
	limit = protocol.MaxFeedPage
	if limitS != "" {
		n, err := strconv.Atoi(limitS)
		if err != nil || n < 1 {
			return 0, 0, 0, protocol.Errorf(protocol.CodeBadRequest, "limit must be a positive number")
		}
		limit = min(n, protocol.MaxFeedPage)
	}
	if waitS != "" {
		if secs, err := strconv.ParseFloat(waitS, 64); err == nil && secs >= 0 && secs < 1e6 {
			wait = time.Duration(secs * float64(time.Second))
		} else if wait, err = time.ParseDuration(waitS); err != nil || wait < 0 {
			return 0, 0, 0, protocol.Errorf(protocol.CodeBadRequest, "wait must be a duration such as 30s")
		}
	}
	return since, limit, wait, nil
}

// recordPull notes a node's pull cursor in memory; housekeeping writes it out.
// The cursor is what the node asked from: everything up to it is stored on
// the node, in the same transaction as its cursor.
func (h *Hub) recordPull(node string, since int64) {
	now := h.now()
	h.mu.Lock()
	if n := h.nodes[node]; n != nil {
		n.pullCursor = since
		n.lastPullAt = now
		n.pullDirty = true
	}
	h.mu.Unlock()
}

func (h *Hub) checkpoint(node string) *protocol.Checkpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[node]
	if n == nil {
		return nil
	}
	return &protocol.Checkpoint{Epoch: n.epoch, AppliedSeq: n.appliedSeq}
}

// waitForChanges holds a long-poll until something past since commits, wait
// passes, the client leaves or the server shuts down.
func (h *Hub) waitForChanges(ctx context.Context, since int64, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		h.mu.Lock()
		ch := h.notify
		h.mu.Unlock()
		if h.head.Load() > since {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case <-h.drain:
			return
		}
	}
}

// writeFeedPage answers one page of the feed. Change bytes are copied from
// the database to the response verbatim; the JSON around them is written by
// hand so nothing re-encodes a change. The page is read whole before any of
// it is written: a client that reads slowly, or stops, must hold neither a
// database reader nor the WAL, only its own buffer until the write deadline
// cuts it off.
func (h *Hub) writeFeedPage(ctx context.Context, w http.ResponseWriter, r *http.Request, since int64, limit int, you *protocol.Checkpoint) error {
	page, err := h.readFeedPage(ctx, since, limit, you)
	if err != nil {
		return err
	}
	h.feedWriteDeadline(w)
	w.Header().Set("Content-Type", "application/json")
	var out io.Writer = w
	var zw *gzip.Writer
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw = h.gzipWriter(w)
		defer h.gzip.Put(zw)
		out = zw
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	}
	w.WriteHeader(http.StatusOK)
	// From here on an error cannot become an error response: abort the
	// connection so the client never takes a cut page for a whole one.
	fail := func(err error) error {
		h.log.Warn("feed aborted", "since", since, "bytes", len(page), "err", err)
		panic(http.ErrAbortHandler)
	}
	for len(page) > 0 {
		n := min(len(page), feedFlushBytes)
		if _, err := out.Write(page[:n]); err != nil {
			return fail(err)
		}
		page = page[n:]
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fail(err)
		}
	}
	return nil
}

// readFeedPage reads one page of the feed into memory: at most limit
// changes and, past the first change, at most Limits.FeedPageBytes of them.
func (h *Hub) readFeedPage(ctx context.Context, since int64, limit int, you *protocol.Checkpoint) ([]byte, error) {
	maxBytes := h.limits.cfg.FeedPageBytes
	var buf []byte
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var head int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
			return fmt.Errorf("read feed: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT hub_seq, change, sig FROM entities WHERE hub_seq > ? ORDER BY hub_seq LIMIT ?`, since, limit+1)
		if err != nil {
			return fmt.Errorf("read feed: %w", err)
		}
		defer rows.Close()
		buf = append(make([]byte, 0, feedFlushBytes), `{"changes":[`...)
		next, n, more := since, 0, false
		for rows.Next() {
			if n == limit {
				more = true
				break
			}
			var seq int64
			var change, sig sql.RawBytes
			if err := rows.Scan(&seq, &change, &sig); err != nil {
				return fmt.Errorf("read feed: %w", err)
			}
			mark := len(buf)
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = protocol.AppendFeedItem(buf, seq, protocol.Signed{Change: []byte(change), Sig: []byte(sig)})
			if n > 0 && len(buf) > maxBytes {
				buf = buf[:mark]
				more = true
				break
			}
			next = seq
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read feed: %w", err)
		}
		buf = appendFeedTrailer(buf, max(head, next), next, more, you)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

func appendFeedTrailer(buf []byte, head, next int64, more bool, you *protocol.Checkpoint) []byte {
	buf = append(buf, `],"hub_seq":`...)
	buf = strconv.AppendInt(buf, head, 10)
	buf = append(buf, `,"next":`...)
	buf = strconv.AppendInt(buf, next, 10)
	buf = append(buf, `,"more":`...)
	buf = strconv.AppendBool(buf, more)
	if you != nil {
		buf = append(buf, `,"you":{"epoch":`...)
		buf = strconv.AppendQuote(buf, you.Epoch)
		buf = append(buf, `,"applied_seq":`...)
		buf = strconv.AppendInt(buf, you.AppliedSeq, 10)
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

func (h *Hub) gzipWriter(w io.Writer) *gzip.Writer {
	if zw, ok := h.gzip.Get().(*gzip.Writer); ok {
		zw.Reset(w)
		return zw
	}
	// Level 1: most of the size win for a quarter of level 6's CPU.
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw
}

// acceptsGzip reports whether the client takes a gzip response.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			params = strings.ReplaceAll(params, " ", "")
			return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
		}
	}
	return false
}

// handleManifest is GET /v1/manifest[?owner=X].
func (h *Hub) handleManifest(w http.ResponseWriter, r *http.Request) {
	if _, err := h.authenticate(r.Header.Get("Authorization")); err != nil {
		h.writeError(w, r, err)
		return
	}
	owner := r.URL.Query().Get("owner")
	if owner != "" && protocol.ValidNodeID(owner) != nil {
		h.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "owner must be a node id"))
		return
	}
	m, err := h.Manifest(r.Context(), owner)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// Manifest returns the per-owner count and digest of the aggregate, tombstones
// included; with owner set, also that owner's entries.
func (h *Hub) Manifest(ctx context.Context, owner string) (*protocol.Manifest, error) {
	m := &protocol.Manifest{Owners: []protocol.OwnerDigest{}}
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&m.HubSeq); err != nil {
			return err
		}
		// Ids start with "<owner>:", so id order groups owners and is the
		// order each owner's digest is taken in.
		rows, err := tx.QueryContext(ctx, `SELECT owner, id, version, hash FROM entities ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var cur string
		var d *protocol.Digest
		flush := func() {
			if d != nil {
				m.Owners = append(m.Owners, protocol.OwnerDigest{Owner: cur, Count: d.Count(), Digest: d.Sum()})
			}
		}
		for rows.Next() {
			var o, id string
			var version int64
			var hash sql.RawBytes
			if err := rows.Scan(&o, &id, &version, &hash); err != nil {
				return err
			}
			if o != cur || d == nil {
				flush()
				cur, d = o, protocol.NewDigest()
			}
			d.Add(id, version, hash)
			if o == owner {
				m.Entries = append(m.Entries, protocol.ManifestEntry{ID: id, Version: version, Hash: hex.EncodeToString(hash)})
			}
		}
		flush()
		slices.SortFunc(m.Owners, func(a, b protocol.OwnerDigest) int { return strings.Compare(a.Owner, b.Owner) })
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}
