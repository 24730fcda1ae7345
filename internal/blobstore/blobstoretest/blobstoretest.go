package blobstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
)

// LargeSize is the size of the streamed blob. Large enough that holding it
// in memory anywhere would stand out against MaxHeapGrowth.
const LargeSize = 64 << 20

// MaxHeapGrowth bounds how much the heap in use may grow while LargeSize
// bytes stream into a store, or back out. A store that holds the blob
// anywhere grows it by at least LargeSize. A streaming one grows it by its
// buffers (the S3 backend's three 8 MiB upload parts: one being read, two
// on their way) and by some garbage before the collector runs, hence half
// of LargeSize.
const MaxHeapGrowth = LargeSize / 2

// Run runs the suite against stores made by newStore, which must return an
// empty store each time and clean it up with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	t.Run("PutStatOpen", func(t *testing.T) { testPutStatOpen(t, newStore(t)) })
	t.Run("Empty", func(t *testing.T) { testEmpty(t, newStore(t)) })
	t.Run("RangeRead", func(t *testing.T) { testRangeRead(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("PutExisting", func(t *testing.T) { testPutExisting(t, newStore(t)) })
	t.Run("HashMismatch", func(t *testing.T) { testHashMismatch(t, newStore(t)) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, newStore(t)) })
	t.Run("BodyFails", func(t *testing.T) { testBodyFails(t, newStore(t)) })
	t.Run("MediaType", func(t *testing.T) { testMediaType(t, newStore(t)) })
	t.Run("InvalidHash", func(t *testing.T) { testInvalidHash(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Presign", func(t *testing.T) { testPresign(t, newStore(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, newStore(t)) })
	t.Run("StagingResume", func(t *testing.T) { testStagingResume(t, newStore(t)) })
	t.Run("StagingMismatch", func(t *testing.T) { testStagingMismatch(t, newStore(t)) })
	t.Run("StagingInvalid", func(t *testing.T) { testStagingInvalid(t, newStore(t)) })
	t.Run("StagingUpload", func(t *testing.T) { testStagingUpload(t, newStore(t)) })
}

// Stream returns size deterministic pseudo-random bytes for seed, generated
// as they are read so that a test of gigabytes holds none of them.
// ChaCha8's output is fixed by its specification, so the same seed gives the
// same bytes on every Go version.
func Stream(seed uint64, size int64) io.Reader {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	return io.LimitReader(rand.NewChaCha8(key), size)
}

// StreamSHA256 is the hex SHA-256 of Stream(seed, size), computed by
// streaming it.
func StreamSHA256(seed uint64, size int64) string {
	h := sha256.New()
	io.Copy(h, Stream(seed, size))
	return hex.EncodeToString(h.Sum(nil))
}

// Blob is a small test blob held in memory.
type Blob struct {
	SHA256 string
	Data   []byte
}

// NewBlob returns n deterministic bytes for seed and their hash.
func NewBlob(seed uint64, n int) Blob {
	data, _ := io.ReadAll(Stream(seed, int64(n)))
	sum := sha256.Sum256(data)
	return Blob{SHA256: hex.EncodeToString(sum[:]), Data: data}
}

// MustPut puts b and fails the test on error.
func MustPut(t testing.TB, s blobstore.Store, b Blob, mediaType string) {
	t.Helper()
	if err := s.Put(t.Context(), b.SHA256, int64(len(b.Data)), mediaType, bytes.NewReader(b.Data)); err != nil {
		t.Fatalf("Put(%.12s…, %d bytes): %v", b.SHA256, len(b.Data), err)
	}
}

// ReadAll opens sha256 and returns its content.
func ReadAll(t testing.TB, s blobstore.Store, sha256 string) ([]byte, blobstore.Info) {
	t.Helper()
	rc, info, err := s.Open(t.Context(), sha256)
	if err != nil {
		t.Fatalf("Open(%.12s…): %v", sha256, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %.12s…: %v", sha256, err)
	}
	return b, info
}

// ListAll returns what List reports.
func ListAll(t testing.TB, s blobstore.Store) []blobstore.Info {
	t.Helper()
	var infos []blobstore.Info
	if err := s.List(t.Context(), func(i blobstore.Info) error { infos = append(infos, i); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	return infos
}

// AssertAbsent checks that sha256 is not in s, and that s lists no blob at
// all: a refused Put must leave nothing behind, under any name.
func AssertAbsent(t testing.TB, s blobstore.Store, sha256 string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), sha256); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat(%.12s…) = %v, want ErrNotFound", sha256, err)
	}
	if rc, _, err := s.Open(t.Context(), sha256); !errors.Is(err, blobstore.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Open(%.12s…) = %v, want ErrNotFound", sha256, err)
	}
	if infos := ListAll(t, s); len(infos) != 0 {
		t.Errorf("List = %v, want nothing", infos)
	}
}

func testPutStatOpen(t *testing.T, s blobstore.Store) {
	b := NewBlob(1, 100_000)
	before := time.Now()
	MustPut(t, s, b, "application/pdf")

	info, err := s.Stat(t.Context(), b.SHA256)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.SHA256 != b.SHA256 || info.Size != int64(len(b.Data)) || info.MediaType != "application/pdf" {
		t.Errorf("Stat = %+v, want sha %s, size %d, application/pdf", info, b.SHA256, len(b.Data))
	}
	// Object stores keep whole seconds; the server's clock is the test's.
	if d := info.ModTime.Sub(before); d < -2*time.Second || d > time.Minute {
		t.Errorf("ModTime %v is %v from the Put at %v", info.ModTime, d, before)
	}
	got, oinfo := ReadAll(t, s, b.SHA256)
	if !bytes.Equal(got, b.Data) {
		t.Errorf("Open read %d bytes that differ from the %d put", len(got), len(b.Data))
	}
	if oinfo != info {
		t.Errorf("Open info = %+v, Stat info = %+v", oinfo, info)
	}
}

func testEmpty(t *testing.T, s blobstore.Store) {
	b := NewBlob(2, 0)
	MustPut(t, s, b, "")
	info, err := s.Stat(t.Context(), b.SHA256)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != 0 || info.MediaType != blobstore.DefaultMediaType {
		t.Errorf("Stat = %+v, want size 0 and %s", info, blobstore.DefaultMediaType)
	}
	if got, _ := ReadAll(t, s, b.SHA256); len(got) != 0 {
		t.Errorf("read %d bytes from an empty blob", len(got))
	}
}

func testRangeRead(t *testing.T, s blobstore.Store) {
	b := NewBlob(3, 1<<20)
	MustPut(t, s, b, "video/mp4")
	rc, info, err := s.Open(t.Context(), b.SHA256)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()

	steps := []struct {
		offset int64
		whence int
		want   int64
	}{
		{500_000, io.SeekStart, 500_000},
		{-100, io.SeekEnd, int64(len(b.Data)) - 100},
		{-300_000, io.SeekCurrent, int64(len(b.Data)) - 36 - 300_000}, // each step reads 64 bytes
		{0, io.SeekStart, 0},
	}
	for _, st := range steps {
		pos, err := rc.Seek(st.offset, st.whence)
		if err != nil || pos != st.want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", st.offset, st.whence, pos, err, st.want)
		}
		buf := make([]byte, 64)
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatalf("read 64 bytes at %d: %v", pos, err)
		}
		if !bytes.Equal(buf, b.Data[pos:pos+64]) {
			t.Fatalf("64 bytes at %d differ", pos)
		}
	}

	// What the hub does with it: http.ServeContent answering a Range request.
	if _, err := rc.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/blob", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "clip.mp4", info.ModTime, rc)
	if rec.Code != http.StatusPartialContent {
		t.Fatalf("ServeContent: status %d, want 206", rec.Code)
	}
	if want := fmt.Sprintf("bytes 1000-1999/%d", len(b.Data)); rec.Header().Get("Content-Range") != want {
		t.Errorf("Content-Range = %q, want %q", rec.Header().Get("Content-Range"), want)
	}
	if !bytes.Equal(rec.Body.Bytes(), b.Data[1000:2000]) {
		t.Errorf("ServeContent range body differs")
	}
}

func testDelete(t *testing.T, s blobstore.Store) {
	b := NewBlob(4, 1000)
	MustPut(t, s, b, "text/plain")
	if err := s.Delete(t.Context(), b.SHA256); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	AssertAbsent(t, s, b.SHA256)
	if err := s.Delete(t.Context(), b.SHA256); err != nil {
		t.Errorf("Delete of a missing blob = %v, want nil", err)
	}
	// Deleted blobs can come back, as when an erased resource is restored.
	MustPut(t, s, b, "text/plain")
	if got, _ := ReadAll(t, s, b.SHA256); !bytes.Equal(got, b.Data) {
		t.Errorf("blob put after Delete differs")
	}
}

func testList(t *testing.T, s blobstore.Store) {
	var want []blobstore.Info
	for i := range 5 {
		b := NewBlob(uint64(10+i), 100*(i+1))
		MustPut(t, s, b, "text/plain")
		want = append(want, blobstore.Info{SHA256: b.SHA256, Size: int64(len(b.Data))})
	}
	slices.SortFunc(want, func(a, b blobstore.Info) int { return strings.Compare(a.SHA256, b.SHA256) })
	got := ListAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("List returned %d blobs, want %d: %v", len(got), len(want), got)
	}
	for i := range got {
		if got[i].SHA256 != want[i].SHA256 || got[i].Size != want[i].Size || got[i].ModTime.IsZero() {
			t.Errorf("List[%d] = %+v, want %+v with a ModTime (hash order)", i, got[i], want[i])
		}
	}

	stop := errors.New("stop")
	n := 0
	err := s.List(t.Context(), func(blobstore.Info) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("List with fn failing: err %v after %d calls, want stop after 1", err, n)
	}
}

// failingReader fails the test if anyone reads it.
type failingReader struct{ t testing.TB }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("body read, but it should not have been")
	return 0, errors.New("must not be read")
}

