package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/protocol"
)

// TestE2E_NotifyDigest: a be staff member starts a thread in helplines; on
// fi, a member who chose the daily digest in Chromium gets it in a real
// SMTP server with the thread's title and excerpt and RFC 8058 headers, a
// member who chose every post gets a message of their own, and the
// digest's one-click unsubscription turns the digest off, so the next one
// does not come. fi's mail goes to fi's members only, one recipient a
// message. (TestE2E_CommunityWorkspace stops a digest from the page its
// link opens.)
func TestE2E_NotifyDigest(t *testing.T) {
	const (
		title1 = "Deepfake nudes at school NOTIFY-TITLE-4417"
		text1  = "Our helpline had **three** calls this week about NOTIFY-EXCERPT-9021 generated images; how do you answer parents?"
		title2 = "Follow-up after the holidays NOTIFY-TITLE-5530"
	)
	mp := mailpittest.Start(t)
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", append(slices.Clone(fastSync), "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort),
		"--smtp-tls", "none", "--smtp-from", "SIC Finland <sic@fi.example>", "--time-zone", "Europe/Helsinki",
		"--digest-every", "3s", "--notify-poll", "300ms")...)
	nw.startNode(be)
	nw.startNode(fi)
	fiBase := "http://" + waitServing(t, fi.dir, nodeAddrFile)
	waitServing(t, be.dir, nodeAddrFile)

	// A be member exists too: nothing of fi's ever reaches her.
	addMember(t, be, "eva@sic.example.be", "Eva Peeters", "staff")
	fiMembers := map[string]string{}
	invite := func(email, name string) string {
		t.Helper()
		mustCLI(t, nil, "node", "member", "add", email, "--name", name, "--role", "staff", "--data", fi.dir)
		fiMembers[email] = name
		link, err := mp.WaitForMessage(t, email).Link(fiBase + "/signin/invite?token=")
		if err != nil {
			t.Fatal(err)
		}
		return link
	}
	// Aino is added before Liisa, so a digest planned for both goes to
	// Aino first (see the end).
	ainoLink := invite("aino@sic.example.fi", "Aino Virtanen")
	mikko := memSignedIn(t, fiBase, invite("mikko@sic.example.fi", "Mikko Korhonen"), "mikko@sic.example.fi")
	liisa := memSignedIn(t, fiBase, invite("liisa@sic.example.fi", "Liisa Nieminen"), "liisa@sic.example.fi")
	choose := func(p *person, mode string) {
		t.Helper()
		got := p.post("/account/notifications", "/account/notifications", url.Values{"space-helplines": {mode}, "lang": {"en"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("choosing %s: %d\n%s", mode, got.status, got.body)
		}
	}
	choose(mikko, "post")
	choose(liisa, "digest")
	// An invented choice comes back with its error, nothing saved.
	if got := mikko.post("/account/notifications", "/account/notifications", url.Values{"space-helplines": {"hourly"}, "lang": {"en"}}); got.status != http.StatusUnprocessableEntity ||
		!strings.Contains(got.body, "Choose one of the three options for Helplines") || !strings.Contains(got.body, `aria-describedby="space-helplines-error"`) {
		t.Fatalf("an invented choice: %d\n%s", got.status, got.body)
	}
	if got := mikko.get("/account/notifications"); !strings.Contains(got.body, `id="space-helplines-post" name="space-helplines" value="post" checked`) {
		t.Fatalf("the invented choice changed Mikko's:\n%s", got.body)
	}

	// The choices page is a state change like any other: another site's
	// request, or one without the page's form token, is refused.
	if got := mikko.post("/account/notifications", "/account/notifications", url.Values{"space-helplines": {"none"}, "lang": {"en"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); got.status != http.StatusForbidden {
		t.Fatalf("a cross-site change of choices: %d", got.status)
	}
	if got := mikko.do("POST", "/account/notifications", url.Values{"space-helplines": {"none"}, "lang": {"en"}}); got.status != http.StatusForbidden {
		t.Fatalf("a change of choices without the form token: %d", got.status)
	}

	// Aino chooses the daily digest in Chromium, in Finnish.
	b := startWebBrowser(t, "TestE2E_NotifyDigest")
	b.do("read Finnish", acceptLanguage("fi-FI,fi;q=0.9,en;q=0.5"))
	b.open(ainoLink, "#password")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "aino@sic.example.fi", "#password": testPassword})
	b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	b.open(fiBase+"/account", `main a[href="/account/notifications"]`)
	b.check("account")
	b.do("open the notifications page", chromedp.Click(chromedp.CSS(`main a[href="/account/notifications"]`)), chromedp.WaitVisible(chromedp.CSS("#space-helplines")))
	b.mustShow("main h1", "Sähköposti-ilmoitukset")
	if !checked(t, b, "#space-helplines-none") {
		t.Fatal("a new member's choice for helplines is not none")
	}
	b.check("notifications")
	b.do("choose the digest for helplines", chromedp.Click(chromedp.CSS("#space-helplines-digest")),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("main .notice")))
	if !checked(t, b, "#space-helplines-digest") || !strings.Contains(b.location(), "saved=1") {
		t.Fatal("the digest choice was not kept")
	}
	b.check("notifications-saved")

	// Eva, at the Belgian SIC, starts a thread in helplines.
	post := protocol.Post{Space: "helplines", Format: "thread", Title: title1, Text: text1, Language: "en",
		Author: protocol.Author{Name: "Eva Peeters", SIC: "be"}}
	postID := createdID(t, mustCLI(t, mustJSON(t, post), "node", "create", "--kind", "post", "--visibility", "community", "--file", "-", "--data", be.dir))

	every := mp.WaitForMessage(t, "mikko@sic.example.fi", mailpittest.SubjectContains("NOTIFY-TITLE-4417"))
	if !strings.Contains(every.Text, "NOTIFY-EXCERPT-9021") || !strings.Contains(every.Text, "Eva Peeters (BE)") ||
		!strings.Contains(every.Text, fiBase+"/community/helplines/"+postID) {
		t.Errorf("the every-post message:\n%s", every.Text)
	}

	digest := mp.WaitForMessage(t, "aino@sic.example.fi", mailpittest.SubjectContains("Yhteisön kooste"))
	for _, want := range []string{title1, "Our helpline had three calls this week about NOTIFY-EXCERPT-9021", fiBase + "/community/helplines/" + postID, "Eva Peeters (BE)"} {
		if !strings.Contains(digest.Text, want) {
			t.Errorf("the digest's text lacks %q:\n%s", want, digest.Text)
		}
	}
	if !strings.Contains(digest.HTML, title1) || strings.Contains(digest.HTML, "<strong>three</strong>") {
		t.Errorf("the digest's HTML:\n%s", digest.HTML)
	}
	if len(digest.ListUnsubscribe.Links) != 1 || !strings.HasPrefix(digest.ListUnsubscribe.Links[0], fiBase+"/unsubscribe/") ||
		digest.ListUnsubscribe.HeaderPost != "List-Unsubscribe=One-Click" || digest.ListUnsubscribe.Errors != "" {
		t.Fatalf("List-Unsubscribe: %+v", digest.ListUnsubscribe)
	}
	// The digest as a mail program shows its HTML part.
	emailFile := filepath.Join(t.TempDir(), "digest.html")
	if err := os.WriteFile(emailFile, []byte(digest.HTML), 0o644); err != nil {
		t.Fatal(err)
	}
	b.open("file://"+emailFile, "h2")
	b.shot("digest-email")
	unsub := digest.ListUnsubscribe.Links[0]
	if visible, err := digest.Link("/unsubscribe/"); err != nil || visible != unsub {
		t.Errorf("the body's unsubscribe link %q (%v), the header's %q", visible, err, unsub)
	}

	// The visible link asks first; opening it changes nothing.
	b.open(unsub, "main form button")
	b.check("unsubscribe")
	b.open(fiBase+"/account/notifications", "#space-helplines")
	if !checked(t, b, "#space-helplines-digest") {
		t.Fatal("opening the unsubscribe link changed the choice")
	}

	// The mail client's one-click POST: no cookie, no form token.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	resp, err := digest.UnsubscribeOneClick(ctx, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "aino@sic.example.fi") {
		t.Fatalf("one-click unsubscribe: %s\n%s", resp.Status, body)
	}
	b.open(fiBase+"/account/notifications", "#space-helplines")
	if !checked(t, b, "#space-helplines-none") {
		t.Fatal("after the one-click unsubscription, helplines is not none")
	}
	b.open(unsub, "main .lead")
	b.mustShow("main", "aino@sic.example.fi")
	b.check("unsubscribed")
	// The link itself is the authority: a cross-site POST of it works as
	// the mail client's does (it can do no more than the link's holder).
	if got := newPerson(t, fiBase).do("POST", strings.TrimPrefix(unsub, fiBase), url.Values{"List-Unsubscribe": {"One-Click"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://mail.example"); got.status != http.StatusOK {
		t.Errorf("a cross-site one-click POST: %d\n%s", got.status, got.body)
	}
	// A forged link is refused and changes nothing.
	if got := newPerson(t, fiBase).do("POST", "/unsubscribe/"+strings.TrimPrefix(unsub, fiBase+"/unsubscribe/")+"A", url.Values{"List-Unsubscribe": {"One-Click"}}); got.status != http.StatusNotFound {
		t.Errorf("a forged link: %d", got.status)
	}

	// A second thread: Liisa's next digest and Mikko's message come,
	// Aino's digest does not.
	post.Title = title2
	mustCLI(t, mustJSON(t, post), "node", "create", "--kind", "post", "--visibility", "community", "--file", "-", "--data", be.dir)
	mp.WaitForMessage(t, "mikko@sic.example.fi", mailpittest.SubjectContains("NOTIFY-TITLE-5530"))
	waitFor(t, 60*time.Second, "Liisa's digest with the second thread", func() error {
		msgs, err := mp.Find(ctx, mailpittest.To("liisa@sic.example.fi"), mailpittest.SubjectContains("Community digest"))
		if err != nil {
			return err
		}
		for _, s := range msgs {
			m, err := mp.Message(ctx, s.ID)
			if err != nil {
				return err
			}
			if strings.Contains(m.Text, "NOTIFY-TITLE-5530") {
				return nil
			}
		}
		return fmt.Errorf("%d digests, none with the second thread", len(msgs))
	})
	// Both digests of a period are planned together and sent in member
	// order: Aino's, had it been planned, would be in already.
	if got, err := mp.Find(ctx, mailpittest.To("aino@sic.example.fi"), mailpittest.SubjectContains("Yhteisön kooste")); err != nil || len(got) != 1 {
		t.Fatalf("Aino's digests after unsubscribing: %d (%v)", len(got), err)
	}

	all, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if len(m.To) != 1 || len(m.Cc) != 0 || len(m.Bcc) != 0 {
			t.Errorf("message %q has recipients %v %v %v, want one", m.Subject, m.To, m.Cc, m.Bcc)
			continue
		}
		if _, ok := fiMembers[m.To[0].Address]; !ok {
			t.Errorf("message %q went to %s, not a member of fi", m.Subject, m.To[0].Address)
		}
	}
}

// checked reports whether the input sel matches is checked.
func checked(t *testing.T, b *webBrowser, sel string) bool {
	t.Helper()
	return get(t, b.ctx, "read "+sel, chromedp.Evaluate[bool](`document.querySelector(`+strconv.Quote(sel)+`).checked`))
}
