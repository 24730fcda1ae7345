package protocol

import (
	"fmt"
	"slices"
	"time"
)

// Bulletin is an edition of the quarterly BIK bulletin, written by the
// coordination team: a focus article and items that point at the
// network's resources and news. Its translations travel in the signed
// record, as a service's do, because the bulletin is the hub's.
type Bulletin struct {
	// Edition is the quarter's month, YYYY-MM: March, June, September or
	// December. It is the edition's address on the portal.
	Edition string `json:"edition"`
	// Published is the day the edition appears, YYYY-MM-DD.
	Published string          `json:"published"`
	Title     string          `json:"title"`
	Language  string          `json:"language"`
	Focus     BulletinArticle `json:"focus"`
	Items     []BulletinItem  `json:"items,omitempty"`
	// Versions are the edition in other languages.
	Versions []BulletinVersion `json:"versions,omitempty"`
}

// BulletinArticle is the edition's focus article; Body is Markdown.
type BulletinArticle struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// BulletinItem points at a resource or a news post of the network.
type BulletinItem struct {
	// Kind is "resource" or "news": the portal links each to its own page.
	Kind string `json:"kind"`
	Ref  string `json:"ref"`
	// Note is a sentence on why the item is in the edition.
	Note string `json:"note,omitempty"`
}

// BulletinVersion is an edition in another language. Notes are the items'
// notes in the edition's order; an empty one, or one left out at the end,
// shows the edition's own.
type BulletinVersion struct {
	Language string          `json:"language"`
	Title    string          `json:"title"`
	Focus    BulletinArticle `json:"focus"`
	Notes    []string        `json:"notes,omitempty"`
}

// The kinds of content a bulletin item points at.
var BulletinItemKinds = []string{"resource", "news"}

const (
	// MaxBulletinItems bounds the items of an edition: a quarter's
	// highlights, read on a phone.
	MaxBulletinItems = 40
	// MaxBulletinBody bounds the focus article's Markdown.
	MaxBulletinBody = 32 << 10
	// MaxBulletinNote bounds an item's note.
	MaxBulletinNote = 500
)

// ValidEdition checks an edition: YYYY-MM, a quarter's last month, from
// 2000 to 2999.
func ValidEdition(s string) error {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Format("2006-01") != s || t.Year() < 2000 || t.Year() > 2999 {
		return fmt.Errorf("%q is not an edition YYYY-MM", s)
	}
	if t.Month()%3 != 0 {
		return fmt.Errorf("%q is not a quarter's edition: the month is 03, 06, 09 or 12", s)
	}
	return nil
}

func (b *Bulletin) validate(v *fieldErrors, c *Change) {
	if err := ValidEdition(b.Edition); err != nil {
		v.add("body.edition", "%v", err)
	}
	if t, err := time.Parse(time.DateOnly, b.Published); err != nil || t.Format(time.DateOnly) != b.Published {
		v.add("body.published", "%q is not a date YYYY-MM-DD", b.Published)
	}
	requireName(v, "body.title", b.Title, MaxShortField)
	requireLang(v, "body.language", b.Language)
	b.Focus.validate(v, "body.focus")
	if len(b.Items) > MaxBulletinItems {
		v.add("body.items", "%d items, limit %d", len(b.Items), MaxBulletinItems)
	} else {
		for i, it := range b.Items {
			f := fmt.Sprintf("body.items[%d]", i)
			if !inVocab(BulletinItemKinds, it.Kind) {
				v.add(f+".kind", "%q is not resource or news", it.Kind)
			}
			if _, err := SplitEntityID(it.Ref); err != nil {
				v.add(f+".ref", "%v", err)
			} else if slices.ContainsFunc(b.Items[:i], func(o BulletinItem) bool { return o.Ref == it.Ref }) {
				v.add(f+".ref", "%q repeated", it.Ref)
			}
			optionalText(v, f+".note", it.Note, MaxBulletinNote)
		}
	}
	if len(b.Versions) > MaxListLen {
		v.add("body.versions", "%d versions, limit %d", len(b.Versions), MaxListLen)
	} else {
		for i := range b.Versions {
			bv := &b.Versions[i]
			f := fmt.Sprintf("body.versions[%d]", i)
			requireLang(v, f+".language", bv.Language)
			switch {
			case bv.Language == b.Language:
				v.add(f+".language", "%q is the edition's own language", bv.Language)
			case slices.ContainsFunc(b.Versions[:i], func(o BulletinVersion) bool { return o.Language == bv.Language }):
				v.add(f+".language", "%q repeated", bv.Language)
			}
			requireName(v, f+".title", bv.Title, MaxShortField)
			bv.Focus.validate(v, f+".focus")
			if len(bv.Notes) > len(b.Items) {
				v.add(f+".notes", "%d notes for %d items", len(bv.Notes), len(b.Items))
				continue
			}
			for j, n := range bv.Notes {
				optionalText(v, fmt.Sprintf("%s.notes[%d]", f, j), n, MaxBulletinNote)
			}
		}
	}
	if c.Visibility != VisibilityPublic {
		v.add("visibility", "a bulletin is public")
	}
}

