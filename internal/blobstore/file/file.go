package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
)

var _ blobstore.Store = (*Store)(nil)

const (
	// tmpPrefix marks files of Puts in progress (or of crashed ones, for
	// Sweep). The dot keeps them out of the way of anyone browsing the tree.
	tmpPrefix  = ".tmp-"
	metaSuffix = ".meta"
)

// Store is a blob store in a local directory.
type Store struct {
	dir string
}

// New opens (creating if needed) a store in dir.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open blob directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(sha256 string) string {
	return filepath.Join(s.dir, sha256[0:2], sha256[2:4], sha256)
}

// meta is the sidecar. A struct rather than a bare string leaves room for
// more fields without a format change.
type meta struct {
	MediaType string `json:"media_type"`
}

// Put implements blobstore.Store.
func (s *Store) Put(ctx context.Context, sha256 string, size int64, mediaType string, r io.Reader) error {
	if err := blobstore.ValidHash(sha256); err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("put blob %s: negative size %d", sha256, size)
	}
	mediaType, err := blobstore.CleanMediaType(mediaType)
	if err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if info, err := s.Stat(ctx, sha256); err == nil {
		if info.Size != size {
			return fmt.Errorf("put blob %s: %w: stored with %d bytes, declared %d", sha256, blobstore.ErrTooLarge, info.Size, size)
		}
		return nil
	} else if !errors.Is(err, blobstore.ErrNotFound) {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}

	final := s.path(sha256)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+sha256+"-*")
	if err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	published := false
	defer func() {
		if !published {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	v := blobstore.NewVerifier(ctx, sha256, size, r)
	if _, err := io.Copy(tmp, v); err != nil {
		if verr := v.Err(); verr != nil {
			return fmt.Errorf("put blob %s: %w", sha256, verr)
		}
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if err := v.Check(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	// The sidecar goes first, so that a visible blob always has one.
	if err := writeMeta(dir, final+metaSuffix, meta{MediaType: mediaType}); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	published = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put blob %s: %w", sha256, err)
	}
	return nil
}

// writeMeta replaces the sidecar atomically, for the same reason as the blob.
func writeMeta(dir, path string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"meta-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// syncDir makes a rename durable: without it a crash can forget the new
// directory entry even though the file's data was synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readMeta tolerates a missing sidecar (a blob copied in by hand): the
// content is still good, only its media type is unknown.
func readMeta(path string) (meta, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return meta{MediaType: blobstore.DefaultMediaType}, nil
	}
	if err != nil {
		return meta{}, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return meta{}, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if m.MediaType == "" {
		m.MediaType = blobstore.DefaultMediaType
	}
	return m, nil
}

func (s *Store) info(sha256 string, fi fs.FileInfo) (blobstore.Info, error) {
	m, err := readMeta(s.path(sha256) + metaSuffix)
	if err != nil {
		return blobstore.Info{}, err
	}
	return blobstore.Info{SHA256: sha256, Size: fi.Size(), MediaType: m.MediaType, ModTime: fi.ModTime().UTC()}, nil
}

// Stat implements blobstore.Store.
func (s *Store) Stat(ctx context.Context, sha256 string) (blobstore.Info, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return blobstore.Info{}, fmt.Errorf("stat blob: %w", err)
	}
	fi, err := os.Stat(s.path(sha256))
	if errors.Is(err, fs.ErrNotExist) {
		return blobstore.Info{}, fmt.Errorf("stat blob %s: %w", sha256, blobstore.ErrNotFound)
	}
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("stat blob %s: %w", sha256, err)
	}
	info, err := s.info(sha256, fi)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("stat blob %s: %w", sha256, err)
	}
	return info, nil
}

// Open implements blobstore.Store. The *os.File it returns does not watch
// ctx; reads from a local disk do not hang.
func (s *Store) Open(ctx context.Context, sha256 string) (io.ReadSeekCloser, blobstore.Info, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return nil, blobstore.Info{}, fmt.Errorf("open blob: %w", err)
	}
	f, err := os.Open(s.path(sha256))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, blobstore.ErrNotFound)
	}
	if err != nil {
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, err)
	}
	info, err := s.info(sha256, fi)
	if err != nil {
		f.Close()
		return nil, blobstore.Info{}, fmt.Errorf("open blob %s: %w", sha256, err)
	}
	return f, info, nil
}

// Delete implements blobstore.Store. The blob goes before its sidecar so that
// an interrupted Delete never leaves a blob without one.
func (s *Store) Delete(ctx context.Context, sha256 string) error {
	if err := blobstore.ValidHash(sha256); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	path := s.path(sha256)
	for _, p := range []string{path, path + metaSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete blob %s: %w", sha256, err)
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", sha256, err)
	}
	return nil
}

// walk visits the regular files of the fan-out directories, skipping
// anything else that may share the directory (a staging directory, say).
func (s *Store) walk(ctx context.Context, fn func(path string, d fs.DirEntry) error) error {
	return filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by a concurrent Delete or Sweep
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, path)
		if err != nil {
			return err
		}
		depth := strings.Count(rel, string(filepath.Separator)) + 1
		if d.IsDir() {
			if rel != "." && (depth > 2 || !isHexPair(d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		if depth != 3 || !d.Type().IsRegular() {
			return nil
		}
		return fn(path, d)
	})
}

func isHexPair(s string) bool {
	return len(s) == 2 && strings.Trim(s, "0123456789abcdef") == ""
}

// List implements blobstore.Store. WalkDir visits names in lexical order,
// which for this layout is hash order.
func (s *Store) List(ctx context.Context, fn func(blobstore.Info) error) error {
	var fnErr error
	err := s.walk(ctx, func(path string, d fs.DirEntry) error {
		name := d.Name()
		if blobstore.ValidHash(name) != nil || s.path(name) != path {
			return nil // sidecars, temporary files, strays
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(blobstore.Info{SHA256: name, Size: fi.Size(), ModTime: fi.ModTime().UTC()}); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	return nil
}

// Sweep removes temporary files older than olderThan: what Puts interrupted
// by a crash left behind (a Put that merely fails removes its own). It returns
// how many it removed. olderThan must exceed the longest Put in progress.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := s.walk(ctx, func(path string, d fs.DirEntry) error {
		if !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("sweep blob directory: %w", err)
	}
	return removed, nil
}

// PresignGet implements blobstore.Store: a directory has no URLs of its own,
// so the caller serves the blob through Open.
func (s *Store) PresignGet(ctx context.Context, sha256 string, name string, expiry time.Duration) (string, error) {
	if err := blobstore.ValidHash(sha256); err != nil {
		return "", fmt.Errorf("presign blob: %w", err)
	}
	return "", fmt.Errorf("presign blob %s: %w", sha256, blobstore.ErrNotSupported)
}
