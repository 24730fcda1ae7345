package portal

import (
	"github.com/bikfed/bikfed/internal/locale"
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/protocol"
)

// maxAcceptLanguage bounds the header parsed, so negotiation stays cheap.
const maxAcceptLanguage = 256

// parseAcceptLanguage reads the visitor's languages, best first.
func parseAcceptLanguage(h string) []language.Tag {
	if len(h) > maxAcceptLanguage {
		h = h[:maxAcceptLanguage]
	}
	tags, _, err := language.ParseAcceptLanguage(h)
	if err != nil {
		return nil
	}
	return tags
}

// negotiate picks the best of available (BCP 47 tags) for the visitor's
// preferences; ok is false when none is acceptable.
func negotiate(prefs []language.Tag, available []string) (string, bool) {
	if len(prefs) == 0 || len(available) == 0 {
		return "", false
	}
	tags := make([]language.Tag, 0, len(available))
	for _, a := range available {
		t, err := language.Parse(a)
		if err != nil {
			t = language.Und
		}
		tags = append(tags, t)
	}
	_, i, conf := language.NewMatcher(tags).Match(prefs...)
	if conf == language.No || conf == language.Low {
		return "", false
	}
	return available[i], true
}

// visitorRegion guesses the visitor's country from their languages: "nl-BE"
// says Belgium, "fi" most likely Finland.
func visitorRegion(prefs []language.Tag) string {
	for _, t := range prefs {
		if r, conf := t.Region(); conf != language.No && r.IsCountry() {
			return strings.ToLower(r.String())
		}
	}
	return ""
}

// languageNames remembers languageName's answers: every card and facet
// value of a gallery page names languages, and parsing a tag costs more
// than writing the card. The tags are the index's and the visitors', so the
// memory is bounded.
var languageNames struct {
	sync.RWMutex
	m map[string]string
}

const maxLanguageNames = 1024

// languageName is a language's name in itself ("Nederlands", "suomi").
func languageName(tag string) string {
	languageNames.RLock()
	name, ok := languageNames.m[tag]
	languageNames.RUnlock()
	if ok {
		return name
	}
	name = nameLanguage(tag)
	languageNames.Lock()
	if languageNames.m == nil {
		languageNames.m = make(map[string]string)
	}
	if len(languageNames.m) < maxLanguageNames {
		languageNames.m[tag] = name
	}
	languageNames.Unlock()
	return name
}

func nameLanguage(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	if n := display.Self.Name(t); n != "" {
		return n
	}
	return tag
}

// countryName is a country's English name from its ISO code.
func countryName(code string) string {
	r, err := language.ParseRegion(strings.ToUpper(code))
	if err != nil || len(code) != 2 {
		return strings.ToUpper(code)
	}
	if n := display.English.Regions().Name(r); n != "" {
		return n
	}
	return strings.ToUpper(code)
}

// vocabularyLabels are the labels of the protocol's terms, made once:
// every card and facet value of a gallery page shows some.
var vocabularyLabels = func() map[string]string {
	m := map[string]string{}
	for _, list := range [][]string{protocol.Topics, protocol.ResourceTypes, protocol.Audiences} {
		for _, t := range list {
			m[t] = humanizeTerm(t)
		}
	}
	return m
}()

// humanize turns a vocabulary term into a label: "tip-sheet" → "Tip sheet".
func humanize(term string) string {
	if l, ok := vocabularyLabels[term]; ok {
		return l
	}
	return humanizeTerm(term)
}

func humanizeTerm(term string) string {
	if term == "" {
		return ""
	}
	s := strings.ReplaceAll(term, "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// minisite describes one minisite.
type minisite struct {
	ID      string
	Name    string
	Tagline string
	About   string
}

// minisiteView is minisite id with its texts in p's language.
func minisiteView(p *locale.Printer, id string) minisite {
	k := "portal.minisite." + id + "."
	return minisite{ID: id, Name: p.T(k + "name"), Tagline: p.T(k + "tagline"), About: p.T(k + "about")}
}

// minisiteViews is every minisite in order, for the layout's navigation.
func minisiteViews(p *locale.Printer) []minisite {
	out := make([]minisite, 0, len(minisiteOrder))
	for _, s := range minisiteOrder {
		out = append(out, minisiteView(p, s))
	}
	return out
}

// vocabLabel is a vocabulary term's label in p's language: the
// catalogue's for the network's vocabularies (kind "topic", "type",
// "audience"), the term made readable otherwise.
func vocabLabel(p *locale.Printer, kind, term string) string {
	id := "portal." + kind + "." + term
	if s := p.T(id); s != id {
		return s
	}
	return humanizeTerm(term)
}

var minisiteOrder = []string{"sid", "youth", "pocc"}
