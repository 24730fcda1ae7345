package locale

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// The Accept-Language header read is bounded; browsers send a few dozen
// bytes and a handful of languages.
const (
	maxAcceptLanguage = 512
	maxAcceptEntries  = 32
)

// Match returns the language, among those the bundle offers, that best
// fits the visitor. An explicit choice (from ?lang= or a cookie, in that
// order of the arguments) wins when it names an offered language, as a bare
// code or a BCP 47 tag; otherwise the Accept-Language header decides, its
// languages tried best first; otherwise Fallback.
//
// A tag stands for its base language whatever its region or script:
// pt-BR and pt-PT are pt, de-AT is de, sr-Latn is sr (whose catalogue is
// Cyrillic, which a reader of the Latin script reads too). nb, nn and no
// are no. A tag whose language is not offered gives way to the next; x/text's
// matcher then gets a last word for close languages it knows, such as
// Swiss German for German.
func (b *Bundle) Match(acceptLanguage string, choices ...string) string {
	for _, c := range choices {
		if lang := b.exact(c); lang != "" {
			return lang
		}
	}
	tags := parseAcceptLanguage(acceptLanguage)
	for _, tag := range tags {
		if lang := b.base(tag); lang != "" {
			return lang
		}
	}
	if len(tags) == 0 || len(b.tags) == 0 {
		return Fallback
	}
	_, idx, conf := b.matcher.Match(tags...)
	if conf < language.High {
		return Fallback
	}
	return b.langs[idx]
}

// base returns the offered language of tag's base language, or "".
func (b *Bundle) base(tag language.Tag) string {
	base, conf := tag.Base()
	if conf == language.No {
		return ""
	}
	lang := base.String()
	if a, ok := aliases[lang]; ok {
		lang = a
	}
	if b.offered[lang] {
		return lang
	}
	return ""
}

// parseAcceptLanguage reads the header entry by entry, best first, so that
// one tag x/text does not know (a private "x-klingon", a made-up "zz")
// does not throw away the languages the visitor does read.
func parseAcceptLanguage(h string) []language.Tag {
	if len(h) > maxAcceptLanguage {
		h = h[:maxAcceptLanguage]
		if i := strings.LastIndexByte(h, ','); i >= 0 {
			h = h[:i]
		}
	}
	type weighted struct {
		tag language.Tag
		q   float32
	}
	var ws []weighted
	for entry := range strings.SplitSeq(h, ",") {
		if len(ws) == maxAcceptEntries {
			break
		}
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil || len(tags) != 1 {
			continue
		}
		ws = append(ws, weighted{tags[0], qs[0]})
	}
	slices.SortStableFunc(ws, func(a, b weighted) int { return cmp.Compare(b.q, a.q) })
	tags := make([]language.Tag, len(ws))
	for i, w := range ws {
		tags[i] = w.tag
	}
	return tags
}

// Choice returns the offered language an explicit choice names, as a code
// or a BCP 47 tag (pt-BR names pt, nn names no), and whether there is one.
func (b *Bundle) Choice(choice string) (string, bool) {
	lang := b.exact(choice)
	return lang, lang != ""
}

// exact returns the offered language that choice names, or "".
func (b *Bundle) exact(choice string) string {
	if choice == "" || len(choice) > 35 {
		return ""
	}
	tag, err := language.Parse(choice)
	if err != nil {
		return ""
	}
	return b.base(tag)
}

// FromRequest picks the language for r from its ?lang= parameter, then the
// cookie named cookie (if cookie is not empty), then Accept-Language.
func (b *Bundle) FromRequest(r *http.Request, cookie string) string {
	choices := []string{r.URL.Query().Get("lang")}
	if cookie != "" {
		if c, err := r.Cookie(cookie); err == nil {
			choices = append(choices, c.Value)
		}
	}
	return b.Match(r.Header.Get("Accept-Language"), choices...)
}
