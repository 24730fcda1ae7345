package locale

// Plural categories of CLDR (Unicode Language Plural Rules).
const (
	Zero  = "zero"
	One   = "one"
	Two   = "two"
	Few   = "few"
	Many  = "many"
	Other = "other"
)

// pluralRule picks the CLDR cardinal category of a whole number n ≥ 0. The
// workspace counts things and units of time, never fractions, so the rules
// are the CLDR rules with the visible fraction digits v, f and t at zero and
// the compact exponent e at zero.
type pluralRule struct {
	categories []string
	category   func(n uint64) string
}

// pluralRules maps a base language to its rule. The catalogue "pt" is
// European Portuguese and takes pt_PT's rule, not the rule CLDR gives plain
// "pt" (which is Brazilian: one for 0 and 1).
var pluralRules = map[string]pluralRule{
	// CLDR "ast de en et fi fy gl ia io ji lij nl sc sv sw ur yi":
	// one: i = 1 and v = 0.
	"en": oneOnly,
	"nl": oneOnly,
	"de": oneOnly,
	"fi": oneOnly,
	// CLDR "fr": one: i = 0,1; many: e = 0 and i != 0 and
	// i % 1000000 = 0 and v = 0 or e != 0..5.
	"fr": {
		categories: []string{One, Many, Other},
		category: func(n uint64) string {
			switch {
			case n <= 1:
				return One
			case n%1000000 == 0:
				return Many
			}
			return Other
		},
	},
	// CLDR "ca it lld pt_PT scn vec": one: i = 1 and v = 0; many as fr.
	"pt": {
		categories: []string{One, Many, Other},
		category: func(n uint64) string {
			switch {
			case n == 1:
				return One
			case n != 0 && n%1000000 == 0:
				return Many
			}
			return Other
		},
	},
}

var oneOnly = pluralRule{
	categories: []string{One, Other},
	category: func(n uint64) string {
		if n == 1 {
			return One
		}
		return Other
	},
}

// count turns a signed count into the whole number the rules read; a
// negative count takes the form of its absolute value, as CLDR's n does.
func count(n int) uint64 {
	if n < 0 {
		return uint64(-(n + 1)) + 1
	}
	return uint64(n)
}
