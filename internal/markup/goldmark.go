package markup

import (
	"net/url"
	"strings"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// postTransformer adapts the parsed document to the rules of a post
// before it is rendered: headings go one level down, links get their rel
// or, when their address is not allowed, become plain text.
type postTransformer struct{}

func (postTransformer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	source := reader.Source()
	// Link destinations and titles are repeated at every use of a
	// reference; their sum is checked before any per-link work.
	repeated := 0
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch n := n.(type) {
			case *ast.Link:
				repeated += len(n.Destination) + len(n.Title)
			case *ast.Image:
				repeated += len(n.Destination) + len(n.Title)
			}
		}
		if repeated > MaxOutput {
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if repeated > MaxOutput {
		pc.Set(expansionKey, true)
		return
	}
	var unwrap []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+1, 4)
		case *ast.Link:
			if allowedHref(n.Destination) {
				n.SetAttributeString("rel", []byte(linkRel))
			} else {
				unwrap = append(unwrap, n)
			}
		case *ast.AutoLink:
			if allowedHref(n.URL(source)) {
				n.SetAttributeString("rel", []byte(linkRel))
			} else {
				unwrap = append(unwrap, n)
			}
		}
		return ast.WalkContinue, nil
	})
	// Replacing nodes during the walk would cut it short; the refused
	// links are replaced afterwards, keeping what they said.
	for _, n := range unwrap {
		parent := n.Parent()
		if parent == nil {
			continue
		}
		if a, ok := n.(*ast.AutoLink); ok {
			parent.ReplaceChild(parent, a, ast.NewString(a.Label(source)))
			continue
		}
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
}

// allowedHref reports whether a link may point at dest: an http, https
// or mailto address, or a relative one. The destination is checked both
// as written and as the renderer will write it (entities resolved), so an
// encoded scheme cannot pass as a relative path.
func allowedHref(dest []byte) bool {
	for _, d := range [][]byte{dest, util.URLEscape(dest, true)} {
		u, err := url.Parse(string(d))
		if err != nil {
			return false
		}
		switch strings.ToLower(u.Scheme) {
		case "", "http", "https", "mailto":
		default:
			return false
		}
		if u.Scheme == "" && u.Opaque != "" {
			return false
		}
	}
	return true
}

// nodeRenderer overrides goldmark's HTML for the nodes whose default
// rendering does not fit a post: raw HTML is shown as the text the author
// typed, images outside the attachment store become their alternative
// text, and task list boxes are characters rather than form inputs.
type nodeRenderer struct{}

func (nodeRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(extast.KindTaskCheckBox, renderTaskCheckBox)
}

func renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	segs := node.(*ast.RawHTML).Segments
	for i := range segs.Len() {
		seg := segs.At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
	}
	return ast.WalkSkipChildren, nil
}

func renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.HTMLBlock)
	if !entering {
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString("<p>")
	lines := n.Lines()
	for i := range lines.Len() {
		line := lines.At(i)
		_, _ = w.Write(util.EscapeHTML(line.Value(source)))
	}
	if n.HasClosure() {
		_, _ = w.Write(util.EscapeHTML(n.ClosureLine.Value(source)))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func renderImage(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.Image)
	alt := util.EscapeHTML([]byte(plainText(n, source)))
	dest := util.URLEscape(n.Destination, true)
	if !filesURL.Match(dest) {
		_, _ = w.Write(alt)
		return ast.WalkSkipChildren, nil
	}
	_, _ = w.WriteString(`<img src="`)
	_, _ = w.Write(util.EscapeHTML(dest))
	_, _ = w.WriteString(`" alt="`)
	_, _ = w.Write(alt)
	_ = w.WriteByte('"')
	if n.Title != nil {
		_, _ = w.WriteString(` title="`)
		_, _ = w.Write(util.EscapeHTML(resolve(n.Title)))
		_ = w.WriteByte('"')
	}
	_, _ = w.WriteString(` loading="lazy">`)
	return ast.WalkSkipChildren, nil
}

func renderTaskCheckBox(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	if node.(*extast.TaskCheckBox).IsChecked {
		_, _ = w.WriteString("☑ ")
	} else {
		_, _ = w.WriteString("☐ ")
	}
	return ast.WalkContinue, nil
}
