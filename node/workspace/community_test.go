package workspace

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// communitySite is a workspace on a node "be" enrolled with a hub that
// answers enrolment only (nothing here syncs), with signed-in members.
type communitySite struct {
	t       *testing.T
	n       *node.Node
	dir     string
	h       http.Handler
	cookies map[string]*http.Cookie
	ids     map[string]int64
}

func newCommunitySite(t *testing.T) *communitySite {
	t.Helper()
	ctx := t.Context()
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != protocol.PathEnrol {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(protocol.EnrolResponse{Node: "be", Name: "Safer Internet Centre Belgium",
			Credential: "be.credential", Protocol: protocol.Version, Countries: []string{"be"}})
	}))
	t.Cleanup(hub.Close)
	dir := t.TempDir()
	if _, err := node.Init(ctx, dir, hub.URL, "be.secret", nil); err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	n, err := node.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ws, err := New(n, Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := &communitySite{t: t, n: n, dir: dir, h: ws.Handler(), cookies: map[string]*http.Cookie{}, ids: map[string]int64{}}
	members := []struct {
		who, name, pseudonym string
		roles                []string
	}{
		{"anna", "Anna Peeters", "", []string{node.RoleStaff}},
		{"bram", "Bram Janssens", "", []string{node.RoleStaff}},
		{"admin", "Chris Admin", "", []string{node.RoleAdmin}},
		{"kid", "Kid", "be-sunny", []string{node.RoleYouth}},
		{"coord", "Dana Coordinator", "", []string{node.RoleYouthCoordinator}},
	}
	store := n.Accounts()
	for i, m := range members {
		mem, tok, err := store.Add(ctx, "test", account.NewMember{Email: m.who + "@example.be", Name: m.name,
			Roles: m.roles, Pseudonym: m.pseudonym})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Accept(ctx, tok, "correct horse battery staple "+string(rune('a'+i)), "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		sess, _, err := store.StartSession(ctx, mem.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		s.cookies[m.who], s.ids[m.who] = store.Cookie(sess, false), mem.ID
	}
	return s
}

// get opens path as who.
func (s *communitySite) get(who, path string) *httptest.ResponseRecorder {
	s.t.Helper()
	return s.send(who, "GET", path, nil)
}

// post sends form as who, with the form token of who's session.
func (s *communitySite) post(who, path string, form url.Values) *httptest.ResponseRecorder {
	s.t.Helper()
	page := s.get(who, "/account").Body.String()
	tok := formTokenOf(page)
	if tok == "" {
		s.t.Fatalf("no form token for %s", who)
	}
	form.Set(web.FormField, tok)
	return s.send(who, "POST", path, form)
}

func (s *communitySite) send(who, method, path string, form url.Values) *httptest.ResponseRecorder {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://example.com")
		req.Host = "example.com"
	}
	req.AddCookie(s.cookies[who])
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// newThread starts a thread as who in space and returns its address.
func (s *communitySite) newThread(who, space, title, text string) string {
	s.t.Helper()
	rec := s.post(who, "/community/"+space+"/new", url.Values{"title": {title}, "text": {text}, "language": {"en"}})
	if rec.Code != http.StatusSeeOther {
		s.t.Fatalf("new thread: %d\n%s", rec.Code, rec.Body)
	}
	return rec.Header().Get("Location")
}

func postIDOf(t *testing.T, href string) string {
	t.Helper()
	i := strings.LastIndex(href, "/")
	id, _, _ := strings.Cut(href[i+1:], "#")
	id, _, _ = strings.Cut(id, "?")
	if _, err := protocol.SplitEntityID(id); err != nil {
		t.Fatalf("no post id in %q", href)
	}
	return id
}

func TestWorkspace_communityAccess(t *testing.T) {
	s := newCommunitySite(t)
	thread := s.newThread("anna", "helplines", "Night shifts", "How do you staff the line at night?")
	tests := []struct {
		who, path string
		want      int
	}{
		{"anna", "/community/", http.StatusOK},
		{"anna", "/community/helplines/", http.StatusOK},
		{"anna", thread, http.StatusOK},
		{"kid", "/community/", http.StatusOK},
		{"kid", "/community/youth/", http.StatusOK},
		{"kid", "/community/youth:be/", http.StatusOK},
		// A young person does not open a staff space, nor its threads.
		{"kid", "/community/helplines/", http.StatusForbidden},
		{"kid", thread, http.StatusForbidden},
		{"kid", "/community/helplines/new", http.StatusForbidden},
		{"kid", "/community/search?q=night&space=helplines", http.StatusForbidden},
		// Staff do not open youth spaces; another SIC's national youth
		// space does not exist here.
		{"anna", "/community/youth/", http.StatusForbidden},
		{"anna", "/community/youth:be/", http.StatusForbidden},
		{"anna", "/community/youth:fi/", http.StatusNotFound},
		{"coord", "/community/youth:fi/", http.StatusNotFound},
		{"coord", "/community/youth/", http.StatusOK},
		{"coord", "/community/helplines/", http.StatusOK},
		{"anna", "/community/news/", http.StatusNotFound},
		{"anna", "/community/nowhere/", http.StatusNotFound},
		// Ids and cursors from the address.
		{"anna", "/community/helplines/not-an-id", http.StatusNotFound},
		{"anna", "/community/helplines/be:01ARZ3NDEKTSV4RRFFQ69G5FAV", http.StatusNotFound},
		{"anna", strings.Replace(thread, "/helplines/", "/hotlines/", 1), http.StatusNotFound},
		{"anna", "/community/helplines/?before=%25%25", http.StatusBadRequest},
		{"anna", "/community/helplines/?before=abc", http.StatusBadRequest},
		{"anna", "/community/helplines/?sic=..%2F", http.StatusBadRequest},
		{"anna", thread + "?after=abc", http.StatusBadRequest},
		{"anna", thread + "/edit?item=nonsense", http.StatusNotFound},
		{"anna", thread + "/flag?item=be:01ARZ3NDEKTSV4RRFFQ69G5FAV", http.StatusNotFound},
		{"anna", "/community/search?q=x&after=abc", http.StatusBadRequest},
		{"anna", "/community/search?q=x&space=youth:fi", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.path, func(t *testing.T) {
			if got := s.get(tt.who, tt.path).Code; got != tt.want {
				t.Errorf("GET %s as %s: %d, want %d", tt.path, tt.who, got, tt.want)
			}
		})
	}
	t.Run("menu and names", func(t *testing.T) {
		if !strings.Contains(s.get("kid", "/").Body.String(), `href="/community/"`) {
			t.Error("a young person's menu has no community entry")
		}
		index := s.get("kid", "/community/").Body.String()
		if !strings.Contains(index, "BIK Youth Europe") || !strings.Contains(index, "Belgium youth panel") ||
			strings.Contains(index, "Helplines") {
			t.Errorf("a young person's spaces:\n%s", index)
		}
		if fr := s.get("kid", "/community/?lang=fr").Body.String(); !strings.Contains(fr, "Panel jeunesse Belgique") {
			t.Error("the national youth space is not named in French")
		}
	})
	t.Run("writing in a closed space", func(t *testing.T) {
		rec := s.post("kid", "/community/helplines/new", url.Values{"title": {"x"}, "text": {"y"}, "language": {"en"}})
		if rec.Code != http.StatusForbidden {
			t.Errorf("youth posts in helplines: %d", rec.Code)
		}
		rec = s.post("kid", thread, url.Values{"text": {"hi"}, "language": {"en"}})
		if rec.Code != http.StatusForbidden {
			t.Errorf("youth replies in helplines: %d", rec.Code)
		}
	})
}

// tagWithHandler finds an element with an event attribute.
var tagWithHandler = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)

