package passkey

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
)

type server struct {
	*fixture
	h    *Handler
	site *web.Site
	srv  *httptest.Server
}

// newServer serves the handler behind the site's middleware, with two
// test pages: one that names the signed-in member and one that gives the
// form token.
func newServer(t *testing.T) *server {
	t.Helper()
	f := newFixture(t)
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	wcfg := web.DefaultConfig()
	wcfg.Product = "Test SIC"
	wcfg.Log = slog.New(slog.DiscardHandler)
	site, err := web.NewSite(wcfg, bundle, f.accounts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(f.Service, site, DefaultHandlerConfig())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signin/passkey/", h)
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		m, _ := web.Member(r)
		fmt.Fprint(w, m.ID)
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, site.FormToken(r))
	})
	srv := httptest.NewServer(site.Wrap(mux))
	t.Cleanup(srv.Close)
	return &server{fixture: f, h: h, site: site, srv: srv}
}

// browser is a client with its own cookies.
func (s *server) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn gives a browser the session cookie of member m.
func (s *server) signIn(t *testing.T, c *http.Client, m account.Member) {
	t.Helper()
	tok, _, err := s.accounts.StartSession(t.Context(), m.ID, "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{s.accounts.Cookie(tok, false)})
}

func (s *server) get(t *testing.T, c *http.Client, path string) string {
	t.Helper()
	res, err := c.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// post sends a form the way the script does and decodes the JSON answer.
func (s *server) post(t *testing.T, c *http.Client, path string, form url.Values, into any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", s.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %d %s %s", path, res.StatusCode, ct, b)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		t.Fatalf("POST %s: decode: %v", path, err)
	}
	return res.StatusCode
}

func TestHandler_register_and_sign_in(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")

	// Registration, signed in, with the form token the page carries.
	c := s.browser(t)
	s.signIn(t, c, m)
	form := url.Values{web.FormField: {s.get(t, c, "/token")}}
	var opts protocol.CredentialCreation
	if code := s.post(t, c, "/signin/passkey/register/begin", form, &opts); code != http.StatusOK {
		t.Fatalf("register/begin: %d", code)
	}
	k := newKey(t, testRPID, userHandle(t, &opts))
	form.Set("credential", string(k.create(t, &opts, testOrigin)))
	form.Set("name", "phone")
	var reg registered
	if code := s.post(t, c, "/signin/passkey/register/finish", form, &reg); code != http.StatusOK || reg.Name != "phone" {
		t.Fatalf("register/finish: %d %+v", code, reg)
	}

	// Sign-in in another browser, with nothing but the passkey.
	b := s.browser(t)
	var lo protocol.CredentialAssertion
	if code := s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &lo); code != http.StatusOK {
		t.Fatalf("login/begin: %d", code)
	}
	u, _ := url.Parse(s.srv.URL)
	ceremony := b.Jar.Cookies(u)
	var done signedIn
	form = url.Values{"credential": {string(k.get(t, &lo, testOrigin))}, "next": {"/resources?page=2"}}
	if code := s.post(t, b, "/signin/passkey/login/finish", form, &done); code != http.StatusOK || done.Redirect != "/resources?page=2" {
		t.Fatalf("login/finish: %d %+v", code, done)
	}
	if got := s.get(t, b, "/whoami"); got != strconv.FormatInt(m.ID, 10) {
		t.Fatalf("signed in as %q, want %d", got, m.ID)
	}

	// The same answer again, with the same ceremony cookie, as someone
	// who captured both would send it: the ceremony is used up.
	replay := s.browser(t)
	replay.Jar.SetCookies(u, ceremony)
	var refused errorBody
	if code := s.post(t, replay, "/signin/passkey/login/finish", form, &refused); code != http.StatusBadRequest ||
		!strings.Contains(refused.Error, "could not be used") {
		t.Fatalf("replayed login/finish: %d %+v", code, refused)
	}
}

