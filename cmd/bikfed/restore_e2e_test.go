package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
)

// copyDir copies a stopped process's data directory, as a backup would.
func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}

// replaceDir replaces dir with a copy of backup.
func replaceDir(t testing.TB, dir, backup string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, dir)
}

const restoreTestBody = `{"title":%q,"description":"A guide kept by its owner through a restore.","language":"en","languages":["en"],"age_min":9,"age_max":12,"audiences":["children"],"topics":["privacy"],"type":"guide"}`

func updateTitle(t testing.TB, n *testNode, id, title string) node.Entity {
	t.Helper()
	out := mustCLI(t, []byte(fmt.Sprintf(restoreTestBody, title)), "node", "update", id, "--data", n.dir, "--kind", "resource", "--file", "-")
	var ent node.Entity
	if err := json.Unmarshal([]byte(out), &ent); err != nil {
		t.Fatal(err)
	}
	return ent
}

func getEntity(t testing.TB, n *testNode, id string) (node.Entity, error) {
	t.Helper()
	out, err := runCLI(t, nil, "node", "get", id, "--data", n.dir)
	if err != nil {
		return node.Entity{}, err
	}
	var ent node.Entity
	if err := json.Unmarshal([]byte(out), &ent); err != nil {
		return node.Entity{}, fmt.Errorf("node get: %v\n%s", err, out)
	}
	return ent, nil
}

// The hub is stopped and its data directory replaced by a copy taken
// earlier, while it was stopped; the nodes wrote in between. They notice the
// hub went back in time, send again what it lost, pull again what they
// missed, and converge, and no status says a node is in step while its
// cursor is past the hub's head.
func TestE2E_HubRestoredFromCopy(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	nl := nw.addNode("nl", fastSync...)
	importDrafts(t, be, sampledata.Synthetic("be", 20, 1))
	importDrafts(t, fi, sampledata.Synthetic("fi", 10, 2))
	for _, n := range []*testNode{be, fi, nl} {
		nw.startNode(n)
	}
	waitFor(t, 60*time.Second, "first convergence", func() error { return verifyAll(nw) })

	nw.hub.stop()
	backup := filepath.Join(nw.dir, "hub-copy")
	copyDir(t, nw.hubDir, backup)
	nw.startHub()

	// Written after the copy: new entities and an edit.
	importDrafts(t, be, sampledata.Synthetic("be", 15, 3))
	importDrafts(t, fi, sampledata.Synthetic("fi", 8, 4))
	edited := firstID(mustCLI(t, nil, "node", "list", "--data", be.dir, "--owner", "be", "--limit", "1000"), "be:")
	updateTitle(t, be, edited, "Edited after the copy")
	waitFor(t, 60*time.Second, "convergence after the copy", func() error { return verifyAll(nw) })
	before, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	want := before.Entities

	nw.hub.stop()
	replaceDir(t, nw.hubDir, backup)
	restartedAt := time.Now()
	nw.startHub()
	restored, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	if restored.HubSeq >= before.HubSeq || restored.Entities >= want {
		t.Fatalf("the copy is not older: hub_seq %d, %d entities (before: %d, %d)", restored.HubSeq, restored.Entities, before.HubSeq, want)
	}
	// nl writes to the restored hub until its head passes the cursors the
	// others had: the head alone then no longer shows that they are ahead.
	extra := int(before.HubSeq-restored.HubSeq) + 5
	importDrafts(t, nl, sampledata.Synthetic("nl", extra, 5))
	want += extra

	samples := 0
	waitFor(t, 120*time.Second, "convergence after the restore", func() error {
		var said []node.Status
		for _, n := range []*testNode{be, fi, nl} {
			said = append(said, nodeStatus(t, n))
			samples++
		}
		// The hub's head only grows: read after the node statuses, it is at
		// least what it was when they were taken.
		st, err := nw.status()
		if err != nil {
			return err
		}
		for _, ns := range st.Nodes {
			if ns.PullCursor > st.HubSeq && ns.CursorAhead == 0 {
				t.Fatalf("hub status shows %s in step (pull lag %d) with its cursor %d past the head %d", ns.Node, ns.PullLag, ns.PullCursor, st.HubSeq)
			}
		}
		for _, s := range said {
			heard := s.LastPullAt != nil && s.LastPullAt.After(restartedAt)
			if heard && !s.Reconciling && s.PullLag == 0 && s.PullCursor > st.HubSeq {
				t.Fatalf("%s says 0 behind with its cursor %d past the hub's head %d: %+v", s.Node, s.PullCursor, st.HubSeq, s)
			}
		}
		if st.Entities != want {
			return fmt.Errorf("hub holds %d entities, want %d", st.Entities, want)
		}
		return verifyAll(nw)
	})
	t.Logf("%d node statuses read during the repair", samples)
	for _, n := range []*testNode{be, fi} {
		if s := nodeStatus(t, n); s.HubRewoundAt == nil || s.Reconciling || s.Pending != 0 {
			t.Errorf("%s after the repair: %+v", n.id, s)
		}
	}
	for _, n := range []*testNode{be, fi, nl} {
		ent, err := getEntity(t, n, edited)
		if err != nil || !strings.Contains(string(ent.Body), "Edited after the copy") {
			t.Errorf("%s holds the edit made after the copy as %+v, %v", n.id, ent, err)
		}
	}
}

