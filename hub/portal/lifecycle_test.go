package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/protocol"
)

// waitFor polls check until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPortal_ResourcePage(t *testing.T) {
	n, ids := galleryNet(t)
	page := "/resources/" + ids["nl-guide"]
	t.Run("original, with the visitor's language offered", func(t *testing.T) {
		// An English interface, for a visitor who reads Finnish too.
		body := n.getOK(page, "Accept-Language: en, fi;q=0.8")
		for _, want := range []string{
			`<article lang="nl">`, `<h1>Cyberpesten in de klas</h1>`,
			`This resource is also available in Finnish: <a href="` + page + `?lang=fi" hreflang="fi" lang="fi">suomi</a>`,
			`<link rel="alternate" hreflang="fi" href="` + n.url + page + `?lang=fi">`,
			`<link rel="alternate" hreflang="nl" href="` + n.url + page + `">`,
			`hreflang="x-default"`, `"@type":"LearningResource"`, `"inLanguage":"nl"`, `"workTranslation":[`,
			`"suggestedMinAge":10`, `"suggestedMaxAge":14`, `"typicalAgeRange":"10-14"`, `"learningResourceType":"guide"`,
			`Safer Internet Centre (Belgium)`, `<label for="lang-choice">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("resource page lacks %s", want)
			}
		}
		if strings.Contains(n.getOK(page, "Accept-Language: en, nl;q=0.8"), "also available in") {
			t.Error("offers the language the page is already in")
		}
	})
	t.Run("machine translation, then outdated", func(t *testing.T) {
		body := n.getOK(page + "?lang=fi")
		for _, want := range []string{`<article lang="fi">`, "Verkkokiusaaminen luokassa", "Machine translation.", `"translationOfWork":{`, `"inLanguage":"fi"`} {
			if !strings.Contains(body, want) {
				t.Errorf("translated page lacks %s", want)
			}
		}
		if strings.Contains(body, "Outdated translation") {
			t.Error("a current translation is marked outdated")
		}
		// The owner changes the resource: the translation was made from v1.
		n.nodes["be"].push(draft{id: ids["nl-guide"], kind: "resource", vis: "public",
			body: resourceBody("Cyberpesten in de klas", "nl", []string{"nl", "fr"}, 10, 15, "guide", []string{"cyberbullying"}, "sid")})
		n.waitIndexed()
		if body := n.getOK(page + "?lang=fi"); !strings.Contains(body, "Outdated translation.") {
			t.Error("an outdated translation is not marked")
		}
		var api struct {
			Translations []struct {
				Language string `json:"language"`
				Outdated bool   `json:"outdated"`
			} `json:"translations"`
		}
		n.getJSON("/api/v1/resources/"+ids["nl-guide"], &api)
		if len(api.Translations) != 1 || !api.Translations[0].Outdated {
			t.Errorf("API translations: %+v", api.Translations)
		}
	})
	t.Run("unknown language falls back to the original", func(t *testing.T) {
		if body := n.getOK(page + "?lang=de"); !strings.Contains(body, `<article lang="nl">`) {
			t.Error("?lang=de without a German version does not show the original")
		}
	})
}

func TestPortal_OnlyPublicPublishedVisible(t *testing.T) {
	n := startHub(t)
	be := n.node("be")
	soon := time.Now().Add(1500 * time.Millisecond).UTC()
	ids := be.push(
		draft{kind: "resource", vis: "public", body: resourceBody("Visible guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})},
		draft{kind: "resource", vis: "community", body: resourceBody("Community draft guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})},
		draft{kind: "resource", vis: "public", publishAt: &soon, body: resourceBody("Embargoed guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})},
		draft{kind: "post", vis: "community", body: protocol.Post{Space: "awareness", Format: "blog", Title: "Members only post", Text: "Members only.", Language: "en", Author: protocol.Author{Name: "x", SIC: "be"}}},
	)
	n.waitIndexed()
	titles := func() string {
		var p apiPage
		n.getJSON("/api/v1/resources?per_page=100", &p)
		return strings.Join(p.titles(), "|")
	}
	if got := titles(); got != "Visible guide" {
		t.Fatalf("before the embargo ends: %q", got)
	}
	if resp, _ := n.get("/resources/" + ids[1]); resp.StatusCode != 404 {
		t.Errorf("community resource page: %s", resp.Status)
	}
	if resp, _ := n.get("/resources/" + ids[2]); resp.StatusCode != 404 {
		t.Errorf("embargoed resource page: %s", resp.Status)
	}
	waitFor(t, 10*time.Second, "the embargoed resource to be published", func() bool { return strings.Contains(titles(), "Embargoed guide") })

	be.push(draft{id: ids[0], kind: "resource", deleted: true, vis: "public"})
	be.push(draft{id: ids[2], kind: "resource", vis: "community", body: resourceBody("Embargoed guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})})
	n.waitIndexed()
	if got := titles(); got != "" {
		t.Errorf("after deleting one and making the other community: %q", got)
	}
	if resp, _ := n.get("/resources/" + ids[0]); resp.StatusCode != 404 {
		t.Errorf("deleted resource page: %s", resp.Status)
	}
}

func TestPortal_ConditionalGET(t *testing.T) {
	n, _ := galleryNet(t)
	resp, body := n.get("/resources?lang=nl")
	tag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if tag == "" || lm == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=60") || !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
		t.Fatalf("headers: %v", resp.Header)
	}
	if resp, b := n.get("/resources?lang=nl", "If-None-Match: "+tag); resp.StatusCode != 304 || b != "" {
		t.Errorf("If-None-Match: %s", resp.Status)
	}
	if resp, _ := n.get("/resources?lang=nl", "If-Modified-Since: "+lm); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %s", resp.Status)
	}
	if resp, _ := n.get("/resources?lang=fr", "If-None-Match: "+tag); resp.StatusCode != 200 {
		t.Errorf("another query with the same ETag: %s", resp.Status)
	}
	// A visitor whose browser asks for Finnish is sent to the Finnish
	// page, never told that the English one has not changed.
	if resp := n.getNoFollow("/resources?lang=nl", "If-None-Match: "+tag, "Accept-Language: fi"); resp.StatusCode != http.StatusFound ||
		resp.Header.Get("Location") != "/fi/resources?lang=nl" {
		t.Errorf("another language with the same ETag: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp2, body2 := n.get("/resources?lang=nl", "Accept-Encoding: gzip")
	if resp2.Header.Get("Content-Encoding") != "gzip" || len(body2) >= len(body) {
		t.Errorf("gzip: %q, %d bytes of %d", resp2.Header.Get("Content-Encoding"), len(body2), len(body))
	}
	// A sync lands: every page's validator changes.
	n.node("pt").push(draft{kind: "resource", vis: "public", body: resourceBody("Novo guia", "pt", []string{"pt"}, 8, 12, "guide", []string{"privacy"})})
	n.waitIndexed()
	if resp, _ := n.get("/resources?lang=nl", "If-None-Match: "+tag); resp.StatusCode != 200 {
		t.Errorf("after a sync: %s", resp.Status)
	}
	if resp, _ := n.get("/nowhere", "If-None-Match: *"); resp.StatusCode == 304 {
		t.Error("a 404 answered 304")
	}
}

func TestPortal_Privacy(t *testing.T) {
	const marker = "ZQX-PRIVATE-7731"
	n := startHub(t)
	ids := n.seedSamples()
	be, fi := n.nodes["be"], n.nodes["fi"]
	blob := be.upload([]byte("%PDF-1.4 members only "+marker), "members-"+marker+".pdf", "application/pdf")
	pubBlob := be.upload([]byte("%PDF-1.4 a public handout"), "handout.pdf", "application/pdf")
	priv := be.push(
		draft{kind: "post", vis: "community", body: protocol.Post{Space: "helplines", Format: "thread", Title: "Case " + marker, Text: "Details " + marker, Language: "en", Author: protocol.Author{Name: "helpline-" + marker, SIC: "be"}}},
		draft{kind: "comment", vis: "community", body: protocol.Comment{Post: ids["be-post-1"], Text: "Reply " + marker, Language: "en", Author: protocol.Author{Name: "a-" + marker, SIC: "be"}}},
		draft{kind: "resource", vis: "community", blobs: []protocol.BlobRef{blob}, body: resourceBody("Draft "+marker, "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})},
	)
	// A translation has its resource's visibility: this one, the members'.
	be.push(draft{kind: "translation", vis: "community", body: protocol.Translation{Resource: priv[2], SourceVersion: 1, Language: "it", Title: "Bozza " + marker, Method: "human", Review: "unreviewed"}})
	fi.push(draft{kind: "post", vis: "youth", body: protocol.Post{Space: "youth", Format: "thread", Title: "Youth " + marker, Text: "Youth text " + marker, Language: "fi", Author: protocol.Author{Pseudonym: "fi-panel-" + strings.ToLower(marker)}}})
	// Public once, then the members': a withdrawn resource leaves no trace.
	hidden := fi.push(draft{kind: "resource", vis: "public", body: resourceBody("Withdrawn "+marker, "fi", []string{"fi"}, 8, 12, "guide", []string{"privacy"})})
	n.waitIndexed()
	fi.push(draft{id: hidden[0], kind: "resource", vis: "community", body: resourceBody("Withdrawn "+marker, "fi", []string{"fi"}, 8, 12, "guide", []string{"privacy"})})
	future := time.Now().Add(240 * time.Hour).UTC()
	fi.push(draft{kind: "resource", vis: "public", publishAt: &future, body: resourceBody("Embargo "+marker, "fi", []string{"fi"}, 8, 12, "guide", []string{"privacy"})})
	withFile := be.push(draft{kind: "resource", vis: "public", blobs: []protocol.BlobRef{pubBlob}, body: resourceBody("Handout for parents", "en", []string{"en"}, 8, 12, "tip-sheet", []string{"privacy"})})
	erased := be.push(draft{kind: "resource", vis: "public", body: resourceBody("Erase me "+marker, "nl", []string{"nl"}, 8, 12, "guide", []string{"privacy"})})
	n.waitIndexed()
	if !strings.Contains(n.getOK("/resources/"+erased[0]), marker) {
		t.Fatal("the public resource about to be erased is not shown: the crawl would prove nothing")
	}
	be.push(draft{id: erased[0], kind: "resource", vis: "public", deleted: true, erased: true})
	n.waitIndexed()
	page := n.getOK("/resources/" + withFile[0])
	href := "/files/" + pubBlob.SHA256 + "/handout.pdf"
	if !strings.Contains(page, `href="`+href+`"`) || !strings.Contains(page, "CC BY 4.0") {
		t.Errorf("the resource page does not link its attachment %s or show its licence", href)
	}
	if body := n.getOK(href); !strings.Contains(body, "public handout") {
		t.Errorf("the public attachment is not served at %s", href)
	}

	var p apiPage
	n.getJSON("/api/v1/resources?q="+marker, &p)
	if p.Total != 0 {
		t.Errorf("searching for the marker finds %d resources", p.Total)
	}
	start := []string{"/", "/resources", "/services", "/news", "/directory", "/help", "/help?country=be", "/sid/", "/youth/", "/pocc/",
		"/feed.atom", "/feed.rss", "/feed.json", "/sid/feed.atom", "/news/feed.atom", "/news/feed.rss", "/news/feed.json", "/sitemap.xml", "/robots.txt",
		"/api/v1/resources?per_page=100", "/api/v1/entities?limit=500",
		"/oai?verb=Identify", "/oai?verb=ListSets", "/oai?verb=ListMetadataFormats", "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc",
		"/oai?verb=ListRecords&metadataPrefix=oai_dc", "/oai?verb=ListIdentifiers&metadataPrefix=lom", "/oai?verb=ListRecords&metadataPrefix=lom",
		"/oai?verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:" + hidden[0],
		"/resources/" + priv[2], "/api/v1/resources/" + priv[2], "/resources/" + hidden[0], "/resources/" + erased[0],
		"/news/" + priv[0], "/api/v1/entities/" + priv[0], "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:" + hidden[0],
		"/files/" + blob.SHA256 + "/" + url.PathEscape(blob.Name), "/no/such/page", "/resources/be:nope"}
	fetched := portaltest.Crawl(t, n.url, start, 3000, marker)
	if len(fetched) < 60 {
		t.Errorf("the crawl reached only %d URLs", len(fetched))
	}
	t.Logf("crawled %d URLs", len(fetched))
	// Every OAI record of the erased and withdrawn resources is a deleted header.
	var lint string
	if _, err := lookXMLLint(); err == nil {
		lint = portaltest.RequireXMLLint(t)
		for _, h := range portaltest.Harvest(t, lint, n.url+"/oai", "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}}) {
			if (strings.HasSuffix(h.Identifier, erased[0]) || strings.HasSuffix(h.Identifier, hidden[0])) && h.Status != "deleted" {
				t.Errorf("%s is not a deleted record", h.Identifier)
			}
		}
	}
	_ = http.StatusOK
}
