package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/internal/miniotest"
	"github.com/bikfed/bikfed/protocol"
)

// testBlob is an attachment held in memory, for tests.
type testBlob struct {
	data []byte
	ref  protocol.BlobRef
}

func newTestBlob(seed uint64, size int, name, mediaType string) testBlob {
	r := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	return testBlob{data: data, ref: protocol.BlobRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(size), MediaType: mediaType, Name: name}}
}

func (n *testNode) upload(tb testing.TB, b testBlob) protocol.BlobResult {
	tb.Helper()
	res, err := n.client.UploadBlob(context.Background(), b.ref, bytes.NewReader(b.data), nil)
	if err != nil {
		tb.Fatalf("upload %s: %v", b.ref.Name, err)
	}
	return res
}

// putRaw sends a hand-made PUT /v1/blobs request.
func putRaw(tb testing.TB, hubURL, bearer, sha string, size, offset int64, name, mediaType string, body []byte) (int, http.Header, []byte) {
	tb.Helper()
	u := fmt.Sprintf("%s%s%s?size=%d&offset=%d", hubURL, protocol.PathBlobs, sha, size, offset)
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set(protocol.HeaderBlobName, name)
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func head(tb testing.TB, url, bearer string) *http.Response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func errorCode(tb testing.TB, body []byte) protocol.Code {
	tb.Helper()
	var er protocol.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil || er.Error == nil {
		tb.Fatalf("not an error body: %s", body)
	}
	return er.Error.Code
}

func stagedParts(tb testing.TB, th *testHub) []string {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(th.cfg.DataDir, "staging"))
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBlobs_UploadThenPush(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	fi := th.enrolNode(t, "fi")
	pdf := newTestBlob(1, 300<<10, "handbook.pdf", "application/pdf")

	res := be.upload(t, pdf)
	if res.Skipped || res.Resumed != 0 || res.Sent != pdf.ref.Size {
		t.Fatalf("first upload = %+v, want the whole blob sent from 0", res)
	}
	resp := head(t, th.url+protocol.PathBlobs+pdf.ref.SHA256, be.cred)
	if resp.StatusCode != http.StatusOK || resp.ContentLength != pdf.ref.Size {
		t.Fatalf("HEAD after upload = %s, length %d", resp.Status, resp.ContentLength)
	}
	// Another node with the same file sends nothing.
	if res := fi.upload(t, pdf); !res.Skipped || res.Sent != 0 {
		t.Errorf("upload of a blob the hub holds = %+v, want skipped", res)
	}

	c := be.resource(t, "Handbook", protocol.VisibilityPublic)
	c.Blobs = []protocol.BlobRef{pdf.ref}
	missing := newTestBlob(2, 1000, "missing.pdf", "application/pdf")
	c2 := be.resource(t, "Missing", protocol.VisibilityPublic)
	c2.Blobs = []protocol.BlobRef{missing.ref}
	c3 := be.resource(t, "Wrong size", protocol.VisibilityPublic)
	wrong := pdf.ref
	wrong.Size++
	c3.Blobs = []protocol.BlobRef{wrong}
	out := be.mustPush(t, be.signAll(t, c, c2, c3)...)
	if out.Applied != 1 || len(out.Refused) != 2 {
		t.Fatalf("push = %+v, want 1 applied and 2 refused", out)
	}
	if r := out.Refused[0]; r.Code != protocol.CodeBlobMissing || r.ID != c2.ID || !strings.Contains(r.Reason, missing.ref.SHA256) {
		t.Errorf("refusal %+v, want blob_missing naming the blob", r)
	}
	if r := out.Refused[1]; r.Code != protocol.CodeInvalidField || !strings.Contains(r.Reason, "blobs[0].size") {
		t.Errorf("refusal %+v, want invalid_field on blobs[0].size", r)
	}

	// Pulling nodes fetch it and get the same bytes.
	body, size, mt, err := fi.client.GetBlob(t.Context(), pdf.ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if !bytes.Equal(got, pdf.data) || size != pdf.ref.Size || mt != "application/pdf" {
		t.Errorf("GetBlob = %d bytes (%d, %q), want the upload", len(got), size, mt)
	}
	if _, _, _, err := fi.client.GetBlob(t.Context(), missing.ref.SHA256); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("GetBlob of a blob never uploaded = %v, want not_found", err)
	}
	u, err := th.BlobUsage(t.Context(), "be")
	if err != nil || u.Used != pdf.ref.Size {
		t.Errorf("usage of be = %+v, %v; want the blob it uploaded first", u, err)
	}
	if u, _ := th.BlobUsage(t.Context(), "fi"); u.Used != 0 {
		t.Errorf("usage of fi = %+v; a blob counts for its first uploader only", u)
	}
}

func TestBlobs_Resume(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	video := newTestBlob(3, 3<<20+11, "talk.mp4", "video/mp4")
	half := int64(1<<20 + 5)

	// The first attempt delivers only part of the file.
	status, hd, body := putRaw(t, th.url, be.cred, video.ref.SHA256, video.ref.Size, 0, "talk.mp4", "video/mp4", video.data[:half])
	if status != http.StatusOK || hd.Get(protocol.HeaderUploadOffset) != strconv.FormatInt(half, 10) {
		t.Fatalf("partial PUT = %d %s %s", status, hd.Get(protocol.HeaderUploadOffset), body)
	}
	resp := head(t, th.url+protocol.PathBlobs+video.ref.SHA256, be.cred)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get(protocol.HeaderUploadOffset) != strconv.FormatInt(half, 10) {
		t.Fatalf("HEAD of a partial upload = %s, offset %q", resp.Status, resp.Header.Get(protocol.HeaderUploadOffset))
	}
	// A PUT at the wrong offset is told where to go on.
	status, hd, body = putRaw(t, th.url, be.cred, video.ref.SHA256, video.ref.Size, 0, "talk.mp4", "video/mp4", video.data)
	if status != http.StatusConflict || errorCode(t, body) != protocol.CodeConflict || hd.Get(protocol.HeaderUploadOffset) != strconv.FormatInt(half, 10) {
		t.Fatalf("PUT at offset 0 = %d %s (offset %q)", status, body, hd.Get(protocol.HeaderUploadOffset))
	}

	res := be.upload(t, video)
	if res.Resumed != half || res.Sent != video.ref.Size-half || res.Skipped {
		t.Fatalf("upload after a partial one = %+v, want resumed at %d sending the rest", res, half)
	}
	if parts := stagedParts(t, th); len(parts) != 0 {
		t.Errorf("staged parts left: %v", parts)
	}
	store, _, _ := th.blobStore(t.Context())
	if info, err := store.Stat(t.Context(), video.ref.SHA256); err != nil || info.Size != video.ref.Size {
		t.Errorf("store has %+v, %v", info, err)
	}
}

func TestBlobs_Refusals(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) {
		c.Blobs.MaxSize = 1 << 20
		c.Blobs.Quota = 2 << 20
	})
	be := th.enrolNode(t, "be")
	ok := newTestBlob(4, 1000, "ok.pdf", "application/pdf")

	t.Run("HashMismatch", func(t *testing.T) {
		other := newTestBlob(5, 1000, "x.pdf", "application/pdf")
		for _, data := range [][]byte{other.data, ok.data[:999]} {
			status, _, body := putRaw(t, th.url, be.cred, ok.ref.SHA256, 1000, 0, "ok.pdf", "application/pdf", append(data[:len(data):len(data)], make([]byte, 1000-len(data))...))
			if status != http.StatusUnprocessableEntity || errorCode(t, body) != protocol.CodeBlobHashMismatch {
				t.Fatalf("PUT of other bytes = %d %s", status, body)
			}
		}
		if resp := head(t, th.url+protocol.PathBlobs+ok.ref.SHA256, be.cred); resp.StatusCode != http.StatusNotFound || resp.Header.Get(protocol.HeaderUploadOffset) != "" {
			t.Errorf("HEAD after a mismatch = %s, offset %q; want nothing kept", resp.Status, resp.Header.Get(protocol.HeaderUploadOffset))
		}
		if parts := stagedParts(t, th); len(parts) != 0 {
			t.Errorf("staged parts left: %v", parts)
		}
		store, _, _ := th.blobStore(t.Context())
		if _, err := store.Stat(t.Context(), ok.ref.SHA256); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("store after a mismatch: %v", err)
		}
		// The client says so too.
		bad := ok.ref
		bad.SHA256 = other.ref.SHA256
		if _, err := be.client.UploadBlob(t.Context(), bad, bytes.NewReader(ok.data), nil); !errors.Is(err, protocol.ErrBlobHashMismatch) {
			t.Errorf("UploadBlob of mismatched bytes = %v", err)
		}
	})

	t.Run("PathTraversalName", func(t *testing.T) {
		for _, name := range []string{"..%2F..%2Fetc%2Fpasswd", "a%2Fb", "..", "%2E%2E", "evil%0Aname", ""} {
			status, _, body := putRaw(t, th.url, be.cred, ok.ref.SHA256, 1000, 0, name, "application/pdf", ok.data)
			if status != http.StatusUnprocessableEntity || errorCode(t, body) != protocol.CodeInvalidField || !strings.Contains(string(body), protocol.HeaderBlobName) {
				t.Errorf("PUT named %q = %d %s", name, status, body)
			}
		}
		// And in a change: refused by validation, like any invalid field.
		c := be.resource(t, "Traversal", protocol.VisibilityPublic)
		ref := ok.ref
		ref.Name = "../../etc/passwd"
		c.Blobs = []protocol.BlobRef{ref}
		raw, _ := json.Marshal(c)
		_, err := protocol.ParseChange(raw)
		if !errors.Is(err, protocol.ErrInvalidField) || !strings.Contains(err.Error(), "blobs[0].name") {
			t.Errorf("change with a traversal name: %v", err)
		}
	})

	t.Run("TooLarge", func(t *testing.T) {
		big := newTestBlob(6, 1<<20+1, "big.mp4", "video/mp4")
		status, _, body := putRaw(t, th.url, be.cred, big.ref.SHA256, big.ref.Size, 0, "big.mp4", "video/mp4", big.data)
		if status != http.StatusRequestEntityTooLarge || errorCode(t, body) != protocol.CodeRecordTooLarge || !strings.Contains(string(body), "1048576") {
			t.Errorf("PUT over the size limit = %d %s, want record_too_large naming the limit", status, body)
		}
		if _, err := be.client.UploadBlob(t.Context(), big.ref, bytes.NewReader(big.data), nil); !errors.Is(err, protocol.ErrRecordTooLarge) {
			t.Errorf("UploadBlob over the limit = %v", err)
		}
	})

	t.Run("Quota", func(t *testing.T) {
		a := newTestBlob(7, 900<<10, "a.mp4", "video/mp4")
		b := newTestBlob(8, 900<<10, "b.mp4", "video/mp4")
		c := newTestBlob(9, 900<<10, "c.mp4", "video/mp4")
		be.upload(t, a)
		// b half-way: an upload in progress counts too.
		putRaw(t, th.url, be.cred, b.ref.SHA256, b.ref.Size, 0, "b.mp4", "video/mp4", b.data[:1000])
		status, _, body := putRaw(t, th.url, be.cred, c.ref.SHA256, c.ref.Size, 0, "c.mp4", "video/mp4", c.data)
		if status != http.StatusRequestEntityTooLarge || errorCode(t, body) != protocol.CodeQuotaExceeded {
			t.Fatalf("PUT over the quota = %d %s", status, body)
		}
		msg := string(body)
		if !strings.Contains(msg, strconv.Itoa(2<<20)) || !strings.Contains(msg, strconv.Itoa(2*900<<10)) {
			t.Errorf("quota message %s does not give usage and limit", msg)
		}
		// The operator raises be's quota; the upload goes through.
		req, _ := http.NewRequest(http.MethodPut, th.url+"/admin/v1/nodes/be/quota", strings.NewReader(`{"quota":3145728}`))
		req.Header.Set("Authorization", "Bearer "+th.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("set quota: %v %v", resp, err)
		}
		resp.Body.Close()
		be.upload(t, c)
		u, _ := th.BlobUsage(t.Context(), "be")
		if !u.Custom || u.Quota != 3<<20 || u.Used != 3*900<<10 {
			t.Errorf("usage = %+v", u)
		}
	})

	t.Run("Requests", func(t *testing.T) {
		for _, tc := range []struct {
			name, bearer, sha, query string
			status                   int
		}{
			{"no credential", "", ok.ref.SHA256, "size=1000", http.StatusUnauthorized},
			{"bad hash", be.cred, "../../etc/passwd", "size=1000", http.StatusBadRequest},
			{"upper-case hash", be.cred, strings.ToUpper(ok.ref.SHA256), "size=1000", http.StatusBadRequest},
			{"no size", be.cred, ok.ref.SHA256, "", http.StatusBadRequest},
			{"offset past size", be.cred, ok.ref.SHA256, "size=1000&offset=1001", http.StatusBadRequest},
			{"body past size", be.cred, ok.ref.SHA256, "size=10", http.StatusBadRequest},
		} {
			req, _ := http.NewRequest(http.MethodPut, th.url+protocol.PathBlobs+url.PathEscape(tc.sha)+"?"+tc.query, bytes.NewReader(ok.data))
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			req.Header.Set(protocol.HeaderBlobName, "ok.pdf")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: %s, want %d", tc.name, resp.Status, tc.status)
			}
		}
	})
}

