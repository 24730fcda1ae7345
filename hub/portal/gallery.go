package portal

import (
	"bytes"
	"strconv"
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
// The page is appended to a local slice, not written through a pointer,
// which keeps the garbage collector's write barrier out of the way.
func galleryPage(v *view, d *galleryData) []byte {
	buf := pageBuffers.Get().(*[]byte)
	b := appendLayoutHead((*buf)[:0], v)
	b = appendGallery(b, v, d)
	b = appendLayoutFoot(b, v)
	page := bytes.Clone(b)
	if cap(b) <= 256<<10 {
		*buf = b
		pageBuffers.Put(buf)
	}
	return page
}

// appendCurrent marks the navigation link of the view's section.
func appendCurrent(b []byte, v *view, section string) []byte {
	if v.Section == section {
		b = append(b, ` aria-current="page"`...)
	}
	return b
}

// appendLayoutHead appends templates/layout.html, for a view without
// JSON-LD, up to the page's "content".
func appendLayoutHead(b []byte, v *view) []byte {
	b = append(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"...)
	b = appendText(b, v.Title)
	b = append(b, " · "...)
	b = appendText(b, v.SiteName)
	b = append(b, "</title>\n"...)
	if v.Description != "" {
		b = append(b, `<meta name="description" content="`...)
		b = appendText(b, v.Description)
		b = append(b, `">`...)
	}
	b = append(b, "\n<link rel=\"stylesheet\" href=\""...)
	b = appendURL(b, v.StaticCSS)
	b = append(b, "\">\n"...)
	if v.Canonical != "" {
		b = append(b, `<link rel="canonical" href="`...)
		b = appendURL(b, v.Canonical)
		b = append(b, `">`...)
	}
	b = append(b, "\n"...)
	for _, a := range v.Alternates {
		b = append(b, `<link rel="alternate" hreflang="`...)
		b = appendText(b, a.Lang)
		b = append(b, `" href="`...)
		b = appendURL(b, a.Href)
		b = append(b, "\">\n"...)
	}
	for _, f := range v.Feeds {
		b = append(b, `<link rel="alternate" type="`...)
		b = appendText(b, f.Type)
		b = append(b, `" title="`...)
		b = appendText(b, f.Title)
		b = append(b, `" href="`...)
		b = appendURL(b, f.Href)
		b = append(b, "\">\n"...)
	}
	b = append(b, "\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to main content</a>\n<header class=\"top\">\n<div class=\"wrap bar\">\n<a class=\"brand\" href=\""...)
	b = appendURL(b, v.Home)
	b = append(b, `">`...)
	if v.Site != nil {
		b = appendText(b, v.Site.Name)
	} else {
		b = append(b, "Better Internet for Kids"...)
	}
	b = append(b, "</a>\n<a class=\"help\" href=\""...)
	b = appendURL(b, v.HelpURL)
	b = append(b, `">Get help / report`...)
	if v.HelpLocal != "" {
		b = append(b, ` <span lang="`...)
		b = appendText(b, v.UILang)
		b = append(b, `">· `...)
		b = appendText(b, v.HelpLocal)
		b = append(b, "</span>"...)
	}
	b = append(b, "</a>\n</div>\n<nav class=\"wrap\" aria-label=\"Main\">\n<ul class=\"nav\">\n<li><a href=\""...)
	b = appendURL(b, v.Prefix)
	b = append(b, `/resources"`...)
	b = appendCurrent(b, v, "resources")
	b = append(b, ">Resources</a></li>\n<li><a href=\"/services\""...)
	b = appendCurrent(b, v, "services")
	b = append(b, ">Online services</a></li>\n<li><a href=\"/news\""...)
	b = appendCurrent(b, v, "news")
	b = append(b, ">News</a></li>\n<li><a href=\"/directory\""...)
	b = appendCurrent(b, v, "directory")
	b = append(b, ">Safer Internet Centres</a></li>\n"...)
	for _, m := range v.Minisites {
		b = append(b, `<li><a href="/`...)
		b = appendURLPart(b, m.ID)
		b = append(b, `/"`...)
		if v.Site != nil && v.Site.ID == m.ID {
			b = append(b, ` aria-current="page"`...)
		}
		b = append(b, ">"...)
		b = appendText(b, m.Name)
		b = append(b, "</a></li>\n"...)
	}
	b = append(b, "</ul>\n</nav>\n</header>\n<main id=\"main\" class=\"wrap\" tabindex=\"-1\">\n"...)
	return b
}

// appendLayoutFoot appends the rest of templates/layout.html, after "content".
func appendLayoutFoot(b []byte, v *view) []byte {
	b = append(b, "\n</main>\n<footer class=\"foot\">\n<div class=\"wrap\">\n<p>The Better Internet for Kids portal brings together resources from the network of Safer Internet Centres in Europe and beyond.</p>\n<ul class=\"inline\">\n<li><a href=\""...)
	b = appendURL(b, v.Prefix)
	b = append(b, "/feed.atom\">Atom feed</a></li>\n<li><a href=\""...)
	b = appendURL(b, v.Prefix)
	b = append(b, "/feed.rss\">RSS feed</a></li>\n<li><a href=\""...)
	b = appendURL(b, v.Prefix)
	b = append(b, "/feed.json\">JSON Feed</a></li>\n<li><a href=\"/api/v1/resources\">JSON API</a></li>\n<li><a href=\"/oai?verb=Identify\">OAI-PMH</a></li>\n<li><a href=\"/sitemap.xml\">Sitemap</a></li>\n</ul>\n</div>\n</footer>\n</body>\n</html>\n"...)
	return b
}

// appendGallery appends the "content" of templates/gallery.html.
func appendGallery(b []byte, v *view, d *galleryData) []byte {
	b = append(b, "\n\n<h1>"...)
	b = appendText(b, v.Title)
	b = append(b, "</h1>\n<form class=\"search\" role=\"search\" action=\""...)
	b = appendURL(b, v.Prefix)
	b = append(b, "/resources\" method=\"get\">\n<label for=\"q\">"...)
	b = appendText(b, v.SearchLabel)
	b = append(b, "</label>\n<div class=\"row\"><input id=\"q\" name=\"q\" type=\"search\" value=\""...)
	b = appendText(b, d.Text)
	b = append(b, "\" maxlength=\"200\" autocomplete=\"off\">\n"...)
	for _, h := range d.Hidden {
		b = append(b, `<input type="hidden" name="`...)
		b = appendText(b, h.Name)
		b = append(b, `" value="`...)
		b = appendText(b, h.Value)
		b = append(b, `">`...)
	}
	b = append(b, "\n<label class=\"sr\" for=\"sort\">Sort by</label>\n<select id=\"sort\" name=\"sort\">"...)
	for _, s := range d.Sorts {
		b = append(b, `<option value="`...)
		b = appendText(b, s.Value)
		b = append(b, `"`...)
		if s.Selected {
			b = append(b, " selected"...)
		}
		b = append(b, ">"...)
		b = appendText(b, s.Label)
		b = append(b, "</option>"...)
	}
	b = append(b, "</select>\n<button type=\"submit\">Search</button></div>\n</form>\n<div class=\"gallery\">\n<aside class=\"facets\" aria-label=\"Filters\">\n<h2>Filter</h2>\n"...)
	if d.Clear != "" {
		b = append(b, `<p><a href="`...)
		b = appendURL(b, d.Clear)
		b = append(b, `">Clear all filters</a></p>`...)
	}
	b = append(b, "\n"...)
	for _, f := range d.Facets {
		b = append(b, `<section class="facet" aria-labelledby="f-`...)
		b = appendText(b, f.Param)
		b = append(b, "\">\n<h3 id=\"f-"...)
		b = appendText(b, f.Param)
		b = append(b, `">`...)
		b = appendText(b, f.Title)
		b = append(b, "</h3>\n<ul>"...)
		for _, fv := range f.Values {
			b = append(b, `<li><a href="`...)
			b = appendURL(b, fv.Href)
			b = append(b, `"`...)
			if fv.Selected {
				b = append(b, ` class="on" aria-current="true"`...)
			}
			if fv.Lang != "" {
				b = append(b, ` hreflang="`...)
				b = appendText(b, fv.Lang)
				b = append(b, `"`...)
			}
			b = append(b, "><span"...)
			if fv.Lang != "" {
				b = append(b, ` lang="`...)
				b = appendText(b, fv.Lang)
				b = append(b, `"`...)
			}
			b = append(b, ">"...)
			b = appendText(b, fv.Label)
			b = append(b, `</span> <span class="n">(`...)
			b = strconv.AppendInt(b, int64(fv.Count), 10)
			b = append(b, ")</span>"...)
			if fv.Selected {
				b = append(b, `<span class="sr"> (selected, select to remove)</span>`...)
			}
			b = append(b, "</a></li>\n"...)
		}
		b = append(b, "</ul>\n</section>\n"...)
	}
	b = append(b, "\n</aside>\n<section class=\"results\" aria-labelledby=\"results-h\">\n<h2 id=\"results-h\" class=\"count\">"...)
	b = strconv.AppendInt(b, int64(d.Total), 10)
	if d.Total == 1 {
		b = append(b, " resource"...)
	} else {
		b = append(b, " resources"...)
	}
	if d.Text != "" {
		b = append(b, " for “"...)
		b = appendText(b, d.Text)
		b = append(b, "”"...)
	}
	b = append(b, "</h2>\n"...)
	if len(d.Items) > 0 {
		b = append(b, `<ul class="cards">`...)
		for i := range d.Items {
			b = appendCard(b, &d.Items[i])
		}
		b = append(b, "</ul>\n"...)
	} else {
		b = append(b, "<p>No resources match. Try fewer words or remove a filter.</p>"...)
	}
	b = append(b, "\n"...)
	if d.Prev != "" || d.Next != "" {
		b = append(b, "<nav class=\"pager\" aria-label=\"Pages\">\n"...)
		if d.Prev != "" {
			b = append(b, `<a href="`...)
			b = appendURL(b, d.Prev)
			b = append(b, `" rel="prev">Previous page</a>`...)
		}
		b = append(b, "\n<span>Page "...)
		b = strconv.AppendInt(b, int64(d.Page), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(d.Pages), 10)
		b = append(b, "</span>\n"...)
		if d.Next != "" {
			b = append(b, `<a href="`...)
			b = appendURL(b, d.Next)
			b = append(b, `" rel="next">Next page</a>`...)
		}
		b = append(b, "\n</nav>"...)
	}
	b = append(b, "\n<p class=\"meta\">This search as <a href=\""...)
	b = appendURL(b, d.FeedAtom)
	b = append(b, `">Atom</a>, <a href="`...)
	b = appendURL(b, d.FeedRSS)
	b = append(b, `">RSS</a>, <a href="`...)
	b = appendURL(b, d.FeedJSON)
	b = append(b, `">JSON Feed</a> or <a href="`...)
	b = appendURL(b, d.API)
	b = append(b, "\">JSON</a>.</p>\n</section>\n</div>\n\n"...)
	return b
}

// appendCard appends the "card" template of gallery.html.
func appendCard(b []byte, c *card) []byte {
	b = append(b, "<li class=\"card\">\n<h3><a href=\""...)
	b = appendURL(b, c.Href)
	b = append(b, `"`...)
	if c.Lang != "" {
		b = append(b, ` lang="`...)
		b = appendText(b, c.Lang)
		b = append(b, `"`...)
	}
	b = append(b, ">"...)
	b = appendText(b, c.Title)
	b = append(b, "</a></h3>\n<p"...)
	if c.Lang != "" {
		b = append(b, ` lang="`...)
		b = appendText(b, c.Lang)
		b = append(b, `"`...)
	}
	b = append(b, ">"...)
	b = appendText(b, c.Summary)
	b = append(b, "</p>\n<p class=\"meta\">"...)
	b = appendText(b, c.TypeLabel)
	b = append(b, " · ages "...)
	b = appendText(b, c.Ages)
	b = append(b, " · "...)
	b = appendText(b, c.Publisher)
	b = append(b, ` · <span class="langs">`...)
	for i, l := range c.Langs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `<span lang="`...)
		b = appendText(b, l.Tag)
		b = append(b, `">`...)
		b = appendText(b, l.Name)
		b = append(b, "</span>"...)
	}
	b = append(b, "</span></p>\n</li>"...)
	return b
}
