package protocol

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Push bodies travel compressed. A hub accepts Content-Encoding gzip and
// zstd (RFC 8878) as well as none; this package's client sends zstd at its
// fastest level, which is about as small as gzip at level 1 and which the
// hub inflates in half the time. The hub's CPU is the shared resource of
// the network, so the cheaper side to decode wins.
const (
	// PushEncoding is the Content-Encoding CompressPush writes.
	PushEncoding = "zstd"
	// MaxZstdWindow is the largest zstd window a hub accepts. A frame that
	// asks for more is refused before anything is allocated for it: the
	// window is memory the hub must hold per push.
	MaxZstdWindow = 8 << 20
	// pushWindow is the window CompressPush uses: a push body is a few MiB
	// of similar lines, and a longer reach gains almost nothing.
	pushWindow = 1 << 20
)

// pushEncoders keeps zstd encoders between pushes: one holds its tables and
// history buffers, about a MiB, which each push would otherwise allocate.
var pushEncoders = sync.Pool{New: func() any {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(pushWindow))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder options: %v", err)) // constant options
	}
	return enc
}}

// CompressPush writes a push body to buf, compressed for Content-Encoding
// PushEncoding.
func CompressPush(buf *bytes.Buffer, h PushHeader, changes []Signed) error {
	enc := pushEncoders.Get().(*zstd.Encoder)
	defer pushEncoders.Put(enc)
	enc.Reset(buf)
	if err := EncodePush(enc, h, changes); err != nil {
		enc.Reset(nil)
		return err
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("compress push: %w", err)
	}
	enc.Reset(nil) // drop the reference to buf
	return nil
}
