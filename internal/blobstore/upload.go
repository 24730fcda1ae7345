package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// copyBuffer is the size of the writes of an upload into its staged part
// and the store.
const copyBuffer = 1 << 20

// errStoreDone stops the staging copy when the store's Put has returned
// before reading the whole body (it already had the blob, or failed).
var errStoreDone = errors.New("store finished with the upload")

// Upload receives bytes offset.. of blob sha256 (size bytes in all) from r
// and stores the blob in store once all of it has arrived. It returns how
// many bytes are staged afterwards: size once the blob is stored, less when
// r ended early (the client resumes from there with another Upload).
//
// A fresh upload (offset 0, nothing staged) streams into store.Put while it
// is being staged, so the bytes go to the store as they arrive and a large
// blob is not read twice; the staged copy is only there for the case the
// transfer breaks, and is removed once Put succeeds. A resumed upload is
// appended to its staged part, which is committed to the store in one pass
// once complete. Either way store.Put hashes the whole blob on its way in:
// a mismatch removes the part and returns ErrHashMismatch, leaving nothing.
//
// On an *OffsetError (offset is not where the staged part ends) nothing is
// read. r is read at most up to size-offset bytes.
func (s *Staging) Upload(ctx context.Context, sha256 string, size, offset int64, mediaType string, r io.Reader, store Store) (int64, error) {
	if err := ValidHash(sha256); err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	if size < 0 || offset < 0 || offset > size || (s.maxSize > 0 && size > s.maxSize) {
		return 0, fmt.Errorf("upload %s: %w: offset %d of %d bytes (limit %d)", sha256, ErrTooLarge, offset, size, s.maxSize)
	}
	// A blob the store already holds is never sent again: nothing is read.
	if info, err := store.Stat(ctx, sha256); err == nil && info.Size == size {
		s.Abort(ctx, sha256)
		return size, nil
	}
	r = io.LimitReader(r, size-offset)
	if offset > 0 || s.Offset(sha256) > 0 {
		cur, err := s.Append(ctx, sha256, offset, r)
		if err != nil || cur < size {
			return cur, err
		}
		if err := s.Commit(ctx, sha256, size, mediaType, store); err != nil {
			if errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrTooLarge) {
				return 0, err
			}
			return cur, err
		}
		return size, nil
	}
	return s.stream(ctx, sha256, size, mediaType, r, store)
}

// stream is Upload's fresh path: the body goes to the staged part and,
// through a pipe, to store.Put at the same time.
func (s *Staging) stream(ctx context.Context, sha256 string, size int64, mediaType string, r io.Reader, store Store) (int64, error) {
	unlock, err := s.lock(ctx, sha256)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", sha256, err)
	}
	defer unlock()
	path := s.path(sha256)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", sha256, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return 0, fmt.Errorf("upload %s: %w", sha256, err)
	} else if fi.Size() != 0 {
		// Another upload staged bytes between our look and the lock.
		return fi.Size(), &OffsetError{SHA256: sha256, Offset: 0, Current: fi.Size()}
	}

	pr, pw := io.Pipe()
	putErr := make(chan error, 1)
	go func() {
		err := store.Put(ctx, sha256, size, mediaType, pr)
		pr.CloseWithError(errStoreDone)
		putErr <- err
	}()
	// Large writes: each one is handed through the pipe to the store, so
	// 32 KiB at a time would cost a goroutine switch every 32 KiB.
	_, copyErr := io.CopyBuffer(io.MultiWriter(f, pw), &ctxReader{ctx: ctx, r: r}, make([]byte, copyBuffer))
	if copyErr != nil {
		pw.CloseWithError(copyErr)
	} else {
		pw.Close()
	}
	perr := <-putErr

	staged, serr := f.Seek(0, io.SeekEnd)
	if serr != nil {
		return 0, fmt.Errorf("upload %s: %w", sha256, serr)
	}
	switch {
	case perr == nil:
		// Stored (or stored already): the part has served its purpose.
		f.Close()
		removePart(path)
		return size, nil
	case staged == size && (errors.Is(perr, ErrHashMismatch) || errors.Is(perr, ErrTooLarge)):
		f.Close()
		removePart(path)
		return 0, fmt.Errorf("upload %s: %w", sha256, perr)
	}
	// Incomplete, or the store failed: keep what arrived, durably, so the
	// client resumes rather than restarts.
	if err := f.Sync(); err != nil {
		return staged, fmt.Errorf("upload %s: sync: %w", sha256, err)
	}
	if staged < size {
		if copyErr != nil && !errors.Is(copyErr, errStoreDone) {
			return staged, fmt.Errorf("upload %s at %d: %w", sha256, staged, copyErr)
		}
		if errors.Is(copyErr, errStoreDone) {
			return staged, fmt.Errorf("upload %s: %w", sha256, perr)
		}
		return staged, nil
	}
	return staged, fmt.Errorf("upload %s: %w", sha256, perr)
}

// removePart removes a part that is done with; should that fail, the blob
// is still fine and Sweep gets the part.
func removePart(path string) { os.Remove(path) }
