package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/blobstoretest"
	"github.com/bikfed/bikfed/internal/blobstore/file"
)

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestValidHash(t *testing.T) {
	valid := hashOf([]byte("hello"))
	if err := blobstore.ValidHash(valid); err != nil {
		t.Errorf("ValidHash(%q) = %v", valid, err)
	}
	for _, h := range blobstoretest.InvalidHashes() {
		if err := blobstore.ValidHash(h); !errors.Is(err, blobstore.ErrInvalidHash) {
			t.Errorf("ValidHash(%q) = %v, want ErrInvalidHash", h, err)
		}
	}
	long := strings.Repeat("../", 10_000)
	if err := blobstore.ValidHash(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("ValidHash of 30,000 characters = %d-byte error, want a short one", len(err.Error()))
	}
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// The hash is a path component, so the property that matters: whatever it
// accepts is a single, plain file name.
func FuzzValidHash(f *testing.F) {
	for _, h := range blobstoretest.InvalidHashes() {
		f.Add(h)
	}
	f.Add(hashOf(nil))
	f.Fuzz(func(t *testing.T, s string) {
		err := blobstore.ValidHash(s)
		if (err == nil) != hashRE.MatchString(s) {
			t.Fatalf("ValidHash(%q) = %v, regexp says %v", s, err, hashRE.MatchString(s))
		}
		if err != nil {
			if !errors.Is(err, blobstore.ErrInvalidHash) {
				t.Fatalf("ValidHash(%q) = %v, not ErrInvalidHash", s, err)
			}
			return
		}
		if filepath.Base(s) != s || filepath.Clean(s) != s || strings.ContainsAny(s, `/\.`) {
			t.Fatalf("accepted %q is not a plain file name", s)
		}
	})
}

func TestCleanMediaType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", blobstore.DefaultMediaType},
		{"application/pdf", "application/pdf"},
		{"text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"pdf", ""},
		{"text/plain\r\nSet-Cookie: x", ""},
		{"text/plain; =x", ""},
	} {
		got, err := blobstore.CleanMediaType(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("CleanMediaType(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// verify streams r through a Verifier the way a backend does.
func verify(ctx context.Context, sha string, size int64, r io.Reader) (int64, error) {
	v := blobstore.NewVerifier(ctx, sha, size, r)
	n, err := io.Copy(io.Discard, v)
	if err != nil {
		if verr := v.Err(); verr != nil {
			return n, verr
		}
		return n, err
	}
	return n, v.Check()
}

func TestVerifier(t *testing.T) {
	data := []byte(strings.Repeat("bikfed ", 1000))
	sha, size := hashOf(data), int64(len(data))
	broken := errors.New("connection reset")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		sha  string
		size int64
		r    io.Reader
		want []error // errors.Is targets; none means success
	}{
		{"exact", nil, sha, size, bytes.NewReader(data), nil},
		{"one byte at a time", nil, sha, size, iotest.OneByteReader(bytes.NewReader(data)), nil},
		{"data with EOF", nil, sha, size, iotest.DataErrReader(bytes.NewReader(data)), nil},
		{"half reads", nil, sha, size, iotest.HalfReader(bytes.NewReader(data)), nil},
		{"empty", nil, hashOf(nil), 0, bytes.NewReader(nil), nil},
		{"longer", nil, sha, size, bytes.NewReader(append(bytes.Clone(data), 'x')), []error{blobstore.ErrTooLarge}},
		{"empty but declared", nil, hashOf(nil), 0, strings.NewReader("x"), []error{blobstore.ErrTooLarge}},
		{"shorter", nil, sha, size, bytes.NewReader(data[1:]), []error{blobstore.ErrTooLarge, io.ErrUnexpectedEOF}},
		{"wrong hash", nil, hashOf([]byte("other")), size, bytes.NewReader(data), []error{blobstore.ErrHashMismatch}},
		{"read error", nil, sha, size, io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(broken)), []error{broken}},
		{"read error after the end", nil, sha, size, io.MultiReader(bytes.NewReader(data), iotest.ErrReader(broken)), []error{broken}},
		{"timeout", nil, sha, size, iotest.TimeoutReader(bytes.NewReader(data)), []error{iotest.ErrTimeout}},
		{"cancelled", cancelled, sha, size, bytes.NewReader(data), []error{context.Canceled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			_, err := verify(ctx, tc.sha, tc.size, tc.r)
			if len(tc.want) == 0 && err != nil {
				t.Fatalf("got %v, want success", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want %v", err, w)
				}
			}
		})
	}
}

// The consumer never sees more than the declared size, even when it asks
// for more, so a too-long body cannot sneak its excess into an upload part.
func TestVerifier_NeverReadsPastSize(t *testing.T) {
	v := blobstore.NewVerifier(t.Context(), hashOf([]byte("abc")), 3, strings.NewReader("abcdef"))
	buf := make([]byte, 10)
	n, _ := io.ReadFull(v, buf)
	if n != 3 {
		t.Fatalf("read %d bytes, want 3", n)
	}
	if err := v.Check(); !errors.Is(err, blobstore.ErrTooLarge) {
		t.Errorf("Check = %v, want ErrTooLarge", err)
	}
}

func FuzzVerifier(f *testing.F) {
	f.Add([]byte("hello"), int64(5), false)
	f.Add([]byte("hello"), int64(4), false)
	f.Add([]byte(""), int64(0), true)
	f.Fuzz(func(t *testing.T, data []byte, size int64, corrupt bool) {
		if size < 0 || size > 1<<20 {
			return
		}
		sha := hashOf(data)
		if corrupt {
			sha = hashOf(append(data, 0))
		}
		_, err := verify(context.Background(), sha, size, iotest.HalfReader(bytes.NewReader(data)))
		ok := int64(len(data)) == size && !corrupt
		if (err == nil) != ok {
			t.Fatalf("%d bytes declared %d, corrupt %v: %v", len(data), size, corrupt, err)
		}
		if err != nil && !errors.Is(err, blobstore.ErrTooLarge) && !errors.Is(err, blobstore.ErrHashMismatch) {
			t.Fatalf("error %v is neither ErrTooLarge nor ErrHashMismatch", err)
		}
	})
}

func newStaging(t *testing.T, maxSize int64) (*blobstore.Staging, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "staging")
	st, err := blobstore.NewStaging(dir, maxSize)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

func TestStaging_MaxSize(t *testing.T) {
	st, _ := newStaging(t, 100)
	ctx := t.Context()
	data := bytes.Repeat([]byte{1}, 150)
	sha := hashOf(data)
	if off, err := st.Append(ctx, sha, 0, bytes.NewReader(data[:60])); err != nil || off != 60 {
		t.Fatalf("Append = %d, %v", off, err)
	}
	// Exactly up to the limit is fine...
	exact := hashOf(data[:100])
	if off, err := st.Append(ctx, exact, 0, bytes.NewReader(data[:100])); err != nil || off != 100 {
		t.Fatalf("Append of exactly the limit = %d, %v", off, err)
	}
	// ...one byte more is refused, and the part dropped.
	if _, err := st.Append(ctx, sha, 60, bytes.NewReader(data[60:])); !errors.Is(err, blobstore.ErrTooLarge) {
		t.Fatalf("Append past the limit = %v, want ErrTooLarge", err)
	}
	if off := st.Offset(sha); off != 0 {
		t.Errorf("Offset after refusal = %d, want 0", off)
	}
}

// Two clients uploading the same blob at once: appends on one hash take
// turns, and the second learns where the first left off.
func TestStaging_ConcurrentAppends(t *testing.T) {
	st, _ := newStaging(t, 0)
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	sha := hashOf(data)
	var wg sync.WaitGroup
	results := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			_, results[i] = st.Append(t.Context(), sha, 0, iotest.HalfReader(bytes.NewReader(data)))
		})
	}
	wg.Wait()
	ok, mismatch := 0, 0
	for _, err := range results {
		var oe *blobstore.OffsetError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &oe) && oe.Current == int64(len(data)):
			mismatch++
		default:
			t.Errorf("Append: %v", err)
		}
	}
	if ok != 1 || mismatch != 1 {
		t.Fatalf("%d appends succeeded and %d were told the offset, want 1 and 1", ok, mismatch)
	}
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(t.Context(), sha, int64(len(data)), "", s); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// blockingReader holds an Append open until released.
type blockingReader struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingReader) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return 0, io.EOF
}

