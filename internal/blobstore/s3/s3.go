package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/bikfed/bikfed/internal/blobstore"
)

var _ blobstore.Store = (*Store)(nil)

const (
	// partSize is the size of the parts a large blob is uploaded in; a Put
	// holds at most uploadWorkers+1 of them in memory. 8 MiB is the AWS
	// CLI's own default and covers protocol.MaxBlobSize (8 GiB) in 1,024 of
	// the 10,000 parts allowed; partSizeFor grows it only for larger blobs.
	partSize = 8 << 20
	// uploadWorkers is how many parts are on their way to the server while
	// the next one is read. Two in flight hide most of the server's
	// per-part latency (measured: 1 GiB in ~4.2 s against ~6.3 s with one)
	// for three parts of memory.
	uploadWorkers = 2
	// maxParts is S3's limit on parts per multipart upload.
	maxParts = 10000
	// metaSHA256 is stored as x-amz-meta-sha256.
	metaSHA256 = "Sha256"
	// cleanupTimeout bounds the abort of a failed upload, which runs even
	// when the Put's ctx has ended (that is often why it failed).
	cleanupTimeout = 30 * time.Second
)

// Store is a blob store in an S3 bucket.
type Store struct {
	client *minio.Client
	bucket string
	prefix string
	// partSize overrides partSizeFor when set, so that tests run the
	// multipart path on a few MiB.
	partSize int64
}

// New connects to the bucket of cfg, creating the bucket if it is missing.
func New(ctx context.Context, cfg Config) (*Store, error) {
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{client: client, bucket: cfg.Bucket, prefix: cfg.prefix()}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("check bucket %s: %w", cfg.Bucket, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		// Another process may have created it since we looked.
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
		}
	}
	return s, nil
}

// Client exposes the minio-go client, for operational tools (lifecycle
// rules, bucket policies) that have no place in blobstore.Store.
func (s *Store) Client() *minio.Client { return s.client }

// Bucket is the bucket the blobs live in.
func (s *Store) Bucket() string { return s.bucket }

// Key is the object key of a blob.
func (s *Store) Key(sha256 string) string { return s.key(sha256) }

func (s *Store) key(sha256 string) string { return s.prefix + "blobs/" + sha256 }
func (s *Store) tmpDir() string           { return s.prefix + "tmp/" }

// notFound tells a missing object from a missing bucket, which is a
// configuration error and must not read as "no such blob".
func notFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == minio.NoSuchKey || (resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket)
}

// partSizeFor keeps the part count within S3's limit for blobs beyond
// maxParts*partSize (78 GiB), at the cost of more memory for those alone.
func partSizeFor(size int64) uint64 {
	ps := int64(partSize)
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = need
	}
	return uint64(ps)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the base64 CRC32C S3 checks a part (or object) against.
func crc32c(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, castagnoli))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Put implements blobstore.Store. The blob goes straight to its final key
// and becomes visible only once it is known to be right: a blob that fits
// in one part is hashed in memory and sent in one request that carries its
// SHA-256 (which S3 checks too); a larger one is sent as a multipart upload
// that is completed only after the last part has been read and the whole
// hashed, and aborted otherwise. No copy is needed, so each byte crosses to
// the server once.
func (s *Store) Put(ctx context.Context, sha256 string, size int64, mediaType string, r io.Reader) error {
	if err := blobstore.ValidHash(sha256); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("put blob %s: negative size %d", sha256, size)
	}
	mediaType, err := blobstore.CleanMediaType(mediaType)
	if err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if info, err := s.Stat(ctx, sha256); err == nil {
		if info.Size != size {
			return fmt.Errorf("put blob %s: %w: stored with %d bytes, declared %d", sha256, blobstore.ErrTooLarge, info.Size, size)
		}
		return nil
	} else if !errors.Is(err, blobstore.ErrNotFound) {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	ps := int64(partSizeFor(size))
	if s.partSize > 0 {
		ps = s.partSize
	}
	v := blobstore.NewVerifier(ctx, sha256, size, r)
	if size <= ps {
		return s.putSingle(ctx, sha256, size, mediaType, v)
	}
	return s.putMultipart(ctx, sha256, size, ps, mediaType, v)
}

// readErr prefers what the Verifier knows about a failed read: it names the
// cause (the body ended early, the client went away).
func readErr(v *blobstore.Verifier, err error) error {
	if verr := v.Err(); verr != nil {
		return verr
	}
	return err
}

