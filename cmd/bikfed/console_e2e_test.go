package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/protocol"
)

// consoleBrowser is a headless chromium on the hub's console that audits
// every page it is shown with axe-core and keeps a screenshot of it.
type consoleBrowser struct {
	*webBrowser
	n int
}

func newConsoleBrowser(t *testing.T) *consoleBrowser {
	b := startWebBrowser(t, t.Name())
	b.do("set the reader's languages", acceptLanguage("en"))
	return &consoleBrowser{webBrowser: b}
}

// step runs browser steps; when one fails, the page it got stuck on is
// kept as failed.png and its text logged.
func (b *consoleBrowser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		sctx, scancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer scancel()
		if png, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100)); serr == nil {
			os.WriteFile(filepath.Join(b.shots, "failed.png"), png, 0o644)
		}
		loc, _ := chromedp.Run(sctx, chromedp.Location())
		text, _ := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, text)
	}
}

// value returns the value of the input sel matches.
func (b *consoleBrowser) value(sel string) string {
	b.t.Helper()
	return get(b.t, b.ctx, "read "+sel, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, sel)))
}

// check audits the page with axe-core (WCAG 2.1 A and AA) and saves a
// full-page screenshot named after it, numbered in the order taken.
func (b *consoleBrowser) check(name string) {
	b.t.Helper()
	b.n++
	b.shot(fmt.Sprintf("%02d-%s", b.n, name))
	b.audit(name)
}