// publishWithBlob pushes a resource of visibility vis with one attachment.
func publishWithBlob(t *testing.T, n *testNode, b testBlob, vis protocol.Visibility, publishAt *time.Time) *protocol.Change {
	t.Helper()
	n.upload(t, b)
	c := n.resource(t, "With "+b.ref.Name, vis)
	c.Blobs = []protocol.BlobRef{b.ref}
	c.PublishAt = publishAt
	if res := n.mustPush(t, n.sign(t, c)); res.Applied != 1 {
		t.Fatalf("push: %+v", res)
	}
	return c
}

func TestBlobs_PublicFiles(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	pub := newTestBlob(10, 100<<10, "guide.pdf", "application/pdf")
	comm := newTestBlob(11, 1000, "minutes.pdf", "application/pdf")
	later := newTestBlob(12, 1000, "embargoed.pdf", "application/pdf")
	gone := newTestBlob(13, 1000, "gone.pdf", "application/pdf")
	never := newTestBlob(14, 1000, "never.pdf", "application/pdf")

	publishWithBlob(t, be, pub, protocol.VisibilityPublic, nil)
	publishWithBlob(t, be, comm, protocol.VisibilityCommunity, nil)
	future := time.Now().Add(time.Hour).UTC()
	publishWithBlob(t, be, later, protocol.VisibilityPublic, &future)
	del := publishWithBlob(t, be, gone, protocol.VisibilityPublic, nil)
	d := be.next(del)
	d.Deleted, d.Body = true, nil
	be.mustPush(t, be.sign(t, d))

	th.index(t) // public files are what the portal's index shows
	fileURL := func(b testBlob) string { return th.url + protocol.PathFiles + b.ref.SHA256 + "/" + b.ref.Name }
	status, body := get(t, fileURL(pub), "")
	if status != http.StatusOK || !bytes.Equal(body, pub.data) {
		t.Fatalf("public file = %d, %d bytes", status, len(body))
	}
	resp, err := http.Get(fileURL(pub))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hd := resp.Header
	if hd.Get("Content-Type") != "application/pdf" || resp.ContentLength != pub.ref.Size || hd.Get("ETag") != `"`+pub.ref.SHA256+`"` ||
		hd.Get("Accept-Ranges") != "bytes" || !strings.Contains(hd.Get("Content-Disposition"), "guide.pdf") || hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("public file headers: %v (length %d)", hd, resp.ContentLength)
	}
	req, _ := http.NewRequest(http.MethodGet, fileURL(pub), nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, pub.data[100:200]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", pub.ref.Size) {
		t.Errorf("range request = %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Range"), len(part))
	}
	req, _ = http.NewRequest(http.MethodGet, fileURL(pub), nil)
	req.Header.Set("If-None-Match", `"`+pub.ref.SHA256+`"`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional request = %s, want 304", resp.Status)
	}

	// Everything else is the same 404 as a hash that does not exist.
	_, want := get(t, fileURL(never), "")
	for what, u := range map[string]string{
		"community attachment, hash known": fileURL(comm),
		"embargoed attachment":             fileURL(later),
		"attachment of a deleted entity":   fileURL(gone),
		"public blob under another name":   th.url + protocol.PathFiles + pub.ref.SHA256 + "/other.pdf",
		"traversal name":                   th.url + protocol.PathFiles + pub.ref.SHA256 + "/..%2F..%2Fhub.key",
		"not a hash":                       th.url + protocol.PathFiles + "hub.key/guide.pdf",
	} {
		status, body := get(t, u, "")
		if status != http.StatusNotFound || !bytes.Equal(body, want) {
			t.Errorf("%s: %d %s, want the 404 of a missing file (%s)", what, status, body, want)
		}
	}
	// The sync API needs a credential; nodes and the operator have one.
	if status, _ := get(t, th.url+protocol.PathBlobs+comm.ref.SHA256, ""); status != http.StatusUnauthorized {
		t.Errorf("GET of a community blob without credential = %d", status)
	}
	for _, bearer := range []string{be.cred, th.AdminToken()} {
		if status, body := get(t, th.url+protocol.PathBlobs+comm.ref.SHA256, bearer); status != http.StatusOK || !bytes.Equal(body, comm.data) {
			t.Errorf("GET of a community blob with a credential = %d", status)
		}
	}
	// Once its publish_at has passed, the embargoed file appears.
	th.clock.Advance(2 * time.Hour)
	th.index(t)
	if status, body := get(t, fileURL(later), ""); status != http.StatusOK || !bytes.Equal(body, later.data) {
		t.Errorf("published file = %d", status)
	}
}

