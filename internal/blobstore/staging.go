package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// partSuffix names staged uploads: <dir>/<sha256>.part.
const partSuffix = ".part"

// OffsetError says where a staged upload must resume. It unwraps to
// ErrOffsetMismatch, so a handler can map it to a status with errors.Is and
// still tell the client the offset with errors.As.
type OffsetError struct {
	SHA256  string
	Offset  int64 // what the caller asked for
	Current int64 // bytes staged so far: resume from here
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("upload %s is at offset %d, not %d: resume from %d", e.SHA256, e.Current, e.Offset, e.Current)
}

func (e *OffsetError) Unwrap() error { return ErrOffsetMismatch }

// Staging keeps partial uploads on local disk so that an interrupted upload
// of a large file resumes instead of restarting. Parts are keyed by the
// blob's hash rather than by an upload id: two clients uploading the same
// blob send the same bytes, so whichever resumes at the current offset simply
// continues the other's work.
//
// Nothing is verified while appending, since the hash covers the whole blob;
// Commit streams the complete part through the Store's Put, which hashes it
// end to end and refuses it if it does not match.
//
// Staging is safe for concurrent use within one process; operations on the
// same hash wait for each other. Two processes must not share a directory.
type Staging struct {
	dir     string
	maxSize int64

	mu    sync.Mutex
	locks map[string]*partLock
}

// partLock is a mutex whose acquisition can be abandoned when ctx ends, with a
// reference count so that Staging forgets it once nobody holds or waits.
type partLock struct {
	ch   chan struct{}
	refs int
}

// NewStaging keeps parts in dir, creating it if needed. maxSize bounds the
// size of one part (0 means no bound) so that a client cannot fill the disk
// under a single hash; use the largest blob the protocol allows.
func NewStaging(dir string, maxSize int64) (*Staging, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	return &Staging{dir: dir, maxSize: maxSize, locks: make(map[string]*partLock)}, nil
}

func (s *Staging) path(sha256 string) string {
	return filepath.Join(s.dir, sha256+partSuffix)
}

// lock waits for exclusive use of sha256's part.
func (s *Staging) lock(ctx context.Context, sha256 string) (unlock func(), err error) {
	s.mu.Lock()
	l := s.locks[sha256]
	if l == nil {
		l = &partLock{ch: make(chan struct{}, 1)}
		s.locks[sha256] = l
	}
	l.refs++
	s.mu.Unlock()

	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; s.release(sha256, l) }, nil
	case <-ctx.Done():
		s.release(sha256, l)
		return nil, ctx.Err()
	}
}

// tryLock is lock for Sweep, which skips parts in use instead of waiting.
func (s *Staging) tryLock(sha256 string) (unlock func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.locks[sha256]; busy {
		return nil, false
	}
	l := &partLock{ch: make(chan struct{}, 1), refs: 1}
	l.ch <- struct{}{}
	s.locks[sha256] = l
	return func() { <-l.ch; s.release(sha256, l) }, true
}

func (s *Staging) release(sha256 string, l *partLock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(s.locks, sha256)
	}
}

