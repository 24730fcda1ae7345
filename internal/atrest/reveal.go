package atrest

import (
	"bytes"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Reveal returns b followed by what every frame found in it decodes to, as
// far as it decodes: what a search for a text must look through to tell that
// no copy of it is left in a file, compressed or not (an erasure's tests
// search whole database files so). A frame cut short, as one spread over
// SQLite overflow pages is, gives only its blocks before the cut: a change
// under a page is whole, and a search through larger ones must read them
// through SQLite.
func Reveal(b []byte) []byte {
	if err := ready(); err != nil {
		return b
	}
	out := bytes.Clone(b)
	d, err := zstd.NewReader(nil, zstd.WithDecoderDicts(dictList()...), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(MaxSize), zstd.WithDecoderMaxWindow(MaxSize))
	if err != nil {
		return out
	}
	defer d.Close()
	for i := 0; ; {
		j := bytes.Index(b[i:], magic)
		if j < 0 {
			return out
		}
		i += j
		if d.Reset(bytes.NewReader(b[i:])) == nil {
			// Whatever decoded before an error is kept: that is the point.
			part, _ := io.ReadAll(io.LimitReader(d, MaxSize))
			out = append(out, part...)
		}
		i += len(magic)
	}
}
