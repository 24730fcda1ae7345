package signin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/account"
)

// browserTools finds Debian's chromium and the axe-core npm package that
// make browser installs.
func browserTools(t *testing.T) (chromium, axe string) {
	missing := func(what string) {
		msg := what + " is missing: run make browser"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	chromium = os.Getenv("BIKFED_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(chromium); err != nil {
		missing("chromium (" + chromium + ")")
	}
	axe = os.Getenv("BIKFED_AXE")
	if axe == "" {
		home, _ := os.UserHomeDir()
		axe = filepath.Join(home, ".cache", "bikfed", "npm", "node_modules", "axe-core", "axe.min.js")
	}
	if _, err := os.Stat(axe); err != nil {
		missing("axe-core (" + axe + ")")
	}
	return chromium, axe
}

// TestPasskeyPages_chromium goes through the real sign-in and account pages
// in Chromium with its virtual authenticator: a member adds a passkey on
// their account page and signs in with it alone; then, with their role
// asking for a passkey, their password stops at a second step that only
// their own passkey gets past; and a member with no passkey yet adds one
// at that step. axe-core checks each kind of page.
func TestPasskeyPages_chromium(t *testing.T) {
	chromium, axePath := browserTools(t)
	axeJS, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join("..", "..", "testout", t.Name())
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// localhost is a secure context over plain http and a valid RP ID; a
	// bare IP address is neither.
	origin := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	f := newFixtureWith(t, fixtureOptions{listener: ln, passkeyOrigin: origin})
	f.member("eddie@example.org")
	f.member("ana@example.org")
	f.member("zoe@example.org")
	eddie, ana, zoe := f.memberID("eddie@example.org"), f.memberID("ana@example.org"), f.memberID("zoe@example.org")

	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(chromium), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 800))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	location := func() string {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(sctx, chromedp.Location())
		return loc
	}
	waitAt := func(what, path string) {
		t.Helper()
		waitFor(t, what, func() bool { return location() == origin+path })
	}
	call := func(fn func(context.Context) error) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			return chromedp.Void{}, fn(ctx)
		}
	}
	shot := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	audit := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := chromedp.Run(sctx, chromedp.Evaluate[bool](string(axeJS)+";true")); err != nil {
			t.Fatalf("inject axe-core: %v", err)
		}
		out, err := chromedp.Run(sctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
			.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
				nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))}))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("run axe-core on %s: %v", name, err)
		}
		var res struct {
			Passes     int   `json:"passes"`
			Violations []any `json:"violations"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("axe-core on %s: %v", name, err)
		}
		if res.Passes < 10 {
			t.Errorf("axe-core checked only %d rules on %s: did it run?", res.Passes, name)
		}
		if len(res.Violations) > 0 {
			b, _ := json.MarshalIndent(res.Violations, "", "  ")
			t.Errorf("axe-core: WCAG 2.1 A/AA violations on %s:\n%s", name, b)
		}
	}
	signInWithPassword := func(email string) {
		t.Helper()
		step("sign in as "+email, chromedp.Navigate(origin+"/signin"), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), goodPassword),
			chromedp.Submit(chromedp.CSS("#password")))
	}
	signOut := func() {
		t.Helper()
		// The test's home page is plain text: the account page has the
		// sign-out button in its header.
		step("sign out", chromedp.Navigate(origin+"/account"), chromedp.Click(chromedp.CSS("form.out button")))
		waitAt("the sign-in page after signing out", "/signin?done=signout")
	}
	addPasskey := func(name string) {
		t.Helper()
		step("open the account page", chromedp.Navigate(origin+"/account"), chromedp.WaitVisible(chromedp.CSS("#passkey-add button")))
		step("add a passkey", chromedp.SetValue(chromedp.CSS("#passkey-name"), name), chromedp.Click(chromedp.CSS("#passkey-add button")))
		waitAt("the account page after adding a passkey", "/account?done=passkey-added")
		step("see the new passkey", chromedp.WaitVisible(chromedp.Search(`//td[.="`+name+`"]`)))
	}
	lastSignIn := func() account.Event {
		t.Helper()
		evs, err := f.store.Audit(t.Context(), 0, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == account.EventSignIn || e.Type == account.EventSignInFailed {
				return e
			}
		}
		return account.Event{}
	}

	// Every member of the fixture is called Eddie Editor: who is signed in
	// is told by their sessions.
	sessions := func(m int64) int {
		t.Helper()
		s, err := f.store.Sessions(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}

	var authenticator cdpwebauthn.AuthenticatorID
	step("add a virtual authenticator", call(func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		if err == nil {
			authenticator = res.AuthenticatorID
		}
		return err
	}))

	// The sign-in page shows the passkey button once the script runs.
	step("open the sign-in page", chromedp.Navigate(origin+"/signin"), chromedp.WaitVisible(chromedp.CSS("#passkey-signin button")))
	shot("01-signin")
	audit("the sign-in page")

	// Eddie signs in with his password and adds a passkey.
	signInWithPassword("eddie@example.org")
	waitAt("the home page", "/")
	addPasskey("virtual key")
	shot("02-account-passkeys")
	audit("the account page with a passkey")
	if pks, _ := f.keys.List(t.Context(), eddie.ID); len(pks) != 1 || pks[0].Name != "virtual key" {
		t.Fatalf("eddie's passkeys: %+v", pks)
	}

	// Signed out, he signs in with the passkey alone.
	signOut()
	step("wait for the passkey button", chromedp.WaitVisible(chromedp.CSS("#passkey-signin button")))
	step("sign in with the passkey", chromedp.Click(chromedp.CSS("#passkey-signin button")))
	waitAt("the home page after a passkey sign-in", "/")
	if got := text("body"); got != "hello Eddie Editor" {
		t.Fatalf("after a passkey sign-in the home page says %q", got)
	}
	if e := lastSignIn(); e.Type != account.EventSignIn || e.MemberID != eddie.ID || e.Detail != "passkey" {
		t.Fatalf("passkey sign-in audited as %+v", e)
	}
	if n := sessions(eddie.ID); n != 1 {
		t.Fatalf("eddie has %d sessions after his passkey sign-in", n)
	}
	signOut()

	// Ana adds a passkey to the same authenticator.
	signInWithPassword("ana@example.org")
	waitAt("ana's home page", "/")
	addPasskey("ana's key")
	signOut()

	// Now editors need a passkey after their password.
	f.require("editor")
	signInWithPassword("eddie@example.org")
	waitAt("the second step", "/signin/confirm")
	step("wait for the passkey step", chromedp.WaitVisible(chromedp.CSS("#passkey-step button")),
		chromedp.WaitNotVisible(chromedp.CSS("[data-passkey-missing]")))
	shot("03-confirm")
	audit("the second step")
	if n := sessions(eddie.ID); n != 0 {
		t.Fatalf("eddie has %d sessions after the password step", n)
	}

	// With only ana's passkey at hand, eddie's sign-in stays pending.
	pks, _ := f.keys.List(t.Context(), eddie.ID)
	eddieCred, err := base64.RawURLEncoding.DecodeString(pks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var saved *cdpwebauthn.Credential
	step("take eddie's passkey off the authenticator", call(func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, cdpwebauthn.GetCredential, cdpwebauthn.GetCredentialParams{AuthenticatorID: authenticator, CredentialID: eddieCred})
		if err != nil {
			return err
		}
		saved = res.Credential
		_, err = chromedp.Call(ctx, cdpwebauthn.RemoveCredential, cdpwebauthn.RemoveCredentialParams{AuthenticatorID: authenticator, CredentialID: eddieCred})
		return err
	}))
	var left []*cdpwebauthn.Credential
	step("list the authenticator's passkeys", call(func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, cdpwebauthn.GetCredentials, cdpwebauthn.GetCredentialsParams{AuthenticatorID: authenticator})
		left = res.Credentials
		return err
	}))
	if len(left) != 1 || bytes.Equal(left[0].CredentialID, eddieCred) {
		t.Fatalf("the authenticator holds %d passkeys, want only ana's", len(left))
	}
	step("confirm without eddie's passkey", chromedp.Click(chromedp.CSS("#passkey-step button")))
	waitFor(t, "the second step to say no passkey was used", func() bool {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("#passkey-step [data-passkey-status]")))
		return err == nil && strings.TrimSpace(s) != ""
	})
	shot("04-confirm-refused")
	if loc := location(); loc != origin+"/signin/confirm" {
		t.Fatalf("after ana's passkey the browser is at %s", loc)
	}
	if n := sessions(eddie.ID); n != 0 {
		t.Fatalf("eddie has %d sessions without his passkey", n)
	}
	if n := sessions(ana.ID); n != 0 {
		t.Fatalf("ana has %d sessions", n)
	}

	// With his own passkey back, the sign-in finishes.
	step("give eddie's passkey back", call(func(ctx context.Context) error {
		// Chromium refuses the protocol package's credential, which always
		// carries a field of an extension it does not support: the
		// credential goes back with the fields that make it.
		type credential struct {
			CredentialID         []byte  `json:"credentialId"`
			IsResidentCredential bool    `json:"isResidentCredential"`
			RpID                 string  `json:"rpId"`
			PrivateKey           []byte  `json:"privateKey"`
			UserHandle           []byte  `json:"userHandle"`
			SignCount            float64 `json:"signCount"`
		}
		type params struct {
			AuthenticatorID cdpwebauthn.AuthenticatorID `json:"authenticatorId"`
			Credential      credential                  `json:"credential"`
		}
		add := cdp.Command[params, cdp.Empty]{Method: cdpwebauthn.CommandAddCredential}
		_, err := chromedp.Call(ctx, add, params{AuthenticatorID: authenticator, Credential: credential{
			CredentialID: saved.CredentialID, IsResidentCredential: saved.IsResidentCredential, RpID: saved.RpID,
			PrivateKey: saved.PrivateKey, UserHandle: saved.UserHandle, SignCount: saved.SignCount}})
		return err
	}))
	step("confirm with eddie's passkey", chromedp.Click(chromedp.CSS("#passkey-step button")))
	waitAt("the home page after the second step", "/")
	if got := text("body"); got != "hello Eddie Editor" {
		t.Fatalf("after the second step the home page says %q", got)
	}
	if e := lastSignIn(); e.Type != account.EventSignIn || e.MemberID != eddie.ID || e.Detail != "password and passkey" {
		t.Fatalf("second step audited as %+v", e)
	}
	if n := sessions(eddie.ID); n != 1 {
		t.Fatalf("eddie has %d sessions after the second step", n)
	}
	signOut()

	// Zoe has no passkey yet: the second step adds her first one.
	signInWithPassword("zoe@example.org")
	waitAt("zoe's second step", "/signin/confirm")
	step("wait for the enrolment form", chromedp.WaitVisible(chromedp.CSS("#passkey-step button")))
	shot("05-enrol")
	audit("the enrolment step")
	if n := sessions(zoe.ID); n != 0 {
		t.Fatalf("zoe has %d sessions before adding a passkey", n)
	}
	step("add zoe's passkey", chromedp.SetValue(chromedp.CSS("#passkey-name"), "zoe's phone"), chromedp.Click(chromedp.CSS("#passkey-step button")))
	waitAt("zoe's home page", "/")
	if pks, _ := f.keys.List(t.Context(), zoe.ID); len(pks) != 1 || pks[0].Name != "zoe's phone" {
		t.Fatalf("zoe's passkeys: %+v", pks)
	}
	if e := lastSignIn(); e.Type != account.EventSignIn || e.MemberID != zoe.ID || e.Detail != "password, first passkey" {
		t.Fatalf("enrolment audited as %+v", e)
	}

	// She renames it on her account page.
	step("open zoe's account page", chromedp.Navigate(origin+"/account"), chromedp.WaitVisible(chromedp.CSS("#passkeys")))
	step("ask to rename her passkey", chromedp.Click(chromedp.Search(`//a[@aria-label="Rename zoe's phone"]`)),
		chromedp.WaitVisible(chromedp.CSS("#passkey-new-name")))
	shot("06-account-rename")
	audit("the account page with the rename form")
	step("rename her passkey", chromedp.SetValue(chromedp.CSS("#passkey-new-name"), "old phone"),
		chromedp.Submit(chromedp.CSS("#passkey-new-name")))
	waitAt("the account page after renaming", "/account?done=passkey-renamed")
	step("see the new name", chromedp.WaitVisible(chromedp.Search(`//td[.="old phone"]`)))

	// The account page asks before removing a passkey, and keeps the
	// last one while her role asks for one.
	step("ask to remove her passkey", chromedp.Click(chromedp.Search(`//a[@aria-label="Remove old phone"]`)),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	shot("07-remove-last")
	audit("the removal page for the last passkey")

	// Without the policy, it asks, then removes.
	f.require()
	step("ask again", chromedp.Navigate(origin+"/account"), chromedp.Click(chromedp.Search(`//a[@aria-label="Remove old phone"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[.="Remove the passkey"]`)))
	shot("08-remove")
	audit("the removal question")
	step("remove", chromedp.Click(chromedp.Search(`//button[.="Remove the passkey"]`)))
	waitAt("the account page after removing", "/account?done=passkey-removed")
	step("see no passkeys", chromedp.WaitVisible(chromedp.Search(`//p[.="You have no passkeys yet."]`)))
	if has, _ := f.keys.Has(t.Context(), zoe.ID); has {
		t.Fatal("zoe's passkey is still on file")
	}

	// On a phone, in Dutch.
	step("add a passkey again", chromedp.SetValue(chromedp.CSS("#passkey-name"), "telefoon"), chromedp.Click(chromedp.CSS("#passkey-add button")))
	waitAt("the account page after adding a passkey again", "/account?done=passkey-added")
	step("open the account page on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(origin+"/account?lang=nl"),
		chromedp.WaitVisible(chromedp.Search(`//td[.="telefoon"]`)))
	shot("09-account-phone-nl")
	audit("the account page in Dutch on a phone")
}

// waitFor retries cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
