package locale

import (
	"math"
	"strconv"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
)

// Plural categories of CLDR (Unicode Language Plural Rules).
const (
	Zero  = "zero"
	One   = "one"
	Two   = "two"
	Few   = "few"
	Many  = "many"
	Other = "other"
)

// categoryOrder is CLDR's order of the categories.
var categoryOrder = [...]string{Zero, One, Two, Few, Many, Other}

// probeID is a message each language gets in go-i18n's bundle, never in a
// catalogue: its every form is the name of its category, so localizing it
// for a count says which category go-i18n's CLDR rule picks.
const probeID = "\x00plural"

var probe = &i18n.Message{ID: probeID, Zero: Zero, One: One, Two: Two, Few: Few, Many: Many, Other: Other}

// tableSize bounds the counts whose category a rule keeps in a table. Pages
// count things, and nearly every count is small; a larger one asks go-i18n.
const tableSize = 1000

// largeSamples are counts beyond the table that a CLDR rule for whole
// numbers can tell apart from every smaller one: French, Italian, Spanish
// and Portuguese say "de" after a round million ("many").
var largeSamples = [...]uint64{1000, 10000, 100000, 1000000, 1000001, 2000000, 10000000, 100000000}

// pluralRule is go-i18n's CLDR cardinal rule of one language, for whole
// numbers.
type pluralRule struct {
	localizer  *i18n.Localizer
	table      [tableSize]string
	categories []string // those the rule can pick for a whole number, and Other, in CLDR order
}

// newPluralRule reads the rule of the localizer's language off go-i18n,
// which must hold the probe message for it.
func newPluralRule(l *i18n.Localizer) (*pluralRule, error) {
	r := &pluralRule{localizer: l}
	// Other is always a form: Polish keeps it for fractions only, but
	// go-i18n falls back to it.
	seen := map[string]bool{Other: true}
	for n := range uint64(tableSize) {
		cat, err := r.ask(n)
		if err != nil {
			return nil, err
		}
		r.table[n] = cat
		seen[cat] = true
	}
	for _, n := range largeSamples {
		cat, err := r.ask(n)
		if err != nil {
			return nil, err
		}
		seen[cat] = true
	}
	for _, c := range categoryOrder {
		if seen[c] {
			r.categories = append(r.categories, c)
		}
	}
	return r, nil
}

func (r *pluralRule) ask(n uint64) (string, error) {
	// go-i18n reads an int64 faster than a string, and a count beyond
	// one goes as a string.
	var pc any = strconv.FormatUint(n, 10)
	if n <= math.MaxInt64 {
		pc = int64(n)
	}
	return r.localizer.Localize(&i18n.LocalizeConfig{
		MessageID:      probeID,
		PluralCount:    pc,
		TemplateData:   pc, // any, so that go-i18n makes no map of its own
		TemplateParser: template.IdentityParser{},
	})
}

// category picks the category of the whole number n ≥ 0.
func (r *pluralRule) category(n uint64) string {
	if n < tableSize {
		return r.table[n]
	}
	cat, err := r.ask(n)
	if err != nil {
		return Other
	}
	return cat
}

// count turns a signed count into the whole number the rules read; a
// negative count takes the form of its absolute value, as CLDR's n does.
func count(n int) uint64 {
	if n < 0 {
		return uint64(-(n + 1)) + 1
	}
	return uint64(n)
}
