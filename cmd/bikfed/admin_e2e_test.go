package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/dirlock"
	"github.com/bikfed/bikfed/node"
)

// hubEntity reads how many live entities of owner the hub holds.
func hubEntities(nw *network, owner string) (int, error) {
	st, err := nw.status()
	if err != nil {
		return 0, err
	}
	for _, n := range st.Nodes {
		if n.Node == owner {
			return n.Entities, nil
		}
	}
	return 0, fmt.Errorf("no node %s in the hub's status", owner)
}

func logContains(t testing.TB, p *proc, want string) error {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), want) {
		return fmt.Errorf("%s log has no %q", p.name, want)
	}
	return nil
}

// One process writes hub.db: while the hub runs, the one-shot hub commands
// go through its admin API; a second server on the same data directory is
// refused; with no server the commands open the database themselves, without
// the portal.
func TestE2E_HubCommandsUseRunningServer(t *testing.T) {
	nw := newNetwork(t)
	if held, err := dirlock.Held(nw.hubDir, hubLockFile); err != nil || !held {
		t.Fatalf("the running hub does not hold %s: held=%v err=%v", hubLockFile, held, err)
	}

	second := startProc(t, "hub2", nw.dir, "hub", "serve", "--data", nw.hubDir, "--listen", freeAddr(t))
	select {
	case <-second.done:
	case <-time.After(30 * time.Second):
		t.Fatal("a second hub on the same data directory kept running")
	}
	if err := logContains(t, second, "in use by another bikfed process"); err != nil {
		t.Fatal(err)
	}

	be := nw.addNode("be")
	waitFor(t, 5*time.Second, "the API call in the hub's log", func() error {
		return logContains(t, nw.hub, `msg="admin request" component=hub method=POST path=/admin/v1/nodes`)
	})
	nw.startNode(be)
	mustCLI(t, nil, "hub", "quota", "be", "--set", "3GiB", "--data", nw.hubDir)
	if err := logContains(t, nw.hub, `path=/admin/v1/nodes/be/quota`); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, mustJSON(t, communityPost("hub").Body), "hub", "publish", "--kind", "post", "--visibility", "community", "--file", "-", "--data", nw.hubDir)
	if !strings.HasPrefix(out, "hub:") {
		t.Fatalf("publish printed %q, want a hub entity id", out)
	}
	if !strings.Contains(mustCLI(t, nil, "hub", "status", "--data", nw.hubDir), "be") {
		t.Fatal("hub status does not list be")
	}

	nw.hub.stop()
	if held, err := dirlock.Held(nw.hubDir, hubLockFile); err != nil || held {
		t.Fatalf("lock still held after the hub stopped: held=%v err=%v", held, err)
	}
	if err := os.Remove(filepath.Join(nw.hubDir, "portal.db")); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(mustCLI(t, nil, "hub", "register-node", "fi", "--data", nw.hubDir))
	if !strings.HasPrefix(tok, "fi.") {
		t.Fatalf("register-node without a server printed %q", tok)
	}
	if out := mustCLI(t, nil, "hub", "quota", "be", "--data", nw.hubDir); !strings.Contains(out, "3GiB (own quota)") {
		t.Fatalf("quota without a server: %q", out)
	}
	if _, err := os.Stat(filepath.Join(nw.hubDir, "portal.db")); !os.IsNotExist(err) {
		t.Fatalf("a one-shot command opened the portal: %v", err)
	}
	nw.startHub()
	fi := &testNode{id: "fi", dir: filepath.Join(nw.dir, "fi")}
	mustCLI(t, nil, "node", "init", "--data", fi.dir, "--hub", nw.hubURL, "--token", tok)
}

// The node commands go through a running node's admin API, so the node
// pushes what they write at once instead of at its next scheduled push.
func TestE2E_NodeCommandsUseRunningServer(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", "--push-schedule", "@every 1h", "--pull-schedule", "@every 1h")
	nw.startNode(be)
	waitFor(t, 30*time.Second, "node to run", func() error {
		held, err := dirlock.Held(be.dir, nodeLockFile)
		if err == nil && !held {
			err = fmt.Errorf("%s not held", nodeLockFile)
		}
		return err
	})
	out := mustCLI(t, mustJSON(t, communityPost("be").Body), "node", "create", "--kind", "post", "--visibility", "community", "--file", "-", "--data", be.dir)
	var ent node.Entity
	if err := json.Unmarshal([]byte(out), &ent); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "the running node to push the created entity", func() error {
		n, err := hubEntities(nw, "be")
		if err == nil && n != 1 {
			err = fmt.Errorf("hub holds %d entities of be", n)
		}
		return err
	})
	got := mustCLI(t, nil, "node", "get", ent.ID, "--data", be.dir)
	if !strings.Contains(got, ent.ID) {
		t.Fatalf("get: %s", got)
	}
	if !strings.Contains(mustCLI(t, nil, "node", "list", "--data", be.dir), ent.ID) {
		t.Fatal("list does not show the entity")
	}
	if err := nw.verify(be); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, nil, "node", "delete", ent.ID, "--data", be.dir)
	waitFor(t, 10*time.Second, "the running node to push the delete", func() error {
		n, err := hubEntities(nw, "be")
		if err == nil && n != 0 {
			err = fmt.Errorf("hub holds %d live entities of be", n)
		}
		return err
	})
	if _, err := runCLI(t, nil, "node", "init", "--data", be.dir, "--hub", nw.hubURL, "--token", nw.register("be")); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("init while the node runs: %v", err)
	}

	be.proc.stop()
	if st := nodeStatus(t, be); st.Node != "be" {
		t.Fatalf("status without a server: %+v", st)
	}
	mustCLI(t, mustJSON(t, communityPost("be").Body), "node", "create", "--kind", "post", "--visibility", "community", "--file", "-", "--data", be.dir)
	if st := nodeStatus(t, be); st.Pending != 1 {
		t.Fatalf("pending after an offline create: %d, want 1", st.Pending)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
