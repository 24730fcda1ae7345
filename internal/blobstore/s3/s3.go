package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/bikfed/bikfed/internal/blobstore"
)

var _ blobstore.Store = (*Store)(nil)

const (
	// partSize is what minio-go holds in memory per Put (it fills one part
	// before sending it). 8 MiB is the AWS CLI's own default and covers
	// protocol.MaxBlobSize (8 GiB) in 1,024 of the 10,000 parts allowed;
	// partSizeFor grows it only for larger blobs.
	partSize = 8 << 20
	// maxParts is S3's limit on parts per multipart upload.
	maxParts = 10000
	// maxCopySize is the largest object S3 copies in one CopyObject; larger
	// ones are copied part by part with ComposeObject.
	maxCopySize = 5 << 30
	// metaSHA256 is stored as x-amz-meta-sha256.
	metaSHA256 = "Sha256"
	// cleanupTimeout bounds the removal of a temporary object, which runs
	// even when the Put's ctx has ended (that is often why it failed).
	cleanupTimeout = 30 * time.Second
)

// Store is a blob store in an S3 bucket.
type Store struct {
	client *minio.Client
	bucket string
	prefix string
	// copyPartSize is the part size for copying objects above it (and the
	// threshold for doing so): maxCopySize, lowered by tests so that the
	// multipart copy runs on a blob of a few MiB.
	copyPartSize int64
}

// New connects to the bucket of cfg, creating the bucket if it is missing.
func New(ctx context.Context, cfg Config) (*Store, error) {
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
	s := &Store{client: client, bucket: cfg.Bucket, prefix: cfg.prefix(), copyPartSize: maxCopySize}
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

// Put implements blobstore.Store.
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

	var rnd [16]byte
	rand.Read(rnd[:])
	tmp := s.tmpDir() + hex.EncodeToString(rnd[:])
	defer s.removeTmp(ctx, tmp)

	v := blobstore.NewVerifier(ctx, sha256, size, r)
	_, err = s.client.PutObject(ctx, s.bucket, tmp, v, size, minio.PutObjectOptions{
		ContentType: mediaType,
		PartSize:    partSizeFor(size),
		// minio-go reads a plain reader's parts one after another through
		// one buffer; one thread says so explicitly, because more threads
		// would each buffer a part.
		NumThreads: 1,
		// The part checksums (CRC32C, or the streaming signature's SHA-256
		// over plain http) guard the transfer; an MD5 would mean hashing
		// every byte a third time.
		SendContentMd5: false,
	})
	if err != nil {
		if verr := v.Err(); verr != nil {
			return fmt.Errorf("put blob %s: %w", sha256, verr)
		}
		return fmt.Errorf("put blob %s: upload: %w", sha256, err)
	}
	if err := v.Check(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}

	dst := minio.CopyDestOptions{
		Bucket: s.bucket,
		Object: s.key(sha256),
		// Set explicitly rather than copied from the source: a multipart
		// copy (ComposeObject) would drop the Content-Type otherwise.
		ReplaceMetadata: true,
		UserMetadata:    map[string]string{"Content-Type": mediaType, metaSHA256: sha256},
	}
	src := minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}
	if size <= s.copyPartSize {
		_, err = s.client.CopyObject(ctx, dst, src)
	} else {
		dst.PartSize = uint64(s.copyPartSize)
		_, err = s.client.ComposeObject(ctx, dst, src)
	}
	if err != nil {
		return fmt.Errorf("put blob %s: copy into place: %w", sha256, err)
	}
	return nil
}

// removeTmp deletes a temporary upload, on a context of its own because the
// Put's may already have ended. A failure is left to Sweep.
func (s *Store) removeTmp(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
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

// Sweep removes temporary uploads, and incomplete multipart uploads under
// the temporary prefix, older than olderThan: what Puts interrupted by a
// crash left behind (a Put that merely fails removes its own). It returns how
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
	for mp := range s.client.ListIncompleteUploads(ctx, s.bucket, s.tmpDir(), true) {
		if mp.Err != nil {
			return removed, fmt.Errorf("sweep incomplete uploads: %w", mp.Err)
		}
		if !mp.Initiated.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, mp.Key); err != nil && !notFound(err) {
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
