package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// memBrowser starts headless Chromium for a workspace journey and returns
// its context, a function that saves a full-page screenshot under
// testout/<test name>/, and one that runs axe-core (WCAG 2.1 A and AA) on
// the page and fails the test on any violation.
func memBrowser(t *testing.T) (ctx context.Context, shot func(name string), audit func(name string)) {
	b := startWebBrowser(t, t.Name())
	b.do("set the languages", acceptLanguage("en"))
	return b.ctx, b.shot, b.audit
}

// memFill sets form fields by id.
func memFill(fields map[string]string) []chromedp.Action[chromedp.Void] {
	var out []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		out = append(out, chromedp.SetValue(chromedp.CSS("#"+id), v))
	}
	return out
}

// TestE2E_ProfileMembers is an admin's journey through the profile and the
// members pages of a real node's workspace in headless Chromium, with
// axe-core on every page and screenshots at desktop and phone widths.
func TestE2E_ProfileMembers(t *testing.T) {
	_, n, base := workspaceNode(t, "be")
	newPerson(t, base).acceptInvitation(addMember(t, n, "ada@sic.example.be", "Ada Admin", "admin"), testPassword)
	ctx, shot, audit := memBrowser(t)
	text := func(sel string) string { t.Helper(); return get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel))) }
	location := func() string { t.Helper(); return get(t, ctx, "read the location", chromedp.Location()) }

	do(t, ctx, "sign in", chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SetValue(chromedp.CSS("#email"), "ada@sic.example.be"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(`a[href="/members/"]`)))

	// The profile: a mistake first, then a preview, then saved.
	do(t, ctx, "open the profile", chromedp.Navigate(base+"/profile"), chromedp.WaitVisible(chromedp.CSS("#f-helpline_hours")))
	shot("01-profile-new")
	audit("the new profile form")
	do(t, ctx, "fill the profile with a mistake", append(memFill(map[string]string{
		"f-name": "Safer Internet Centre Belgium", "f-languages": "nl, fr, de", "f-website": "saferinternet.be",
		"f-helpline_name": "Child Focus helpline", "f-helpline_phone": "116 000", "f-helpline_hours": "Mon–Fri 9:00–18:00",
		"f-hotline_name": "Child Focus hotline", "f-hotline_report_url": "https://report.childfocus.example/",
	}), chromedp.Click(chromedp.CSS(`button[value="save"]`)), chromedp.WaitVisible(chromedp.CSS("#errors-h")))...)
	if got := text("#errors-h"); !strings.Contains(got, "1 problem") {
		t.Fatalf("error summary %q", got)
	}
	if v := get(t, ctx, "read the kept hours", chromedp.Value(chromedp.CSS("#f-helpline_hours"))); v != "Mon–Fri 9:00–18:00" {
		t.Fatalf("the form lost the hours: %q", v)
	}
	shot("02-profile-error")
	audit("the profile form with an error")

	do(t, ctx, "preview the corrected form", chromedp.SetValue(chromedp.CSS("#f-website"), "https://www.saferinternet.be"),
		chromedp.Click(chromedp.CSS(`button[formaction="/profile/preview"]`)), chromedp.WaitVisible(chromedp.CSS("#chosen-h")))
	if got := text("#chosen-h"); got != "Belgium: Safer Internet Centre Belgium" {
		t.Fatalf("preview heading %q", got)
	}
	if got := text("a.helpline"); got != "Call 116 000" {
		t.Fatalf("preview helpline link %q", got)
	}
	shot("03-profile-preview")
	audit("the preview of the help page")
	do(t, ctx, "save from the preview", chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`div.notice[role="status"]`)))
	if loc := location(); !strings.Contains(loc, "/profile?saved=1") {
		t.Fatalf("saving went to %s", loc)
	}
	shot("04-profile-saved")
	audit("the saved profile")

	// Members: add an editor and a youth member, change a role, read the
	// audit log.
	do(t, ctx, "open the members", chromedp.Navigate(base+"/members/"), chromedp.WaitVisible(chromedp.CSS("table")))
	shot("05-members")
	audit("the members list")
	do(t, ctx, "open the add form", chromedp.Click(chromedp.CSS(`a[href="/members/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-handle")))
	shot("06-members-new")
	audit("the add form")
	do(t, ctx, "add a youth member without a handle", chromedp.SetValue(chromedp.CSS("#f-email"), "robin@example.be"),
		chromedp.SetValue(chromedp.CSS("#f-name"), "Robin Janssens"), chromedp.Click(chromedp.CSS(`input[value="youth"]`)),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#errors-h")))
	shot("07-members-new-error")
	audit("the add form with an error")
	do(t, ctx, "give the handle", chromedp.SetValue(chromedp.CSS("#f-handle"), "robin"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#invite-link")))
	if got := text("main"); !strings.Contains(got, "known as be-robin") {
		t.Fatalf("the invitation page: %s", got)
	}
	shot("08-members-invited")
	audit("the invitation page")
	do(t, ctx, "add an editor", chromedp.Navigate(base+"/members/new"), chromedp.WaitVisible(chromedp.CSS("#f-handle")),
		chromedp.SetValue(chromedp.CSS("#f-email"), "eva@sic.example.be"), chromedp.SetValue(chromedp.CSS("#f-name"), "Eva Peeters"),
		chromedp.Click(chromedp.CSS(`input[value="editor"]`)),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#invite-link")))
	link := get(t, ctx, "read the link", chromedp.Value(chromedp.CSS("#invite-link")))
	if !strings.HasPrefix(link, base+"/signin/invite?token=") {
		t.Fatalf("invitation link %q", link)
	}
	do(t, ctx, "open the editor", chromedp.Click(chromedp.Search(`//a[contains(., "See Eva Peeters")]`)), chromedp.WaitVisible(chromedp.CSS("#roles-h")))
	shot("09-member")
	audit("a member's page")
	do(t, ctx, "make her staff too", chromedp.Click(chromedp.CSS(`input[value="staff"]`)),
		chromedp.Click(chromedp.Search(`//form[contains(@action, "/roles")]//button`)), chromedp.WaitVisible(chromedp.CSS(`div.notice[role="status"]`)))
	if got := text("dl.facts"); !strings.Contains(got, "Editor, Staff") {
		t.Fatalf("roles after the change: %s", got)
	}
	shot("10-member-roles-changed")
	audit("a member's page after a change")
	do(t, ctx, "ask to remove her", chromedp.Click(chromedp.Search(`//a[contains(., "Remove Eva Peeters")]`)), chromedp.WaitVisible(chromedp.CSS("button.danger")))
	shot("11-member-remove-confirm")
	audit("the removal confirmation")
	do(t, ctx, "open the audit log", chromedp.Navigate(base+"/members/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
	if got := text("table"); !strings.Contains(got, "Ada Admin changed the roles of Eva Peeters from Editor to Editor, Staff.") {
		t.Fatalf("the audit log: %s", got)
	}
	shot("12-audit")
	audit("the audit log")

	do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	for _, p := range []struct{ path, name string }{
		{"/profile", "20-phone-profile"}, {"/profile/preview", "21-phone-preview"}, {"/members/", "22-phone-members"},
		{"/members/new", "23-phone-members-new"}, {"/members/audit", "24-phone-audit"},
	} {
		do(t, ctx, "open "+p.path+" on a phone", chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS("h1")))
		shot(p.name)
		audit(p.path + " on a phone")
	}
}
