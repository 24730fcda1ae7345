package node

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// hubTitle is the title of the hub's copy of an entity, "" for a tombstone.
func hubTitle(t *testing.T, hub *fakeHub, id string) (version int64, title string, deleted bool) {
	t.Helper()
	row, ok := hub.row(id)
	if !ok {
		t.Fatalf("the hub does not hold %s", id)
	}
	c, err := protocol.ParseChange(row.signed.Change)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deleted {
		return c.Version, "", true
	}
	var r protocol.Resource
	if err := json.Unmarshal(c.Body, &r); err != nil {
		t.Fatal(err)
	}
	return c.Version, r.Title, false
}

func mustEqual(t *testing.T, n *Node) {
	t.Helper()
	rep, err := n.Verify(t.Context())
	if err != nil || !rep.Equal {
		t.Fatalf("Verify %s = %+v, %v", n.ID(), rep, err)
	}
}

// A hub restored from an older copy lost changes that nodes had pushed and
// pulled. The owners send them again as new versions, and a node whose cursor
// the restored hub's history does not reach pulls again from where it does,
// so changes written after the restore are not skipped even once the hub's
// head has passed the old cursor.
func TestSync_HubRestoredFromCopy(t *testing.T) {
	hub := newFakeHub(t)
	be := newTestNode(t, hub, "be")
	fi := newTestNode(t, hub, "fi")
	// nl only reads: nothing of its own was lost, so only the hub's
	// incarnation tells it that its cursor came from a history the hub lost.
	nl := newTestNode(t, hub, "nl")
	a := mustCreate(t, be, "a")
	mustCreate(t, fi, "f1")
	mustSync(t, be)
	mustSync(t, fi)
	mustSync(t, be)
	mustSync(t, nl)

	// The copy is taken while the hub is stopped, so it does not know the
	// incarnation that starts next.
	backup := hub.snapshot()
	hub.restart() // a plain restart is no restore
	for _, n := range []*Node{be, fi, nl} {
		mustSync(t, n)
		if s := mustStatus(t, n); s.HubRewoundAt != nil || s.Reconciling {
			t.Fatalf("%s after a plain restart: %+v", n.ID(), s)
		}
	}
	if s := mustStatus(t, be); s.HeadSeq != 1 {
		t.Fatalf("be started a new epoch at a plain restart: %+v", s)
	}
	lost := mustCreate(t, be, "written after the copy")
	if _, err := be.Update(t.Context(), a.ID, resourceDraft("a, edited after the copy")); err != nil {
		t.Fatal(err)
	}
	f2 := mustCreate(t, fi, "f2, after the copy")
	mustSync(t, be)
	mustSync(t, fi)
	mustSync(t, be)
	mustSync(t, nl)
	before := mustStatus(t, be)

	hub.restore(backup)
	// Another node writes to the restored hub until its head is past be's
	// cursor: the head alone no longer shows be is ahead.
	se := hub.remoteKey(t, "se")
	var fresh []protocol.Signed
	for i := range 5 {
		fresh = append(fresh, hub.author(t, se, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("se " + string(rune('a'+i)))}))
	}
	if hub.snapshot().hubSeq <= before.PullCursor {
		t.Fatalf("the restored hub's head %d should be past be's cursor %d", hub.snapshot().hubSeq, before.PullCursor)
	}

	// nl pulls again from where the copy ends, not from 0: the restored hub
	// knows the incarnation before the one nl pulled from last.
	if err := nl.probeHub(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := mustStatus(t, nl); s.HubRewoundAt == nil || s.PullCursor != backup.hubSeq {
		t.Fatalf("nl after finding the hub restored: cursor %d, want the copy's head %d: %+v", s.PullCursor, backup.hubSeq, s)
	}

	if err := be.Pull(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := mustStatus(t, be)
	if s.HubRewoundAt == nil || !s.Reconciling {
		t.Fatalf("be did not notice the hub went back in time: %+v", s)
	}
	if s.PullLag == 0 && !s.Reconciling && s.Pending == 0 {
		t.Fatalf("status says in step while the hub lacks be's changes: %+v", s)
	}
	mustSync(t, be)
	mustSync(t, fi)
	mustSync(t, be)
	mustSync(t, fi)
	mustSync(t, nl)

	for _, n := range []*Node{be, nl} {
		for _, sg := range fresh {
			c, _ := protocol.ParseChange(sg.Change)
			if _, err := n.Get(t.Context(), c.ID); err != nil {
				t.Fatalf("%s missed %s, written after the restore: %v", n.ID(), c.ID, err)
			}
		}
	}
	if s := mustStatus(t, nl); s.HubRewoundAt == nil {
		t.Fatalf("nl did not notice the hub went back in time: %+v", s)
	}
	if v, title, _ := hubTitle(t, hub, lost.ID); v < 2 || title != "written after the copy" {
		t.Fatalf("lost entity at the hub: v%d %q", v, title)
	}
	if v, title, _ := hubTitle(t, hub, a.ID); v < 3 || title != "a, edited after the copy" {
		t.Fatalf("lost edit at the hub: v%d %q", v, title)
	}
	if _, title, _ := hubTitle(t, hub, f2.ID); title != "f2, after the copy" {
		t.Fatalf("fi's lost entity at the hub: %q", title)
	}
	mustEqual(t, be)
	mustEqual(t, fi)
	mustEqual(t, nl)
	if s := mustStatus(t, be); s.Reconciling || s.Pending != 0 || s.PullLag != 0 {
		t.Fatalf("be after the repair: %+v", s)
	}
}

// restoreNodeDB stops a node, swaps its database for an earlier copy and
// opens it again.
func restoreNodeDB(t *testing.T, n *Node, dir, backup string) *Node {
	t.Helper()
	n.Close()
	for _, f := range []string{dbFile, dbFile + "-wal"} {
		copyFile(t, filepath.Join(backup, f), filepath.Join(dir, f))
	}
	os.Remove(filepath.Join(dir, dbFile+"-shm"))
	return openNode(t, dir)
}

func backupNodeDB(t *testing.T, n *Node, dir string) (string, *Node) {
	t.Helper()
	n.Close()
	backup := t.TempDir()
	for _, f := range []string{dbFile, dbFile + "-wal"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(backup, f))
	}
	return backup, openNode(t, dir)
}

