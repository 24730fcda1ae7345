package oidctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is what a sign-in implementation does with the provider:
// discovery, a code exchange and ID token verification.
type relyingParty struct {
	provider *oidc.Provider
	oauth    oauth2.Config
}

func newRelyingParty(t *testing.T, p *Provider, clientID string) *relyingParty {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), p.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &relyingParty{provider: provider, oauth: oauth2.Config{
		ClientID:     clientID,
		ClientSecret: ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  p.RedirectURIs[0],
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}}
}

// login runs the authorization code flow for u and returns the token
// response, with the raw ID token checked to be present.
func (rp *relyingParty) login(t *testing.T, p *Provider, u User, nonce string) (*oauth2.Token, string) {
	t.Helper()
	callback, err := p.Authorize(t.Context(), rp.oauth.AuthCodeURL("state-1", oidc.Nonce(nonce)), u)
	if err != nil {
		t.Fatalf("Authorize(%s): %v", u.Username, err)
	}
	if got := callback.Query().Get("state"); got != "state-1" {
		t.Fatalf("callback state = %q", got)
	}
	tok, err := rp.oauth.Exchange(t.Context(), callback.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange code: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatal("token response has no id_token")
	}
	return tok, raw
}

func TestProvider_Discovery(t *testing.T) {
	p := Start(t)
	if !strings.HasPrefix(p.Issuer, "http://localhost:") || !strings.HasSuffix(p.Issuer, "/") {
		t.Fatalf("Issuer = %q", p.Issuer)
	}
	provider, err := oidc.NewProvider(t.Context(), p.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var claims struct {
		Issuer   string   `json:"issuer"`
		UserInfo string   `json:"userinfo_endpoint"`
		JWKS     string   `json:"jwks_uri"`
		Scopes   []string `json:"scopes_supported"`
	}
	if err := provider.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	ep := provider.Endpoint()
	for name, got := range map[string][2]string{
		"issuer":   {claims.Issuer, p.Issuer},
		"auth":     {ep.AuthURL, p.AuthURL()},
		"token":    {ep.TokenURL, p.TokenURL()},
		"userinfo": {claims.UserInfo, p.UserInfoURL()},
		"jwks":     {claims.JWKS, p.KeysURL()},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
	if !strings.Contains(strings.Join(claims.Scopes, " "), "email") {
		t.Errorf("scopes_supported %v lacks email", claims.Scopes)
	}
}

func TestProvider_CodeFlow(t *testing.T) {
	p := Start(t)
	rp := newRelyingParty(t, p, ClientID)
	verifier := rp.provider.Verifier(&oidc.Config{ClientID: ClientID})

	t.Run("verified email", func(t *testing.T) {
		tok, raw := rp.login(t, p, Verified, "nonce-1")
		idToken, err := verifier.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("verify id token: %v", err)
		}
		if idToken.Subject != Verified.ID || idToken.Nonce != "nonce-1" || idToken.Issuer != p.Issuer {
			t.Errorf("id token sub %q nonce %q iss %q", idToken.Subject, idToken.Nonce, idToken.Issuer)
		}
		if life := idToken.Expiry.Sub(idToken.IssuedAt); life != IDTokenLifetime {
			t.Errorf("id token lifetime = %v, want %v", life, IDTokenLifetime)
		}
		// The code flow keeps userinfo claims out of the ID token, so a
		// relying party must ask the userinfo endpoint for the address.
		var inToken struct {
			Email *string `json:"email"`
		}
		if err := idToken.Claims(&inToken); err != nil {
			t.Fatal(err)
		}
		if inToken.Email != nil {
			t.Errorf("id token carries email %q; the package doc says it does not", *inToken.Email)
		}

		info, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != idToken.Subject || info.Email != Verified.Email || !info.EmailVerified {
			t.Errorf("userinfo sub %q email %q verified %v", info.Subject, info.Email, info.EmailVerified)
		}
		var profile struct {
			Name string `json:"name"`
		}
		if err := info.Claims(&profile); err != nil {
			t.Fatal(err)
		}
		if profile.Name != Verified.FirstName+" "+Verified.LastName {
			t.Errorf("userinfo name = %q", profile.Name)
		}
	})

	t.Run("unverified email", func(t *testing.T) {
		tok, _ := rp.login(t, p, Unverified, "nonce-2")
		info, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Email != Unverified.Email || info.EmailVerified {
			t.Errorf("userinfo email %q verified %v", info.Email, info.EmailVerified)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		u := Verified
		u.Password = "not-" + u.Password
		_, err := p.Authorize(t.Context(), rp.oauth.AuthCodeURL("s"), u)
		if !errors.Is(err, ErrLoginRefused) {
			t.Errorf("Authorize with a wrong password = %v, want ErrLoginRefused", err)
		}
	})

	t.Run("expired id token", func(t *testing.T) {
		_, raw := rp.login(t, p, Verified, "nonce-3")
		later := rp.provider.Verifier(&oidc.Config{ClientID: ClientID, Now: func() time.Time {
			return time.Now().Add(IDTokenLifetime + time.Minute)
		}})
		var expired *oidc.TokenExpiredError
		if _, err := later.Verify(t.Context(), raw); !errors.As(err, &expired) {
			t.Errorf("verify an hour later = %v, want TokenExpiredError", err)
		}
	})

	t.Run("other client's token", func(t *testing.T) {
		other := newRelyingParty(t, p, OtherClientID)
		_, raw := other.login(t, p, Verified, "nonce-4")
		if _, err := verifier.Verify(t.Context(), raw); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("verify %s's token as %s = %v, want an audience error", OtherClientID, ClientID, err)
		}
		if _, err := other.provider.Verifier(&oidc.Config{ClientID: OtherClientID}).Verify(t.Context(), raw); err != nil {
			t.Errorf("verify %s's token as %s: %v", OtherClientID, OtherClientID, err)
		}
	})

	t.Run("native client on another loopback port", func(t *testing.T) {
		native := rp.oauth
		native.ClientID, native.ClientSecret = NativeClientID, ""
		native.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		native.RedirectURL = strings.Replace(DefaultRedirectURI, ":9999/", ":8888/", 1)
		callback, err := p.Authorize(t.Context(), native.AuthCodeURL("s"), Verified)
		if err != nil {
			t.Fatalf("Authorize without PKCE: %v", err)
		}
		if _, err := native.Exchange(t.Context(), callback.Query().Get("code")); err == nil || !strings.Contains(err.Error(), "PKCE required") {
			t.Errorf("exchange a code requested without PKCE = %v, want PKCE required", err)
		}
		verifier := oauth2.GenerateVerifier()
		callback, err = p.Authorize(t.Context(), native.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), Verified)
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		if _, err := native.Exchange(t.Context(), callback.Query().Get("code")); err == nil {
			t.Error("code exchanged without its PKCE verifier")
		}
		callback, err = p.Authorize(t.Context(), native.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), Verified)
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		tok, err := native.Exchange(t.Context(), callback.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange with the PKCE verifier: %v", err)
		}
		if _, err := rp.provider.Verifier(&oidc.Config{ClientID: NativeClientID}).Verify(t.Context(), tok.Extra("id_token").(string)); err != nil {
			t.Errorf("verify native id token: %v", err)
		}
	})

	t.Run("unregistered redirect URI", func(t *testing.T) {
		cfg := rp.oauth
		cfg.RedirectURL = "http://127.0.0.1:1/elsewhere"
		_, err := p.Authorize(t.Context(), cfg.AuthCodeURL("s"), Verified)
		if err == nil {
			t.Error("Authorize with an unregistered redirect URI succeeded")
		}
	})
}

