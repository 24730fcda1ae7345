package portal

import (
	"bytes"
	"hash/maphash"
	"html/template"
	"strconv"
	"sync"
)

// Pages are rendered by html/template alone, and html/template pays
// reflection and an escaper call for every action: for the gallery, some
// 900 actions for 20 cards and 50 filter links, several times the search
// itself. The pieces that many pages repeat are therefore rendered once by
// their own template and kept: a card by everything it shows, the filters
// by everything they show. A key is a 128-bit hash of the piece's whole
// content, so a kept piece is never stale, and the page inserts it as
// template.HTML. Hashing the content costs a few microseconds; keeping it
// as the key would allocate tens of kilobytes a page.

// fragmentBudget bounds the kept pieces, in bytes of HTML; when it is
// spent, the pieces kept before the last reset go.
const fragmentBudget = 32 << 20

// fragKey names a kept piece: two independent 64-bit hashes of what it
// shows and of the template that shows it.
type fragKey struct{ a, b uint64 }

var fragSeedA, fragSeedB = maphash.MakeSeed(), maphash.MakeSeed()

// keyHash hashes the parts of a piece's content into a fragKey, each part
// ended by a byte no text holds, so that parts cannot run into each other.
type keyHash struct{ a, b maphash.Hash }

func newKeyHash(parts ...string) *keyHash {
	h := &keyHash{}
	h.a.SetSeed(fragSeedA)
	h.b.SetSeed(fragSeedB)
	for _, s := range parts {
		h.add(s)
	}
	return h
}

func (h *keyHash) add(s string) {
	h.a.WriteString(s)
	h.a.WriteByte(0)
	h.b.WriteString(s)
	h.b.WriteByte(0)
}

func (h *keyHash) addInt(n int) { h.add(strconv.Itoa(n)) }

func (h *keyHash) addKey(k fragKey) {
	h.add(strconv.FormatUint(k.a, 36) + "." + strconv.FormatUint(k.b, 36))
}

func (h *keyHash) sum() fragKey { return fragKey{h.a.Sum64(), h.b.Sum64()} }

// fragmentCache keeps rendered pieces in two generations: lookups find
// either; puts go into the current one; a full current generation becomes
// the old one, and the old one is dropped.
type fragmentCache struct {
	mu       sync.RWMutex
	cur, old map[fragKey]template.HTML
	size     int
}

func (c *fragmentCache) get(key fragKey) (template.HTML, bool) {
	c.mu.RLock()
	h, ok := c.cur[key]
	if !ok {
		h, ok = c.old[key]
	}
	c.mu.RUnlock()
	return h, ok
}

func (c *fragmentCache) put(key fragKey, h template.HTML) {
	n := 16 + len(h)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.size+n > fragmentBudget/2 {
		c.old, c.cur, c.size = c.cur, make(map[fragKey]template.HTML), 0
	}
	c.cur[key] = h
	c.size += n
}

// fragment renders the template name of page with data, or returns it as
// rendered before for the same content, which key hashes.
func (p *Portal) fragment(page, name string, content *keyHash, data any) (template.HTML, error) {
	content.add(page)
	content.add(name)
	key := content.sum()
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

// renderCards renders each card of a page through the "card" template;
// key hashes, after it, what each card showed.
func (p *Portal) renderCards(page string, cards []card, key *keyHash) ([]template.HTML, error) {
	out := make([]template.HTML, 0, len(cards))
	for i := range cards {
		c := &cards[i]
		k := newKeyHash(c.Href, c.Title, c.Summary, c.Lang, c.TypeLabel, c.Ages, c.Publisher, c.Poster, boolStr(c.Video))
		for _, l := range c.Langs {
			k.add(l.Tag)
			k.add(l.Name)
		}
		h, err := p.fragment(page, "card", k, c)
		if err != nil {
			return nil, err
		}
		if key != nil {
			key.addKey(k.sum())
		}
		out = append(out, h)
	}
	return out, nil
}

// facetsKey hashes everything the "facets" template shows.
func facetsKey(ui, clear string, facets []facetView) *keyHash {
	k := newKeyHash(ui, clear)
	for _, f := range facets {
		k.add(f.Param)
		k.add(f.Title)
		for _, v := range f.Values {
			k.add(v.Href)
			k.add(v.Label)
			k.add(v.Lang)
			k.addInt(v.Count)
			if v.Selected {
				k.add("*")
			}
		}
		k.add("")
	}
	return k
}

// galleryKey hashes everything the gallery's "gallerybody" shows; cards
// is the hash of its cards (renderCards).
func galleryKey(v *view, d *galleryData, cards fragKey, facets fragKey) *keyHash {
	k := newKeyHash(v.UILang, v.Prefix, v.Lp, v.Title, d.Action, d.Text, d.Clear,
		d.Prev, d.Next, d.FeedAtom, d.FeedRSS, d.FeedJSON, d.API)
	k.addInt(d.Total)
	k.addInt(d.Page)
	k.addInt(d.Pages)
	k.addKey(cards)
	k.addKey(facets)
	for _, h := range d.Hidden {
		k.add(h.Name + "=" + h.Value)
	}
	k.add("")
	for _, s := range d.Sorts {
		k.add(s.Value + "=" + s.Label)
		if s.Selected {
			k.add("*")
		}
	}
	k.add("")
	if d.Suggest != nil {
		k.add(d.Suggest.Href)
		k.add(d.Suggest.Label)
	}
	k.add("")
	for _, t := range d.Topics {
		k.add(t.Href)
		k.add(t.Label)
	}
	k.add("")
	if d.Help != nil {
		k.add(d.Help.HelpHref)
		if d.Help.Country != nil {
			k.add(d.Help.Country.Code)
		}
	}
	return k
}