func TestBlobs_Collect(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	ctx := t.Context()
	store, _, err := th.blobStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	present := func(b testBlob) bool {
		_, err := store.Stat(ctx, b.ref.SHA256)
		return err == nil
	}
	kept := newTestBlob(20, 1000, "kept.pdf", "application/pdf")
	deleted := newTestBlob(21, 1000, "deleted.pdf", "application/pdf")
	erased := newTestBlob(22, 1000, "erased.pdf", "application/pdf")
	unused := newTestBlob(23, 1000, "unused.pdf", "application/pdf")
	shared := newTestBlob(24, 1000, "shared.pdf", "application/pdf")

	publishWithBlob(t, be, kept, protocol.VisibilityPublic, nil)
	d := publishWithBlob(t, be, deleted, protocol.VisibilityCommunity, nil)
	e := publishWithBlob(t, be, erased, protocol.VisibilityPublic, nil)
	be.upload(t, unused)
	s1 := publishWithBlob(t, be, shared, protocol.VisibilityPublic, nil)
	s2 := be.resource(t, "Also shared", protocol.VisibilityPublic)
	s2.Blobs = []protocol.BlobRef{shared.ref}
	be.mustPush(t, be.sign(t, s2))

	del := be.next(d)
	del.Deleted, del.Body = true, nil
	er := be.next(e)
	er.Deleted, er.Erased, er.Body, er.Blobs = true, true, nil, nil
	s1d := be.next(s1)
	s1d.Deleted, s1d.Body = true, nil
	be.mustPush(t, be.signAll(t, del, er, s1d)...)

	// An orphan: in the store, never recorded (a crash between the two).
	orphan := newTestBlob(25, 1000, "orphan.pdf", "")
	if err := store.Put(ctx, orphan.ref.SHA256, orphan.ref.Size, "", bytes.NewReader(orphan.data)); err != nil {
		t.Fatal(err)
	}

	// Within the grace period only the erased entity's attachment goes (if
	// the erasure's housekeeping has not removed it already).
	res, err := th.CollectBlobs(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res.Blobs > 1 || present(erased) || !present(deleted) || !present(unused) || !present(orphan) {
		t.Fatalf("collect within grace = %+v; erased present %v, deleted %v, unused %v", res, present(erased), present(deleted), present(unused))
	}
	th.clock.Advance(2 * time.Hour)
	res, err = th.CollectBlobs(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if present(deleted) || present(unused) || !present(kept) || !present(shared) {
		t.Errorf("after the grace period: deleted %v, unused %v, kept %v, shared %v; want only the referenced ones",
			present(deleted), present(unused), present(kept), present(shared))
	}
	if res.Blobs != 2 || res.Orphans != 1 || present(orphan) {
		t.Errorf("collect after the grace period = %+v; orphan present %v", res, present(orphan))
	}
	if resp := head(t, th.url+protocol.PathBlobs+deleted.ref.SHA256, be.cred); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of a collected blob = %s", resp.Status)
	}
	// Uploading it again brings it back.
	if res := be.upload(t, deleted); res.Skipped {
		t.Errorf("upload of a collected blob was skipped")
	}
}

// TestBlobs_S3 runs uploads, public redirects and streaming against a real
// MinIO.
func TestBlobs_S3(t *testing.T) {
	endpoint, access, secret := miniotest.Start(t)
	th := mustOpenHub(t, func(c *Config) {
		c.Blobs.Store = BlobStoreS3
		c.Blobs.S3 = s3.Config{Endpoint: endpoint, Bucket: "bikfed-hub-test", Region: "us-east-1", AccessKey: access, SecretKey: secret}
	})
	be := th.enrolNode(t, "be")
	video := newTestBlob(30, 9<<20+7, "clip.mp4", "video/mp4")
	half := int64(3 << 20)
	putRaw(t, th.url, be.cred, video.ref.SHA256, video.ref.Size, 0, "clip.mp4", "video/mp4", video.data[:half])
	if res := be.upload(t, video); res.Resumed != half {
		t.Errorf("upload = %+v, want resumed at %d", res, half)
	}
	publishWithBlob(t, be, video, protocol.VisibilityPublic, nil)
	th.index(t)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(th.url + protocol.PathFiles + video.ref.SHA256 + "/clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "http://"+endpoint+"/") {
		t.Fatalf("public file on S3 = %s to %q, want a redirect to the store", resp.Status, loc)
	}
	status, body := get(t, loc, "")
	if status != http.StatusOK || !bytes.Equal(body, video.data) {
		t.Errorf("presigned URL = %d, %d bytes", status, len(body))
	}
	// Nodes are streamed to, through the hub.
	status, body = get(t, th.url+protocol.PathBlobs+video.ref.SHA256, be.cred)
	if status != http.StatusOK || !bytes.Equal(body, video.data) {
		t.Errorf("GET through the hub = %d, %d bytes", status, len(body))
	}
	// Without redirects the hub streams public files as well.
	th.cfg.Blobs.Redirect = false
	status, body = get(t, th.url+protocol.PathFiles+video.ref.SHA256+"/clip.mp4", "")
	if status != http.StatusOK || !bytes.Equal(body, video.data) {
		t.Errorf("streamed public file = %d, %d bytes", status, len(body))
	}
}

// FuzzParseUpload feeds the PUT request parser hostile paths, queries and
// headers: whatever it accepts must be a valid hash, a plain file name, a
// media type and an offset within a size within the limit.
func FuzzParseUpload(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	f.Add(sha, "size=10&offset=0", "doc.pdf", "application/pdf", int64(10))
	f.Add(sha, "size=10&offset=11", "..%2F..%2Fetc%2Fpasswd", "text/plain", int64(-1))
	f.Add("../../hub.key", "size=-1", "a%00b", "x", int64(5))
	f.Add(sha, "size=9999999999999999999", "%E2%82%AC.pdf", "text/html\r\nX: y", int64(0))
	h := &Hub{cfg: DefaultConfig()}
	h.cfg.Blobs.MaxSize = 1 << 20
	f.Fuzz(func(t *testing.T, sha, query, name, mediaType string, contentLength int64) {
		r := httptest.NewRequest(http.MethodPut, "/v1/blobs/x", nil)
		r.URL.RawQuery = query
		r.SetPathValue("sha256", sha)
		r.Header.Set(protocol.HeaderBlobName, name)
		r.Header.Set("Content-Type", mediaType)
		r.ContentLength = contentLength
		u, err := h.parseUpload(r)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		if blobstore.ValidHash(u.sha) != nil || protocol.ValidBlobName(u.name) != nil {
			t.Fatalf("accepted hash %q, name %q", u.sha, u.name)
		}
		if _, err := blobstore.CleanMediaType(u.mediaType); err != nil {
			t.Fatalf("accepted media type %q", u.mediaType)
		}
		if u.offset < 0 || u.offset > u.size || u.size > h.cfg.Blobs.MaxSize || contentLength > u.size-u.offset {
			t.Fatalf("accepted offset %d, size %d, length %d", u.offset, u.size, contentLength)
		}
	})
}
