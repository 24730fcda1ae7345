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

// The portal's logo (also its favicon) and the EU emblem its co-funding
// statement stands beside.
//
//go:embed static/logo.svg
var logoSVG []byte

//go:embed static/eu.svg
var euSVG []byte

// pages are the HTML pages; each is the layout with its own "content".
var pages = []string{"home", "gallery", "resource", "services", "service", "news", "post", "directory", "help", "error", "text",
	"sid", "events", "event", "archive", "bulletins", "bulletin", "bulletinstep"}

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

// staticFiles are the stylesheet and the images under content-hashed
// names, so they can be cached for a year and still change with a release.
type staticFiles struct {
	cssPath, logoPath, euPath string
	byPath                    map[string]staticFile
}

type staticFile struct {
	ctype string
	body  []byte
}

func loadStatic() staticFiles {
	named := func(name, ext string, body []byte) string {
		sum := sha256.Sum256(body)
		return "/static/" + name + "." + hex.EncodeToString(sum[:6]) + ext
	}
	s := staticFiles{cssPath: named("portal", ".css", portalCSS), logoPath: named("logo", ".svg", logoSVG), euPath: named("eu", ".svg", euSVG)}
	s.byPath = map[string]staticFile{
		s.cssPath:  {"text/css; charset=utf-8", portalCSS},
		s.logoPath: {"image/svg+xml", logoSVG},
		s.euPath:   {"image/svg+xml", euSVG},
	}
	return s
}

// templateFuncs are the few functions templates call: helpOf pairs the
// view (for its text) with one country's help, for "countryhelp"; eventOf
// with one event, for "eventcard".
var templateFuncs = template.FuncMap{
	// subscribeData pairs the view with the bulletin's subscription form,
	// for "subscribe".
	"subscribeData": func(v *view, f *bulletinForm) subscribeView { return subscribeView{v, f} },
	"helpOf": func(v *view, c any) helpItem {
		switch c := c.(type) {
		case *countryHelp:
			return helpItem{v, c}
		case countryHelp:
			return helpItem{v, &c}
		}
		return helpItem{V: v}
	},
	"eventOf": func(v *view, e eventView) eventItem { return eventItem{v, e} },
}

// eventItem is the data of "eventcard".
type eventItem struct {
	V *view
	E eventView
}

// helpItem is the data of "countryhelp".
type helpItem struct {
	V *view
	C *countryHelp
}

type subscribeView struct {
	V *view
	F *bulletinForm
}
