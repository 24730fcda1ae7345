package locale

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t testing.TB) *Bundle {
	t.Helper()
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readCatalogues parses every embedded catalogue file on its own, so that
// a mistake in one is reported by name, and joins the files of each
// language.
func readCatalogues(t *testing.T) map[string]*catalogue {
	t.Helper()
	sub, err := fs.Sub(embedded, "catalogues")
	if err != nil {
		t.Fatal(err)
	}
	names, err := catalogueFiles(sub)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*catalogue)
	for _, name := range names {
		lang := strings.TrimSuffix(path.Base(name), ".json")
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCatalogue(lang, data)
		if err != nil {
			t.Errorf("catalogue %s: %v", name, err)
			continue
		}
		if have := out[lang]; have != nil {
			maps.Copy(have.messages, c.messages)
			continue
		}
		out[lang] = c
	}
	return out
}

// shape is what a message must share with English: whether it has plural
// forms, the placeholders it uses in all, and those that every form must
// use (all but {count}, which a form like French "une ressource" may spell
// out).
type shape struct {
	plural         bool
	all, everyForm []string
}

func shapeOf(t *testing.T, m message) shape {
	t.Helper()
	if m.plural == nil {
		ph, _ := placeholders(m.text)
		return shape{all: ph, everyForm: ph}
	}
	s := shape{plural: true}
	seen := make(map[string]int)
	for _, text := range m.plural {
		ph, _ := placeholders(text)
		for _, p := range ph {
			seen[p]++
		}
	}
	s.all = slices.Sorted(maps.Keys(seen))
	for p, n := range seen {
		if n == len(m.plural) && p != "count" {
			s.everyForm = append(s.everyForm, p)
		}
	}
	slices.Sort(s.everyForm)
	return s
}

func TestCatalogues_MatchEnglish(t *testing.T) {
	cats := readCatalogues(t)
	en := cats[Fallback]
	if en == nil {
		t.Fatal("no English catalogue")
	}
	for _, want := range []string{"en", "nl", "fr", "de", "fi", "pt"} {
		if cats[want] == nil {
			t.Errorf("no catalogue for %s", want)
		}
	}
	for lang, c := range cats {
		t.Run(lang, func(t *testing.T) {
			// The portal offers only the languages that have its part, and
			// a language that has it has all of it.
			portal := false
			for id := range c.messages {
				portal = portal || strings.HasPrefix(id, "portal.")
			}
			for id := range en.messages {
				if !portal && strings.HasPrefix(id, "portal.") {
					continue
				}
				if _, ok := c.messages[id]; !ok {
					t.Errorf("%s lacks %q", lang, id)
				}
			}
			for id, m := range c.messages {
				em, ok := en.messages[id]
				if !ok {
					t.Errorf("%s has %q, which English lacks", lang, id)
					continue
				}
				got, want := shapeOf(t, m), shapeOf(t, em)
				switch {
				case got.plural != want.plural:
					t.Errorf("%s %q: plural forms %v, English %v", lang, id, got.plural, want.plural)
				case !slices.Equal(got.all, want.all):
					t.Errorf("%s %q: placeholders %v, English has %v", lang, id, got.all, want.all)
				case !slices.Equal(got.everyForm, want.everyForm):
					t.Errorf("%s %q: placeholders in every form %v, English has %v", lang, id, got.everyForm, want.everyForm)
				}
				if m.plural == nil && strings.TrimSpace(m.text) == "" && !strings.HasPrefix(id, "number.") {
					t.Errorf("%s %q is empty", lang, id)
				}
			}
		})
	}
}

func TestLoadFS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // in the error; "" for none
	}{
		{"ok", map[string]string{"en.json": `{"a": "A {x}"}`}, ""},
		{"no English", map[string]string{"nl.json": `{"a": "A"}`}, "fallback"},
		{"not a language", map[string]string{"en.json": `{}`, "english.json": `{}`}, "not a language code"},
		{"no plural rule", map[string]string{"en.json": `{}`, "ga.json": `{}`}, "no plural rule"},
		{"bad json", map[string]string{"en.json": `{"a": 1}`}, "malformed"},
		{"foreign category", map[string]string{"en.json": `{"a": {"one": "x", "few": "y", "other": "z"}}`}, `"few"`},
		{"missing category", map[string]string{"en.json": `{}`, "fr.json": `{"a": {"one": "x", "other": "z"}}`}, `"many" missing`},
		{"bad placeholder", map[string]string{"en.json": `{"a": "hello {Name}"}`}, "malformed placeholder"},
		{"split", map[string]string{"en.json": `{"a": "A"}`, "area/en.json": `{"b": "B"}`}, ""},
		{"given twice", map[string]string{"en.json": `{"a": "A"}`, "area/en.json": `{"a": "B"}`}, "a is given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFS(mapFS(tc.files))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