func testPutExisting(t *testing.T, s blobstore.Store) {
	b := NewBlob(5, 4096)
	MustPut(t, s, b, "text/plain")
	// An existing blob is never sent twice: the body is not even read.
	if err := s.Put(t.Context(), b.SHA256, int64(len(b.Data)), "application/pdf", failingReader{t}); err != nil {
		t.Fatalf("second Put = %v, want nil", err)
	}
	info, err := s.Stat(t.Context(), b.SHA256)
	if err != nil || info.MediaType != "text/plain" {
		t.Errorf("after second Put: %+v, %v; want the first media type kept", info, err)
	}
	// A size that contradicts the stored blob is a false claim.
	err = s.Put(t.Context(), b.SHA256, int64(len(b.Data))+1, "text/plain", failingReader{t})
	if !errors.Is(err, blobstore.ErrTooLarge) {
		t.Errorf("Put with another size = %v, want ErrTooLarge", err)
	}
	if got, _ := ReadAll(t, s, b.SHA256); !bytes.Equal(got, b.Data) {
		t.Errorf("blob changed")
	}
}

func testHashMismatch(t *testing.T, s blobstore.Store) {
	b := NewBlob(6, 3<<20)
	other := NewBlob(7, 10).SHA256
	err := s.Put(t.Context(), other, int64(len(b.Data)), "text/plain", bytes.NewReader(b.Data))
	if !errors.Is(err, blobstore.ErrHashMismatch) {
		t.Fatalf("Put under the wrong hash = %v, want ErrHashMismatch", err)
	}
	AssertAbsent(t, s, other)
	AssertAbsent(t, s, b.SHA256)

	// One flipped byte at the very end.
	bad := bytes.Clone(b.Data)
	bad[len(bad)-1] ^= 1
	err = s.Put(t.Context(), b.SHA256, int64(len(bad)), "text/plain", bytes.NewReader(bad))
	if !errors.Is(err, blobstore.ErrHashMismatch) {
		t.Fatalf("Put of a corrupted body = %v, want ErrHashMismatch", err)
	}
	AssertAbsent(t, s, b.SHA256)
}