func TestWorkspace_communityWrite(t *testing.T) {
	s := newCommunitySite(t)
	text := "Hello **team**.\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1))"
	form := url.Values{"title": {"Escalation paths"}, "text": {text}, "language": {"nl"}, "tags": {"night, training"},
		// A form cannot name the author: these are not read.
		"author": {"Someone Else"}, "author.name": {"Someone Else"}, "author.sic": {"fi"}, "sic": {"fi"}}
	rec := s.post("anna", "/community/helplines/new", form)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("new thread: %d\n%s", rec.Code, rec.Body)
	}
	thread := rec.Header().Get("Location")
	id := postIDOf(t, thread)

	t.Run("the author is the member", func(t *testing.T) {
		e, err := s.n.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		var p protocol.Post
		if err := json.Unmarshal(e.Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Author != (protocol.Author{Name: "Anna Peeters", SIC: "be"}) {
			t.Errorf("author %+v", p.Author)
		}
		if p.Format != "thread" || p.Language != "nl" || strings.Join(p.Tags, "|") != "night|training" {
			t.Errorf("post %+v", p)
		}
		if who, ok, _ := s.n.AuthorOf(t.Context(), id); !ok || who != s.ids["anna"] {
			t.Errorf("author of: %d %v", who, ok)
		}
	})
	t.Run("markdown is sanitised in the page", func(t *testing.T) {
		page := s.get("bram", thread).Body.String()
		if !strings.Contains(page, "<strong>team</strong>") {
			t.Errorf("markdown not rendered:\n%s", page)
		}
		if strings.Contains(strings.ToLower(page), "<script>alert") || tagWithHandler.MatchString(page) ||
			strings.Contains(strings.ToLower(page), "javascript:") {
			t.Errorf("script or handler in the page:\n%s", page)
		}
		if !strings.Contains(page, "&lt;script&gt;") {
			t.Error("the typed HTML is not shown as text")
		}
		if !strings.Contains(page, `class="community-text" lang="nl"`) {
			t.Error("the text's container does not carry its language")
		}
	})
	t.Run("unread, reply, read", func(t *testing.T) {
		rec := s.post("bram", thread, url.Values{"text": {"We use a **rota**."}, "language": {"en"}})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("reply: %d\n%s", rec.Code, rec.Body)
		}
		list := s.get("anna", "/community/helplines/").Body.String()
		if !strings.Contains(list, `<span class="badge">Unread</span>`) {
			t.Errorf("no unread marker for anna:\n%s", list)
		}
		page := s.get("anna", thread).Body.String()
		if !strings.Contains(page, "<strong>rota</strong>") || !strings.Contains(page, "Bram Janssens (BE)") {
			t.Errorf("reply not shown:\n%s", page)
		}
		if !strings.Contains(page, `<span class="badge">New</span>`) {
			t.Error("the new reply is not marked new")
		}
		list = s.get("anna", "/community/helplines/").Body.String()
		if strings.Contains(list, `<span class="badge">Unread</span>`) {
			t.Error("still unread after reading")
		}
	})
	t.Run("errors come back with the form filled", func(t *testing.T) {
		rec := s.post("anna", "/community/helplines/new", url.Values{"title": {""}, "text": {"kept words"}, "language": {"xx"}})
		if rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", rec.Code)
		}
		page := rec.Body.String()
		for _, want := range []string{`href="#f-title"`, `href="#f-language"`, "kept words", `aria-invalid="true"`} {
			if !strings.Contains(page, want) {
				t.Errorf("no %q in the page", want)
			}
		}
		long := strings.Repeat("a", protocol.MaxTextField+1)
		rec = s.post("anna", "/community/helplines/new", url.Values{"title": {"t"}, "text": {long}, "language": {"en"}})
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "it may be up to") {
			t.Errorf("a long text: %d", rec.Code)
		}
	})
	t.Run("preview sends nothing", func(t *testing.T) {
		rec := s.post("anna", "/community/helplines/new", url.Values{"title": {"Draft only"}, "text": {"A **bold** plan"},
			"language": {"en"}, "action": {"preview"}})
		page := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(page, `id="preview-h"`) || !strings.Contains(page, "<strong>bold</strong>") ||
			!strings.Contains(page, "A **bold** plan</textarea>") {
			t.Errorf("preview: %d\n%s", rec.Code, page)
		}
		if strings.Contains(s.get("bram", "/community/helplines/").Body.String(), "Draft only") {
			t.Error("a preview was published")
		}
	})
	t.Run("edits are the author's", func(t *testing.T) {
		edit := thread + "/edit?item=" + url.QueryEscape(id)
		if code := s.get("bram", edit).Code; code != http.StatusForbidden {
			t.Errorf("bram edits anna's post: %d", code)
		}
		rec := s.post("bram", edit, url.Values{"title": {"Taken"}, "text": {"x"}, "language": {"en"}})
		if rec.Code != http.StatusForbidden {
			t.Errorf("bram saves anna's post: %d", rec.Code)
		}
		if code := s.get("anna", edit).Code; code != http.StatusOK {
			t.Errorf("anna opens her edit: %d", code)
		}
		rec = s.post("anna", edit, url.Values{"title": {"Escalation paths, revised"}, "text": {"New words"}, "language": {"en"}})
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("anna saves: %d\n%s", rec.Code, rec.Body)
		}
		if page := s.get("bram", thread).Body.String(); !strings.Contains(page, "Escalation paths, revised") {
			t.Error("edit not shown")
		}
	})
	t.Run("search", func(t *testing.T) {
		page := s.get("bram", "/community/search?q=rota").Body.String()
		if !strings.Contains(page, "<mark>rota</mark>") {
			t.Errorf("no marked match:\n%s", page)
		}
		page = s.get("bram", "/community/search?q=rota&sic=fi").Body.String()
		if strings.Contains(page, "<mark>") {
			t.Error("the SIC filter lets be's reply through")
		}
		page = s.get("coord", "/community/search?q=rota&space=youth").Body.String()
		if strings.Contains(page, "<mark>") {
			t.Error("the space filter lets a helplines reply through")
		}
	})
}