func TestHandler_refusals(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")
	k := s.register(t, m)

	t.Run("registration without a session", func(t *testing.T) {
		var e errorBody
		if code := s.post(t, s.browser(t), "/signin/passkey/register/begin", url.Values{}, &e); code != http.StatusForbidden || e.Error == "" {
			t.Fatalf("register/begin: %d %+v", code, e)
		}
	})

	t.Run("registration without the form token", func(t *testing.T) {
		c := s.browser(t)
		s.signIn(t, c, m)
		req, _ := http.NewRequest("POST", s.srv.URL+"/signin/passkey/register/begin", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("register/begin: %d", res.StatusCode)
		}
	})

	t.Run("cross-origin", func(t *testing.T) {
		// Straight to the handler: the site's own protection would stop it
		// first; the handler must stop it on its own too.
		for _, path := range []string{"/signin/passkey/login/begin", "/signin/passkey/login/finish"} {
			req := httptest.NewRequest("POST", path, strings.NewReader(""))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.Header.Set("Origin", "https://evil.example")
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, req)
			if w.Code != http.StatusForbidden {
				t.Fatalf("%s from another origin: %d %s", path, w.Code, w.Body)
			}
		}
	})

	t.Run("no ceremony cookie", func(t *testing.T) {
		b := s.browser(t)
		var lo protocol.CredentialAssertion
		s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &lo)
		other := s.browser(t)
		var e errorBody
		form := url.Values{"credential": {string(k.get(t, &lo, testOrigin))}}
		if code := s.post(t, other, "/signin/passkey/login/finish", form, &e); code != http.StatusBadRequest {
			t.Fatalf("login/finish in another browser: %d %+v", code, e)
		}
		if got := s.get(t, other, "/whoami"); got != "0" {
			t.Fatalf("signed in as %q", got)
		}
	})

	t.Run("answer too large", func(t *testing.T) {
		b := s.browser(t)
		var lo protocol.CredentialAssertion
		s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &lo)
		var e errorBody
		form := url.Values{"credential": {strings.Repeat("a", int(s.Config().MaxBodyBytes)+1)}}
		if code := s.post(t, b, "/signin/passkey/login/finish", form, &e); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("login/finish: %d %+v", code, e)
		}
		form = url.Values{"credential": {strings.Repeat("a", int(s.h.maxForm))}}
		if code := s.post(t, b, "/signin/passkey/login/finish", form, &e); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("login/finish, body over the form limit: %d %+v", code, e)
		}
	})

	t.Run("next elsewhere", func(t *testing.T) {
		b := s.browser(t)
		var lo protocol.CredentialAssertion
		s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &lo)
		var done signedIn
		form := url.Values{"credential": {string(k.get(t, &lo, testOrigin))}, "next": {"//evil.example/"}}
		if code := s.post(t, b, "/signin/passkey/login/finish", form, &done); code != http.StatusOK || done.Redirect != "/" {
			t.Fatalf("login/finish: %d %+v", code, done)
		}
	})

	t.Run("passkey name too long", func(t *testing.T) {
		c := s.browser(t)
		s.signIn(t, c, m)
		form := url.Values{web.FormField: {s.get(t, c, "/token")}}
		var opts protocol.CredentialCreation
		s.post(t, c, "/signin/passkey/register/begin", form, &opts)
		form.Set("credential", string(newKey(t, testRPID, userHandle(t, &opts)).create(t, &opts, testOrigin)))
		form.Set("name", strings.Repeat("n", 101))
		var e errorBody
		if code := s.post(t, c, "/signin/passkey/register/finish", form, &e); code != http.StatusBadRequest ||
			!strings.Contains(e.Error, "100 characters") {
			t.Fatalf("register/finish: %d %+v", code, e)
		}
		if pks, _ := s.List(t.Context(), m.ID); len(pks) != 1 {
			t.Fatalf("passkeys: %+v", pks)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		var e errorBody
		if code := s.post(t, s.browser(t), "/signin/passkey/nope", url.Values{}, &e); code != http.StatusNotFound {
			t.Fatalf("POST nope: %d", code)
		}
	})
}

