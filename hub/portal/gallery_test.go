package portal_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

type apiPage struct {
	Total     int `json:"total"`
	Pages     int `json:"pages"`
	Resources []struct {
		ID                 string   `json:"id"`
		Title              string   `json:"title"`
		Language           string   `json:"language"`
		AvailableLanguages []string `json:"available_languages"`
	} `json:"resources"`
	Facets map[string][]struct {
		Value    string `json:"value"`
		Count    int    `json:"count"`
		Selected bool   `json:"selected"`
	} `json:"facets"`
	Next string `json:"next"`
}

func (p *apiPage) count(facet, value string) int {
	for _, f := range p.Facets[facet] {
		if f.Value == value {
			return f.Count
		}
	}
	return 0
}

func (p *apiPage) titles() []string {
	var out []string
	for _, r := range p.Resources {
		out = append(out, r.Title)
	}
	return out
}

// galleryNet is a small network whose facets are easy to count.
func galleryNet(t *testing.T) (*testNet, map[string]string) {
	n := startHub(t)
	be, fi := n.node("be"), n.node("fi")
	ids := map[string]string{}
	res := be.push(
		draft{kind: "resource", vis: "public", body: resourceBody("Cyberpesten in de klas", "nl", []string{"nl", "fr"}, 10, 14, "guide", []string{"cyberbullying"}, "sid")},
		draft{kind: "resource", vis: "public", body: resourceBody("Sexting: conseils aux parents", "fr", []string{"fr"}, 13, 17, "tip-sheet", []string{"sexting", "privacy"})},
		draft{kind: "resource", vis: "public", body: resourceBody("Spel over privacy", "nl", []string{"nl"}, 6, 9, "game", []string{"privacy"}, "pocc")},
	)
	ids["nl-guide"], ids["fr-tips"], ids["nl-game"] = res[0], res[1], res[2]
	res = fi.push(
		draft{kind: "resource", vis: "public", body: resourceBody("Tietosuoja nuorille", "fi", []string{"fi", "sv"}, 15, 18, "guide", []string{"privacy", "data-protection"}, "youth")},
		draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: ids["nl-guide"], SourceVersion: 1, Language: "fi",
			Title: "Verkkokiusaaminen luokassa", Description: "Opas opettajille.", Method: "machine", Review: "unreviewed"}},
	)
	ids["fi-guide"], ids["fi-tr"] = res[0], res[1]
	n.waitIndexed()
	return n, ids
}

