package signin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/internal/web"
)

const goodPassword = "correct horse battery staple"

// mailbox is a mail.Sender that keeps what it is given.
type mailbox chan mail.Message

func (b mailbox) Send(_ context.Context, m mail.Message) error {
	b <- m
	return nil
}

type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	db    *sqlitedb.DB
	acfg  account.Config
	store *account.Store
	site  *web.Site
	h     *Handler
	mail  mailbox
	// keys and pk are the passkeys, when the options ask for them.
	keys *passkey.Service
	pk   *passkey.Handler
}

// newFixture serves the sign-in pages under /signin of a site whose home
// page greets the signed-in member by name.
func newFixture(t *testing.T, edit ...func(*account.Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, fixtureOptions{account: edit})
}

// fixtureOptions change what newFixtureWith builds.
type fixtureOptions struct {
	account []func(*account.Config)
	signin  func(*Config)
	// listener, if set, is where the server listens, for a test that must
	// know the server's address before building it.
	listener net.Listener
	// passkeyOrigin, if set, offers passkeys to a site opened at this
	// origin, whose host is the relying party.
	passkeyOrigin string
}

func newFixtureWith(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	edit := o.account
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	acfg := account.DefaultConfig("admin", "editor", "staff", "youth-coordinator", "youth")
	for _, e := range edit {
		e(&acfg)
	}
	store, err := account.NewStore(db, acfg)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wcfg := web.DefaultConfig()
	wcfg.Product = "Safer Internet Centre Testland"
	wcfg.Log = log
	site, err := web.NewSite(wcfg, bundle, store)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, acfg: acfg, store: store, site: site, mail: make(mailbox, 10)}
	cfg := DefaultConfig()
	cfg.BaseURL = "https://sic.example"
	cfg.Mail = f.mail
	cfg.Log = log
	if o.passkeyOrigin != "" {
		if err := passkey.Migrate(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(o.passkeyOrigin)
		if err != nil {
			t.Fatal(err)
		}
		pcfg := passkey.DefaultConfig()
		pcfg.RPID, pcfg.RPDisplayName, pcfg.Origins, pcfg.Log = u.Hostname(), wcfg.Product, []string{o.passkeyOrigin}, log
		if f.keys, err = passkey.New(db, pcfg); err != nil {
			t.Fatal(err)
		}
		if f.pk, err = passkey.NewHandler(f.keys, site, passkey.DefaultHandlerConfig()); err != nil {
			t.Fatal(err)
		}
		cfg.Passkeys = f.pk
	}
	if o.signin != nil {
		o.signin(&cfg)
	}
	h, err := New(site, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	mux := http.NewServeMux()
	mux.Handle("/signin", h)
	mux.Handle("/signin/", h)
	mux.Handle("/account", h.Account())
	mux.Handle(wcfg.StaticPrefix, site.StaticHandler())
	mux.Handle("GET /{$}", site.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, _ := web.Member(r)
		io.WriteString(w, "hello "+m.Name)
	})))
	f.srv = httptest.NewUnstartedServer(site.Wrap(mux))
	if o.listener != nil {
		f.srv.Listener.Close()
		f.srv.Listener = o.listener
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// browser is a client with its own cookies that does not follow redirects,
// so that each answer can be looked at.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) send(c *http.Client, method, path string, form url.Values, header ...string) answer {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(r)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (f *fixture) get(c *http.Client, path string, header ...string) answer {
	return f.send(c, "GET", path, nil, header...)
}

func (f *fixture) post(c *http.Client, path string, form url.Values, header ...string) answer {
	return f.send(c, "POST", path, form, header...)
}