func (a *BulletinArticle) validate(v *fieldErrors, field string) {
	requireName(v, field+".title", a.Title, MaxShortField)
	requireText(v, field+".body", a.Body, MaxBulletinBody)
}

// Version returns the edition's texts in lang: its own, or a version's
// with the notes it leaves out taken from the edition.
func (b *Bulletin) Version(lang string) (title string, focus BulletinArticle, notes []string, ok bool) {
	notes = make([]string, len(b.Items))
	for i, it := range b.Items {
		notes[i] = it.Note
	}
	if lang == b.Language {
		return b.Title, b.Focus, notes, true
	}
	for _, bv := range b.Versions {
		if bv.Language != lang {
			continue
		}
		for i, n := range bv.Notes {
			if n != "" {
				notes[i] = n
			}
		}
		return bv.Title, bv.Focus, notes, true
	}
	return b.Title, b.Focus, notes, false
}

// Languages are the edition's languages, its own first.
func (b *Bulletin) Languages() []string {
	out := []string{b.Language}
	for _, bv := range b.Versions {
		out = append(out, bv.Language)
	}
	return out
}

var bulletinFields = []fastField[Bulletin]{
	{"edition", func(d *fastDecoder, b *Bulletin) bool { return d.str(&b.Edition) }},
	{"published", func(d *fastDecoder, b *Bulletin) bool { return d.str(&b.Published) }},
	{"title", func(d *fastDecoder, b *Bulletin) bool { return d.str(&b.Title) }},
	{"language", func(d *fastDecoder, b *Bulletin) bool { return d.str(&b.Language) }},
	{"focus", func(d *fastDecoder, b *Bulletin) bool { return decodeObject(d, &b.Focus, bulletinArticleFields) }},
	{"items", func(d *fastDecoder, b *Bulletin) bool {
		return decodeList(d, &b.Items, func(d *fastDecoder, it *BulletinItem) bool { return decodeObject(d, it, bulletinItemFields) })
	}},
	{"versions", func(d *fastDecoder, b *Bulletin) bool {
		return decodeList(d, &b.Versions, func(d *fastDecoder, bv *BulletinVersion) bool {
			return decodeObject(d, bv, bulletinVersionFields)
		})
	}},
}

var bulletinArticleFields = []fastField[BulletinArticle]{
	{"title", func(d *fastDecoder, a *BulletinArticle) bool { return d.str(&a.Title) }},
	{"body", func(d *fastDecoder, a *BulletinArticle) bool { return d.str(&a.Body) }},
}

var bulletinItemFields = []fastField[BulletinItem]{
	{"kind", func(d *fastDecoder, it *BulletinItem) bool { return d.str(&it.Kind) }},
	{"ref", func(d *fastDecoder, it *BulletinItem) bool { return d.str(&it.Ref) }},
	{"note", func(d *fastDecoder, it *BulletinItem) bool { return d.str(&it.Note) }},
}

var bulletinVersionFields = []fastField[BulletinVersion]{
	{"language", func(d *fastDecoder, bv *BulletinVersion) bool { return d.str(&bv.Language) }},
	{"title", func(d *fastDecoder, bv *BulletinVersion) bool { return d.str(&bv.Title) }},
	{"focus", func(d *fastDecoder, bv *BulletinVersion) bool {
		return decodeObject(d, &bv.Focus, bulletinArticleFields)
	}},
	{"notes", func(d *fastDecoder, bv *BulletinVersion) bool { return decodeList(d, &bv.Notes, (*fastDecoder).str) }},
}
