package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestE2E_WorkspacePasskey registers a passkey in a real node's workspace
// through Chromium's virtual authenticator (the DevTools WebAuthn domain),
// then signs in with it alone.
func TestE2E_WorkspacePasskey(t *testing.T) {
	nw := newNetwork(t)
	addr := freeAddr(t)
	// Passkeys are bound to a host name; localhost is one, and a secure
	// context over plain http.
	base := "http://localhost:" + strings.Split(addr, ":")[1]
	n := nw.addNode("fi", "--listen", addr, "--public-url", base)
	nw.startNode(n)
	waitServing(t, n.dir, nodeAddrFile)
	link := addMember(t, n, "mikko@sic.example.fi", "Mikko Virtanen", "editor")

	b := startWebBrowser(t, "TestE2E_WorkspacePasskey")
	get(t, b.ctx, "add a virtual authenticator", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))

	if !strings.HasPrefix(link, base+"/signin/invite?token=") {
		t.Fatalf("the invitation link %s is not at the public URL %s", link, base)
	}
	b.open(link, "#password")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "mikko@sic.example.fi", "#password": testPassword})
	b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))

	b.open(base+"/account", "#passkey-add button")
	b.fill(map[string]string{"#passkey-name": "Työkannettava"})
	b.do("add a passkey", chromedp.Click(chromedp.CSS("#passkey-add button")),
		chromedp.WaitVisible(chromedp.Search(`//td[.="Työkannettava"]`)))
	b.check("account-with-passkey")

	b.do("sign out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#passkey-signin button")))
	b.check("signin-with-passkey")
	b.do("sign in with the passkey", chromedp.Click(chromedp.CSS("#passkey-signin button")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	b.mustShow("main", "Mikko Virtanen")
	audit := mustCLI(t, nil, "node", "member", "audit", "--data", n.dir)
	if !regexp.MustCompile(`(?m)^.*\bsign-in\b.*\bpasskey$`).MatchString(audit) {
		t.Fatalf("the audit log does not show the passkey sign-in:\n%s", audit)
	}
}
