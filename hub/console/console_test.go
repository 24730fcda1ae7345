package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/hub/console"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/protocol"
)

const password = "a long enough console password"

// fixture is a real hub on a temporary directory with its console, served
// over HTTP, with one registered node and one member per role.
type fixture struct {
	hub     *hub.Hub
	srv     *httptest.Server
	cookies map[string]*http.Cookie // by role
	ids     map[string]int64        // member ids by role
}

func newFixture(t *testing.T, mods ...func(*hub.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	cfg := hub.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	for _, mod := range mods {
		mod(&cfg)
	}
	h, err := hub.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := console.New(h, console.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	h.SetConsole(c)
	f := &fixture{hub: h, srv: httptest.NewServer(h.Handler()), cookies: map[string]*http.Cookie{}, ids: map[string]int64{}}
	t.Cleanup(f.srv.Close)
	if _, err := h.RegisterNode(ctx, "be", "Safer Internet Centre Belgium"); err != nil {
		t.Fatal(err)
	}
	store := h.Accounts()
	for _, role := range hub.Roles {
		m, tok, err := store.Add(ctx, "test", account.NewMember{Email: role + "@example.org", Name: "The " + role, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Accept(ctx, tok, password, ""); err != nil {
			t.Fatal(err)
		}
		stok, _, err := store.StartSession(ctx, m.ID, "test", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		f.cookies[role], f.ids[role] = store.Cookie(stok, h.Secure()), m.ID
	}
	return f
}

// do sends a request as the member of role ("" for a visitor), following
// no redirect.
func (f *fixture) do(t *testing.T, role, method, path string, form url.Values, headers ...string) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c := f.cookies[role]; c != nil {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var tokenRE = regexp.MustCompile(`name="form_token" value="([0-9a-f]+)"`)

// token reads the form token of role's pages.
func (f *fixture) token(t *testing.T, role string) string {
	t.Helper()
	_, _, body := f.do(t, role, "GET", "/console/", nil)
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form token on the overview:\n%s", body)
	}
	return m[1]
}

func (f *fixture) node(t *testing.T, id string) protocol.NodeStatus {
	t.Helper()
	st, err := f.hub.NetworkStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n
		}
	}
	t.Fatalf("no node %s", id)
	return protocol.NodeStatus{}
}

func TestConsole_Roles(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		role, path string
		want       int
	}{
		{"", "/console/", http.StatusSeeOther},
		{"", "/console/members/", http.StatusSeeOther},
		{"moderator", "/console/", http.StatusOK},
		{"moderator", "/console/nodes/be", http.StatusOK},
		{"moderator", "/console/erasures", http.StatusForbidden},
		{"coordinator", "/console/erasures", http.StatusOK},
		{"coordinator", "/console/nodes/be/suspend", http.StatusForbidden},
		{"coordinator", "/console/nodes/new", http.StatusForbidden},
		{"coordinator", "/console/members/", http.StatusForbidden},
		{"coordinator", "/console/members/audit", http.StatusForbidden},
		{"operator", "/console/nodes/be/suspend", http.StatusOK},
		{"operator", "/console/members/", http.StatusOK},
		{"operator", "/console/members/audit", http.StatusOK},
		{"operator", "/console/account", http.StatusOK},
		{"operator", "/console/nodes/xx", http.StatusNotFound},
		{"operator", "/console/nodes/be/explode", http.StatusNotFound},
		{"operator", "/console/no-such-page", http.StatusNotFound},
	} {
		t.Run(tc.role+" "+tc.path, func(t *testing.T) {
			code, hd, body := f.do(t, tc.role, "GET", tc.path, nil)
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			switch code {
			case http.StatusSeeOther:
				if loc := hd.Get("Location"); !strings.HasPrefix(loc, "/console/signin?next=") {
					t.Errorf("a visitor is sent to %q, not to sign in", loc)
				}
			case http.StatusForbidden:
				if !strings.Contains(body, "Your role does not give access to this page") {
					t.Errorf("403 page without its message:\n%s", body)
				}
			}
		})
	}
	t.Run("menu follows the role", func(t *testing.T) {
		_, _, body := f.do(t, "moderator", "GET", "/console/", nil)
		if strings.Contains(body, `href="/console/members/"`) || strings.Contains(body, `href="/console/erasures"`) {
			t.Error("a moderator's menu offers the team or the erasures")
		}
		_, _, body = f.do(t, "operator", "GET", "/console/", nil)
		if !strings.Contains(body, `href="/console/members/"`) || !strings.Contains(body, `href="/console/nodes/new"`) {
			t.Error("an operator's overview lacks the team or registering a node")
		}
	})
	t.Run("a coordinator's action is refused and changes nothing", func(t *testing.T) {
		code, _, _ := f.do(t, "coordinator", "POST", "/console/nodes/be/suspend",
			url.Values{"form_token": {f.token(t, "coordinator")}}, "Sec-Fetch-Site", "same-origin")
		if code != http.StatusForbidden {
			t.Fatalf("status %d, want 403", code)
		}
		if f.node(t, "be").Suspended {
			t.Fatal("the coordinator suspended the node")
		}
	})
}

func TestConsole_Protect(t *testing.T) {
	f := newFixture(t)
	good := f.token(t, "operator")
	for _, tc := range []struct {
		name    string
		token   string
		headers []string
	}{
		{"no form token", "", []string{"Sec-Fetch-Site", "same-origin"}},
		{"another session's token", f.token(t, "coordinator"), []string{"Sec-Fetch-Site", "same-origin"}},
		{"another site", good, []string{"Sec-Fetch-Site", "cross-site"}},
		{"another origin", good, []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			if tc.token != "" {
				form.Set("form_token", tc.token)
			}
			code, _, body := f.do(t, "operator", "POST", "/console/nodes/be/suspend", form, tc.headers...)
			if code != http.StatusForbidden || !strings.Contains(body, "sent from another site") {
				t.Fatalf("status %d, want 403 with its message", code)
			}
			if f.node(t, "be").Suspended {
				t.Fatal("the node was suspended")
			}
			form.Set("email", "forged@example.org")
			form.Set("name", "Forged")
			form.Set("roles", "operator")
			if code, _, _ := f.do(t, "operator", "POST", "/console/members/", form, tc.headers...); code != http.StatusForbidden {
				t.Fatalf("adding a member: status %d, want 403", code)
			}
			if _, err := f.hub.Accounts().GetByEmail(context.Background(), "forged@example.org"); err == nil {
				t.Fatal("a forged request added a member")
			}
		})
	}
}

func TestConsole_NodeActions(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "operator")
	post := func(path string, form url.Values) (int, http.Header, string) {
		t.Helper()
		form.Set("form_token", tok)
		return f.do(t, "operator", "POST", path, form, "Sec-Fetch-Site", "same-origin")
	}

	code, _, body := f.do(t, "operator", "GET", "/console/nodes/be/suspend", nil)
	if code != http.StatusOK || !strings.Contains(body, "the hub will refuse everything Safer Internet Centre Belgium (be) sends") ||
		!strings.Contains(body, `action="/console/nodes/be/suspend"`) {
		t.Fatalf("confirmation page: %d\n%s", code, body)
	}
	if f.node(t, "be").Suspended {
		t.Fatal("opening the confirmation suspended the node")
	}
	code, hd, _ := post("/console/nodes/be/suspend", url.Values{})
	if code != http.StatusSeeOther || hd.Get("Location") != "/console/nodes/be?done=suspend" {
		t.Fatalf("suspend: %d to %q", code, hd.Get("Location"))
	}
	if !f.node(t, "be").Suspended {
		t.Fatal("the node is not suspended")
	}
	_, _, body = f.do(t, "operator", "GET", "/console/nodes/be?done=suspend", nil)
	for _, want := range []string{"The node is suspended.", `<dd id="node-state">suspended</dd>`, `href="/console/nodes/be/resume"`} {
		if !strings.Contains(body, want) {
			t.Errorf("node page after suspending lacks %q", want)
		}
	}
	if code, _, _ := post("/console/nodes/be/resume", url.Values{}); code != http.StatusSeeOther || f.node(t, "be").Suspended {
		t.Fatalf("resume: %d, suspended %v", code, f.node(t, "be").Suspended)
	}

	code, _, body = post("/console/nodes/be/rotate", url.Values{})
	if m := regexp.MustCompile(`id="token" value="(be\.[A-Za-z0-9_-]+)"`).FindStringSubmatch(body); code != http.StatusOK || m == nil {
		t.Fatalf("rotate: %d, no token shown\n%s", code, body)
	}

	code, _, body = post("/console/nodes/be/remove", url.Values{})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose what happens to the node") || f.node(t, "be").Removed {
		t.Fatalf("remove without a choice: %d, removed %v", code, f.node(t, "be").Removed)
	}
	if code, _, _ := post("/console/nodes/be/remove", url.Values{"content": {"keep"}}); code != http.StatusSeeOther || !f.node(t, "be").Removed {
		t.Fatalf("remove: %d, removed %v", code, f.node(t, "be").Removed)
	}
	if code, _, body := post("/console/nodes/be/suspend", url.Values{}); code != http.StatusConflict || !strings.Contains(body, "has been removed") {
		t.Fatalf("suspending a removed node: %d", code)
	}
}

