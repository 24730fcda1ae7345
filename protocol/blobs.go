package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Attachments travel beside the change stream, addressed by the SHA-256 of
// their content (docs/protocol.md §19). A node uploads each blob before the
// change that references it; HEAD tells it whether the hub already has the
// blob (then nothing is sent) or how much of an interrupted upload the hub
// kept (then the upload resumes from there).
const (
	// PathBlobs is the prefix of a blob's sync API resource: PathBlobs + sha256.
	// HEAD asks, PUT uploads, GET downloads (node or operator credential).
	PathBlobs = "/v1/blobs/"
	// PathFiles is the prefix of public attachment URLs:
	// PathFiles + sha256 + "/" + name. No credential; only attachments of
	// public, published, live entities exist there.
	PathFiles = "/files/"

	// HeaderUploadOffset carries how many bytes of a partial upload the hub
	// holds: on HEAD's 404, on a PUT's answer and on its 409.
	HeaderUploadOffset = "Bikfed-Upload-Offset"
	// HeaderBlobName carries the attachment's file name on PUT,
	// percent-encoded (RFC 3986) so any UTF-8 name fits in a header.
	HeaderBlobName = "Bikfed-Blob-Name"
)

// BlobUpload is the hub's answer to a PUT of (part of) a blob.
type BlobUpload struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Offset is how many bytes the hub holds; the next PUT starts there.
	Offset int64 `json:"offset"`
	// Complete says the blob is verified and stored: changes may reference it.
	Complete bool `json:"complete"`
}

// BlobState is what HEAD says about a blob.
type BlobState struct {
	// Have is set when the hub holds the whole, verified blob.
	Have bool
	Size int64
	// Offset is how much of an interrupted upload the hub kept, when it does
	// not have the blob: resume there.
	Offset int64
}

// BlobResult says what UploadBlob did.
type BlobResult struct {
	// Skipped: the hub already had the blob; nothing was sent.
	Skipped bool
	// Resumed is the offset the first PUT started at: above 0 when the hub
	// kept part of an earlier, interrupted upload.
	Resumed int64
	// Sent counts the body bytes sent, over every attempt.
	Sent int64
	// Attempts is how many PUTs it took.
	Attempts int
}

// blobHTTP is the plain HTTP client blob transfers use: resty reads whole
// bodies into memory, a blob must stream. It shares resty's transport (and
// so its connections); there is no client-wide timeout, since a gigabyte
// takes as long as it takes, so transfers are watched for stalls instead.
func (c *Client) blobHTTP() *http.Client {
	t := c.cfg.Transport
	if t == nil {
		t = c.r.GetClient().Transport
	}
	return &http.Client{Transport: t}
}

func (c *Client) blobRequest(ctx context.Context, method, sha256 string, q url.Values, body io.Reader) (*http.Request, error) {
	u := c.cfg.BaseURL + PathBlobs + url.PathEscape(sha256)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if c.cfg.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Credential)
	}
	return req, nil
}

// BlobStatus asks the hub whether it holds blob sha256 (HEAD), and if not,
// how much of an interrupted upload it kept.
func (c *Client) BlobStatus(ctx context.Context, sha256 string) (BlobState, error) {
	var st BlobState
	resp, err := c.r.R().SetContext(ctx).Head(PathBlobs + url.PathEscape(sha256))
	if err != nil {
		return st, fmt.Errorf("blob %s: %w", sha256, err)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		st.Have = true
		st.Size, _ = strconv.ParseInt(resp.Header().Get("Content-Length"), 10, 64)
		return st, nil
	case http.StatusNotFound:
		if v := resp.Header().Get(HeaderUploadOffset); v != "" {
			if st.Offset, err = strconv.ParseInt(v, 10, 64); err != nil || st.Offset < 0 {
				return BlobState{}, fmt.Errorf("blob %s: bad %s %q", sha256, HeaderUploadOffset, v)
			}
		}
		return st, nil
	}
	// A HEAD answer has no body to carry the code; the status says enough.
	return st, fmt.Errorf("blob %s: %w", sha256, &Error{Code: CodeForStatus(resp.StatusCode()), Message: resp.Status()})
}

// PutBlob sends the bytes of ref's blob from offset on: body must yield
// exactly ref.Size-offset bytes. It streams; nothing is buffered. A stall of
// the client's Timeout aborts it.
func (c *Client) PutBlob(ctx context.Context, ref BlobRef, offset int64, body io.Reader) (*BlobUpload, error) {
	if offset < 0 || offset > ref.Size {
		return nil, fmt.Errorf("put blob %s: offset %d outside 0..%d", ref.SHA256, offset, ref.Size)
	}
	n := ref.Size - offset
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// After the body, the hub verifies and stores the blob before it
	// answers: allow for storing the whole blob at a slow 10 MB/s.
	w := newWatchdog(c.stallTimeout(), c.stallTimeout()+time.Duration(ref.Size/10e6)*time.Second, cancel)
	defer w.stop()
	q := url.Values{"size": {strconv.FormatInt(ref.Size, 10)}, "offset": {strconv.FormatInt(offset, 10)}}
	req, err := c.blobRequest(ctx, http.MethodPut, ref.SHA256, q, w.reader(io.LimitReader(body, n)))
	if err != nil {
		return nil, fmt.Errorf("put blob %s: %w", ref.SHA256, err)
	}
	// Known, so the hub can refuse a body over its limits before reading it.
	req.ContentLength = n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", ref.MediaType)
	req.Header.Set(HeaderBlobName, url.PathEscape(ref.Name))
	req.Header.Set("Accept", "application/json")
	resp, err := c.blobHTTP().Do(req)
	if err != nil {
		if w.fired() {
			err = fmt.Errorf("no progress for %s: %w", c.stallTimeout(), err)
		}
		return nil, fmt.Errorf("put blob %s at %d: %w", ref.SHA256, offset, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("put blob %s at %d: read answer: %w", ref.SHA256, offset, err)
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("put blob %s at %d: %w", ref.SHA256, offset, decodeError(resp.StatusCode, b))
	}
	var out BlobUpload
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("put blob %s: decode answer: %w", ref.SHA256, err)
	}
	return &out, nil
}

