package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/file"
	"github.com/bikfed/bikfed/protocol"
)

// Attachments (docs/attachments.md). An editor attaches a file: the node
// hashes it while copying it into its blob store (<data>/blobs) and the
// draft references it by a BlobRef. Before a push, every blob the batch's
// changes reference is uploaded (HEAD first, so a blob the hub has is never
// sent again; an interrupted upload resumes). After a pull, a loop fetches
// the attachments of received entities into the local store, verifying each
// against its hash; a failure is retried later and never holds back the
// pull cursor. Housekeeping removes blobs nothing has referenced for the
// grace period.

// BlobConfig configures the node's attachments.
type BlobConfig struct {
	// Grace is how long a local blob that nothing references is kept before
	// housekeeping removes it. Default 24h.
	Grace time.Duration `json:"grace"`
	// UploadRate limits uploads to the hub, in bytes per second, so a large
	// video does not take a SIC's whole uplink; 0 means no limit.
	UploadRate int64 `json:"upload_rate"`
	// FetchInterval is how often the node looks for attachments of pulled
	// entities to fetch, and retries failed fetches that are due. Default 2s.
	FetchInterval time.Duration `json:"fetch_interval"`
}

// DefaultBlobConfig returns the attachment settings a node runs with unless
// configured otherwise.
func DefaultBlobConfig() BlobConfig {
	return BlobConfig{Grace: 24 * time.Hour, FetchInterval: 2 * time.Second}
}

func (c BlobConfig) validate(bad func(field, format string, args ...any)) {
	if c.Grace < 0 {
		bad("blobs.grace", "must not be negative")
	}
	if c.UploadRate < 0 {
		bad("blobs.upload_rate", "must not be negative")
	}
	if c.FetchInterval <= 0 {
		bad("blobs.fetch_interval", "must be positive")
	}
}

const (
	// blobsDir is the local blob store under the data dir.
	blobsDir = "blobs"
	// attachPrefix names files being attached, at the top of blobsDir where
	// the store does not look.
	attachPrefix = ".attach-"
	// fetchBatch is how many due fetches one round tries.
	fetchBatch = 16
	// maxFetchBackoff caps the wait before a failed fetch is tried again.
	maxFetchBackoff = time.Hour
)

// nodeBlobs is the local blob store, opened at first use, and the state of
// erasures' purges (erasure.go).
type nodeBlobs struct {
	once  sync.Once
	store *file.Store
	err   error

	// purge is held by an erasure's purge, and its read side by each fetch
	// while it stores a blob.
	purge sync.RWMutex
	// settled is true once every noted erasure is known purged and
	// acknowledged; a push skips the check while it is. settleGen counts
	// the erasures applied, so a settling that began before one was noted
	// cannot mark it settled.
	settleMu  sync.Mutex
	settled   bool
	settleGen int64
	kickOnce  sync.Once
	kick      chan struct{} // wakes the erasure loop
}

// blobStore returns the node's local blob store.
func (n *Node) blobStore() (*file.Store, error) {
	n.blobs.once.Do(func() {
		n.blobs.store, n.blobs.err = file.New(filepath.Join(n.cfg.DataDir, blobsDir))
	})
	return n.blobs.store, n.blobs.err
}

// AttachFile copies the file at path into the node's blob store and returns
// the reference to put in a Draft's Blobs. The name is the file's base name.
func (n *Node) AttachFile(ctx context.Context, path string) (protocol.BlobRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach: %w", err)
	}
	defer f.Close()
	return n.Attach(ctx, f, filepath.Base(path), "")
}