// A node is stopped, its data directory replaced by an older copy, and
// edited and deleted offline before it starts again: the versions it signs
// are ones the hub already holds. They are re-based onto the hub's and reach
// every node as new versions.
func TestE2E_RestoredNodeEditedOffline(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	importDrafts(t, be, sampledata.Synthetic("be", 5, 1))
	nw.startNode(be)
	nw.startNode(fi)
	waitFor(t, 60*time.Second, "first convergence", func() error { return verifyAll(nw) })
	list := mustCLI(t, nil, "node", "list", "--data", be.dir, "--owner", "be", "--limit", "1000")
	var own []string
	for _, id := range strings.Split(ids(list), "\n") {
		if strings.HasPrefix(id, "be:") {
			own = append(own, id)
		}
	}
	if len(own) < 2 {
		t.Fatalf("be owns %v", own)
	}
	edit, del := own[0], own[1]

	be.proc.stop()
	backup := filepath.Join(nw.dir, "be-copy")
	copyDir(t, be.dir, backup)
	nw.startNode(be)
	updateTitle(t, be, edit, "Second version, after the copy")
	updateTitle(t, be, edit, "Third version, after the copy")
	updateTitle(t, be, del, "Second version, after the copy")
	waitFor(t, 60*time.Second, "the edits after the copy to converge", func() error { return verifyAll(nw) })

	be.proc.stop()
	replaceDir(t, be.dir, backup)
	if ent := updateTitle(t, be, edit, "Edited offline on the restored node"); ent.Version != 2 {
		t.Fatalf("the restored node signed v%d, want the reused v2 this test is about", ent.Version)
	}
	mustCLI(t, nil, "node", "delete", del, "--data", be.dir)
	nw.startNode(be)

	waitFor(t, 60*time.Second, "the offline edit and delete to reach every node", func() error {
		for _, n := range []*testNode{be, fi} {
			e, err := getEntity(t, n, edit)
			if err != nil {
				return err
			}
			if e.Version != 4 || !strings.Contains(string(e.Body), "Edited offline on the restored node") {
				return fmt.Errorf("%s holds %s as v%d %s", n.id, edit, e.Version, e.Body)
			}
			d, err := getEntity(t, n, del)
			if err != nil {
				return err
			}
			if d.Version != 3 || !d.Deleted {
				return fmt.Errorf("%s holds %s as v%d deleted=%t", n.id, del, d.Version, d.Deleted)
			}
		}
		return verifyAll(nw)
	})
	if s := nodeStatus(t, be); s.Pending != 0 || len(s.Refusals) != 0 {
		t.Errorf("be after reconnecting: %+v", s)
	}
}

