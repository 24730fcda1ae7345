package locale

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

// Fallback is the language of the reference catalogue, shown when nothing
// else fits and for any message a catalogue lacks.
const Fallback = "en"

var (
	ErrNoFallback     = errors.New("no catalogue for the fallback language")
	ErrNoPluralRule   = errors.New("no plural rule for the language")
	ErrBadCatalogue   = errors.New("malformed catalogue")
	ErrBadPlaceholder = errors.New("malformed placeholder")
)

// The catalogues of one language may be split over several files: the
// top-level <lang>.json and <area>/<lang>.json for each part of the
// interface, so that each part's text lives next to the rest of it.
//
//go:embed catalogues
var embedded embed.FS

// message is one catalogue entry: either a single text, or one text per
// plural category.
type message struct {
	text   string
	plural map[string]string
}

func (m *message) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &m.text); err == nil {
		return nil
	}
	m.plural = make(map[string]string)
	if err := json.Unmarshal(b, &m.plural); err != nil {
		return errors.New("want a string or an object of plural forms")
	}
	return nil
}

type catalogue struct {
	lang     string
	tag      language.Tag
	rule     pluralRule
	messages map[string]message
}

// Bundle holds the catalogues of every language. It is read-only after
// Load and safe for concurrent use.
type Bundle struct {
	catalogues map[string]*catalogue
	langs      []string // sorted, Fallback first
	matcher    language.Matcher
}

// Load reads the catalogues embedded in the binary.
func Load() (*Bundle, error) {
	sub, err := fs.Sub(embedded, "catalogues")
	if err != nil {
		return nil, fmt.Errorf("load catalogues: %w", err)
	}
	return LoadFS(sub)
}

// LoadFS reads every *.json file at the top of fsys, and in its
// directories one level down, as (part of) the catalogue of the language
// its name gives. An id given twice for one language is an error.
func LoadFS(fsys fs.FS) (*Bundle, error) {
	files, err := catalogueFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("load catalogues: %w", err)
	}
	b := &Bundle{catalogues: make(map[string]*catalogue)}
	for _, name := range files {
		lang := strings.TrimSuffix(path.Base(name), ".json")
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load catalogue %s: %w", name, err)
		}
		c, err := parseCatalogue(lang, data)
		if err != nil {
			return nil, fmt.Errorf("load catalogue %s: %w", name, err)
		}
		have := b.catalogues[lang]
		if have == nil {
			b.catalogues[lang] = c
			continue
		}
		for id, m := range c.messages {
			if _, dup := have.messages[id]; dup {
				return nil, fmt.Errorf("load catalogue %s: %w: %s is given twice", name, ErrBadCatalogue, id)
			}
			have.messages[id] = m
		}
	}
	if b.catalogues[Fallback] == nil {
		return nil, ErrNoFallback
	}
	for lang := range b.catalogues {
		b.langs = append(b.langs, lang)
	}
	sort.Slice(b.langs, func(i, j int) bool {
		if (b.langs[i] == Fallback) != (b.langs[j] == Fallback) {
			return b.langs[i] == Fallback
		}
		return b.langs[i] < b.langs[j]
	})
	tags := make([]language.Tag, len(b.langs))
	for i, lang := range b.langs {
		tags[i] = b.catalogues[lang].tag
	}
	b.matcher = language.NewMatcher(tags)
	return b, nil
}

// catalogueFiles lists the catalogue files of fsys, top level first.
func catalogueFiles(fsys fs.FS) ([]string, error) {
	top, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	parts, err := fs.Glob(fsys, "*/*.json")
	if err != nil {
		return nil, err
	}
	return append(top, parts...), nil
}

// matchTags says which BCP 47 tag stands for a catalogue when matching what
// a browser asks for. Plain "pt" means Brazilian Portuguese in CLDR; the
// catalogue "pt" is European.
var matchTags = map[string]string{"pt": "pt-PT"}

func parseCatalogue(lang string, data []byte) (*catalogue, error) {
	base, err := language.ParseBase(lang)
	if err != nil || base.String() != lang {
		return nil, fmt.Errorf("%w: file name %q is not a language code", ErrBadCatalogue, lang)
	}
	rule, ok := pluralRules[lang]
	if !ok {
		return nil, ErrNoPluralRule
	}
	tagName := lang
	if t, ok := matchTags[lang]; ok {
		tagName = t
	}
	c := &catalogue{lang: lang, tag: language.Make(tagName), rule: rule}
	if err := json.Unmarshal(data, &c.messages); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCatalogue, err)
	}
	for id, m := range c.messages {
		if m.plural == nil {
			if _, err := placeholders(m.text); err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
			continue
		}
		for cat, text := range m.plural {
			if !slices.Contains(rule.categories, cat) {
				return nil, fmt.Errorf("%w: %s: plural category %q is not one of %s's %v", ErrBadCatalogue, id, cat, lang, rule.categories)
			}
			if _, err := placeholders(text); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", id, cat, err)
			}
		}
		for _, cat := range rule.categories {
			if _, ok := m.plural[cat]; !ok {
				return nil, fmt.Errorf("%w: %s: plural category %q missing", ErrBadCatalogue, id, cat)
			}
		}
	}
	return c, nil
}

// Languages lists the languages that have a catalogue, Fallback first.
func (b *Bundle) Languages() []string { return slices.Clone(b.langs) }

