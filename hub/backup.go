package hub

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// A backup is a directory named by the time it was taken (20261207T180500Z)
// under a backup root: a local directory, or "backups/" in the hub's S3
// bucket. It holds a consistent snapshot of hub.db (VACUUM INTO, taken while
// the hub runs), the hub's signing key, operator token and console key, and
// backup.json, written last, which lists every file with its size and hash:
// a backup without it is incomplete and never restored. Attachments kept in
// the hub's data directory (the file store) go to blobs/ beside the backups,
// shared by all of them, since a blob never changes under its hash. The
// portal's index is not backed up: a restored hub rebuilds it.
const (
	backupManifestName = "backup.json"
	backupStampLayout  = "20060102T150405Z"
	backupBlobsDir     = "blobs"
	backupS3Dir        = "backups/"
	// BackupS3 is the destination (or source) that names the hub's own S3
	// bucket; "s3:<backup>" names one backup in it.
	BackupS3 = "s3:"
)

// backupFiles are the data directory's files a backup copies besides hub.db;
// those missing (console.key before the console is first used, admin.token
// when the token is configured) are left out.
var backupFiles = []string{"hub.key", "admin.token", consoleKeyFile}

// ErrNoBackup is returned by RestoreBackup when the source holds no complete
// backup.
var ErrNoBackup = errors.New("no complete backup")

// BackupManifest describes one backup.
type BackupManifest struct {
	Name    string       `json:"name"`
	TakenAt time.Time    `json:"taken_at"`
	HubSeq  int64        `json:"hub_seq"`
	Nodes   int          `json:"nodes"`
	Files   []BackupFile `json:"files"`
	// Blobs is how many attachments of the file store the backup needs;
	// BlobsCopied how many of them this backup had to copy.
	Blobs       int `json:"blobs"`
	BlobsCopied int `json:"blobs_copied"`
}

// BackupFile is one file of a backup.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupConfig schedules backups while the hub serves.
type BackupConfig struct {
	// To is where backups go: a directory, or BackupS3 for the hub's own
	// bucket. Empty: no scheduled backups.
	To string
	// Every is the time between two backups, the first one Every after the
	// hub starts. Default 24h.
	Every time.Duration
	// Keep is how many backups are kept there, the newest; 0 keeps all.
	// Default 7.
	Keep int
}

// minBackupEvery is the shortest schedule: a backup copies the whole
// database, which more often than this would be work for nothing. Tests of
// the schedule lower it.
var minBackupEvery = time.Minute

// backupLoop takes a backup every cfg.Backup.Every until the hub closes. A
// failed backup is logged and tried again at the next tick: the hub's
// service does not depend on it.
func (h *Hub) backupLoop() {
	t := time.NewTicker(h.cfg.Backup.Every)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := TakeBackup(h.ctx, h.cfg, h.cfg.Backup.To, h.cfg.Backup.Keep, h.log); err != nil && h.ctx.Err() == nil {
			h.log.Error("scheduled backup failed", "component", "backup", "to", h.cfg.Backup.To, "err", err)
		}
	}
}

// backupStore is a backup root.
type backupStore interface {
	put(ctx context.Context, name, file string) error
	get(ctx context.Context, name, file string) error
	exists(ctx context.Context, name string) (bool, error)
	// backups lists the names of the complete backups, oldest first.
	backups(ctx context.Context) ([]string, error)
	remove(ctx context.Context, backup string) error
	String() string
}

// openBackupStore opens dest: BackupS3 (the hub's bucket) or a directory.
func openBackupStore(ctx context.Context, cfg Config, dest string) (backupStore, error) {
	if dest == "" {
		return nil, errors.New("backup: no destination")
	}
	if strings.HasPrefix(dest, BackupS3) {
		if cfg.Blobs.Store != BlobStoreS3 {
			return nil, errors.New("backup: s3: the hub keeps no S3 settings (--blob-store s3)")
		}
		st, err := s3.New(ctx, cfg.Blobs.S3)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		prefix := cfg.Blobs.S3.Prefix
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		return &s3Backups{client: st.Client(), bucket: st.Bucket(), prefix: prefix + backupS3Dir}, nil
	}
	abs, err := filepath.Abs(dest)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return dirBackups(abs), nil
}

