package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// putTestBlob places a blob and its sidecar in a hub's file store as the
// store lays them out, and returns its hash.
func putTestBlob(t *testing.T, dataDir string, content string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	h := hex.EncodeToString(sum[:])
	dir := filepath.Join(dataDir, "blobs", h[:2], h[2:4])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, h+blobMetaSuffix), []byte(`{"media_type":"text/plain"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, h), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// An upload under way is no attachment.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-"+h+"-1"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

func backupHead(t *testing.T, dataDir string) (int64, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	h, err := OpenForCommand(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st, err := h.NetworkStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.HubSeq, h.key.ID
}

// TestBackup_TakeAndRestore: a backup taken while the hub serves holds the
// database as it was, the keys and the attachments; a restore into an
// empty directory or over the hub's own state brings that moment back,
// setting aside what it replaces; a damaged backup is refused before
// anything is touched; old backups are pruned to the newest.
func TestBackup_TakeAndRestore(t *testing.T) {
	ctx := context.Background()
	th := mustOpenHub(t)
	dataDir := th.cfg.DataDir
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.signAll(t,
		be.resource(t, "One", protocol.VisibilityPublic),
		be.resource(t, "Two", protocol.VisibilityCommunity),
		be.resource(t, "Three", protocol.VisibilityPublic))...)
	blob := putTestBlob(t, dataDir, "an attachment of the hub")
	root := t.TempDir()

	first, err := TakeBackup(ctx, th.cfg, root, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range first.Files {
		names = append(names, f.Name)
	}
	if first.HubSeq != 3 || first.Nodes != 1 || strings.Join(names, " ") != "hub.db hub.key admin.token" || first.Blobs != 2 || first.BlobsCopied != 2 {
		t.Fatalf("first backup: %+v", first)
	}
	be.mustPush(t, be.signAll(t, be.resource(t, "Four", protocol.VisibilityPublic))...)
	second, err := TakeBackup(ctx, th.cfg, root, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Name <= first.Name || second.HubSeq != 4 || second.BlobsCopied != 0 {
		t.Fatalf("second backup: %+v (first %s)", second, first.Name)
	}
	keyID := th.key.ID
	th.close()

	t.Run("into an empty directory", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		m, err := RestoreBackup(ctx, cfg, filepath.Join(root, first.Name), nil)
		if err != nil || m.Name != first.Name {
			t.Fatalf("restore: %+v, %v", m, err)
		}
		if head, key := backupHead(t, cfg.DataDir); head != 3 || key != keyID {
			t.Errorf("restored hub: hub_seq %d, key %s; want 3, %s", head, key, keyID)
		}
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "blobs", blob[:2], blob[2:4], blob)); err != nil || string(b) != "an attachment of the hub" {
			t.Errorf("restored attachment: %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "blobs", blob[:2], blob[2:4], blob+blobMetaSuffix)); err != nil {
			t.Errorf("restored attachment's sidecar: %v", err)
		}
	})

	t.Run("a damaged backup is refused and nothing is replaced", func(t *testing.T) {
		damaged := filepath.Join(t.TempDir(), second.Name)
		if err := os.CopyFS(damaged, os.DirFS(filepath.Join(root, second.Name))); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(damaged, "hub.db")
		b, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(db, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dataDir, "hub.db"))
		cfg := DefaultConfig()
		cfg.DataDir = dataDir
		_, err = RestoreBackup(ctx, cfg, damaged, nil)
		if err == nil || !strings.Contains(err.Error(), "hub.db") || !strings.Contains(err.Error(), "sha256") {
			t.Fatalf("restore of a damaged backup: %v", err)
		}
		if after, _ := os.ReadFile(filepath.Join(dataDir, "hub.db")); string(after) != string(before) {
			t.Error("the refused restore changed hub.db")
		}
		if _, err := RestoreBackup(ctx, cfg, t.TempDir(), nil); !errors.Is(err, ErrNoBackup) {
			t.Errorf("restore from an empty directory: %v, want ErrNoBackup", err)
		}
	})

	t.Run("over the hub's own state, from the root: the newest", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DataDir = dataDir
		// Written after the last backup: set aside, not lost.
		be2 := mustOpenHubAt(t, cfg)
		n := be2.enrolNode(t, "fi")
		n.mustPush(t, n.signAll(t, n.resource(t, "Five", protocol.VisibilityPublic))...)
		be2.close()
		m, err := RestoreBackup(ctx, cfg, root, nil)
		if err != nil || m.Name != second.Name {
			t.Fatalf("restore: %+v, %v", m, err)
		}
		if head, _ := backupHead(t, dataDir); head != 4 {
			t.Errorf("restored hub_seq %d, want 4", head)
		}
		aside, _ := filepath.Glob(filepath.Join(dataDir, "pre-restore-*", "hub.db"))
		if len(aside) != 1 {
			t.Fatalf("the replaced database was not set aside: %v", aside)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "portal.db")); err == nil {
			t.Error("the portal's index was kept: it must be rebuilt from the restored database")
		}
	})

	t.Run("keep prunes to the newest", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.DataDir = dataDir
		third, err := TakeBackup(ctx, cfg, root, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dirBackups(root).backups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != second.Name+" "+third.Name {
			t.Errorf("backups kept: %v, want %s and %s", got, second.Name, third.Name)
		}
		if _, err := os.Stat(filepath.Join(root, backupBlobsDir, blob[:2], blob[2:4], blob)); err != nil {
			t.Errorf("pruning removed a shared attachment: %v", err)
		}
	})
}

// TestBackup_Schedule: a serving hub with a backup destination takes a
// backup every Backup.Every and keeps the newest Backup.Keep; each holds
// what was committed when it was taken.
func TestBackup_Schedule(t *testing.T) {
	defer func(d time.Duration) { minBackupEvery = d }(minBackupEvery)
	minBackupEvery = 50 * time.Millisecond
	root := t.TempDir()
	th := mustOpenHub(t, func(c *Config) { c.Backup = BackupConfig{To: root, Every: 300 * time.Millisecond, Keep: 2} })
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.signAll(t, be.resource(t, "One", protocol.VisibilityPublic))...)
	ctx := context.Background()
	store, err := openBackupStore(ctx, th.cfg, root)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var names []string
	for {
		if names, err = store.backups(ctx); err != nil {
			t.Fatal(err)
		}
		if len(names) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(names) != 2 {
		t.Fatalf("%d scheduled backups after 30 s: %v", len(names), names)
	}
	first := names[0]
	be.mustPush(t, be.signAll(t, be.resource(t, "Two", protocol.VisibilityPublic))...)
	head := th.head.Load()
	for {
		if names, err = store.backups(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, first) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(names) != 2 || slices.Contains(names, first) {
		t.Fatalf("backups kept: %v (the oldest, %s, should have gone)", names, first)
	}
	var m BackupManifest
	b, err := os.ReadFile(filepath.Join(root, names[len(names)-1], "backup.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.HubSeq != head {
		t.Errorf("the newest backup holds hub_seq %d, the hub %d", m.HubSeq, head)
	}
}