// acceptInvitation opens an invitation link, chooses a password and signs
// in with it.
func (b *consoleBrowser) acceptInvitation(link, email, password, shotPrefix string) {
	b.t.Helper()
	b.step("open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if shotPrefix != "" {
		b.check(shotPrefix + "-invitation")
	}
	b.step("choose a password", chromedp.SendKeys(chromedp.CSS("#password"), password), chromedp.SendKeys(chromedp.CSS("#confirm"), password),
		chromedp.Submit(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#email")))
	if shotPrefix != "" {
		b.check(shotPrefix + "-signin")
	}
	b.step("sign in", chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out")))
}

// nodeState reads a node's suspension from the hub's JSON status.
func nodeState(t *testing.T, nw *network, id string) protocol.NodeStatus {
	t.Helper()
	st, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n
		}
	}
	t.Fatalf("the hub does not list %s", id)
	return protocol.NodeStatus{}
}

// The coordination team's console, in a real browser against a real hub
// and node: an operator invited from the command line sets a password,
// signs in, suspends and resumes the node, looks at the erasures, invites
// a coordinator and opens their account; the coordinator may look but
// not act. Every page passes axe-core.
func TestE2E_Console(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be")
	nw.startNode(be)
	waitServing(t, nw.hubDir, hubAddrFile)
	waitFor(t, 60*time.Second, "be in touch with the hub", func() error {
		if n := nodeState(t, nw, "be"); n.Live != "alive" {
			return fmt.Errorf("be is %q", n.Live)
		}
		return nil
	})
	out := mustCLI(t, nil, "hub", "member", "add", "olga@example.eu", "--name", "Olga Operator", "--role", "operator", "--data", nw.hubDir)
	link := invitationLink(t, out)
	if !strings.HasPrefix(link, nw.hubURL+"/console/signin/invite?token=") {
		t.Fatalf("invitation link %q", link)
	}

	b := newConsoleBrowser(t)
	const pw = "seven purple bicycles at dawn"
	b.acceptInvitation(link, "olga@example.eu", pw, "operator")
	if h := b.text("h1"); h != "Network status" {
		t.Fatalf("after signing in: %q", h)
	}
	if live := get(t, b.ctx, "read be's liveness", chromedp.AttributeValue(chromedp.CSS(`#node-be [data-live]`), "data-live")); live.Value != "alive" {
		t.Errorf("the overview shows be %q", live.Value)
	}
	b.check("overview")

	b.step("open the node", chromedp.Click(chromedp.CSS(`a[href="/console/nodes/be"]`)), chromedp.WaitVisible(chromedp.CSS("#node-state")))
	b.check("node")
	b.step("ask to suspend", chromedp.Click(chromedp.CSS(`a[href="/console/nodes/be/suspend"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/nodes/be/suspend"]`)))
	if nodeState(t, nw, "be").Suspended {
		t.Fatal("the confirmation page suspended the node")
	}
	b.check("suspend-confirm")
	b.step("confirm", chromedp.Click(chromedp.CSS(`form[action="/console/nodes/be/suspend"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if s := b.text("#node-state"); s != "suspended" {
		t.Fatalf("after suspending, the node page says %q", s)
	}
	if !nodeState(t, nw, "be").Suspended {
		t.Fatal("the hub does not have be suspended")
	}
	b.check("node-suspended")
	b.step("ask to resume", chromedp.Click(chromedp.CSS(`a[href="/console/nodes/be/resume"]`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/console/nodes/be/resume"]`)))
	b.check("resume-confirm")
	b.step("confirm", chromedp.Click(chromedp.CSS(`form[action="/console/nodes/be/resume"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if s := b.text("#node-state"); s != "active" || nodeState(t, nw, "be").Suspended {
		t.Fatalf("after resuming, the node page says %q", s)
	}
	b.step("ask to remove", chromedp.Navigate(nw.hubURL+"/console/nodes/be/remove"), chromedp.WaitVisible(chromedp.CSS("#content-keep")))
	b.check("remove-confirm")
	b.step("open the register form", chromedp.Navigate(nw.hubURL+"/console/nodes/new"), chromedp.WaitVisible(chromedp.CSS("#countries")))
	b.step("register with a bad id", chromedp.SendKeys(chromedp.CSS("#id"), "Not An Id"), chromedp.SendKeys(chromedp.CSS("#name"), "Safer Internet Centre Luxembourg"),
		chromedp.Submit(chromedp.CSS("#id")), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	if v := b.value("#name"); v != "Safer Internet Centre Luxembourg" {
		t.Errorf("the refused form lost the name: %q", v)
	}
	b.check("register-errors")

	b.step("open the erasures", chromedp.Click(chromedp.CSS(`nav a[href="/console/erasures"]`)), chromedp.WaitVisible(chromedp.CSS("#waiting-h")))
	b.check("erasures")

	b.step("open the team", chromedp.Click(chromedp.CSS(`nav a[href="/console/members/"]`)), chromedp.WaitVisible(chromedp.CSS("#add-h")))
	b.check("members")
	b.step("add a coordinator", chromedp.SendKeys(chromedp.CSS("#email"), "carl@example.eu"), chromedp.SendKeys(chromedp.CSS("#name"), "Carl Coordinator"),
		chromedp.Click(chromedp.CSS("#role-coordinator")), chromedp.Submit(chromedp.CSS("#name")), chromedp.WaitVisible(chromedp.CSS("#link")))
	carlLink := b.value("#link")
	if !strings.HasPrefix(carlLink, nw.hubURL+"/console/signin/invite?token=") {
		t.Fatalf("the coordinator's link is %q", carlLink)
	}
	b.check("invitation-link")
	b.step("open the audit log", chromedp.Navigate(nw.hubURL+"/console/members/audit"), chromedp.WaitVisible(chromedp.CSS("#audit-caption")))
	if body := b.text("main"); !strings.Contains(body, "member added") || !strings.Contains(body, "Olga Operator") {
		t.Errorf("the audit log does not show Olga adding a member:\n%s", body)
	}
	b.check("audit")
	b.step("open the account", chromedp.Click(chromedp.CSS(`nav a[href="/console/account"]`)), chromedp.WaitVisible(chromedp.CSS("#current")))
	b.check("account")

	b.step("phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(nw.hubURL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#node-be")))
	b.check("overview-phone")
	b.step("node on a phone", chromedp.Navigate(nw.hubURL+"/console/nodes/be"), chromedp.WaitVisible(chromedp.CSS("#node-state")))
	b.check("node-phone")
	b.step("team on a phone", chromedp.Navigate(nw.hubURL+"/console/members/"), chromedp.WaitVisible(chromedp.CSS("#add-h")))
	b.check("members-phone")
	b.step("back to a wide window", chromedp.EmulateViewport(1280, 900))

	b.step("sign out", chromedp.Click(chromedp.CSS(`form.out button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/signin/forgot"]`)))
	b.acceptInvitation(carlLink, "carl@example.eu", "four quiet lanterns by the sea", "")
	if h := b.text("h1"); h != "Network status" {
		t.Fatalf("the coordinator lands on %q", h)
	}
	b.step("the coordinator opens an operator action", chromedp.Navigate(nw.hubURL+"/console/nodes/be/suspend"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h, body := b.text("h1"), b.text("main"); h != "Not allowed" || !strings.Contains(body, "Your role does not give access to this page") {
		t.Fatalf("the coordinator sees %q: %s", h, body)
	}
	b.check("coordinator-refused")
	// The same action sent as the form would send it, with the
	// coordinator's own form token, is refused too.
	status := get(t, b.ctx, "post the operator's form as the coordinator", chromedp.Evaluate[int](`fetch('/console/nodes/be/suspend', {method: 'POST',
		body: new URLSearchParams({form_token: document.querySelector('input[name=form_token]').value})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("the coordinator's POST got %d, want 403", status)
	}
	if nodeState(t, nw, "be").Suspended {
		t.Fatal("the coordinator's visit suspended the node")
	}
}
