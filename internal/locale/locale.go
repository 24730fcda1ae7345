package locale

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Fallback is the language of the reference catalogue, shown when nothing
// else fits and for any message a catalogue lacks.
const Fallback = "en"

// TopLevel names the part held by the top-level <lang>.json files, which
// every surface uses.
const TopLevel = ""

var (
	ErrNoFallback      = errors.New("no catalogue for the fallback language")
	ErrUnknownLanguage = errors.New("not an interface language")
	ErrBadCatalogue    = errors.New("malformed catalogue")
	ErrBadPlaceholder  = errors.New("malformed placeholder")
)

// The catalogues of one language may be split over several files: the
// top-level <lang>.json and <part>/<lang>.json for each part of the
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

// i18nMessage is m as go-i18n holds it.
func (m message) i18nMessage(id string) *i18n.Message {
	if m.plural == nil {
		return &i18n.Message{ID: id, Other: m.text}
	}
	p := m.plural
	return &i18n.Message{ID: id, Zero: p[Zero], One: p[One], Two: p[Two], Few: p[Few], Many: p[Many], Other: p[Other]}
}

// catalogue is every file of one language, as read.
type catalogue struct {
	Language
	tag      language.Tag
	messages map[string]message
	files    map[string]string   // id → the file that gives it
	parts    map[string][]string // part → the ids of its file
}

// entry is a message as a printer writes it, parsed at load time.
type entry struct {
	forms  map[string]*Text // by plural category; Other alone if not plural
	plural bool
	from   *compiled // the language whose text this is: English for a message a catalogue lacks
}

// compiled is one language ready to print. A message that is plain text
// (no placeholders, no plural forms) is resolved at load time, with
// English standing in for any the language lacks, so that writing it is
// one map lookup.
type compiled struct {
	lang      Language
	plain     map[string]string
	rich      map[string]*entry
	rule      *pluralRule
	localizer *i18n.Localizer
	group     string // the thousands separator, "" for none
	minGroup  int    // the fewest digits before a number is grouped
	printer   *Printer
}

// store is what Load reads, shared by a bundle and its views.
type store struct {
	i18n       *i18n.Bundle
	catalogues map[string]*catalogue
	compiled   map[string]*compiled
}

// Bundle holds the catalogues of every language. It is read-only after
// Load and safe for concurrent use. A bundle offers languages (Languages,
// Has, Match, FromRequest, Printer); For makes a view of it that offers
// only the languages a surface's parts are complete in.
type Bundle struct {
	s       *store
	langs   []string // offered, in interface order, Fallback first
	offered map[string]bool
	tags    []language.Tag
	matcher language.Matcher
}

// Load reads the catalogues embedded in the binary.
//
// The catalogues are read once per process and shared: a bundle is
// read-only, and the 28 languages take tens of megabytes, which the
// console and the portal of a hub, or the workspace and the emails of a
// node, would otherwise each hold.
func Load() (*Bundle, error) {
	loaded.once.Do(func() {
		sub, err := fs.Sub(embedded, "catalogues")
		if err != nil {
			loaded.err = fmt.Errorf("load catalogues: %w", err)
			return
		}
		loaded.b, loaded.err = LoadFS(sub)
	})
	return loaded.b, loaded.err
}

var loaded struct {
	once sync.Once
	b    *Bundle
	err  error
}

// LoadFS reads every *.json file at the top of fsys, and in its
// directories one level down, as (part of) the catalogue of the language
// its name gives, which must be an interface language. An id given twice
// for one language is an error, and so is a plural message whose forms are
// not those of its language's CLDR rule.
func LoadFS(fsys fs.FS) (*Bundle, error) {
	files, err := catalogueFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("load catalogues: %w", err)
	}
	s := &store{
		i18n:       i18n.NewBundle(language.English),
		catalogues: make(map[string]*catalogue),
		compiled:   make(map[string]*compiled),
	}
	for _, name := range files {
		if err := s.read(fsys, name); err != nil {
			return nil, fmt.Errorf("load catalogue %s: %w", name, err)
		}
	}
	if s.catalogues[Fallback] == nil {
		return nil, ErrNoFallback
	}
	for _, l := range interfaceLanguages {
		c := s.catalogues[l.code]
		if c == nil {
			continue
		}
		if err := s.compile(c); err != nil {
			return nil, fmt.Errorf("load catalogues: %s: %w", l.code, err)
		}
	}
	var langs []string
	for _, l := range interfaceLanguages {
		if s.catalogues[l.code] != nil {
			langs = append(langs, l.code)
		}
	}
	return s.offer(langs), nil
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

