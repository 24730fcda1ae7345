package portal

import (
	"testing"

	"golang.org/x/text/language"
)

func TestVisitorCountry(t *testing.T) {
	for _, tc := range []struct {
		accept, lang string
		chosen       bool
		asked, want  string
	}{
		{"", "en", false, "", ""},
		{"", "en", false, "it", "it"},
		{"fr-BE,fr;q=0.9", "fr", false, "", "be"},
		{"fr", "fr", false, "", "fr"},
		{"pt", "pt", false, "", "pt"},
		{"pt-BR", "pt", false, "", "pt"},
		{"de", "de", false, "", "de"},
		{"de-AT", "de", false, "", "at"},
		{"nl", "nl", false, "", "nl"},
		{"it", "en", false, "", "it"},
		{"en-IE", "en", false, "", "ie"},
		{"en-US", "en", false, "", ""},
		{"el", "el", false, "", "gr"},
		{"nb", "no", false, "", "no"},
		{"sr-Latn", "sr", false, "", "rs"},
		{"", "fi", true, "", "fi"},
		{"nl-BE", "fr", true, "", "be"},
		{"en-GB", "de", true, "", "gb"},
		{"", "de", true, "xx", "de"},
	} {
		tags, _, _ := language.ParseAcceptLanguage(tc.accept)
		q := &req{prefs: tags, lang: tc.lang, chosen: tc.chosen}
		if got := visitorCountry(q, tc.asked); got != tc.want {
			t.Errorf("visitorCountry(%q, %s, chosen %v, asked %q) = %q, want %q", tc.accept, tc.lang, tc.chosen, tc.asked, got, tc.want)
		}
	}
}