func testSizeMismatch(t *testing.T, s blobstore.Store) {
	b := NewBlob(8, 10_000)
	n := int64(len(b.Data))
	longer := append(bytes.Clone(b.Data), 'x')
	if err := s.Put(t.Context(), b.SHA256, n, "", bytes.NewReader(longer)); !errors.Is(err, blobstore.ErrTooLarge) {
		t.Errorf("Put of a body longer than declared = %v, want ErrTooLarge", err)
	}
	AssertAbsent(t, s, b.SHA256)
	err := s.Put(t.Context(), b.SHA256, n, "", bytes.NewReader(b.Data[:n-1]))
	if !errors.Is(err, blobstore.ErrTooLarge) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Put of a body shorter than declared = %v, want ErrTooLarge and io.ErrUnexpectedEOF", err)
	}
	AssertAbsent(t, s, b.SHA256)
	// Declared smaller than the body: the first n-1 bytes do not hash to the
	// whole blob's hash, but the extra byte is what is wrong.
	if err := s.Put(t.Context(), b.SHA256, n-1, "", bytes.NewReader(b.Data)); !errors.Is(err, blobstore.ErrTooLarge) && !errors.Is(err, blobstore.ErrHashMismatch) {
		t.Errorf("Put declaring too small a size = %v, want ErrTooLarge or ErrHashMismatch", err)
	}
	AssertAbsent(t, s, b.SHA256)
	if err := s.Put(t.Context(), b.SHA256, -1, "", bytes.NewReader(b.Data)); err == nil {
		t.Errorf("Put with size -1 succeeded")
	}
	AssertAbsent(t, s, b.SHA256)
}

