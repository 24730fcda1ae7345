package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// blobPath is where a node's store keeps blob sha.
func blobPath(n *Node, sha string) string {
	return filepath.Join(n.cfg.DataDir, blobsDir, sha[0:2], sha[2:4], sha)
}

func hasBlobFile(n *Node, sha string) bool {
	_, err := os.Stat(blobPath(n, sha))
	return err == nil
}

// sharedAttachments has be publish two resources, the first with a private
// attachment and one the second shares, and fi pull and fetch both.
func sharedAttachments(t *testing.T, h *blobHub, be, fi *Node) (first Entity, private, shared protocol.BlobRef) {
	t.Helper()
	attach := func(s string) protocol.BlobRef {
		ref, err := be.Attach(t.Context(), strings.NewReader(s), strings.Fields(s)[0]+".txt", "")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	private, shared = attach("private notes on Jane Doe"), attach("shared handout")
	d := resourceDraft("Jane's story")
	d.Blobs = []protocol.BlobRef{private, shared}
	first, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	d = resourceDraft("Handout")
	d.Blobs = []protocol.BlobRef{shared}
	if _, err := be.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)
	mustSync(t, fi)
	if n, err := fi.FetchBlobs(t.Context()); err != nil || n != 2 {
		t.Fatalf("FetchBlobs = %d, %v; want 2", n, err)
	}
	return first, private, shared
}

func TestNode_ErasurePurgesAttachments(t *testing.T) {
	h := newBlobHub(t)
	be, fi := newBlobNode(t, h, "be"), newBlobNode(t, h, "fi")
	e, private, shared := sharedAttachments(t, h, be, fi)

	// The owner purges at once: no grace period for an erasure.
	if _, err := be.Delete(t.Context(), e.ID, true); err != nil {
		t.Fatal(err)
	}
	if hasBlobFile(be, private.SHA256) || !hasBlobFile(be, shared.SHA256) {
		t.Fatalf("be after its erasure: private %v, shared %v; want only the shared one", hasBlobFile(be, private.SHA256), hasBlobFile(be, shared.SHA256))
	}
	mustSync(t, be)
	if acks := h.acked("be"); len(acks) != 0 {
		t.Errorf("be acknowledged its own erasure: %v", acks)
	}

	// A puller purges when it applies the erasure, and acknowledges it.
	mustSync(t, fi)
	if hasBlobFile(fi, private.SHA256) || !hasBlobFile(fi, shared.SHA256) {
		t.Fatalf("fi after the erasure: private %v, shared %v; want only the shared one", hasBlobFile(fi, private.SHA256), hasBlobFile(fi, shared.SHA256))
	}
	if _, _, err := fi.OpenBlob(t.Context(), private.SHA256); err == nil {
		t.Error("fi still serves the erased attachment")
	}
	if got := readBlob(t, fi, shared.SHA256); string(got) != "shared handout" {
		t.Errorf("shared attachment = %q", got)
	}
	row, _ := h.row(e.ID)
	if acks := h.acked("fi"); !slices.Equal(acks, []int64{row.hubSeq}) {
		t.Fatalf("fi acknowledged %v, want [%d]", acks, row.hubSeq)
	}
	if k := count(t, fi.db.Reader(), `SELECT COUNT(*) FROM erasure_purges`); k != 0 {
		t.Errorf("%d erasures still noted after the acknowledgement", k)
	}
	// Nothing is sent twice.
	if err := fi.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	if acks := h.acked("fi"); len(acks) != 1 {
		t.Errorf("acknowledgements after another push: %v", acks)
	}
}

