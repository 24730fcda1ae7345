package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
)

// contentSecurityPolicy allows the page nothing but its own style sheet,
// images, forms and external scripts, which may only call back to the
// site (passkeys, upload progress): no inline script or style, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Renderer renders one set of pages into the site's layout.
type Renderer struct {
	site *Site
	// pages holds, per page and per language, the page parsed with the
	// layout and bound to that language's messages, all made at start.
	pages map[string]map[string]*template.Template
}

// View is what a page's template sees.
type View struct {
	Lang      string // BCP 47 tag, for the html element
	Product   string
	Home      string
	CSS       string
	Nav       []NavView
	Member    *account.Member
	FormToken string
	FormField string
	SignOut   string
	Languages []LanguageLink
	// Scripts are the site's external scripts, loaded deferred; every page
	// works without them.
	Scripts []string
	// Data is the page's own.
	Data any
}

// NavView is one menu entry as shown.
type NavView struct {
	Href, Label string
	// Badge is the NavItem's badge text, "" for none.
	Badge   string
	Current bool
}

// LanguageLink switches the page to another language.
type LanguageLink struct {
	Tag, Name, Href string
	Current         bool
}

func funcs(p *locale.Printer) template.FuncMap {
	return template.FuncMap{
		"t":        p.T,
		"n":        p.N,
		"in":       p.In,
		"ago":      p.Ago,
		"datetime": p.DateTime,
		"date":     p.Date,
		"int":      func(v int64) int { return int(v) },
		// since and until word how far a time is from now: "3 minutes
		// ago", "in 2 days".
		"since": func(t time.Time) string { return p.Ago(time.Since(t)) },
		"until": func(t time.Time) string { return p.In(time.Until(t)) },
	}
}

// Renderer parses the pages in fsys that match patterns (such as
// "templates/*.html"), each with the layout; a page is named by its file's
// base name without ".html".
func (s *Site) Renderer(fsys fs.FS, patterns ...string) (*Renderer, error) {
	rd := &Renderer{site: s, pages: make(map[string]map[string]*template.Template)}
	var files []string
	for _, p := range patterns {
		m, err := fs.Glob(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("web: pages %q: %w", p, err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("web: no pages match %q", patterns)
	}
	fallback := s.bundle.Printer(locale.Fallback)
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		base, err := template.New("layout").Funcs(funcs(fallback)).ParseFS(templateFiles, "templates/layout.html")
		if err != nil {
			return nil, fmt.Errorf("web: layout: %w", err)
		}
		if base, err = base.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("web: page %s: %w", f, err)
		}
		rd.pages[name] = make(map[string]*template.Template)
		for _, lang := range s.bundle.Languages() {
			c, err := base.Clone()
			if err != nil {
				return nil, fmt.Errorf("web: page %s: %w", f, err)
			}
			rd.pages[name][lang] = c.Funcs(funcs(s.bundle.Printer(lang)))
		}
	}
	return rd, nil
}

// Render writes page with status, its menu entry of Section "" marked
// as none.
func (rd *Renderer) Render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	rd.RenderIn(w, r, status, page, "", data)
}

// RenderIn writes page with status, marking the menu entry of section as
// the current one. The page is written whole or not at all: a template that
// fails gives the error page, not half a page.
func (rd *Renderer) RenderIn(w http.ResponseWriter, r *http.Request, status int, page, section string, data any) {
	s := rd.site
	p := s.printer(r)
	t := rd.pages[page][p.Lang()]
	if t == nil {
		s.log.Error("render: no such page", "page", page, "lang", p.Lang())
		s.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	v := View{Lang: p.Tag(), Product: s.cfg.Product, Home: s.cfg.Home, CSS: s.CSSURL(),
		FormField: FormField, SignOut: s.cfg.SignOut, Data: data, Languages: s.languages(r, p.Lang()),
		Scripts: s.scripts}
	if m, ok := Member(r); ok {
		v.Member = &m
		v.FormToken = s.FormToken(r)
		for _, n := range s.cfg.Nav {
			if len(n.Roles) > 0 && !m.HasAnyRole(n.Roles...) {
				continue
			}
			nv := NavView{Href: n.Href, Label: p.T(n.Label), Current: section != "" && n.Section == section}
			if n.Badge != nil {
				nv.Badge = n.Badge(r)
			}
			v.Nav = append(v.Nav, nv)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("render", "page", page, "err", err)
		if page != "error" {
			s.Error(w, r, http.StatusInternalServerError, "")
		} else {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Language", p.Tag())
	// Pages show a member's own data and carry their form token: no cache
	// may keep them, and the back button after sign-out must not show one.
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Links in invitations and resets carry their token in the address;
	// no other site may see it.
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// printer is the request's language, or, outside the Locale middleware,
// the best match for Accept-Language.
func (s *Site) printer(r *http.Request) *locale.Printer {
	if p := Printer(r); p != nil {
		return p
	}
	return s.bundle.Printer(s.bundle.Match(r.Header.Get("Accept-Language")))
}

func (s *Site) languages(r *http.Request, current string) []LanguageLink {
	var out []LanguageLink
	for _, lang := range s.bundle.Languages() {
		q := r.URL.Query()
		// A form's token may be in the address (a streamed upload's
		// action); links must not carry it on.
		q.Del(FormField)
		q.Set("lang", lang)
		p := s.bundle.Printer(lang)
		out = append(out, LanguageLink{Tag: p.Tag(), Name: p.Name(),
			Href: r.URL.Path + "?" + q.Encode(), Current: lang == current})
	}
	return out
}
