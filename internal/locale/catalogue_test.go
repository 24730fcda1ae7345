package locale

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
)

func mustLoad(t testing.TB) *Bundle {
	t.Helper()
	b, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func catalogueFS(t testing.TB) fs.FS {
	t.Helper()
	sub, err := fs.Sub(embedded, "catalogues")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// requiredLangs must have every file, of the console's parts and of the
// workspace's and the top level. More languages may come, each file
// complete.
var requiredLangs = []string{"en", "nl", "fr", "de", "fi", "pt"}

// wholeNumberCategories asks go-i18n itself which plural categories its
// CLDR rule for tag picks for whole numbers: every number to 20,000, then
// samples to 10,000,000 with every round hundred thousand among them. Other
// is always among them: Polish and Ukrainian keep it for fractions, and
// go-i18n falls back to it.
func wholeNumberCategories(t testing.TB, tag string) []string {
	t.Helper()
	b := i18n.NewBundle(language.English)
	if err := b.AddMessages(language.Make(tag), probe); err != nil {
		t.Fatal(err)
	}
	loc := i18n.NewLocalizer(b, tag)
	seen := map[string]bool{Other: true}
	ask := func(n int) {
		cat, err := loc.Localize(&i18n.LocalizeConfig{MessageID: probeID, PluralCount: n, TemplateParser: template.IdentityParser{}})
		if err != nil {
			t.Fatalf("%s %d: %v", tag, n, err)
		}
		seen[cat] = true
	}
	for n := range 20000 {
		ask(n)
	}
	for n := 20000; n <= 10_000_000; n += 9973 {
		ask(n)
	}
	for n := 100_000; n <= 10_000_000; n += 100_000 {
		ask(n)
		ask(n + 1)
	}
	var out []string
	for _, c := range categoryOrder {
		if seen[c] {
			out = append(out, c)
		}
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

func shapeOf(m message) shape {
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

// checkCatalogues lists every way the catalogue files of fsys differ from
// English's, part by part, naming file and id. Any file of an interface
// language is checked; the required languages must have every part.
func checkCatalogues(t testing.TB, fsys fs.FS, required []string) []string {
	t.Helper()
	names, err := catalogueFiles(fsys)
	if err != nil {
		t.Fatal(err)
	}
	byPart := make(map[string]map[string]string) // part → lang → file
	for _, name := range names {
		part := partOf(name)
		if byPart[part] == nil {
			byPart[part] = make(map[string]string)
		}
		byPart[part][strings.TrimSuffix(path.Base(name), ".json")] = name
	}
	read := func(name string) map[string]message {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		var msgs map[string]message
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil
		}
		return msgs
	}
	categories := make(map[string][]string)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, part := range slices.Sorted(maps.Keys(byPart)) {
		files := byPart[part]
		enFile, ok := files[Fallback]
		if !ok {
			bad("part %q has no English file", part)
			continue
		}
		en := read(enFile)
		need := required
		if slices.Contains(PortalParts(), part) {
			// The public portal speaks every interface language.
			need = nil
			for _, l := range InterfaceLanguages() {
				need = append(need, l.Code)
			}
		}
		for _, lang := range need {
			if _, ok := files[lang]; !ok {
				bad("%s: no %s.json", path.Dir(enFile), lang)
			}
		}
		for _, lang := range slices.Sorted(maps.Keys(files)) {
			file := files[lang]
			l, ok := LanguageOf(lang)
			if !ok {
				bad("%s: %q is not an interface language", file, lang)
				continue
			}
			msgs := read(file)
			if msgs == nil {
				bad("%s: not a catalogue", file)
				continue
			}
			if categories[lang] == nil {
				categories[lang] = wholeNumberCategories(t, l.Tag)
			}
			for _, id := range slices.Sorted(maps.Keys(en)) {
				if _, ok := msgs[id]; !ok {
					bad("%s: lacks %q", file, id)
				}
			}
			for _, id := range slices.Sorted(maps.Keys(msgs)) {
				m := msgs[id]
				em, ok := en[id]
				if !ok {
					bad("%s: has %q, which English lacks", file, id)
					continue
				}
				got, want := shapeOf(m), shapeOf(em)
				switch {
				case got.plural != want.plural:
					bad("%s: %q: plural forms %v, English %v", file, id, got.plural, want.plural)
				case !slices.Equal(got.all, want.all):
					bad("%s: %q: placeholders %v, English has %v", file, id, got.all, want.all)
				case !slices.Equal(got.everyForm, want.everyForm):
					bad("%s: %q: placeholders in every form %v, English has %v", file, id, got.everyForm, want.everyForm)
				}
				if m.plural != nil {
					have := slices.Sorted(maps.Keys(m.plural))
					want := slices.Clone(categories[lang])
					slices.Sort(want)
					if !slices.Equal(have, want) {
						bad("%s: %q: plural forms %v, %s's rule has %v", file, id, have, lang, categories[lang])
					}
				}
				if m.plural == nil && strings.TrimSpace(m.text) == "" && !strings.HasPrefix(id, "number.") {
					bad("%s: %q is empty", file, id)
				}
			}
		}
	}
	for _, part := range append(append(append([]string{TopLevel}, ConsoleParts()...), WorkspaceParts()...), PortalParts()...) {
		if byPart[part] == nil {
			bad("no part %q", part)
		}
	}
	return problems
}

func TestCatalogues_MatchEnglish(t *testing.T) {
	for _, p := range checkCatalogues(t, catalogueFS(t), requiredLangs) {
		t.Error(p)
	}
}

// withLanguage copies fsys and gives lang, in every part, a copy of
// English: a complete catalogue for a language whose plural rule is
// English's.
func withLanguage(t *testing.T, fsys fs.FS, lang string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	names, err := catalogueFiles(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: data}
		if path.Base(name) == "en.json" {
			out[path.Join(path.Dir(name), lang+".json")] = &fstest.MapFile{Data: data}
		}
	}
	return out
}

// A complete new language passes the catalogue test and is offered with
// no change of code; one message less and the test names it.
func TestCatalogues_newLanguage(t *testing.T) {
	fsys := withLanguage(t, catalogueFS(t), "sv")
	if ps := checkCatalogues(t, fsys, requiredLangs); len(ps) > 0 {
		t.Fatalf("complete Swedish: %v", ps)
	}
	b, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(b.LanguagesOf(WorkspaceParts()...), "sv") || !slices.Contains(b.LanguagesOf(ConsoleParts()...), "sv") {
		t.Errorf("sv not offered: %v", b.LanguagesOf(WorkspaceParts()...))
	}
	if got := b.Printer("sv").Name(); got != "svenska" {
		t.Errorf("name %q", got)
	}

	var en map[string]any
	if err := json.Unmarshal(fsys["youth/en.json"].Data, &en); err != nil {
		t.Fatal(err)
	}
	id := slices.Sorted(maps.Keys(en))[0]
	delete(en, id)
	en["youth.no.such.message"] = "extra {thing}"
	data, err := json.Marshal(en)
	if err != nil {
		t.Fatal(err)
	}
	fsys["youth/sv.json"] = &fstest.MapFile{Data: data}
	ps := checkCatalogues(t, fsys, requiredLangs)
	want := []string{
		fmt.Sprintf("youth/sv.json: lacks %q", id),
		`youth/sv.json: has "youth.no.such.message", which English lacks`,
	}
	if !slices.Equal(ps, want) {
		t.Errorf("problems %q, want %q", ps, want)
	}
	b, err = LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(b.LanguagesOf(WorkspaceParts()...), "sv") {
		t.Error("incomplete sv offered for the workspace")
	}
	if !slices.Contains(b.LanguagesOf(ConsoleParts()...), "sv") {
		t.Error("sv, complete for the console, not offered there")
	}
}

// Each of the 28 languages has the plural forms its CLDR rule picks for
// whole numbers, as go-i18n applies it to the tag it is given.
func TestPluralRule_categories(t *testing.T) {
	want := map[string][]string{
		"en": {One, Other}, "de": {One, Other}, "nl": {One, Other}, "fi": {One, Other},
		"sv": {One, Other}, "da": {One, Other}, "et": {One, Other}, "el": {One, Other},
		"bg": {One, Other}, "hu": {One, Other}, "no": {One, Other}, "is": {One, Other},
		"fr": {One, Many, Other}, "pt": {One, Many, Other}, "it": {One, Many, Other}, "es": {One, Many, Other},
		// Czech, Slovak and Lithuanian keep "many" for fractions.
		"cs": {One, Few, Other}, "sk": {One, Few, Other}, "lt": {One, Few, Other},
		"pl": {One, Few, Many, Other}, "uk": {One, Few, Many, Other},
		"hr": {One, Few, Other}, "sr": {One, Few, Other}, "ro": {One, Few, Other},
		"sl": {One, Two, Few, Other}, "lv": {Zero, One, Other},
		"ga": {One, Two, Few, Many, Other}, "mt": {One, Two, Few, Many, Other},
	}
	all := allLanguages(t)
	for _, l := range InterfaceLanguages() {
		t.Run(l.Code, func(t *testing.T) {
			got := wholeNumberCategories(t, l.Tag)
			if !slices.Equal(got, want[l.Code]) {
				t.Errorf("%v, want %v", got, want[l.Code])
			}
			// In the bundle of all 28, each language gets its own rule.
			if loaded := all.s.compiled[l.Code].rule.categories; !slices.Equal(loaded, got) {
				t.Errorf("loaded with the others: %v, alone %v", loaded, got)
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
		{"not a language", map[string]string{"en.json": `{}`, "english.json": `{}`}, "not an interface language"},
		{"not an interface language", map[string]string{"en.json": `{}`, "zu.json": `{}`}, "not an interface language"},
		{"bad json", map[string]string{"en.json": `{"a": 1}`}, "malformed"},
		{"unknown category", map[string]string{"en.json": `{"a": {"one": "x", "several": "y", "other": "z"}}`}, `"several" is not a plural category`},
		{"foreign category", map[string]string{"en.json": `{"a": {"one": "x", "few": "y", "other": "z"}}`}, `"few" is not one of en's`},
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
