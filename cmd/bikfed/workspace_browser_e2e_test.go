package main

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var printedResetLink = regexp.MustCompile(`Link: (http://\S+/signin/reset\?token=\S+)`)

// TestE2E_WorkspaceBrowser is a Belgian editor's first day in Chromium, in
// Dutch: the invitation, a password, sign-in, the dashboard, her account,
// a forgotten password and its reset link, sign-out; and a youth member
// turned away from the editor's pages. axe-core audits every page.
func TestE2E_WorkspaceBrowser(t *testing.T) {
	_, n, base := workspaceNode(t, "be")
	link := addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor")
	youthLink := addMember(t, n, "noor@school.example.be", "Noor Janssens", "youth")

	b := startWebBrowser(t, "TestE2E_WorkspaceBrowser")
	b.do("read Dutch", acceptLanguage("nl-BE,nl;q=0.9,en;q=0.5"))

	b.open(link, "#password")
	if lang := get(t, b.ctx, "read the page's language", chromedp.AttributeValue(chromedp.CSS("html"), "lang")); lang.Value != "nl" {
		t.Fatalf("the invitation page is in %q, want nl", lang.Value)
	}
	b.check("invitation")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.check("signin")
	b.fill(map[string]string{"#email": "eva@sic.example.be", "#password": testPassword})
	b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	b.mustShow("main h1", "Overzicht")
	b.mustShow("main", "Eva Peeters")
	b.check("dashboard")

	b.follow("open the account page", `.nav a[href="/account"]`, "/account", "main h1")
	b.check("account")

	b.do("sign out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	if loc := b.location(); !strings.Contains(loc, "/signin") {
		t.Fatalf("after signing out the browser is at %s", loc)
	}
	b.check("signed-out")

	// A forgotten password: the node has no mail server, so the reset link
	// is written to its log for the admin to pass on.
	b.open(base+"/signin/forgot", "#email")
	b.check("forgot")
	b.fill(map[string]string{"#email": "eva@sic.example.be"})
	b.do("ask for a reset link", chromedp.Submit(chromedp.CSS("#email")), chromedp.WaitVisible(chromedp.CSS("main .notice, main [role=status]")))
	b.check("forgot-sent")
	var reset string
	waitFor(t, 15*time.Second, "the reset link in the node's output", func() error {
		out, _ := os.ReadFile(n.proc.log)
		m := printedResetLink.FindStringSubmatch(string(out))
		if m == nil {
			return errors.New("not printed yet")
		}
		reset = m[1]
		return nil
	})
	b.open(reset, "#password")
	b.check("reset")
	const newPassword = "a brand new passphrase, never used"
	b.fill(map[string]string{"#password": newPassword, "#confirm": newPassword})
	b.do("choose a new password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "eva@sic.example.be", "#password": newPassword})
	b.do("sign in with it", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	b.do("sign out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))

	// A youth member has no business with the SIC's resources, nor with
	// the events it publishes.
	b.open(youthLink, "#password")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the youth member's password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "noor@school.example.be", "#password": testPassword})
	// The sign-in page has a heading too: wait for what only a signed-in
	// page has, the sign-out button.
	b.do("sign in as the youth member", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	if get(t, b.ctx, "count menu entries", chromedp.Evaluate[int](`document.querySelectorAll('.nav a[href="/resources/"], .nav a[href="/events/"]').length`)) != 0 {
		t.Fatal("the youth member's menu offers the resources or the events")
	}
	b.check("youth-dashboard")
	b.open(base+"/resources/", "main h1")
	b.mustShow("main", "Je rol geeft geen toegang tot deze pagina.")
	b.check("forbidden")
	b.open(base+"/events/new", "main h1")
	b.mustShow("main", "Je rol geeft geen toegang tot deze pagina.")
	b.open(base+"/no-such-page", "main h1")
	b.check("not-found")
}
