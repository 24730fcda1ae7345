package file

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/blobstoretest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestStore_Conformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s := newStore(t)
		// Beyond what List shows: no temporary files may be left behind.
		t.Cleanup(func() { assertNoTemp(t, s) })
		return s
	})
}

func assertNoTemp(t *testing.T, s *Store) {
	t.Helper()
	filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
}

func TestStore_Layout(t *testing.T) {
	s := newStore(t)
	b := blobstoretest.NewBlob(1, 1000)
	blobstoretest.MustPut(t, s, b, "application/pdf")
	path := filepath.Join(s.dir, b.SHA256[:2], b.SHA256[2:4], b.SHA256)
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, b.Data) {
		t.Fatalf("blob at %s: %v", path, err)
	}
	meta, err := os.ReadFile(path + ".meta")
	if err != nil || string(meta) != `{"media_type":"application/pdf"}` {
		t.Errorf("sidecar = %s, %v", meta, err)
	}

	// A blob copied in without a sidecar is still served.
	os.Remove(path + ".meta")
	if info, err := s.Stat(t.Context(), b.SHA256); err != nil || info.MediaType != blobstore.DefaultMediaType {
		t.Errorf("Stat without sidecar = %+v, %v", info, err)
	}
	// Strays in the tree are not blobs.
	for _, p := range []string{
		filepath.Join(s.dir, "README"),
		filepath.Join(s.dir, "staging", b.SHA256),
		filepath.Join(s.dir, b.SHA256[:2], b.SHA256),
		filepath.Join(s.dir, "00", "00", b.SHA256),
	} {
		os.MkdirAll(filepath.Dir(p), 0o750)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if infos := blobstoretest.ListAll(t, s); len(infos) != 1 || infos[0].SHA256 != b.SHA256 {
		t.Errorf("List = %v, want only %s", infos, b.SHA256)
	}
}

func TestStore_Sweep(t *testing.T) {
	s := newStore(t)
	b := blobstoretest.NewBlob(2, 100)
	blobstoretest.MustPut(t, s, b, "")
	dir := filepath.Join(s.dir, b.SHA256[:2], b.SHA256[2:4])
	// What a crash in the middle of a Put leaves.
	stale := filepath.Join(dir, tmpPrefix+b.SHA256+"-123")
	fresh := filepath.Join(dir, tmpPrefix+b.SHA256+"-456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	n, err := s.Sweep(t.Context(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
	if _, err := s.Stat(t.Context(), b.SHA256); err != nil {
		t.Errorf("Sweep touched the blob: %v", err)
	}
}
