package signin

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/oidctest"
)

// ssoFixture is a sign-in site whose single sign-on goes to a real OpenID
// provider, running as its own process.
type ssoFixture struct {
	*fixture
	p        *oidctest.Provider
	redirect string
	// ahead moves the clock ID tokens are checked against.
	ahead atomic.Int64
}

func newSSOFixture(t *testing.T) *ssoFixture {
	t.Helper()
	return newSSOFixtureWith(t, fixtureOptions{})
}

// newSSOFixtureWith is newSSOFixture with more options.
func newSSOFixtureWith(t *testing.T, o fixtureOptions) *ssoFixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ssoFixture{redirect: "http://" + l.Addr().String() + "/signin/oidc/callback"}
	s.p = oidctest.Start(t, s.redirect)
	o.listener = l
	o.signin = func(c *Config) {
		oc := DefaultOIDCConfig()
		oc.Issuer, oc.ClientID, oc.ClientSecret = s.p.Issuer, oidctest.ClientID, oidctest.ClientSecret
		oc.RedirectURL, oc.DisplayName = s.redirect, "Testland ID"
		oc.Now = func() time.Time { return time.Now().Add(time.Duration(s.ahead.Load())) }
		c.OIDC = &oc
	}
	s.fixture = newFixtureWith(t, o)
	return s
}

