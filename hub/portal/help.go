package portal

import (
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/bikfed/bikfed/internal/locale"
)

// helpCountries are the countries /help lists, with or without a Safer
// Internet Centre in the network: the EU's, the EEA's and their
// neighbours whose children read this portal. A child in any of them gets
// at least the numbers that work across Europe.
var helpCountries = []string{
	"at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie", "it", "lv", "lt", "lu",
	"mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
	"is", "li", "no", "ch", "gb", "rs", "ua", "al", "ba", "me", "mk", "md",
}

// languageCountry is the country a language without a region most likely
// means on a European portal: "pt" is Portugal here, "de" Germany.
var languageCountry = map[string]string{
	"bg": "bg", "cs": "cz", "da": "dk", "de": "de", "el": "gr", "es": "es", "et": "ee", "fi": "fi", "fr": "fr",
	"ga": "ie", "hr": "hr", "hu": "hu", "is": "is", "it": "it", "lb": "lu", "lt": "lt", "lv": "lv", "mt": "mt",
	"nl": "nl", "no": "no", "nb": "no", "nn": "no", "pl": "pl", "pt": "pt", "ro": "ro", "sk": "sk", "sl": "si",
	"sr": "rs", "sv": "se", "uk": "ua", "sq": "al", "mk": "mk", "bs": "ba", "cnr": "me",
}

// European numbers that answer in every country of the list.
const (
	numberChildHelpline   = "116 111"
	numberMissingChildren = "116 000"
	numberEmergency       = "112"
)

func isHelpCountry(c string) bool { return slices.Contains(helpCountries, c) }

// visitorCountry is the country whose help comes first: the one the
// visitor chose, else the region of their browser's first language that
// names a listed country, else the country of the interface's language or
// of their browser's languages ("pt" is Portugal), else none.
func visitorCountry(q *req, chosen string) string {
	if isHelpCountry(chosen) {
		return chosen
	}
	for _, t := range q.prefs {
		if r, conf := t.Region(); conf == language.Exact {
			if c := strings.ToLower(r.String()); isHelpCountry(c) {
				return c
			}
		}
	}
	if c := languageCountry[q.lang]; c != "" && q.chosen {
		return c
	}
	for _, t := range q.prefs {
		b, _ := t.Base()
		if c := languageCountry[b.String()]; c != "" {
			return c
		}
	}
	return languageCountry[q.lang]
}

// countryHelp is one country's help: its SIC's helpline and hotline when
// the network has one, and the European numbers always.
type countryHelp struct {
	Code, Name string
	SIC        *profileView
}

// helpList is every listed country with its help, the visitor's first,
// the others by name in the interface's language.
func helpList(p *locale.Printer, profiles *profileSet, first string) (*countryHelp, []countryHelp) {
	var mine *countryHelp
	var others []countryHelp
	for _, c := range helpCountries {
		ch := countryHelp{Code: c, Name: countryLabel(p, c), SIC: profiles.country(c)}
		if c == first {
			mine = &ch
			continue
		}
		others = append(others, ch)
	}
	col := collatorFor(p)
	slices.SortFunc(others, func(a, b countryHelp) int { return col.CompareString(a.Name, b.Name) })
	return mine, others
}

// collatorFor sorts names as p's language does. A collator is not safe for
// concurrent use, so each list takes its own; /help is cached per language.
func collatorFor(p *locale.Printer) *collate.Collator {
	return collate.New(language.Make(p.Tag()))
}

// distressTerms are the words, in every interface language, that show the
// help box above search results: each catalogue's portal.distress.terms,
// folded as search folds text.
type distressTerms struct {
	once  sync.Once
	terms []string
}

func (d *distressTerms) load(b *locale.Bundle) []string {
	d.once.Do(func() {
		seen := map[string]bool{}
		for _, l := range b.Languages() {
			for _, t := range strings.Split(b.Printer(l).T("portal.distress.terms"), ",") {
				t = foldDistress(strings.TrimSpace(t))
				if len([]rune(t)) >= 3 && !seen[t] {
					seen[t] = true
					d.terms = append(d.terms, t)
				}
			}
		}
	})
	return d.terms
}

// foldDistress folds text as search does, and the Greek final sigma, which
// lower-casing a capital Σ never gives, to σ.
func foldDistress(s string) string { return strings.ReplaceAll(foldTitle(s), "ς", "σ") }

// inDistress reports whether a search's words name distress: a term of
// five letters or more anywhere in them ("cyberbullying" has "bullying"),
// a shorter one as the start of a word.
func (p *Portal) inDistress(text string) bool {
	if text == "" {
		return false
	}
	folded := " " + strings.Join(strings.FieldsFunc(foldDistress(text), func(r rune) bool {
		return !(r == '-' || r == '\'' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127)
	}), " ") + " "
	for _, t := range p.distress.load(p.langs.bundle) {
		if len([]rune(t)) >= 5 && strings.Contains(folded, t) || strings.Contains(folded, " "+t) {
			return true
		}
	}
	return false
}
