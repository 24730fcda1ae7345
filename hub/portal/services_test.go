package portal_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// servicesNet is a hub with the sample content, whose guide has six
// entries of the current form, and an entry published before the guide
// had slugs, with minimum_age 0 and a free category.
func servicesNet(t *testing.T) (n *testNet, oldID string) {
	n = startHub(t)
	n.seedSamples()
	oldID, err := n.h.Publish(t.Context(), protocol.KindService, protocol.VisibilityPublic, protocol.Service{Name: "OldChat",
		Category: "chat app", Description: "A chat app described before the guide had addresses.", URL: "https://oldchat.example",
		Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	n.waitIndexed()
	return n, oldID
}

// cardNames are the services a list shows, in order.
var cardNameRE = regexp.MustCompile(`<li class="card">\s*<h3><a href="[^"]*/services/[^"]+">([^<]+)</a>`)

func cardNames(body string) []string {
	var out []string
	for _, m := range cardNameRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestPortal_Services(t *testing.T) {
	n, oldID := servicesNet(t)

	t.Run("service page", func(t *testing.T) {
		body := n.getOK("/services/roblox")
		for _, want := range []string{
			"<h1>Roblox</h1>",
			"<dd>No minimum age</dd>",
			`<a class="button" id="report-link" href="https://en.help.roblox.com/hc/en-us/articles/203312410-How-to-Report-Rule-Violations-and-Block-a-User">How to report on Roblox</a>`,
			`id="block-link" href="https://en.help.roblox.com/hc/en-us/articles/203312410-How-to-Report-Rule-Violations-and-Block-a-User"`,
			`<a class="button" id="help-link" href="/help">`,
			`<h2 id="parental-h">Parental controls</h2>`,
			`<h2 id="privacy-h">Privacy</h2>`,
			`<h2 id="related-h">Resources on the same topics</h2>`,
			`href="/resources?topic=gaming&amp;topic=grooming&amp;topic=scams">All resources on these topics</a>`,
			`<link rel="canonical" href="` + n.url + `/services/roblox">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		if strings.Contains(body, "minimum age 0") || strings.Contains(body, "Minimum age 0") {
			t.Error("the page says minimum age 0")
		}
		if got := strings.Count(body, `<li class="card">`); got == 0 || got > 3 {
			t.Errorf("%d resource cards, want 1 to 3", got)
		}
	})

	t.Run("minimum age", func(t *testing.T) {
		if body := n.getOK("/services/tiktok"); !strings.Contains(body, "<dd>Minimum age 13</dd>") {
			t.Error("TikTok's minimum age is not shown")
		}
		if body := n.getOK("/fr/services/tiktok"); !strings.Contains(body, "<dd>Âge minimum : 13 ans</dd>") {
			t.Error("TikTok's minimum age is not shown in French")
		}
	})

	t.Run("old record", func(t *testing.T) {
		body := n.getOK("/services/" + oldID)
		for _, want := range []string{"<h1>OldChat</h1>", "<dd>Minimum age not given in this guide</dd>", "<dd>chat app</dd>"} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		if strings.Contains(body, "No minimum age") || strings.Contains(body, "Minimum age 0") {
			t.Error("an unknown age reads as a known one")
		}
	})

	t.Run("translation", func(t *testing.T) {
		body := n.getOK("/fr/services/roblox")
		for _, want := range []string{
			`<div class="desc" lang="fr"><p>Une plateforme où l’on joue`,
			`<p lang="fr">Utilisez le bouton Signaler`,
			`<a class="button" id="help-link" href="/fr/help">`,
			`<h2 id="report-h">Comment signaler</h2>`,
			// No French list of safety features: the English one, marked.
			`<ul class="list" lang="en"><li>Chat limited by age`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		de := n.getOK("/de/services/roblox")
		for _, want := range []string{`<div class="desc" lang="de">`, `<p lang="de">Öffnen Sie das Profil`, `<p lang="en">Use the Report button`} {
			if !strings.Contains(de, want) {
				t.Errorf("German page: missing %q", want)
			}
		}
		// A language without a version shows the entry's own.
		if it := n.getOK("/it/services/roblox"); !strings.Contains(it, `<div class="desc" lang="en">`) {
			t.Error("Italian page: the English description is not marked")
		}
	})

	t.Run("not found", func(t *testing.T) {
		if resp, _ := n.get("/services/nope"); resp.StatusCode != 404 {
			t.Errorf("/services/nope: %s", resp.Status)
		}
	})

	t.Run("list", func(t *testing.T) {
		for _, c := range []struct {
			path string
			want []string
		}{
			{"/services", []string{"Discord", "Instagram", "OldChat", "Roblox", "TikTok", "WhatsApp", "YouTube"}},
			{"/services?q=roblox", []string{"Roblox"}},
			{"/services?q=ENCRYPTED+messaging", []string{"WhatsApp"}},
			{"/services?category=game", []string{"Roblox"}},
			{"/services?category=video-sharing&category=messaging", []string{"TikTok", "WhatsApp", "YouTube"}},
			// The old entry's age is not known: no age filter shows it.
			{"/services?age=16", []string{"Discord", "Instagram", "Roblox", "TikTok", "WhatsApp", "YouTube"}},
			{"/services?age=9", []string{"Roblox"}},
			{"/services?feature=spending-limits", []string{"Roblox"}},
			{"/services?feature=private-by-default&feature=message-controls", []string{"Instagram", "TikTok"}},
			{"/services?category=nonsense&age=200", []string{"Discord", "Instagram", "OldChat", "Roblox", "TikTok", "WhatsApp", "YouTube"}},
			{"/fr/services?q=plateforme", []string{"Roblox"}},
		} {
			t.Run(c.path, func(t *testing.T) {
				body := n.getOK(c.path)
				if got := cardNames(body); strings.Join(got, ",") != strings.Join(c.want, ",") {
					t.Errorf("listed %v, want %v", got, c.want)
				}
			})
		}
	})

	t.Run("list texts", func(t *testing.T) {
		body := n.getOK("/services?category=game")
		for _, want := range []string{
			"<p class=\"meta\">Game · No minimum age</p>",
			`<h2 id="results-h" class="count">1 service</h2>`,
			`<a href="/services">Clear all filters</a>`,
			`<option value="game" selected>Game</option>`,
			`<form class="search" role="search" action="/services" method="get">`,
			// The category's own group keeps its other values.
			`<a href="/services?category=game&amp;category=video-sharing"><span>Video sharing</span> <span class="n">(2)</span>`,
			`<a href="/services" class="on" aria-current="true"><span>Game</span> <span class="n">(1)</span>`,
			`<a href="/services?age=9&amp;category=game"><span>Suitable for a child of 9</span> <span class="n">(1)</span>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		// Categories chosen with links, several at once, stay in the form.
		two := n.getOK("/services?category=video-sharing&category=messaging&feature=message-controls")
		for _, want := range []string{`<input type="hidden" name="category" value="messaging">`, `<input type="hidden" name="category" value="video-sharing">`,
			`<input type="hidden" name="feature" value="message-controls">`} {
			if !strings.Contains(two, want) {
				t.Errorf("the form lacks %s", want)
			}
		}
		if strings.Contains(two, `<select id="category"`) {
			t.Error("the form offers one category where several are chosen")
		}
		if fr := n.getOK("/fr/services?age=6"); !strings.Contains(fr, `<option value="6" selected>Convient à un enfant de 6 ans</option>`) {
			t.Error("the French age filter is not chosen")
		}
	})

	t.Run("empty groups hidden", func(t *testing.T) {
		body := n.getOK("/services?q=zzzznothing")
		if strings.Contains(body, `class="facet"`) {
			t.Error("a filter group with nothing to offer is shown")
		}
		if !strings.Contains(body, "No service matches your search.") {
			t.Error("no word for an empty search")
		}
		// WhatsApp's minimum age is 13: the age group offers no younger
		// age as a link, while the form still offers every age.
		body = n.getOK("/services?category=messaging")
		if strings.Contains(body, "<span>Suitable for a child of 9</span>") || !strings.Contains(body, "<span>Suitable for a child of 13</span>") {
			t.Error("the age group offers an age that finds nothing, or hides one that finds WhatsApp")
		}
		if !strings.Contains(body, `<option value="9">Suitable for a child of 9</option>`) {
			t.Error("the form does not offer every age")
		}
	})

	t.Run("shared slug", func(t *testing.T) {
		// The protocol cannot see that a slug is taken: the first entry
		// keeps it, the second is at its id.
		second, err := n.h.Publish(t.Context(), protocol.KindService, protocol.VisibilityPublic, protocol.Service{Name: "Roblox Copy",
			Slug: "roblox", Category: "game", URL: "https://copy.example", NoMinimumAge: true, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		n.waitIndexed()
		if body := n.getOK("/services/roblox"); !strings.Contains(body, "<h1>Roblox</h1>") {
			t.Error("the second entry with a slug took it")
		}
		body := n.getOK("/services/" + second)
		if !strings.Contains(body, "<h1>Roblox Copy</h1>") || !strings.Contains(body, `<link rel="canonical" href="`+n.url+`/services/`+second+`">`) {
			t.Error("the second entry is not at its id")
		}
		if list := n.getOK("/services?q=copy"); !strings.Contains(list, `href="/services/`+second+`"`) {
			t.Error("the list links the second entry elsewhere than its id")
		}
		sm := n.getOK("/sitemaps/pages.xml")
		for _, want := range []string{"/services/roblox</loc>", "/services/" + second + "</loc>", "/services/" + oldID + "</loc>", "/fr/services/tiktok"} {
			if !strings.Contains(sm, want) {
				t.Errorf("the sitemap lacks %s", want)
			}
		}
		if _, err := n.h.Publish(t.Context(), protocol.KindService, protocol.VisibilityPublic, protocol.Service{}); err == nil {
			t.Fatal("an empty service was published")
		}
	})
}