// brokenReader yields n bytes of r and then fails with err, like a request
// body whose connection drops.
type brokenReader struct {
	r   io.Reader
	n   int64
	err error
	hit func()
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		if b.hit != nil {
			b.hit()
		}
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

func testBodyFails(t *testing.T, s blobstore.Store) {
	b := NewBlob(9, 20<<20)
	dropped := errors.New("connection reset")
	body := &brokenReader{r: bytes.NewReader(b.Data), n: 11 << 20, err: dropped}
	err := s.Put(t.Context(), b.SHA256, int64(len(b.Data)), "", body)
	if !errors.Is(err, dropped) {
		t.Errorf("Put with a failing body = %v, want the body's error", err)
	}
	AssertAbsent(t, s, b.SHA256)

	// The uploader goes away mid-upload: the temporary data must still go.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	body = &brokenReader{r: bytes.NewReader(b.Data), n: 9 << 20, err: context.Canceled, hit: cancel}
	err = s.Put(ctx, b.SHA256, int64(len(b.Data)), "", body)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway = %v, want context.Canceled", err)
	}
	AssertAbsent(t, s, b.SHA256)
}

func testMediaType(t *testing.T, s blobstore.Store) {
	b := NewBlob(12, 100)
	for _, mt := range []string{"text/plain\r\nX-Evil: 1", "nonsense", "a/b; =broken"} {
		if err := s.Put(t.Context(), b.SHA256, 100, mt, failingReader{t}); err == nil {
			t.Errorf("Put with media type %q succeeded", mt)
		}
	}
	AssertAbsent(t, s, b.SHA256)
	MustPut(t, s, b, "text/plain; charset=utf-8")
	if info, err := s.Stat(t.Context(), b.SHA256); err != nil || info.MediaType != "text/plain; charset=utf-8" {
		t.Errorf("Stat = %+v, %v; want the media type with its parameter", info, err)
	}
}