// invite adds a member and returns their invitation token.
func (f *fixture) invite(email string) string {
	f.t.Helper()
	_, tok, err := f.store.Add(f.t.Context(), "test", account.NewMember{Email: email, Name: "Eddie Editor", Roles: []string{"editor"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// member adds an active member with goodPassword.
func (f *fixture) member(email string) {
	f.t.Helper()
	if _, err := f.store.Accept(f.t.Context(), f.invite(email), goodPassword, ""); err != nil {
		f.t.Fatal(err)
	}
}

// signIn signs c in and checks that it lands on the home page.
func (f *fixture) signIn(c *http.Client, email, password string) {
	f.t.Helper()
	a := f.post(c, "/signin", url.Values{"email": {email}, "password": {password}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/" {
		f.t.Fatalf("sign-in: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
	}
	if a := f.get(c, "/"); a.status != http.StatusOK || a.body != "hello Eddie Editor" {
		f.t.Fatalf("home after sign-in: %d %s", a.status, a.body)
	}
}

var formTokenRE = regexp.MustCompile(`name="` + web.FormField + `" value="([0-9a-f]+)"`)

// formToken reads the form token from a signed-in page (the sign-out form
// in the header of the pages the package renders).
func (f *fixture) formToken(c *http.Client) string {
	f.t.Helper()
	a := f.get(c, "/signin/forgot")
	m := formTokenRE.FindStringSubmatch(a.body)
	if m == nil {
		f.t.Fatalf("no form token on a signed-in page: %s", a.body)
	}
	return m[1]
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%s", w, body)
		}
	}
}

func TestHandler_InvitationThenSignIn(t *testing.T) {
	f := newFixture(t)
	tok := f.invite("eddie@example.org")
	c := f.browser()

	a := f.get(c, "/signin/invite?token="+url.QueryEscape(tok))
	if a.status != http.StatusOK {
		t.Fatalf("invitation page: %d %s", a.status, a.body)
	}
	mustContain(t, a.body, "Choose your password", `autocomplete="new-password"`, "At least 15 characters",
		`value="`+tok+`"`, `<label for="password">`, `<label for="confirm">`)

	a = f.post(c, "/signin/invite", url.Values{"token": {tok}, "password": {"short"}, "confirm": {"short"}})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", a.status)
	}
	mustContain(t, a.body, "The password is too short: use at least 15 characters.",
		`id="password-error"`, `aria-describedby="password-error password-rules password-hint"`)

	a = f.post(c, "/signin/invite", url.Values{"token": {tok}, "password": {goodPassword}, "confirm": {goodPassword + "x"}})
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("mismatch: %d", a.status)
	}
	mustContain(t, a.body, "The two passwords are different.", `aria-describedby="confirm-error"`)
	if _, err := f.store.Accept(t.Context(), tok, "", ""); !errors.Is(err, account.ErrWeakPassword) {
		t.Fatalf("the invitation was spent by a refused form: %v", err)
	}

	a = f.post(c, "/signin/invite", url.Values{"token": {tok}, "password": {goodPassword}, "confirm": {goodPassword}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=invite" {
		t.Fatalf("accept: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
	}
	a = f.get(c, "/signin?done=invite")
	mustContain(t, a.body, "Your password is set. You can now sign in.", `autocomplete="current-password"`,
		`autocomplete="email"`)
	if n := strings.Count(a.body, "<h1"); n != 1 {
		t.Errorf("sign-in page has %d h1", n)
	}

	f.signIn(c, "Eddie@Example.org", goodPassword)
}

func TestHandler_InvitationRefused(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	used := f.invite("used@example.org")
	if _, err := f.store.Accept(t.Context(), used, goodPassword, ""); err != nil {
		t.Fatal(err)
	}
	expiring := newFixtureOver(t, f, func(c *account.Config) { c.InvitationTTL = time.Nanosecond })
	_, expired, err := expiring.Add(t.Context(), "test", account.NewMember{Email: "late@example.org", Name: "Late", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"used", used, "This invitation has already been used."},
		{"expired", expired, "This invitation has expired."},
		{"unknown", strings.Repeat("A", 43), "This invitation link is not valid."},
		{"malformed", "<script>", "This invitation link is not valid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range []answer{
				f.get(c, "/signin/invite?token="+url.QueryEscape(tc.token)),
				f.post(c, "/signin/invite", url.Values{"token": {tc.token}, "password": {goodPassword}, "confirm": {goodPassword}}),
			} {
				if a.status != http.StatusGone {
					t.Errorf("status %d, want 410", a.status)
				}
				mustContain(t, a.body, tc.want, `role="alert"`)
				if strings.Contains(a.body, `type="password"`) {
					t.Error("a dead link still shows the password form")
				}
			}
		})
	}
	m, err := f.store.GetByEmail(t.Context(), "late@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != account.StatusInvited {
		t.Errorf("expired invitation changed the member: %s", m.Status)
	}
}

// newFixtureOver opens a second store over f's database with other
// settings.
func newFixtureOver(t *testing.T, f *fixture, edit func(*account.Config)) *account.Store {
	t.Helper()
	cfg := f.acfg
	edit(&cfg)
	s, err := account.NewStore(f.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHandler_WrongPasswordAndNoEnumeration(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	c := f.browser()

	wrong := f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {"not the password at all"}})
	unknown := f.post(c, "/signin", url.Values{"email": {"nobody@example.org"}, "password": {"not the password at all"}})
	f.invite("invited@example.org")
	pending := f.post(c, "/signin", url.Values{"email": {"invited@example.org"}, "password": {goodPassword}})
	for name, a := range map[string]answer{"wrong": wrong, "unknown": unknown, "invited": pending} {
		if a.status != http.StatusOK {
			t.Errorf("%s: status %d", name, a.status)
		}
		mustContain(t, a.body, "Wrong email address or password.", `aria-describedby="signin-error"`)
		if c := a.header.Get("Set-Cookie"); c != "" {
			t.Errorf("%s: sets a cookie: %s", name, c)
		}
	}
	strip := func(a answer, email string) string { return strings.ReplaceAll(a.body, email, "EMAIL") }
	if strip(wrong, "eddie@example.org") != strip(unknown, "nobody@example.org") {
		t.Error("a wrong password and an unknown email get different pages")
	}
	if a := f.get(c, "/"); a.status != http.StatusSeeOther {
		t.Errorf("home after failed sign-ins: %d", a.status)
	}
}

func TestHandler_Throttled(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	c := f.browser()
	var a answer
	for i := range 10 {
		a = f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {"wrong password number"}})
		if a.status == http.StatusTooManyRequests {
			if i < 5 {
				t.Fatalf("throttled after %d failures", i)
			}
			break
		}
	}
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("never throttled: %d", a.status)
	}
	if got := a.header.Get("Retry-After"); got == "" || got == "0" {
		t.Errorf("Retry-After %q", got)
	}
	mustContain(t, a.body, "Too many attempts. Please try again in 1 second.", `role="alert"`)
	// While locked, even the right password is not checked.
	a = f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}},
		"Accept-Language", "nl")
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d", a.status)
	}
	mustContain(t, a.body, "Te veel pogingen. Probeer het over 1 seconde opnieuw.")
}

