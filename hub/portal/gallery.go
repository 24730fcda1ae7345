package portal

import (
	"bytes"
	"sync"
)

// The gallery is the page searched on every request its visitors make, so
// it is written by Go code: executing templates/gallery.html through
// html/template (reflection and an escaper call per action, some 900 actions
// for a page of 20 cards and the facets) cost several times the search
// itself. The templates stay the reference: TestPortal_GalleryMatchesTemplate
// renders the same data both ways and requires the same bytes, so a change
// to layout.html or gallery.html must be made here too.

// pageBuffers are the buffers pages are written in, kept between requests:
// a page is copied out at its own size, a fraction of the cost of growing
// and clearing a new buffer for each.
var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// galleryPage writes the gallery: layout.html around gallery.html's content.
func galleryPage(v *view, d *galleryData) []byte {
	buf := pageBuffers.Get().(*[]byte)
	// The writer is a local, not the pooled pointer, so that appending to
	// it stays on the stack, clear of the garbage collector's write barrier.
	w := htmlWriter{b: (*buf)[:0]}
	writeLayoutHead(&w, v)
	writeGallery(&w, v, d)
	writeLayoutFoot(&w, v)
	page := bytes.Clone(w.b)
	if cap(w.b) <= 256<<10 {
		*buf = w.b
		pageBuffers.Put(buf)
	}
	return page
}