// partOf is the part a catalogue file belongs to.
func partOf(name string) string {
	if dir := path.Dir(name); dir != "." {
		return dir
	}
	return TopLevel
}

// read adds the catalogue file name to its language.
func (s *store) read(fsys fs.FS, name string) error {
	code := strings.TrimSuffix(path.Base(name), ".json")
	l, ok := LanguageOf(code)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownLanguage, code)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	var msgs map[string]message
	if err := json.Unmarshal(data, &msgs); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCatalogue, err)
	}
	c := s.catalogues[code]
	if c == nil {
		c = &catalogue{Language: l, tag: language.Make(l.Tag), messages: make(map[string]message),
			files: make(map[string]string), parts: make(map[string][]string)}
		s.catalogues[code] = c
		if err := s.i18n.AddMessages(c.tag, probe); err != nil {
			return err
		}
	}
	part := partOf(name)
	ims := make([]*i18n.Message, 0, len(msgs))
	for id, m := range msgs {
		if _, dup := c.messages[id]; dup {
			return fmt.Errorf("%w: %s is given twice", ErrBadCatalogue, id)
		}
		for cat, text := range m.plural {
			if !slices.Contains(categoryOrder[:], cat) {
				return fmt.Errorf("%w: %s: %q is not a plural category", ErrBadCatalogue, id, cat)
			}
			if _, err := placeholders(text); err != nil {
				return fmt.Errorf("%s.%s: %w", id, cat, err)
			}
		}
		if m.plural == nil {
			if _, err := placeholders(m.text); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		c.messages[id] = m
		c.files[id] = name
		c.parts[part] = append(c.parts[part], id)
		ims = append(ims, m.i18nMessage(id))
	}
	return s.i18n.AddMessages(c.tag, ims...)
}

// compile readies c to print, English first: a message c lacks is
// English's entry.
func (s *store) compile(c *catalogue) error {
	loc := i18n.NewLocalizer(s.i18n, c.Tag)
	rule, err := newPluralRule(loc)
	if err != nil {
		return err
	}
	cc := &compiled{lang: c.Language, rule: rule, localizer: loc,
		plain: make(map[string]string), rich: make(map[string]*entry)}
	for id, m := range c.messages {
		if m.plural == nil {
			if !strings.Contains(m.text, "{") {
				cc.plain[id] = m.text
				continue
			}
			if t := parseText(m.text); t.hasPlaceholders() {
				cc.rich[id] = &entry{forms: map[string]*Text{Other: t}, from: cc}
				continue
			}
			cc.plain[id] = m.text
			continue
		}
		for _, cat := range rule.categories {
			if _, ok := m.plural[cat]; !ok {
				return fmt.Errorf("%w: %s: %s: plural category %q missing", ErrBadCatalogue, c.files[id], id, cat)
			}
		}
		e := &entry{forms: make(map[string]*Text, len(m.plural)), plural: true, from: cc}
		for cat, text := range m.plural {
			if !slices.Contains(rule.categories, cat) {
				return fmt.Errorf("%w: %s: %s: plural category %q is not one of %s's %v",
					ErrBadCatalogue, c.files[id], id, cat, c.Code, rule.categories)
			}
			e.forms[cat] = parseText(text)
		}
		cc.rich[id] = e
	}
	if en := s.compiled[Fallback]; en != nil {
		for id, text := range en.plain {
			if _, ok := c.messages[id]; !ok {
				cc.plain[id] = text
			}
		}
		for id, e := range en.rich {
			if _, ok := c.messages[id]; !ok {
				cc.rich[id] = e
			}
		}
	}
	cc.group = cc.plain["number.group"]
	cc.minGroup, _ = strconv.Atoi(cc.plain["number.min_grouping"])
	cc.minGroup = max(cc.minGroup, 1)
	cc.printer = &Printer{c: cc}
	s.compiled[c.Code] = cc
	return nil
}

// offer makes the bundle that offers langs, a subset of the loaded ones
// in interface order.
func (s *store) offer(langs []string) *Bundle {
	b := &Bundle{s: s, langs: langs, offered: make(map[string]bool, len(langs))}
	for _, lang := range langs {
		b.offered[lang] = true
		b.tags = append(b.tags, s.catalogues[lang].tag)
	}
	b.matcher = language.NewMatcher(b.tags)
	return b
}

// Languages lists the languages the bundle offers, Fallback first.
func (b *Bundle) Languages() []string { return slices.Clone(b.langs) }

// Has reports whether the bundle offers lang.
func (b *Bundle) Has(lang string) bool { return b.offered[lang] }

