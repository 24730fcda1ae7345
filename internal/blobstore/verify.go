package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Verifier is the reader a backend's Put streams from: it passes on at most
// the declared number of bytes of the body, hashing and counting them on the
// way, and afterwards Check says whether the body was exactly what the
// uploader claimed. Hashing on the way through is what lets a Put verify
// gigabytes with one pass and a fixed-size buffer.
//
// A Verifier never reads past the declared size on behalf of its consumer;
// some consumers (minio-go's multipart upload) fill whole buffers and would
// otherwise swallow a too-long body's excess. Check probes for the excess
// itself.
type Verifier struct {
	ctx  context.Context
	r    io.Reader
	want string
	size int64
	n    int64
	h    hash.Hash
	err  error // first failure of r other than io.EOF
	eof  bool
}

// NewVerifier verifies r against sha256 (already validated) and size. Reads
// fail once ctx is done, so a cancelled upload stops even when the consumer
// does not watch ctx itself.
func NewVerifier(ctx context.Context, sha256Hex string, size int64, r io.Reader) *Verifier {
	return &Verifier{ctx: ctx, r: r, want: sha256Hex, size: size, h: sha256.New()}
}

// Read implements io.Reader. A body that ends before the declared size
// yields io.ErrUnexpectedEOF, so a consumer that trusts clean EOFs cannot
// mistake it for a complete one.
func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.n >= v.size {
		return 0, io.EOF
	}
	if v.eof {
		return 0, io.ErrUnexpectedEOF
	}
	if err := v.ctx.Err(); err != nil {
		v.err = err
		return 0, err
	}
	if rest := v.size - v.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		v.eof = true
		if v.n < v.size {
			return n, io.ErrUnexpectedEOF
		}
		return n, io.EOF
	case err != nil:
		v.err = err
		return n, err
	}
	return n, nil
}

// N is the number of body bytes read so far.
func (v *Verifier) N() int64 { return v.n }

// Err reports what is already known to be wrong with the body: a read
// failure (including ctx ending), or an end before the declared size. Put
// implementations prefer it to their consumer's error, because it names the
// cause rather than the symptom.
func (v *Verifier) Err() error {
	switch {
	case v.err != nil:
		return fmt.Errorf("read blob body: %w", v.err)
	case v.eof && v.n < v.size:
		return fmt.Errorf("%w: body ended after %d of the declared %d bytes: %w", ErrTooLarge, v.n, v.size, io.ErrUnexpectedEOF)
	}
	return nil
}

// Check is called once the consumer has read everything; it returns nil only
// if exactly the declared number of bytes arrived and they hash to the
// declared SHA-256.
func (v *Verifier) Check() error {
	if err := v.Err(); err != nil {
		return err
	}
	if v.n < v.size {
		return fmt.Errorf("blob body read only in part: %d of %d bytes", v.n, v.size)
	}
	if !v.eof {
		if err := v.probe(); err != nil {
			return err
		}
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
		return fmt.Errorf("%w: received %d bytes hashing to %s, not %s", ErrHashMismatch, v.n, got, v.want)
	}
	return nil
}

// probe reads one byte past the declared size to tell a complete body from a
// longer one.
func (v *Verifier) probe() error {
	var b [1]byte
	// io.Reader allows (0, nil); give up after a few, as io.ReadAtLeast does.
	for range 100 {
		n, err := v.r.Read(b[:])
		switch {
		case n > 0:
			return fmt.Errorf("%w: body is longer than the declared %d bytes", ErrTooLarge, v.size)
		case errors.Is(err, io.EOF):
			v.eof = true
			return nil
		case err != nil:
			return fmt.Errorf("read blob body: %w", err)
		}
	}
	return fmt.Errorf("read blob body: %w", io.ErrNoProgress)
}