// writeLayoutHead is templates/layout.html, for a view without JSON-LD, up
// to the page's "content".
func writeLayoutHead(w *htmlWriter, v *view) {
	w.raw("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
	w.text(v.Title)
	w.raw(" · ")
	w.text(v.SiteName)
	w.raw("</title>\n")
	if v.Description != "" {
		w.raw(`<meta name="description" content="`)
		w.text(v.Description)
		w.raw(`">`)
	}
	w.raw("\n<link rel=\"stylesheet\" href=\"")
	w.url(v.StaticCSS)
	w.raw("\">\n")
	if v.Canonical != "" {
		w.raw(`<link rel="canonical" href="`)
		w.url(v.Canonical)
		w.raw(`">`)
	}
	w.raw("\n")
	for _, a := range v.Alternates {
		w.raw(`<link rel="alternate" hreflang="`)
		w.text(a.Lang)
		w.raw(`" href="`)
		w.url(a.Href)
		w.raw("\">\n")
	}
	for _, f := range v.Feeds {
		w.raw(`<link rel="alternate" type="`)
		w.text(f.Type)
		w.raw(`" title="`)
		w.text(f.Title)
		w.raw(`" href="`)
		w.url(f.Href)
		w.raw("\">\n")
	}
	w.raw("\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to main content</a>\n<header class=\"top\">\n<div class=\"wrap bar\">\n<a class=\"brand\" href=\"")
	w.url(v.Home)
	w.raw(`">`)
	if v.Site != nil {
		w.text(v.Site.Name)
	} else {
		w.raw("Better Internet for Kids")
	}
	w.raw("</a>\n<a class=\"help\" href=\"")
	w.url(v.HelpURL)
	w.raw(`">Get help / report`)
	if v.HelpLocal != "" {
		w.raw(` <span lang="`)
		w.text(v.UILang)
		w.raw(`">· `)
		w.text(v.HelpLocal)
		w.raw("</span>")
	}
	w.raw("</a>\n</div>\n<nav class=\"wrap\" aria-label=\"Main\">\n<ul class=\"nav\">\n<li><a href=\"")
	w.url(v.Prefix)
	w.raw(`/resources"`)
	current := func(section string) {
		if v.Section == section {
			w.raw(` aria-current="page"`)
		}
	}
	current("resources")
	w.raw(">Resources</a></li>\n<li><a href=\"/services\"")
	current("services")
	w.raw(">Online services</a></li>\n<li><a href=\"/news\"")
	current("news")
	w.raw(">News</a></li>\n<li><a href=\"/directory\"")
	current("directory")
	w.raw(">Safer Internet Centres</a></li>\n")
	for _, m := range v.Minisites {
		w.raw(`<li><a href="/`)
		w.urlPart(m.ID)
		w.raw(`/"`)
		if v.Site != nil && v.Site.ID == m.ID {
			w.raw(` aria-current="page"`)
		}
		w.raw(">")
		w.text(m.Name)
		w.raw("</a></li>\n")
	}
	w.raw("</ul>\n</nav>\n</header>\n<main id=\"main\" class=\"wrap\" tabindex=\"-1\">\n")
}

// writeLayoutFoot is the rest of templates/layout.html, after "content".
func writeLayoutFoot(w *htmlWriter, v *view) {
	w.raw("\n</main>\n<footer class=\"foot\">\n<div class=\"wrap\">\n<p>The Better Internet for Kids portal brings together resources from the network of Safer Internet Centres in Europe and beyond.</p>\n<ul class=\"inline\">\n<li><a href=\"")
	w.url(v.Prefix)
	w.raw("/feed.atom\">Atom feed</a></li>\n<li><a href=\"")
	w.url(v.Prefix)
	w.raw("/feed.rss\">RSS feed</a></li>\n<li><a href=\"")
	w.url(v.Prefix)
	w.raw("/feed.json\">JSON Feed</a></li>\n<li><a href=\"/api/v1/resources\">JSON API</a></li>\n<li><a href=\"/oai?verb=Identify\">OAI-PMH</a></li>\n<li><a href=\"/sitemap.xml\">Sitemap</a></li>\n</ul>\n</div>\n</footer>\n</body>\n</html>\n")
}

// writeGallery is the "content" of templates/gallery.html.
func writeGallery(w *htmlWriter, v *view, d *galleryData) {
	w.raw("\n\n<h1>")
	w.text(v.Title)
	w.raw("</h1>\n<form class=\"search\" role=\"search\" action=\"")
	w.url(v.Prefix)
	w.raw("/resources\" method=\"get\">\n<label for=\"q\">")
	w.text(v.SearchLabel)
	w.raw("</label>\n<div class=\"row\"><input id=\"q\" name=\"q\" type=\"search\" value=\"")
	w.text(d.Text)
	w.raw("\" maxlength=\"200\" autocomplete=\"off\">\n")
	for _, h := range d.Hidden {
		w.raw(`<input type="hidden" name="`)
		w.text(h.Name)
		w.raw(`" value="`)
		w.text(h.Value)
		w.raw(`">`)
	}
	w.raw("\n<label class=\"sr\" for=\"sort\">Sort by</label>\n<select id=\"sort\" name=\"sort\">")
	for _, s := range d.Sorts {
		w.raw(`<option value="`)
		w.text(s.Value)
		w.raw(`"`)
		if s.Selected {
			w.raw(" selected")
		}
		w.raw(">")
		w.text(s.Label)
		w.raw("</option>")
	}
	w.raw("</select>\n<button type=\"submit\">Search</button></div>\n</form>\n<div class=\"gallery\">\n<aside class=\"facets\" aria-label=\"Filters\">\n<h2>Filter</h2>\n")
	if d.Clear != "" {
		w.raw(`<p><a href="`)
		w.url(d.Clear)
		w.raw(`">Clear all filters</a></p>`)
	}
	w.raw("\n")
	for _, f := range d.Facets {
		w.raw(`<section class="facet" aria-labelledby="f-`)
		w.text(f.Param)
		w.raw("\">\n<h3 id=\"f-")
		w.text(f.Param)
		w.raw(`">`)
		w.text(f.Title)
		w.raw("</h3>\n<ul>")
		for _, fv := range f.Values {
			w.raw(`<li><a href="`)
			w.url(fv.Href)
			w.raw(`"`)
			if fv.Selected {
				w.raw(` class="on" aria-current="true"`)
			}
			if fv.Lang != "" {
				w.raw(` hreflang="`)
				w.text(fv.Lang)
				w.raw(`"`)
			}
			w.raw("><span")
			if fv.Lang != "" {
				w.raw(` lang="`)
				w.text(fv.Lang)
				w.raw(`"`)
			}
			w.raw(">")
			w.text(fv.Label)
			w.raw(`</span> <span class="n">(`)
			w.int(fv.Count)
			w.raw(")</span>")
			if fv.Selected {
				w.raw(`<span class="sr"> (selected, select to remove)</span>`)
			}
			w.raw("</a></li>\n")
		}
		w.raw("</ul>\n</section>\n")
	}
	w.raw("\n</aside>\n<section class=\"results\" aria-labelledby=\"results-h\">\n<h2 id=\"results-h\" class=\"count\">")
	w.int(d.Total)
	if d.Total == 1 {
		w.raw(" resource")
	} else {
		w.raw(" resources")
	}
	if d.Text != "" {
		w.raw(" for “")
		w.text(d.Text)
		w.raw("”")
	}
	w.raw("</h2>\n")
	if len(d.Items) > 0 {
		w.raw(`<ul class="cards">`)
		for i := range d.Items {
			writeCard(w, &d.Items[i])
		}
		w.raw("</ul>\n")
	} else {
		w.raw("<p>No resources match. Try fewer words or remove a filter.</p>")
	}
	w.raw("\n")
	if d.Prev != "" || d.Next != "" {
		w.raw("<nav class=\"pager\" aria-label=\"Pages\">\n")
		if d.Prev != "" {
			w.raw(`<a href="`)
			w.url(d.Prev)
			w.raw(`" rel="prev">Previous page</a>`)
		}
		w.raw("\n<span>Page ")
		w.int(d.Page)
		w.raw(" of ")
		w.int(d.Pages)
		w.raw("</span>\n")
		if d.Next != "" {
			w.raw(`<a href="`)
			w.url(d.Next)
			w.raw(`" rel="next">Next page</a>`)
		}
		w.raw("\n</nav>")
	}
	w.raw("\n<p class=\"meta\">This search as <a href=\"")
	w.url(d.FeedAtom)
	w.raw(`">Atom</a>, <a href="`)
	w.url(d.FeedRSS)
	w.raw(`">RSS</a>, <a href="`)
	w.url(d.FeedJSON)
	w.raw(`">JSON Feed</a> or <a href="`)
	w.url(d.API)
	w.raw("\">JSON</a>.</p>\n</section>\n</div>\n\n")
}

// writeCard is the "card" template of gallery.html.
func writeCard(w *htmlWriter, c *card) {
	w.raw("<li class=\"card\">\n<h3><a href=\"")
	w.url(c.Href)
	w.raw(`"`)
	if c.Lang != "" {
		w.raw(` lang="`)
		w.text(c.Lang)
		w.raw(`"`)
	}
	w.raw(">")
	w.text(c.Title)
	w.raw("</a></h3>\n<p")
	if c.Lang != "" {
		w.raw(` lang="`)
		w.text(c.Lang)
		w.raw(`"`)
	}
	w.raw(">")
	w.text(c.Summary)
	w.raw("</p>\n<p class=\"meta\">")
	w.text(c.TypeLabel)
	w.raw(" · ages ")
	w.text(c.Ages)
	w.raw(" · ")
	w.text(c.Publisher)
	w.raw(` · <span class="langs">`)
	for i, l := range c.Langs {
		if i > 0 {
			w.raw(", ")
		}
		w.raw(`<span lang="`)
		w.text(l.Tag)
		w.raw(`">`)
		w.text(l.Name)
		w.raw("</span>")
	}
	w.raw("</span></p>\n</li>")
}