func TestHandler_begin_rate(t *testing.T) {
	s := newServer(t)
	b := s.browser(t)
	var e errorBody
	for i := range s.h.cfg.BeginBurst + 1 {
		code := s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &e)
		if i < s.h.cfg.BeginBurst && code != http.StatusOK {
			t.Fatalf("begin %d: %d", i, code)
		}
		if i == s.h.cfg.BeginBurst && code != http.StatusTooManyRequests {
			t.Fatalf("begin %d past the burst: %d", i, code)
		}
	}
}

func TestHandler_second_factor(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")
	k := s.register(t, m)
	b := s.browser(t)

	var e errorBody
	if code := s.post(t, b, "/signin/passkey/second/begin", url.Values{}, &e); code != http.StatusBadRequest {
		t.Fatalf("second/begin without a pending sign-in: %d", code)
	}
	pending, err := s.StartPending(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.srv.URL)
	b.Jar.SetCookies(u, []*http.Cookie{s.h.PendingCookie(pending)})
	if got := s.get(t, b, "/whoami"); got != "0" {
		t.Fatalf("a pending sign-in is signed in as %q", got)
	}
	var opts protocol.CredentialAssertion
	if code := s.post(t, b, "/signin/passkey/second/begin", url.Values{}, &opts); code != http.StatusOK {
		t.Fatalf("second/begin: %d", code)
	}
	var done signedIn
	form := url.Values{"credential": {string(k.get(t, &opts, testOrigin))}}
	if code := s.post(t, b, "/signin/passkey/second/finish", form, &done); code != http.StatusOK {
		t.Fatalf("second/finish: %d", code)
	}
	if got := s.get(t, b, "/whoami"); got != strconv.FormatInt(m.ID, 10) {
		t.Fatalf("signed in as %q, want %d", got, m.ID)
	}
	if _, err := s.Pending(t.Context(), pending); err == nil {
		t.Fatal("the pending sign-in outlived its passkey check")
	}
	if e := s.lastAudit(t); e.Type != account.EventSignIn || e.MemberID != m.ID || e.Detail != "password and passkey" {
		t.Fatalf("second factor audited as %+v", e)
	}
}

// TestHandler_second_factor_other_member checks that another member's
// passkey cannot finish a pending sign-in, which stays pending.
func TestHandler_second_factor_other_member(t *testing.T) {
	s := newServer(t)
	ana, bo := s.member(t, "ana@sic.example"), s.member(t, "bo@sic.example")
	s.register(t, ana)
	boKey := s.register(t, bo)
	pending, err := s.StartPending(t.Context(), ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	u, _ := url.Parse(s.srv.URL)
	b.Jar.SetCookies(u, []*http.Cookie{s.h.PendingCookie(pending)})
	var opts protocol.CredentialAssertion
	if code := s.post(t, b, "/signin/passkey/second/begin", url.Values{}, &opts); code != http.StatusOK {
		t.Fatalf("second/begin: %d", code)
	}
	var e errorBody
	form := url.Values{"credential": {string(boKey.get(t, &opts, testOrigin))}}
	if code := s.post(t, b, "/signin/passkey/second/finish", form, &e); code != http.StatusBadRequest || e.Error == "" {
		t.Fatalf("second/finish with bo's passkey: %d %+v", code, e)
	}
	if got := s.get(t, b, "/whoami"); got != "0" {
		t.Fatalf("signed in as %q with another member's passkey", got)
	}
	if m, err := s.Pending(t.Context(), pending); err != nil || m != ana.ID {
		t.Fatalf("after a refused passkey, Pending = %d, %v; want ana still pending", m, err)
	}
	if ev := s.lastAudit(t); ev.Type != account.EventSignInFailed || ev.MemberID != ana.ID {
		t.Fatalf("refused second factor audited as %+v", ev)
	}
}

func TestHandler_script(t *testing.T) {
	s := newServer(t)
	if !strings.HasPrefix(s.h.ScriptURL(), "/signin/passkey/passkey.") {
		t.Fatalf("ScriptURL = %q", s.h.ScriptURL())
	}
	res, err := http.Get(s.srv.URL + s.h.ScriptURL())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(string(body), "navigator.credentials.create") {
		t.Fatalf("GET script: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
