package hub

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestHub_OpenCreatesSecrets(t *testing.T) {
	th := mustOpenHub(t)
	for _, name := range []string{"hub.key", "admin.token"} {
		fi, err := os.Stat(filepath.Join(th.cfg.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", name, fi.Mode().Perm())
		}
	}
	tok, _ := os.ReadFile(filepath.Join(th.cfg.DataDir, "admin.token"))
	if strings.TrimSpace(string(tok)) != th.AdminToken() || len(th.AdminToken()) < 40 {
		t.Fatal("admin token file does not hold the admin token")
	}

	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = "configured-operator-token"
	th2 := mustOpenHubAt(t, cfg)
	if th2.AdminToken() != cfg.AdminToken {
		t.Fatal("configured admin token ignored")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "admin.token")); !os.IsNotExist(err) {
		t.Fatal("admin.token written although configured")
	}
}

func TestHub_Run(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	h, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()

	c := protocol.NewClient(protocol.ClientConfig{BaseURL: "http://" + ln.Addr().String(), Credential: h.AdminToken(), Timeout: 5 * time.Second})
	if _, err := c.Keys(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A long-poll in flight must not hold the shutdown for its whole wait.
	polled := make(chan error, 1)
	go func() {
		_, err := c.Changes(context.Background(), 0, 0, 30*time.Second)
		polled <- err
	}()
	eventually(t, 5*time.Second, func() bool {
		code, _ := get(t, "http://"+ln.Addr().String()+"/healthz", "")
		return code == 200
	}, "serving")
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	<-polled
}

func TestHub_SecondProcess(t *testing.T) {
	// cmd/bikfed opens the hub's database from a second process to register
	// nodes and publish while the server runs.
	th := mustOpenHub(t)
	fi := th.enrolNode(t, "fi")
	cli, err := Open(t.Context(), th.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if cli.AdminToken() != th.AdminToken() || cli.KeyID() != th.KeyID() {
		t.Fatal("second open sees other secrets")
	}
	if _, err := th.Publish(t.Context(), protocol.KindService, protocol.VisibilityPublic, serviceBody("One")); err != nil {
		t.Fatal(err)
	}
	id, err := cli.Publish(t.Context(), protocol.KindService, protocol.VisibilityPublic, serviceBody("Two"))
	if err != nil {
		t.Fatal(err)
	}
	if cli.HubSeq() != 2 {
		t.Fatalf("cli hub_seq %d", cli.HubSeq())
	}
	// The server notices within a housekeeping round and wakes long-polls.
	f, err := fi.client.Changes(t.Context(), 1, 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Changes) != 1 || mustChange(t, f.Changes[0].Signed).ID != id || mustChange(t, f.Changes[0].Signed).Seq != 2 {
		t.Fatalf("feed after cli publish = %+v", f)
	}
	tok, err := cli.RegisterNode(t.Context(), "se", "Sweden")
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, "se")
	if _, err := th.client("").Enrol(t.Context(), protocol.EnrolRequest{Node: "se", Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"}); err != nil {
		t.Fatalf("enrol at the server with a token from the cli: %v", err)
	}
}

func TestHub_Open_PrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	files := []string{"hub.db", "hub.db-wal", "hub.db-shm", "portal.db", "portal.db-wal", "portal.db-shm", "hub.key", "admin.token"}
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

	cfg := DefaultConfig()
	cfg.DataDir = dir
	th := mustOpenHubAt(t, cfg)
	checkModes(t)
	th.close()

	// A copy restored by hand, or a volume made by a container runtime.
	for _, name := range files {
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := open(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	checkModes(t)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "open to other users") {
		t.Errorf("no warning about the data directory's mode 0755:\n%s", logs.String())
	}
}