// GetBlob downloads blob sha256 (GET): the caller reads the body, verifies
// it against sha256 and closes it. size is the blob's length and mediaType
// its recorded media type. A stall of the client's Timeout aborts it.
func (c *Client) GetBlob(ctx context.Context, sha256 string) (body io.ReadCloser, size int64, mediaType string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	w := newWatchdog(c.stallTimeout(), c.stallTimeout(), cancel)
	req, err := c.blobRequest(ctx, http.MethodGet, sha256, nil, nil)
	if err != nil {
		w.stop()
		cancel()
		return nil, 0, "", fmt.Errorf("get blob %s: %w", sha256, err)
	}
	resp, err := c.blobHTTP().Do(req)
	if err != nil {
		w.stop()
		cancel()
		return nil, 0, "", fmt.Errorf("get blob %s: %w", sha256, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		w.stop()
		cancel()
		return nil, 0, "", fmt.Errorf("get blob %s: %w", sha256, decodeError(resp.StatusCode, b))
	}
	w.arm()
	return &watchedBody{r: w.reader(resp.Body), c: resp.Body, stop: func() { w.stop(); cancel() }},
		resp.ContentLength, resp.Header.Get("Content-Type"), nil
}

// UploadBlob makes sure the hub holds ref's blob, reading it from src: it
// asks first (a blob the hub has is never sent again), resumes where an
// interrupted upload stopped, and after a broken transfer asks again and
// resumes, up to the client's Retries times with backoff. wrap, when not
// nil, wraps each body (to limit bandwidth, say). Refusals (a hash
// mismatch, a size over the hub's limit, an exhausted quota) are returned
// at once: sending again would not change them.
func (c *Client) UploadBlob(ctx context.Context, ref BlobRef, src io.ReaderAt, wrap func(io.Reader) io.Reader) (BlobResult, error) {
	var res BlobResult
	res.Resumed = -1
	for attempt := 0; ; attempt++ {
		st, err := c.BlobStatus(ctx, ref.SHA256)
		if err != nil {
			return res, err
		}
		if st.Have {
			if st.Size != ref.Size {
				return res, fmt.Errorf("blob %s: hub holds %d bytes, the attachment says %d", ref.SHA256, st.Size, ref.Size)
			}
			res.Skipped = res.Attempts == 0
			if res.Resumed < 0 {
				res.Resumed = 0
			}
			return res, nil
		}
		off := st.Offset
		if off > ref.Size {
			off = 0 // not ours to make sense of; the hub refuses it
		}
		if res.Resumed < 0 {
			res.Resumed = off
		}
		var body io.Reader = io.NewSectionReader(src, off, ref.Size-off)
		if wrap != nil {
			body = wrap(body)
		}
		cr := &countReader{r: body}
		res.Attempts++
		up, err := c.PutBlob(ctx, ref, off, cr)
		res.Sent += cr.n
		if err == nil && up.Complete {
			return res, nil
		}
		if err == nil {
			// The hub kept less than was sent: ask where to go on.
			err = fmt.Errorf("put blob %s: the hub holds %d of %d bytes after the upload", ref.SHA256, up.Offset, ref.Size)
		}
		if ctx.Err() != nil {
			return res, err
		}
		var pe *Error
		conflict := errors.As(err, &pe) && pe.Code == CodeConflict
		if !conflict && errors.As(err, &pe) && HTTPStatus(pe.Code) < 500 && pe.Code != CodeTooManyRequests {
			return res, err
		}
		if attempt >= c.cfg.Retries {
			return res, err
		}
		if conflict {
			continue // another upload of the same blob moved the offset: ask again at once
		}
		wait := min(c.cfg.RetryWait<<attempt, c.cfg.RetryMaxWait)
		if wait > 0 {
			wait = wait/2 + rand.N(wait/2+1)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) stallTimeout() time.Duration {
	if c.cfg.Timeout > 0 {
		return c.cfg.Timeout
	}
	return time.Minute
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// watchdog cancels a transfer that makes no progress: it fires when no Read
// returned data for idle, and once the body is done, after final (the time
// the other side may take to answer).
type watchdog struct {
	idle, final time.Duration
	cancel      func()
	mu          sync.Mutex
	t           *time.Timer
	hit         bool
}

func newWatchdog(idle, final time.Duration, cancel func()) *watchdog {
	w := &watchdog{idle: idle, final: final, cancel: cancel}
	w.t = time.AfterFunc(idle, w.fire)
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	w.hit = true
	w.mu.Unlock()
	w.cancel()
}

func (w *watchdog) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func (w *watchdog) arm()  { w.t.Reset(w.idle) }
func (w *watchdog) stop() { w.t.Stop() }

func (w *watchdog) reader(r io.Reader) io.Reader { return &watchedReader{r: r, w: w} }

type watchedReader struct {
	r io.Reader
	w *watchdog
}

func (r *watchedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	switch {
	case err != nil:
		r.w.t.Reset(r.w.final)
	case n > 0:
		r.w.t.Reset(r.w.idle)
	}
	return n, err
}

type watchedBody struct {
	r    io.Reader
	c    io.Closer
	stop func()
}

func (b *watchedBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *watchedBody) Close() error {
	err := b.c.Close()
	b.stop()
	return err
}
