package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/file"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/protocol"
)

// Attachments (docs/attachments.md). Nodes upload blobs with HEAD and PUT
// /v1/blobs/{sha256} before the changes that reference them; the hub stages
// a partial upload on local disk so it resumes after a broken connection or
// a crash, hashes every byte on its way into the blob store, and records the
// blob in the blobs table only once the store holds the verified bytes.
// Pulling nodes fetch blobs with GET /v1/blobs/{sha256}. The public gets the
// attachments of public, published, live entities at /files/{sha256}/{name},
// and nothing else: any other hash answers exactly like one that does not
// exist.

// Blob stores a hub can use.
const (
	BlobStoreFile = "file"
	BlobStoreS3   = "s3"
)

// BlobConfig configures attachments.
type BlobConfig struct {
	// Store is BlobStoreFile (the default: <DataDir>/blobs) or BlobStoreS3.
	Store string
	// S3 says where the bucket is, for BlobStoreS3. Credentials come from
	// the environment or a credentials file, never from flags.
	S3 s3.Config
	// Quota is how many bytes of blobs each node may hold at the hub, unless
	// overridden per node (SetBlobQuota). A blob counts for the node that
	// uploaded it first; uploads in progress count too. Default 10 GiB.
	Quota int64
	// MaxSize is the largest attachment accepted, at most
	// protocol.MaxBlobSize. Default protocol.MaxBlobSize.
	MaxSize int64
	// Grace is how long a blob no live entity references is kept before it
	// is collected, so that an edit removing an attachment and one adding it
	// back do not cost an upload. Attachments of erased entities are
	// collected at the next run regardless. Default 24h.
	Grace time.Duration
	// GCInterval is how often the server collects unreferenced blobs and
	// abandoned uploads. Default 1h.
	GCInterval time.Duration
	// StagingMaxAge is how long an interrupted upload is kept for its node to
	// resume. Default 7 days.
	StagingMaxAge time.Duration
	// Redirect sends public downloads to a short-lived presigned URL of the
	// object store when it has them (S3), instead of streaming through the
	// hub. Turn it off when visitors cannot reach the store's endpoint.
	// Default on.
	Redirect bool
	// PresignExpiry is how long a presigned URL works. Default 5m.
	PresignExpiry time.Duration
}

// DefaultBlobConfig returns the attachment settings a hub runs with unless
// configured otherwise.
func DefaultBlobConfig() BlobConfig {
	return BlobConfig{
		Store:         BlobStoreFile,
		S3:            s3.DefaultConfig(),
		Quota:         10 << 30,
		MaxSize:       protocol.MaxBlobSize,
		Grace:         24 * time.Hour,
		GCInterval:    time.Hour,
		StagingMaxAge: 7 * 24 * time.Hour,
		Redirect:      true,
		PresignExpiry: 5 * time.Minute,
	}
}