// Offset returns how many bytes of sha256 are staged: where the client
// resumes. It is 0 for an unknown upload or an invalid hash.
func (s *Staging) Offset(sha256 string) int64 {
	if ValidHash(sha256) != nil {
		return 0
	}
	fi, err := os.Stat(s.path(sha256))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Append adds r to the staged part of sha256, which must currently hold
// exactly offset bytes (else an *OffsetError gives the current size). It
// returns the new offset. When r fails midway (a dropped connection) the
// bytes that did arrive are kept, synced and counted in the returned offset,
// which is the point: the client resumes from there.
func (s *Staging) Append(ctx context.Context, sha256 string, offset int64, r io.Reader) (int64, error) {
	if err := ValidHash(sha256); err != nil {
		return 0, fmt.Errorf("append to upload: %w", err)
	}
	unlock, err := s.lock(ctx, sha256)
	if err != nil {
		return 0, fmt.Errorf("append to upload %s: %w", sha256, err)
	}
	defer unlock()

	flags := os.O_WRONLY
	if offset == 0 {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(s.path(sha256), flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		// Refused before creating anything, so that wrong offsets do not
		// leave empty parts behind.
		return 0, &OffsetError{SHA256: sha256, Offset: offset}
	}
	if err != nil {
		return 0, fmt.Errorf("append to upload %s: %w", sha256, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append to upload %s: %w", sha256, err)
	}
	cur := fi.Size()
	if offset != cur {
		return cur, &OffsetError{SHA256: sha256, Offset: offset, Current: cur}
	}
	if _, err := f.Seek(cur, io.SeekStart); err != nil {
		return cur, fmt.Errorf("append to upload %s: %w", sha256, err)
	}

	src := io.Reader(&ctxReader{ctx: ctx, r: r})
	if s.maxSize > 0 {
		src = io.LimitReader(src, s.maxSize-cur)
	}
	n, copyErr := io.Copy(f, src)
	cur += n
	// Sync even after a failed read: the offset we report must survive a
	// crash, or the client would resume past a hole.
	if err := f.Sync(); err != nil {
		return cur, fmt.Errorf("append to upload %s: sync: %w", sha256, err)
	}
	if copyErr != nil {
		return cur, fmt.Errorf("append to upload %s at %d: %w", sha256, cur, copyErr)
	}
	if s.maxSize > 0 && cur == s.maxSize {
		var b [1]byte
		if n, _ := io.ReadFull(r, b[:]); n > 0 {
			// The upload can never be valid; keeping it would only hold disk.
			os.Remove(s.path(sha256))
			return 0, fmt.Errorf("append to upload %s: %w: more than the limit of %d bytes", sha256, ErrTooLarge, s.maxSize)
		}
	}
	return cur, nil
}

// Commit moves the complete part of sha256 into store and removes it. The
// part is streamed through store.Put, which hashes it end to end. A part that
// does not hash to sha256, or is longer than size, is removed and the error
// (ErrHashMismatch, ErrTooLarge) returned; one shorter than size is kept and
// an *OffsetError says where to resume. On other failures (the store is
// unreachable, ctx ends) the part is kept so that Commit can be retried.
func (s *Staging) Commit(ctx context.Context, sha256 string, size int64, mediaType string, store Store) error {
	if err := ValidHash(sha256); err != nil {
		return fmt.Errorf("commit upload: %w", err)
	}
	unlock, err := s.lock(ctx, sha256)
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", sha256, err)
	}
	defer unlock()

	path := s.path(sha256)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit upload %s: nothing staged: %w", sha256, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", sha256, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", sha256, err)
	}
	switch have := fi.Size(); {
	case have < size:
		return fmt.Errorf("commit upload %s: incomplete: %w", sha256, &OffsetError{SHA256: sha256, Offset: size, Current: have})
	case have > size:
		os.Remove(path)
		return fmt.Errorf("commit upload %s: %w: %d bytes staged, %d declared", sha256, ErrTooLarge, have, size)
	}

	err = store.Put(ctx, sha256, size, mediaType, f)
	f.Close()
	if err == nil || errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrTooLarge) {
		// Stored, or never storable: either way the part is done with. Should
		// the removal fail, the blob is still safe and Sweep gets the part.
		os.Remove(path)
	}
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", sha256, err)
	}
	return nil
}

// Abort removes the staged part of sha256, if any: the client restarts.
func (s *Staging) Abort(ctx context.Context, sha256 string) error {
	if err := ValidHash(sha256); err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	unlock, err := s.lock(ctx, sha256)
	if err != nil {
		return fmt.Errorf("abort upload %s: %w", sha256, err)
	}
	defer unlock()
	if err := os.Remove(s.path(sha256)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort upload %s: %w", sha256, err)
	}
	return nil
}

// Sweep removes parts not written to for olderThan: uploads their clients
// gave up on. Parts in use are skipped. It returns how many it removed.
func (s *Staging) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("sweep uploads: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("sweep uploads: %w", err)
		}
		sha, ok := strings.CutSuffix(e.Name(), partSuffix)
		if !ok || ValidHash(sha) != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue
		}
		unlock, ok := s.tryLock(sha)
		if !ok {
			continue
		}
		// Look again under the lock: an Append may have come in between.
		if fi, err := os.Stat(s.path(sha)); err != nil || !fi.ModTime().Before(cutoff) {
			unlock()
			continue
		}
		err = os.Remove(s.path(sha))
		unlock()
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			return removed, fmt.Errorf("sweep uploads: %w", err)
		}
	}
	return removed, nil
}

// ctxReader stops a copy when ctx ends, for sources that do not watch it.
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
