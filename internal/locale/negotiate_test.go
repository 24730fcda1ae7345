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
		{"sv-FI,fi;q=0.8", nil, "fi"},
		{"ja,ko;q=0.5", nil, "en"},
		{"es,fr;q=0.5", nil, "fr"},
		{"en-GB,en;q=0.9", nil, "en"},
		{"*", nil, "en"},
		{"garbage;;;,q=x", nil, "en"},
		{"zz,x-klingon,fi;q=0.5", nil, "fi"},
		// An explicit choice wins, and the first that names a catalogue.
		{"fr", []string{"nl"}, "nl"},
		{"fr", []string{"nl-BE"}, "nl"},
		{"fr", []string{"", "de"}, "de"},
		{"fr", []string{"xx", "fi"}, "fi"},
		{"fr", []string{"es"}, "fr"},
		{"fr", []string{"not a tag"}, "fr"},
		{"", []string{"pt-BR"}, "pt"},
	} {
		if got := b.Match(tc.accept, tc.choices...); got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.accept, tc.choices, got, tc.want)
		}
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
