package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/protocol"
)

// threadPath finds a thread's address in a page's location.
var threadPath = regexp.MustCompile(`/community/helplines/((?:be|fi):[0-9A-Z]{26})`)

// A be staff member starts a thread in the helplines space in a browser; a
// fi colleague sees it unread on fi's node, replies, and the reply reaches
// be's node; the fi colleague, who chose the daily digest for helplines
// before the thread was written, receives it in a real SMTP server and
// stops it with the digest's own link. Search finds the thread with its
// filters; a young person is refused the space; the fi colleague flags
// the post and the flag reaches the hub; a moderator's hide takes it from
// fi's workspace while its author sees why. Every page passes axe-core.
func TestE2E_CommunityWorkspace(t *testing.T) {
	mp := mailpittest.Start(t)
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", append(slices.Clone(fastSync), "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort),
		"--smtp-tls", "none", "--smtp-from", "SIC Finland <sic@fi.example>", "--digest-every", "3s", "--notify-poll", "300ms")...)
	nw.startNode(be)
	nw.startNode(fi)
	beBase := "http://" + waitServing(t, be.dir, nodeAddrFile)
	fiBase := "http://" + waitServing(t, fi.dir, nodeAddrFile)
	joLink := addMember(t, be, "jo@sic.example.be", "Jo Peeters", "staff")
	sunnyLink := addMember(t, be, "sunny@sic.example.be", "Sunny", "youth")
	// fi has a mail server: Aino's invitation comes by email.
	mustCLI(t, nil, "node", "member", "add", "aino@sic.example.fi", "--name", "Aino Korhonen", "--role", "staff", "--data", fi.dir)
	ainoLink, err := mp.WaitForMessage(t, "aino@sic.example.fi").Link(fiBase + "/signin/invite?token=")
	if err != nil {
		t.Fatal(err)
	}

	b := startWebBrowser(t, "TestE2E_CommunityWorkspace")
	signUp := func(link, email string) {
		t.Helper()
		b.open(link, "#password")
		b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
		b.do("set a password", chromedp.Submit(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.fill(map[string]string{"#email": email, "#password": testPassword})
		b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(`nav a[href="/community/"]`)))
	}

	// Aino, in Finland, asks for the daily digest of helplines.
	signUp(ainoLink, "aino@sic.example.fi")
	b.do("open her account", chromedp.Click(chromedp.CSS(`main a[href="/account"]`)), chromedp.WaitVisible(chromedp.CSS(`main a[href="/account/notifications"]`)))
	b.check("00-account")
	b.do("open the notifications page", chromedp.Click(chromedp.CSS(`main a[href="/account/notifications"]`)), chromedp.WaitVisible(chromedp.CSS("#space-helplines")))
	if !checked(t, b, "#space-helplines-none") {
		t.Fatal("a new member's choice for helplines is not none")
	}
	b.do("choose the digest for helplines", chromedp.Click(chromedp.CSS("#space-helplines-digest")),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("main .notice")))
	if !checked(t, b, "#space-helplines-digest") {
		t.Fatal("the digest choice was not kept")
	}
	b.check("00-notifications-digest")

	// Jo, in Belgium, opens the community and starts a thread, first
	// sending the form empty.
	signUp(joLink, "jo@sic.example.be")
	b.do("open the community", chromedp.Click(chromedp.CSS(`nav a[href="/community/"]`)), chromedp.WaitVisible(chromedp.CSS("#spaces-h")))
	b.mustShow("main", "Helplines")
	b.check("01-index")
	b.do("open helplines", chromedp.Click(chromedp.CSS(`main a[href="/community/helplines/"]`)), chromedp.WaitVisible(chromedp.CSS("#threads-h")))
	b.check("02-space-empty")
	b.do("start a thread", chromedp.Click(chromedp.CSS(`main a[href="/community/helplines/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-title")))
	b.do("send it empty", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#errors")))
	b.mustShow("#errors", "Give it a title.")
	b.mustShow("#errors", "Write some text.")
	b.check("03-new-thread-errors")
	const title = "Night rota for helpline volunteers"
	text := "How do you cover the **night shift**? We try a *rota* of three.\n\n" +
		"- one volunteer on the phone\n- one on chat\n\n" +
		"<script>window.pwned = 1</script>\n\n<img src=x onerror=\"window.pwned = 2\">\n\nMarker kumquatzebra."
	b.fill(map[string]string{"#f-title": title})
	b.do("write the text and attach a picture", chromedp.SetValue(chromedp.CSS("#f-text"), text),
		chromedp.SetUploadFiles(chromedp.CSS("#f-files"), []string{rotaPNG(t)}))
	b.do("preview", chromedp.Click(chromedp.CSS(`main form button[value=preview]`)), chromedp.WaitVisible(chromedp.CSS("#preview-h")))
	b.mustShow("section.preview", "night shift")
	b.mustShow("main form", "rota.png")
	b.check("04-new-thread-preview")
	b.do("publish", chromedp.Click(chromedp.CSS(`main form button[value=send]`)), chromedp.WaitVisible(chromedp.CSS("#post-h")))
	m := threadPath.FindStringSubmatch(b.location())
	if m == nil {
		t.Fatalf("after publishing the browser is at %s", b.location())
	}
	postID := m[1]
	thread := "/community/helplines/" + postID
	b.mustShow(".community-text", "night shift")
	b.mustShow(".community-text", "<script>window.pwned = 1</script>")
	if got := get(t, b.ctx, "look for scripts and handlers", chromedp.Evaluate[string](`JSON.stringify({
		pwned: typeof window.pwned, scripts: document.querySelectorAll('main script').length,
		handlers: [...document.querySelectorAll('main *')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
		strong: document.querySelectorAll('.community-text strong').length})`)); got != `{"pwned":"undefined","scripts":0,"handlers":0,"strong":1}` {
		t.Errorf("the thread page: %s", got)
	}
	b.mustShow(".community-files", "rota.png")
	file := get(t, b.ctx, "read the picture's address", chromedp.Evaluate[string](`document.querySelector('.community-files a').getAttribute('href')`))
	if !regexp.MustCompile(`^/files/[0-9a-f]{64}/rota\.png$`).MatchString(file) {
		t.Fatalf("the picture's address: %q", file)
	}
	b.check("04-thread")

	// Aino, still signed in on fi's node, sees it unread there within
	// seconds.
	waitFor(t, 30*time.Second, "the thread on fi's node", func() error {
		b.open(fiBase+"/community/helplines/", "#threads-h")
		if txt := b.text("main"); !strings.Contains(txt, title) || !strings.Contains(txt, "Unread") {
			return fmt.Errorf("fi's helplines: %q", txt)
		}
		return nil
	})
	b.check("05-fi-space-unread")
	aino := newPerson(t, fiBase)
	aino.signIn("aino@sic.example.fi", testPassword)
	waitFor(t, 30*time.Second, "the picture on fi's node", func() error {
		if got := aino.get(file); got.status != http.StatusOK || !strings.HasPrefix(got.body, "\x89PNG") {
			return fmt.Errorf("fi's %s: %d", file, got.status)
		}
		return nil
	})
	b.do("open the thread", chromedp.Click(chromedp.CSS(`main a[href="`+thread+`"]`)), chromedp.WaitVisible(chromedp.CSS("#post-h")))
	b.mustShow("#post-h", title)
	b.mustShow("article.community-post", "Jo Peeters (BE)")
	const reply = "We pair a **new** volunteer with an experienced one. Marker lingonberryquokka."
	b.do("write a reply", chromedp.SetValue(chromedp.CSS("#f-text"), reply),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".community-comments")))
	b.mustShow(".community-comments", "lingonberryquokka")
	b.mustShow(".community-comments", "Aino Korhonen (FI)")
	b.check("06-thread-reply")

	// The reply reaches be's node.
	waitFor(t, 30*time.Second, "fi's reply on be's node", func() error {
		b.open(beBase+thread, "#post-h")
		if txt := b.text("main"); !strings.Contains(txt, "lingonberryquokka") {
			return fmt.Errorf("be's thread: %q", txt)
		}
		return nil
	})
	b.mustShow(".community-comments", "New")

	// Aino's digest brings the thread by email, and its link stops it.
	var digest *mailpittest.Message
	waitFor(t, 60*time.Second, "Aino's digest with Jo's thread", func() error {
		msgs, err := mp.Find(t.Context(), mailpittest.To("aino@sic.example.fi"), mailpittest.SubjectContains("Community digest"))
		if err != nil {
			return err
		}
		for _, s := range msgs {
			m, err := mp.Message(t.Context(), s.ID)
			if err != nil {
				return err
			}
			if strings.Contains(m.Text, title) && strings.Contains(m.HTML, title) {
				digest = m
				return nil
			}
		}
		return fmt.Errorf("%d digests, none with the thread", len(msgs))
	})
	if !strings.Contains(digest.Text, "Jo Peeters (BE)") || !strings.Contains(digest.Text, fiBase+thread) {
		t.Errorf("the digest:\n%s", digest.Text)
	}
	if len(digest.ListUnsubscribe.Links) != 1 || digest.ListUnsubscribe.HeaderPost != "List-Unsubscribe=One-Click" || digest.ListUnsubscribe.Errors != "" {
		t.Fatalf("List-Unsubscribe: %+v", digest.ListUnsubscribe)
	}
	stop, err := digest.Link("/unsubscribe/")
	if err != nil || stop != digest.ListUnsubscribe.Links[0] {
		t.Fatalf("the body's unsubscribe link %q (%v), the header's %q", stop, err, digest.ListUnsubscribe.Links[0])
	}
	b.open(stop, "main form button")
	b.mustShow("main", "Stop the daily community digest for aino@sic.example.fi?")
	b.check("06-unsubscribe")
	b.do("stop the digest", chromedp.Click(chromedp.CSS("main form button")), chromedp.WaitVisible(chromedp.CSS("main .notice")))
	b.mustShow("main .notice", "aino@sic.example.fi no longer receives these emails (Helplines)")
	b.check("06-unsubscribe-done")
	b.open(fiBase+"/account/notifications", "#space-helplines")
	if !checked(t, b, "#space-helplines-none") {
		t.Fatal("after the digest's link, helplines is not none")
	}

	// Search on fi's node, with its filters.
	b.open(fiBase+"/community/search?q=kumquatzebra", "#hits-h")
	b.mustShow(".community-hits mark", "kumquatzebra")
	b.check("07-search")
	b.open(fiBase+"/community/search?q=kumquatzebra&space=helplines&sic=be", "#hits-h")
	b.mustShow(".community-hits", title)
	b.open(fiBase+"/community/search?q=kumquatzebra&sic=fi", "#hits-h")
	b.mustShow("#hits-h", "Nothing found")
	b.open(fiBase+"/community/search?q=lingonberryquokka&space=blog", "#hits-h")
	b.mustShow("#hits-h", "Nothing found")

	// Aino flags Jo's post.
	b.open(fiBase+thread, "#post-h")
	b.do("open the flag form", chromedp.Click(chromedp.CSS(`article.community-post a[href*="/flag?"]`)), chromedp.WaitVisible(chromedp.CSS("#f-reason")))
	b.check("08-flag-form")
	b.do("send it without a reason", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#errors")))
	b.check("09-flag-errors")
	b.do("choose a reason and send", chromedp.Click(chromedp.CSS(`#f-reason-personal-data`)),
		chromedp.SetValue(chromedp.CSS("#f-text"), "Names a volunteer's shifts."),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)))
	b.mustShow(`p.notice[role=status]`, "the moderators will look at it")
	b.mustShow("article.community-post", "You flagged this.")
	b.check("10-flagged")
	hubDB, err := sql.Open("sqlite", "file:"+filepath.Join(nw.hubDir, "hub.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer hubDB.Close()
	waitFor(t, 30*time.Second, "fi's flag on the hub", func() error {
		var n int
		err := hubDB.QueryRow(`SELECT COUNT(*) FROM entities WHERE kind = 'flag' AND owner = 'fi' AND visibility = 'community'`).Scan(&n)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d flags of fi on the hub", n)
		}
		return nil
	})

	// A young person does not open a staff space.
	sunny := newPerson(t, beBase)
	sunny.acceptInvitation(sunnyLink, testPassword)
	sunny.signIn("sunny@sic.example.be", testPassword)
	if got := sunny.get("/community/helplines/"); got.status != http.StatusForbidden {
		t.Errorf("a young person opens helplines: %d", got.status)
	}
	if got := sunny.get(thread); got.status != http.StatusForbidden {
		t.Errorf("a young person opens the thread: %d", got.status)
	}
	if got := sunny.get("/community/youth/"); got.status != http.StatusOK {
		t.Errorf("a young person opens the youth space: %d", got.status)
	}

	// A moderator hides the post: fi's workspace no longer has it, while
	// Jo sees it hidden, with the reason.
	const reason = "Shift details of a named volunteer."
	mod, _ := json.Marshal(protocol.Moderation{Target: postID, Decision: "hide", Reason: reason})
	mustCLI(t, mod, "hub", "publish", "--kind", "moderation", "--visibility", "community", "--data", nw.hubDir)
	waitFor(t, 30*time.Second, "the hidden thread gone from fi's workspace", func() error {
		if got := aino.get(thread); got.status != http.StatusNotFound {
			return fmt.Errorf("fi's thread: %d", got.status)
		}
		return nil
	})
	if got := aino.get("/community/helplines/"); strings.Contains(got.body, title) {
		t.Error("fi lists the hidden thread")
	}
	if got := aino.get("/community/search?q=" + url.QueryEscape("kumquatzebra")); strings.Contains(got.body, "<mark>") {
		t.Error("fi's search finds the hidden post")
	}
	waitFor(t, 30*time.Second, "the author to see the post hidden", func() error {
		b.open(beBase+thread, "#post-h")
		if txt := b.text("main"); !strings.Contains(txt, "Hidden by the moderators: "+reason) {
			return fmt.Errorf("be's thread: %q", txt)
		}
		return nil
	})
	b.check("11-hidden-author")

	// Sunny, a young person, writes in the European youth space: the text
	// waits for the coordinator.
	b.do("Jo signs out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "sunny@sic.example.be", "#password": testPassword})
	b.do("Sunny signs in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(`nav a[href="/community/"]`)))
	b.open(beBase+"/community/helplines/", "main h1")
	b.mustShow("main", "This space is not open to you.")
	b.check("12-youth-refused")
	b.open(beBase+"/community/youth/new", "#f-title")
	if n := get(t, b.ctx, "look for a file input", chromedp.Evaluate[int](`document.querySelectorAll('#f-files').length`)); n != 0 {
		t.Error("a young person is offered attachments")
	}
	b.fill(map[string]string{"#f-title": "Our poster week"})
	b.do("write and send", chromedp.SetValue(chromedp.CSS("#f-text"), "We made posters about *kindness online*."),
		chromedp.Click(chromedp.CSS(`main form button[value=send]`)),
		// The page that says so links to the young person's posts; the
		// menu's link to them is there before the form is sent.
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/youth/mine"]`)))
	b.mustShow("main", "sent to your youth coordinator for approval")
	b.check("13-youth-sent")
	b.open(beBase+"/community/youth/", "#threads-h")
	if strings.Contains(b.text("main"), "Our poster week") {
		t.Error("the held post is listed as published")
	}
}

// rotaPNG writes a small picture to attach and returns its path.
func rotaPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := 0; x < 40; x++ {
		for y := 0; y < 20; y++ {
			img.Set(x, y, color.RGBA{R: uint8(6 * x), G: 80, B: uint8(12 * y), A: 255})
		}
	}
	path := filepath.Join(t.TempDir(), "rota.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}
