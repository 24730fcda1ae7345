package locale

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBundle_Match(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		accept  string
		choices []string
		want    string
	}{
		{"", nil, "en"},
		{"nl-BE,nl;q=0.9,en;q=0.8", nil, "nl"},
		{"fr-BE", nil, "fr"},
		{"de-BE,de;q=0.9", nil, "de"},
		{"de-AT", nil, "de"},
		{"pt-PT,pt;q=0.9", nil, "pt"},
		{"pt", nil, "pt"},
		{"pt-BR", nil, "pt"},
		{"fi-FI,fi;q=0.9,sv;q=0.5", nil, "fi"},
		{"sv-FI,fi;q=0.8", nil, "sv"},
		{"ja,ko;q=0.5", nil, "en"},
		{"es,fr;q=0.5", nil, "es"},
		{"ja,fr;q=0.5", nil, "fr"},
		{"en-GB,en;q=0.9", nil, "en"},
		{"*", nil, "en"},
		{"garbage;;;,q=x", nil, "en"},
		{"zz,x-klingon,fi;q=0.5", nil, "fi"},
		// An explicit choice wins, and the first that names a catalogue.
		{"fr", []string{"nl"}, "nl"},
		{"fr", []string{"nl-BE"}, "nl"},
		{"fr", []string{"", "de"}, "de"},
		{"fr", []string{"xx", "fi"}, "fi"},
		{"fr", []string{"es"}, "es"},
		{"fr", []string{"ja"}, "fr"},
		{"fr", []string{"not a tag"}, "fr"},
		{"", []string{"pt-BR"}, "pt"},
	} {
		if got := b.Match(tc.accept, tc.choices...); got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.accept, tc.choices, got, tc.want)
		}
	}
}

// allLanguages is a bundle with a catalogue for every interface language.
func allLanguages(t testing.TB) *Bundle {
	t.Helper()
	files := map[string]string{}
	for _, l := range InterfaceLanguages() {
		files[l.Code+".json"] = `{"a": "A"}`
	}
	b, err := LoadFS(mapFS(files))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundle_Match_fallbacks(t *testing.T) {
	all := allLanguages(t)
	// The console's languages: the six of its parts.
	six := mustLoad(t).For(ConsoleParts()...)
	for _, tc := range []struct {
		b       *Bundle
		accept  string
		choices []string
		want    string
	}{
		{all, "pt-BR", nil, "pt"},
		{all, "pt-PT", nil, "pt"},
		{all, "pt", nil, "pt"},
		{all, "nb", nil, "no"},
		{all, "nn", nil, "no"},
		{all, "no", nil, "no"},
		{all, "nb-NO,en;q=0.5", nil, "no"},
		{all, "sr-Latn", nil, "sr"},
		{all, "sr-Cyrl", nil, "sr"},
		{all, "sr-RS", nil, "sr"},
		{all, "sr-Latn-RS,hr;q=0.5", nil, "sr"},
		{all, "de-AT", nil, "de"},
		{all, "fr-BE", nil, "fr"},
		{all, "nl-BE", nil, "nl"},
		{all, "ga-IE,en;q=0.5", nil, "ga"},
		{all, "el-GR", nil, "el"},
		{all, "uk-UA,ru;q=0.5", nil, "uk"},
		{all, "gsw", nil, "de"}, // Swiss German reads German, as x/text's matcher knows
		{all, "ja", nil, "en"},
		{all, "ru", nil, "en"},
		{all, "", nil, "en"},
		{all, "fr", []string{"nn"}, "no"},
		{all, "fr", []string{"sr-Latn"}, "sr"},
		{all, "fr", []string{"pt-BR"}, "pt"},
		{all, "fr", []string{"ja"}, "fr"},
		// Not offered: the next language, else English.
		{six, "sv-SE", nil, "en"},
		{six, "sv-SE,de;q=0.5", nil, "de"},
		{six, "nb", nil, "en"},
		{six, "fr", []string{"sv"}, "fr"},
	} {
		if got := tc.b.Match(tc.accept, tc.choices...); got != tc.want {
			t.Errorf("Match(%q, %q) with %v = %q, want %q", tc.accept, tc.choices, tc.b.Languages(), got, tc.want)
		}
	}
}

// A surface's view offers only the languages complete for its parts.
func TestBundle_For(t *testing.T) {
	b, err := LoadFS(mapFS(map[string]string{
		"en.json":   `{"a": "A"}`,
		"fr.json":   `{"a": "Á"}`,
		"sv.json":   `{"a": "Å"}`,
		"p/en.json": `{"b": "B"}`,
		"p/fr.json": `{"b": "É"}`,
		"q/en.json": `{"c": "C"}`,
		"q/sv.json": `{"c": "Ç"}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{nil, "en fr sv"},
		{[]string{"p"}, "en fr"},
		{[]string{"q"}, "en sv"},
		{[]string{"p", "q"}, "en"},
	} {
		if got := strings.Join(b.LanguagesOf(tc.parts...), " "); got != tc.want {
			t.Errorf("LanguagesOf(%q) = %q, want %q", tc.parts, got, tc.want)
		}
	}
	v := b.For("p")
	if got := strings.Join(v.Languages(), " "); got != "en fr" {
		t.Errorf("view offers %q", got)
	}
	if v.Has("sv") || v.Match("sv,fr;q=0.5") != "fr" || v.Match("", "sv") != "en" {
		t.Error("view offers sv")
	}
	if got := v.Printer("sv").T("a"); got != "A" {
		t.Errorf("view's sv printer says %q, want English", got)
	}
	if got := v.Printer("fr").T("b"); got != "É" {
		t.Errorf("view's fr printer says %q", got)
	}
}

func TestBundle_Match_longHeader(t *testing.T) {
	b := mustLoad(t)
	h := "fi," + strings.Repeat("xx-XX;q=0.1,", 200)
	if got := b.Match(h); got != "fi" {
		t.Errorf("got %q, want fi", got)
	}
}

func TestBundle_FromRequest(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		url, cookie, accept, want string
	}{
		{"/", "", "", "en"},
		{"/", "", "de-BE", "de"},
		{"/", "fr", "de-BE", "fr"},
		{"/?lang=nl", "fr", "de-BE", "nl"},
		{"/?lang=zz", "fr", "de-BE", "fr"},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "lang", Value: tc.cookie})
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := b.FromRequest(r, "lang"); got != tc.want {
			t.Errorf("%s cookie=%q accept=%q: got %q, want %q", tc.url, tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func FuzzBundle_Match(f *testing.F) {
	b := mustLoad(f)
	f.Add("nl-BE,nl;q=0.9,en;q=0.8", "pt-PT")
	f.Add("*;q=0", "")
	f.Fuzz(func(t *testing.T, accept, choice string) {
		if got := b.Match(accept, choice); !b.Has(got) {
			t.Fatalf("Match(%q, %q) = %q, which has no catalogue", accept, choice, got)
		}
	})
}
