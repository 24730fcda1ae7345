package portal_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var titleRE = regexp.MustCompile(`<title>([^<]*)</title>`)

// TestPortal_Identity: the logo is the favicon too, pages carry Open Graph
// and Twitter card tags and the EU co-funding statement, and titles name
// a search's words and never repeat a minisite's name.
func TestPortal_Identity(t *testing.T) {
	n := startHub(t)
	n.seedSamples()
	body := n.getOK("/")
	logo := regexp.MustCompile(`<link rel="icon" href="(/static/logo\.[0-9a-f]+\.svg)" type="image/svg(\+|&#43;)xml">`).FindStringSubmatch(body)
	if logo == nil {
		t.Fatalf("the home page has no SVG favicon:\n%.1500s", body)
	}
	resp, svg := n.get(logo[1])
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(svg, "<svg") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("%s: %s %q", logo[1], resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<meta property="og:site_name" content="Better Internet for Kids">`, `<meta property="og:locale" content="en_GB">`,
		`<meta property="og:url" content="` + n.url + `/">`, `<meta name="twitter:card" content="summary">`, `<meta property="og:description"`,
		"Co-funded by the European Union", `src="/static/eu.`, `<img src="` + logo[1] + `" alt=""`} {
		if !strings.Contains(body, want) {
			t.Errorf("the home page lacks %s", want)
		}
	}
	// The about page, the privacy notice and the accessibility
	// statement, linked from every page's footer.
	for path, want := range map[string]string{"/about": "Safer Internet Centres", "/privacy": "It sets no cookies", "/accessibility": "(WCAG) 2.1 at level AA"} {
		if !strings.Contains(body, `href="`+path+`"`) {
			t.Errorf("the footer has no link to %s", path)
		}
		page := n.getOK(path)
		if !strings.Contains(page, want) || !strings.Contains(page, `<link rel="canonical" href="`+n.url+path+`">`) {
			t.Errorf("%s lacks %q or its canonical link", path, want)
		}
	}
	if fr := n.getOK("/fr/privacy"); !strings.Contains(fr, `<html lang="fr">`) || strings.Contains(fr, "It sets no cookies") {
		t.Error("/fr/privacy is not in French")
	}
	if fr := n.getOK("/fr/"); !strings.Contains(fr, `<meta property="og:locale" content="fr_FR">`) {
		t.Error("/fr/ is not og:locale fr_FR")
	}
	for path, want := range map[string]string{
		"/":                    "Better Internet for Kids",
		"/sid/":                "Safer Internet Day · Better Internet for Kids",
		"/sid/resources":       "Safer Internet Day resources · Better Internet for Kids",
		"/resources?q=privacy": "“privacy”: resources · Better Internet for Kids",
		"/help":                "Get help / report · Better Internet for Kids",
	} {
		m := titleRE.FindStringSubmatch(n.getOK(path))
		if m == nil || m[1] != want {
			t.Errorf("%s: title %q, want %q", path, m, want)
		}
	}
}
