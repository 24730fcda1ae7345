package oidctest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
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

// The provider's clients have well-known secrets and its users well-known
// passwords, so nothing but this machine may reach it.
func TestProvider_ListensOnLoopbackOnly(t *testing.T) {
	p := Start(t)
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(issuer.Port())
	if err != nil {
		t.Fatalf("issuer %q has no port: %v", p.Issuer, err)
	}

	t.Run("listening sockets", func(t *testing.T) {
		addrs, err := listeningAddrs(port)
		if errors.Is(err, fs.ErrNotExist) {
			t.Skip("no /proc/net/tcp on this system")
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) == 0 {
			t.Fatalf("no socket listens on port %d", port)
		}
		for _, a := range addrs {
			if a != netip.MustParseAddr(ListenHost) {
				t.Errorf("provider listens on %v port %d, want %s only", a, port, ListenHost)
			}
		}
	})

	t.Run("non-loopback address", func(t *testing.T) {
		ip := nonLoopbackIPv4(t)
		if !ip.IsValid() {
			t.Skip("this machine has no non-loopback IPv4 address")
		}
		addr := netip.AddrPortFrom(ip, uint16(port)).String()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			conn.Close()
			t.Fatalf("provider reachable at %s", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	})
}

// listeningAddrs returns the local addresses of the TCP sockets listening
// on port, IPv4 and IPv6, as the kernel lists them in /proc/net.
func listeningAddrs(port int) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if name != "/proc/net/tcp" && errors.Is(err, fs.ErrNotExist) {
				continue // no IPv6 in this kernel
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			const stateListen = "0A"
			if len(fields) < 4 || fields[3] != stateListen {
				continue
			}
			host, portHex, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(portHex, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			a, err := procAddr(host)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %q: %w", name, fields[1], err)
			}
			addrs = append(addrs, a)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// procAddr decodes an address of /proc/net/tcp{,6}: the address in network
// byte order, printed as hexadecimal 32-bit words in the host's byte order.
func procAddr(s string) (netip.Addr, error) {
	raw, err := hex.DecodeString(s)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, fmt.Errorf("not an address: %q", s)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap(), nil
}

// nonLoopbackIPv4 returns an IPv4 address of this machine that is not a
// loopback address, or the zero Addr if it has none.
func nonLoopbackIPv4(t *testing.T) netip.Addr {
	t.Helper()
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("list interface addresses: %v", err)
	}
	for _, ia := range ifaddrs {
		ipnet, ok := ia.(*net.IPNet)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(ipnet.IP)
		if a = a.Unmap(); ok && a.Is4() && !a.IsLoopback() && !a.IsUnspecified() {
			return a
		}
	}
	return netip.Addr{}
}

func TestProcAddr(t *testing.T) {
	le := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	for _, tc := range []struct{ le, be, want string }{
		{"0100007F", "7F000001", "127.0.0.1"},
		{"00000000", "00000000", "0.0.0.0"},
		{"0200000A", "0A000002", "10.0.0.2"},
		{"00000000000000000000000000000000", "00000000000000000000000000000000", "::"},
		{"00000000000000000000000001000000", "00000000000000000000000000000001", "::1"},
		{"0000000000000000FFFF00000100007F", "00000000000000000000FFFF7F000001", "127.0.0.1"},
	} {
		in := tc.be
		if le {
			in = tc.le
		}
		got, err := procAddr(in)
		if err != nil || got.String() != tc.want {
			t.Errorf("procAddr(%q) = %v, %v; want %s", in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0100007", "zz00007F", "0100007F00"} {
		if _, err := procAddr(bad); err == nil {
			t.Errorf("procAddr(%q) accepted", bad)
		}
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
	if got, _ := Binary(); got != "/cache/oidc-"+Build+"/oidc-server" {
		t.Errorf("Binary with BIKFED_CACHE = %q", got)
	}
	t.Setenv("BIKFED_OIDC", "/opt/oidc")
	if got, _ := Binary(); got != "/opt/oidc" {
		t.Errorf("Binary with BIKFED_OIDC = %q", got)
	}
}

// The binary's directory is named after the pin and the build, so the
// script that builds it, the module it builds and this package must agree.
func TestVersion_MatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../scripts/oidc.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nversion="+Version+"\n") {
		t.Errorf("scripts/oidc.sh does not pin %s", Version)
	}
	if want := "\nbuild=$version" + strings.TrimPrefix(Build, Version) + "\n"; !strings.HasPrefix(Build, Version) || !strings.Contains(string(script), want) {
		t.Errorf("scripts/oidc.sh does not build %s", Build)
	}
	mod, err := os.ReadFile("../../scripts/oidc/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "\nrequire github.com/zitadel/oidc/v3 "+Version+"\n") {
		t.Errorf("scripts/oidc/go.mod does not require zitadel/oidc %s", Version)
	}
}
