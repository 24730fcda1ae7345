package locale

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n/template"
)

// Parser reads our {name} placeholders for go-i18n, in place of its Go
// templates: catalogues are written by translators, not programmers, and
// a value put into a message must never be read as template code.
type Parser struct{}

var _ template.Parser = Parser{}

// Cacheable says go-i18n may keep a parsed message: parsing depends on
// nothing but the text.
func (Parser) Cacheable() bool { return true }

// Parse splits src into literal text and placeholders. The delimiters are
// Go template's and mean nothing here.
func (Parser) Parse(src, _, _ string) (template.ParsedTemplate, error) {
	if _, err := placeholders(src); err != nil {
		return nil, err
	}
	return parseText(src), nil
}

// Text is a parsed message: literal text between placeholders.
type Text struct {
	src   string
	parts []textPart
}

// textPart is literal text followed by a placeholder, named without its
// braces; name is "" after the last placeholder.
type textPart struct {
	lit, name string
}

var _ template.ParsedTemplate = (*Text)(nil)

func parseText(src string) *Text {
	t := &Text{src: src}
	lit := 0
	for i := 0; i < len(src); i++ {
		if src[i] != '{' {
			continue
		}
		end := placeholderEnd(src[i:])
		if end == 0 {
			continue
		}
		t.parts = append(t.parts, textPart{lit: src[lit:i], name: src[i+1 : i+end-1]})
		i += end - 1
		lit = i + 1
	}
	if lit < len(src) {
		t.parts = append(t.parts, textPart{lit: src[lit:]})
	}
	return t
}

// Execute fills the placeholders from data: a map[string]string or
// map[string]any, or the name–value pairs of Printer.T. A placeholder
// without a value stays as written, which shows the mistake on the page.
func (t *Text) Execute(data any) (string, error) {
	switch d := data.(type) {
	case nil:
		return t.src, nil
	case map[string]string:
		return t.fill(func(name string) (string, bool) { v, ok := d[name]; return v, ok }), nil
	case map[string]any:
		return t.fill(func(name string) (string, bool) {
			v, ok := d[name]
			if !ok {
				return "", false
			}
			return text(v), true
		}), nil
	case pairs:
		return t.fill(d.get), nil
	}
	return "", fmt.Errorf("locale: template data is %T, want a map or pairs", data)
}

func (t *Text) hasPlaceholders() bool {
	return len(t.parts) > 0 && (len(t.parts) > 1 || t.parts[0].name != "")
}

// fill writes the text in one pass, so a value is never read for
// placeholders.
func (t *Text) fill(value func(string) (string, bool)) string {
	if !t.hasPlaceholders() {
		return t.src
	}
	var sb strings.Builder
	sb.Grow(len(t.src) + 16)
	for _, p := range t.parts {
		sb.WriteString(p.lit)
		if p.name == "" {
			continue
		}
		if v, ok := value(p.name); ok {
			sb.WriteString(v)
		} else {
			sb.WriteString("{" + p.name + "}")
		}
	}
	return sb.String()
}

// pairs are placeholder names and values, alternating, as Printer.T takes
// them, like slog's attributes. A later pair wins over an earlier one of
// the same name; a name that is not a string, and a last name without a
// value, are ignored.
type pairs []any

func (ps pairs) get(name string) (string, bool) {
	for i := len(ps) - len(ps)%2 - 2; i >= 0; i -= 2 {
		if n, ok := ps[i].(string); ok && n == name {
			return text(ps[i+1]), true
		}
	}
	return "", false
}

func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(v)
}
