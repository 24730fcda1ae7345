package hub

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// TestHub_CrashProcess is not a test: run by TestHub_Crash in a child
// process, it serves a hub until killed.
func TestHub_CrashProcess(t *testing.T) {
	dir := os.Getenv("BIKFED_HUB_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process for TestHub_Crash")
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	h, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "addr.tmp")
	os.WriteFile(tmp, []byte(ln.Addr().String()), 0o600)
	os.Rename(tmp, filepath.Join(dir, "addr"))
	h.Run(context.Background(), ln) // until SIGKILL
}

// TestHub_Crash kills a hub process with SIGKILL while a node pushes, then
// checks that every acknowledged change survived, that nothing was applied
// twice, and that hub_seq continues after the last committed one.
func TestHub_Crash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	// Register and enrol through a first, in-process open.
	setup := mustOpenHubAt(t, cfg)
	be := setup.enrolNode(t, "be")
	setup.close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHub_CrashProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "BIKFED_HUB_CRASH_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr []byte
	eventually(t, 20*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "addr"))
		addr = b
		return err == nil
	}, "child hub listening")
	cc := protocol.DefaultClientConfig("http://" + string(addr))
	cc.Credential, cc.Retries, cc.Timeout = be.cred, 0, 10*time.Second
	be.client = protocol.NewClient(cc)

	const batches, size = 40, 50
	var all [][]protocol.Signed
	for range batches {
		var b []protocol.Signed
		for range size {
			b = append(b, be.sign(t, be.resource(t, "crash", protocol.VisibilityPublic)))
		}
		all = append(all, b)
	}
	// Push in the background; kill the hub once a few batches are in,
	// whatever is in flight at that moment.
	var acked atomic.Int64
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		for _, b := range all {
			res, err := be.client.Push(context.Background(), be.header(t, b), b)
			if err != nil || res.Applied != size {
				return
			}
			acked.Add(1)
		}
	}()
	eventually(t, 20*time.Second, func() bool { return acked.Load() >= 5 }, "pushes acknowledged")
	cmd.Process.Signal(os.Kill)
	<-pushed
	cmd.Wait()
	t.Logf("%d of %d batches acknowledged before SIGKILL", acked.Load(), batches)

	th := mustOpenHubAt(t, cfg)
	var rows, maxSeq int64
	th.db.Reader().QueryRow(`SELECT COUNT(*), COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&rows, &maxSeq)
	if rows < acked.Load()*size {
		t.Fatalf("%d rows after crash, %d acknowledged", rows, acked.Load()*size)
	}
	if rows != maxSeq || th.HubSeq() != maxSeq {
		t.Fatalf("rows %d, max hub_seq %d, head %d: a change applied twice or a seq lost", rows, maxSeq, th.HubSeq())
	}
	// Re-pushing everything applies exactly what was missing.
	be.client = th.client(be.cred)
	total := int(rows)
	for _, b := range all {
		res, err := be.client.Push(context.Background(), be.header(t, b), b)
		if err != nil {
			if errors.Is(err, protocol.ErrSeqGap) {
				t.Fatalf("seq gap after crash: %v", err)
			}
			t.Fatal(err)
		}
		total += res.Applied
	}
	if total != batches*size || th.HubSeq() != int64(batches*size) {
		t.Fatalf("after re-push: %d applied in all, head %d", total, th.HubSeq())
	}
}