// TakeBackup writes a backup of the hub whose data directory is
// cfg.DataDir to dest, whether or not the hub is running, and keeps the
// newest keep backups there (all when keep is 0). The hub's database is
// read in one transaction, so the backup is one moment of it.
func TakeBackup(ctx context.Context, cfg Config, dest string, keep int, log *slog.Logger) (BackupManifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store, err := openBackupStore(ctx, cfg, dest)
	if err != nil {
		return BackupManifest{}, err
	}
	tmp, err := os.MkdirTemp(cfg.DataDir, ".backup-")
	if err != nil {
		return BackupManifest{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	m := BackupManifest{TakenAt: time.Now().UTC().Truncate(time.Second)}
	// Backups are named by the second; one taken within a second of the
	// last is named by the next free one.
	for {
		m.Name = m.TakenAt.Format(backupStampLayout)
		taken, err := store.exists(ctx, m.Name+"/"+backupManifestName)
		if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		if !taken {
			break
		}
		m.TakenAt = m.TakenAt.Add(time.Second)
	}
	if err := sqlitedb.Snapshot(ctx, filepath.Join(cfg.DataDir, "hub.db"), filepath.Join(tmp, "hub.db")); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if m.HubSeq, m.Nodes, err = snapshotFacts(ctx, filepath.Join(tmp, "hub.db")); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	names := []string{"hub.db"}
	for _, name := range backupFiles {
		if err := copyFile(filepath.Join(cfg.DataDir, name), filepath.Join(tmp, name)); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		names = append(names, name)
	}
	// Attachments first: a backup whose manifest exists has them all.
	if cfg.Blobs.Store != BlobStoreS3 {
		if m.Blobs, m.BlobsCopied, err = backupBlobs(ctx, store, filepath.Join(cfg.DataDir, "blobs")); err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
	}
	for _, name := range names {
		f := filepath.Join(tmp, name)
		size, sum, err := hashFile(f)
		if err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		if err := store.put(ctx, m.Name+"/"+name, f); err != nil {
			return m, fmt.Errorf("backup: %w", err)
		}
		m.Files = append(m.Files, BackupFile{Name: name, Size: size, SHA256: sum})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	mf := filepath.Join(tmp, backupManifestName)
	if err := os.WriteFile(mf, b, 0o600); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := store.put(ctx, m.Name+"/"+backupManifestName, mf); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	log.Info("backup taken", "component", "backup", "to", store.String(), "backup", m.Name, "hub_seq", m.HubSeq, "blobs_copied", m.BlobsCopied)
	if keep > 0 {
		all, err := store.backups(ctx)
		if err != nil {
			return m, fmt.Errorf("backup: prune: %w", err)
		}
		for len(all) > keep {
			if err := store.remove(ctx, all[0]); err != nil {
				return m, fmt.Errorf("backup: prune %s: %w", all[0], err)
			}
			log.Info("old backup removed", "component", "backup", "backup", all[0])
			all = all[1:]
		}
	}
	return m, nil
}

// snapshotFacts reads a snapshot's head and number of registered nodes, for
// the manifest: an operator choosing a backup to restore wants to see them.
func snapshotFacts(ctx context.Context, file string) (head int64, nodes int, err error) {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?mode=ro")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
		return 0, 0, fmt.Errorf("read the snapshot's head: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE id != ?`, protocol.HubID).Scan(&nodes); err != nil {
		return 0, 0, fmt.Errorf("count the snapshot's nodes: %w", err)
	}
	return head, nodes, nil
}

// backupBlobs copies to the backup root every attachment file under dir
// that the root lacks. Each is named by its hash, so one already there is
// the same.
func backupBlobs(ctx context.Context, store backupStore, dir string) (total, copied int, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		// Uploads under way and other temporary files are not attachments.
		if _, ok := blobFileHash(d.Name()); !ok {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := backupBlobsDir + "/" + filepath.ToSlash(rel)
		total++
		ok, err := store.exists(ctx, name)
		if err != nil || ok {
			return err
		}
		copied++
		return store.put(ctx, name, p)
	})
	return total, copied, err
}

// RestoreBackup replaces the hub's state in cfg.DataDir with the backup src
// names: a backup directory, a backup root (its newest backup), BackupS3
// (the newest in the hub's bucket) or "s3:<name>". The hub must not be
// running. Every file is checked against the manifest and the database
// with SQLite's integrity check before anything is replaced; what it
// replaces is moved to pre-restore-<time>/ in the data directory, never
// deleted. The portal's index is set aside too, so the hub rebuilds it from
// the restored database.
func RestoreBackup(ctx context.Context, cfg Config, src string, log *slog.Logger) (BackupManifest, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var m BackupManifest
	root, name := src, ""
	if strings.HasPrefix(src, BackupS3) {
		root, name = BackupS3, strings.TrimPrefix(src, BackupS3)
	} else if _, err := os.Stat(filepath.Join(src, backupManifestName)); err == nil {
		root, name = filepath.Dir(filepath.Clean(src)), filepath.Base(filepath.Clean(src))
	}
	store, err := openBackupStore(ctx, cfg, root)
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if name == "" {
		all, err := store.backups(ctx)
		if err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
		if len(all) == 0 {
			return m, fmt.Errorf("restore: %s: %w", store, ErrNoBackup)
		}
		name = all[len(all)-1]
	}
	if _, err := time.Parse(backupStampLayout, name); err != nil {
		return m, fmt.Errorf("restore: %q is not a backup's name (like 20261207T180500Z)", name)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(cfg.DataDir, ".restore-")
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp)
	mf := filepath.Join(tmp, backupManifestName)
	if err := store.get(ctx, name+"/"+backupManifestName, mf); errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("restore: %s/%s: %w", store, name, ErrNoBackup)
	} else if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	b, err := os.ReadFile(mf)
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("restore: %s: manifest: %w", name, err)
	}
	if m.Name != name || !slices.ContainsFunc(m.Files, func(f BackupFile) bool { return f.Name == "hub.db" }) {
		return m, fmt.Errorf("restore: %s: the manifest is not this backup's, or lists no hub.db", name)
	}
	for _, f := range m.Files {
		if f.Name != path.Base(f.Name) || f.Name != "hub.db" && !slices.Contains(backupFiles, f.Name) {
			return m, fmt.Errorf("restore: %s: the manifest lists %q", name, f.Name)
		}
		dst := filepath.Join(tmp, f.Name)
		if err := store.get(ctx, name+"/"+f.Name, dst); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
		size, sum, err := hashFile(dst)
		if err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
		if size != f.Size || sum != f.SHA256 {
			return m, fmt.Errorf("restore: %s/%s: %d bytes with sha256 %s, the manifest says %d and %s", name, f.Name, size, sum, f.Size, f.SHA256)
		}
	}
	if err := sqlitedb.Check(ctx, filepath.Join(tmp, "hub.db")); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if cfg.Blobs.Store != BlobStoreS3 {
		if err := restoreBlobs(ctx, store, filepath.Join(cfg.DataDir, "blobs")); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
	}
	aside := filepath.Join(cfg.DataDir, "pre-restore-"+time.Now().UTC().Format(backupStampLayout))
	if err := os.Mkdir(aside, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	var moved []string
	for _, base := range append([]string{"hub.db", "portal.db"}, backupFiles...) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if suffix != "" && !strings.HasSuffix(base, ".db") {
				continue
			}
			from := filepath.Join(cfg.DataDir, base+suffix)
			if err := os.Rename(from, filepath.Join(aside, base+suffix)); err == nil {
				moved = append(moved, base+suffix)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return m, fmt.Errorf("restore: set aside %s: %w", base+suffix, err)
			}
		}
	}
	for _, f := range m.Files {
		if err := os.Rename(filepath.Join(tmp, f.Name), filepath.Join(cfg.DataDir, f.Name)); err != nil {
			return m, fmt.Errorf("restore: %w (what was replaced is in %s)", err, aside)
		}
	}
	log.Info("backup restored", "component", "backup", "from", store.String(), "backup", m.Name, "hub_seq", m.HubSeq, "set_aside", aside, "files_set_aside", len(moved))
	return m, nil
}