func (s *Store) putSingle(ctx context.Context, sha256 string, size int64, mediaType string, v *blobstore.Verifier) error {
	buf := make([]byte, size)
	if _, err := io.ReadFull(v, buf); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, readErr(v, err))
	}
	if err := v.Check(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	core := minio.Core{Client: s.client}
	_, err := core.PutObject(ctx, s.bucket, s.key(sha256), bytes.NewReader(buf), size, "", sha256, minio.PutObjectOptions{
		ContentType: mediaType,
		UserMetadata: map[string]string{
			metaSHA256:              sha256,
			"X-Amz-Checksum-Crc32c": crc32c(buf),
		},
		// The request is signed with the blob's SHA-256, known by now,
		// rather than a streaming signature that would hash it again.
		DisableContentSha256: true,
	})
	if err != nil {
		return fmt.Errorf("put blob %s: upload: %w", sha256, err)
	}
	return nil
}

func (s *Store) putMultipart(ctx context.Context, sha256 string, size, ps int64, mediaType string, v *blobstore.Verifier) (err error) {
	core := minio.Core{Client: s.client}
	key := s.key(sha256)
	uploadID, err := core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{
		ContentType: mediaType,
		UserMetadata: map[string]string{
			metaSHA256:                 sha256,
			"X-Amz-Checksum-Algorithm": "CRC32C",
		},
	})
	if err != nil {
		return fmt.Errorf("put blob %s: start upload: %w", sha256, err)
	}
	defer func() {
		if err != nil {
			// Nothing of a failed upload is visible; its parts are freed
			// here, or by Sweep should this fail too.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			core.AbortMultipartUpload(actx, s.bucket, key, uploadID)
		}
	}()

	type job struct {
		n   int
		buf []byte
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		parts    []minio.CompletePart
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	jobs := make(chan job)
	free := make(chan []byte, uploadWorkers+1)
	for range uploadWorkers + 1 {
		free <- nil // allocated on first use, so a short blob holds less
	}
	for range uploadWorkers {
		wg.Go(func() {
			for j := range jobs {
				part, err := core.PutObjectPart(wctx, s.bucket, key, uploadID, j.n, bytes.NewReader(j.buf), int64(len(j.buf)),
					minio.PutObjectPartOptions{
						CustomHeader: http.Header{"X-Amz-Checksum-Crc32c": {crc32c(j.buf)}},
						// The CRC guards the transfer; the whole blob's
						// SHA-256 is checked before completion.
						DisableContentSha256: true,
					})
				free <- j.buf[:cap(j.buf)]
				if err != nil {
					fail(fmt.Errorf("upload part %d: %w", j.n, err))
					continue
				}
				mu.Lock()
				parts = append(parts, minio.CompletePart{PartNumber: j.n, ETag: part.ETag, ChecksumCRC32C: part.ChecksumCRC32C})
				mu.Unlock()
			}
		})
	}
	var read int64
	for n := 1; read < size; n++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-wctx.Done():
		}
		if wctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, ps)
		}
		k, rerr := io.ReadFull(v, buf[:min(ps, size-read)])
		read += int64(k)
		if rerr != nil {
			fail(readErr(v, rerr))
			break
		}
		if read == size {
			// The last part is sent only once the whole blob checked out.
			if cerr := v.Check(); cerr != nil {
				fail(cerr)
				break
			}
		}
		select {
		case jobs <- job{n: n, buf: buf[:k]}:
		case <-wctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("put blob %s: %w", sha256, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if _, err := core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("put blob %s: complete upload: %w", sha256, err)
	}
	return nil
}

func infoOf(sha256 string, oi minio.ObjectInfo) blobstore.Info {
	return blobstore.Info{SHA256: sha256, Size: oi.Size, MediaType: oi.ContentType, ModTime: oi.LastModified.UTC()}
}

// Stat implements blobstore.Store.
func (s *Store) Stat(ctx context.Context, sha256 string) (blobstore.Info, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return blobstore.Info{}, fmt.Errorf("stat blob: %w", err)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.key(sha256), minio.StatObjectOptions{})
	if notFound(err) {
		return blobstore.Info{}, fmt.Errorf("stat blob %s: %w", sha256, blobstore.ErrNotFound)
	}
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("stat blob %s: %w", sha256, err)
	}
	return infoOf(sha256, oi), nil
}

// Open implements blobstore.Store. The *minio.Object it returns fetches on
// demand, one ranged GET per Seek that moves the position, so
// http.ServeContent's Range support costs no extra transfer.
func (s *Store) Open(ctx context.Context, sha256 string) (io.ReadSeekCloser, blobstore.Info, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return nil, blobstore.Info{}, fmt.Errorf("open blob: %w", err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(sha256), minio.GetObjectOptions{})
	if err != nil {
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, err)
	}
	// GetObject is lazy; Stat makes the request that tells a missing blob.
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		if notFound(err) {
			return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, blobstore.ErrNotFound)
		}
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, err)
	}
	return obj, infoOf(sha256, oi), nil
}

