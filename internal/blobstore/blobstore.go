package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
)

var (
	// ErrNotFound: no blob (or staged upload) with that hash.
	ErrNotFound = errors.New("blob not found")
	// ErrHashMismatch: the bytes received do not hash to the claimed SHA-256.
	ErrHashMismatch = errors.New("blob content does not match its sha256")
	// ErrTooLarge: the body's length differs from the declared size (more
	// bytes, or fewer, or a size that contradicts the stored blob), or a
	// staged upload outgrew its limit. The declared size is part of the
	// claim the uploader makes, like the hash.
	ErrTooLarge = errors.New("blob size does not match")
	// ErrNotSupported: the backend cannot do this (PresignGet on a local
	// directory); callers fall back to streaming through Open.
	ErrNotSupported = errors.New("not supported by this blob store")
	// ErrInvalidHash: the string is not 64 lowercase hex digits.
	ErrInvalidHash = errors.New("invalid sha256")
	// ErrOffsetMismatch: a staged upload was resumed at the wrong offset, or
	// committed before all of it arrived. The error is an *OffsetError that
	// says where to resume.
	ErrOffsetMismatch = errors.New("upload offset mismatch")
)

// DefaultMediaType is recorded for blobs put without a media type.
const DefaultMediaType = "application/octet-stream"

// Info describes a stored blob.
type Info struct {
	SHA256    string // 64 lowercase hex digits
	Size      int64
	MediaType string // empty in List results; call Stat when it matters
	ModTime   time.Time
}

// Store is a content-addressed blob store. Implementations are safe for
// concurrent use, including concurrent Puts of the same blob.
type Store interface {
	// Put streams r into the store under sha256. It hashes while streaming
	// and publishes the blob only if exactly size bytes arrived and they
	// hash to sha256; otherwise it leaves nothing behind and returns
	// ErrHashMismatch or ErrTooLarge. Putting an existing blob is a no-op
	// that does not read r (so an existing blob is never sent twice), and
	// keeps the media type it was first stored with.
	Put(ctx context.Context, sha256 string, size int64, mediaType string, r io.Reader) error
	// Stat returns ErrNotFound for a missing blob.
	Stat(ctx context.Context, sha256 string) (Info, error)
	// Open returns the blob's content, seekable so that http.ServeContent
	// can serve Range requests, and bound to ctx. The caller closes it.
	Open(ctx context.Context, sha256 string) (io.ReadSeekCloser, Info, error)
	// Delete removes a blob; deleting a missing blob is not an error, so
	// garbage collection and erasure can simply be retried.
	Delete(ctx context.Context, sha256 string) error
	// List calls fn for every stored blob, in hash order, for garbage
	// collection. An error from fn stops the listing and is returned as is.
	List(ctx context.Context, fn func(Info) error) error
	// PresignGet returns a URL from which the blob can be downloaded
	// directly for expiry, offered for saving as name, or ErrNotSupported.
	PresignGet(ctx context.Context, sha256 string, name string, expiry time.Duration) (string, error)
}

// ValidHash accepts exactly 64 lowercase hex digits. The hash becomes a file
// name and an object key, so this is also the guard against path traversal:
// nothing it accepts can contain a separator or a dot. Uppercase is refused
// rather than folded so that one blob has exactly one name.
func ValidHash(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%w: %q is %d characters, want 64 hex digits", ErrInvalidHash, clip(s), len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: %q has a character other than 0-9 a-f at %d", ErrInvalidHash, clip(s), i)
		}
	}
	return nil
}

// clip keeps error messages about hostile input short.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// CleanMediaType returns the media type to record for a blob: DefaultMediaType
// when none was given, otherwise mediaType itself once it parses. The media
// type ends up in HTTP headers (Content-Type of downloads, S3 metadata), so a
// value that is not a media type, or smuggles line breaks, is refused here.
func CleanMediaType(mediaType string) (string, error) {
	if mediaType == "" {
		return DefaultMediaType, nil
	}
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil || !strings.Contains(mt, "/") || strings.ContainsAny(mediaType, "\r\n") {
		return "", fmt.Errorf("%q is not a media type", clip(mediaType))
	}
	return mediaType, nil
}
