package portal_test

import (
	"encoding/json"
	"html"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/locale"
)

// portalEnglish is the English portal catalogue's texts, by id.
func portalEnglish(t *testing.T) map[string]string {
	t.Helper()
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en := b.Printer("en")
	out := map[string]string{}
	var raw map[string]json.RawMessage
	data, err := os.ReadFile("../../internal/locale/catalogues/portal/en.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for id := range raw {
		out[id] = en.T(id)
	}
	return out
}

// TestPortal_InterfaceLanguages: the address names the interface language;
// without one, a browser that asks for another language is sent to its
// address, and English is served; the page, its links, its chooser, its
// canonical and alternate links all follow.
func TestPortal_InterfaceLanguages(t *testing.T) {
	n, ids := galleryNet(t)
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	portal := b.For(locale.PortalParts()...)
	if len(portal.Languages()) != len(locale.InterfaceLanguages()) {
		t.Fatalf("the portal offers %v, want every interface language", portal.Languages())
	}

	for _, tc := range []struct{ path, accept, want string }{
		{"/", "fr-BE,fr;q=0.9,en;q=0.5", "/fr/"},
		{"/resources?topic=privacy", "de-AT", "/de/resources?topic=privacy"},
		{"/sid/resources", "pt-BR", "/pt/sid/resources"},
		{"/help", "nb-NO", "/no/help"},
		{"/news", "nn", "/no/news"},
		{"/directory", "sr-Latn-RS", "/sr/directory"},
		{"/", "it", "/it/"},
		{"/", "ru, pl;q=0.5", "/pl/"},
		{"/resources/" + ids["nl-guide"], "el-GR", "/el/resources/" + ids["nl-guide"]},
	} {
		resp := n.getNoFollow(tc.path, "Accept-Language: "+tc.accept)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
			t.Errorf("%s with %s: %s to %q, want %s", tc.path, tc.accept, resp.Status, resp.Header.Get("Location"), tc.want)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
			t.Errorf("%s: Vary %q", tc.path, resp.Header.Get("Vary"))
		}
	}
	for _, accept := range []string{"", "en-GB", "ja, zh;q=0.5", "ru"} {
		resp, body := n.get("/", "Accept-Language: "+accept)
		if resp.StatusCode != 200 || !strings.Contains(body, `<html lang="en">`) {
			t.Errorf("/ with %q: %s, not the English page", accept, resp.Status)
		}
	}

	// A French page: French text, French links, the chooser, and the
	// address French readers share.
	fr := portal.Printer("fr")
	body := n.getOK("/fr/resources?topic=privacy")
	for _, want := range []string{
		`<html lang="fr">`,
		`href="/fr/resources"`, `href="/fr/news"`, `href="/fr/help"`, `href="/fr/sid/"`,
		html.EscapeString(fr.T("portal.nav.services")),
		html.EscapeString(fr.T("portal.topic.privacy")),
		`<link rel="canonical" href="` + n.url + `/fr/resources?topic=privacy">`,
		`<link rel="alternate" hreflang="de" href="` + n.url + `/de/resources?topic=privacy">`,
		`<link rel="alternate" hreflang="en" href="` + n.url + `/resources?topic=privacy">`,
		`<link rel="alternate" hreflang="x-default" href="` + n.url + `/resources?topic=privacy">`,
		`<a href="/de/resources?topic=privacy" hreflang="de" lang="de">Deutsch</a>`,
		`<a href="/el/resources?topic=privacy" hreflang="el" lang="el">`,
		`<a href="/fr/resources?topic=privacy" hreflang="fr" lang="fr" aria-current="true">français</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/fr/resources lacks %s", want)
		}
	}
	// No English interface text on it: every portal message French
	// translates differently must not appear in English.
	text := visibleText(body)
	for id, en := range portalEnglish(t) {
		if len(en) < 6 || en == fr.T(id) || strings.HasPrefix(id, "portal.minisite.") {
			continue
		}
		if strings.Contains(text, en) {
			t.Errorf("/fr/resources shows English %q (%s)", en, id)
		}
	}
	// English chosen from a French browser stays English.
	if resp, body := n.get("/en/news", "Accept-Language: fr"); resp.StatusCode != 200 || !strings.Contains(body, `<html lang="en">`) ||
		!strings.Contains(body, `<link rel="canonical" href="`+n.url+`/news">`) || !strings.Contains(body, `href="/en/resources"`) {
		t.Errorf("/en/news from a French browser: %s", resp.Status)
	}
	// Machine-readable outputs have one address; feeds speak the
	// language of theirs.
	for _, path := range []string{"/fr/api/v1/resources", "/fr/sitemap.xml", "/fr/oai?verb=Identify", "/fr/robots.txt"} {
		if resp, _ := n.get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s, want 404", path, resp.Status)
		}
	}
	if feed := n.getOK("/fr/feed.atom"); !strings.Contains(feed, html.EscapeString(fr.T("portal.feed.all"))) {
		t.Errorf("/fr/feed.atom lacks its French title %q", fr.T("portal.feed.all"))
	}
	if feed := n.getOK("/feed.atom", "Accept-Language: fr"); !strings.Contains(feed, "Better Internet for Kids: resources") {
		t.Error("/feed.atom is not English")
	}
	// The sitemap lists every page in every interface language.
	sm := n.getOK("/sitemaps/pages.xml")
	for _, want := range []string{
		"<loc>" + n.url + "/fr/help</loc>", "<loc>" + n.url + "/help</loc>", "<loc>" + n.url + "/uk/sid/resources</loc>",
		`<xhtml:link rel="alternate" hreflang="el" href="` + n.url + `/el/directory"/>`,
		`<xhtml:link rel="alternate" hreflang="x-default" href="` + n.url + `/directory"/>`,
	} {
		if !strings.Contains(sm, want) {
			t.Errorf("/sitemaps/pages.xml lacks %s", want)
		}
	}
	// An error page repeats nothing of the address asked for: its
	// chooser leads to each language's home.
	for _, path := range []string{"/fr/resources/be:01ZZMARKERZZ", "/news/zzmarkerzz", "/sid/zzmarkerzz", "/sitemaps/zzmarkerzz.xml"} {
		resp, body := n.get(path)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(strings.ToLower(body), "zzmarkerzz") {
			t.Errorf("%s: %s, repeats the address: %v", path, resp.Status, strings.Contains(strings.ToLower(body), "zzmarkerzz"))
		}
		if !strings.Contains(body, `href="/de/`) {
			t.Errorf("%s: no chooser", path)
		}
	}
}

var tagRE = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)

// visibleText is a page's text without its markup, unescaped.
func visibleText(page string) string {
	return html.UnescapeString(tagRE.ReplaceAllString(page, " "))
}
