package atrest

import (
	"bytes"
	"testing"
)

// FuzzDecompress feeds arbitrary stored values: Decompress must return an
// error or at most MaxSize bytes, never panic, and a value it accepts must
// be what Compress made or a raw value.
func FuzzDecompress(f *testing.F) {
	for _, c := range signedResources(f, 3) {
		z, err := Compress(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z)
		f.Add(c)
	}
	f.Add(append(bytes.Clone(magic), 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Decompress(b)
		if err != nil {
			return
		}
		if len(out) > MaxSize && bytes.HasPrefix(b, magic) {
			t.Fatalf("decoded %d bytes, limit %d", len(out), MaxSize)
		}
	})
}

// FuzzRoundTrip checks that whatever Compress accepts comes back unchanged.
func FuzzRoundTrip(f *testing.F) {
	for _, c := range signedResources(f, 2) {
		f.Add(c)
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := Compress(b)
		if err != nil {
			return
		}
		back, err := Decompress(z)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip of %d bytes: %v", len(b), err)
		}
	})
}
