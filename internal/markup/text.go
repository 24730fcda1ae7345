package markup

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Text is the plain text of a member's Markdown, for the search index:
// the words a reader sees, without markup, one block a line. Raw HTML
// counts as the text it is shown as. A source longer than MaxSize is
// read up to MaxSize; one Render would refuse as too complex is returned
// as it is. The result is not HTML-escaped.
func Text(src string) string {
	src = clip(src)
	if precheck(src) != nil {
		// Too costly to parse: the source itself is the best text there is.
		return strings.TrimSpace(src)
	}
	source := []byte(src)
	doc := shared().md.Parser().Parse(text.NewReader(source))
	var b strings.Builder
	writeText(&b, doc, source)
	lines := strings.Split(b.String(), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimRightFunc(l, unicode.IsSpace); strings.TrimSpace(l) != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// Excerpt is the start of a member's Markdown as plain text of at most n
// characters (runes), for lists, digests and search results. Whitespace is
// collapsed, the cut falls between words, and a cut text ends in "…",
// which counts towards n. The result is not HTML-escaped.
func Excerpt(src string, n int) string {
	if n <= 0 {
		return ""
	}
	words := strings.Fields(Text(src))
	whole := strings.Join(words, " ")
	if utf8.RuneCountInString(whole) <= n {
		return whole
	}
	// Room for the ellipsis: the kept text has at most n-1 runes.
	limit := n - 1
	var b strings.Builder
	runes := 0
	for _, w := range words {
		sep := 0
		if b.Len() > 0 {
			sep = 1
		}
		wn := utf8.RuneCountInString(w)
		if runes+sep+wn > limit {
			if b.Len() == 0 {
				// One word longer than the excerpt: cut inside it rather
				// than show nothing.
				b.WriteString(string([]rune(w)[:limit]))
			}
			break
		}
		if sep == 1 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		runes += sep + wn
	}
	kept := strings.TrimRightFunc(b.String(), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' && r != '»'
	})
	return kept + "…"
}

// clip cuts src to at most MaxSize bytes on a rune boundary.
func clip(src string) string {
	if len(src) <= MaxSize {
		return src
	}
	cut := MaxSize
	for cut > 0 && !utf8.RuneStart(src[cut]) {
		cut--
	}
	return src[:cut]
}

// plainText is the text inside an inline node, as the alternative text of
// an image or a refused link shows it.
func plainText(n ast.Node, source []byte) string {
	var b strings.Builder
	writeText(&b, n, source)
	return strings.TrimSpace(strings.Join(strings.Fields(b.String()), " "))
}

// writeText writes the text below n; blocks end with a newline so their
// words do not run together.
func writeText(b *strings.Builder, n ast.Node, source []byte) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Value(source)
		if !n.IsRaw() {
			v = resolve(v)
		}
		b.Write(v)
		if n.HardLineBreak() || n.SoftLineBreak() {
			b.WriteByte('\n')
		}
		return
	case *ast.String:
		b.Write(n.Value)
		return
	case *ast.AutoLink:
		b.Write(n.Label(source))
		return
	case *ast.RawHTML:
		for i := range n.Segments.Len() {
			seg := n.Segments.At(i)
			b.Write(seg.Value(source))
		}
		return
	case *extast.TaskCheckBox:
		return
	case *ast.CodeBlock, *ast.FencedCodeBlock, *ast.HTMLBlock:
		lines := n.Lines()
		for i := range lines.Len() {
			line := lines.At(i)
			b.Write(line.Value(source))
		}
		if h, ok := n.(*ast.HTMLBlock); ok && h.HasClosure() {
			b.Write(h.ClosureLine.Value(source))
		}
		b.WriteByte('\n')
		return
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		writeText(b, c, source)
	}
	switch n.Kind() {
	case extast.KindTableCell:
		b.WriteByte('\t')
	default:
		if n.Type() == ast.TypeBlock {
			b.WriteByte('\n')
		}
	}
}

// resolve turns backslash escapes and character references into the
// characters they stand for, as the HTML renderer does.
func resolve(v []byte) []byte {
	v = util.UnescapePunctuations(v)
	v = util.ResolveNumericReferences(v)
	return util.ResolveEntityNames(v)
}
