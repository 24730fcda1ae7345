package portal

import (
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/protocol"
)

// uiLanguages are the languages of the few interface labels that are
// translated; the rest of the interface is English. Content keeps its own
// language and is marked with it.
var uiLanguages = []language.Tag{
	language.English, language.Dutch, language.French, language.German, language.Finnish,
	language.Swedish, language.Portuguese, language.Spanish, language.Italian,
}

var uiMatcher = language.NewMatcher(uiLanguages)

// uiLabels are the translated labels, by language and key.
var uiLabels = map[string]map[string]string{
	"en": {"help": "Get help / report", "search": "Search resources"},
	"nl": {"help": "Hulp zoeken / melden", "search": "Zoek materiaal"},
	"fr": {"help": "Obtenir de l’aide / signaler", "search": "Rechercher des ressources"},
	"de": {"help": "Hilfe holen / melden", "search": "Materialien suchen"},
	"fi": {"help": "Hae apua / ilmoita", "search": "Hae materiaaleja"},
	"sv": {"help": "Få hjälp / anmäl", "search": "Sök material"},
	"pt": {"help": "Obter ajuda / denunciar", "search": "Pesquisar recursos"},
	"es": {"help": "Obtener ayuda / denunciar", "search": "Buscar recursos"},
	"it": {"help": "Chiedi aiuto / segnala", "search": "Cerca risorse"},
}

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

// uiLanguage is the visitor's language for the translated labels.
func uiLanguage(prefs []language.Tag) string {
	if len(prefs) == 0 {
		return "en"
	}
	_, i, conf := uiMatcher.Match(prefs...)
	if conf == language.No {
		return "en"
	}
	b, _ := uiLanguages[i].Base()
	return b.String()
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

var minisiteInfo = map[string]minisite{
	"sid": {ID: "sid", Name: "Safer Internet Day",
		Tagline: "Together for a better internet",
		About:   "Safer Internet Day is celebrated every February in around 180 countries. Safer Internet Day Committees and supporters run events and actions for a safer and better internet; here are the resources the network made for it."},
	"youth": {ID: "youth", Name: "BIK Youth",
		Tagline: "Youth participation in the Better Internet for Kids network",
		About:   "Youth panels at Safer Internet Centres shape campaigns, resources and policy. These are the resources made by and for young people."},
	"pocc": {ID: "pocc", Name: "Positive Online Content",
		Tagline: "Positive digital content for young children",
		About:   "The Positive Online Content Campaign helps parents, teachers and content makers find and create good online experiences for young children."},
}

var minisiteOrder = []string{"sid", "youth", "pocc"}