// A node whose clock is 72 hours off schedules publication by the hub's
// clock: embargoed content does not leave it early, nor late.
func TestE2E_NodeClockSkew(t *testing.T) {
	for _, skew := range []string{"72h", "-72h"} {
		t.Run(skew, func(t *testing.T) {
			nw := newNetwork(t)
			token := nw.register("be")
			// The node's machine, its CLI included, has the wrong clock; the
			// hub's (started and used above) is right.
			t.Setenv(testClockOffsetEnv, skew)
			be := &testNode{id: "be", dir: filepath.Join(nw.dir, "be"), extra: append(fastSync, "--publish-schedule", "@every 1s")}
			mustCLI(t, nil, "node", "init", "--data", be.dir, "--hub", nw.hubURL, "--token", token)
			nw.nodes[be.id] = be
			nw.startNode(be)
			waitFor(t, 30*time.Second, "be to measure the hub's clock", func() error {
				if s := nodeStatus(t, be); !s.ClockMeasured || !s.ClockSkewed {
					return fmt.Errorf("clock: measured %t, skewed %t", s.ClockMeasured, s.ClockSkewed)
				}
				return nil
			})
			publishAt := time.Now().Add(5 * time.Second).UTC().Truncate(time.Second)
			body := fmt.Sprintf(restoreTestBody, "Embargoed until the day itself")
			out := mustCLI(t, []byte(body), "node", "create", "--data", be.dir, "--kind", "resource",
				"--publish-at", publishAt.Format(time.RFC3339), "--file", "-")
			var ent node.Entity
			if err := json.Unmarshal([]byte(out), &ent); err != nil {
				t.Fatal(err)
			}
			if ent.State != "scheduled" {
				t.Fatalf("embargoed resource is %q, want scheduled", ent.State)
			}
			live := func() bool {
				resp, err := http.Get(nw.hubURL + "/api/v1/entities/" + ent.ID)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			}
			for time.Now().Before(publishAt.Add(-time.Second)) {
				if st, err := nw.status(); err != nil || st.Entities != 0 {
					t.Fatalf("the hub holds embargoed content before %s: %+v, %v", publishAt, st, err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			waitFor(t, 20*time.Second, "the embargoed resource to go live", func() error {
				if !live() {
					return fmt.Errorf("not live")
				}
				return nil
			})
		})
	}
}

// The hub keeps its attachments and its backups in MinIO. A backup is
// taken with "bikfed hub backup" while the hub serves and the nodes write;
// the nodes write more; the hub is stopped and "bikfed hub restore" puts
// the backup in place. The restored hub is older than what the nodes hold:
// they send again what it lost, nothing is duplicated or lost, and every
// node verifies equal with it.
func TestE2E_HubBackupRestore(t *testing.T) {
	nw, _ := s3Network(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	importDrafts(t, be, sampledata.Synthetic("be", 20, 11))
	importDrafts(t, fi, sampledata.Synthetic("fi", 10, 12))
	for _, n := range []*testNode{be, fi} {
		nw.startNode(n)
	}
	waitFor(t, 60*time.Second, "first convergence", func() error { return verifyAll(nw) })

	// Taken while the hub serves and be is sending.
	importDrafts(t, be, sampledata.Synthetic("be", 10, 13))
	out := mustCLI(t, nil, "hub", "backup", "--to", "s3:", "--data", nw.hubDir)
	if !strings.HasPrefix(out, "backup ") || !strings.Contains(out, "hub_seq ") {
		t.Fatalf("hub backup printed %q", out)
	}
	if _, err := runCLI(t, nil, "hub", "restore", "--from", "s3:", "--data", nw.hubDir); err == nil {
		t.Fatal("restore over a running hub was not refused")
	}

	// Written after the backup: new entities and an edit.
	waitFor(t, 60*time.Second, "convergence after the backup", func() error { return verifyAll(nw) })
	importDrafts(t, be, sampledata.Synthetic("be", 12, 14))
	importDrafts(t, fi, sampledata.Synthetic("fi", 6, 15))
	edited := firstID(mustCLI(t, nil, "node", "list", "--data", fi.dir, "--owner", "fi", "--limit", "1000"), "fi:")
	updateTitle(t, fi, edited, "Edited after the backup")
	waitFor(t, 60*time.Second, "convergence before the loss", func() error { return verifyAll(nw) })
	before, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}

	nw.hub.stop()
	out = mustCLI(t, nil, "hub", "restore", "--from", "s3:", "--data", nw.hubDir)
	if !strings.HasPrefix(out, "restored backup ") {
		t.Fatalf("hub restore printed %q", out)
	}
	if aside, _ := filepath.Glob(filepath.Join(nw.hubDir, "pre-restore-*", "hub.db")); len(aside) != 1 {
		t.Errorf("the replaced database was not set aside: %v", aside)
	}
	nw.startHub()
	restored, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	if restored.HubSeq >= before.HubSeq || restored.Entities >= before.Entities {
		t.Fatalf("the backup is not older: hub_seq %d, %d entities (before the loss: %d, %d)", restored.HubSeq, restored.Entities, before.HubSeq, before.Entities)
	}
	waitFor(t, 120*time.Second, "convergence after the restore", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		if st.Entities != before.Entities {
			return fmt.Errorf("hub holds %d entities, want %d", st.Entities, before.Entities)
		}
		return verifyAll(nw)
	})
	for _, n := range []*testNode{be, fi} {
		ent, err := getEntity(t, n, edited)
		if err != nil || !strings.Contains(string(ent.Body), "Edited after the backup") {
			t.Errorf("%s holds the edit made after the backup as %+v, %v", n.id, ent, err)
		}
	}
}