// InvalidHashes are strings that every method must refuse with
// ErrInvalidHash before touching storage.
func InvalidHashes() []string {
	valid := NewBlob(0, 1).SHA256
	return []string{
		"",
		"../../etc/passwd",
		"../" + valid[3:],
		valid[:2] + "/" + valid[3:],
		valid[:63] + `\`,
		strings.ToUpper(valid),
		valid[:63],
		valid + "0",
		valid[:63] + "g",
		valid[:63] + "\x00",
		" " + valid[1:],
		valid + "/..",
		strings.Repeat(".", 64),
	}
}

func testInvalidHash(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	for _, h := range InvalidHashes() {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, blobstore.ErrInvalidHash) {
				t.Errorf("%s(%q) = %v, want ErrInvalidHash", op, h, err)
			}
		}
		check("Put", s.Put(ctx, h, 1, "", failingReader{t}))
		_, err := s.Stat(ctx, h)
		check("Stat", err)
		rc, _, err := s.Open(ctx, h)
		if rc != nil {
			rc.Close()
		}
		check("Open", err)
		check("Delete", s.Delete(ctx, h))
		_, err = s.PresignGet(ctx, h, "x.pdf", time.Minute)
		check("PresignGet", err)
	}
	if infos := ListAll(t, s); len(infos) != 0 {
		t.Errorf("List = %v after invalid hashes, want nothing", infos)
	}
}

func testConcurrent(t *testing.T, s blobstore.Store) {
	b := NewBlob(13, 2<<20)
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			errs <- s.Put(t.Context(), b.SHA256, int64(len(b.Data)), "application/pdf", bytes.NewReader(b.Data))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	if got, _ := ReadAll(t, s, b.SHA256); !bytes.Equal(got, b.Data) {
		t.Errorf("blob differs after concurrent Puts")
	}
	if infos := ListAll(t, s); len(infos) != 1 {
		t.Errorf("List = %v, want the one blob", infos)
	}
}

func testPresign(t *testing.T, s blobstore.Store) {
	b := NewBlob(14, 5000)
	MustPut(t, s, b, "application/pdf")
	u, err := s.PresignGet(t.Context(), b.SHA256, "Guide für Eltern.pdf", time.Minute)
	if errors.Is(err, blobstore.ErrNotSupported) {
		return
	}
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned URL: %s, %v: %.200s", resp.Status, err, got)
	}
	if !bytes.Equal(got, b.Data) {
		t.Errorf("presigned download differs")
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "f%C3%BCr") {
		t.Errorf("Content-Disposition = %q, want an attachment named Guide für Eltern.pdf", cd)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type = %q, want application/pdf", ct)
	}
	if _, err := s.PresignGet(t.Context(), NewBlob(15, 1).SHA256, "x", time.Minute); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("PresignGet of a missing blob = %v, want ErrNotFound", err)
	}
}

// heapWatch samples the heap in use while a test streams, to catch a whole
// blob being buffered anywhere on the way.
type heapWatch struct {
	base, peak uint64
	stop, done chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h := &heapWatch{base: m.HeapInuse, peak: m.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			h.peak = max(h.peak, m.HeapInuse)
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop returns the heap in use at the start and its peak since.
func (h *heapWatch) Stop() (base, peak uint64) {
	close(h.stop)
	<-h.done
	return h.base, h.peak
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func testLarge(t *testing.T, s blobstore.Store) {
	const seed = 64
	sha := StreamSHA256(seed, LargeSize)

	w := watchHeap()
	start := time.Now()
	if err := s.Put(t.Context(), sha, LargeSize, "video/mp4", Stream(seed, LargeSize)); err != nil {
		t.Fatalf("Put of %d MiB: %v", LargeSize>>20, err)
	}
	putTime := time.Since(start)
	base, putPeak := w.Stop()

	w = watchHeap()
	start = time.Now()
	rc, info, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	readTime := time.Since(start)
	readBase, readPeak := w.Stop()
	if err != nil || n != LargeSize || info.Size != LargeSize {
		t.Fatalf("read back %d bytes (info %d), %v; want %d", n, info.Size, err, LargeSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		t.Fatalf("read back content hashes to %s, want %s", got, sha)
	}

	t.Logf("%d MiB: put %v, heap in use %.1f MiB → peak %.1f MiB (+%.1f); read %v, %.1f → %.1f MiB (+%.1f)",
		LargeSize>>20, putTime.Round(time.Millisecond), mib(base), mib(putPeak), mib(putPeak-base),
		readTime.Round(time.Millisecond), mib(readBase), mib(readPeak), mib(readPeak-readBase))
	if g := putPeak - base; g > MaxHeapGrowth {
		t.Errorf("heap in use grew by %.1f MiB during the Put of %d MiB, limit %.1f MiB", mib(g), LargeSize>>20, mib(MaxHeapGrowth))
	}
	if g := readPeak - readBase; g > MaxHeapGrowth {
		t.Errorf("heap in use grew by %.1f MiB while reading %d MiB back, limit %.1f MiB", mib(g), LargeSize>>20, mib(MaxHeapGrowth))
	}
}

func newStaging(t *testing.T, dir string) *blobstore.Staging {
	t.Helper()
	st, err := blobstore.NewStaging(dir, 0)
	if err != nil {
		t.Fatalf("NewStaging: %v", err)
	}
	return st
}

func testStagingResume(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	dir := t.TempDir()
	b := NewBlob(16, 3<<20)
	size := int64(len(b.Data))

	// The connection drops after 1 MiB and change.
	st := newStaging(t, dir)
	dropped := errors.New("connection reset")
	off, err := st.Append(ctx, b.SHA256, 0, &brokenReader{r: bytes.NewReader(b.Data), n: 1<<20 + 17, err: dropped})
	if !errors.Is(err, dropped) || off != 1<<20+17 {
		t.Fatalf("interrupted Append = %d, %v; want %d and the body's error", off, err, 1<<20+17)
	}

	// The process restarts: a new Staging on the same directory.
	st = newStaging(t, dir)
	if got := st.Offset(b.SHA256); got != off {
		t.Fatalf("Offset after restart = %d, want %d", got, off)
	}
	var oe *blobstore.OffsetError
	_, err = st.Append(ctx, b.SHA256, 0, bytes.NewReader(b.Data))
	if !errors.Is(err, blobstore.ErrOffsetMismatch) || !errors.As(err, &oe) || oe.Current != off {
		t.Fatalf("Append from 0 again = %v, want an OffsetError at %d", err, off)
	}
	// Committing early says where to resume, and keeps the part.
	err = st.Commit(ctx, b.SHA256, size, "application/pdf", s)
	if !errors.As(err, &oe) || oe.Current != off {
		t.Fatalf("early Commit = %v, want an OffsetError at %d", err, off)
	}
	if _, err := s.Stat(ctx, b.SHA256); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("blob stored before the upload completed: %v", err)
	}

	// Resume with the rest, in two pieces.
	mid := off + 1<<20
	if off, err = st.Append(ctx, b.SHA256, off, bytes.NewReader(b.Data[off:mid])); err != nil || off != mid {
		t.Fatalf("Append = %d, %v; want %d", off, err, mid)
	}
	if off, err = st.Append(ctx, b.SHA256, off, bytes.NewReader(b.Data[off:])); err != nil || off != size {
		t.Fatalf("Append = %d, %v; want %d", off, err, size)
	}
	if err := st.Commit(ctx, b.SHA256, size, "application/pdf", s); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got, info := ReadAll(t, s, b.SHA256)
	if !bytes.Equal(got, b.Data) || info.MediaType != "application/pdf" {
		t.Errorf("committed blob differs (info %+v)", info)
	}
	if got := st.Offset(b.SHA256); got != 0 {
		t.Errorf("Offset after Commit = %d, want 0 (part removed)", got)
	}
	if err := st.Commit(ctx, b.SHA256, size, "", s); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("second Commit = %v, want ErrNotFound", err)
	}

	// Abandoned uploads are swept; fresh ones are not.
	other := NewBlob(17, 1000)
	if _, err := st.Append(ctx, other.SHA256, 0, bytes.NewReader(other.Data[:500])); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Sweep(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("Sweep(1h) = %d, %v; want nothing removed", n, err)
	}
	if n, err := st.Sweep(ctx, -time.Second); err != nil || n != 1 {
		t.Errorf("Sweep(-1s) = %d, %v; want 1 removed", n, err)
	}
	if got := st.Offset(other.SHA256); got != 0 {
		t.Errorf("Offset after Sweep = %d, want 0", got)
	}
	// Abort lets a client start over.
	if _, err := st.Append(ctx, other.SHA256, 0, bytes.NewReader(other.Data[:10])); err != nil {
		t.Fatal(err)
	}
	if err := st.Abort(ctx, other.SHA256); err != nil || st.Offset(other.SHA256) != 0 {
		t.Errorf("Abort = %v, offset %d; want the part gone", err, st.Offset(other.SHA256))
	}
}

func testStagingMismatch(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	st := newStaging(t, t.TempDir())
	b := NewBlob(18, 2<<20)
	bad := bytes.Clone(b.Data)
	bad[1<<20] ^= 0xff
	size := int64(len(bad))
	if off, err := st.Append(ctx, b.SHA256, 0, bytes.NewReader(bad)); err != nil || off != size {
		t.Fatalf("Append = %d, %v", off, err)
	}
	err := st.Commit(ctx, b.SHA256, size, "", s)
	if !errors.Is(err, blobstore.ErrHashMismatch) {
		t.Fatalf("Commit of corrupted upload = %v, want ErrHashMismatch", err)
	}
	if got := st.Offset(b.SHA256); got != 0 {
		t.Errorf("Offset after mismatch = %d, want 0 (part removed)", got)
	}
	AssertAbsent(t, s, b.SHA256)

	// A part longer than the declared size is refused and removed too.
	if _, err := st.Append(ctx, b.SHA256, 0, bytes.NewReader(b.Data)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, b.SHA256, size-1, "", s); !errors.Is(err, blobstore.ErrTooLarge) {
		t.Errorf("Commit with a smaller size = %v, want ErrTooLarge", err)
	}
	if got := st.Offset(b.SHA256); got != 0 {
		t.Errorf("Offset after a too-large Commit = %d, want 0", got)
	}
	AssertAbsent(t, s, b.SHA256)
}

func testStagingInvalid(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	dir := t.TempDir()
	st := newStaging(t, dir)
	for _, h := range InvalidHashes() {
		if _, err := st.Append(ctx, h, 0, failingReader{t}); !errors.Is(err, blobstore.ErrInvalidHash) {
			t.Errorf("Append(%q) = %v, want ErrInvalidHash", h, err)
		}
		if err := st.Commit(ctx, h, 0, "", s); !errors.Is(err, blobstore.ErrInvalidHash) {
			t.Errorf("Commit(%q) = %v, want ErrInvalidHash", h, err)
		}
		if err := st.Abort(ctx, h); !errors.Is(err, blobstore.ErrInvalidHash) {
			t.Errorf("Abort(%q) = %v, want ErrInvalidHash", h, err)
		}
		if off := st.Offset(h); off != 0 {
			t.Errorf("Offset(%q) = %d, want 0", h, off)
		}
	}
	// Appending at an offset with nothing staged creates nothing.
	b := NewBlob(19, 100)
	var oe *blobstore.OffsetError
	if _, err := st.Append(ctx, b.SHA256, 50, bytes.NewReader(b.Data[50:])); !errors.As(err, &oe) || oe.Current != 0 {
		t.Errorf("Append at 50 of nothing = %v, want an OffsetError at 0", err)
	}
	if n, err := st.Sweep(ctx, -time.Second); err != nil || n != 0 {
		t.Errorf("Sweep = %d, %v; want an empty staging directory", n, err)
	}
}

// testStagingUpload runs Staging.Upload, what the hub's PUT does: a fresh
// upload streams into the store as it is staged, a broken one keeps what
// arrived and resumes, and a mismatch leaves nothing anywhere.
func testStagingUpload(t *testing.T, s blobstore.Store) {
	ctx := t.Context()
	dir := t.TempDir()
	st := newStaging(t, dir)
	absent := func(sha string) {
		t.Helper()
		if _, err := s.Stat(ctx, sha); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("Stat(%s) = %v, want ErrNotFound", sha, err)
		}
	}
	parts := func() int {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}

	// In one go: stored, nothing staged left.
	a := NewBlob(20, 9<<20+5)
	if n, err := st.Upload(ctx, a.SHA256, int64(len(a.Data)), 0, "application/pdf", bytes.NewReader(a.Data), s); err != nil || n != int64(len(a.Data)) {
		t.Fatalf("Upload = %d, %v; want the whole blob", n, err)
	}
	if got, info := ReadAll(t, s, a.SHA256); !bytes.Equal(got, a.Data) || info.MediaType != "application/pdf" {
		t.Errorf("uploaded blob differs (info %+v)", info)
	}
	if k := parts(); k != 0 {
		t.Errorf("%d staged parts left after a complete upload", k)
	}
	// Again: the store has it, nothing needs reading.
	if n, err := st.Upload(ctx, a.SHA256, int64(len(a.Data)), 0, "", failingReader{}, s); err != nil || n != int64(len(a.Data)) {
		t.Errorf("Upload of a stored blob = %d, %v; want done without reading", n, err)
	}

	// Broken after 3 MiB and change: the blob is not stored, what arrived is.
	b := NewBlob(21, 10<<20)
	size := int64(len(b.Data))
	dropped := errors.New("connection reset")
	off, err := st.Upload(ctx, b.SHA256, size, 0, "video/mp4", &brokenReader{r: bytes.NewReader(b.Data), n: 3<<20 + 7, err: dropped}, s)
	if !errors.Is(err, dropped) || off != 3<<20+7 {
		t.Fatalf("broken Upload = %d, %v; want %d and the body's error", off, err, 3<<20+7)
	}
	absent(b.SHA256)
	// A restart, then the rest: in two pieces, the last one committing.
	st = newStaging(t, dir)
	var oe *blobstore.OffsetError
	if _, err := st.Upload(ctx, b.SHA256, size, 0, "video/mp4", bytes.NewReader(b.Data), s); !errors.As(err, &oe) || oe.Current != off {
		t.Fatalf("Upload from 0 again = %v, want an OffsetError at %d", err, off)
	}
	mid := off + 1<<20
	if n, err := st.Upload(ctx, b.SHA256, size, off, "video/mp4", bytes.NewReader(b.Data[off:mid]), s); err != nil || n != mid {
		t.Fatalf("Upload of a piece = %d, %v; want %d", n, err, mid)
	}
	absent(b.SHA256)
	if n, err := st.Upload(ctx, b.SHA256, size, mid, "video/mp4", bytes.NewReader(b.Data[mid:]), s); err != nil || n != size {
		t.Fatalf("last Upload = %d, %v; want %d", n, err, size)
	}
	if got, _ := ReadAll(t, s, b.SHA256); !bytes.Equal(got, b.Data) {
		t.Errorf("resumed blob differs")
	}
	if k := parts(); k != 0 {
		t.Errorf("%d staged parts left after the resumed upload completed", k)
	}

	// Other bytes under b's hash: refused, fresh or resumed, leaving nothing.
	c := NewBlob(22, 6<<20)
	for _, at := range []int64{0, 1 << 20} {
		if at > 0 {
			if _, err := st.Upload(ctx, c.SHA256[:63]+"f", int64(len(c.Data)), 0, "", bytes.NewReader(c.Data[:at]), s); err != nil {
				t.Fatal(err)
			}
		}
		_, err := st.Upload(ctx, c.SHA256[:63]+"f", int64(len(c.Data)), at, "", bytes.NewReader(c.Data[at:]), s)
		if !errors.Is(err, blobstore.ErrHashMismatch) {
			t.Errorf("Upload of other bytes from %d = %v, want ErrHashMismatch", at, err)
		}
		absent(c.SHA256[:63] + "f")
		if k := parts(); k != 0 {
			t.Errorf("%d staged parts left after a mismatch", k)
		}
	}
}