// SignIn is what an end-to-end test uses: the relying party's own start
// and callback handlers, cookies kept in a jar, the provider in between.
func TestProvider_SignIn(t *testing.T) {
	mux := http.NewServeMux()
	rpServer := httptest.NewServer(mux)
	t.Cleanup(rpServer.Close)
	p := Start(t, rpServer.URL+"/callback")
	rp := newRelyingParty(t, p, ClientID)

	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "state", Value: "state-2", Path: "/"})
		http.Redirect(w, r, rp.oauth.AuthCodeURL("state-2"), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("state")
		if err != nil || c.Value != r.URL.Query().Get("state") {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		tok, err := rp.oauth.Exchange(r.Context(), r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		info, err := rp.provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "signed in as %s", info.Email)
	})

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.SignIn(t.Context(), &http.Client{Jar: jar}, rpServer.URL+"/start", Verified)
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "signed in as "+Verified.Email {
		t.Errorf("relying party answered %s %q", resp.Status, body)
	}
}

func TestStartConfig_Users(t *testing.T) {
	custom := User{ID: "u-x", Username: "x", Password: "x-password", Email: "x@be.example", EmailVerified: true}
	p := StartConfig(t, Config{Users: []User{custom}})
	rp := newRelyingParty(t, p, ClientID)
	if _, err := p.Authorize(t.Context(), rp.oauth.AuthCodeURL("s"), Verified); !errors.Is(err, ErrLoginRefused) {
		t.Errorf("a default user signed in to a provider configured without it: %v", err)
	}
	tok, _ := rp.login(t, p, custom, "n")
	info, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil || info.Email != custom.Email {
		t.Errorf("userinfo = %+v, %v", info, err)
	}
}

// fatalTB records the message of a Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStart_MissingBinary(t *testing.T) {
	t.Setenv("BIKFED_OIDC", t.TempDir()+"/no-such-provider")
	ftb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ftb)
		t.Error("Start returned without a provider")
	}()
	<-done
	if !strings.Contains(ftb.msg, "make oidc") {
		t.Errorf("failure message %q does not say to run make oidc", ftb.msg)
	}
}

func TestBinary(t *testing.T) {
	t.Setenv("BIKFED_OIDC", "")
	t.Setenv("BIKFED_CACHE", "/cache")
	if got, _ := Binary(); got != "/cache/oidc-"+Version+"/oidc-server" {
		t.Errorf("Binary with BIKFED_CACHE = %q", got)
	}
	t.Setenv("BIKFED_OIDC", "/opt/oidc")
	if got, _ := Binary(); got != "/opt/oidc" {
		t.Errorf("Binary with BIKFED_OIDC = %q", got)
	}
}

// The binary's directory is named after the pin, so the script that builds
// it and this package must agree on it.
func TestVersion_MatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../scripts/oidc.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nversion="+Version+"\n") {
		t.Errorf("scripts/oidc.sh does not pin %s", Version)
	}
}
