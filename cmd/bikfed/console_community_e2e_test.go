package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// nodeCreate creates an entity on a node from its command line and returns
// its id.
func nodeCreate(t *testing.T, n *testNode, kind, vis string, body any) string {
	t.Helper()
	out := mustCLI(t, mustJSON(t, body), "node", "create", "--kind", kind, "--visibility", vis, "--file", "-", "--data", n.dir)
	var e node.Entity
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	return e.ID
}

// The coordination team in the community, in a real browser against a real
// hub and node: a coordinator reads a be staff thread in the helplines
// space, sees its script shown as text, replies, and the reply reaches be;
// writes a blog post; and publishes be's blog post as news, which appears
// on the public portal while the blog post itself stays off it. Every
// page passes axe-core.
func TestE2E_ConsoleCommunity(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	nw.startNode(be)
	waitServing(t, nw.hubDir, hubAddrFile)

	const threadMarker, blogMarker = "zq7thread", "zq7blog"
	thread := nodeCreate(t, be, "post", "community", protocol.Post{Space: "helplines", Format: "thread", Language: "en",
		Author: protocol.Author{Name: "Bart, Child Focus", SIC: "be"}, Title: "Follow-up with parents after sextortion " + threadMarker,
		Text: "How do you **follow up** with parents?\n\n<script>document.title='pwned'</script>\n\n<img src=x onerror=\"document.title='pwned'\">\n\n[a link](javascript:alert(1))"})
	blog := nodeCreate(t, be, "post", "community", protocol.Post{Space: "blog", Format: "blog", Language: "en",
		Author: protocol.Author{Name: "Bart, Child Focus", SIC: "be"}, Title: "Safer Internet Day in Belgium",
		Text: "Our campaign reached **120 schools** " + blogMarker + ".\n\n- posters\n- workshops for parents"})

	out := mustCLI(t, nil, "hub", "member", "add", "carla@example.eu", "--name", "Carla Coordinator", "--role", "coordinator", "--data", nw.hubDir)
	b := newConsoleBrowser(t)
	// shots audits a page and keeps it at a desktop's width and at a phone's.
	shots := func(name string) {
		t.Helper()
		b.check(name)
		b.step("narrow to a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		b.shot(fmt.Sprintf("%02d-%s-phone", b.n, name))
		b.step("widen again", chromedp.EmulateViewport(1280, 900))
	}
	b.acceptInvitation(invitationLink(t, out), "carla@example.eu", "seven purple bicycles at dawn", "")

	b.step("open the community", chromedp.Click(chromedp.CSS(`nav a[href="/console/community/"]`)), chromedp.WaitVisible(chromedp.CSS("#space-helplines")))
	waitFor(t, 60*time.Second, "the hub to hold be's posts", func() error {
		b.step("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#space-helplines")))
		if n := get(t, b.ctx, "count the helplines threads", chromedp.Evaluate[string](`document.querySelector('#space-helplines [data-threads]').dataset.threads`)); n != "1" {
			return fmt.Errorf("helplines has %s threads", n)
		}
		return nil
	})
	shots("spaces")
	b.step("open the helplines", chromedp.Click(chromedp.CSS(`a[href="/console/community/helplines/"]`)), chromedp.WaitVisible(chromedp.CSS("#threads")))
	shots("helplines")
	b.step("open be's thread", chromedp.Click(chromedp.CSS(`#thread-`+cssID(thread)+` a`)), chromedp.WaitVisible(chromedp.CSS("#post")))
	if by := b.text("#post .muted"); !strings.Contains(by, "Bart, Child Focus, Safer Internet Centre BE") {
		t.Errorf("the author line says %q", by)
	}
	if body := b.text("#post .post-body"); !strings.Contains(body, "<script>document.title='pwned'</script>") {
		t.Errorf("the script is not shown as text: %q", body)
	}
	unsafe := get(t, b.ctx, "look for scripts and event handlers", chromedp.Evaluate[string](`(() => {
		const bad = [];
		for (const s of document.scripts) if (!s.src) bad.push('inline script');
		for (const e of document.querySelectorAll('#post *')) {
			if (e.tagName === 'SCRIPT' || e.tagName === 'IFRAME') bad.push(e.tagName);
			for (const a of e.attributes) if (a.name.startsWith('on') || /^\s*javascript:/i.test(a.value)) bad.push(e.tagName + ' ' + a.name);
		}
		if (document.title === 'pwned') bad.push('a script ran');
		return bad.join(', ');
	})()`))
	if unsafe != "" {
		t.Errorf("the rendered post carries: %s", unsafe)
	}
	if strong := b.text("#post .post-body strong"); strong != "follow up" {
		t.Errorf("the Markdown is not rendered: %q", strong)
	}
	shots("thread")

	const replyText = "From the coordination team: our guide for parents helps zq7reply."
	b.fill(map[string]string{"#text": replyText})
	b.step("reply", chromedp.Submit(chromedp.CSS("#text")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	loc := b.location()
	reply := loc[strings.Index(loc, "#")+1:]
	if !strings.HasPrefix(reply, "hub:") {
		t.Fatalf("after replying the page is %s", loc)
	}
	if got := b.text("#" + cssID(reply)); !strings.Contains(got, replyText) || !strings.Contains(got, "Carla Coordinator, coordination team") {
		t.Errorf("the reply shows %q", got)
	}
	shots("replied")
	waitFor(t, 60*time.Second, "be to hold the reply", func() error {
		out, err := runCLI(t, nil, "node", "get", reply, "--data", be.dir)
		if err != nil {
			return err
		}
		var e node.Entity
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			return err
		}
		var c protocol.Comment
		if err := json.Unmarshal(e.Body, &c); err != nil {
			return err
		}
		if c.Post != thread || c.Text != replyText || c.Author != (protocol.Author{Name: "Carla Coordinator", SIC: "hub"}) || e.Visibility != protocol.VisibilityCommunity {
			return fmt.Errorf("be holds %+v %+v", e, c)
		}
		return nil
	})

	b.step("edit the reply", chromedp.Click(chromedp.CSS(`#`+cssID(reply)+` a[href$="/edit"]`)), chromedp.WaitVisible(chromedp.CSS("#text")))
	shots("edit-reply")
	const edited = replyText + " It is in Dutch and French too."
	b.fill(map[string]string{"#text": edited})
	b.step("save the edit", chromedp.Submit(chromedp.CSS("#text")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if got := b.text("#" + cssID(reply)); !strings.Contains(got, edited) {
		t.Errorf("after editing, the reply shows %q", got)
	}
	waitFor(t, 60*time.Second, "be to hold the edited reply", func() error {
		out, err := runCLI(t, nil, "node", "get", reply, "--data", be.dir)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Dutch and French") {
			return fmt.Errorf("be holds %s", out)
		}
		return nil
	})

	b.step("open the European youth space", chromedp.Navigate(nw.hubURL+"/console/community/youth/"), chromedp.WaitVisible(chromedp.CSS("#threads-h")))
	shots("youth")
	b.step("open the blog", chromedp.Navigate(nw.hubURL+"/console/community/blog/"), chromedp.WaitVisible(chromedp.CSS("#threads")))
	shots("blog")
	b.step("write a blog post", chromedp.Click(chromedp.CSS(`a[href="/console/community/blog/new"]`)), chromedp.WaitVisible(chromedp.CSS("#title")))
	shots("new-blog")
	b.fill(map[string]string{"#text": "Notes from the **network meeting** in Brussels."})
	b.step("publish without a title", chromedp.Submit(chromedp.CSS("#text")), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	if v := b.value("#text"); !strings.Contains(v, "network meeting") {
		t.Errorf("the refused form lost the text: %q", v)
	}
	shots("new-blog-errors")
	b.fill(map[string]string{"#title": "What we heard in Brussels", "#tags": "meeting, network"})
	b.step("publish", chromedp.Submit(chromedp.CSS("#title")), chromedp.WaitVisible(chromedp.CSS("#post")))
	if h := b.text("#post-title"); h != "What we heard in Brussels" {
		t.Fatalf("after publishing: %q", h)
	}
	shots("team-blog")

	b.step("open be's blog post", chromedp.Navigate(nw.hubURL+"/console/community/blog/"+blog), chromedp.WaitVisible(chromedp.CSS("#publish-news")))
	shots("be-blog")
	b.step("ask to publish it as news", chromedp.Click(chromedp.CSS("#publish-news")), chromedp.WaitVisible(chromedp.CSS("#preview")))
	if p := b.text("#preview"); !strings.Contains(p, "Our campaign reached 120 schools "+blogMarker) || !strings.Contains(p, "From the blog of Safer Internet Centre BE in the BIK Community.") {
		t.Errorf("the preview shows %q", p)
	}
	if news := getBody(t, nw.hubURL+"/news"); strings.Contains(news, "Safer Internet Day in Belgium") {
		t.Fatal("the confirmation page published the news")
	}
	shots("news-confirm")
	b.step("publish on the portal", chromedp.Click(chromedp.CSS("#publish")), chromedp.WaitVisible(chromedp.CSS("#news-link")))
	if made := b.text("#made-news"); !strings.Contains(made, "This blog post has been published as public news") {
		t.Errorf("the blog post does not say it is news: %q", made)
	}
	shots("news-published")
	href := get(t, b.ctx, "read the news link", chromedp.Evaluate[string](`document.querySelector('#news-link').getAttribute('href')`))
	news := strings.TrimPrefix(href, "/news/")
	if !strings.HasPrefix(news, "hub:") {
		t.Fatalf("the news link is %q", href)
	}
	waitFor(t, 30*time.Second, "the news on the portal", func() error {
		if page := getBody(t, nw.hubURL+"/news"); !strings.Contains(page, "Safer Internet Day in Belgium") {
			return fmt.Errorf("not on /news yet")
		}
		return nil
	})
	page := getBody(t, nw.hubURL+href)
	if !strings.Contains(page, "From the blog of Safer Internet Centre BE in the BIK Community.") || !strings.Contains(page, blogMarker) {
		t.Errorf("the news page lacks the credit or the text:\n%s", page)
	}
	// The blog post itself, the thread and the reply stay in the community.
	for _, id := range []string{blog, thread, reply} {
		resp, err := http.Get(nw.hubURL + "/news/" + url.PathEscape(id))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/news/%s answers %d", id, resp.StatusCode)
		}
	}
	for _, path := range []string{"/news", "/", "/api/v1/resources?q=" + threadMarker, "/sitemap.xml"} {
		if body := getBody(t, nw.hubURL+path); strings.Contains(body, threadMarker) || strings.Contains(body, "zq7reply") {
			t.Errorf("%s shows community words", path)
		}
	}
}

// cssID escapes an entity id (owner:ULID) for a CSS id selector.
func cssID(id string) string { return strings.ReplaceAll(id, ":", `\:`) }
