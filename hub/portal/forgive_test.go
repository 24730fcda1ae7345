package portal_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// forgivingNet holds resources that speak of cyberbullying in every way a
// visitor might type it, and two that only share a word with it.
func forgivingNet(t *testing.T) (*testNet, map[string]string) {
	n := startHub(t)
	be, fr := n.node("be"), n.node("fr")
	ids := map[string]string{}
	r := func(title, lang, typ string, topics ...string) draft {
		body := resourceBody(title, lang, []string{lang}, 10, 16, typ, topics)
		body.Description = "For families and schools."
		return draft{kind: "resource", vis: "public", body: body}
	}
	res := be.push(
		r("Cyberbullying: what parents can do", "en", "guide", "wellbeing"),
		r("Stop cyber bullying at school", "en", "lesson-plan", "relationships"),
		r("Cyber-Bullying im Klassenchat", "de", "tip-sheet", "gaming"),
		r("Vriendelijk online: een spel", "nl", "game", "cyberbullying"),
		r("Cyber security for beginners", "en", "guide", "online-safety"),
		r("Bullying in the playground", "en", "guide", "wellbeing"),
	)
	ids["joined"], ids["split"], ids["hyphen"], ids["tagged"], ids["cyber"], ids["bullying"] = res[0], res[1], res[2], res[3], res[4], res[5]
	res = fr.push(
		r("En parler à quelqu’un", "fr", "video", "cyberbullying"),
		draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: ids["joined"], SourceVersion: 1, Language: "fr",
			Title: "Harcèlement en ligne : ce que les parents peuvent faire", Description: "Pour les familles et les écoles.", Method: "human", Review: "reviewed"}},
	)
	ids["french"] = res[0]
	n.waitIndexed()
	return n, ids
}

func TestPortal_ForgivingSearch(t *testing.T) {
	n, ids := forgivingNet(t)
	idsOf := func(q string) []string {
		t.Helper()
		var p struct {
			Resources []struct {
				ID string `json:"id"`
			} `json:"resources"`
		}
		n.getJSON("/api/v1/resources?q="+url.QueryEscape(q), &p)
		var out []string
		for _, r := range p.Resources {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	want := []string{ids["joined"], ids["split"], ids["hyphen"], ids["tagged"], ids["french"]}
	slices.Sort(want)
	t.Run("split, joined and translated forms find the same resources", func(t *testing.T) {
		// "Cyberharcèlement" is the topic's French label, "Cybermobbing"
		// its German one; neither word is in any resource.
		for _, q := range []string{"cyber bullying", "cyberbullying", "Cyberbullying", "cyber-bullying", "Cyberharcèlement",
			"cyberharcelement", "cyber harcèlement", "Cybermobbing", "CYBERBULLYING"} {
			if got := idsOf(q); !slices.Equal(got, want) {
				t.Errorf("q=%q found %v, want %v", q, got, want)
			}
		}
		for _, q := range []string{"cyber", "bullying"} {
			if got := idsOf(q); slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("q=%q found %v: a single word of the compound should find its own resources", q, got)
			}
		}
	})
	t.Run("type and audience labels in any language", func(t *testing.T) {
		// Leçon / Unterrichtsentwurf: the lesson plan, by its type's label.
		for _, q := range []string{"lesson plan", "lessonplan"} {
			if got := idsOf(q); !slices.Equal(got, []string{ids["split"]}) {
				t.Errorf("q=%q found %v, want the lesson plan", q, got)
			}
		}
		if got := idsOf("Eltern"); len(got) != 7 {
			t.Errorf(`q="Eltern" (parents, in German) found %d resources, want all 7 for parents`, len(got))
		}
	})
	t.Run("a French visitor sees French first, as French", func(t *testing.T) {
		page := n.getOK("/fr/resources?q=" + url.QueryEscape("cyberharcèlement"))
		titles := regexp.MustCompile(`<h3><a href="[^"]*" lang="([a-z]+)">([^<]*)</a>`).FindAllStringSubmatch(page, -1)
		if len(titles) != 5 {
			t.Fatalf("%d cards, want 5", len(titles))
		}
		// Both resources readable in French come first; the translated one
		// shows its French title, marked as French.
		var first []string
		for _, m := range titles[:2] {
			if m[1] != "fr" {
				t.Errorf("card %q is in %s among the first two", m[2], m[1])
			}
			first = append(first, m[2])
		}
		slices.Sort(first)
		if strings.Join(first, "|") != "En parler à quelqu’un|Harcèlement en ligne : ce que les parents peuvent faire" {
			t.Errorf("first cards %v", first)
		}
		for _, m := range titles[2:] {
			if m[1] == "fr" {
				t.Errorf("card %q is in French after the others", m[2])
			}
		}
		// An English visitor gets the English title of the same resource.
		if en := n.getOK("/en/resources?q=cyberbullying"); !strings.Contains(en, "Cyberbullying: what parents can do") || strings.Contains(en, "Harcèlement en ligne") {
			t.Error("the English gallery does not show the English original")
		}
	})
	t.Run("the gallery's form sends the default order as none", func(t *testing.T) {
		// A visitor typing words into the gallery, sorted newest first by
		// default, gets the default of a search: relevance.
		page := n.getOK("/resources")
		if !strings.Contains(page, `<option value="" selected>Newest first</option>`) || strings.Contains(page, `value="newest"`) {
			t.Errorf("the gallery's sort menu: %s", regexp.MustCompile(`<select id="sort"[^$]*?</select>`).FindString(page))
		}
		searched := n.getOK("/resources?q=cyberbullying&sort=")
		if !strings.Contains(searched, `<option value="" selected>Relevance</option>`) || !strings.Contains(searched, `<option value="newest">`) {
			t.Errorf("a search's sort menu: %s", regexp.MustCompile(`<select id="sort"[^$]*?</select>`).FindString(searched))
		}
	})
	t.Run("a search that finds nothing suggests a spelling and topics", func(t *testing.T) {
		page := n.getOK("/resources?q=cyberbulying")
		if !strings.Contains(page, "No resources match") {
			t.Fatal("a misspelled search found something")
		}
		m := regexp.MustCompile(`class="suggest">Did you mean: <a href="([^"]*)">([^<]*)</a>`).FindStringSubmatch(page)
		if m == nil || m[2] != "Cyberbullying" {
			t.Fatalf("no spelling suggestion: %v", m)
		}
		if got := n.getOK(strings.ReplaceAll(m[1], "&amp;", "&")); !strings.Contains(got, "Cyberbullying: what parents can do") {
			t.Error("the suggested search finds nothing")
		}
		// The topics with the most resources, linked.
		for _, topic := range []string{`href="/resources?topic=cyberbullying">Cyberbullying<`, `href="/resources?topic=wellbeing">Wellbeing<`} {
			if !strings.Contains(page, topic) {
				t.Errorf("zero-result page lacks %s", topic)
			}
		}
		// In French, a misspelled French label is corrected to the label.
		fr := n.getOK("/fr/resources?q=" + url.QueryEscape("cyberharcelemnt"))
		if !strings.Contains(fr, `Vouliez-vous dire : <a href="/fr/resources?q=Cyberharc%C3%A8lement">Cyberharcèlement</a>`) {
			t.Errorf("French zero-result page lacks the label suggestion")
		}
		// Nothing close: no suggestion, the topics still.
		none := n.getOK("/resources?q=qqqqzzzz")
		if strings.Contains(none, `class="suggest"`) || !strings.Contains(none, "Or browse a topic:") {
			t.Error("a search with nothing close suggests a spelling, or offers no topics")
		}
	})
}
