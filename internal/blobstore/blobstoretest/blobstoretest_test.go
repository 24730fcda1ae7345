package blobstoretest

import (
	"bytes"
	"io"
	"runtime"
	"testing"
)

// The Large test is only worth its bound if the watch sees a buffered blob.
func TestHeapWatch_SeesBuffering(t *testing.T) {
	w := watchHeap()
	b, err := io.ReadAll(Stream(1, LargeSize))
	if err != nil {
		t.Fatal(err)
	}
	base, peak := w.Stop()
	runtime.KeepAlive(b)
	if peak-base < LargeSize {
		t.Errorf("heap grew by %.1f MiB while holding %d MiB", mib(peak-base), LargeSize>>20)
	}
}

func TestStream_Deterministic(t *testing.T) {
	a, _ := io.ReadAll(Stream(7, 1000))
	b, _ := io.ReadAll(Stream(7, 1000))
	c, _ := io.ReadAll(Stream(8, 1000))
	if len(a) != 1000 || !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("Stream is not a deterministic function of its seed")
	}
	if got, want := StreamSHA256(7, 1000), NewBlob(7, 1000).SHA256; got != want {
		t.Errorf("StreamSHA256 = %s, NewBlob = %s", got, want)
	}
}