func TestStaging_Busy(t *testing.T) {
	st, dir := newStaging(t, 0)
	sha := hashOf([]byte("x"))
	br := &blockingReader{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := st.Append(context.Background(), sha, 0, br)
		done <- err
	}()
	<-br.started

	// A second operation on the same hash waits, and gives up with its ctx.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := st.Append(ctx, sha, 0, strings.NewReader("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append while busy = %v, want DeadlineExceeded", err)
	}
	// Sweep skips a part in use however old it looks.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, sha+".part"), old, old)
	if n, err := st.Sweep(t.Context(), time.Minute); err != nil || n != 0 {
		t.Errorf("Sweep while busy = %d, %v; want nothing removed", n, err)
	}
	close(br.release)
	if err := <-done; err != nil {
		t.Fatalf("blocked Append: %v", err)
	}
	os.Chtimes(filepath.Join(dir, sha+".part"), old, old)
	if n, err := st.Sweep(t.Context(), time.Minute); err != nil || n != 1 {
		t.Errorf("Sweep once idle = %d, %v; want 1 removed", n, err)
	}
}

func TestOffsetError(t *testing.T) {
	err := error(&blobstore.OffsetError{SHA256: "ab", Offset: 10, Current: 4})
	if !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Errorf("OffsetError is not ErrOffsetMismatch")
	}
	if !strings.Contains(err.Error(), "resume from 4") {
		t.Errorf("message %q does not say where to resume", err)
	}
}