// Attach copies r into the node's blob store, hashing it on the way, and
// returns the reference to put in a Draft's Blobs. An empty mediaType is
// guessed from the name's extension, else from the first bytes. Memory stays
// bounded whatever the size: the bytes go to a temporary file, then into the
// store, which hashes them again as it takes them.
func (n *Node) Attach(ctx context.Context, r io.Reader, name, mediaType string) (protocol.BlobRef, error) {
	if err := protocol.ValidBlobName(name); err != nil {
		return protocol.BlobRef{}, fieldError("name", "%v", err)
	}
	store, err := n.blobStore()
	if err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(store.Dir(), attachPrefix+"*")
	if err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach %s: %w", name, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h := sha256.New()
	head := &headWriter{max: 512}
	// One byte over the limit is enough to refuse it.
	size, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(&ctxReader{ctx: ctx, r: r}, protocol.MaxBlobSize+1))
	if err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach %s: %w", name, err)
	}
	if size > protocol.MaxBlobSize {
		return protocol.BlobRef{}, protocol.Errorf(protocol.CodeRecordTooLarge, "attachment %s is larger than %d bytes", name, int64(protocol.MaxBlobSize))
	}
	ref := protocol.BlobRef{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size, Name: name, MediaType: mediaType}
	if ref.MediaType == "" {
		ref.MediaType = guessMediaType(name, head.b)
	}
	if ref.MediaType, err = blobstore.CleanMediaType(ref.MediaType); err != nil {
		return protocol.BlobRef{}, fieldError("media_type", "%v", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach %s: %w", name, err)
	}
	if err := store.Put(ctx, ref.SHA256, ref.Size, ref.MediaType, tmp); err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach %s: %w", name, err)
	}
	n.log.Info("attached file", "name", name, "sha256", ref.SHA256, "size", ref.Size, "media_type", ref.MediaType)
	return ref, nil
}

// playableTypes are the types the portal's player needs, fixed here because
// the system's MIME tables differ from machine to machine (some read .webm
// as audio/webm, which would leave a video without its player; an
// audio-only WebM is .weba).
var playableTypes = map[string]string{
	".webm": "video/webm",
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".ogv":  "video/ogg",
	".vtt":  "text/vtt",
}

// guessMediaType goes by the extension for the types that have one, and by
// content sniffing otherwise.
func guessMediaType(name string, head []byte) string {
	ext := strings.ToLower(filepath.Ext(name))
	if mt, ok := playableTypes[ext]; ok {
		return mt
	}
	if mt := mime.TypeByExtension(ext); mt != "" {
		return mt
	}
	return http.DetectContentType(head)
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if k := w.max - len(w.b); k > 0 {
		w.b = append(w.b, p[:min(k, len(p))]...)
	}
	return len(p), nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenBlob opens a blob of the local store.
func (n *Node) OpenBlob(ctx context.Context, sha string) (io.ReadSeekCloser, blobstore.Info, error) {
	store, err := n.blobStore()
	if err != nil {
		return nil, blobstore.Info{}, err
	}
	notFound := protocol.Errorf(protocol.CodeNotFound, "no attachment %s on this node", clipHash(sha))
	if blobstore.ValidHash(sha) != nil {
		return nil, blobstore.Info{}, notFound
	}
	// An erased entity's attachment is gone from the moment the erasure is
	// applied, not from when its file is removed.
	if erased, err := n.blobErased(ctx, sha); err != nil || erased {
		if err != nil {
			return nil, blobstore.Info{}, err
		}
		return nil, blobstore.Info{}, notFound
	}
	rc, info, err := store.Open(ctx, sha)
	if errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrInvalidHash) {
		return nil, blobstore.Info{}, notFound
	}
	return rc, info, err
}

