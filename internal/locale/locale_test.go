package locale

import (
	"bytes"
	"errors"
	"html/template"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

func TestPrinter_T(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		lang, id string
		args     []any
		want     string
	}{
		{"en", "signin.title", nil, "Sign in"},
		{"nl", "signin.title", nil, "Inloggen"},
		{"de", "setpassword.intro", []any{"name", "Anna"}, "Willkommen, Anna. Legen Sie ein Passwort fest, um Ihr Konto fertig einzurichten."},
		{"pt", "nav.resources", nil, "Recursos"},
		{"xx", "signin.title", nil, "Sign in"},
		{"fr", "no.such.id", nil, "no.such.id"},
		// A placeholder without a value shows as written.
		{"en", "setpassword.intro", nil, "Welcome, {name}. Choose a password to finish setting up your account."},
		// Odd arguments: a name that is not a string, a name without value.
		{"en", "setpassword.intro", []any{1, "x", "name"}, "Welcome, {name}. Choose a password to finish setting up your account."},
	} {
		if got := b.Printer(tc.lang).T(tc.id, tc.args...); got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.lang, tc.id, got, tc.want)
		}
	}
}

func TestPrinter_N(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 0, "0 resources"},
		{"en", 1, "1 resource"},
		{"en", 2, "2 resources"},
		{"en", 12345, "12,345 resources"},
		{"fr", 0, "0 ressource"},
		{"fr", 1, "1 ressource"},
		{"fr", 2, "2 ressources"},
		{"fr", 1000000, "1\u202f000\u202f000 de ressources"},
		{"pt", 0, "0 recursos"},
		{"pt", 1, "1 recurso"},
		{"pt", 1000, "1000 recursos"},
		{"pt", 2000000, "2\u00a0000\u00a0000 de recursos"},
		{"fi", 1, "1 materiaali"},
		{"fi", 3, "3 materiaalia"},
		{"de", 1500, "1.500 Ressourcen"},
		{"nl", -1, "-1 bron"},
	} {
		if got := b.Printer(tc.lang).N("resources.count", tc.n); got != tc.want {
			t.Errorf("%s %d: got %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

func TestPrinter_fallsBackToEnglish(t *testing.T) {
	b, err := LoadFS(mapFS(map[string]string{
		"en.json": `{"a": "A {x}", "b": {"one": "{count} b", "other": "{count} bs"}}`,
		"fr.json": `{}`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := b.Printer("fr")
	if got := p.T("a", "x", "1"); got != "A 1" {
		t.Errorf("T: got %q", got)
	}
	// The English form is chosen by the English rule: French would take
	// "one" for 0.
	if got := p.N("b", 0); got != "0 bs" {
		t.Errorf("N: got %q", got)
	}
	// So it is for a count go-i18n picks the form of.
	if got := p.N("b", 1000000); got != "1000000 bs" {
		t.Errorf("N large: got %q", got)
	}
}

// substitute fills text's placeholders from vals, as Printer.T does.
func substitute(text string, vals map[string]string) string {
	return parseText(text).fill(func(name string) (string, bool) { v, ok := vals[name]; return v, ok })
}

func TestSubstitute(t *testing.T) {
	for _, tc := range []struct {
		text string
		vals map[string]string
		want string
	}{
		{"{a} and {b}", map[string]string{"a": "1", "b": "2"}, "1 and 2"},
		{"{a}{a}", map[string]string{"a": "x"}, "xx"},
		// A value is never read for placeholders.
		{"hi {a}", map[string]string{"a": "{b}", "b": "no"}, "hi {b}"},
		{"{ a } {A} {} {a-b} {", map[string]string{"a": "x"}, "{ a } {A} {} {a-b} {"},
		{"{a", map[string]string{"a": "x"}, "{a"},
		{"{{a}}", map[string]string{"a": "x"}, "{x}"},
		{"€ {a} é", map[string]string{"a": "ü"}, "€ ü é"},
	} {
		if got := substitute(tc.text, tc.vals); got != tc.want {
			t.Errorf("substitute(%q): got %q, want %q", tc.text, got, tc.want)
		}
	}
}

// The printer's text is a plain string: put into a page it is escaped like
// any other, so a member's name cannot inject markup.
func TestPrinter_T_escapedByHTMLTemplate(t *testing.T) {
	p := mustLoad(t).Printer("en")
	tmpl := template.Must(template.New("").Funcs(template.FuncMap{"t": p.T}).Parse(`<p>{{t "setpassword.intro" "name" .}}</p>`))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, `<script>alert(1)</script>`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script>") || !strings.Contains(buf.String(), "&lt;script&gt;") {
		t.Errorf("not escaped: %s", buf.String())
	}
}

func TestBundle_Languages(t *testing.T) {
	got := mustLoad(t).Languages()
	var want []string
	for _, l := range InterfaceLanguages() {
		want = append(want, l.Code)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPrinter_Tag(t *testing.T) {
	b := allLanguages(t)
	for lang, want := range map[string]string{"en": "en", "pt": "pt-PT", "nl": "nl", "no": "nb", "sr": "sr", "zz": "en"} {
		if got := b.Printer(lang).Tag(); got != want {
			t.Errorf("%s: got %q, want %q", lang, got, want)
		}
	}
}

// Language names come from CLDR, each in its own language.
func TestPrinter_Name(t *testing.T) {
	b := allLanguages(t)
	for lang, want := range map[string]string{"en": "English", "fr": "français", "de": "Deutsch", "pl": "polski",
		"el": "Ελληνικά", "sr": "српски", "pt": "português", "no": "norsk bokmål", "uk": "українська", "ga": "Gaeilge"} {
		if got := b.Printer(lang).Name(); got != want {
			t.Errorf("%s: got %q, want %q", lang, got, want)
		}
	}
}

func TestInterfaceLanguages(t *testing.T) {
	ls := InterfaceLanguages()
	if len(ls) != 28 || ls[0].Code != Fallback {
		t.Fatalf("%d languages, first %q", len(ls), ls[0].Code)
	}
	seen := map[string]bool{}
	for _, l := range ls {
		if seen[l.Code] || l.Name == "" || l.Name == l.Code {
			t.Errorf("%+v: repeated or unnamed", l)
		}
		seen[l.Code] = true
	}
	if got := allLanguages(t).Languages(); len(got) != 28 {
		t.Errorf("a bundle with 28 catalogues offers %v", got)
	}
}

// A count beyond the table of small counts goes through go-i18n, with
// our Parser, and says the same.
func TestPrinter_N_largeCount(t *testing.T) {
	b := mustLoad(t)
	for _, lang := range b.Languages() {
		p := b.Printer(lang)
		e := p.c.rich["resources.count"]
		for _, n := range []int{1000, 1001, 12345, 1000000, -2000000} {
			c := count(n)
			want := e.forms[e.from.rule.category(c)].fill(pairs{"count", p.Number(n)}.get)
			if got := p.N("resources.count", n); got != want {
				t.Errorf("%s %d: %q, want %q", lang, n, got, want)
			}
		}
	}
}

func TestParser_Parse(t *testing.T) {
	for _, tc := range []struct {
		src  string
		data any
		want string
	}{
		{"{a} and {b}", map[string]string{"a": "1", "b": "2"}, "1 and 2"},
		{"{a} and {b}", map[string]any{"a": 1, "b": "2"}, "1 and 2"},
		{"{a} and {b}", pairs{"a", 1, "b", "2", "a", "3"}, "3 and 2"},
		{"{a} and {b}", nil, "{a} and {b}"},
		{"hi {a}", pairs{"a", "{a}"}, "hi {a}"},
	} {
		pt, err := Parser{}.Parse(tc.src, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := pt.Execute(tc.data); err != nil || got != tc.want {
			t.Errorf("%q with %v: %q, %v; want %q", tc.src, tc.data, got, err, tc.want)
		}
	}
	if _, err := (Parser{}).Parse("hello {Name}", "", ""); !errors.Is(err, ErrBadPlaceholder) {
		t.Errorf("bad placeholder: %v", err)
	}
}

func FuzzSubstitute(f *testing.F) {
	f.Add("hello {name}, {count}", "x")
	f.Add("{{a}", "{a}")
	f.Fuzz(func(t *testing.T, text, v string) {
		got := substitute(text, map[string]string{"name": v, "a": v})
		if !strings.ContainsAny(text, "{") && got != text {
			t.Fatalf("text without braces changed: %q -> %q", text, got)
		}
		if _, err := placeholders(text); err == nil {
			if ph, _ := placeholders(text); len(ph) == 0 && got != text {
				t.Fatalf("text without placeholders changed: %q -> %q", text, got)
			}
		}
	})
}

// BenchmarkLoad reads every catalogue, as Load does once per process.
func BenchmarkLoad(b *testing.B) {
	sub, err := fs.Sub(embedded, "catalogues")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LoadFS(sub); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPrinter_T(b *testing.B) {
	p := mustLoad(b).Printer("fr")
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			p.T("signin.title")
		}
	})
	b.Run("placeholder", func(b *testing.B) {
		for b.Loop() {
			p.T("setpassword.intro", "name", "Anna")
		}
	})
	b.Run("plural", func(b *testing.B) {
		for b.Loop() {
			p.N("resources.count", 12)
		}
	})
	b.Run("plural large", func(b *testing.B) {
		for b.Loop() {
			p.N("resources.count", 12345)
		}
	})
}