func TestHandler_Next(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	for _, tc := range []struct{ next, want string }{
		{"/resources/?q=a", "/resources/?q=a"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
	} {
		c := f.browser()
		a := f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}, "next": {tc.next}})
		if a.status != http.StatusSeeOther || a.header.Get("Location") != tc.want {
			t.Errorf("next %q: %d to %q, want %q", tc.next, a.status, a.header.Get("Location"), tc.want)
		}
	}
	a := f.get(f.browser(), "/signin?next="+url.QueryEscape("https://evil.example/"))
	if strings.Contains(a.body, `name="next"`) {
		t.Error("the sign-in form carries a foreign next address")
	}
	a = f.get(f.browser(), "/")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?next=%2F" {
		t.Errorf("anonymous home: %d to %q", a.status, a.header.Get("Location"))
	}
}

func TestHandler_SignOut(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	c := f.browser()
	f.signIn(c, "eddie@example.org", goodPassword)
	u, _ := url.Parse(f.srv.URL)
	old := c.Jar.Cookies(u)
	token := f.formToken(c)

	refused := []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no form token", url.Values{}, nil},
		{"wrong form token", url.Values{web.FormField: {strings.Repeat("0", len(token))}}, nil},
		{"cross-site", url.Values{web.FormField: {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", url.Values{web.FormField: {token}}, []string{"Origin", "https://evil.example"}},
	}
	for _, tc := range refused {
		a := f.post(c, "/signin/out", tc.form, tc.header...)
		if a.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, a.status)
		}
		mustContain(t, a.body, "This form was sent from another site")
		if a := f.get(c, "/"); a.status != http.StatusOK {
			t.Fatalf("%s ended the session: %d", tc.name, a.status)
		}
	}

	a := f.post(c, "/signin/out", url.Values{web.FormField: {token}}, "Sec-Fetch-Site", "same-origin")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=signout" {
		t.Fatalf("sign-out: %d to %q", a.status, a.header.Get("Location"))
	}
	mustContain(t, f.get(c, "/signin?done=signout").body, "You have signed out.")

	// The cookie from before sign-out opens nothing.
	replay := f.browser()
	replay.Jar.SetCookies(u, old)
	a = f.get(replay, "/")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=ended&next=%2F" {
		t.Fatalf("old cookie after sign-out: %d to %q, want a redirect to sign in", a.status, a.header.Get("Location"))
	}
	mustContain(t, f.get(replay, a.header.Get("Location")).body, "Your session has ended. Please sign in again.")
}

func TestHandler_Language(t *testing.T) {
	f := newFixture(t)
	a := f.get(f.browser(), "/signin", "Accept-Language", "nl-BE,nl;q=0.9,en;q=0.5")
	mustContain(t, a.body, `<html lang="nl">`, "<h1>Inloggen</h1>", "E-mailadres", "Wachtwoord vergeten?")
	if a.header.Get("Content-Language") != "nl" {
		t.Errorf("Content-Language %q", a.header.Get("Content-Language"))
	}
}

