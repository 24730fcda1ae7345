package portal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/protocol"
)

// holder is a portal over a source of its own, as the hub and each mirror
// have.
type holder struct {
	dir string
	p   *portal.Portal
	src *portaltest.Source
	srv *httptest.Server
}

func openHolder(t *testing.T, key []byte) *holder {
	t.Helper()
	src := portaltest.NewSource()
	dir := t.TempDir()
	p, err := portal.Open(t.Context(), portal.Config{DataDir: dir, PublicURL: "https://portal.example.org", OAIKey: key}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(func() {
		srv.Close()
		p.Close()
	})
	return &holder{dir: dir, p: p, src: src, srv: srv}
}

// index indexes everything its source holds.
func (h *holder) index(t *testing.T) {
	t.Helper()
	for {
		more, err := h.p.IndexOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return
		}
	}
}

func (h *holder) get(t *testing.T, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Behind a load balancer every holder gets the visitor's host.
	req.Host = "portal.example.org"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// changeMaker makes the changes of one aggregate, dated from a fixed day.
type changeMaker struct {
	t    *testing.T
	base time.Time
	n    int
}

func (m *changeMaker) change(owner string, kind protocol.Kind, vis protocol.Visibility, body any) *protocol.Change {
	m.t.Helper()
	m.n++
	at := m.base.Add(time.Duration(m.n) * time.Minute)
	id, err := protocol.NewEntityID(owner, at)
	if err != nil {
		m.t.Fatal(err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		m.t.Fatal(err)
	}
	return &protocol.Change{Protocol: 1, ID: id, Kind: kind, Owner: owner, Version: 1, Seq: int64(m.n), UpdatedAt: at,
		Visibility: vis, Body: b, KeyID: owner + "-k"}
}

func (m *changeMaker) applied() time.Time {
	return m.base.Add(time.Duration(m.n)*time.Minute + time.Second)
}

// aggregate fills src with n public resources, a translation, one
// resource published an hour ago, one still to come, one deleted and one
// withdrawn, and returns the first resource's id and the published one's
// publish_at.
func aggregate(t *testing.T, src *portaltest.Source, n int) (first string, published time.Time) {
	m := &changeMaker{t: t, base: time.Date(2025, 2, 11, 9, 0, 0, 0, time.UTC)}
	put := func(c *protocol.Change) { src.Put(c, m.applied()) }
	for i := range n {
		owner := []string{"be", "fi"}[i%2]
		c := m.change(owner, protocol.KindResource, protocol.VisibilityPublic,
			resourceBody(fmt.Sprintf("Guide %03d", i), "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
		put(c)
		if i == 0 {
			first = c.ID
			put(m.change("fi", protocol.KindTranslation, protocol.VisibilityPublic, protocol.Translation{Resource: c.ID,
				SourceVersion: 1, Language: "fi", Title: "Opas", Method: "human", Review: "reviewed"}))
		}
	}
	published = time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	c := m.change("be", protocol.KindResource, protocol.VisibilityPublic, resourceBody("Published", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
	c.PublishAt = &published
	put(c)
	later := time.Now().Add(time.Hour).UTC()
	c = m.change("be", protocol.KindResource, protocol.VisibilityPublic, resourceBody("Later", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
	c.PublishAt = &later
	put(c)
	c = m.change("fi", protocol.KindResource, protocol.VisibilityPublic, resourceBody("Deleted", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
	c.Deleted, c.Body = true, nil
	put(c)
	c = m.change("fi", protocol.KindResource, protocol.VisibilityPublic, resourceBody("Withdrawn", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
	put(c)
	src.Withdraw(c.ID, false, m.applied().Add(time.Minute))
	return first, published
}

// TestPortal_SameContentSameTags: two holders fed the same changes, one at
// once and one in steps, later, answer every public path with the same
// ETag and Last-Modified, so a visitor's revalidation succeeds on either.
func TestPortal_SameContentSameTags(t *testing.T) {
	a, b := openHolder(t, nil), openHolder(t, nil)
	first, published := aggregate(t, a.src, 40)
	a.index(t)
	head := a.src.Head()
	for _, upTo := range []int64{head / 3, head / 2, head - 1, head} {
		b.src.Copy(a.src, upTo)
		b.index(t)
	}
	if a.p.IndexedSeq() != b.p.IndexedSeq() {
		t.Fatalf("indexed %d and %d", a.p.IndexedSeq(), b.p.IndexedSeq())
	}
	paths := []string{"/", "/resources", "/resources?lang=fi", "/resources/" + first, "/feed.atom", "/sitemap.xml",
		"/api/v1/resources?per_page=5", "/api/v1/entities", "/api/v1/entities/" + first,
		"/api/v1/resources/" + first + "/translations"}
	wantModified := published.Format(http.TimeFormat)
	tags := map[string]string{}
	for _, path := range paths {
		ra, ba := a.get(t, path)
		rb, bb := b.get(t, path)
		if ra.StatusCode != 200 || rb.StatusCode != 200 {
			t.Fatalf("%s: %s and %s", path, ra.Status, rb.Status)
		}
		if ra.Header.Get("ETag") == "" || ra.Header.Get("ETag") != rb.Header.Get("ETag") {
			t.Errorf("%s: ETag %q and %q", path, ra.Header.Get("ETag"), rb.Header.Get("ETag"))
		}
		if got := rb.Header.Get("Last-Modified"); got != ra.Header.Get("Last-Modified") || got != wantModified {
			t.Errorf("%s: Last-Modified %q and %q, want %q (the latest publish_at made due)", path, ra.Header.Get("Last-Modified"), got, wantModified)
		}
		if path != "/" && path != "/resources" && !bytes.Equal(ba, bb) {
			t.Errorf("%s: the two holders' bodies differ", path)
		}
		// The other holder's ETag revalidates.
		if r, _ := b.get(t, path, "If-None-Match", ra.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidating with the other holder's ETag: %s", path, r.Status)
		}
		tags[path] = ra.Header.Get("ETag")
	}

	// New content is a new ETag, on both.
	m := &changeMaker{t: t, base: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	a.src.Put(m.change("be", protocol.KindResource, protocol.VisibilityPublic,
		resourceBody("Newer", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})), m.applied())
	a.index(t)
	b.src.Copy(a.src, a.src.Head())
	b.index(t)
	for _, path := range paths {
		ra, _ := a.get(t, path)
		rb, _ := b.get(t, path)
		if ra.Header.Get("ETag") == tags[path] || ra.Header.Get("ETag") != rb.Header.Get("ETag") {
			t.Errorf("%s after a change: ETag %q and %q, before %q", path, ra.Header.Get("ETag"), rb.Header.Get("ETag"), tags[path])
		}
	}
}

var tokenPattern = regexp.MustCompile(`<resumptionToken[^>]*>([^<]+)</resumptionToken>`)
var identifierPattern = regexp.MustCompile(`<identifier>([^<]+)</identifier>`)

// TestPortal_OAITokenOnAnotherHolder: a harvest started on one holder
// resumes on another holding the same content with the same key, and gets
// the same page; a holder with another key refuses the token.
func TestPortal_OAITokenOnAnotherHolder(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a, b, other := openHolder(t, key), openHolder(t, key), openHolder(t, nil)
	if !bytes.Equal(a.p.OAIKey(), key) {
		t.Fatal("OAIKey is not the configured key")
	}
	aggregate(t, a.src, 130)
	a.index(t)
	for _, h := range []*holder{b, other} {
		for _, upTo := range []int64{a.src.Head() / 2, a.src.Head()} {
			h.src.Copy(a.src, upTo)
			h.index(t)
		}
	}
	_, first := a.get(t, "/oai?verb=ListRecords&metadataPrefix=oai_dc")
	m := tokenPattern.FindSubmatch(first)
	if m == nil {
		t.Fatalf("no resumption token in the first page: %.500s", first)
	}
	next := "/oai?verb=ListRecords&resumptionToken=" + url.QueryEscape(string(m[1]))
	_, fromA := a.get(t, next)
	_, fromB := b.get(t, next)
	ids := func(b []byte) []string {
		var out []string
		for _, m := range identifierPattern.FindAllSubmatch(b, -1) {
			out = append(out, string(m[1]))
		}
		return out
	}
	if got, want := ids(fromB), ids(fromA); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("page 2 from the other holder: %v, want %v", got, want)
	}
	if _, body := other.get(t, next); !bytes.Contains(body, []byte("badResumptionToken")) {
		t.Errorf("a holder with another key took the token: %.300s", body)
	}
}

// TestPortal_Withdrawal: a withdrawal (no version, only word that the
// entity is no longer public) takes the entity out of every surface, its
// translations and files with it; an erased one leaves no byte of its text
// in the index's files.
func TestPortal_Withdrawal(t *testing.T) {
	const marker = "ZQX-WITHDRAWN-4417"
	h := openHolder(t, nil)
	m := &changeMaker{t: t, base: time.Date(2025, 2, 11, 9, 0, 0, 0, time.UTC)}
	blob := protocol.BlobRef{SHA256: string(bytes.Repeat([]byte("a"), 64)), Size: 10, MediaType: "application/pdf", Name: "sheet.pdf"}
	for _, erased := range []bool{false, true} {
		res := m.change("be", protocol.KindResource, protocol.VisibilityPublic,
			resourceBody("Guide "+marker, "en", []string{"en"}, 8, 12, "guide", []string{"privacy"}))
		res.Blobs = []protocol.BlobRef{blob}
		h.src.Put(res, m.applied())
		tr := m.change("fi", protocol.KindTranslation, protocol.VisibilityPublic, protocol.Translation{Resource: res.ID,
			SourceVersion: 1, Language: "fi", Title: "Opas " + marker, Method: "human", Review: "reviewed"})
		h.src.Put(tr, m.applied())
		h.index(t)
		if r, _ := h.get(t, "/api/v1/entities/"+tr.ID); r.StatusCode != 200 {
			t.Fatalf("the translation before the withdrawal: %s", r.Status)
		}
		if _, ok, err := h.p.PublicFile(t.Context(), blob.SHA256, blob.Name); err != nil || !ok {
			t.Fatalf("the attachment before the withdrawal: %v %v", ok, err)
		}
		h.src.Withdraw(res.ID, erased, m.applied())
		h.index(t)
		for _, path := range []string{"/api/v1/entities/" + res.ID, "/api/v1/entities/" + tr.ID, "/resources/" + res.ID,
			"/api/v1/resources/" + res.ID + "/translations"} {
			if r, _ := h.get(t, path); r.StatusCode != 404 {
				t.Errorf("erased %v: %s after the withdrawal: %s", erased, path, r.Status)
			}
		}
		if _, ok, _ := h.p.PublicFile(t.Context(), blob.SHA256, blob.Name); ok {
			t.Errorf("erased %v: the attachment is still public", erased)
		}
		if _, body := h.get(t, "/api/v1/entities"); bytes.Contains(body, []byte(res.ID)) {
			t.Errorf("erased %v: the entity is still listed", erased)
		}
		// The translation is no longer shown; withdrawn with its resource
		// (as the hub's feed does), its text goes too.
		h.src.Withdraw(tr.ID, erased, m.applied())
		h.index(t)
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "portal.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s still holds the erased text", filepath.Base(f))
		}
	}
}