func clipHash(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// outboxBlobs returns the attachments the changes of rows reference, each
// once, with the first change that references it.
func outboxBlobs(rows []outboxRow) ([]protocol.BlobRef, []outboxRow, error) {
	var refs []protocol.BlobRef
	var owners []outboxRow
	seen := make(map[string]bool)
	for _, r := range rows {
		// Most changes have no attachments; only those are decoded.
		if !bytes.Contains(r.s.Change, []byte(`"blobs"`)) {
			continue
		}
		var c struct {
			Deleted bool               `json:"deleted"`
			Blobs   []protocol.BlobRef `json:"blobs"`
		}
		if err := json.Unmarshal(r.s.Change, &c); err != nil {
			return nil, nil, fmt.Errorf("decode outbox seq %d: %w", r.seq, err)
		}
		if c.Deleted {
			continue // a tombstone needs nothing uploaded
		}
		for _, b := range c.Blobs {
			if !seen[b.SHA256] {
				seen[b.SHA256] = true
				refs = append(refs, b)
				owners = append(owners, r)
			}
		}
	}
	return refs, owners, nil
}

// uploadBlobs makes sure the hub holds every attachment the batch's changes
// reference, before the batch is pushed. A network failure stops the push
// (it is tried again later). A refusal (a quota, a size limit) is recorded
// as a refusal of the change and the push goes on: the hub will refuse the
// change as blob_missing, and the rest of the outbox is not held back.
func (n *Node) uploadBlobs(ctx context.Context, rows []outboxRow) error {
	refs, owners, err := outboxBlobs(rows)
	if err != nil || len(refs) == 0 {
		return err
	}
	store, err := n.blobStore()
	if err != nil {
		return err
	}
	for i, ref := range refs {
		row := owners[i]
		start := time.Now()
		f, _, err := store.Open(ctx, ref.SHA256)
		if errors.Is(err, blobstore.ErrNotFound) {
			st, serr := n.client.BlobStatus(ctx, ref.SHA256)
			if serr != nil {
				return fmt.Errorf("upload attachment %s of %s: %w", ref.Name, row.id, serr)
			}
			if !st.Have {
				n.refuseUpload(ctx, row, protocol.Errorf(protocol.CodeBlobMissing,
					"attachment %s (%s) is neither on this node nor on the hub; attach the file again", ref.Name, ref.SHA256))
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("upload attachment %s of %s: %w", ref.Name, row.id, err)
		}
		ra, ok := f.(io.ReaderAt)
		if !ok {
			f.Close()
			return fmt.Errorf("upload attachment %s: the local store cannot read at offsets", ref.Name)
		}
		res, err := n.client.UploadBlob(ctx, ref, ra, n.throttle())
		f.Close()
		if err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) && protocol.HTTPStatus(pe.Code) < 500 && pe.Code != protocol.CodeTooManyRequests && pe.Code != protocol.CodeUnauthorized && pe.Code != protocol.CodeSuspended {
				n.refuseUpload(ctx, row, pe)
				continue
			}
			return fmt.Errorf("upload attachment %s of %s: %w", ref.Name, row.id, err)
		}
		n.log.Info("uploaded attachment", "id", row.id, "name", ref.Name, "sha256", ref.SHA256, "size", ref.Size,
			"skipped", res.Skipped, "resumed_at", res.Resumed, "sent", res.Sent, "attempts", res.Attempts, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// refuseUpload records that an attachment of row's change could not be
// uploaded, for the editor.
func (n *Node) refuseUpload(ctx context.Context, row outboxRow, pe *protocol.Error) {
	n.log.Warn("attachment not uploaded; the hub will refuse the change", "id", row.id, "version", row.version, "code", pe.Code, "reason", pe.Message)
	stmt, err := n.db.Writer().PrepareContext(ctx, insertRefusalSQL)
	if err != nil {
		n.log.Warn("record refusal", "err", err)
		return
	}
	defer stmt.Close()
	rf := protocol.Refusal{Seq: row.seq, ID: row.id, Version: row.version, Code: pe.Code, Reason: "attachment: " + pe.Message}
	if err := insertRefusal(ctx, stmt, "push", 0, rf, time.Now().UTC()); err != nil {
		n.log.Warn("record refusal", "err", err)
	}
}

// throttle limits upload bodies to the configured rate.
func (n *Node) throttle() func(io.Reader) io.Reader {
	rate := n.cfg.Blobs.UploadRate
	if rate <= 0 {
		return nil
	}
	return func(r io.Reader) io.Reader { return &rateReader{r: r, rate: rate, start: time.Now()} }
}

// rateReader passes on at most rate bytes per second, in slices of a
// twentieth of a second, so a limited upload still streams evenly.
type rateReader struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func (r *rateReader) Read(p []byte) (int, error) {
	if slice := max(r.rate/20, 1); int64(len(p)) > slice {
		p = p[:slice]
	}
	k, err := r.r.Read(p)
	r.n += int64(k)
	if ahead := time.Duration(float64(r.n)/float64(r.rate)*float64(time.Second)) - time.Since(r.start); ahead > 0 {
		time.Sleep(ahead)
	}
	return k, err
}

// blobLoop fetches attachments of pulled entities until ctx ends, and runs
// the erasure loop beside it.
func (n *Node) blobLoop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { n.erasureLoop(ctx) })
	t := time.NewTicker(n.cfg.Blobs.FetchInterval)
	defer t.Stop()
	for {
		if _, err := n.FetchBlobs(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("fetch attachments", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FetchBlobs looks at the entities pulled since it last looked, notes the
// attachments this node does not hold, and fetches those due (new ones, and
// failed ones whose retry time has come). It returns how many it fetched.
// A failed fetch is recorded and retried with backoff.
func (n *Node) FetchBlobs(ctx context.Context) (int, error) {
	return n.fetchBlobs(ctx, time.Now().UTC())
}

func (n *Node) fetchBlobs(ctx context.Context, now time.Time) (int, error) {
	if err := n.scanBlobs(ctx, now, false); err != nil {
		return 0, err
	}
	type due struct {
		sha, mediaType, entity string
		size                   int64
		attempts               int
	}
	var list []due
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT sha256, size, media_type, entity_id, attempts FROM blob_fetches
		WHERE next_at <= ? ORDER BY next_at LIMIT ?`, fmtTime(now), fetchBatch)
	if err != nil {
		return 0, fmt.Errorf("read due fetches: %w", err)
	}
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.sha, &d.size, &d.mediaType, &d.entity, &d.attempts); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read due fetches: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read due fetches: %w", err)
	}
	store, err := n.blobStore()
	if err != nil {
		return 0, err
	}
	fetched := 0
	for _, d := range list {
		if ctx.Err() != nil {
			return fetched, ctx.Err()
		}
		// Under the read side of purge, so that an erasure applied meanwhile
		// waits and then removes what this stored.
		n.blobs.purge.RLock()
		needed, err := n.blobReferenced(ctx, d.sha)
		if err != nil {
			n.blobs.purge.RUnlock()
			return fetched, err
		}
		if _, serr := store.Stat(ctx, d.sha); serr == nil || !needed {
			n.blobs.purge.RUnlock()
			if err := n.doneFetch(ctx, d.sha); err != nil {
				return fetched, err
			}
			continue
		}
		start := time.Now()
		err = n.fetchBlob(ctx, store, d.sha, d.size, d.mediaType)
		n.blobs.purge.RUnlock()
		if err != nil {
			if ctx.Err() != nil {
				return fetched, ctx.Err()
			}
			backoff := min(n.cfg.Blobs.FetchInterval<<min(d.attempts, 20), maxFetchBackoff)
			n.log.Warn("attachment fetch failed; retrying later", "id", d.entity, "sha256", d.sha, "attempt", d.attempts+1, "in", backoff, "err", err)
			if _, werr := n.db.Writer().ExecContext(ctx, `UPDATE blob_fetches SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE sha256 = ?`,
				fmtTime(now.Add(backoff)), truncateErr(err), d.sha); werr != nil {
				return fetched, fmt.Errorf("record fetch failure: %w", werr)
			}
			continue
		}
		if err := n.doneFetch(ctx, d.sha); err != nil {
			return fetched, err
		}
		fetched++
		n.log.Info("fetched attachment", "id", d.entity, "sha256", d.sha, "size", d.size, "took", time.Since(start).Round(time.Millisecond))
	}
	return fetched, nil
}

// fetchBlob streams one blob from the hub into the store, which refuses it
// unless it hashes to sha and has size bytes.
func (n *Node) fetchBlob(ctx context.Context, store *file.Store, sha string, size int64, mediaType string) error {
	body, _, _, err := n.client.GetBlob(ctx, sha)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := store.Put(ctx, sha, size, mediaType, body); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	return nil
}

func (n *Node) doneFetch(ctx context.Context, sha string) error {
	if _, err := n.db.Writer().ExecContext(ctx, `DELETE FROM blob_fetches WHERE sha256 = ?`, sha); err != nil {
		return fmt.Errorf("forget fetch %s: %w", sha, err)
	}
	return nil
}

// blobReferenced reports whether a live entity references sha.
func (n *Node) blobReferenced(ctx context.Context, sha string) (bool, error) {
	var ok bool
	err := n.db.Reader().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM entities e, json_each(e.blobs) j
		WHERE e.blobs IS NOT NULL AND e.deleted = 0 AND json_extract(j.value, '$.sha256') = ?)`, sha).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up references of %s: %w", sha, err)
	}
	return ok, nil
}

// scanBlobs notes, as fetches, the attachments of live entities pulled
// since the last scan (all of them with full) that the store lacks.
func (n *Node) scanBlobs(ctx context.Context, now time.Time, full bool) error {
	store, err := n.blobStore()
	if err != nil {
		return err
	}
	const page = 500
	var cursor int64
	if !full {
		if err := n.db.Reader().QueryRowContext(ctx, `SELECT scan_cursor FROM blob_state WHERE id = 1`).Scan(&cursor); err != nil {
			return fmt.Errorf("read blob scan cursor: %w", err)
		}
	}
	for {
		type found struct {
			id    string
			blobs []protocol.BlobRef
		}
		var batch []found
		last := cursor
		rows, err := n.db.Reader().QueryContext(ctx, `SELECT id, hub_seq, blobs FROM entities
			WHERE blobs IS NOT NULL AND hub_seq > ? AND deleted = 0 ORDER BY hub_seq LIMIT ?`, cursor, page)
		if err != nil {
			return fmt.Errorf("scan for attachments: %w", err)
		}
		for rows.Next() {
			var f found
			var raw string
			if err := rows.Scan(&f.id, &last, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("scan for attachments: %w", err)
			}
			if err := json.Unmarshal([]byte(raw), &f.blobs); err != nil {
				rows.Close()
				return fmt.Errorf("decode attachments of %s: %w", f.id, err)
			}
			batch = append(batch, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scan for attachments: %w", err)
		}
		if len(batch) == 0 {
			return nil // the usual idle round: no write
		}
		err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
			for _, f := range batch {
				for _, b := range f.blobs {
					if _, err := store.Stat(ctx, b.SHA256); err == nil {
						continue
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO blob_fetches (sha256, size, media_type, entity_id, next_at)
						VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, b.SHA256, b.Size, b.MediaType, f.id, fmtTime(now)); err != nil {
						return fmt.Errorf("note fetch of %s: %w", b.SHA256, err)
					}
				}
			}
			if full || last == cursor {
				return nil
			}
			_, err := tx.ExecContext(ctx, `UPDATE blob_state SET scan_cursor = max(scan_cursor, ?) WHERE id = 1`, last)
			return err
		})
		if err != nil {
			return fmt.Errorf("scan for attachments: %w", err)
		}
		if len(batch) < page {
			return nil
		}
		cursor = last
	}
}

// BlobFetch is an attachment waiting to be fetched.
type BlobFetch struct {
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Entity    string    `json:"entity"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
}

// PendingFetches lists the attachments still to be fetched, soonest first.
func (n *Node) PendingFetches(ctx context.Context) ([]BlobFetch, error) {
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT sha256, size, entity_id, attempts, next_at, COALESCE(last_error, '')
		FROM blob_fetches ORDER BY next_at LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("list fetches: %w", err)
	}
	defer rows.Close()
	out := []BlobFetch{}
	for rows.Next() {
		var f BlobFetch
		var next string
		if err := rows.Scan(&f.SHA256, &f.Size, &f.Entity, &f.Attempts, &next, &f.LastError); err != nil {
			return nil, fmt.Errorf("list fetches: %w", err)
		}
		f.NextAt = parseTime(next)
		out = append(out, f)
	}
	return out, rows.Err()
}

// CollectBlobs removes local blobs that no live entity and no pending
// change has referenced for longer than grace, and leftovers of interrupted
// attaches and writes. It returns how many blobs it removed. Housekeeping
// runs it with the configured grace.
func (n *Node) CollectBlobs(ctx context.Context, grace time.Duration) (int, error) {
	return n.collectBlobs(ctx, time.Now().UTC(), grace)
}

func (n *Node) collectBlobs(ctx context.Context, now time.Time, grace time.Duration) (int, error) {
	store, err := n.blobStore()
	if err != nil {
		return 0, err
	}
	referenced := make(map[string]bool)
	rows, err := n.db.Reader().QueryContext(ctx, `
		SELECT json_extract(j.value, '$.sha256') FROM entities e, json_each(e.blobs) j WHERE e.blobs IS NOT NULL AND e.deleted = 0
		UNION
		SELECT json_extract(j.value, '$.sha256') FROM outbox o, json_each(CAST(o.change AS TEXT), '$.blobs') j`)
	if err != nil {
		return 0, fmt.Errorf("collect blobs: %w", err)
	}
	for rows.Next() {
		var sha sql.NullString
		if err := rows.Scan(&sha); err != nil {
			rows.Close()
			return 0, fmt.Errorf("collect blobs: %w", err)
		}
		referenced[sha.String] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("collect blobs: %w", err)
	}
	var unreferenced []blobstore.Info
	if err := store.List(ctx, func(info blobstore.Info) error {
		if !referenced[info.SHA256] {
			unreferenced = append(unreferenced, info)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("collect blobs: %w", err)
	}
	cutoff := fmtTime(now.Add(-grace))
	var doomed []string
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		doomed = doomed[:0]
		list := make([]string, 0, len(unreferenced))
		for _, info := range unreferenced {
			list = append(list, info.SHA256)
		}
		b, _ := json.Marshal(list)
		// Blobs referenced again are forgiven; new ones start their grace.
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_unreferenced WHERE sha256 NOT IN (SELECT value FROM json_each(?))`, string(b)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_unreferenced (sha256, since) SELECT value, ? FROM json_each(?) WHERE true
			ON CONFLICT (sha256) DO NOTHING`, fmtTime(now), string(b)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM blob_unreferenced WHERE since <= ? RETURNING sha256`, cutoff)
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
	if err != nil {
		return 0, fmt.Errorf("collect blobs: %w", err)
	}
	removed := 0
	var errs []error
	for _, sha := range doomed {
		if err := store.Delete(ctx, sha); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	if _, err := store.Sweep(ctx, 24*time.Hour); err != nil {
		errs = append(errs, err)
	}
	if entries, err := os.ReadDir(store.Dir()); err == nil {
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), attachPrefix) && fi.ModTime().Before(now.Add(-24*time.Hour)) {
				os.Remove(filepath.Join(store.Dir(), e.Name()))
			}
		}
	}
	if removed > 0 {
		n.log.Info("collected attachments", "removed", removed)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("collect blobs: %w", err)
	}
	return removed, nil
}

