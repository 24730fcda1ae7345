package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
)

// TestE2E_PrivateFiles starts a hub and a node in data directories made
// 0755 beforehand, as a container volume or an operator's mkdir makes them,
// and checks every database, key and token they hold is 0600, and that
// files loosened by hand are made private again at the next start.
func TestE2E_PrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	dir := t.TempDir()
	hubDir, beDir := filepath.Join(dir, "hub"), filepath.Join(dir, "be")
	for _, d := range []string{hubDir, beDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	nw := &network{t: t, dir: dir, hubDir: hubDir, hubAdr: addr, hubURL: "http://" + addr, nodes: map[string]*testNode{}}
	nw.startHub()
	be := &testNode{id: "be", dir: beDir}
	mustCLI(t, nil, "node", "init", "--data", be.dir, "--hub", nw.hubURL, "--token", nw.register("be"))
	nw.nodes["be"] = be
	nw.startNode(be)
	importDrafts(t, be, []sampledata.Draft{communityPost("be")})
	waitFor(t, 30*time.Second, "the post to reach the hub", func() error { return nw.verify(be) })

	hubFiles := []string{"hub.db", "hub.db-wal", "hub.db-shm", "portal.db", "portal.db-wal", "portal.db-shm", "hub.key", "admin.token"}
	nodeFiles := []string{"node.db", "node.db-wal", "node.db-shm", "node.key", "admin.token"}
	check := func(t *testing.T) {
		t.Helper()
		for d, names := range map[string][]string{hubDir: hubFiles, beDir: nodeFiles} {
			for _, name := range names {
				fi, err := os.Stat(filepath.Join(d, name))
				if err != nil {
					t.Error(err)
					continue
				}
				if perm := fi.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s/%s: mode %04o, want 0600", filepath.Base(d), name, perm)
				}
			}
		}
	}
	check(t)
	for _, p := range []*proc{nw.hub, be.proc} {
		b, _ := os.ReadFile(p.log)
		if !strings.Contains(string(b), "open to other users") {
			t.Errorf("%s did not warn that its data directory is 0755", p.name)
		}
	}

	// Loosen every file while the processes are stopped; the next start
	// makes them private again.
	be.proc.stop()
	nw.hub.stop()
	for d, names := range map[string][]string{hubDir: hubFiles, beDir: nodeFiles} {
		for _, name := range names {
			if err := os.Chmod(filepath.Join(d, name), 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	nw.startHub()
	nw.startNode(be)
	waitFor(t, 30*time.Second, "the node to sync again", func() error {
		if _, err := os.Stat(filepath.Join(beDir, "node.db-wal")); err != nil {
			return fmt.Errorf("node not open yet: %w", err)
		}
		return nw.verify(be)
	})
	check(t)
}