func TestNode_ErasedBlobNotServed(t *testing.T) {
	h := newBlobHub(t)
	be, fi := newBlobNode(t, h, "be"), newBlobNode(t, h, "fi")
	e, private, shared := sharedAttachments(t, h, be, fi)
	srv := httptest.NewServer(fi.Handler())
	defer srv.Close()
	get := func(sha string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+PathAdminBlobs+"/"+sha, nil)
		req.Header.Set("Authorization", "Bearer "+fi.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(private.SHA256); code != http.StatusOK {
		t.Fatalf("before the erasure: %d", code)
	}

	// The erasure applied, the purge not run yet (as after a crash between
	// the two): the file is still there, and not served.
	if _, err := fi.db.Writer().ExecContext(t.Context(), `UPDATE entities SET deleted = 1, erased = 1, body_own = NULL, change_z = NULL, blobs = NULL,
		version = version + 1, hub_seq = 99 WHERE id = ?`, e.ID); err != nil {
		t.Fatal(err)
	}
	if !hasBlobFile(fi, private.SHA256) {
		t.Fatal("the file is gone already: the test shows nothing")
	}
	if code := get(private.SHA256); code != http.StatusNotFound {
		t.Errorf("erased attachment before the purge: %d, want 404", code)
	}
	if code := get(shared.SHA256); code != http.StatusOK {
		t.Errorf("attachment another live entity references: %d, want 200", code)
	}

	// The node restarts and finishes the purge and the acknowledgement.
	fi.Close()
	fi = openNode(t, fi.cfg.DataDir)
	if err := fi.Housekeeping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if hasBlobFile(fi, private.SHA256) || !hasBlobFile(fi, shared.SHA256) {
		t.Errorf("after housekeeping: private %v, shared %v", hasBlobFile(fi, private.SHA256), hasBlobFile(fi, shared.SHA256))
	}
	if acks := h.acked("fi"); !slices.Equal(acks, []int64{99}) {
		t.Errorf("acknowledged %v, want [99]", acks)
	}
}

func TestNode_ErasureAckRetried(t *testing.T) {
	h := newBlobHub(t)
	be, fi := newBlobNode(t, h, "be"), newBlobNode(t, h, "fi")
	e, private, _ := sharedAttachments(t, h, be, fi)
	if _, err := be.Delete(t.Context(), e.ID, true); err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)
	if err := fi.Pull(t.Context()); err != nil {
		t.Fatal(err)
	}
	if hasBlobFile(fi, private.SHA256) {
		t.Fatal("not purged on pull")
	}
	// The hub is down when the node acknowledges: the purge stands, the
	// acknowledgement waits, across a restart.
	h.setFailNext(100)
	if err := fi.settleErasures(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.setFailNext(0)
	if acks := h.acked("fi"); len(acks) != 0 {
		t.Fatalf("acknowledged while the hub was down: %v", acks)
	}
	if k := count(t, fi.db.Reader(), `SELECT COUNT(*) FROM erasure_purges WHERE purged = 1`); k != 1 {
		t.Fatalf("%d purged erasures waiting, want 1", k)
	}
	fi.Close()
	fi = openNode(t, fi.cfg.DataDir)
	done := make(chan struct{})
	ctx, stop := context.WithCancel(t.Context())
	go func() { fi.erasureLoop(ctx); close(done) }()
	waitFor(t, 10*time.Second, "the acknowledgement", func() bool { return len(h.acked("fi")) == 1 })
	stop()
	<-done
	row, _ := h.row(e.ID)
	if acks := h.acked("fi"); acks[0] != row.hubSeq {
		t.Errorf("acknowledged %v, want [%d]", acks, row.hubSeq)
	}
}

func TestNode_HubErasure(t *testing.T) {
	h := newBlobHub(t)
	be, fi := newBlobNode(t, h, "be"), newBlobNode(t, h, "fi")
	e, private, shared := sharedAttachments(t, h, be, fi)
	// be no longer runs its node; the hub erases its entity.
	c := protocol.Change{Protocol: protocol.Version, ID: e.ID, Kind: protocol.KindResource, Owner: "be", Version: e.Version + 1,
		Seq: 1, UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Deleted: true, Erased: true}
	s, err := h.key.Sign(&c)
	if err != nil {
		t.Fatal(err)
	}
	h.inject(&c, s)
	mustSync(t, fi)
	got, err := fi.Get(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Erased || got.Version != e.Version+1 {
		t.Fatalf("fi holds %+v, want the hub's erasure", got)
	}
	if hasBlobFile(fi, private.SHA256) || !hasBlobFile(fi, shared.SHA256) {
		t.Errorf("after the hub's erasure: private %v, shared %v", hasBlobFile(fi, private.SHA256), hasBlobFile(fi, shared.SHA256))
	}
	if refusals := mustStatus(t, fi).Refusals; len(refusals) != 0 {
		t.Errorf("refused: %+v", refusals)
	}
}
