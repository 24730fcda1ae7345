package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestSync_PushCheckpointAndRefusals(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	n.cfg.PushBatch = 3 // several batches
	var ids []string
	for i := range 7 {
		ids = append(ids, mustCreate(t, n, "r"+string(rune('a'+i))).ID)
	}
	hub.setRefuse(ids[4], protocol.CodeInvalidField)
	if err := n.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := mustStatus(t, n)
	if s.PushCheckpoint != 7 || s.Pending != 0 || s.LastPushAt == nil || s.LastPushError != "" {
		t.Fatalf("status = %+v", s)
	}
	if len(s.Refusals) != 1 || s.Refusals[0].ID != ids[4] || s.Refusals[0].Code != protocol.CodeInvalidField || s.Refusals[0].Source != "push" {
		t.Fatalf("refusals = %+v", s.Refusals)
	}
	if k := hub.pushCount(); k != 3 {
		t.Errorf("pushes = %d, want 3 batches", k)
	}
	if cp := hub.checkpoint("be"); cp.applied != 7 {
		t.Fatalf("hub checkpoint = %+v", cp)
	}
	e, _ := n.Get(t.Context(), ids[0])
	if e.State != StateSynced {
		t.Fatalf("state after push = %s", e.State)
	}

	t.Run("offline: the error is kept and the next push catches up", func(t *testing.T) {
		mustCreate(t, n, "offline")
		hub.setFailNext(1)
		if err := n.Push(t.Context()); err == nil {
			t.Fatal("push to a failing hub succeeded")
		}
		if s := mustStatus(t, n); s.LastPushError == "" || s.Pending != 1 {
			t.Fatalf("status = %+v", s)
		}
		if err := n.Push(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := mustStatus(t, n); s.LastPushError != "" || s.Pending != 0 || s.PushCheckpoint != 8 {
			t.Fatalf("status = %+v", s)
		}
	})

	t.Run("seq gap starts a new epoch", func(t *testing.T) {
		hub.mu.Lock()
		hub.nodes["be"].applied = 2 // the hub lost our seqs
		hub.mu.Unlock()
		before := mustStatus(t, n).Epoch
		mustCreate(t, n, "after hub restore")
		if err := n.Push(t.Context()); err != nil {
			t.Fatal(err)
		}
		s := mustStatus(t, n)
		if s.Epoch == before || s.HeadSeq != 1 || s.PushCheckpoint != 1 {
			t.Fatalf("status = %+v", s)
		}
		if cp := hub.checkpoint("be"); cp.epoch != s.Epoch || cp.applied != 1 {
			t.Fatalf("hub checkpoint = %+v", cp)
		}
	})
}

func TestSync_PullVerifiesSignatures(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	fi := hub.remoteKey(t, "fi")
	good := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("genuine")})

	// A change whose bytes were altered after signing.
	c := protocol.Change{Protocol: protocol.Version, Owner: "fi", Kind: protocol.KindResource, Version: 1, Seq: 2,
		UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: resourceBody("original")}
	c.ID, _ = protocol.NewEntityID("fi", time.Now())
	s, err := fi.Sign(&c)
	if err != nil {
		t.Fatal(err)
	}
	s.Change = bytes.Replace(s.Change, []byte("original"), []byte("tampered"), 1)
	hub.inject(&c, s)
	after := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("after")})

	// A key that enrolled after our first directory fetch.
	mustSync(t, n)
	se := hub.remoteKey(t, "se")
	late := hub.author(t, se, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("new key")})
	mustSync(t, n)

	for _, sg := range []protocol.Signed{good, after, late} {
		pc, _ := protocol.ParseChange(sg.Change)
		e, err := n.Get(t.Context(), pc.ID)
		if err != nil || e.State != StateRemote {
			t.Fatalf("Get %s = %+v, %v", pc.ID, e, err)
		}
	}
	if _, err := n.Get(t.Context(), c.ID); !errors.Is(err, protocol.ErrNotFound) {
		t.Fatalf("tampered change applied: %v", err)
	}
	st := mustStatus(t, n)
	if st.PullCursor != 4 || st.HubSeq != 4 {
		t.Fatalf("status = %+v", st)
	}
	if len(st.Refusals) != 1 || st.Refusals[0].Code != protocol.CodeBadSignature || st.Refusals[0].ID != c.ID ||
		st.Refusals[0].Source != "pull" || st.Refusals[0].HubSeq != 2 {
		t.Fatalf("refusals = %+v", st.Refusals)
	}

	t.Run("newer versions replace, older ones and tombstones follow the version", func(t *testing.T) {
		pc, _ := protocol.ParseChange(good.Change)
		hub.author(t, fi, protocol.Change{ID: pc.ID, Version: 3, Kind: protocol.KindResource, Deleted: true, Erased: true})
		mustSync(t, n)
		e, _ := n.Get(t.Context(), pc.ID)
		if !e.Deleted || !e.Erased || e.Body != nil || e.Version != 3 {
			t.Fatalf("after erasure = %+v", e)
		}
		hub.author(t, fi, protocol.Change{ID: pc.ID, Version: 2, Kind: protocol.KindResource, Body: resourceBody("older")})
		mustSync(t, n)
		if e, _ := n.Get(t.Context(), pc.ID); e.Version != 3 {
			t.Fatalf("older version applied: %+v", e)
		}
		if err := n.Housekeeping(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSync_ReadoptOwn(t *testing.T) {
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	n := openNode(t, dir)
	a := mustCreate(t, n, "kept by the hub")
	b := mustCreate(t, n, "updated elsewhere")
	mustSync(t, n)

	t.Run("own higher version is adopted, not pushed", func(t *testing.T) {
		hub.author(t, n.key, protocol.Change{ID: b.ID, Version: 5, Seq: 99, Kind: protocol.KindResource, Body: resourceBody("v5")})
		mustSync(t, n)
		e, _ := n.Get(t.Context(), b.ID)
		if e.Version != 5 || e.State != StateSynced || e.Owner != "be" {
			t.Fatalf("adopted = %+v", e)
		}
		if seqs := outboxSeqs(t, n); len(seqs) != 0 {
			t.Fatalf("adoption went into the outbox: %v", seqs)
		}
		u, err := n.Update(t.Context(), b.ID, resourceDraft("v6"))
		if err != nil || u.Version != 6 {
			t.Fatalf("update after adoption = %+v, %v", u, err)
		}
		mustSync(t, n)
	})

	t.Run("database lost: re-init re-adopts everything", func(t *testing.T) {
		n.Close()
		for _, f := range []string{dbFile, dbFile + "-wal", dbFile + "-shm"} {
			os.Remove(filepath.Join(dir, f))
		}
		if _, err := Init(t.Context(), dir, hub.URL(), hub.token("be"), testLogger(t)); err != nil {
			t.Fatal(err)
		}
		n = openNode(t, dir)
		mustSync(t, n)
		for id, v := range map[string]int64{a.ID: 1, b.ID: 6} {
			e, err := n.Get(t.Context(), id)
			if err != nil || e.Version != v || e.State != StateSynced {
				t.Fatalf("Get %s = %+v, %v", id, e, err)
			}
		}
		if seqs := outboxSeqs(t, n); len(seqs) != 0 {
			t.Fatalf("outbox = %v", seqs)
		}
		e, err := n.Update(t.Context(), a.ID, resourceDraft("edited after recovery"))
		if err != nil || e.Version != 2 {
			t.Fatalf("update = %+v, %v", e, err)
		}
		mustSync(t, n)
		if rep, err := n.Verify(t.Context()); err != nil || !rep.Equal {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if os.IsNotExist(err) {
		os.Remove(to)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
}

func TestSync_RestoredFromBackup(t *testing.T) {
	t.Run("writes after the restore", func(t *testing.T) { testRestored(t, true) })
	t.Run("no writes: the feed's checkpoint tells", func(t *testing.T) { testRestored(t, false) })
}

func testRestored(t *testing.T, write bool) {
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	backup := t.TempDir()
	n := openNode(t, dir)
	mustCreate(t, n, "before backup")
	mustSync(t, n)
	n.Close()
	for _, f := range []string{dbFile, dbFile + "-wal"} {
		copyFile(t, filepath.Join(dir, f), filepath.Join(backup, f))
	}

	n = openNode(t, dir)
	lost := mustCreate(t, n, "after backup")
	mustSync(t, n)
	epoch := mustStatus(t, n).Epoch
	n.Close()
	for _, f := range []string{dbFile, dbFile + "-wal"} {
		copyFile(t, filepath.Join(backup, f), filepath.Join(dir, f))
	}
	os.Remove(filepath.Join(dir, dbFile+"-shm"))

	n = openNode(t, dir)
	if s := mustStatus(t, n); s.Epoch != epoch || s.HeadSeq != 1 {
		t.Fatalf("restored status = %+v", s)
	}
	var fresh Entity
	if write {
		fresh = mustCreate(t, n, "written after restore") // seq 2 again, in the old epoch
	}
	mustSync(t, n)
	s := mustStatus(t, n)
	if s.Epoch == epoch {
		t.Fatal("no new epoch after restore")
	}
	if s.Pending != 0 {
		t.Fatalf("status = %+v", s)
	}
	if write {
		if row, ok := hub.row(fresh.ID); !ok || row.version != 1 {
			t.Fatalf("change written after restore did not reach the hub: %+v", row)
		}
	}
	e, err := n.Get(t.Context(), lost.ID)
	if err != nil || e.State != StateSynced {
		t.Fatalf("entity written after the backup was not re-adopted: %+v, %v", e, err)
	}
	if rep, err := n.Verify(t.Context()); err != nil || !rep.Equal {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestVerify(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	fi := hub.remoteKey(t, "fi")
	mustCreate(t, n, "one")
	hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("fi one")})
	mustSync(t, n)
	rep, err := n.Verify(t.Context())
	if err != nil || !rep.Equal || len(rep.Owners) != 2 || len(rep.Differences) != 0 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}

	missing := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("not pulled")})
	pending := mustCreate(t, n, "not pushed")
	later := time.Now().Add(time.Hour)
	d := resourceDraft("scheduled: not compared")
	d.PublishAt = &later
	if _, err := n.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	rep, err = n.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mc, _ := protocol.ParseChange(missing.Change)
	want := map[string]string{mc.ID: DiffMissingOnNode, pending.ID: DiffPending}
	if rep.Equal || rep.Pending != 1 || len(rep.Differences) != 2 {
		t.Fatalf("Verify = %+v", rep)
	}
	for _, df := range rep.Differences {
		if want[df.ID] != df.Type {
			t.Errorf("difference %+v, want type %s", df, want[df.ID])
		}
	}
	b, _ := json.Marshal(rep)
	t.Logf("report: %s", b)
	mustSync(t, n)
	if rep, err := n.Verify(t.Context()); err != nil || !rep.Equal {
		t.Fatalf("Verify after sync = %+v, %v", rep, err)
	}
}