// LanguagesOf lists the languages complete for the given parts and the top
// level, in interface order: those whose catalogues hold every message
// English has in each of them. A surface offers only these, so that no
// page of it is half in English.
func (b *Bundle) LanguagesOf(parts ...string) []string {
	en := b.s.catalogues[Fallback]
	var out []string
	for _, lang := range b.langs {
		c := b.s.catalogues[lang]
		complete := true
		for _, part := range append([]string{TopLevel}, parts...) {
			for _, id := range en.parts[part] {
				if _, ok := c.messages[id]; !ok {
					complete = false
					break
				}
			}
			if !complete {
				break
			}
		}
		if complete {
			out = append(out, lang)
		}
	}
	return out
}

// For returns the view of b that a surface showing the given parts (and
// the top level) uses: it offers only LanguagesOf(parts...), and its
// Printer of any other language is English's.
func (b *Bundle) For(parts ...string) *Bundle {
	return b.s.offer(b.LanguagesOf(parts...))
}

// Printer returns the printer of lang, or of Fallback if the bundle does
// not offer lang.
func (b *Bundle) Printer(lang string) *Printer {
	if !b.offered[lang] {
		lang = Fallback
	}
	return b.s.compiled[lang].printer
}

// Printer writes the messages of one language.
type Printer struct {
	c *compiled
}

// Lang is the printer's language code.
func (p *Printer) Lang() string { return p.c.lang.Code }

// Tag is the printer's language as a BCP 47 tag, for the lang attribute.
func (p *Printer) Tag() string { return p.c.lang.Tag }

// Name is the printer's language named in itself, for a language chooser.
func (p *Printer) Name() string { return p.c.lang.Name }

// names remembers language names in each interface language: CLDR's
// namer is costly to build and a form lists dozens. Keys are bounded by the
// tags CLDR knows (see LanguageName).
var names sync.Map // "lang|tag" → string

// LanguageName is the name of the language tag in the printer's language,
// from CLDR ("Finnish" in English, "finnois" in French), or tag itself
// when CLDR has none.
func (p *Printer) LanguageName(tag string) string {
	key := p.c.lang.Code + "|" + tag
	if v, ok := names.Load(key); ok {
		return v.(string)
	}
	name := tag
	if t, err := language.Parse(tag); err == nil {
		if n := display.Tags(language.Make(p.c.lang.Tag)).Name(t); n != "" {
			name = n
		}
		if len(tag) <= 35 {
			names.Store(key, name)
		}
	}
	return name
}

// T returns message id with its placeholders filled from args, which
// alternate a placeholder's name and its value, like slog's attributes. A
// message this language lacks comes in English; an unknown id comes back
// as the id itself, so it shows on the page instead of nothing.
func (p *Printer) T(id string, args ...any) string {
	if text, ok := p.c.plain[id]; ok {
		return text
	}
	e, ok := p.c.rich[id]
	if !ok {
		return id
	}
	form := e.forms[Other]
	if len(args) == 0 {
		return form.src
	}
	return form.fill(pairs(args).get)
}

// N returns the form of message id that fits n in the printer's language,
// by go-i18n's CLDR rule of the language whose text it is, with the
// placeholder {count} set to n written as a number of that language and
// the others filled from args as for T.
func (p *Printer) N(id string, n int, args ...any) string {
	if text, ok := p.c.plain[id]; ok {
		return text
	}
	e, ok := p.c.rich[id]
	if !ok {
		return id
	}
	vals := make(pairs, 0, len(args)+2)
	vals = append(vals, args...)
	if len(vals)%2 == 1 {
		vals = vals[:len(vals)-1]
	}
	vals = append(vals, "count", p.Number(n))
	if !e.plural {
		return e.forms[Other].fill(vals.get)
	}
	c := count(n)
	if c < tableSize {
		return e.forms[e.from.rule.table[c]].fill(vals.get)
	}
	// A large count asks go-i18n, which picks the form by the rule of the
	// language that has the message and fills it with our Parser.
	text, err := p.c.localizer.Localize(&i18n.LocalizeConfig{MessageID: id,
		PluralCount: strconv.FormatUint(c, 10), TemplateData: vals, TemplateParser: Parser{}})
	var notFound *i18n.MessageNotFoundErr
	if err != nil && !errors.As(err, &notFound) {
		return e.forms[Other].fill(vals.get)
	}
	return text
}

// Number writes n with the thousands separator of the printer's language.
func (p *Printer) Number(n int) string {
	digits := strconv.FormatUint(count(n), 10)
	sign := ""
	if n < 0 {
		sign = "-"
	}
	if len(digits) < 3+p.c.minGroup || p.c.group == "" {
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
		sb.WriteString(p.c.group)
		sb.WriteString(digits[i : i+3])
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
