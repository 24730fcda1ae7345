package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// privateMarker is written into every community and youth entity of the
// portal test; no public surface may ever show it.
const privateMarker = "QZV-MEMBERS-ONLY-4417"

// portalNetwork is a real hub process and three real node processes with the
// sample content, plus private content holding privateMarker.
type portalNetwork struct {
	*network
	erased string // a public resource that was erased after being shown
	hidden string // a public resource its SIC made community
}

// importRecords imports drafts into a node under ids chosen here, so later
// drafts can refer to earlier ones ("@ref") across the CLI.
func importRecords(t testing.TB, n *testNode, drafts []sampledata.Draft, ids map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, d := range drafts {
		id, err := protocol.NewEntityID(n.id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		body, err := sampledata.Resolve(d.Body, ids)
		if err != nil {
			t.Fatal(err)
		}
		if d.Ref != "" {
			ids[d.Ref] = id
		}
		line, err := json.Marshal(map[string]any{"id": id, "kind": d.Kind, "visibility": d.Visibility, "publish_at": d.PublishAt, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	mustCLI(t, []byte(b.String()), "node", "import", "-", "--data", n.dir)
}

// samplePublicResources is how many sample resources the public sees now:
// public ones not embargoed, or whose embargo is over.
func samplePublicResources(t testing.TB) int {
	t.Helper()
	n := 0
	for _, id := range sampledata.Nodes() {
		drafts, err := sampledata.Drafts(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range drafts {
			if d.Kind == protocol.KindResource && d.Visibility == protocol.VisibilityPublic && (d.PublishAt == nil || d.PublishAt.Before(time.Now())) {
				n++
			}
		}
	}
	return n
}

func privateDrafts(owner string) []sampledata.Draft {
	body := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	return []sampledata.Draft{
		{Ref: owner + "-priv-post", Kind: "post", Visibility: "community", Body: body(protocol.Post{Space: "hotlines", Format: "thread",
			Title: "Case notes " + privateMarker, Text: "Members only: " + privateMarker, Language: "en", Author: protocol.Author{Name: "analyst-" + privateMarker, SIC: owner}})},
		{Ref: owner + "-priv-comment", Kind: "comment", Visibility: "community", Body: body(protocol.Comment{Post: "@" + owner + "-priv-post",
			Text: "Reply " + privateMarker, Language: "en", Author: protocol.Author{Name: "colleague-" + privateMarker, SIC: owner}})},
		{Ref: owner + "-priv-youth", Kind: "post", Visibility: "youth", Body: body(protocol.Post{Space: "youth", Format: "thread",
			Title: "Youth panel " + privateMarker, Text: "Only the youth area: " + privateMarker, Language: "en", Author: protocol.Author{Pseudonym: owner + "-panellist-" + strings.ToLower(privateMarker)}})},
		{Ref: owner + "-priv-res", Kind: "resource", Visibility: "community", Body: body(protocol.Resource{Title: "Draft guide " + privateMarker,
			Description: "Not yet public " + privateMarker, Language: "en", Languages: []string{"en"}, AgeMin: 8, AgeMax: 12,
			Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "guide"})},
		// A translation has its resource's visibility: this one, the members'.
		{Ref: owner + "-priv-tr", Kind: "translation", Visibility: "community", Body: body(protocol.Translation{Resource: "@" + owner + "-priv-res",
			SourceVersion: 1, Language: "it", Title: "Bozza " + privateMarker, Method: "human", Review: "in-review"})},
		{Ref: owner + "-pub-erased", Kind: "resource", Visibility: "public", Body: body(protocol.Resource{Title: "Withdrawn " + privateMarker,
			Description: "Erased later " + privateMarker, Language: "en", Languages: []string{"en"}, AgeMin: 8, AgeMax: 12,
			Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "guide"})},
		{Ref: owner + "-pub-hidden", Kind: "resource", Visibility: "public", Body: body(protocol.Resource{Title: "Reported " + privateMarker,
			Description: "Made community later " + privateMarker, Language: "en", Languages: []string{"en"}, AgeMin: 8, AgeMax: 12,
			Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "guide"})},
	}
}

func newPortalNetwork(t *testing.T) *portalNetwork {
	nw := &portalNetwork{network: newNetwork(t)}
	ids := map[string]string{}
	for _, id := range sampledata.Nodes() {
		n := nw.addNode(id, fastSync...)
		drafts, err := sampledata.Drafts(id)
		if err != nil {
			t.Fatal(err)
		}
		importRecords(t, n, drafts, ids)
		if id == "be" {
			importRecords(t, n, privateDrafts(id), ids)
		}
		nw.startNode(n)
	}
	hubDrafts, err := sampledata.Drafts(protocol.HubID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range hubDrafts {
		mustCLI(t, d.Body, "hub", "publish", "--kind", string(d.Kind), "--visibility", string(d.Visibility), "--data", nw.hubDir)
	}
	nw.erased, nw.hidden = ids["be-pub-erased"], ids["be-pub-hidden"]
	// The public sample resources and the two public private-marker ones.
	public := samplePublicResources(t)
	nw.waitPortal(t, func(total int) bool { return total == public+2 })
	if !strings.Contains(getBody(t, nw.hubURL+"/resources/"+nw.erased), privateMarker) {
		t.Fatal("the resource to be erased is not public yet: the privacy crawl would prove nothing")
	}
	mustCLI(t, nil, "node", "delete", nw.erased, "--erase", "--data", nw.nodes["be"].dir)
	// Its SIC takes the other back to its members: the public portal
	// withdraws it.
	withdrawn, _ := json.Marshal(protocol.Resource{Title: "Reported " + privateMarker,
		Description: "Withdrawn to the members " + privateMarker, Language: "en", Languages: []string{"en"}, AgeMin: 8, AgeMax: 12,
		Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "guide"})
	mustCLI(t, withdrawn, "node", "update", nw.hidden, "--visibility", "community", "--kind", "resource", "--file", "-", "--data", nw.nodes["be"].dir)
	nw.waitPortal(t, func(total int) bool { return total == public })
	return nw
}

// waitPortal waits until the portal has indexed the hub's head and its
// gallery total satisfies ok.
func (nw *portalNetwork) waitPortal(t *testing.T, ok func(int) bool) {
	t.Helper()
	waitFor(t, 90*time.Second, "the portal to index the network's content", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		var page struct {
			Total      int   `json:"total"`
			IndexedSeq int64 `json:"indexed_seq"`
		}
		if err := json.Unmarshal([]byte(getBody(t, nw.hubURL+"/api/v1/resources")), &page); err != nil {
			return err
		}
		if st.PortalIndexedSeq < st.HubSeq || !ok(page.Total) {
			return fmt.Errorf("indexed %d of hub_seq %d, %d resources", st.PortalIndexedSeq, st.HubSeq, page.Total)
		}
		return nil
	})
}

func getBody(t testing.TB, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestE2E_Portal is the public portal against a real hub and real nodes: a
// visitor's journey in headless Chromium with axe-core on every kind of
// page, then a crawl of every public surface for private text, and full
// OAI-PMH harvests in oai_dc and LOM validated against the schemas. The
// hub's OAI-PMH repository name and contact come from its environment.
func TestE2E_Portal(t *testing.T) {
	t.Setenv("BIKFED_OAI_REPOSITORY_NAME", "Insafe: resources of the Safer Internet Centres")
	t.Setenv("BIKFED_OAI_ADMIN_EMAIL", "oai@bikfed.example.eu")
	nw := newPortalNetwork(t)
	t.Run("browser", func(t *testing.T) { browserJourney(t, nw) })
	t.Run("privacy", func(t *testing.T) {
		start := []string{"/", "/resources", "/resources?per_page=100", "/services", "/news", "/directory", "/help", "/help?country=be",
			"/sid/", "/youth/", "/pocc/", "/feed.atom", "/feed.rss", "/feed.json", "/news/feed.atom", "/news/feed.rss", "/news/feed.json", "/sitemap.xml", "/robots.txt",
			"/api/v1/resources?per_page=100", "/api/v1/entities?limit=500", "/v1/keys",
			"/oai?verb=Identify", "/oai?verb=ListSets", "/oai?verb=ListMetadataFormats",
			"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc", "/oai?verb=ListRecords&metadataPrefix=oai_dc",
			"/oai?verb=ListIdentifiers&metadataPrefix=lom", "/oai?verb=ListRecords&metadataPrefix=lom",
			"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:" + nw.erased,
			"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:" + nw.hidden,
			"/oai?verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:" + nw.erased,
			"/oai?verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:" + nw.hidden,
			"/resources/" + nw.erased, "/resources/" + nw.hidden, "/api/v1/resources/" + nw.hidden, "/api/v1/entities/" + nw.hidden,
			"/no/such/page", "/resources/be:nothing", "/files/" + strings.Repeat("0", 64) + "/x.pdf"}
		fetched := portaltest.Crawl(t, nw.hubURL, start, 3000, privateMarker)
		t.Logf("crawled %d URLs", len(fetched))
		if len(fetched) < 80 {
			t.Errorf("the crawl reached only %d URLs", len(fetched))
		}
		var page struct{ Total int }
		json.Unmarshal([]byte(getBody(t, nw.hubURL+"/api/v1/resources?q="+privateMarker)), &page)
		if page.Total != 0 {
			t.Errorf("a search for the marker finds %d resources", page.Total)
		}
	})
	t.Run("oai", func(t *testing.T) {
		lint := portaltest.RequireXMLLint(t)
		r, _ := portaltest.Get(t, lint, nw.hubURL+"/oai", url.Values{"verb": {"Identify"}})
		if r.Identify == nil || r.Identify.RepositoryName != "Insafe: resources of the Safer Internet Centres" || r.Identify.AdminEmail != "oai@bikfed.example.eu" {
			t.Errorf("Identify: %+v, want the name and contact the hub's environment set", r.Identify)
		}
		for _, prefix := range []string{"oai_dc", "lom"} {
			seen := map[string]string{}
			headers, recs := portaltest.HarvestRecords(t, lint, nw.hubURL+"/oai", "ListRecords", url.Values{"metadataPrefix": {prefix}})
			for _, h := range headers {
				if _, dup := seen[h.Identifier]; dup {
					t.Errorf("%s: %s harvested twice", prefix, h.Identifier)
				}
				seen[h.Identifier] = h.Status
			}
			if public := samplePublicResources(t); len(seen) != public+2 {
				t.Errorf("%s: harvested %d records, want %d public and 2 deleted", prefix, len(seen), public)
			}
			for _, id := range []string{nw.erased, nw.hidden} {
				if seen["oai:bikfed.eu:"+id] != "deleted" {
					t.Errorf("%s: %s: status %q, want deleted", prefix, id, seen["oai:bikfed.eu:"+id])
				}
			}
			if prefix != "lom" {
				continue
			}
			for _, rec := range recs {
				if rec.Header.Status == "deleted" {
					continue
				}
				l := rec.LOM
				if l == nil || len(l.General.Identifier) == 0 || !strings.HasPrefix(l.General.Identifier[0].Entry, nw.hubURL+"/resources/") ||
					len(l.General.Title) == 0 || len(l.Educational.LearningResourceType) != 1 || len(l.Educational.IntendedEndUserRole) == 0 ||
					l.Educational.TypicalAgeRange.Get("x-none") == "" || len(l.Classification) != 1 {
					t.Errorf("%s: an incomplete LOM record %+v", rec.Header.Identifier, l)
				}
			}
		}
	})
}

// browserTools finds Debian's chromium and the axe-core npm package: under
// CI=true a missing one fails the test, elsewhere it skips.
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

// browserStepTimeout bounds one step of the journey, so a page that never
// shows what the test waits for fails the test instead of hanging it.
const browserStepTimeout = 30 * time.Second

// acceptLanguage makes the tab send the visitor's languages.
func acceptLanguage(v string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, cdpnetwork.Enable, cdpnetwork.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, cdpnetwork.SetExtraHTTPHeaders, cdpnetwork.SetExtraHTTPHeadersParams{Headers: cdpnetwork.Headers{"Accept-Language": v}})
		return chromedp.Void{}, err
	}
}

// do runs browser steps that return nothing, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs a browser action and returns its value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func browserJourney(t *testing.T, nw *portalNetwork) {
	chromium, axePath := browserTools(t)
	axeJS, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join("..", "..", "testout", "portal")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// The machine has no network: these flags keep Chromium from trying.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first call starts the browser, which lives as long as the context
	// of that call: it must not be a step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The visitor is Belgian and reads Dutch.
	do(t, ctx, "set the visitor's languages", acceptLanguage("nl-BE,nl;q=0.9,en;q=0.5"))

	shot := func(name string) {
		t.Helper()
		png := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	audit := func(name string) {
		t.Helper()
		get(t, ctx, "inject axe-core", chromedp.Evaluate[bool](string(axeJS)+";true"))
		out := get(t, ctx, "run axe-core on "+name, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
			.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
				nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))}))`, chromedp.EvalAwaitPromise))
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
	location := func() string { t.Helper(); return get(t, ctx, "read the location", chromedp.Location()) }
	results := chromedp.WaitVisible(chromedp.CSS("#results-h"))

	do(t, ctx, "open the home page", chromedp.Navigate(nw.hubURL+"/"), chromedp.WaitVisible(chromedp.CSS("#home-q")))
	shot("01-home")
	audit("the home page")

	do(t, ctx, "search", chromedp.SendKeys(chromedp.CSS("#home-q"), "cyber"), chromedp.Submit(chromedp.CSS("#home-q")), results)
	if loc := location(); !strings.Contains(loc, "/resources?q=cyber") {
		t.Fatalf("the search went to %s", loc)
	}
	shot("02-gallery-search")
	audit("the gallery")

	do(t, ctx, "filter by language", chromedp.Click(chromedp.CSS(`.facets a[hreflang="nl"]`)), chromedp.WaitVisible(chromedp.CSS(".facets a.on")))
	if loc := location(); !strings.Contains(loc, "lang=nl") {
		t.Fatalf("the language filter went to %s", loc)
	}
	do(t, ctx, "filter by age", chromedp.Click(chromedp.Search(`//section[@aria-labelledby="f-age"]//a[contains(., "13–15")]`)),
		chromedp.WaitVisible(chromedp.Search(`//section[@aria-labelledby="f-age"]//a[@aria-current]`)))
	loc := location()
	if !strings.Contains(loc, "age=13-15") || !strings.Contains(loc, "lang=nl") {
		t.Fatalf("the age filter went to %s", loc)
	}
	if count := get(t, ctx, "read the count", chromedp.Text(chromedp.CSS("#results-h"))); strings.HasPrefix(count, "0 ") {
		t.Fatalf("no results for cyber in Dutch for ages 13-15: %q", count)
	}
	shot("03-gallery-filtered")
	audit("the filtered gallery")

	do(t, ctx, "open a resource", chromedp.Click(chromedp.CSS(".cards a")), chromedp.WaitVisible(chromedp.CSS("article h1")))
	if lang := get(t, ctx, "read the article's language", chromedp.AttributeValue(chromedp.CSS("article"), "lang")); lang.Value != "nl" {
		t.Fatalf("opened a resource in %q, want a Dutch one", lang.Value)
	}
	shot("04-resource")
	audit("a resource page")

	options := get(t, ctx, "read the language chooser", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#lang-choice option')].map(o => o.value)`))
	var other string
	for _, o := range options {
		if o != "nl" {
			other = o
			break
		}
	}
	if other == "" {
		t.Fatalf("the resource offers no other language: %v", options)
	}
	do(t, ctx, "switch language", chromedp.SetValue(chromedp.CSS("#lang-choice"), other),
		chromedp.Click(chromedp.Search(`//form[.//select[@id="lang-choice"]]//button`)),
		chromedp.WaitVisible(chromedp.CSS(`article[lang="`+other+`"]`)))
	if loc := location(); !strings.Contains(loc, "lang="+other) {
		t.Fatalf("switching to %s went to %s", other, loc)
	}
	shot("05-resource-" + other)
	audit("a translated resource page")

	do(t, ctx, "follow get help", chromedp.Click(chromedp.CSS("a.help")), chromedp.WaitVisible(chromedp.CSS("#mine-h")))
	heading := get(t, ctx, "read the help heading", chromedp.Text(chromedp.CSS("#mine-h")))
	helpline := get(t, ctx, "read the helpline link", chromedp.AttributeValue(chromedp.CSS("a.helpline"), "href"))
	// The visitor reads Dutch (nl-BE): Belgium first, named in Dutch.
	if !strings.Contains(heading, "België") || helpline.Value == "" {
		t.Fatalf("get help shows %q with helpline %q, want Belgium's", heading, helpline.Value)
	}
	shot("06-help")
	audit("the help page")

	for _, m := range []string{"sid", "youth", "pocc"} {
		do(t, ctx, "open minisite "+m, chromedp.Navigate(nw.hubURL+"/"+m+"/"), chromedp.WaitVisible(chromedp.CSS("#hero-title")))
		shot("07-minisite-" + m)
		audit("the " + m + " minisite")
	}
	for _, p := range []string{"/services", "/directory", "/news"} {
		do(t, ctx, "open "+p, chromedp.Navigate(nw.hubURL+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		audit(p)
	}
	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Navigate(nw.hubURL+"/resources?lang=nl"), results)
	shot("08-gallery-phone")
	audit("the gallery on a phone")
}