// validate reports the invalid fields, named as in Config.
func (c BlobConfig) validate(bad func(field, format string, args ...any)) {
	switch c.Store {
	case BlobStoreFile:
	case BlobStoreS3:
		if err := c.S3.Validate(); err != nil {
			bad("Blobs.S3", "%v", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	default:
		bad("Blobs.Store", "%q is not %q or %q", c.Store, BlobStoreFile, BlobStoreS3)
	}
	if c.Quota <= 0 {
		bad("Blobs.Quota", "must be positive")
	}
	if c.MaxSize <= 0 || c.MaxSize > protocol.MaxBlobSize {
		bad("Blobs.MaxSize", "must be between 1 and %d", int64(protocol.MaxBlobSize))
	}
	if c.Grace < 0 {
		bad("Blobs.Grace", "must not be negative")
	}
	if c.GCInterval <= 0 {
		bad("Blobs.GCInterval", "must be positive")
	}
	if c.StagingMaxAge <= 0 {
		bad("Blobs.StagingMaxAge", "must be positive")
	}
	if c.PresignExpiry < time.Second || c.PresignExpiry > 7*24*time.Hour {
		bad("Blobs.PresignExpiry", "must be between 1s and 7 days")
	}
}

// blobState is the hub's blob store and staging area, opened at first use
// so that CLI commands that never touch attachments do not need the object
// store to be reachable.
type blobState struct {
	mu      sync.Mutex
	store   blobstore.Store
	staging *blobstore.Staging
}

// blobStore returns the blob store and the staging area, opening them on
// first use.
func (h *Hub) blobStore(ctx context.Context) (blobstore.Store, *blobstore.Staging, error) {
	b := &h.blobs
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.store != nil {
		return b.store, b.staging, nil
	}
	var (
		store blobstore.Store
		err   error
	)
	cfg := h.cfg.Blobs
	switch cfg.Store {
	case BlobStoreS3:
		store, err = s3.New(ctx, cfg.S3)
	default:
		store, err = file.New(filepath.Join(h.cfg.DataDir, "blobs"))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open blob store: %w", err)
	}
	staging, err := blobstore.NewStaging(filepath.Join(h.cfg.DataDir, "staging"), cfg.MaxSize)
	if err != nil {
		return nil, nil, fmt.Errorf("open blob store: %w", err)
	}
	b.store, b.staging = store, staging
	return store, staging, nil
}

// blobRoutes mounts the attachment endpoints.
func (h *Hub) blobRoutes(mux *http.ServeMux) {
	mux.HandleFunc("HEAD "+protocol.PathBlobs+"{sha256}", h.handleBlobHead)
	mux.HandleFunc("PUT "+protocol.PathBlobs+"{sha256}", h.handleBlobPut)
	mux.HandleFunc("GET "+protocol.PathBlobs+"{sha256}", h.handleBlobGet)
	mux.HandleFunc("GET "+protocol.PathFiles+"{sha256}/{name}", h.handleFile)
	mux.HandleFunc("GET /admin/v1/nodes/{id}/quota", h.operator(h.handleQuotaGet))
	mux.HandleFunc("PUT /admin/v1/nodes/{id}/quota", h.operator(h.handleQuotaPut))
}

// blobCaller authenticates a sync API blob request: a node, or the
// operator (whose uploads are the hub's own, for hub-owned entities).
func (h *Hub) blobCaller(r *http.Request) (owner string, err error) {
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if p.operator {
		return protocol.HubID, nil
	}
	return p.node, nil
}

func badHash(sha string) error {
	if err := blobstore.ValidHash(sha); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "%q is not a sha256: 64 lowercase hex digits", clip(sha))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// storedBlob reads a blob's row; ok is false when the hub does not hold it.
func (h *Hub) storedBlob(ctx context.Context, sha string) (size int64, mediaType string, ok bool, err error) {
	err = h.db.Reader().QueryRowContext(ctx, `SELECT size, media_type FROM blobs WHERE sha256 = ?`, sha).Scan(&size, &mediaType)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("read blob %s: %w", sha, err)
	}
	return size, mediaType, true, nil
}

// handleBlobHead is HEAD /v1/blobs/{sha256}: 200 with the size when the hub
// holds the blob, else 404 with the offset of a partial upload to resume.
func (h *Hub) handleBlobHead(w http.ResponseWriter, r *http.Request) {
	if _, err := h.blobCaller(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	sha := r.PathValue("sha256")
	if err := badHash(sha); err != nil {
		h.writeError(w, r, err)
		return
	}
	size, _, ok, err := h.storedBlob(r.Context(), sha)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if ok {
		// The caller is about to reference a blob it will not upload; one
		// that nothing references yet gets a full grace period again, so
		// collection cannot take it between this answer and the push.
		if _, err := h.db.Writer().ExecContext(r.Context(), `UPDATE blobs SET last_referenced_at = ?1
			WHERE sha256 = ?2 AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE sha256 = ?2)`, toMillis(h.now()), sha); err != nil {
			h.writeError(w, r, fmt.Errorf("touch blob %s: %w", sha, err))
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("ETag", `"`+sha+`"`)
		w.WriteHeader(http.StatusOK)
		return
	}
	_, staging, err := h.blobStore(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if off := staging.Offset(sha); off > 0 {
		w.Header().Set(protocol.HeaderUploadOffset, strconv.FormatInt(off, 10))
	}
	w.WriteHeader(http.StatusNotFound)
}

// uploadRequest is a validated PUT /v1/blobs/{sha256}.
type uploadRequest struct {
	sha, name, mediaType string
	size, offset         int64
}

func (h *Hub) parseUpload(r *http.Request) (uploadRequest, error) {
	u := uploadRequest{sha: r.PathValue("sha256")}
	if err := badHash(u.sha); err != nil {
		return u, err
	}
	q := r.URL.Query()
	var err error
	if u.size, err = strconv.ParseInt(q.Get("size"), 10, 64); err != nil || u.size < 0 {
		return u, protocol.Errorf(protocol.CodeBadRequest, "size must be the blob's length in bytes")
	}
	if s := q.Get("offset"); s != "" {
		if u.offset, err = strconv.ParseInt(s, 10, 64); err != nil || u.offset < 0 || u.offset > u.size {
			return u, protocol.Errorf(protocol.CodeBadRequest, "offset must be between 0 and size")
		}
	}
	if u.size > h.cfg.Blobs.MaxSize {
		return u, protocol.Errorf(protocol.CodeRecordTooLarge, "attachment %s is %d bytes; this hub accepts attachments of at most %d bytes (max-blob-size)",
			u.sha, u.size, h.cfg.Blobs.MaxSize)
	}
	if r.ContentLength > u.size-u.offset {
		return u, protocol.Errorf(protocol.CodeBadRequest, "body of %d bytes is longer than the %d bytes from offset %d to size %d",
			r.ContentLength, u.size-u.offset, u.offset, u.size)
	}
	name, err := url.PathUnescape(r.Header.Get(protocol.HeaderBlobName))
	if err != nil {
		return u, protocol.Errorf(protocol.CodeInvalidField, "%s: not percent-encoded: %v", protocol.HeaderBlobName, err)
	}
	if err := protocol.ValidBlobName(name); err != nil {
		return u, protocol.Errorf(protocol.CodeInvalidField, "%s: %v", protocol.HeaderBlobName, err)
	}
	u.name = name
	if u.mediaType, err = blobstore.CleanMediaType(r.Header.Get("Content-Type")); err != nil {
		return u, protocol.Errorf(protocol.CodeInvalidField, "Content-Type: %v", err)
	}
	return u, nil
}

// handleBlobPut is PUT /v1/blobs/{sha256}?size=N&offset=O: the bytes of
// the blob from O on.
func (h *Hub) handleBlobPut(w http.ResponseWriter, r *http.Request) {
	owner, err := h.blobCaller(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := h.parseUpload(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	res := protocol.BlobUpload{SHA256: u.sha, Size: u.size}
	if size, _, ok, err := h.storedBlob(ctx, u.sha); err != nil {
		h.writeError(w, r, err)
		return
	} else if ok {
		if size != u.size {
			h.writeError(w, r, protocol.Errorf(protocol.CodeInvalidField, "size: the hub holds %s with %d bytes, not %d", u.sha, size, u.size))
			return
		}
		// Never sent twice: the body is not read.
		res.Offset, res.Complete = size, true
		w.Header().Set(protocol.HeaderUploadOffset, strconv.FormatInt(size, 10))
		writeJSON(w, http.StatusOK, res)
		return
	}
	store, staging, err := h.blobStore(ctx)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.reserveUpload(ctx, owner, u); err != nil {
		h.writeError(w, r, err)
		return
	}

	start := time.Now()
	staged, err := staging.Upload(ctx, u.sha, u.size, u.offset, u.mediaType, r.Body, store)
	complete := err == nil && staged == u.size
	h.log.Info("blob upload", "node", owner, "sha256", u.sha, "name", u.name, "size", u.size, "offset", u.offset,
		"received", max(staged-u.offset, 0), "staged", staged, "complete", complete, "took", time.Since(start).Round(time.Millisecond), "err", err)
	if staged > 0 {
		w.Header().Set(protocol.HeaderUploadOffset, strconv.FormatInt(staged, 10))
	}
	var oe *blobstore.OffsetError
	switch {
	case errors.As(err, &oe):
		w.Header().Set(protocol.HeaderUploadOffset, strconv.FormatInt(oe.Current, 10))
		h.writeError(w, r, protocol.Errorf(protocol.CodeConflict, "the hub holds %d bytes of %s, not %d: resume from offset %d", oe.Current, u.sha, u.offset, oe.Current))
		return
	case errors.Is(err, blobstore.ErrHashMismatch):
		h.dropUpload(ctx, u.sha)
		h.writeError(w, r, protocol.Errorf(protocol.CodeBlobHashMismatch, "the %d bytes received do not hash to %s; nothing was kept", u.size, u.sha))
		return
	case errors.Is(err, blobstore.ErrTooLarge):
		h.dropUpload(ctx, u.sha)
		h.writeError(w, r, protocol.Errorf(protocol.CodeInvalidField, "size: the bytes of %s do not add up to %d", u.sha, u.size))
		return
	case err != nil && ctx.Err() != nil:
		return // the client went away; what arrived is staged for it
	case err != nil:
		// The store failed, or the body broke off: what arrived is kept
		// and the client resumes from there.
		h.log.Warn("blob upload stopped", "sha256", u.sha, "staged", staged, "err", err)
		h.writeError(w, r, protocol.Errorf(protocol.CodeUnavailable, "upload of %s stopped at offset %d; the bytes received are kept: resume from there", u.sha, staged))
		return
	}
	res.Offset = staged
	if complete {
		if err := h.recordBlob(ctx, owner, u); err != nil {
			h.writeError(w, r, err)
			return
		}
		res.Complete = true
	}
	writeJSON(w, http.StatusOK, res)
}

// reserveUpload checks owner's quota for the upload and records it as in
// progress, in one transaction.
func (h *Hub) reserveUpload(ctx context.Context, owner string, u uploadRequest) error {
	now := toMillis(h.now())
	return h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if owner != protocol.HubID {
			used, quota, err := blobUsageTx(ctx, tx, owner, u.sha, h.cfg.Blobs.Quota)
			if err != nil {
				return err
			}
			if used+u.size > quota {
				return protocol.Errorf(protocol.CodeQuotaExceeded, "node %s uses %d of its %d bytes of attachment storage; %s needs %d more (ask the coordination team to raise the quota)",
					owner, used, quota, u.name, u.size)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO blob_uploads (sha256, node, size, started_at, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (sha256, node) DO UPDATE SET size = excluded.size, updated_at = excluded.updated_at`,
			u.sha, owner, u.size, now, now)
		if err != nil {
			return fmt.Errorf("record upload %s: %w", u.sha, err)
		}
		return nil
	})
}

// blobUsageTx returns the bytes node is charged for (stored blobs it
// uploaded first and its uploads in progress, except of blob except) and
// its quota.
func blobUsageTx(ctx context.Context, tx *sql.Tx, node, except string, defaultQuota int64) (used, quota int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT SUM(size) FROM blobs WHERE owner = ?1), 0) +
		COALESCE((SELECT SUM(size) FROM blob_uploads u WHERE u.node = ?1 AND u.sha256 != ?2
			AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = u.sha256)), 0),
		COALESCE((SELECT quota FROM blob_quotas WHERE node = ?1), ?3)`, node, except, defaultQuota).Scan(&used, &quota)
	if err != nil {
		return 0, 0, fmt.Errorf("read blob usage of %s: %w", node, err)
	}
	return used, quota, nil
}

// recordBlob records a blob the store now holds; the first uploader keeps
// ownership.
func (h *Hub) recordBlob(ctx context.Context, owner string, u uploadRequest) error {
	now := toMillis(h.now())
	return h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, media_type, owner, created_at, last_referenced_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, u.sha, u.size, u.mediaType, owner, now, now); err != nil {
			return fmt.Errorf("record blob %s: %w", u.sha, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM blob_uploads WHERE sha256 = ?`, u.sha); err != nil {
			return fmt.Errorf("record blob %s: %w", u.sha, err)
		}
		return nil
	})
}

// dropUpload forgets an upload that can never complete.
func (h *Hub) dropUpload(ctx context.Context, sha string) {
	if _, err := h.db.Writer().ExecContext(context.WithoutCancel(ctx), `DELETE FROM blob_uploads WHERE sha256 = ?`, sha); err != nil {
		h.log.Warn("forget upload", "sha256", sha, "err", err)
	}
}

// handleBlobGet is GET /v1/blobs/{sha256}, for pulling nodes (and the
// operator): nodes hold every visibility, so any held blob may be fetched.
func (h *Hub) handleBlobGet(w http.ResponseWriter, r *http.Request) {
	if _, err := h.blobCaller(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	sha := r.PathValue("sha256")
	if err := badHash(sha); err != nil {
		h.writeError(w, r, err)
		return
	}
	_, mediaType, ok, err := h.storedBlob(r.Context(), sha)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !ok {
		h.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "the hub holds no blob %s", sha))
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	h.serveBlob(w, r, sha, mediaType, "")
}

// serveBlob streams a blob with Range, ETag and conditional request
// support. With name set, it is offered for saving under that name.
func (h *Hub) serveBlob(w http.ResponseWriter, r *http.Request, sha, mediaType, name string) {
	store, _, err := h.blobStore(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rc, info, err := store.Open(r.Context(), sha)
	if errors.Is(err, blobstore.ErrNotFound) {
		h.log.Error("blob missing from the store", "sha256", sha)
		h.writeError(w, r, errNoFile)
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer rc.Close()
	portal.ServeAttachment(w, r, rc, info.ModTime, sha, mediaType, name)
}

// errNoFile is the one answer for every attachment the public may not have:
// a hash that does not exist, one of a community entity, one not published
// yet, a name that is not the attachment's. Guessing gives nothing away.
var errNoFile = protocol.Errorf(protocol.CodeNotFound, "no such file")

// handleFile is GET /files/{sha256}/{name}: the attachment of a public
// entity, for anyone.
func (h *Hub) handleFile(w http.ResponseWriter, r *http.Request) {
	sha, name := r.PathValue("sha256"), r.PathValue("name")
	if blobstore.ValidHash(sha) != nil || protocol.ValidBlobName(name) != nil {
		h.writeError(w, r, errNoFile)
		return
	}
	if h.portal == nil {
		h.writeError(w, r, errNoFile)
		return
	}
	// The portal's index decides what is public, for the pages and the
	// files alike: a file is public while an entity the pages show has it.
	mediaType, ok, err := h.portal.PublicFile(r.Context(), sha, name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !ok {
		h.writeError(w, r, errNoFile)
		return
	}
	// Captions are fetched by a video's <track>, which a browser loads only
	// from the page's own origin (or with CORS, which presigned URLs do not
	// answer with); they are small, so the hub serves them itself.
	if h.cfg.Blobs.Redirect && !portal.IsCaptions(mediaType) {
		store, _, err := h.blobStore(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		u, err := store.PresignGet(r.Context(), sha, name, h.cfg.Blobs.PresignExpiry)
		switch {
		case err == nil:
			// The URL expires; caches must not keep it.
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u, http.StatusFound)
			return
		case !errors.Is(err, blobstore.ErrNotSupported):
			h.writeError(w, r, err)
			return
		}
	}
	// Short: the entity may be deleted or made private at any time.
	w.Header().Set("Cache-Control", "public, max-age=300")
	h.serveBlob(w, r, sha, mediaType, name)
}

// requireBlobs refuses a change whose attachments the hub does not hold (a
// node uploads them before the change, so only a misbehaving client meets
// this), or holds with another size. It runs in verification, one indexed
// query for the change's distinct blobs, and only for changes that have
// attachments.
func (h *Hub) requireBlobs(it *pushItem) {
	c := it.change
	if it.refusal != nil || c == nil || c.Deleted || len(c.Blobs) == 0 {
		return
	}
	refuse := func(code protocol.Code, format string, args ...any) {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	list := make([]byte, 0, 2+len(c.Blobs)*67)
	list = append(list, '[')
	for i, b := range c.Blobs {
		if i > 0 {
			list = append(list, ',')
		}
		// Validated: 64 hex digits, nothing to escape.
		list = append(append(append(list, '"'), b.SHA256...), '"')
	}
	list = append(list, ']')
	// A failed read says nothing about the change: it fails the push, which
	// the node sends again, and never refuses the record.
	if h.faultBlobCheck() {
		it.fail = errInjectedFault
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT sha256, size FROM blobs WHERE sha256 IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		it.fail = fmt.Errorf("check attachments: %w", err)
		return
	}
	defer rows.Close()
	have := make(map[string]int64, len(c.Blobs))
	for rows.Next() {
		var sha string
		var size int64
		if err := rows.Scan(&sha, &size); err != nil {
			it.fail = fmt.Errorf("check attachments: %w", err)
			return
		}
		have[sha] = size
	}
	if err := rows.Err(); err != nil {
		it.fail = fmt.Errorf("check attachments: %w", err)
		return
	}
	for i, b := range c.Blobs {
		size, ok := have[b.SHA256]
		switch {
		case !ok:
			refuse(protocol.CodeBlobMissing, "blobs[%d] (%s, %s) is not on the hub: upload it (PUT %s%s) before the change that references it",
				i, b.Name, b.SHA256, protocol.PathBlobs, b.SHA256)
			return
		case size != b.Size:
			refuse(protocol.CodeInvalidField, "blobs[%d].size: %d, but the hub holds %s with %d bytes", i, b.Size, b.SHA256, size)
			return
		}
	}
}

// syncBlobRefs keeps blob_refs in step with the changes a chunk of a push
// applied, in the apply transaction: the old references of each applied
// entity go, the new version's come in, and the blobs concerned note when
// they were last referenced (0 for an erasure's: collected at the next
// run). A chunk of new entities without attachments costs nothing; one of
// new versions, one DELETE of its ids.
func syncBlobRefs(ctx context.Context, tx *sql.Tx, st *applyState, todo []*pushItem) error {
	ids := make([]byte, 0, 40*len(todo))
	ids = append(ids, '[')
	var withBlobs []*protocol.Change
	var erased map[string]bool
	for _, it := range todo {
		c := it.change
		// Applied (or a duplicate, for which this is a no-op) unless the
		// stored hash is another: refused, or a later version in the batch.
		if s, ok := st.have[c.ID]; !ok || string(s.hash) != string(it.hash[:]) {
			continue
		}
		// A first version has no earlier references to drop: a bulk push
		// of new entities costs no statement here.
		if c.Version > 1 {
			if len(ids) > 1 {
				ids = append(ids, ',')
			}
			// Entity ids are validated: nothing to escape.
			ids = append(append(append(ids, '"'), c.ID...), '"')
		}
		if !c.Deleted && len(c.Blobs) > 0 {
			withBlobs = append(withBlobs, c)
		}
		if c.Erased {
			if erased == nil {
				erased = make(map[string]bool)
			}
			erased[c.ID] = true
		}
	}
	now := toMillis(st.now)
	type dropped struct {
		sha    string
		erased bool
	}
	var drops []dropped
	if len(ids) > 1 {
		ids = append(ids, ']')
		rows, err := tx.QueryContext(ctx, `DELETE FROM blob_refs WHERE entity_id IN (SELECT value FROM json_each(?)) RETURNING entity_id, sha256`, string(ids))
		if err != nil {
			return fmt.Errorf("drop blob references: %w", err)
		}
		for rows.Next() {
			var id, sha string
			if err := rows.Scan(&id, &sha); err != nil {
				rows.Close()
				return fmt.Errorf("drop blob references: %w", err)
			}
			drops = append(drops, dropped{sha, erased[id]})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("drop blob references: %w", err)
		}
	}
	for _, d := range drops {
		at := now
		if d.erased {
			at = 0
		}
		if _, err := tx.ExecContext(ctx, `UPDATE blobs SET last_referenced_at = ? WHERE sha256 = ?`, at, d.sha); err != nil {
			return fmt.Errorf("note blob %s unreferenced: %w", d.sha, err)
		}
	}
	for _, c := range withBlobs {
		for _, b := range c.Blobs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_refs (sha256, entity_id, name, media_type) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, b.SHA256, c.ID, b.Name, b.MediaType); err != nil {
				return fmt.Errorf("reference blob %s from %s: %w", b.SHA256, c.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET last_referenced_at = ? WHERE sha256 = ?`, now, b.SHA256); err != nil {
				return fmt.Errorf("note blob %s referenced: %w", b.SHA256, err)
			}
		}
	}
	return nil
}

// BlobUsage is a node's attachment storage at the hub.
type BlobUsage struct {
	Node  string `json:"node"`
	Used  int64  `json:"used"`
	Quota int64  `json:"quota"`
	// Custom says the quota is the node's own rather than the default.
	Custom bool `json:"custom"`
}

// BlobUsage returns what node is charged for and its quota.
func (h *Hub) BlobUsage(ctx context.Context, node string) (BlobUsage, error) {
	u := BlobUsage{Node: node}
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if u.Used, u.Quota, err = blobUsageTx(ctx, tx, node, "", h.cfg.Blobs.Quota); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blob_quotas WHERE node = ?)`, node).Scan(&u.Custom)
	})
	if err != nil {
		return u, fmt.Errorf("blob usage of %s: %w", node, err)
	}
	return u, nil
}

// SetBlobQuota gives node a quota of its own (bytes); 0 or less returns it
// to the configured default.
func (h *Hub) SetBlobQuota(ctx context.Context, node string, quota int64) error {
	if err := protocol.ValidNodeID(node); err != nil {
		return protocol.Errorf(protocol.CodeInvalidField, "node: %v", err)
	}
	var err error
	if quota <= 0 {
		_, err = h.db.Writer().ExecContext(ctx, `DELETE FROM blob_quotas WHERE node = ?`, node)
	} else {
		_, err = h.db.Writer().ExecContext(ctx, `INSERT INTO blob_quotas (node, quota) VALUES (?, ?)
			ON CONFLICT (node) DO UPDATE SET quota = excluded.quota`, node, quota)
	}
	if err != nil {
		return fmt.Errorf("set blob quota of %s: %w", node, err)
	}
	h.log.Info("blob quota set", "node", node, "quota", quota)
	return nil
}

func (h *Hub) handleQuotaGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := protocol.ValidNodeID(id); err != nil {
		h.writeError(w, r, protocol.Errorf(protocol.CodeInvalidField, "node: %v", err))
		return
	}
	u, err := h.BlobUsage(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// handleQuotaPut is PUT /admin/v1/nodes/{id}/quota {"quota": bytes}.
func (h *Hub) handleQuotaPut(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Quota int64 `json:"quota"`
	}
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.SetBlobQuota(r.Context(), r.PathValue("id"), req.Quota); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.handleQuotaGet(w, r)
}

// BlobGC says what a collection removed.
type BlobGC struct {
	// Blobs no live entity referenced for longer than the grace period (or
	// whose entity was erased), and the bytes they took.
	Blobs int
	Bytes int64
	// Orphans are objects of the store the hub has no row for (a crash
	// between storing and recording), older than the grace period.
	Orphans int
	// Uploads are interrupted uploads nobody resumed within StagingMaxAge,
	// and leftovers of the store's own interrupted writes.
	Uploads int
}

// CollectBlobs removes blobs that no live entity has referenced for longer
// than grace, at once those of erased entities, orphaned objects, and
// abandoned uploads. The server runs it every Blobs.GCInterval.
func (h *Hub) CollectBlobs(ctx context.Context, grace time.Duration) (BlobGC, error) {
	var res BlobGC
	store, staging, err := h.blobStore(ctx)
	if err != nil {
		return res, err
	}
	now := h.now()
	cutoff := toMillis(now.Add(-grace))
	var doomed []string
	// The rows go first, in one transaction that checks again that nothing
	// references them: a blob referenced meanwhile stays. A store deletion
	// that then fails leaves an orphan, removed by a later run.
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		doomed, res.Bytes = doomed[:0], 0
		rows, err := tx.QueryContext(ctx, `DELETE FROM blobs
			WHERE NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = blobs.sha256)
				AND COALESCE(last_referenced_at, created_at) < ?
			RETURNING sha256, size`, cutoff)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sha string
			var size int64
			if err := rows.Scan(&sha, &size); err != nil {
				return err
			}
			doomed = append(doomed, sha)
			res.Bytes += size
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM blob_uploads WHERE updated_at < ?`, toMillis(now.Add(-h.cfg.Blobs.StagingMaxAge)))
		return err
	})
	if err != nil {
		return res, fmt.Errorf("collect blobs: %w", err)
	}
	var errs []error
	for _, sha := range doomed {
		if err := store.Delete(ctx, sha); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Blobs++
	}

	// Orphans: listed from the store, checked against the table.
	known := make(map[string]bool)
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT sha256 FROM blobs UNION SELECT sha256 FROM blob_uploads`)
	if err != nil {
		return res, fmt.Errorf("collect blobs: %w", err)
	}
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			rows.Close()
			return res, fmt.Errorf("collect blobs: %w", err)
		}
		known[sha] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("collect blobs: %w", err)
	}
	var orphans []string
	err = store.List(ctx, func(info blobstore.Info) error {
		if !known[info.SHA256] && info.ModTime.Before(now.Add(-grace)) {
			orphans = append(orphans, info.SHA256)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, sha := range orphans {
		// A row recorded since the listing means an upload completed.
		if _, _, ok, err := h.storedBlob(ctx, sha); err != nil || ok {
			continue
		}
		if err := store.Delete(ctx, sha); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Orphans++
	}

	n, err := staging.Sweep(ctx, h.cfg.Blobs.StagingMaxAge)
	res.Uploads += n
	if err != nil {
		errs = append(errs, err)
	}
	if sw, ok := store.(interface {
		Sweep(context.Context, time.Duration) (int, error)
	}); ok {
		// Longer than any Put can take.
		n, err := sw.Sweep(ctx, 24*time.Hour)
		res.Uploads += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if res.Blobs+res.Orphans+res.Uploads > 0 {
		h.log.Info("collected blobs", "blobs", res.Blobs, "bytes", res.Bytes, "orphans", res.Orphans, "uploads", res.Uploads)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("collect blobs: %w", err)
	}
	return res, nil
}

// startBlobGC runs CollectBlobs every Blobs.GCInterval until Close.
func (h *Hub) startBlobGC() {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(h.cfg.Blobs.GCInterval)
		defer t.Stop()
		for {
			select {
			case <-h.ctx.Done():
				return
			case <-t.C:
			}
			if _, err := h.CollectBlobs(h.ctx, h.cfg.Blobs.Grace); err != nil && h.ctx.Err() == nil {
				h.log.Warn("collect blobs", "err", err)
			}
		}
	}()
}
