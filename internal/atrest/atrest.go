// Package atrest compresses signed changes for storage. A stored change is a
// zstd frame made with a dictionary trained on changes (dict/), which takes a
// ~1 KB resource to a third of its size where plain zstd gains little on so
// short an input. Decompressing gives back exactly the bytes that were
// compressed, so what a puller receives and what a verifier checks are still
// the signed bytes.
//
// Every dictionary ever used stays embedded: a frame names its dictionary's
// ID, and a row written years ago must stay readable. A new dictionary gets
// the next ID and becomes the one Compress uses.
//
// The package registers SQL functions with the SQLite driver, so schemas can
// derive columns from stored frames (see RegisterSQL).
package atrest

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sync"

	"github.com/bikfed/bikfed/protocol"
	"github.com/klauspost/compress/zstd"
)

//go:embed dict/*.zdict
var dictFiles embed.FS

// current is the dictionary Compress uses. Raising it never breaks reading:
// every file in dict/ is given to the decoder.
const current = "dict/1.zdict"

// MaxSize is the largest value Decompress gives back: a stored change is at
// most a change the protocol accepts.
const MaxSize = protocol.MaxChangeBytes

// maxUnsized is the most a frame without a declared size may hold. The
// encoder leaves the size out of frames of fewer than 256 bytes, and
// Decompress decodes such a frame into a buffer of this capacity, so no frame
// makes it allocate more than its declared size or this.
const maxUnsized = 255

// magic starts every zstd frame. A change is JSON and starts with '{', so a
// stored value is unambiguously either a frame or raw bytes.
var magic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	once    sync.Once
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	initErr error
)

var dicts [][]byte

func dictList() [][]byte { return dicts }

func setup() {
	entries, err := dictFiles.ReadDir("dict")
	if err != nil {
		initErr = err
		return
	}
	var cur []byte
	for _, e := range entries {
		b, err := dictFiles.ReadFile("dict/" + e.Name())
		if err != nil {
			initErr = err
			return
		}
		dicts = append(dicts, b)
		if "dict/"+e.Name() == current {
			cur = b
		}
	}
	if cur == nil {
		initErr = fmt.Errorf("atrest: %s missing", current)
		return
	}
	// No checksum: the frame is inside a SQLite page and the signature over
	// the decompressed bytes already detects any corruption that matters.
	// The fastest level: with the dictionary it stores a ~1 KB resource in
	// 434 bytes where the default level takes 430, for a third of the time.
	enc, initErr = zstd.NewWriter(nil, zstd.WithEncoderDict(cur), zstd.WithEncoderCRC(false),
		zstd.WithEncoderLevel(zstd.SpeedFastest))
	if initErr != nil {
		return
	}
	dec, initErr = zstd.NewReader(nil, zstd.WithDecoderDicts(dicts...), zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxSize), zstd.WithDecoderMaxWindow(MaxSize), zstd.WithDecodeAllCapLimit(true))
}

func ready() error {
	once.Do(setup)
	return initErr
}

// Compress returns b as it is to be stored: a frame when that is smaller,
// else b itself (an empty or incompressible value). Decompress undoes either.
func Compress(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("atrest: value is %d bytes, limit %d", len(b), MaxSize)
	}
	if bytes.HasPrefix(b, magic) {
		// Stored raw it would read back as a frame.
		return nil, errors.New("atrest: value starts like a zstd frame")
	}
	if err := ready(); err != nil {
		return nil, err
	}
	z := enc.EncodeAll(b, make([]byte, 0, len(b)/2))
	if len(z) >= len(b) {
		return b, nil
	}
	var h zstd.Header
	if err := h.Decode(z); err != nil || (!h.HasFCS && len(b) > maxUnsized) {
		// Decompress could not bound it: keep the value raw.
		return b, nil
	}
	return z, nil
}

// Decompress returns the bytes a stored value holds. A value that is not a
// frame is returned as it is (rows written before compression, or values
// Compress left alone). A frame must declare its size, at most MaxSize, and
// decode to exactly that many bytes, or declare none and decode to at most
// maxUnsized, so no input makes it allocate more.
func Decompress(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, magic) {
		return b, nil
	}
	if err := ready(); err != nil {
		return nil, err
	}
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		return nil, fmt.Errorf("atrest: frame header: %w", err)
	}
	if !h.HasFCS {
		out, err := dec.DecodeAll(b, make([]byte, 0, maxUnsized))
		if err != nil {
			return nil, fmt.Errorf("atrest: %w", err)
		}
		return out, nil
	}
	if h.FrameContentSize > MaxSize {
		return nil, fmt.Errorf("atrest: frame declares %d bytes, limit %d", h.FrameContentSize, MaxSize)
	}
	out, err := dec.DecodeAll(b, make([]byte, 0, h.FrameContentSize))
	if err != nil {
		return nil, fmt.Errorf("atrest: %w", err)
	}
	if uint64(len(out)) != h.FrameContentSize {
		return nil, fmt.Errorf("atrest: frame holds %d bytes, declares %d", len(out), h.FrameContentSize)
	}
	return out, nil
}