// restoreBlobs copies into dir the backup root's attachment files that dir
// lacks. The restored database may name any attachment the root holds.
func restoreBlobs(ctx context.Context, store backupStore, dir string) error {
	lister, ok := store.(interface {
		blobs(ctx context.Context) ([]string, error)
	})
	if !ok {
		return nil
	}
	names, err := lister.blobs(ctx)
	if err != nil {
		return err
	}
	// A blob's sidecar (its media type) goes first, as the file store
	// writes them: a blob in place always has one.
	slices.SortStableFunc(names, func(a, b string) int {
		return boolCmp(!strings.HasSuffix(a, blobMetaSuffix), !strings.HasSuffix(b, blobMetaSuffix))
	})
	for _, rel := range names {
		sum, ok := blobFileHash(path.Base(rel))
		if !filepath.IsLocal(filepath.FromSlash(rel)) || !ok {
			return fmt.Errorf("the backup's attachments hold %q, not an attachment", rel)
		}
		meta := strings.HasSuffix(rel, blobMetaSuffix)
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		// Through a temporary name: the file store takes a file under a
		// hash's name for that content.
		tmp := dst + ".restore"
		os.Remove(tmp)
		if err := store.get(ctx, backupBlobsDir+"/"+rel, tmp); err != nil {
			return err
		}
		if _, got, err := hashFile(tmp); !meta && (err != nil || got != sum) {
			os.Remove(tmp)
			return fmt.Errorf("the backup's attachment %s is damaged (sha256 %s, %v)", rel, got, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	return nil
}

// blobMetaSuffix ends the name of the file store's sidecar of a blob.
const blobMetaSuffix = ".meta"

// blobFileHash is the hash a file of the file store is named by, for a blob
// ("<sha256>") or its sidecar ("<sha256>.meta"); ok is false for any other
// file.
func blobFileHash(name string) (sum string, ok bool) {
	sum = strings.TrimSuffix(name, blobMetaSuffix)
	if len(sum) != sha256.Size*2 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", false
	}
	return sum, true
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// hashFile returns a file's size and SHA-256.
func hashFile(file string) (int64, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", file, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// copyFile copies src to a new private file dst, synced.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// dirBackups is a backup root on a file system.
type dirBackups string

func (d dirBackups) String() string { return string(d) }

func (d dirBackups) file(name string) string {
	return filepath.Join(string(d), filepath.FromSlash(name))
}

// put copies file to name through a temporary name, so a backup root never
// holds half a file under a real name.
func (d dirBackups) put(_ context.Context, name, file string) error {
	dst := d.file(name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp := dst + ".part"
	os.Remove(tmp)
	if err := copyFile(file, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func (d dirBackups) get(_ context.Context, name, file string) error {
	return copyFile(d.file(name), file)
}

func (d dirBackups) exists(_ context.Context, name string) (bool, error) {
	_, err := os.Stat(d.file(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d dirBackups) backups(_ context.Context) ([]string, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := time.Parse(backupStampLayout, e.Name()); err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(string(d), e.Name(), backupManifestName)); err == nil {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d dirBackups) remove(_ context.Context, backup string) error {
	return os.RemoveAll(d.file(backup))
}

func (d dirBackups) blobs(_ context.Context) ([]string, error) {
	root := d.file(backupBlobsDir)
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err != nil || e.IsDir() || strings.HasSuffix(p, ".part") {
			return err
		}
		rel, err := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	return out, err
}

// s3Backups is a backup root in the hub's S3 bucket.
type s3Backups struct {
	client *minio.Client
	bucket string
	prefix string
}

func (s *s3Backups) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *s3Backups) put(ctx context.Context, name, file string) error {
	_, err := s.client.FPutObject(ctx, s.bucket, s.prefix+name, file, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	return nil
}

func (s *s3Backups) get(ctx context.Context, name, file string) error {
	if ok, err := s.exists(ctx, name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s%s: %w", s, name, fs.ErrNotExist)
	}
	if err := s.client.FGetObject(ctx, s.bucket, s.prefix+name, file, minio.GetObjectOptions{}); err != nil {
		return fmt.Errorf("download %s: %w", name, err)
	}
	return os.Chmod(file, 0o600)
}

func (s *s3Backups) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return false, nil
	}
	return false, fmt.Errorf("look for %s: %w", name, err)
}

func (s *s3Backups) backups(ctx context.Context) ([]string, error) {
	var out []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list backups: %w", obj.Err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, s.prefix), "/")
		if _, err := time.Parse(backupStampLayout, name); err != nil {
			continue
		}
		if ok, err := s.exists(ctx, name+"/"+backupManifestName); err != nil {
			return nil, err
		} else if ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *s3Backups) remove(ctx context.Context, backup string) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + backup + "/", Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (s *s3Backups) blobs(ctx context.Context) ([]string, error) {
	var out []string
	p := s.prefix + backupBlobsDir + "/"
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		out = append(out, strings.TrimPrefix(obj.Key, p))
	}
	return out, nil
}