// blobHousekeeping looks at every entity again for missing attachments (a
// backstop to the incremental scan, e.g. after a new epoch re-pulled
// everything) and collects unreferenced blobs.
func (n *Node) blobHousekeeping(ctx context.Context) error {
	if err := n.scanBlobs(ctx, time.Now().UTC(), true); err != nil {
		return err
	}
	_, err := n.CollectBlobs(ctx, n.cfg.Blobs.Grace)
	return err
}

// PathAdminBlobs is the admin API's attachments resource: POST a file's
// bytes (?name=, Content-Type optional) to attach it, GET the list of
// attachments still to be fetched, GET PathAdminBlobs/{sha256} for one
// attachment's bytes.
const PathAdminBlobs = "/admin/v1/blobs"

func (n *Node) blobRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathAdminBlobs, n.auth(n.handleAttach))
	mux.HandleFunc("GET "+PathAdminBlobs, n.auth(n.handleFetches))
	mux.HandleFunc("GET "+PathAdminBlobs+"/{sha256}", n.auth(n.handleBlob))
}

// handleAttach streams the request body into the blob store; the answer is
// the BlobRef to put in a draft.
func (n *Node) handleAttach(w http.ResponseWriter, r *http.Request) {
	mt := r.Header.Get("Content-Type")
	if mt == "application/octet-stream" {
		mt = "" // what clients send when they do not know: guess better
	}
	ref, err := n.Attach(r.Context(), r.Body, r.URL.Query().Get("name"), mt)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ref)
}

func (n *Node) handleFetches(w http.ResponseWriter, r *http.Request) {
	list, err := n.PendingFetches(r.Context())
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": list})
}

func (n *Node) handleBlob(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	rc, info, err := n.OpenBlob(r.Context(), sha)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", info.MediaType)
	w.Header().Set("ETag", `"`+sha+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", info.ModTime, rc)
}
