package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
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

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/internal/mailpittest"
)

// bulletinHub is a hub whose bulletin goes through mailpit, one copy at a
// time with a pause, slow enough to be killed half-way.
func bulletinHub(t *testing.T, mp *mailpittest.Server) *network {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	nw := &network{t: t, dir: dir, hubDir: filepath.Join(dir, "hub"), hubAdr: addr, hubURL: "http://" + addr, nodes: map[string]*testNode{}}
	nw.hubExtra = []string{"--public-url", nw.hubURL, "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort),
		"--smtp-tls", "none", "--smtp-from", "BIK bulletin <bulletin@hub.example.eu>",
		"--bulletin-batch-size", "1", "--bulletin-batch-pause", "150ms", "--bulletin-subscribe-rate", "0"}
	nw.startHub()
	return nw
}

// adminJSON calls the hub's admin API with the operator token.
func (nw *network) adminJSON(method, path string, body any, out any) int {
	nw.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			nw.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, nw.hubURL+path, r)
	if err != nil {
		nw.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		nw.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			nw.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		nw.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

type sendingProgress struct {
	State     string `json:"state"`
	Total     int    `json:"total"`
	Sent      int    `json:"sent"`
	Waiting   int    `json:"waiting"`
	Failed    int    `json:"failed"`
	Uncertain int    `json:"uncertain"`
}

// subscribeByPost subscribes addr as a form without a browser would, and
// confirms it with the POST the mailed link's page makes.
func subscribeByPost(t *testing.T, base string, mp *mailpittest.Server, addr, lang string) {
	t.Helper()
	resp, err := http.PostForm(base+"/"+lang+"/bulletin/subscribe", url.Values{"email": {addr}, "lang": {lang}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // after the 303 to the page saying to check the inbox
		t.Fatalf("subscribe %s: %d", addr, resp.StatusCode)
	}
	link, err := mp.WaitForMessage(t, addr).Link("/bulletin/confirm?t=")
	if err != nil {
		t.Fatal(err)
	}
	token := link[strings.Index(link, "t=")+2:]
	resp, err = http.PostForm(base+"/"+lang+"/bulletin/confirm", url.Values{"t": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm %s: %d", addr, resp.StatusCode)
	}
}

// TestE2E_Bulletin: a French visitor subscribes on /bulletin in Chromium,
// confirms from the mail mailpit received, and the coordination team
// publishes and sends an edition to 30 subscribers. The hub is killed
// (SIGKILL) half-way and restarted: the sending goes on by itself, no
// address gets two copies, and every subscriber but the ones reported
// uncertain gets one. The visitor's copy is in French with RFC 8058
// headers; one click as a mail provider makes it (a POST with no browser
// headers) erases the address from the hub's database. No subscriber
// address appears on any public page, feed, sitemap, OAI-PMH or API
// response, nor in the hub's log. axe-core on every new page.
func TestE2E_Bulletin(t *testing.T) {
	const (
		edition = "2026-09"
		visitor = "camille.visitor@bulletin-e2e.example.net"
		domain  = "@bulletin-e2e.example.net"
	)
	mp := mailpittest.Start(t)
	nw := bulletinHub(t, mp)
	waitServing(t, nw.hubDir, hubAddrFile)

	var news struct {
		ID string `json:"id"`
	}
	if code := nw.adminJSON("POST", "/admin/v1/entities", map[string]any{"kind": "post", "visibility": "public", "body": map[string]any{
		"space": "news", "format": "blog", "title": "Safer Internet Forum 2026: the programme", "text": "The programme is out.",
		"language": "en", "author": map[string]any{"name": "BIK coordination", "sic": "hub"}}}, &news); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("publish news: %d", code)
	}
	bulletin := map[string]any{"edition": edition, "published": "2026-09-15", "title": "Autumn 2026: back to school online", "language": "en",
		"focus": map[string]any{"title": "Phones in the school bag", "body": "A new school year starts with **new phones**.\n\nTalk about it early."},
		"items": []any{map[string]any{"kind": "news", "ref": news.ID, "note": "The programme of the forum."}},
		"versions": []any{
			map[string]any{"language": "fr", "title": "Automne 2026 : la rentrée en ligne",
				"focus": map[string]any{"title": "Le téléphone dans le cartable", "body": "Une rentrée avec de **nouveaux téléphones**."},
				"notes": []any{"Le programme du forum."}},
			map[string]any{"language": "de", "title": "Herbst 2026: Schulbeginn online",
				"focus": map[string]any{"title": "Das Handy im Schulranzen", "body": "Ein Schuljahr mit **neuen Handys**."}},
		}}
	if code := nw.adminJSON("POST", "/admin/v1/entities", map[string]any{"kind": "bulletin", "visibility": "public", "body": bulletin}, nil); code >= 300 {
		t.Fatalf("publish the bulletin: %d", code)
	}

	// The visitor, in French, on a phone-sized portal.
	b := startWebBrowser(t, "bulletin", chromedp.Flag("lang", "fr"), chromedp.Flag("accept-lang", "fr"))
	waitFor(t, 30*time.Second, "the edition on the portal", func() error {
		resp, err := http.Get(nw.hubURL + "/fr/bulletin/" + edition)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
	b.open(nw.hubURL+"/fr/bulletin", "#subscribe-email")
	b.mustShow("main h1", "Le bulletin BIK")
	b.mustShow("main", "Automne 2026 : la rentrée en ligne")
	b.check("archive-fr")
	b.open(nw.hubURL+"/fr/bulletin/"+edition, "article h1")
	b.mustShow("article h1", "Automne 2026")
	b.mustShow("article strong", "nouveaux téléphones")
	b.mustShow(".cards", "Safer Internet Forum 2026")
	if got := get(t, b.ctx, "read the article's language", chromedp.Evaluate[string](`document.querySelector('article').lang`)); got != "fr" {
		t.Errorf("the article is marked %q", got)
	}
	b.check("edition-fr")
	b.fill(map[string]string{"#subscribe-email": visitor})
	b.do("subscribe", chromedp.Click(chromedp.CSS(".subscribe button")), chromedp.WaitNotPresent(chromedp.CSS("#subscribe-email")),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.mustShow("main h1", "Consultez votre boîte de réception")
	b.check("check-inbox-fr")

	msg := mp.WaitForMessage(t, visitor)
	if !strings.Contains(msg.Subject, "Confirmez votre abonnement") {
		t.Fatalf("the confirmation is not in French: %q", msg.Subject)
	}
	link, err := msg.Link(nw.hubURL + "/fr/bulletin/confirm?t=")
	if err != nil {
		t.Fatal(err)
	}
	b.open(link, "main form button")
	b.check("confirm-fr")
	b.do("confirm", chromedp.Click(chromedp.CSS("main form button")), chromedp.WaitNotPresent(chromedp.CSS("main form button")),
		chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.mustShow("main h1", "Votre abonnement est confirmé")
	b.check("confirmed-fr")

	// 29 more, in English.
	addrs := []string{visitor}
	for i := range 29 {
		a := fmt.Sprintf("reader%02d%s", i, domain)
		subscribeByPost(t, nw.hubURL, mp, a, "en")
		addrs = append(addrs, a)
	}

	var p sendingProgress
	if code := nw.adminJSON("POST", "/admin/v1/bulletins/"+edition+"/send", nil, &p); code != http.StatusAccepted || p.Total != 30 {
		t.Fatalf("start sending: %d %+v", code, p)
	}
	waitFor(t, 60*time.Second, "a third of the copies", func() error {
		nw.adminJSON("GET", "/admin/v1/bulletins/"+edition+"/sending", nil, &p)
		if p.Sent < 10 {
			return fmt.Errorf("%+v", p)
		}
		return nil
	})
	nw.hub.kill()
	t.Logf("killed the hub at %+v", p)
	nw.startHub()
	waitFor(t, 90*time.Second, "the sending to finish after the restart", func() error {
		nw.adminJSON("GET", "/admin/v1/bulletins/"+edition+"/sending", nil, &p)
		if p.State != "sent" {
			return fmt.Errorf("%+v", p)
		}
		return nil
	})
	if p.Total != 30 || p.Sent+p.Uncertain != 30 || p.Failed != 0 || p.Uncertain > 1 {
		t.Fatalf("after the restart: %+v", p)
	}

	ctx := t.Context()
	missing := 0
	var visitorCopy *mailpittest.Message
	for _, a := range addrs {
		got, err := mp.Find(ctx, mailpittest.To(a), func(s mailpittest.Summary) bool { return !strings.Contains(s.Subject, "onfirm") })
		if err != nil {
			t.Fatal(err)
		}
		switch len(got) {
		case 0:
			missing++
		case 1:
			if a == visitor {
				if visitorCopy, err = mp.Message(ctx, got[0].ID); err != nil {
					t.Fatal(err)
				}
			}
		default:
			t.Errorf("%s got the edition %d times", a, len(got))
		}
	}
	if missing > p.Uncertain {
		t.Fatalf("%d subscribers never got the edition, %d reported uncertain", missing, p.Uncertain)
	}
	// Copies go out in the order people subscribed, so the visitor's, the
	// first, was sent well before the kill: it cannot be the uncertain one.
	if visitorCopy == nil {
		t.Fatal("the visitor, the first to subscribe, never got the edition")
	}
	if visitorCopy.Subject != "Automne 2026 : la rentrée en ligne" || !strings.Contains(visitorCopy.HTML, "<strong>nouveaux téléphones</strong>") ||
		!strings.Contains(visitorCopy.Text, "Le programme du forum.") {
		t.Fatalf("the visitor's copy is not the French edition: %q\n%s", visitorCopy.Subject, visitorCopy.Text)
	}
	lu := visitorCopy.ListUnsubscribe
	if lu.HeaderPost != "List-Unsubscribe=One-Click" || len(lu.Links) != 1 || !strings.HasPrefix(lu.Links[0], nw.hubURL+"/bulletin/unsubscribe?t=") || lu.Errors != "" {
		t.Fatalf("List-Unsubscribe: %+v", lu)
	}
	if _, err := visitorCopy.Link("/bulletin/unsubscribe?t="); err != nil {
		t.Fatal("no visible unsubscribe link in the body")
	}
	// A mail provider's one-click POST: no Origin, no Sec-Fetch-*, no cookie.
	resp, err := visitorCopy.UnsubscribeOneClick(ctx, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(nw.hubDir, "hub.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM bulletin_subscribers WHERE email = ?`, visitor).Scan(&n); err != nil {
		t.Fatal(err)
	}
	db.QueryRowContext(ctx, `SELECT count(*) FROM bulletin_subscribers`).Scan(&left)
	if n != 0 || left != 29 {
		t.Fatalf("after the one-click unsubscription: %d rows of the visitor, %d subscribers", n, left)
	}

	// No address on any public surface: a crawl of the portal from its
	// pages, feeds, sitemaps and APIs, the bulletin's steps, and a full
	// OAI-PMH harvest; nor in the hub's log.
	forbidden := append([]string{domain}, addrs...)
	start := []string{"/", "/bulletin", "/fr/bulletin", "/bulletin/" + edition, "/fr/bulletin/" + edition, "/bulletin/subscribe",
		"/bulletin/confirm?t=x", "/bulletin/unsubscribe?t=x", "/news", "/feed.atom", "/feed.rss", "/feed.json", "/news/feed.atom",
		"/news/feed.json", "/sitemap.xml", "/robots.txt", "/api/v1/resources", "/api/v1/entities", "/api/v1/entities?kind=bulletin",
		"/api/v1/entities?kind=post", "/oai?verb=Identify", "/oai?verb=ListRecords&metadataPrefix=oai_dc", "/no-such-page"}
	fetched := portaltest.Crawl(t, nw.hubURL, start, 1500, forbidden...)
	t.Logf("crawled %d URLs", len(fetched))
	if !slices.Contains(fetched, nw.hubURL+"/de/bulletin/"+edition) {
		t.Errorf("the crawl never reached the German edition from the portal's links")
	}
	checkOAIHarvest(t, nw.hubURL, forbidden)
	resp, err = http.Get(nw.hubURL + "/sitemaps/pages.xml")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "/bulletin/"+edition) {
			t.Errorf("the sitemap has no entry for the edition")
		}
	}
	logs, err := os.ReadFile(filepath.Join(nw.dir, "hub.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(logs)), domain) {
		t.Errorf("the hub's log names a subscriber's address")
	}
	if !strings.Contains(string(logs), "bulletin subscriber erased") {
		t.Errorf("the log does not say a subscriber was erased")
	}
}
