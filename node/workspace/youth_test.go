package workspace

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// youthFixture is a pt node's workspace with a young person, another, a
// coordinator, a coordinator who is also young, and a staff member, each
// signed in.
type youthFixture struct {
	n       *node.Node
	h       http.Handler
	members map[string]account.Member
	cookies map[string]*http.Cookie
}

// enrolOnly answers a node's enrolment and nothing else: the workspace
// tests never sync.
func enrolOnly(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.EnrolRequest
		if r.URL.Path != protocol.PathEnrol || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(protocol.EnrolResponse{Node: req.Node, Name: "Centro Internet Segura",
			Credential: req.Node + ".cred", Protocol: protocol.Version})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newYouthFixture(t *testing.T) *youthFixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	if _, err := node.Init(ctx, dir, enrolOnly(t), "pt.secret", nil); err != nil {
		t.Fatal(err)
	}
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	n, err := node.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ws, err := New(n, Config{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := &youthFixture{n: n, h: ws.Handler(), members: map[string]account.Member{}, cookies: map[string]*http.Cookie{}}
	for _, p := range []struct {
		who, pseudonym string
		roles          []string
	}{
		{"rita", "pt-rita", []string{node.RoleYouth}},
		{"tiago", "pt-tiago", []string{node.RoleYouth}},
		{"joana", "", []string{node.RoleYouthCoordinator}},
		{"kai", "pt-kai", []string{node.RoleYouthCoordinator, node.RoleYouth}},
		{"eva", "", []string{node.RoleStaff}},
	} {
		i := len(f.members)
		m, tok, err := n.Accounts().Add(ctx, "test", account.NewMember{Email: p.who + "@example.pt", Name: strings.ToUpper(p.who[:1]) + p.who[1:],
			Roles: p.roles, Pseudonym: p.pseudonym})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Accounts().Accept(ctx, tok, "correct horse battery staple "+string(rune('a'+i)), "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		sess, _, err := n.Accounts().StartSession(ctx, m.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		f.members[p.who], f.cookies[p.who] = m, n.Accounts().Cookie(sess, false)
	}
	return f
}

// do sends a request as who ("" for a visitor); a form gets the form
// token of the page at from unless it has one.
func (f *youthFixture) do(t *testing.T, who, method, path string, form url.Values, from string) *httptest.ResponseRecorder {
	t.Helper()
	if form != nil && from != "" && !form.Has("form_token") {
		form.Set("form_token", formTokenOf(f.do(t, who, "GET", from, nil, "").Body.String()))
	}
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Header.Set("Accept-Language", "en")
	if c := f.cookies[who]; c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func (f *youthFixture) hold(t *testing.T, who, title, text string) node.HeldItem {
	t.Helper()
	b, _ := json.Marshal(protocol.Post{Space: "youth", Format: "thread", Title: title, Text: text, Language: "pt"})
	h, err := f.n.Hold(t.Context(), f.members[who].ID, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustContain(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, want ...string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("%s: %d, want %d\n%s", what, rec.Code, status, rec.Body)
	}
	for _, s := range want {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("%s lacks %q", what, s)
		}
	}
}

func TestWorkspace_youthAccess(t *testing.T) {
	f := newYouthFixture(t)
	for _, c := range []struct {
		who, path string
		want      int
	}{
		{"", PathYouthApprovals, http.StatusSeeOther},
		{"eva", PathYouthApprovals, http.StatusForbidden},
		{"rita", PathYouthApprovals, http.StatusForbidden},
		{"rita", PathYouthFlags, http.StatusForbidden},
		{"joana", PathYouthApprovals, http.StatusOK},
		{"joana", PathYouthFlags, http.StatusOK},
		{"joana", PathYouthMine, http.StatusForbidden},
		{"eva", PathYouthMine, http.StatusForbidden},
		{"rita", PathYouthMine, http.StatusOK},
		{"joana", PathYouthApprovals + "/not-an-id/reject", http.StatusNotFound},
		{"joana", PathYouthApprovals + "/0123456789abcdef0123456789abcdef/reject", http.StatusNotFound},
	} {
		if got := f.do(t, c.who, "GET", c.path, nil, ""); got.Code != c.want {
			t.Errorf("%q opening %s: %d, want %d", c.who, c.path, got.Code, c.want)
		}
	}
	// The menu: coordinators see the queue, young people their posts.
	home := f.do(t, "joana", "GET", "/", nil, "").Body.String()
	if !strings.Contains(home, `href="/youth/approvals"`) || strings.Contains(home, `href="/youth/mine"`) {
		t.Errorf("a coordinator's menu: %s", home)
	}
	home = f.do(t, "rita", "GET", "/", nil, "").Body.String()
	if strings.Contains(home, `href="/youth/approvals"`) || !strings.Contains(home, `href="/youth/mine">My posts</a>`) {
		t.Errorf("a young person's menu: %s", home)
	}
}

func TestWorkspace_youthApprovals(t *testing.T) {
	f := newYouthFixture(t)
	first := f.hold(t, "rita", "Redes sociais", "O que **acham**? <script>alert(1)</script>")
	second := f.hold(t, "tiago", "Jogos", "Qual é o vosso jogo preferido?")
	own := f.hold(t, "kai", "Do Kai", "Uma ideia minha.")

	page := f.do(t, "joana", "GET", PathYouthApprovals, nil, "")
	mustContain(t, "the queue", page, http.StatusOK, "Redes sociais", "O que <strong>acham</strong>?", "&lt;script&gt;",
		"Post by pt-rita", "BIK Youth Europe", `action="/youth/approvals/`+first.ID+`/approve"`,
		`<span class="badge">3 waiting</span>`, "/youth/approvals/"+own.ID+"/reject")
	if strings.Contains(page.Body.String(), "<script>alert") {
		t.Error("the queue renders the item's script")
	}
	if strings.Index(page.Body.String(), "Redes sociais") > strings.Index(page.Body.String(), "Jogos") {
		t.Error("the queue is not oldest first")
	}
	// Kai sees his own item without buttons.
	mustContain(t, "kai's queue", f.do(t, "kai", "GET", PathYouthApprovals, nil, ""), http.StatusOK,
		"You wrote this: another youth coordinator decides on it.")

	approve := PathYouthApprovals + "/" + first.ID + "/approve"
	if got := f.do(t, "joana", "POST", approve, url.Values{}, ""); got.Code != http.StatusForbidden {
		t.Fatalf("approve without a form token: %d", got.Code)
	}
	if got := f.do(t, "eva", "POST", approve, url.Values{}, "/"); got.Code != http.StatusForbidden {
		t.Fatalf("a staff member approving: %d", got.Code)
	}
	if h, _ := f.n.HeldItem(t.Context(), first.ID); h.State != node.HeldWaiting {
		t.Fatalf("refused approvals changed the item: %s", h.State)
	}
	got := f.do(t, "joana", "POST", approve, url.Values{}, PathYouthApprovals)
	if got.Code != http.StatusSeeOther || got.Header().Get("Location") != PathYouthApprovals+"?done=approved" {
		t.Fatalf("approve: %d %q", got.Code, got.Header().Get("Location"))
	}
	h, err := f.n.HeldItem(t.Context(), first.ID)
	if err != nil || h.State != node.HeldApproved || h.EntityID == "" || h.DecidedBy != f.members["joana"].ID {
		t.Fatalf("after approval: %+v, %v", h, err)
	}
	// A comment on the published post shows the post it answers.
	cb, _ := json.Marshal(protocol.Comment{Post: h.EntityID, Text: "Concordo _totalmente_.", Language: "pt"})
	comment, err := f.n.Hold(t.Context(), f.members["tiago"].ID, node.Draft{Kind: protocol.KindComment, Visibility: protocol.VisibilityYouth, Body: cb})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "a held comment", f.do(t, "joana", "GET", PathYouthApprovals, nil, ""), http.StatusOK,
		"Comment by pt-tiago", "Concordo <em>totalmente</em>.", "In reply to", `<a href="/community/youth/`+h.EntityID+`" lang="pt">Redes sociais</a>`,
		"O que acham?")
	if _, err := f.n.RejectHeld(t.Context(), comment.ID, f.members["joana"].ID, "Obrigada!"); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "again", f.do(t, "joana", "POST", PathYouthApprovals+"/"+second.ID+"/approve", url.Values{}, PathYouthApprovals),
		http.StatusSeeOther)
	mustContain(t, "deciding twice", f.do(t, "joana", "GET", PathYouthApprovals+"/"+second.ID+"/reject", nil, ""),
		http.StatusConflict, "already decided")
	mustContain(t, "one's own item", f.do(t, "kai", "POST", PathYouthApprovals+"/"+own.ID+"/approve", url.Values{}, PathYouthApprovals),
		http.StatusForbidden, "You wrote this yourself, so another youth coordinator must decide on it.")

	// Rejecting: a reason is required and bounded; the form keeps it.
	reject := PathYouthApprovals + "/" + own.ID + "/reject"
	mustContain(t, "the reject form", f.do(t, "joana", "GET", reject, nil, ""), http.StatusOK,
		"Do not publish", `maxlength="1000"`, "pt-kai reads this under My posts")
	mustContain(t, "no reason", f.do(t, "joana", "POST", reject, url.Values{"reason": {"  "}}, reject), http.StatusUnprocessableEntity,
		"Write a message, so the author knows what to change.", `aria-invalid="true"`, `href="#f-reason"`)
	long := strings.Repeat("é", node.MaxHeldReason+1)
	mustContain(t, "a long reason", f.do(t, "joana", "POST", reject, url.Values{"reason": {long}}, reject), http.StatusUnprocessableEntity,
		"The message has 1001 characters; shorten it to 1000 at most.", long)
	if h, _ := f.n.HeldItem(t.Context(), own.ID); h.State != node.HeldWaiting {
		t.Fatalf("refused rejections changed the item: %s", h.State)
	}
	const reason = "Boa ideia! Conta-nos um pouco mais, sem o nome da tua escola."
	if got := f.do(t, "joana", "POST", reject, url.Values{"reason": {reason}}, reject); got.Code != http.StatusSeeOther {
		t.Fatalf("reject: %d\n%s", got.Code, got.Body)
	}

	page = f.do(t, "joana", "GET", PathYouthApprovals+"?done=rejected", nil, "")
	mustContain(t, "the decided list", page, http.StatusOK, "Not published. Its author reads your message under My posts.",
		"Nothing is waiting.", "by Joana", reason, `href="/community/youth/`+h.EntityID+`"`)
	if strings.Contains(page.Body.String(), `class="badge">`) {
		t.Error("the menu still shows items waiting")
	}

	// The audit log says who decided, in words.
	events, err := f.n.Accounts().Audit(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[int64]string{}
	for _, m := range f.members {
		names[m.ID] = m.Name
	}
	var said []string
	for _, e := range events {
		if e.Type == account.EventHeldApproved || e.Type == account.EventHeldRejected {
			said = append(said, auditText(english(t), names, e))
		}
	}
	all := strings.Join(said, "\n")
	for _, want := range []string{"Joana approved a post or comment by Rita; it is published.",
		"Joana did not publish a post or comment by Kai and gave them a reason.",
		"Joana did not publish a post or comment by Tiago and gave them a reason."} {
		if !strings.Contains(all, want) {
			t.Errorf("audit wording lacks %q:\n%s", want, all)
		}
	}
}

func TestWorkspace_youthMine(t *testing.T) {
	f := newYouthFixture(t)
	mustContain(t, "nothing yet", f.do(t, "rita", "GET", PathYouthMine, nil, ""), http.StatusOK, "You have not written anything yet.")
	published := f.hold(t, "rita", "Publicado", "Olá a todos")
	refused := f.hold(t, "rita", "Recusado", "Olá outra vez")
	f.hold(t, "rita", "Espera", "Ainda à espera")
	f.hold(t, "tiago", "Do Tiago", "Não é da Rita")
	joana := f.members["joana"].ID
	h, err := f.n.ApproveHeld(t.Context(), published.ID, joana)
	if err != nil {
		t.Fatal(err)
	}
	const reason = "Está quase! Tira o número de telefone, por favor."
	if _, err := f.n.RejectHeld(t.Context(), refused.ID, joana, reason); err != nil {
		t.Fatal(err)
	}
	page := f.do(t, "rita", "GET", PathYouthMine, nil, "")
	mustContain(t, "rita's posts", page, http.StatusOK, "Publicado", `href="/community/youth/`+h.EntityID+`"`, "Others can read it now.",
		"Recusado", "Your coordinator did not publish this one.", reason, "Espera", "A youth coordinator will look at it soon.")
	body := page.Body.String()
	if strings.Contains(body, "Do Tiago") {
		t.Error("rita sees tiago's item")
	}
	if strings.Index(body, "Espera") > strings.Index(body, "Publicado") {
		t.Error("not newest first")
	}

	// A flag on Rita's post reaches the coordinators' list.
	fb, _ := json.Marshal(protocol.Flag{Target: h.EntityID, Reason: "personal-data", Text: "Diz onde mora."})
	if _, err := f.n.CreateAs(t.Context(), f.members["kai"].ID, node.Draft{Kind: protocol.KindFlag, Visibility: protocol.VisibilityYouth,
		Body: fb}); err != nil {
		t.Fatal(err)
	}
	fb, _ = json.Marshal(protocol.Flag{Target: h.EntityID, Reason: "spam"})
	if _, err := f.n.CreateAs(t.Context(), f.members["tiago"].ID, node.Draft{Kind: protocol.KindFlag, Visibility: protocol.VisibilityYouth,
		Body: fb}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the flags", f.do(t, "joana", "GET", PathYouthFlags, nil, ""), http.StatusOK, "Publicado", "Post by pt-rita",
		"Personal data", "Diz onde mora.", "Kai, Centro Internet Segura", "Spam", "pt-tiago", "Not decided yet",
		`href="/community/youth/`+h.EntityID+`"`)
}