func TestConsole_Register(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "operator")
	post := func(form url.Values) (int, string) {
		t.Helper()
		form.Set("form_token", tok)
		code, _, body := f.do(t, "operator", "POST", "/console/nodes/new", form, "Sec-Fetch-Site", "same-origin")
		return code, body
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no id", url.Values{"name": {"Kept name"}}, "Enter the node&#39;s id."},
		{"bad id", url.Values{"id": {"Not An Id"}, "name": {"Kept name"}}, "may only contain lowercase letters"},
		{"the hub", url.Values{"id": {"hub"}, "name": {"Kept name"}}, "may only contain lowercase letters"},
		{"long name", url.Values{"id": {"lu"}, "name": {strings.Repeat("n", 1000)}}, "The name is too long"},
		{"bad countries", url.Values{"id": {"lu"}, "name": {"Kept name"}, "countries": {"luxembourg"}}, "valid two-letter country codes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.form)
			if code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="error-summary"`) {
				t.Fatalf("status %d, want 422 with %q\n%s", code, tc.want, body)
			}
			if tc.form.Get("name") == "Kept name" && !strings.Contains(body, `value="Kept name"`) {
				t.Error("the form lost the name typed")
			}
		})
	}
	st, _ := f.hub.NetworkStatus(context.Background())
	if len(st.Nodes) != 1 {
		t.Fatalf("refused forms registered nodes: %d", len(st.Nodes))
	}
	code, body := post(url.Values{"id": {"lu"}, "name": {"Safer Internet Centre Luxembourg"}, "countries": {"lu"}})
	if code != http.StatusOK || !regexp.MustCompile(`id="token" value="lu\.[A-Za-z0-9_-]+"`).MatchString(body) ||
		!strings.Contains(body, "bikfed node init --hub ") {
		t.Fatalf("register: %d\n%s", code, body)
	}
	if n := f.node(t, "lu"); n.Name != "Safer Internet Centre Luxembourg" {
		t.Errorf("registered as %q", n.Name)
	}
}

func TestConsole_Members(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.token(t, "operator")
	post := func(path string, form url.Values) (int, http.Header, string) {
		t.Helper()
		form.Set("form_token", tok)
		return f.do(t, "operator", "POST", path, form, "Sec-Fetch-Site", "same-origin")
	}
	code, _, body := post("/console/members/", url.Values{"email": {"not-an-address"}, "name": {"Ana"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter a valid email address") ||
		!strings.Contains(body, "Choose at least one role.") || !strings.Contains(body, `value="Ana"`) {
		t.Fatalf("bad add: %d\n%s", code, body)
	}
	code, _, body = post("/console/members/", url.Values{"email": {"coordinator@example.org"}, "name": {"Twice"}, "roles": {"coordinator"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "already belongs to a member") {
		t.Fatalf("taken email: %d", code)
	}
	code, _, body = post("/console/members/", url.Values{"email": {"ana@example.org"}, "name": {"Ana"}, "roles": {"coordinator", "moderator"}})
	link := regexp.MustCompile(`id="link" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || link == nil || !strings.Contains(link[1], "/console/signin/invite?token=") {
		t.Fatalf("add: %d, no invitation link\n%s", code, body)
	}
	ana, err := f.hub.Accounts().GetByEmail(ctx, "ana@example.org")
	if err != nil || !ana.HasRole(hub.RoleCoordinator) || !ana.HasRole(hub.RoleModerator) || ana.Status != account.StatusInvited {
		t.Fatalf("ana: %+v, %v", ana, err)
	}
	anaPath := "/console/members/" + itoa(ana.ID)

	if code, _, body := post(anaPath+"/invite", url.Values{}); code != http.StatusOK || !strings.Contains(body, `id="link"`) {
		t.Fatalf("new invitation: %d", code)
	}
	if code, _, _ := post(anaPath+"/roles", url.Values{"roles": {"moderator"}}); code != http.StatusSeeOther {
		t.Fatalf("roles: %d", code)
	}
	if ana, _ = f.hub.Accounts().Get(ctx, ana.ID); ana.HasRole(hub.RoleCoordinator) {
		t.Fatal("roles not changed")
	}

	me := "/console/members/" + itoa(f.ids["operator"])
	if code, _, body := post(me+"/roles", url.Values{"roles": {"coordinator"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "cannot take the operator role from yourself") {
		t.Fatalf("dropping one's own operator role: %d", code)
	}
	if code, _, _ := post(me+"/disable", url.Values{}); code != http.StatusConflict {
		t.Fatalf("disabling oneself: %d, want 409", code)
	}
	if m, _ := f.hub.Accounts().Get(ctx, f.ids["operator"]); m.Status != account.StatusActive || !m.HasRole(hub.RoleOperator) {
		t.Fatalf("the operator changed themselves: %+v", m)
	}

	code, _, body = f.do(t, "operator", "GET", anaPath+"/disable", nil)
	if code != http.StatusOK || !strings.Contains(body, "Ana (ana@example.org) can no longer sign in") {
		t.Fatalf("disable confirmation: %d", code)
	}
	if code, hd, _ := post(anaPath+"/disable", url.Values{}); code != http.StatusSeeOther || hd.Get("Location") != "/console/members/?done=disabled" {
		t.Fatalf("disable: %d", code)
	}
	if ana, _ = f.hub.Accounts().Get(ctx, ana.ID); ana.Status != account.StatusDisabled {
		t.Fatalf("ana is %s", ana.Status)
	}
	if code, _, _ := post(anaPath+"/remove", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("remove: %d", code)
	}
	if _, err := f.hub.Accounts().Get(ctx, ana.ID); err == nil {
		t.Fatal("ana is still a member")
	}

	_, _, body = f.do(t, "operator", "GET", "/console/members/audit", nil)
	for _, want := range []string{"member added", "roles changed", "member disabled", "member removed", "The operator"} {
		if !strings.Contains(body, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}

func TestConsole_SignIn(t *testing.T) {
	f := newFixture(t)
	if code, _, body := f.do(t, "", "GET", "/console/signin", nil); code != http.StatusOK ||
		!strings.Contains(body, "Sign in to the console of the Better Internet for Kids coordination team") {
		t.Fatalf("sign-in page: %d, without the console's introduction\n%s", code, body)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(f.srv.URL+"/console/signin", url.Values{"email": {"coordinator@example.org"}, "password": {password}, "next": {"/console/erasures"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/console/erasures" || !strings.Contains(string(b), "<h1>Erasures</h1>") {
		t.Fatalf("sign-in: %s at %s\n%s", resp.Status, resp.Request.URL, b)
	}
	var session *http.Cookie
	for _, ck := range jar.Cookies(resp.Request.URL) {
		if ck.Name == hub.AccountConfig().CookieName {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie", hub.AccountConfig().CookieName)
	}
}

func TestConsole_Overview(t *testing.T) {
	f := newFixture(t)
	_, _, body := f.do(t, "moderator", "GET", "/console/", nil)
	for _, want := range []string{
		`<tr id="node-be">`, `data-live="never"`, "Safer Internet Centre Belgium is registered but has not enrolled yet",
		`<svg`, `<title id="lag-title">How far behind`, "Lag over the last 24 hours, as text", "Gossip is off",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/console/", nil)
	req.AddCookie(f.cookies["moderator"])
	req.Header.Set("Accept-Language", "fi")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Verkoston tila") || !strings.Contains(string(b), `<html lang="fi">`) {
		t.Error("the overview is not in Finnish for a Finnish reader")
	}
}

// TestConsole_Mirrors: the overview lists each mirror with its liveness
// and lag, and says when none is registered.
func TestConsole_Mirrors(t *testing.T) {
	f := newFixture(t)
	if _, _, body := f.do(t, "moderator", "GET", "/console/", nil); !strings.Contains(body, "No mirror is registered") {
		t.Error("the overview does not say that no mirror is registered")
	}
	ctx := context.Background()
	tok, err := f.hub.RegisterMirror(ctx, "eu1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := protocol.DefaultClientConfig(f.srv.URL)
	res, err := protocol.NewClient(cfg).EnrolMirror(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, body := f.do(t, "moderator", "GET", "/console/", nil); !strings.Contains(body, `<tr id="mirror-eu1">`) ||
		!strings.Contains(body, "not fetched") && !strings.Contains(body, "never") {
		t.Errorf("the overview lacks the enrolled mirror before its first pull:\n%s", body)
	}
	cfg.Credential = res.Credential
	if _, err := protocol.NewClient(cfg).MirrorChanges(ctx, 0, 10, 0); err != nil {
		t.Fatal(err)
	}
	_, _, body := f.do(t, "moderator", "GET", "/console/", nil)
	row := body[strings.Index(body, `<tr id="mirror-eu1">`):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "in touch") {
		t.Errorf("a mirror that just pulled is not in touch: %s", row)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestConsole_Erasures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, err := f.hub.Publish(ctx, protocol.KindService, protocol.VisibilityPublic,
		protocol.Service{Name: "PhotoApp", Category: "social", URL: "https://example.com/photoapp", MinimumAge: 13, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.hub.EraseEntity(ctx, id, "GDPR request 4411"); err != nil {
		t.Fatal(err)
	}
	code, _, body := f.do(t, "coordinator", "GET", "/console/erasures", nil)
	if code != http.StatusOK {
		t.Fatalf("erasures: %d", code)
	}
	for _, want := range []string{"<code>" + id + "</code>", "the coordination team", "GDPR request 4411"} {
		if !strings.Contains(body, want) {
			t.Errorf("erasures page lacks %q\n%s", want, body)
		}
	}
}

// With a mail server, the invitation is emailed, and the page says so
// without showing the link.
func TestConsole_InvitationEmailed(t *testing.T) {
	mp := mailpittest.Start(t)
	f := newFixture(t, func(c *hub.Config) {
		c.PublicURL = "https://hub.example.org"
		c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = mp.SMTPHost, mp.SMTPPort, mail.TLSNone, "BIK coordination <bik@hub.example.org>"
	})
	if name := f.cookies["operator"].Name; name != "__Host-bikfed-hub-session" {
		t.Fatalf("session cookie %q on an https hub", name)
	}
	form := url.Values{"form_token": {f.token(t, "operator")}, "email": {"ana@example.org"}, "name": {"Ana"}, "roles": {"moderator"}}
	code, _, body := f.do(t, "operator", "POST", "/console/members/", form, "Sec-Fetch-Site", "same-origin")
	if code != http.StatusOK || !strings.Contains(body, "The invitation has been emailed to Ana at ana@example.org.") || strings.Contains(body, `id="link"`) {
		t.Fatalf("add with a mail server: %d\n%s", code, body)
	}
	msg := mp.WaitForMessage(t, "ana@example.org")
	if _, err := msg.Link("https://hub.example.org/console/signin/invite?token="); err != nil {
		t.Fatalf("the invitation has no link to the console: %v", err)
	}
}

// Every page, in every language, has all its words: no message id or
// unfilled placeholder shows.
func TestConsole_EveryLanguage(t *testing.T) {
	f := newFixture(t)
	leak := regexp.MustCompile(`console\.[a-z_.]+|\{[a-z]+\}`)
	op := "/console/members/" + itoa(f.ids["coordinator"])
	pages := []string{"/console/", "/console/nodes/be", "/console/nodes/new", "/console/erasures", "/console/members/",
		"/console/members/audit", op, op + "/disable", op + "/remove", "/console/account"}
	for _, a := range []string{"suspend", "resume", "rotate", "remove"} {
		pages = append(pages, "/console/nodes/be/"+a)
	}
	for _, lang := range []string{"en", "nl", "fr", "de", "fi", "pt"} {
		for _, p := range pages {
			code, _, body := f.do(t, "operator", "GET", p+"?lang="+lang, nil)
			if code != http.StatusOK {
				t.Errorf("%s %s: %d", lang, p, code)
				continue
			}
			if m := leak.FindString(body); m != "" {
				t.Errorf("%s %s shows %q", lang, p, m)
			}
		}
	}
}