// Has reports whether lang has a catalogue.
func (b *Bundle) Has(lang string) bool { return b.catalogues[lang] != nil }

// Defines reports whether lang's own catalogue has message id, without
// falling back to English: a surface offers a language when its catalogue
// has that surface's messages.
func (b *Bundle) Defines(lang, id string) bool {
	c := b.catalogues[lang]
	if c == nil {
		return false
	}
	_, ok := c.messages[id]
	return ok
}

// Printer returns the printer of lang, or of Fallback if lang has no
// catalogue.
func (b *Bundle) Printer(lang string) *Printer {
	c := b.catalogues[lang]
	if c == nil {
		c = b.catalogues[Fallback]
	}
	return &Printer{c: c, en: b.catalogues[Fallback]}
}

// Printer writes the messages of one language.
type Printer struct {
	c, en *catalogue
}

// Lang is the printer's language.
func (p *Printer) Lang() string { return p.c.lang }

// Tag is the printer's language as a BCP 47 tag, for the lang attribute.
func (p *Printer) Tag() string {
	if p.c.lang == "pt" {
		return "pt-PT"
	}
	return p.c.lang
}

func (p *Printer) lookup(id string) (message, *catalogue, bool) {
	if m, ok := p.c.messages[id]; ok {
		return m, p.c, true
	}
	if m, ok := p.en.messages[id]; ok {
		return m, p.en, true
	}
	return message{}, nil, false
}

// T returns message id with its placeholders filled from args, which
// alternate a placeholder's name and its value, like slog's attributes. A
// message this language lacks comes in English; an unknown id comes back
// as the id itself, so it shows on the page instead of nothing.
func (p *Printer) T(id string, args ...any) string {
	m, _, ok := p.lookup(id)
	if !ok {
		return id
	}
	text := m.text
	if m.plural != nil {
		text = m.plural[Other]
	}
	return substitute(text, p.values(args))
}

// N returns the form of message id that fits n in the printer's language,
// with the placeholder {count} set to n written as a number of that
// language and the others filled from args as for T.
func (p *Printer) N(id string, n int, args ...any) string {
	m, c, ok := p.lookup(id)
	if !ok {
		return id
	}
	vals := p.values(args)
	vals["count"] = p.Number(n)
	if m.plural == nil {
		return substitute(m.text, vals)
	}
	return substitute(m.plural[c.rule.category(count(n))], vals)
}

func (p *Printer) values(args []any) map[string]string {
	vals := make(map[string]string, len(args)/2+1)
	for i := 0; i+1 < len(args); i += 2 {
		name, ok := args[i].(string)
		if !ok {
			continue
		}
		vals[name] = fmt.Sprint(args[i+1])
	}
	return vals
}

// Number writes n with the thousands separator of the printer's language.
func (p *Printer) Number(n int) string {
	digits := strconv.FormatUint(count(n), 10)
	sign := ""
	if n < 0 {
		sign = "-"
	}
	sep := p.T("number.group")
	minGroup, _ := strconv.Atoi(p.T("number.min_grouping"))
	if minGroup < 1 {
		minGroup = 1
	}
	if len(digits) < 3+minGroup || sep == "number.group" {
		return sign + digits
	}
	var sb strings.Builder
	sb.WriteString(sign)
	head := len(digits) % 3
	if head == 0 {
		head = 3
	}
	sb.WriteString(digits[:head])
	for i := head; i < len(digits); i += 3 {
		sb.WriteString(sep)
		sb.WriteString(digits[i : i+3])
	}
	return sb.String()
}

// substitute replaces each placeholder of text whose name vals holds, in
// one pass, so a value is never read for placeholders. A placeholder with
// no value stays as written, which shows the mistake on the page.
func substitute(text string, vals map[string]string) string {
	if !strings.Contains(text, "{") {
		return text
	}
	var sb strings.Builder
	for i := 0; i < len(text); {
		if text[i] == '{' {
			if end := placeholderEnd(text[i:]); end > 0 {
				if v, ok := vals[text[i+1:i+end-1]]; ok {
					sb.WriteString(v)
					i += end
					continue
				}
			}
		}
		sb.WriteByte(text[i])
		i++
	}
	return sb.String()
}

// placeholderEnd returns the length of the placeholder at the start of s,
// or 0 if s does not start with one.
func placeholderEnd(s string) int {
	if len(s) < 3 || s[0] != '{' || s[1] < 'a' || s[1] > 'z' {
		return 0
	}
	for i := 2; i < len(s) && i <= 64; i++ {
		switch c := s[i]; {
		case c == '}':
			return i + 1
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return 0
		}
	}
	return 0
}

// placeholders lists the placeholder names of text, sorted and unique.
func placeholders(text string) ([]string, error) {
	var names []string
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		end := placeholderEnd(text[i:])
		if end == 0 {
			// A brace closed before any space was meant as a placeholder
			// but is not one ({Name}, {user-name}): say so rather than
			// print it literally.
			if j := strings.IndexAny(text[i+1:], "} \t\n{"); j >= 0 && text[i+1+j] == '}' {
				return nil, fmt.Errorf("%w: %q", ErrBadPlaceholder, text[i:i+2+j])
			}
			continue
		}
		names = append(names, text[i+1:i+end-1])
		i += end - 1
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