// Delete implements blobstore.Store; S3 deletes of missing keys succeed.
func (s *Store) Delete(ctx context.Context, sha256 string) error {
	if err := blobstore.ValidHash(sha256); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.key(sha256), minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete blob %s: %w", sha256, err)
	}
	return nil
}

// List implements blobstore.Store. S3 lists keys in order, which under one
// prefix is hash order.
func (s *Store) List(ctx context.Context, fn func(blobstore.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing when fn ends it early
	dir := s.prefix + "blobs/"
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("list blobs: %w", oi.Err)
		}
		sha := strings.TrimPrefix(oi.Key, dir)
		if blobstore.ValidHash(sha) != nil {
			continue // not ours
		}
		info := infoOf(sha, oi)
		info.MediaType = "" // listings carry no Content-Type on AWS
		if err := fn(info); err != nil {
			return err
		}
	}
	// The iterator ends quietly when ctx does; that is not a complete list.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	return nil
}

// Sweep removes incomplete multipart uploads, and temporary objects of
// earlier versions, older than olderThan: what Puts interrupted by a crash
// left behind (a Put that merely fails aborts its own). It returns how
// many it removed. olderThan must exceed the longest Put in progress.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpDir(), Recursive: true}) {
		if oi.Err != nil {
			return removed, fmt.Errorf("sweep temporary uploads: %w", oi.Err)
		}
		if !oi.LastModified.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return removed, fmt.Errorf("sweep temporary uploads: %w", err)
		}
		removed++
	}
	// Puts upload large blobs straight to their key; a crash leaves the
	// incomplete upload there (earlier versions used tmp/). MinIO lists
	// incomplete uploads only for the whole bucket or one exact key, so the
	// listing is of the bucket, filtered. Each upload is aborted by its id,
	// so a newer upload of the same blob in progress is kept.
	core := minio.Core{Client: s.client}
	for mp := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if mp.Err != nil {
			return removed, fmt.Errorf("sweep incomplete uploads: %w", mp.Err)
		}
		if !strings.HasPrefix(mp.Key, s.tmpDir()) && !strings.HasPrefix(mp.Key, s.prefix+"blobs/") || !mp.Initiated.Before(cutoff) {
			continue
		}
		if err := core.AbortMultipartUpload(ctx, s.bucket, mp.Key, mp.UploadID); err != nil && !notFound(err) {
			return removed, fmt.Errorf("sweep incomplete uploads: %w", err)
		}
		removed++
	}
	return removed, nil
}

// PresignGet implements blobstore.Store. The URL names the endpoint as
// configured, so it works for downloaders who reach the object store at that
// address. The blob's existence is checked first so that a dead link is an
// ErrNotFound here rather than a 404 in someone's browser.
func (s *Store) PresignGet(ctx context.Context, sha256 string, name string, expiry time.Duration) (string, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return "", fmt.Errorf("presign blob: %w", err)
	}
	if _, err := s.Stat(ctx, sha256); err != nil {
		return "", fmt.Errorf("presign blob: %w", err)
	}
	params := url.Values{}
	if name != "" {
		// FormatMediaType applies RFC 2231 encoding to non-ASCII names and
		// returns "" for names that cannot be expressed at all.
		cd := mime.FormatMediaType("attachment", map[string]string{"filename": name})
		if cd == "" {
			return "", fmt.Errorf("presign blob %s: %q cannot be a download name", sha256, name)
		}
		params.Set("response-content-disposition", cd)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.key(sha256), expiry, params)
	if err != nil {
		return "", fmt.Errorf("presign blob %s: %w", sha256, err)
	}
	return u.String(), nil
}

// DownloadOrigin is the web origin (scheme://host[:port]) of the URLs that
// PresignGet makes with cfg, for pages that must allow media from it. It is
// read from a URL presigned for a key that need not exist, so it follows the
// client's choice of path-style or virtual-host-style addresses; with a
// region configured, presigning makes no request.
func DownloadOrigin(ctx context.Context, cfg Config) (string, error) {
	client, err := newClient(cfg)
	if err != nil {
		return "", err
	}
	u, err := client.PresignedGetObject(ctx, cfg.Bucket, cfg.prefix()+"blobs/origin", time.Minute, nil)
	if err != nil {
		return "", fmt.Errorf("s3 download origin: %w", err)
	}
	return u.Scheme + "://" + u.Host, nil
}

// newClient checks cfg and makes a client for it; it makes no request.
func newClient(cfg Config) (*minio.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("s3 blob store config: %w", err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 blob store client: %w", err)
	}
	return client, nil
}
