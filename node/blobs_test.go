package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/file"
	"github.com/bikfed/bikfed/protocol"
)

// blobHub is the fake hub with the blob endpoints of the sync API in front,
// backed by a real staging area and a real store, so the node's uploads and
// fetches run against the same resumable, hash-checked path as the hub's.
type blobHub struct {
	*fakeHub
	srv     *httptest.Server
	store   blobstore.Store
	staging *blobstore.Staging

	mu sync.Mutex
	// puts records each PUT's offset and the bytes it delivered.
	puts []blobPut
	// events records uploads and pushes in order.
	events []string
	// breakAfter cuts the next PUT's body after this many bytes.
	breakAfter int64
	// refuse answers every PUT with this error.
	refuse *protocol.Error
	// failGets fails this many GETs with 503; corrupt serves other bytes.
	failGets int
	corrupt  bool
}

type blobPut struct {
	offset, received int64
}

func newBlobHub(t *testing.T) *blobHub {
	t.Helper()
	h := &blobHub{fakeHub: newFakeHub(t)}
	var err error
	if h.store, err = file.New(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if h.staging, err = blobstore.NewStaging(t.TempDir(), 0); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("HEAD "+protocol.PathBlobs+"{sha}", h.auth(h.head))
	mux.HandleFunc("PUT "+protocol.PathBlobs+"{sha}", h.auth(h.put))
	mux.HandleFunc("GET "+protocol.PathBlobs+"{sha}", h.auth(h.get))
	mux.HandleFunc("POST "+protocol.PathPush, func(w http.ResponseWriter, r *http.Request) {
		h.event("push")
		h.fakeHub.srv.Config.Handler.ServeHTTP(w, r)
	})
	mux.Handle("/", h.fakeHub.srv.Config.Handler)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *blobHub) URL() string { return h.srv.URL }

func (h *blobHub) event(e string) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

func (h *blobHub) head(w http.ResponseWriter, r *http.Request, _ string) {
	sha := r.PathValue("sha")
	if info, err := h.store.Stat(r.Context(), sha); err == nil {
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	if off := h.staging.Offset(sha); off > 0 {
		w.Header().Set(protocol.HeaderUploadOffset, strconv.FormatInt(off, 10))
	}
	w.WriteHeader(http.StatusNotFound)
}

// cutReader fails after n bytes, like a connection that drops.
type cutReader struct {
	r io.Reader
	n int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

func (h *blobHub) put(w http.ResponseWriter, r *http.Request, _ string) {
	sha := r.PathValue("sha")
	size, _ := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	h.mu.Lock()
	refuse, cut := h.refuse, h.breakAfter
	h.breakAfter = 0
	h.mu.Unlock()
	if refuse != nil {
		hubError(w, refuse)
		return
	}
	var body io.Reader = r.Body
	if cut > 0 {
		body = &cutReader{r: r.Body, n: cut}
	}
	staged, err := h.staging.Upload(r.Context(), sha, size, off, r.Header.Get("Content-Type"), body, h.store)
	h.mu.Lock()
	h.puts = append(h.puts, blobPut{offset: off, received: max(staged-off, 0)})
	h.events = append(h.events, "upload "+sha[:8])
	h.mu.Unlock()
	var oe *blobstore.OffsetError
	switch {
	case errors.As(err, &oe):
		hubError(w, protocol.Errorf(protocol.CodeConflict, "at %d", oe.Current))
	case errors.Is(err, blobstore.ErrHashMismatch):
		hubError(w, protocol.Errorf(protocol.CodeBlobHashMismatch, "mismatch"))
	case err != nil:
		hubError(w, protocol.Errorf(protocol.CodeUnavailable, "stopped at %d: %v", staged, err))
	default:
		hubJSON(w, protocol.BlobUpload{SHA256: sha, Size: size, Offset: staged, Complete: staged == size})
	}
}

func (h *blobHub) get(w http.ResponseWriter, r *http.Request, _ string) {
	h.mu.Lock()
	fail, corrupt := h.failGets > 0, h.corrupt
	if fail {
		h.failGets--
	}
	h.mu.Unlock()
	if fail {
		hubError(w, protocol.Errorf(protocol.CodeUnavailable, "down for the test"))
		return
	}
	rc, info, err := h.store.Open(r.Context(), r.PathValue("sha"))
	if err != nil {
		hubError(w, protocol.Errorf(protocol.CodeNotFound, "no blob"))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", info.MediaType)
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	if corrupt {
		b, _ := io.ReadAll(rc)
		b[len(b)/2] ^= 1
		w.Write(b)
		return
	}
	io.Copy(w, rc)
}

func newBlobNode(t *testing.T, h *blobHub, id string) *Node {
	t.Helper()
	dir := t.TempDir()
	if _, err := Init(t.Context(), dir, h.URL(), h.token(id), testLogger(t)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return openNode(t, dir)
}

// writeFile writes size pseudo-random bytes to a file and returns its path
// and hash.
func writeFile(t *testing.T, name string, seed uint64, size int) (string, string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return path, hex.EncodeToString(sum[:])
}

func readBlob(t *testing.T, n *Node, sha string) []byte {
	t.Helper()
	rc, _, err := n.OpenBlob(t.Context(), sha)
	if err != nil {
		t.Fatalf("OpenBlob %s: %v", sha, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNode_AttachPushFetch(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	fi := newBlobNode(t, h, "fi")
	path, sha := writeFile(t, "Handbook 2025.pdf", 1, 3<<20+17)

	ref, err := be.AttachFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if ref.SHA256 != sha || ref.Size != 3<<20+17 || ref.Name != "Handbook 2025.pdf" || ref.MediaType != "application/pdf" {
		t.Fatalf("AttachFile = %+v", ref)
	}
	d := resourceDraft("Handbook")
	d.Blobs = []protocol.BlobRef{ref}
	e, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)
	h.mu.Lock()
	events := strings.Join(h.events, ", ")
	h.mu.Unlock()
	if events != "upload "+sha[:8]+", push" {
		t.Errorf("hub saw %q, want the upload before the push", events)
	}
	// An update that keeps the attachment sends nothing again.
	d.Body = resourceBody("Handbook, second edition")
	if _, err := be.Update(t.Context(), e.ID, d); err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)
	if len(h.puts) != 1 {
		t.Errorf("%d PUTs, want 1: a blob the hub holds is not sent again", len(h.puts))
	}

	mustSync(t, fi)
	if n, err := fi.FetchBlobs(t.Context()); err != nil || n != 1 {
		t.Fatalf("FetchBlobs = %d, %v; want 1", n, err)
	}
	want, _ := os.ReadFile(path)
	if got := readBlob(t, fi, sha); !bytes.Equal(got, want) {
		t.Errorf("fi holds %d bytes, not the attached file", len(got))
	}
	if n, err := fi.FetchBlobs(t.Context()); err != nil || n != 0 {
		t.Errorf("second FetchBlobs = %d, %v; want nothing to do", n, err)
	}

	// The admin API serves it, with ranges.
	srv := httptest.NewServer(fi.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+PathAdminBlobs+"/"+sha, nil)
	req.Header.Set("Authorization", "Bearer "+fi.AdminToken())
	req.Header.Set("Range", "bytes=10-19")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, want[10:20]) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("admin GET = %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(part))
	}
}

func TestNode_UploadResumes(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	path, sha := writeFile(t, "talk.mp4", 2, 5<<20)
	ref, err := be.AttachFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	d := resourceDraft("Talk")
	d.Blobs = []protocol.BlobRef{ref}
	e, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.breakAfter = 2<<20 + 3
	h.mu.Unlock()
	// Retries are off in tests: the broken upload fails this push ...
	if err := be.Push(t.Context()); err == nil {
		t.Fatal("push after a broken upload succeeded")
	}
	if _, ok := h.row(e.ID); ok {
		t.Fatal("the change was pushed before its attachment was uploaded")
	}
	// ... and the next one resumes where the hub's bytes end.
	if err := be.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	puts := append([]blobPut(nil), h.puts...)
	h.mu.Unlock()
	if len(puts) != 2 || puts[1].offset != 2<<20+3 || puts[0].received+puts[1].received != ref.Size {
		t.Errorf("PUTs %+v: want the second to start at %d and the two to add up to %d", puts, 2<<20+3, ref.Size)
	}
	if _, err := h.store.Stat(t.Context(), sha); err != nil {
		t.Errorf("hub store: %v", err)
	}
	if _, ok := h.row(e.ID); !ok {
		t.Error("the change was not pushed after its attachment")
	}
}

func TestNode_UploadRefused(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	ref, err := be.Attach(t.Context(), strings.NewReader("plain text"), "notes.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	if ref.MediaType != "text/plain; charset=utf-8" {
		t.Errorf("media type %q", ref.MediaType)
	}
	d := resourceDraft("Notes")
	d.Blobs = []protocol.BlobRef{ref}
	e, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	other := mustCreate(t, be, "Without attachments")
	h.mu.Lock()
	h.refuse = protocol.Errorf(protocol.CodeQuotaExceeded, "node be uses 10 of its 10 bytes")
	h.mu.Unlock()
	// The refusal is the change's; the rest of the outbox goes out.
	if err := be.Push(t.Context()); err != nil {
		t.Fatalf("push: %v", err)
	}
	if _, ok := h.row(other.ID); !ok {
		t.Error("a refused attachment held back the rest of the outbox")
	}
	st := mustStatus(t, be)
	found := false
	for _, r := range st.Refusals {
		if r.ID == e.ID && r.Code == protocol.CodeQuotaExceeded && strings.Contains(r.Reason, "10 of its 10 bytes") {
			found = true
		}
	}
	if !found {
		t.Errorf("refusals %+v: want the quota refusal of %s", st.Refusals, e.ID)
	}
}

func TestNode_FetchFailuresRetry(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	fi := newBlobNode(t, h, "fi")
	path, sha := writeFile(t, "poster.png", 3, 100<<10)
	ref, err := be.AttachFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	d := resourceDraft("Poster")
	d.Blobs = []protocol.BlobRef{ref}
	if _, err := be.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)

	h.mu.Lock()
	h.failGets = 1
	h.mu.Unlock()
	mustSync(t, fi)
	now := time.Now().UTC()
	if n, err := fi.fetchBlobs(t.Context(), now); err != nil || n != 0 {
		t.Fatalf("fetch while the hub fails = %d, %v", n, err)
	}
	// The pull cursor moved on regardless; the fetch waits for its retry.
	if st := mustStatus(t, fi); st.PullLag != 0 {
		t.Errorf("pull lag %d after a failed fetch", st.PullLag)
	}
	list, err := fi.PendingFetches(t.Context())
	if err != nil || len(list) != 1 || list[0].Attempts != 1 || !strings.Contains(list[0].LastError, "unavailable") {
		t.Fatalf("pending fetches = %+v, %v", list, err)
	}
	if n, _ := fi.fetchBlobs(t.Context(), now); n != 0 {
		t.Errorf("fetch retried before its time")
	}
	// Bytes that do not hash right are refused as well.
	h.mu.Lock()
	h.corrupt = true
	h.mu.Unlock()
	if n, _ := fi.fetchBlobs(t.Context(), now.Add(time.Hour)); n != 0 {
		t.Errorf("corrupted blob accepted")
	}
	if _, _, err := fi.OpenBlob(t.Context(), sha); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("OpenBlob after a corrupted fetch = %v, want not found", err)
	}
	h.mu.Lock()
	h.corrupt = false
	h.mu.Unlock()
	if n, err := fi.fetchBlobs(t.Context(), now.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("retried fetch = %d, %v", n, err)
	}
	want, _ := os.ReadFile(path)
	if !bytes.Equal(readBlob(t, fi, sha), want) {
		t.Error("fetched blob differs")
	}
	if list, _ := fi.PendingFetches(t.Context()); len(list) != 0 {
		t.Errorf("pending after success: %+v", list)
	}
}

func TestNode_CollectBlobs(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	attach := func(s string) protocol.BlobRef {
		ref, err := be.Attach(t.Context(), strings.NewReader(s), s+".txt", "")
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	kept, dropped, unused := attach("kept"), attach("dropped"), attach("unused")
	d := resourceDraft("Kept")
	d.Blobs = []protocol.BlobRef{kept}
	if _, err := be.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	d = resourceDraft("Dropped")
	d.Blobs = []protocol.BlobRef{dropped}
	e, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, be)
	if _, err := be.Delete(t.Context(), e.ID, false); err != nil {
		t.Fatal(err)
	}
	has := func(ref protocol.BlobRef) bool {
		_, _, err := be.OpenBlob(t.Context(), ref.SHA256)
		return err == nil
	}
	now := time.Now().UTC()
	// Within the grace period: nothing goes.
	if n, err := be.collectBlobs(t.Context(), now, time.Hour); err != nil || n != 0 {
		t.Fatalf("collect = %d, %v; want nothing within the grace period", n, err)
	}
	// After it, the deleted entity's attachment and the unused one go.
	if n, err := be.collectBlobs(t.Context(), now.Add(2*time.Hour), time.Hour); err != nil || n != 2 {
		t.Fatalf("collect after the grace period = %d, %v; want 2", n, err)
	}
	if !has(kept) || has(dropped) || has(unused) {
		t.Errorf("after collection: kept %v, dropped %v, unused %v", has(kept), has(dropped), has(unused))
	}
}

func TestRateReader(t *testing.T) {
	const rate = 4 << 20
	start := time.Now()
	n, err := io.Copy(io.Discard, &rateReader{r: bytes.NewReader(make([]byte, 1<<20)), rate: rate, start: start})
	took := time.Since(start)
	if err != nil || n != 1<<20 {
		t.Fatalf("copied %d, %v", n, err)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("1 MiB at 4 MiB/s took %v, want about 250ms", took)
	}
}

func TestAttach_Refusals(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	for _, name := range []string{"", "..", "a/b", `a\b`, "../../etc/passwd", "x\x00y"} {
		if _, err := be.Attach(t.Context(), strings.NewReader("x"), name, ""); !errors.Is(err, protocol.ErrInvalidField) {
			t.Errorf("Attach named %q = %v, want invalid_field", name, err)
		}
	}
	if _, err := be.Attach(t.Context(), strings.NewReader("x"), "x.bin", "not a type"); !errors.Is(err, protocol.ErrInvalidField) {
		t.Errorf("Attach with a bad media type = %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(be.cfg.DataDir, blobsDir)); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left in the blob directory: %v", names)
	}
}

// TestGuessMediaType: the files the portal plays get the types its player
// needs whatever the machine's MIME tables say; others go by extension, then
// by content.
func TestGuessMediaType(t *testing.T) {
	for _, c := range []struct {
		name string
		head []byte
		want string
	}{
		{"clip.webm", nil, "video/webm"},
		{"CLIP.WEBM", nil, "video/webm"},
		{"clip.mp4", nil, "video/mp4"},
		{"clip.fr.vtt", []byte("WEBVTT\n"), "text/vtt"},
		{"guide.pdf", nil, "application/pdf"},
		{"noext", []byte("%PDF-1.7\n"), "application/pdf"},
	} {
		if got := guessMediaType(c.name, c.head); got != c.want {
			t.Errorf("guessMediaType(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
