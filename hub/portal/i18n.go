package portal

import (
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/internal/locale"
)

// interfaceLangs are the portal's interface languages, English first.
type interfaceLangs struct {
	bundle *locale.Bundle
	en     *locale.Printer
	list   []string
	set    map[string]bool
}

// loadInterfaceLangs reads the catalogues; the portal offers the languages
// complete for its part (and the top level's dates and numbers).
func loadInterfaceLangs() (*interfaceLangs, error) {
	all, err := locale.Load()
	if err != nil {
		return nil, err
	}
	b := all.For(locale.PortalParts()...)
	il := &interfaceLangs{bundle: b, en: b.Printer(locale.Fallback), set: make(map[string]bool)}
	for _, l := range b.Languages() {
		il.list = append(il.list, l)
		il.set[l] = true
	}
	return il, nil
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
	case path == "/", path == "", path == "/resources", strings.HasPrefix(path, "/resources/"), path == "/videos",
		path == "/services", strings.HasPrefix(path, "/services/"), path == "/news", strings.HasPrefix(path, "/news/") && !isFeed(path), path == "/directory", path == "/help",
		path == "/bulletin", strings.HasPrefix(path, "/bulletin/"),
		path == "/about", path == "/privacy", path == "/accessibility":
		return true
	case isSIDPath(path):
		return !isFeed(path)
	}
	return false
}

// isFeed reports whether path is a feed (of resources or of the news), whose
// own title and description speak the language of its address.
func isFeed(path string) bool {
	switch path {
	case "/feed.atom", "/feed.rss", "/feed.json", "/news/feed.atom", "/news/feed.rss", "/news/feed.json",
		"/events/feed.atom", "/events/feed.rss", "/events/feed.json", "/events.ics":
		return true
	}
	// An event's calendar speaks the language of its address, as a feed.
	return strings.HasPrefix(path, "/events/") && strings.HasSuffix(path, ".ics")
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