// sso signs c in through the provider as u, starting from path, and
// returns the page the browser ends on.
func (s *ssoFixture) sso(c *http.Client, path string, u oidctest.User) answer {
	s.t.Helper()
	resp, err := s.p.SignIn(s.t.Context(), c, s.srv.URL+path, u)
	if err != nil {
		s.t.Fatalf("single sign-on as %s: %v", u.Username, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// lastAudit returns the newest audit event.
func (s *ssoFixture) lastAudit() account.Event {
	s.t.Helper()
	events, err := s.store.Audit(s.t.Context(), 0, 1)
	if err != nil || len(events) == 0 {
		s.t.Fatalf("audit: %v %v", events, err)
	}
	return events[0]
}

func TestHandler_OIDC(t *testing.T) {
	s := newSSOFixture(t)
	s.member(oidctest.Verified.Email)
	s.member(oidctest.Unverified.Email)

	t.Run("the sign-in page offers it", func(t *testing.T) {
		a := s.get(s.browser(), "/signin?next=%2Faccount")
		mustContain(t, a.body, `<a class="button" href="/signin/oidc/start?next=%2Faccount">Sign in with Testland ID</a>`)
	})

	t.Run("a member with the verified email signs in", func(t *testing.T) {
		c := s.browser()
		a := s.sso(c, "/signin/oidc/start?next=%2Faccount", oidctest.Verified)
		if a.status != http.StatusOK {
			t.Fatalf("after sign-on: %d %s", a.status, a.body)
		}
		mustContain(t, a.body, "<h1>Your account</h1>", oidctest.Verified.Email)
		if a := s.get(c, "/"); a.status != http.StatusOK || a.body != "hello Eddie Editor" {
			t.Fatalf("home after sign-on: %d %s", a.status, a.body)
		}
		m, err := s.store.GetByEmail(t.Context(), oidctest.Verified.Email)
		if err != nil {
			t.Fatal(err)
		}
		if e := s.lastAudit(); e.Type != account.EventSignIn || e.MemberID != m.ID || e.Detail != "oidc" {
			t.Errorf("audit after sign-on: %+v", e)
		}
		// Roles are the server's: the provider never names any, and the
		// session's member has exactly what the store gave them.
		sessions, err := s.store.Sessions(t.Context(), m.ID)
		if err != nil || len(sessions) != 1 {
			t.Fatalf("sessions: %v %v", sessions, err)
		}
		if len(m.Roles) != 1 || m.Roles[0] != "editor" {
			t.Errorf("roles %v", m.Roles)
		}
	})

	refused := func(t *testing.T, c *http.Client, a answer, status int, want string) {
		t.Helper()
		if a.status != status {
			t.Errorf("status %d, want %d", a.status, status)
		}
		mustContain(t, a.body, want, `role="alert"`)
		if a := s.get(c, "/"); a.status != http.StatusSeeOther {
			t.Errorf("signed in after a refused sign-on: %d", a.status)
		}
		if e := s.lastAudit(); e.Type != account.EventSignInFailed || !strings.HasPrefix(e.Detail, "oidc: ") {
			t.Errorf("audit after a refused sign-on: %+v", e)
		}
	}

	t.Run("unknown email", func(t *testing.T) {
		c := s.browser()
		a := s.sso(c, "/signin/oidc/start", oidctest.Stranger)
		refused(t, c, a, http.StatusForbidden,
			"There is no member with this email address. Ask your Safer Internet Centre&#39;s admin for an invitation.")
		if e := s.lastAudit(); !strings.Contains(e.Detail, oidctest.Stranger.Email) {
			t.Errorf("the audit does not say which email: %+v", e)
		}
	})

	t.Run("unverified email", func(t *testing.T) {
		c := s.browser()
		a := s.sso(c, "/signin/oidc/start", oidctest.Unverified)
		refused(t, c, a, http.StatusForbidden, "Your identity provider has not verified your email address")
	})

	t.Run("expired ID token", func(t *testing.T) {
		s.ahead.Store(int64(oidctest.IDTokenLifetime + time.Minute))
		defer s.ahead.Store(0)
		c := s.browser()
		a := s.sso(c, "/signin/oidc/start", oidctest.Verified)
		refused(t, c, a, http.StatusForbidden, "Single sign-on did not work.")
		if e := s.lastAudit(); !strings.Contains(e.Detail, "expired") {
			t.Errorf("refused for another reason: %+v", e)
		}
	})

	t.Run("tampered state", func(t *testing.T) {
		c := s.browser()
		a := s.get(c, "/signin/oidc/start")
		if a.status != http.StatusSeeOther {
			t.Fatalf("start: %d", a.status)
		}
		cb, err := s.p.Authorize(t.Context(), a.header.Get("Location"), oidctest.Verified)
		if err != nil {
			t.Fatal(err)
		}
		q := cb.Query()
		q.Set("state", strings.Repeat("A", len(q.Get("state"))))
		a = s.get(c, cb.Path+"?"+q.Encode())
		refused(t, c, a, http.StatusForbidden, "Single sign-on did not work.")
		if e := s.lastAudit(); !strings.Contains(e.Detail, "state") {
			t.Errorf("refused for another reason: %+v", e)
		}
	})
}

// TestOIDCFlow_Identify_Audience gives the relying party, configured as
// client "web", an ID token the provider issued to client "api".
func TestOIDCFlow_Identify_Audience(t *testing.T) {
	s := newSSOFixture(t)
	ctx := t.Context()
	p, err := s.h.oidc.discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := func(client string) *oauth2.Token {
		t.Helper()
		rp := &oauth2.Config{ClientID: client, ClientSecret: oidctest.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: s.redirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
		cb, err := s.p.Authorize(ctx, rp.AuthCodeURL("state", oidc.Nonce("the-nonce")), oidctest.Verified)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := rp.Exchange(ctx, cb.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	id, err := s.h.oidc.identify(ctx, p, token(oidctest.ClientID), "the-nonce")
	if err != nil || id.Email != oidctest.Verified.Email || !id.Verified {
		t.Fatalf("a token for web: %+v, %v", id, err)
	}
	if _, err := s.h.oidc.identify(ctx, p, token(oidctest.ClientID), "another-nonce"); !errors.Is(err, errNonce) {
		t.Errorf("a token with another nonce: %v", err)
	}
	_, err = s.h.oidc.identify(ctx, p, token(oidctest.OtherClientID), "the-nonce")
	if err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("a token for api: %v, want refused for its audience", err)
	}
}

// TestHandler_OIDCThrottled shows that failed single sign-ons count
// against the client's address like wrong passwords, in the same throttle.
func TestHandler_OIDCThrottled(t *testing.T) {
	f := newFixtureWith(t, fixtureOptions{signin: func(c *Config) {
		oc := DefaultOIDCConfig()
		// Nothing listens there: every callback below is refused before
		// the provider would be asked anything.
		oc.Issuer, oc.ClientID, oc.ClientSecret = "http://127.0.0.1:9/", "web", "secret"
		c.OIDC = &oc
	}})
	f.member("eddie@example.org")
	c := f.browser()
	var a answer
	for i := range 30 {
		a = f.get(c, "/signin/oidc/callback?state=forged&code=forged")
		if a.status == http.StatusTooManyRequests {
			if i < account.DefaultConfig("x").AddressFailures {
				t.Fatalf("throttled after %d failures", i)
			}
			break
		}
		if a.status != http.StatusForbidden {
			t.Fatalf("forged callback %d: %d", i, a.status)
		}
	}
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("never throttled: %d", a.status)
	}
	mustContain(t, a.body, "Too many attempts.")
	a = f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}})
	if a.status != http.StatusTooManyRequests {
		t.Errorf("password sign-in from the same address: %d, want 429", a.status)
	}
}

func TestOIDCConfig_Validate(t *testing.T) {
	good := func() OIDCConfig {
		c := DefaultOIDCConfig()
		c.Issuer, c.ClientID, c.ClientSecret = "https://id.sic.example/", "bikfed", "s3cret"
		return c
	}
	tests := []struct {
		name string
		edit func(*OIDCConfig)
		ok   bool
	}{
		{"good", func(*OIDCConfig) {}, true},
		{"http on loopback", func(c *OIDCConfig) { c.Issuer = "http://localhost:5556/" }, true},
		{"http on 127.0.0.1", func(c *OIDCConfig) { c.Issuer = "http://127.0.0.1:5556" }, true},
		{"http elsewhere", func(c *OIDCConfig) { c.Issuer = "http://id.sic.example/" }, false},
		{"relative issuer", func(c *OIDCConfig) { c.Issuer = "/oidc" }, false},
		{"issuer with credentials", func(c *OIDCConfig) { c.Issuer = "https://a:b@id.sic.example/" }, false},
		{"no client id", func(c *OIDCConfig) { c.ClientID = "" }, false},
		{"no secret", func(c *OIDCConfig) { c.ClientSecret = "" }, false},
		{"redirect over http", func(c *OIDCConfig) { c.RedirectURL = "http://sic.example/signin/oidc/callback" }, false},
		{"scopes without openid", func(c *OIDCConfig) { c.Scopes = []string{"email"} }, false},
		{"no timeout", func(c *OIDCConfig) { c.Timeout = 0 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestHandler_NoOIDC(t *testing.T) {
	f := newFixture(t)
	if a := f.get(f.browser(), "/signin"); strings.Contains(a.body, "oidc") {
		t.Error("the sign-in page offers single sign-on that is not configured")
	}
	if a := f.get(f.browser(), "/signin/oidc/start"); a.status != http.StatusNotFound {
		t.Errorf("start without single sign-on: %d", a.status)
	}
}

func FuzzParseFlow(f *testing.F) {
	f.Add(flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: "/account"}.encode())
	f.Add("a.b.c.d")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fl, ok := parseFlow(s)
		if !ok {
			return
		}
		if back, ok := parseFlow(fl.encode()); !ok || back != fl {
			t.Fatalf("%q decodes to %+v, which does not round-trip", s, fl)
		}
	})
}

func FuzzEmailClaims(f *testing.F) {
	f.Add(`{"email":"vera@sso.example","email_verified":true}`)
	f.Add(`{"email":"vera@sso.example","email_verified":"true"}`)
	f.Add(`{"email_verified":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		var c emailClaims
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return
		}
		if c.EmailVerified.value && !c.EmailVerified.set {
			t.Fatalf("%q: verified without the claim", s)
		}
	})
}