func TestPortal_GalleryFacets(t *testing.T) {
	n, _ := galleryNet(t)
	var all apiPage
	n.getJSON("/api/v1/resources", &all)
	if all.Total != 4 {
		t.Fatalf("total %d, want 4", all.Total)
	}
	for _, c := range []struct {
		facet, value string
		want         int
	}{
		{"lang", "nl", 2}, {"lang", "fr", 2}, {"lang", "fi", 2}, {"lang", "sv", 1},
		{"topic", "privacy", 3}, {"type", "guide", 2}, {"country", "be", 3}, {"country", "fi", 1},
		{"minisite", "sid", 1}, {"audience", "parents", 4}, {"age", "13-15", 3}, {"age", "6-9", 1},
	} {
		if got := all.count(c.facet, c.value); got != c.want {
			t.Errorf("facet %s=%s: %d, want %d", c.facet, c.value, got, c.want)
		}
	}

	t.Run("filters and disjunctive counts", func(t *testing.T) {
		var p apiPage
		n.getJSON("/api/v1/resources?lang=nl&lang=fi", &p)
		if p.Total != 3 {
			t.Errorf("lang=nl|fi: %d, want 3 (%v)", p.Total, p.titles())
		}
		// The language facet still counts every language, as if it were not chosen.
		if p.count("lang", "fr") != 2 {
			t.Errorf("lang facet under a lang filter: fr %d, want 2", p.count("lang", "fr"))
		}
		if p.count("type", "tip-sheet") != 0 {
			t.Errorf("type facet ignores the lang filter")
		}
		n.getJSON("/api/v1/resources?lang=nl&topic=privacy", &p)
		if p.Total != 1 || p.Resources[0].Title != "Spel over privacy" {
			t.Errorf("lang=nl&topic=privacy: %v", p.titles())
		}
	})
	t.Run("age ranges overlap", func(t *testing.T) {
		for q, want := range map[string]int{"age=9": 1, "age=14": 2, "age=16-30": 2, "age=0-5": 0, "age=10": 1, "age=18": 1} {
			var p apiPage
			n.getJSON("/api/v1/resources?"+q, &p)
			if p.Total != want {
				t.Errorf("%s: %d, want %d (%v)", q, p.Total, want, p.titles())
			}
		}
	})
	t.Run("sorting and paging", func(t *testing.T) {
		var p apiPage
		n.getJSON("/api/v1/resources?sort=title&per_page=3", &p)
		if strings.Join(p.titles(), "|") != "Cyberpesten in de klas|Sexting: conseils aux parents|Spel over privacy" || p.Pages != 2 || p.Next == "" {
			t.Errorf("title sort page 1: %v, pages %d, next %q", p.titles(), p.Pages, p.Next)
		}
		n.getJSON("/api/v1/resources?sort=title&per_page=3&page=2", &p)
		if len(p.Resources) != 1 || p.Resources[0].Title != "Tietosuoja nuorille" {
			t.Errorf("title sort page 2: %v", p.titles())
		}
		n.getJSON("/api/v1/resources?sort=oldest&per_page=1", &p)
		if p.Resources[0].Title != "Cyberpesten in de klas" {
			t.Errorf("oldest first: %v", p.titles())
		}
	})
	t.Run("full-text, diacritics, translations and prefixes", func(t *testing.T) {
		for q, want := range map[string]string{
			"spel privacy":       "Spel over privacy",
			"CONSEILS":           "Sexting: conseils aux parents",
			"verkkokiusaaminen":  "Cyberpesten in de klas", // the Finnish translation's title
			"tietosuo":           "Tietosuoja nuorille",    // still typing
			"conseíls parents":   "Sexting: conseils aux parents",
			`"Cyberpesten" klas`: "Cyberpesten in de klas",
		} {
			var p apiPage
			n.getJSON("/api/v1/resources?q="+url.QueryEscape(q), &p)
			if p.Total != 1 || p.Resources[0].Title != want {
				t.Errorf("q=%q: %v, want [%s]", q, p.titles(), want)
			}
		}
	})
	t.Run("a topic named in any language finds what it tags", func(t *testing.T) {
		// Three resources are tagged privacy; one says so in its title.
		for _, q := range []string{"privacy", "Privatsphäre", "prywatnosc", "vie privée", "VIE-PRIVEE"} {
			var p apiPage
			n.getJSON("/api/v1/resources?q="+url.QueryEscape(q)+"&sort=title", &p)
			if got := strings.Join(p.titles(), "|"); got != "Sexting: conseils aux parents|Spel over privacy|Tietosuoja nuorille" {
				t.Errorf("q=%q: %s", q, got)
			}
		}
	})
	t.Run("search input is never FTS syntax", func(t *testing.T) {
		for _, q := range []string{`"`, `"unbalanced`, `NEAR(a b`, `title:privacy`, `*`, `a AND OR NOT`, `{title}: x`, `^spel`,
			`privacy)`, `'; DROP TABLE resources; --`, `Cyberpesten" OR "spel`, strings.Repeat("privacy ", 500), "\x00\xff", `-privacy`, `"" ""`} {
			resp, body := n.get("/api/v1/resources?q=" + url.QueryEscape(q))
			if resp.StatusCode != 200 {
				t.Errorf("q=%q: %s %s", q, resp.Status, body)
			}
			resp, _ = n.get("/resources?q=" + url.QueryEscape(q))
			if resp.StatusCode != 200 {
				t.Errorf("gallery q=%q: %s", q, resp.Status)
			}
		}
	})
	t.Run("the JSON API refuses what the gallery ignores", func(t *testing.T) {
		for _, q := range []string{"lang=english!", "topic=nope", "age=12-3", "page=0", "sort=random", "per_page=1000"} {
			if resp, _ := n.get("/api/v1/resources?" + q); resp.StatusCode != 400 {
				t.Errorf("API %s: %s, want 400", q, resp.Status)
			}
			if resp, _ := n.get("/resources?" + q); resp.StatusCode != 200 {
				t.Errorf("gallery %s: %s, want 200", q, resp.Status)
			}
		}
	})
	t.Run("gallery page", func(t *testing.T) {
		body := n.getOK("/resources?lang=fi&age=13-15")
		for _, want := range []string{`aria-current="true"`, "Tietosuoja nuorille", "Cyberpesten in de klas", `href="/resources?age=13-15"`, `<label for="q">`} {
			if !strings.Contains(body, want) {
				t.Errorf("gallery lacks %q", want)
			}
		}
		if strings.Contains(body, "Spel over privacy") {
			t.Error("gallery shows a resource outside the filters")
		}
	})
}

