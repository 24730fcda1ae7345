package markup

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

const (
	// MaxSize is the longest source Render accepts, in bytes: a long blog
	// post is a few thousand words, and the bound keeps a single render
	// cheap whatever the text is.
	MaxSize = 64 << 10
	// MaxDepth is how deeply blocks and inline spans may nest, every level
	// counted (a quote in a list item in a quote, its paragraph, emphasis
	// in it…). Real posts stay below ten; browsers and screen readers
	// struggle long before thousands.
	MaxDepth = 32
	// MaxOutput bounds the rendered HTML. Reference links and padded table
	// cells let a short source expand many times over; this caps what one
	// render may store.
	MaxOutput = 16 * MaxSize
)

var (
	// ErrTooLong is returned for a source longer than MaxSize bytes.
	ErrTooLong = fmt.Errorf("markup: text longer than %d bytes", MaxSize)
	// ErrTooComplex is returned for a source that nests more than
	// MaxDepth levels deep, has a line longer than MaxLine bytes or a table
	// of more than MaxCells cells, or would render to more than MaxOutput
	// bytes.
	ErrTooComplex = errors.New("markup: text too complex: nested too deeply, a line or a table too long, or too large once rendered")
)

// filesURL matches the network's public attachment URLs as the blob store
// serves them: /files/<sha256>/<percent-encoded name>. A name that is only
// dots is refused so the path cannot climb out of /files/.
var filesURL = regexp.MustCompile(`^/files/[0-9a-f]{64}/(?:[A-Za-z0-9_~%!$&'()*+,;=:@-]|\.+[A-Za-z0-9_~%!$&'()*+,;=:@-])[A-Za-z0-9._~%!$&'()*+,;=:@-]*$`)

// attrText is the text a title or an image's description may hold: any,
// but control characters.
var attrText = regexp.MustCompile(`^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$`)

// linkRel is set on every link: members' links are not endorsed by the
// site (nofollow, ugc), and the page they lead to learns neither the
// referring post nor gets a handle on its window.
const linkRel = "nofollow ugc noopener noreferrer"

// converter holds the parser, renderer and policy, built on first use and
// read-only afterwards, so concurrent renders share them.
type converter struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

var shared = sync.OnceValue(newConverter)

func newConverter() *converter {
	md := goldmark.New(
		goldmark.WithExtensions(
			extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
			extension.Strikethrough,
			extension.Linkify,
			extension.TaskList,
		),
		goldmark.WithParserOptions(
			parser.WithASTTransformers(util.Prioritized(postTransformer{}, 1000)),
		),
		goldmark.WithRendererOptions(
			// Without html.WithUnsafe goldmark leaves out raw HTML and
			// dangerous destinations; nodeRenderer shows the HTML as text
			// instead, postTransformer turns links to other schemes into
			// their words, and the policy checks everything again.
			renderer.WithNodeRenderers(util.Prioritized(nodeRenderer{}, 100)),
		),
	)
	return &converter{md: md, policy: newPolicy()}
}

// newPolicy is the allow-list every rendered post passes through. It
// names exactly what the Markdown renderer produces, so anything else (a
// bug in a renderer, a trick that slips past the parser) is removed.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote",
		"ul", "ol", "li", "h2", "h3", "h4", "table", "thead", "tbody", "tr")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(?:left|center|right)$`)).OnElements("th", "td")
	p.AllowElements("th", "td")

	p.AllowAttrs("href").OnElements("a")
	// Titles and descriptions are quoted and escaped by the policy, so
	// any text is safe in them; bluemonday.Paragraph would drop every
	// description with a colon or question mark and leave images without
	// one.
	p.AllowAttrs("title").Matching(attrText).OnElements("a", "img")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + linkRel + `$`)).OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true)
	p.RequireParseableURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)

	p.AllowAttrs("src").Matching(filesURL).OnElements("img")
	p.AllowAttrs("alt").Matching(attrText).OnElements("img")
	p.AllowAttrs("loading").Matching(regexp.MustCompile(`^lazy$`)).OnElements("img")
	return p
}

// Render turns a member's Markdown into sanitised HTML, safe to store and
// to show as it is. It fails with ErrTooLong or ErrTooComplex, never with
// anything else.
func Render(src string) (template.HTML, error) {
	if len(src) > MaxSize {
		return "", fmt.Errorf("render %d bytes: %w", len(src), ErrTooLong)
	}
	if err := precheck(src); err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	c := shared()
	source := []byte(src)
	pc := parser.NewContext()
	doc := c.md.Parser().Parse(text.NewReader(source), parser.WithContext(pc))
	if pc.Get(expansionKey) != nil || depth(doc, 0) > MaxDepth {
		return "", fmt.Errorf("render: %w", ErrTooComplex)
	}
	var buf bytes.Buffer
	if err := c.md.Renderer().Render(&limitWriter{w: &buf, n: MaxOutput}, source, doc); err != nil {
		if errors.Is(err, errOutputFull) {
			return "", fmt.Errorf("render: %w", ErrTooComplex)
		}
		return "", fmt.Errorf("render: %w", err)
	}
	clean := c.policy.SanitizeBytes(buf.Bytes())
	return template.HTML(defuse.ReplaceAllFunc(clean, defuseMatch)), nil
}

// defuse finds the words that only matter inside markup, "javascript:"
// and an event attribute such as " onclick=", where they remain in text,
// titles or the query of an allowed address. Their last character is
// written as a character reference, which reads and resolves the same, so
// the stored HTML never contains them literally: a filter or a review
// that searches for them sees only real threats.
var defuse = regexp.MustCompile(`(?i)javascript:|\son[a-z]+=`)

func defuseMatch(m []byte) []byte {
	out := make([]byte, 0, len(m)+4)
	out = append(out, m[:len(m)-1]...)
	if m[len(m)-1] == ':' {
		return append(out, "&#58;"...)
	}
	return append(out, "&#61;"...)
}

// depth is the deepest nesting below n, stopping early once past MaxDepth
// so a bomb costs no more than a walk of its first MaxDepth levels per
// branch.
func depth(n ast.Node, d int) int {
	if d > MaxDepth {
		return d
	}
	deepest := d
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if cd := depth(c, d+1); cd > deepest {
			deepest = cd
			if deepest > MaxDepth {
				return deepest
			}
		}
	}
	return deepest
}

var errOutputFull = errors.New("output limit reached")

// limitWriter fails once more than n bytes were written; the renderer's
// buffered writer then stops writing, so an expansion bomb costs neither
// memory nor much time.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errOutputFull
	}
	l.n -= len(p)
	return l.w.Write(p)
}
