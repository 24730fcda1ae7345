package node

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestNode_Open_PrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	files := []string{"node.db", "node.db-wal", "node.db-shm", "node.key", "admin.token"}
	checkModes := func(t *testing.T) {
		t.Helper()
		for _, name := range files {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s: mode %04o, want 0600", name, perm)
			}
		}
	}
	n := openNode(t, dir)
	checkModes(t)
	n.Close()

	for _, name := range files {
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	n, err := Open(t.Context(), testConfig(dir), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	checkModes(t)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "open to other users") {
		t.Errorf("no warning about the data directory's mode 0755:\n%s", logs.String())
	}
}
