package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/oidctest"
)

// TestE2E_WorkspaceSingleSignOn signs in to a real node's workspace through
// a real OpenID provider, configured by the node's flags: a member by
// their verified email, a stranger refused, and an ID token the node's
// clock finds expired refused.
func TestE2E_WorkspaceSingleSignOn(t *testing.T) {
	nw := newNetwork(t)
	addr := freeAddr(t)
	base := "http://" + addr
	p := oidctest.Start(t, base+"/signin/oidc/callback")
	secret := filepath.Join(t.TempDir(), "oidc.secret")
	if err := os.WriteFile(secret, []byte(oidctest.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := nw.addNode("pt", "--listen", addr, "--oidc-issuer", p.Issuer, "--oidc-client-id", oidctest.ClientID,
		"--oidc-client-secret-file", secret, "--oidc-name", "Testland ID")
	nw.startNode(n)
	waitServing(t, n.dir, nodeAddrFile)
	link := addMember(t, n, oidctest.Verified.Email, "Vera Costa", "editor")
	newPerson(t, base).acceptInvitation(link, testPassword)

	sso := func(u oidctest.User) (int, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := p.SignIn(t.Context(), c, base+"/signin/oidc/start?next=%2F", u)
		if err != nil {
			t.Fatalf("single sign-on as %s: %v", u.Username, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if body := newPerson(t, base).get("/signin").body; !strings.Contains(body, "Testland ID") {
		t.Fatalf("the sign-in page offers no single sign-on:\n%s", body)
	}
	status, body := sso(oidctest.Verified)
	if status != http.StatusOK || !strings.Contains(body, "Welcome, Vera Costa.") {
		t.Fatalf("single sign-on as a member: %d\n%s", status, body)
	}
	status, body = sso(oidctest.Stranger)
	if strings.Contains(body, "Welcome,") || !strings.Contains(body, "There is no member with this email address.") {
		t.Fatalf("single sign-on as someone with no account: %d\n%s", status, body)
	}

	// The node's clock runs past the ID token's lifetime: its tokens are
	// expired when they arrive.
	n.proc.stop()
	os.Remove(filepath.Join(n.dir, nodeAddrFile))
	t.Setenv(testClockOffsetEnv, (oidctest.IDTokenLifetime + 10*time.Minute).String())
	nw.startNode(n)
	waitServing(t, n.dir, nodeAddrFile)
	status, body = sso(oidctest.Verified)
	if strings.Contains(body, "Welcome, Vera Costa.") {
		t.Fatalf("an expired ID token signed in: %d\n%s", status, body)
	}
	if !strings.Contains(body, "Single sign-on did not work.") {
		t.Fatalf("an expired ID token: no clear message: %d\n%s", status, body)
	}
}