func TestHandler_ForgotAndReset(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	other := f.browser()
	f.signIn(other, "eddie@example.org", goodPassword)

	c := f.browser()
	a := f.get(c, "/signin/forgot")
	mustContain(t, a.body, "Forgot your password", `autocomplete="email"`)
	known := f.post(c, "/signin/forgot", url.Values{"email": {"eddie@example.org"}})
	unknown := f.post(c, "/signin/forgot", url.Values{"email": {"nobody@example.org"}})
	if known.status != http.StatusOK || known.status != unknown.status || known.body != unknown.body {
		t.Fatalf("known and unknown addresses answered differently: %d %d", known.status, unknown.status)
	}
	mustContain(t, known.body, "If an account exists for this address")

	var m mail.Message
	select {
	case m = <-f.mail:
	case <-time.After(10 * time.Second):
		t.Fatal("no reset email")
	}
	select {
	case extra := <-f.mail:
		t.Fatalf("an email for an unknown address: %v", extra.To)
	default:
	}
	if len(m.To) != 1 || m.To[0] != "eddie@example.org" || !strings.HasPrefix(m.Link, "https://sic.example/signin/reset?token=") ||
		!strings.Contains(m.Text, m.Link) {
		t.Fatalf("reset email: %+v", m)
	}
	link, _ := url.Parse(m.Link)

	a = f.get(c, link.RequestURI())
	mustContain(t, a.body, "Choose a new password", `autocomplete="new-password"`)
	const newPassword = "a whole new sentence to remember"
	tok := link.Query().Get("token")
	a = f.post(c, "/signin/reset", url.Values{"token": {tok}, "password": {newPassword}, "confirm": {newPassword}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=reset" {
		t.Fatalf("reset: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
	}
	if a := f.get(other, "/"); a.status != http.StatusSeeOther {
		t.Errorf("a session from before the reset still works: %d", a.status)
	}
	a = f.get(c, link.RequestURI())
	mustContain(t, a.body, "This link has already been used.", "Ask for a new link")
	f.signIn(c, "eddie@example.org", newPassword)
}

func TestHandler_Account(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	if a := f.get(f.browser(), "/account"); a.status != http.StatusSeeOther ||
		a.header.Get("Location") != "/signin?next=%2Faccount" {
		t.Fatalf("anonymous account page: %d to %q", a.status, a.header.Get("Location"))
	}
	phone, laptop := f.browser(), f.browser()
	f.signIn(phone, "eddie@example.org", goodPassword)
	f.signIn(laptop, "eddie@example.org", goodPassword)

	a := f.get(laptop, "/account")
	if a.status != http.StatusOK {
		t.Fatalf("account page: %d", a.status)
	}
	mustContain(t, a.body, "<h1>Your account</h1>", "eddie@example.org", "Eddie Editor", "Where you are signed in")
	if n := strings.Count(a.body, "<tr><td>"); n != 2 {
		t.Errorf("%d sessions listed, want 2", n)
	}
	if n := strings.Count(a.body, "(This browser)"); n != 1 {
		t.Errorf("this browser marked %d times", n)
	}

	if a := f.post(laptop, "/account", url.Values{}); a.status != http.StatusForbidden {
		t.Fatalf("sign out everywhere without a form token: %d", a.status)
	}
	if a := f.get(phone, "/"); a.status != http.StatusOK {
		t.Fatal("a refused request ended a session")
	}
	a = f.post(laptop, "/account", url.Values{web.FormField: {f.formToken(laptop)}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=everywhere" {
		t.Fatalf("sign out everywhere: %d to %q", a.status, a.header.Get("Location"))
	}
	for name, c := range map[string]*http.Client{"phone": phone, "laptop": laptop} {
		if a := f.get(c, "/"); a.status != http.StatusSeeOther {
			t.Errorf("%s still signed in: %d", name, a.status)
		}
	}
	mustContain(t, f.get(laptop, "/signin?done=everywhere").body, "You have signed out on every device.")
}

func TestHandler_CrossSiteSignIn(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	c := f.browser()
	a := f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}},
		"Sec-Fetch-Site", "cross-site")
	if a.status != http.StatusForbidden || a.header.Get("Set-Cookie") != "" {
		t.Fatalf("sign-in from another site: %d, cookie %q", a.status, a.header.Get("Set-Cookie"))
	}
	mustContain(t, a.body, "This form was sent from another site")
}

func TestHandler_ForgotLimited(t *testing.T) {
	f := newFixture(t)
	c := f.browser()
	cfg := DefaultConfig()
	for i := range cfg.ResetBurst {
		if a := f.post(c, "/signin/forgot", url.Values{"email": {"nobody@example.org"}}); a.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
	}
	a := f.post(c, "/signin/forgot", url.Values{"email": {"nobody@example.org"}})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("request past the burst: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	mustContain(t, a.body, "Too many requests. Please try again in ")
}