// A node restored from a backup and edited offline before it reconnects:
// the edit and the delete reuse versions the hub already holds. Whichever of
// push and pull comes first, they are re-based onto the hub's versions and
// reach every node as new versions; nothing shows as synced while it differs
// from the hub.
func TestSync_RestoredNodeEditedOffline(t *testing.T) {
	for _, pullFirst := range []bool{false, true} {
		name := "push first"
		if pullFirst {
			name = "pull first"
		}
		t.Run(name, func(t *testing.T) {
			hub := newFakeHub(t)
			dir := initNode(t, hub, "be")
			be := openNode(t, dir)
			fi := newTestNode(t, hub, "fi")
			e := mustCreate(t, be, "e v1")
			f := mustCreate(t, be, "f v1")
			mustSync(t, be)
			backup, be2 := backupNodeDB(t, be, dir)
			be = be2
			// e reaches v3 and f v2 at the hub: the offline edit of e is
			// older than the hub's, the offline delete of f the same version.
			for _, w := range []struct{ id, title string }{
				{e.ID, "e v2, after the backup"}, {e.ID, "e v3, after the backup"}, {f.ID, "f v2, after the backup"},
			} {
				if _, err := be.Update(t.Context(), w.id, resourceDraft(w.title)); err != nil {
					t.Fatal(err)
				}
			}
			mustSync(t, be)
			mustSync(t, fi)

			be = restoreNodeDB(t, be, dir, backup)
			if _, err := be.Update(t.Context(), e.ID, resourceDraft("e, edited offline")); err != nil {
				t.Fatal(err)
			}
			if _, err := be.Delete(t.Context(), f.ID, false); err != nil {
				t.Fatal(err)
			}
			if pullFirst {
				if err := be.Pull(t.Context()); err != nil {
					t.Fatal(err)
				}
				if err := be.Push(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			mustSync(t, be)
			mustSync(t, be)
			mustSync(t, fi)

			ve, title, _ := hubTitle(t, hub, e.ID)
			if ve != 4 || title != "e, edited offline" {
				t.Fatalf("hub holds e as v%d %q, want the offline edit as v4", ve, title)
			}
			vf, _, deleted := hubTitle(t, hub, f.ID)
			if vf != 3 || !deleted {
				t.Fatalf("hub holds f as v%d deleted=%t, want the offline delete as v3", vf, deleted)
			}
			for _, n := range []*Node{be, fi} {
				got, err := n.Get(t.Context(), e.ID)
				if err != nil || got.Version != 4 || !strings.Contains(string(got.Body), "e, edited offline") {
					t.Fatalf("%s holds e = %+v, %v", n.ID(), got, err)
				}
				if got, err := n.Get(t.Context(), f.ID); err != nil || got.Version != 3 || !got.Deleted {
					t.Fatalf("%s holds f = %+v, %v", n.ID(), got, err)
				}
				mustEqual(t, n)
			}
			if s := mustStatus(t, be); s.Pending != 0 || s.Reconciling || len(s.Refusals) != 0 {
				t.Fatalf("be status = %+v", s)
			}
		})
	}
}

// A node restored from a backup taken before it erased an entity, and edited
// offline: the erasure the hub holds is final. The offline edit never
// becomes a version after it; the node applies the erasure over its edit,
// and the edit's text does not stay on the node nor reach fi.
func TestSync_RestoredNodeEditsErasedEntity(t *testing.T) {
	for _, pullFirst := range []bool{false, true} {
		name := "push first"
		if pullFirst {
			name = "pull first"
		}
		t.Run(name, func(t *testing.T) {
			hub := newFakeHub(t)
			dir := initNode(t, hub, "be")
			be := openNode(t, dir)
			fi := newTestNode(t, hub, "fi")
			e := mustCreate(t, be, "Personal story of Jane Doe")
			mustSync(t, be)
			backup, be2 := backupNodeDB(t, be, dir)
			be = be2
			if _, err := be.Delete(t.Context(), e.ID, true); err != nil {
				t.Fatal(err)
			}
			mustSync(t, be)
			mustSync(t, fi)

			be = restoreNodeDB(t, be, dir, backup)
			// Two edits: one reuses the erasure's version, one goes past it.
			for _, title := range []string{"Jane Doe, edited offline", "Jane Doe, edited offline again"} {
				if _, err := be.Update(t.Context(), e.ID, resourceDraft(title)); err != nil {
					t.Fatal(err)
				}
			}
			if pullFirst {
				if err := be.Pull(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			mustSync(t, be)
			mustSync(t, be)
			mustSync(t, fi)

			if v, _, deleted := hubTitle(t, hub, e.ID); v != 2 || !deleted || !hub.rows[e.ID].erased {
				t.Fatalf("hub holds v%d deleted=%t erased=%t, want the erasure v2", v, deleted, hub.rows[e.ID].erased)
			}
			for _, n := range []*Node{be, fi} {
				got, err := n.Get(t.Context(), e.ID)
				if err != nil || got.Version != 2 || !got.Erased || got.Body != nil {
					t.Fatalf("%s holds %+v, %v; want the erasure", n.ID(), got, err)
				}
				mustEqual(t, n)
			}
			var k int
			if err := be.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE CAST(change AS TEXT) LIKE '%edited offline%'`).Scan(&k); err != nil || k != 0 {
				t.Fatalf("be's outbox still carries the offline edit (%d, %v)", k, err)
			}
			s := mustStatus(t, be)
			if s.Pending != 0 || s.Reconciling {
				t.Fatalf("be status = %+v", s)
			}
			// Pushed first, the edit is refused for the erasure, and says so;
			// pulled first, the edits became erasures before they left.
			for _, rf := range s.Refusals {
				if pullFirst || rf.Code != protocol.CodeErased || rf.ID != e.ID {
					t.Fatalf("be shows refusal %+v", rf)
				}
			}
		})
	}
}

// A change signed by a key the node's key directory does not list, even
// fetched again, is not dropped: the page applies up to it, the cursor stops
// before it and the pull is retried, so the change arrives once the
// directory lists its key.
func TestSync_PullHoldsUnknownKey(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	fi := hub.remoteKey(t, "fi")
	before := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("before")})
	unlisted, err := protocol.GenerateKey("se")
	if err != nil {
		t.Fatal(err)
	}
	held := hub.author(t, unlisted, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("by a key not listed yet")})
	after := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("after")})
	id := func(s protocol.Signed) string {
		c, _ := protocol.ParseChange(s.Change)
		return c.ID
	}

	if err := n.Pull(t.Context()); !errors.Is(err, errHeldBack) {
		t.Fatalf("Pull = %v, want it held back", err)
	}
	if _, err := n.Get(t.Context(), id(before)); err != nil {
		t.Fatalf("the change before the held one was not applied: %v", err)
	}
	if _, err := n.Get(t.Context(), id(after)); err == nil {
		t.Fatal("a change past the held one was applied: the cursor passed it")
	}
	s := mustStatus(t, n)
	if s.PullCursor != 1 || s.LastPullError == "" || s.PullLag == 0 {
		t.Fatalf("status = %+v", s)
	}

	hub.mu.Lock()
	hub.addKey(unlisted)
	hub.mu.Unlock()
	mustSync(t, n)
	for _, sg := range []protocol.Signed{held, after} {
		if _, err := n.Get(t.Context(), id(sg)); err != nil {
			t.Fatalf("%s not applied once its key was listed: %v", id(sg), err)
		}
	}
	if s := mustStatus(t, n); s.PullCursor != 3 || s.LastPullError != "" {
		t.Fatalf("status = %+v", s)
	}
}

// A node's clock is not the network's: publication follows the hub's clock,
// measured from its answers, and a clock more than a minute off shows in
// status. A one-shot process uses the offset the serving one stored.
func TestNode_ClockFollowsHub(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local time.Duration // the node's clock minus the real time
	}{
		{"node 72h ahead", 72 * time.Hour},
		{"node 72h behind", -72 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newFakeHub(t)
			dir := initNode(t, hub, "be")
			cfg := testConfig(dir)
			cfg.Clock = func() time.Time { return time.Now().Add(tc.local) }
			open := func() *Node {
				n, err := Open(t.Context(), cfg, testLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			}
			n := open()
			mustSync(t, n)
			s := mustStatus(t, n)
			if !s.ClockMeasured || !s.ClockSkewed || (s.ClockOffsetSeconds+tc.local.Seconds()) > 5 || (s.ClockOffsetSeconds+tc.local.Seconds()) < -5 {
				t.Fatalf("clock in status = %+v", s)
			}
			if d := n.now().Sub(time.Now()); d.Abs() > 5*time.Second {
				t.Fatalf("network time is %s off the hub's", d)
			}

			// Embargoed for an hour of the hub's time.
			later := time.Now().Add(time.Hour).UTC()
			d := resourceDraft("embargoed")
			d.PublishAt = &later
			emb, err := n.Create(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			// Due for a minute of the hub's time.
			earlier := time.Now().Add(-time.Minute).UTC()
			d = resourceDraft("due")
			d.PublishAt = &earlier
			due, err := n.Create(t.Context(), d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := n.PublishDue(t.Context(), n.now()); err != nil {
				t.Fatal(err)
			}
			mustSync(t, n)
			if _, ok := hub.row(emb.ID); ok {
				t.Fatal("embargoed content reached the hub before its time")
			}
			if _, ok := hub.row(due.ID); !ok {
				t.Fatal("content due by the hub's clock did not reach the hub")
			}

			n.Close()
			one := open() // a one-shot command: it has not spoken to the hub
			d = resourceDraft("embargoed, one-shot")
			d.PublishAt = &later
			got, err := one.Create(t.Context(), d)
			if err != nil || got.State != StateScheduled {
				t.Fatalf("one-shot create = %+v, %v", got, err)
			}
			if s := mustStatus(t, one); !s.ClockSkewed {
				t.Fatalf("one-shot status = %+v", s)
			}
		})
	}
}
