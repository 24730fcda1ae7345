package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/portal.css
var portalCSS []byte

// pages are the HTML pages; each is the layout with its own "content".
var pages = []string{"home", "gallery", "resource", "services", "news", "post", "directory", "help", "error"}

type templates struct{ byName map[string]*template.Template }

func parseTemplates() (*templates, error) {
	layout, err := template.New("layout").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	t := &templates{byName: make(map[string]*template.Template)}
	for _, name := range pages {
		c, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		src, err := fs.ReadFile(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		if _, err := c.Parse(string(src)); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		t.byName[name] = c
	}
	return t, nil
}

func (t *templates) render(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(32 << 10)
	if err := t.byName[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// staticFiles is the stylesheet under a content-hashed name, so it can be
// cached for a year and still change with a release.
type staticFiles struct {
	cssPath string
	css     []byte
}

func loadStatic() staticFiles {
	sum := sha256.Sum256(portalCSS)
	return staticFiles{cssPath: "/static/portal." + hex.EncodeToString(sum[:6]) + ".css", css: portalCSS}
}

// templateFuncs are the few functions templates call: helpOf pairs the
// view (for its text) with one country's help, for "countryhelp".
var templateFuncs = template.FuncMap{
	"helpOf": func(v *view, c any) helpItem {
		switch c := c.(type) {
		case *countryHelp:
			return helpItem{v, c}
		case countryHelp:
			return helpItem{v, &c}
		}
		return helpItem{V: v}
	},
}

// helpItem is the data of "countryhelp".
type helpItem struct {
	V *view
	C *countryHelp
}