func TestWorkspace_communityBlog(t *testing.T) {
	s := newCommunitySite(t)
	if page := s.get("anna", "/community/blog/").Body.String(); !strings.Contains(page, "Write a new blog post") {
		t.Error("the blog offers no new blog post")
	}
	thread := s.newThread("anna", "blog", "A year of the helpline", "What we learnt.")
	e, err := s.n.Get(t.Context(), postIDOf(t, thread))
	if err != nil {
		t.Fatal(err)
	}
	var p protocol.Post
	if err := json.Unmarshal(e.Body, &p); err != nil || p.Format != "blog" {
		t.Fatalf("format %q, %v", p.Format, err)
	}
	page := s.get("bram", thread).Body.String()
	for _, want := range []string{"Written by Anna Peeters (BE)", "0 comments", "Send comment"} {
		if !strings.Contains(page, want) {
			t.Errorf("the blog post's page has no %q", want)
		}
	}
}

func TestWorkspace_communityYouth(t *testing.T) {
	s := newCommunitySite(t)
	rec := s.post("kid", "/community/youth/new", url.Values{"title": {"Our school campaign"}, "text": {"We made posters."},
		"language": {"nl"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/community/youth/sent" {
		t.Fatalf("youth post: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	sent := s.get("kid", "/community/youth/sent").Body.String()
	if !strings.Contains(sent, `href="/youth/mine"`) || !strings.Contains(sent, "youth coordinator") {
		t.Errorf("the sent page:\n%s", sent)
	}
	held, err := s.n.HeldItems(t.Context(), node.HeldFilter{Member: s.ids["kid"]})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].State != node.HeldWaiting {
		t.Fatalf("held: %+v", held)
	}
	for _, who := range []string{"kid", "coord"} {
		if strings.Contains(s.get(who, "/community/youth/").Body.String(), "Our school campaign") {
			t.Errorf("%s sees the held post as published", who)
		}
	}
	// Approved, it is a thread; its author may not edit it past the
	// coordinators, and flags what others wrote.
	approved, err := s.n.ApproveHeld(t.Context(), held[0].ID, s.ids["coord"])
	if err != nil {
		t.Fatal(err)
	}
	list := s.get("coord", "/community/youth/").Body.String()
	if !strings.Contains(list, "Our school campaign") || !strings.Contains(list, "be-sunny") {
		t.Errorf("approved post not listed:\n%s", list)
	}
	thread := "/community/youth/" + approved.EntityID
	if page := s.get("kid", thread).Body.String(); strings.Contains(page, "/edit?") {
		t.Error("a young person is offered an edit that skips the coordinators")
	}
	rec = s.post("kid", thread, url.Values{"text": {"And a video!"}, "language": {"nl"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/community/youth/sent" {
		t.Errorf("youth reply: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if strings.Contains(s.get("coord", thread).Body.String(), "And a video!") {
		t.Error("a held reply is shown as published")
	}
}

func TestWorkspace_communityFlag(t *testing.T) {
	s := newCommunitySite(t)
	thread := s.newThread("anna", "awareness", "Poster ideas", "Call 555 0101 and ask for Tom.")
	id := postIDOf(t, thread)
	flag := thread + "/flag?item=" + url.QueryEscape(id)
	if code := s.get("anna", flag).Code; code != http.StatusForbidden {
		t.Errorf("anna flags her own post: %d", code)
	}
	form := s.get("bram", flag)
	if form.Code != http.StatusOK || !strings.Contains(form.Body.String(), `value="personal-data"`) {
		t.Fatalf("flag form: %d", form.Code)
	}
	rec := s.post("bram", flag, url.Values{"reason": {"other"}, "text": {""}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `href="#f-text"`) {
		t.Errorf("other without words: %d", rec.Code)
	}
	rec = s.post("bram", flag, url.Values{"reason": {"bogus"}})
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `href="#f-reason"`) {
		t.Errorf("an unknown reason: %d", rec.Code)
	}
	rec = s.post("bram", flag, url.Values{"reason": {"personal-data"}, "text": {"A phone number and a name."}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("flag: %d\n%s", rec.Code, rec.Body)
	}
	back, _, _ := strings.Cut(rec.Header().Get("Location"), "#")
	page := s.get("bram", back).Body.String()
	if !strings.Contains(page, "the moderators will look at it") || !strings.Contains(page, "You flagged this.") {
		t.Errorf("no thanks or mark:\n%s", page)
	}
	ids, err := s.n.AuthoredBy(t.Context(), s.ids["bram"])
	if err != nil || len(ids) != 1 {
		t.Fatalf("bram's entities: %v %v", ids, err)
	}
	e, err := s.n.Get(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	var f protocol.Flag
	if err := json.Unmarshal(e.Body, &f); err != nil {
		t.Fatal(err)
	}
	if e.Kind != protocol.KindFlag || e.Visibility != protocol.VisibilityCommunity || f.Target != id ||
		f.Reason != "personal-data" || f.Author != (protocol.Author{Name: "Bram Janssens", SIC: "be"}) {
		t.Errorf("flag %s %s %+v", e.Kind, e.Visibility, f)
	}
	if strings.Contains(s.get("anna", thread).Body.String(), "You flagged this.") {
		t.Error("anna is told she flagged it")
	}
}

func TestWorkspace_communityFiles(t *testing.T) {
	s := newCommunitySite(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"title": "Our new poster", "text": "See the file.", "language": "en"} {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("files", "poster.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(png)
	mw.Close()
	tok := formTokenOf(s.get("anna", "/account").Body.String())
	req := httptest.NewRequest("POST", "/community/awareness/new?"+web.FormField+"="+tok, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(s.cookies["anna"])
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("new thread with a file: %d\n%s", rec.Code, rec.Body)
	}
	thread := rec.Header().Get("Location")
	id := postIDOf(t, thread)
	e, err := s.n.Get(t.Context(), id)
	if err != nil || len(e.Blobs) != 1 || e.Blobs[0].Name != "poster.png" {
		t.Fatalf("the post's attachments: %+v %v", e.Blobs, err)
	}
	file := "/files/" + e.Blobs[0].SHA256 + "/poster.png"
	page := s.get("anna", thread).Body.String()
	if !strings.Contains(page, `href="`+file+`"`) || !strings.Contains(page, "![poster.png]("+file+")") {
		t.Errorf("the author's page does not list the file with its Markdown:\n%s", page)
	}
	if page := s.get("bram", thread).Body.String(); !strings.Contains(page, file) || strings.Contains(page, "![poster.png]") {
		t.Error("a reader's page: the file is missing, or its Markdown hint is shown")
	}
	got := s.get("bram", file)
	if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), png) || got.Header().Get("Content-Type") != "image/png" {
		t.Errorf("bram gets the file: %d %q", got.Code, got.Header().Get("Content-Type"))
	}
	for _, tt := range []struct{ who, path string }{
		{"kid", file},
		{"bram", "/files/" + strings.Repeat("ab", 32) + "/x.png"},
		{"bram", "/files/nothex/x.png"},
	} {
		if code := s.get(tt.who, tt.path).Code; code != http.StatusNotFound {
			t.Errorf("%s GET %s: %d, want 404", tt.who, tt.path, code)
		}
	}
	// The author places the image in the text; the edit keeps the file.
	edit := thread + "/edit?item=" + url.QueryEscape(id)
	form := s.get("anna", edit).Body.String()
	attachment := regexp.MustCompile(`name="attachment" value="([^"]+)"`).FindStringSubmatch(form)
	if attachment == nil {
		t.Fatalf("the edit form does not carry the file:\n%s", form)
	}
	rec = s.post("anna", edit, url.Values{"title": {"Our new poster"}, "text": {"![The poster](" + file + ")"},
		"language": {"en"}, "attachment": {html.UnescapeString(attachment[1])}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", rec.Code, rec.Body)
	}
	if page := s.get("bram", thread).Body.String(); !strings.Contains(page, `<img src="`+file+`" alt="The poster"`) {
		t.Errorf("the image is not in the text:\n%s", page)
	}
	if e, _ := s.n.Get(t.Context(), id); len(e.Blobs) != 1 {
		t.Errorf("the edit dropped the file: %+v", e.Blobs)
	}
}

// hide stores a moderators' decision to hide target, as a pull from the
// hub would: the node's triggers apply it.
func (s *communitySite) hide(target, reason string) {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "node.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	id, err := protocol.NewEntityID(protocol.HubID, now)
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.Moderation{Target: target, Decision: "hide", Reason: reason})
	// Without a change, the body is the entity's own (body_own).
	if _, err := db.ExecContext(s.t.Context(), `INSERT INTO entities (id, owner, kind, version, visibility, updated_at, body_own)
		VALUES (?, ?, 'moderation', 1, 'community', ?, ?)`, id, protocol.HubID, now.Format(time.RFC3339Nano), string(body)); err != nil {
		s.t.Fatal(err)
	}
}

func TestWorkspace_communityHidden(t *testing.T) {
	s := newCommunitySite(t)
	hiddenThread := s.newThread("anna", "helplines", "Caller details", "A caller called Tomcatfish phoned twice.")
	open := s.newThread("anna", "helplines", "Rota", "Who covers Sunday?")
	rec := s.post("bram", open, url.Values{"text": {"Mention Otterplum here."}, "language": {"en"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("reply: %d", rec.Code)
	}
	ids, err := s.n.AuthoredBy(t.Context(), s.ids["bram"])
	if err != nil || len(ids) != 1 {
		t.Fatalf("bram's reply: %v %v", ids, err)
	}
	s.hide(postIDOf(t, hiddenThread), "Names a caller.")
	s.hide(ids[0], "Off topic.")

	t.Run("a hidden thread", func(t *testing.T) {
		for _, who := range []string{"anna", "admin"} {
			got := s.get(who, hiddenThread)
			if got.Code != http.StatusOK || !strings.Contains(got.Body.String(), "Hidden by the moderators: Names a caller.") {
				t.Errorf("%s opens the hidden thread: %d", who, got.Code)
			}
			if list := s.get(who, "/community/helplines/").Body.String(); !strings.Contains(list, "Caller details") {
				t.Errorf("%s's list leaves out the hidden thread", who)
			}
		}
		for _, who := range []string{"bram", "coord"} {
			if code := s.get(who, hiddenThread).Code; code != http.StatusNotFound {
				t.Errorf("%s opens the hidden thread: %d, want 404", who, code)
			}
			if list := s.get(who, "/community/helplines/").Body.String(); strings.Contains(list, "Caller details") {
				t.Errorf("%s's list shows the hidden thread", who)
			}
			if page := s.get(who, "/community/search?q=tomcatfish").Body.String(); strings.Contains(page, "<mark>") {
				t.Errorf("%s's search finds the hidden thread", who)
			}
		}
		if page := s.get("anna", "/community/search?q=tomcatfish").Body.String(); !strings.Contains(page, "Names a caller.") {
			t.Error("the author's search leaves out her hidden thread")
		}
	})
	t.Run("a hidden reply", func(t *testing.T) {
		for who, visible := range map[string]bool{"bram": true, "admin": true, "anna": false, "coord": false} {
			page := s.get(who, open).Body.String()
			if got := strings.Contains(page, "Otterplum"); got != visible {
				t.Errorf("%s sees the hidden reply: %v, want %v", who, got, visible)
			}
			if visible && !strings.Contains(page, "Hidden by the moderators: Off topic.") {
				t.Errorf("%s is not told the reply is hidden", who)
			}
			if found := strings.Contains(s.get(who, "/community/search?q=otterplum").Body.String(), "<mark>"); found != visible {
				t.Errorf("%s's search finds the hidden reply: %v, want %v", who, found, visible)
			}
		}
		if code := s.get("coord", open+"/flag?item="+url.QueryEscape(ids[0])).Code; code != http.StatusNotFound {
			t.Errorf("flagging a reply hidden from the member: %d, want 404", code)
		}
		if code := s.get("admin", open+"/flag?item="+url.QueryEscape(ids[0])).Code; code != http.StatusOK {
			t.Errorf("an admin flags a hidden reply: %d", code)
		}
	})
}

func TestWorkspace_communityPaging(t *testing.T) {
	s := newCommunitySite(t)
	ctx := t.Context()
	var first string
	for i := range threadsPerPage + 2 {
		body, _ := json.Marshal(protocol.Post{Space: "hotlines", Format: "thread", Title: "Thread number " + strconv.Itoa(i),
			Text: "Text.", Language: "en"})
		e, err := s.n.CreateAs(ctx, s.ids["anna"], node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = e.ID
		}
	}
	for i := range commentsPerPage + 1 {
		body, _ := json.Marshal(protocol.Comment{Post: first, Text: "Reply number " + strconv.Itoa(i) + ".", Language: "en"})
		if _, err := s.n.CreateAs(ctx, s.ids["bram"], node.Draft{Kind: protocol.KindComment, Visibility: protocol.VisibilityCommunity, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	older := regexp.MustCompile(`href="(/community/hotlines/\?before=[^"]+)" rel="next"`)
	page := s.get("bram", "/community/hotlines/").Body.String()
	if n := strings.Count(page, "Thread number "); n != threadsPerPage {
		t.Errorf("first page: %d threads, want %d", n, threadsPerPage)
	}
	m := older.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no link to older threads:\n%s", page)
	}
	page = s.get("bram", html.UnescapeString(m[1])).Body.String()
	if n := strings.Count(page, "Thread number "); n != 2 || older.MatchString(page) {
		t.Errorf("second page: %d threads, or a further page", n)
	}
	if page := s.get("bram", "/community/hotlines/?sic=fi").Body.String(); strings.Contains(page, "Thread number ") {
		t.Error("the SIC filter lets be's threads through")
	}
	thread := "/community/hotlines/" + first
	page = s.get("anna", thread).Body.String()
	if n := strings.Count(page, "Reply number "); n != commentsPerPage {
		t.Errorf("first page of replies: %d", n)
	}
	m = regexp.MustCompile(`href="([^"]+\?after=[^"]+)" rel="next"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no link to later replies")
	}
	page = s.get("anna", html.UnescapeString(m[1])).Body.String()
	if !strings.Contains(page, "Reply number "+strconv.Itoa(commentsPerPage)+".") || strings.Count(page, "Reply number ") != 1 {
		t.Error("the second page of replies")
	}
}
