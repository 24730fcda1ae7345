package protocol

import (
	"strings"
	"testing"
)

func TestParseLanguageTag(t *testing.T) {
	valid := []struct{ in, want string }{
		{"de", "de"},
		{"nl-BE", "nl-BE"},
		{"sr-Latn-RS", "sr-Latn-RS"},
		{"es-419", "es-419"},
		{"zh-Hant-TW", "zh-Hant-TW"},
		{"en-GB-oxendict", "en-GB-oxendict"},
		{"de-DE-u-co-phonebk", "de-DE-u-co-phonebk"},
		{"en-x-private", "en-x-private"},
		{"de-CH-1901", "de-CH-1901"},
		{"sl-rozaj-biske", "sl-rozaj-biske"},
		{"zh-yue-HK", "zh-yue-HK"},
		{"fil", "fil"},
		{"en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"},
		{"en-Latn-GB-boont-r-extended-sequence-x-private", "en-Latn-GB-boont-r-extended-sequence-x-private"},
		// Canonical case: language lower, script title, region upper, the rest lower.
		{"EN", "en"},
		{"nl-be", "nl-BE"},
		{"NL-be", "nl-BE"},
		{"SR-LATN-rs", "sr-Latn-RS"},
		{"zh-hant-tw", "zh-Hant-TW"},
		{"en-gb-OXENDICT", "en-GB-oxendict"},
		{"de-de-U-CO-PHONEBK", "de-DE-u-co-phonebk"},
		{"EN-X-PRIVATE", "en-x-private"},
	}
	for _, tc := range valid {
		t.Run("valid/"+tc.in, func(t *testing.T) {
			got, err := ParseLanguageTag(tc.in)
			if err != nil {
				t.Fatalf("ParseLanguageTag(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseLanguageTag(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := ParseLanguageTag(got)
			if err != nil || again != got {
				t.Fatalf("canonical form %q does not parse to itself: %q, %v", got, again, err)
			}
		})
	}

	invalid := []struct{ name, in string }{
		{"empty", ""},
		{"one letter", "e"},
		{"english-uk", "english-uk"},
		{"long language subtag", "english"},
		{"four letter language", "engl"},
		{"underscore", "nl_BE"},
		{"digits", "12"},
		{"empty subtag", "en--GB"},
		{"trailing hyphen", "en-"},
		{"leading hyphen", "-en"},
		{"too long", "en-" + strings.Repeat("abcdefgh-", 8) + "x"},
		{"repeated variant", "de-1901-1901"},
		{"repeated variant case-insensitive", "sl-rozaj-ROZAJ"},
		{"repeated extension", "en-u-co-phonebk-u-ca-buddhist"},
		{"extension without subtags", "en-u"},
		{"extension subtag too short", "en-u-c"},
		{"private use empty", "en-x"},
		{"private use subtag too long", "en-x-abcdefghi"},
		{"subtag too long", "en-abcdefghi"},
		{"space", "en GB"},
		{"non-ASCII", "de-ÄT"},
		{"private use only", "x-private"},
		{"two regions", "en-GB-US"},
		{"script after region", "en-GB-Latn"},
	}
	for _, tc := range invalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			if got, err := ParseLanguageTag(tc.in); err == nil {
				t.Fatalf("ParseLanguageTag(%q) = %q, want an error", tc.in, got)
			}
		})
	}
}
