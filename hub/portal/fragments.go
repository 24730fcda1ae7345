package portal

import (
	"bytes"
	"html/template"
	"strconv"
	"strings"
	"sync"
)

// Pages are rendered by html/template alone, and html/template pays
// reflection and an escaper call for every action: for the gallery, some
// 900 actions for 20 cards and 50 filter links, several times the search
// itself. The pieces that many pages repeat are therefore rendered once by
// their own template and kept: a card by everything it shows, the filters
// by everything they show. A key is the piece's whole content, so a kept
// piece is never stale, and the page inserts it as template.HTML.

// fragmentBudget bounds the kept pieces, in bytes of HTML; when it is
// spent, the pieces kept before the last reset go.
const fragmentBudget = 32 << 20

// fragmentCache keeps rendered pieces in two generations: lookups find
// either; puts go into the current one; a full current generation becomes
// the old one, and the old one is dropped.
type fragmentCache struct {
	mu       sync.RWMutex
	cur, old map[string]template.HTML
	size     int
}

func (c *fragmentCache) get(key string) (template.HTML, bool) {
	c.mu.RLock()
	h, ok := c.cur[key]
	if !ok {
		h, ok = c.old[key]
	}
	c.mu.RUnlock()
	return h, ok
}

func (c *fragmentCache) put(key string, h template.HTML) {
	n := len(key) + len(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.size+n > fragmentBudget/2 {
		c.old, c.cur, c.size = c.cur, make(map[string]template.HTML), 0
	}
	c.cur[key] = h
	c.size += n
}

// fragment renders the template name of page with data, or returns it as
// rendered before under key.
func (p *Portal) fragment(page, name, key string, data any) (template.HTML, error) {
	key = page + "\x00" + name + "\x00" + key
	if h, ok := p.fragments.get(key); ok {
		return h, nil
	}
	var buf bytes.Buffer
	if err := p.tmpl.byName[page].ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	h := template.HTML(buf.String())
	p.fragments.put(key, h)
	return h, nil
}

// renderCards renders each card of a page through the "card" template.
func (p *Portal) renderCards(page string, cards []card) ([]template.HTML, error) {
	out := make([]template.HTML, 0, len(cards))
	var k strings.Builder
	for i := range cards {
		c := &cards[i]
		k.Reset()
		for _, s := range []string{c.Href, c.Title, c.Summary, c.Lang, c.TypeLabel, c.Ages, c.Publisher} {
			k.WriteString(s)
			k.WriteByte(0)
		}
		for _, l := range c.Langs {
			k.WriteString(l.Tag)
			k.WriteByte(1)
			k.WriteString(l.Name)
			k.WriteByte(0)
		}
		h, err := p.fragment(page, "card", k.String(), c)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// facetsKey is everything the "facets" template shows.
func facetsKey(ui, clear string, facets []facetView) string {
	var k strings.Builder
	k.Grow(64 * 64)
	k.WriteString(ui)
	k.WriteByte(0)
	k.WriteString(clear)
	for _, f := range facets {
		k.WriteByte(2)
		k.WriteString(f.Param)
		k.WriteByte(0)
		k.WriteString(f.Title)
		for _, v := range f.Values {
			k.WriteByte(1)
			k.WriteString(v.Href)
			k.WriteByte(0)
			k.WriteString(v.Label)
			k.WriteByte(0)
			k.WriteString(v.Lang)
			k.WriteByte(0)
			k.WriteString(strconv.Itoa(v.Count))
			if v.Selected {
				k.WriteByte('*')
			}
		}
	}
	return k.String()
}

// galleryKey is everything the gallery's "gallerybody" shows.
func galleryKey(v *view, d *galleryData) string {
	var k strings.Builder
	k.Grow(32 << 10)
	for _, s := range []string{v.UILang, v.Prefix, v.Lp, v.Title, d.Text, d.Clear, string(d.FacetsHTML),
		d.Prev, d.Next, d.FeedAtom, d.FeedRSS, d.FeedJSON, d.API, strconv.Itoa(d.Total), strconv.Itoa(d.Page), strconv.Itoa(d.Pages)} {
		k.WriteString(s)
		k.WriteByte(0)
	}
	for _, h := range d.Hidden {
		k.WriteString(h.Name + "=" + h.Value + "\x01")
	}
	for _, s := range d.Sorts {
		k.WriteString(s.Value + "=" + s.Label)
		if s.Selected {
			k.WriteByte('*')
		}
		k.WriteByte(1)
	}
	if d.Help != nil {
		k.WriteString("help\x01" + d.Help.HelpHref)
		if d.Help.Country != nil {
			k.WriteString("\x01" + d.Help.Country.Code)
		}
	}
	for _, c := range d.Cards {
		k.WriteByte(2)
		k.WriteString(string(c))
	}
	return k.String()
}
