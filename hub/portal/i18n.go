package portal

import (
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/internal/locale"
)

// portalMessage is a message every portal catalogue has: a language is an
// interface language of the portal when its catalogue has the portal's
// part, and the catalogue tests hold that part complete.
const portalMessage = "portal.site.name"

// interfaceLangs are the portal's interface languages, English first, and
// a matcher over them for Accept-Language.
type interfaceLangs struct {
	bundle  *locale.Bundle
	en      *locale.Printer
	list    []string
	set     map[string]bool
	matcher language.Matcher
}

func loadInterfaceLangs() (*interfaceLangs, error) {
	b, err := locale.Load()
	if err != nil {
		return nil, err
	}
	il := &interfaceLangs{bundle: b, en: b.Printer(locale.Fallback), set: make(map[string]bool)}
	var tags []language.Tag
	for _, l := range b.Languages() {
		if !b.Defines(l, portalMessage) {
			continue
		}
		il.list = append(il.list, l)
		il.set[l] = true
		tags = append(tags, language.Make(l))
	}
	il.matcher = language.NewMatcher(tags)
	return il, nil
}

// negotiate picks the visitor's interface language from their preferences,
// English when none is offered.
func (il *interfaceLangs) negotiate(prefs []language.Tag) string {
	if len(prefs) == 0 {
		return locale.Fallback
	}
	// The catalogue "no" is written in Bokmål; CLDR's matcher takes nb for
	// closer to Danish than to "no", so both written Norwegians are named
	// "no" here.
	prefs = slices.Clone(prefs)
	for i, t := range prefs {
		if b, _ := t.Base(); b.String() == "nb" || b.String() == "nn" {
			prefs[i] = language.Norwegian
		}
	}
	_, i, conf := il.matcher.Match(prefs...)
	if conf == language.No {
		return locale.Fallback
	}
	return il.list[i]
}

// splitLang takes an interface language off the front of path: "/fr/help"
// is "fr" and "/help", "/fr" is "fr" and "".
func (il *interfaceLangs) splitLang(path string) (lang, rest string, ok bool) {
	if len(path) < 3 || path[0] != '/' {
		return "", path, false
	}
	seg, rest, _ := strings.Cut(path[1:], "/")
	if !il.set[seg] {
		return "", path, false
	}
	if rest != "" || strings.HasSuffix(path, "/") {
		rest = "/" + rest
	}
	return seg, rest, true
}

// isPage reports whether path (under any language and minisite prefix) is
// one of the portal's pages, which speak the visitor's language, rather
// than a machine-readable output, which has one address for everyone.
func isPage(path string) bool {
	switch {
	case path == "/", path == "", path == "/resources", strings.HasPrefix(path, "/resources/"),
		path == "/services", path == "/news", strings.HasPrefix(path, "/news/"), path == "/directory", path == "/help":
		return true
	}
	return false
}

// isFeed reports whether path is a feed, whose own title and description
// speak the language of its address.
func isFeed(path string) bool {
	return path == "/feed.atom" || path == "/feed.rss" || path == "/feed.json"
}

// namesIn remembers names of languages and countries in an interface
// language, from CLDR: pages name dozens of them, and a namer is costly to
// build. The keys are bounded by the languages and regions CLDR knows.
var namesIn sync.Map // "L|lang|tag" or "R|lang|code" → string

// langLabel is language tag's name in p's language ("Finnish" on an
// English page, "finnois" on a French one).
func langLabel(p *locale.Printer, tag string) string {
	key := "L|" + p.Lang() + "|" + tag
	if v, ok := namesIn.Load(key); ok {
		return v.(string)
	}
	name := tag
	if t, err := language.Parse(tag); err == nil {
		if n := display.Tags(language.Make(p.Tag())).Name(t); n != "" {
			name = n
		}
	}
	if len(tag) <= 35 {
		namesIn.Store(key, name)
	}
	return name
}

// countryLabel is a country's name, from its ISO code, in p's language.
func countryLabel(p *locale.Printer, code string) string {
	key := "R|" + p.Lang() + "|" + code
	if v, ok := namesIn.Load(key); ok {
		return v.(string)
	}
	name := strings.ToUpper(code)
	if r, err := language.ParseRegion(strings.ToUpper(code)); err == nil && len(code) == 2 {
		if n := display.Regions(language.Make(p.Tag())).Name(r); n != "" {
			name = n
		}
	}
	if len(code) == 2 {
		namesIn.Store(key, name)
	}
	return name
}