func TestPortal_Minisites(t *testing.T) {
	n := startHub(t, func(c *hubConfig) { c.MinisiteHosts = map[string]string{"saferinternetday.localhost": "sid"} })
	n.node("be").push(
		draft{kind: "resource", vis: "public", body: resourceBody("SID lesson", "en", []string{"en"}, 8, 12, "lesson-plan", []string{"online-safety"}, "sid")},
		draft{kind: "resource", vis: "public", body: resourceBody("Youth panel report", "en", []string{"en"}, 14, 18, "report", []string{"online-safety"}, "youth")},
	)
	n.waitIndexed()
	for _, c := range []struct{ path, host string }{{"/sid/resources", ""}, {"/resources", "saferinternetday.localhost"}, {"/resources", "saferinternetday.localhost:8080"}} {
		var h []string
		if c.host != "" {
			h = append(h, "Host: "+c.host)
		}
		body := n.getOK(c.path, h...)
		if !strings.Contains(body, "SID lesson") || strings.Contains(body, "Youth panel report") {
			t.Errorf("%s on %q is not the Safer Internet Day gallery", c.path, c.host)
		}
	}
	// A minisite under a path leads back to the portal's home; on its own
	// host name its home is the site's own.
	if !strings.Contains(n.getOK("/fr/sid/resources"), `<li><a href="/fr/">Better Internet for Kids</a></li>`) {
		t.Error("/fr/sid/resources has no link to the portal's home")
	}
	if body := n.getOK("/fr/resources", "Host: saferinternetday.localhost"); strings.Contains(body, `<li><a href="/fr/">`) {
		t.Error("the SID host's menu links to its own home as the portal's")
	}
	home := n.getOK("/youth/")
	if !strings.Contains(home, "Youth panel report") || strings.Contains(home, "SID lesson") || !strings.Contains(home, "<h1 id=\"hero-title\">BIK Youth</h1>") {
		t.Error("/youth/ is not the BIK Youth landing page")
	}
	if resp, _ := n.get("/sid/services"); resp.StatusCode != 404 {
		t.Errorf("/sid/services: %s", resp.Status)
	}
	feed := n.getOK("/pocc/feed.atom")
	if strings.Contains(feed, "SID lesson") {
		t.Error("the pocc feed has a sid resource")
	}
	if strings.Contains(n.getOK("/pocc/resources"), "<h3>Campaign</h3>") {
		t.Error("a minisite gallery offers the campaign facet")
	}
	var p apiPage
	n.getJSON("/api/v1/resources?minisite=youth", &p)
	if p.Total != 1 {
		t.Errorf("API minisite=youth: %d", p.Total)
	}
	_ = fmt.Sprint
}
