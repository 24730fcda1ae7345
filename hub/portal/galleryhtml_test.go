package portal_test

import (
	"testing"

	"github.com/bikfed/bikfed/hub/portal"
)

// TestPortal_GalleryMatchesTemplate checks the gallery's Go writer against
// templates/layout.html and gallery.html: every query, minisite and
// interface language, and text that needs escaping in each context, gives
// the same bytes both ways.
func TestPortal_GalleryMatchesTemplate(t *testing.T) {
	n := startHub(t, func(c *hubConfig) { c.MinisiteHosts = map[string]string{"saferinternetday.localhost": "sid"} })
	n.seedSamples()
	odd := n.node("fi")
	odd.push(
		draft{kind: "resource", vis: "public", body: resourceBody(`<b>"Quotes" & 'apostrophes' + plus</b>`, "fi", []string{"fi", "sv"}, 6, 9, "game", []string{"privacy"}, "sid")},
		draft{kind: "resource", vis: "public", body: resourceBody("Ääkköset ja emoji 🙂 \u00a0spaces", "sv", []string{"sv"}, 10, 99, "guide", []string{"sexting"})},
	)
	n.waitIndexed()
	queries := []string{"", "q=privacy", "q=%3Cscript%3E%22%27%26%2B", "q=%C3%A4%C3%A4kk%C3%B6set+ja", "q=javascript%3Aalert(1)",
		"q=%00nul", "q=%FF%FEbad", "lang=fi", "lang=fi&lang=nl&topic=privacy", "age=6-9", "age=10-12&type=guide",
		"sort=title", "sort=oldest&page=2&per_page=2", "page=3&per_page=1", "per_page=1", "country=be&audience=parents",
		"minisite=sid", "minisite=pocc&minisite=youth", "q=priv&sort=newest", "q=safer+internet&lang=en", "lang=zz-invalid&age=x"}
	type variant struct {
		prefix  string
		headers []string
	}
	variants := []variant{{"", nil}, {"", []string{"Accept-Language: nl-BE,nl;q=0.9"}}, {"/sid", nil}, {"/youth", []string{"Accept-Language: fi"}},
		{"", []string{"Host: saferinternetday.localhost"}}}
	p := n.h.Portal()
	defer portal.RenderGalleryByTemplate(p, false)
	for _, v := range variants {
		for _, q := range queries {
			path := v.prefix + "/resources"
			if q != "" {
				path += "?" + q
			}
			headers := append([]string{"Cache-Control: no-cache"}, v.headers...)
			portal.RenderGalleryByTemplate(p, true)
			want := n.getOK(path, headers...)
			portal.RenderGalleryByTemplate(p, false)
			got := n.getOK(path, headers...)
			if got != want {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("%s %v: the Go writer differs from the template at byte %d:\ngot  %q\nwant %q", path, v.headers, i,
					excerpt(got, i), excerpt(want, i))
			}
		}
	}
}

func excerpt(s string, i int) string {
	lo, hi := max(0, i-80), min(len(s), i+80)
	return s[lo:hi]
}
