package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

// req is what every handler needs to know about a request.
type req struct {
	r *http.Request
	// lang is the interface language; chosen says the path named it (as
	// lp, "/fr"), rather than Accept-Language.
	lang   string
	chosen bool
	lp     string
	p      *locale.Printer
	site   string // minisite of the view, "" for the portal
	sp     string // "/sid" when the minisite is chosen by path
	prefix string // lp + sp: what the view's own links start with
	path   string // the path under the prefix
	prefs  []language.Tag
	base   string // absolute URL of the portal's root
	host   string
}

// clp is the language prefix of canonical addresses: none for English,
// whose pages live at the unprefixed addresses, the language's otherwise.
func (q *req) clp() string {
	if q.lang == locale.Fallback {
		return ""
	}
	return "/" + q.lang
}

// canonical is the absolute canonical address of pathInLang, a path under
// the language prefix ("/news", "/sid/resources?…").
func (q *req) canonical(pathInLang string) string { return q.base + q.clp() + pathInLang }

// siteBase is the absolute URL of the view's root (the minisite's, if any).
func (q *req) siteBase() string { return q.base + q.prefix }

// key starts a cache key: everything about the request that any response
// depends on besides its own parameters.
func (q *req) key(kind string) string {
	return kind + "|" + q.host + "|" + q.site + "|" + q.prefix + "|" + q.lang
}

// view is the data of the layout.
type view struct {
	Title       string
	Description string
	Canonical   string
	// SiteName is the portal's name, which every title ends with (a
	// minisite's name is in its pages' own titles).
	SiteName string
	// OGLocale is the interface language as Open Graph writes it.
	OGLocale   string
	StaticLogo string
	StaticEU   string
	Site       *minisite
	Prefix     string
	Home       string
	Section    string
	UILang     string
	Lp         string
	HelpURL    string
	StaticCSS  string
	Alternates []altLink
	Feeds      []feedLink
	// PrevHref and NextHref are the neighbours of a page in a series.
	PrevHref, NextHref string
	JSONLD             any
	Minisites          []minisite
	Data               any

	// Langs is the language chooser: the page in every interface language.
	Langs []langLink
	P     *locale.Printer

	// NavHTML and FootHTML are the layout's "nav" and "foot", rendered
	// once for each view they show (fragments.go).
	NavHTML, FootHTML template.HTML
	// AltHTML is the head's alternates, rendered by "alternates";
	// HeadHTML the head, by "head", for a page without JSON-LD;
	// ContentHTML the page's content, for a page that renders it as a
	// fragment (the gallery's "gallerybody").
	AltHTML, HeadHTML, ContentHTML template.HTML
}

type altLink struct{ Lang, Href string }

// langLink is the page in one interface language, named in that language.
type langLink struct {
	Lang, Name, Href string
	Current          bool
}

// T is the view's interface text: templates write {{$.T "portal.x"}}.
func (v *view) T(id string, args ...any) string { return v.P.T(id, args...) }

// N is the form of a counted message that fits n.
func (v *view) N(id string, n int, args ...any) string { return v.P.N(id, n, args...) }

type feedLink struct{ Type, Title, Href string }

func (p *Portal) newView(q *req, title, section string) *view {
	v := &view{
		Title:      title,
		SiteName:   q.p.T("portal.site.name"),
		Prefix:     q.prefix,
		Home:       q.prefix + "/",
		Section:    section,
		UILang:     q.p.Tag(),
		Lp:         q.lp,
		HelpURL:    q.lp + "/help",
		StaticCSS:  p.static.cssPath,
		StaticLogo: p.static.logoPath,
		StaticEU:   p.static.euPath,
		OGLocale:   ogLocale(q.lang),
		P:          q.p,
	}
	v.Minisites = minisiteViews(q.p)
	if q.site != "" {
		m := minisiteView(q.p, q.site)
		v.Site = &m
	}
	v.Feeds = []feedLink{{"application/atom+xml", q.p.T("portal.feed.latest"), q.prefix + "/feed.atom"}}
	// The page in each interface language: the same path and query
	// under that language's prefix, English's being none.
	rest := strings.TrimPrefix(q.r.URL.Path, q.lp)
	if q.r.URL.RawQuery != "" {
		rest += "?" + q.r.URL.RawQuery
	}
	for _, l := range p.langs.list {
		href := "/" + l + rest
		v.Langs = append(v.Langs, langLink{Lang: l, Name: languageName(l), Href: href, Current: l == q.lang})
		// The interface's alternates: English's address has no prefix.
		alt := q.base + href
		if l == locale.Fallback {
			alt = q.base + rest
		}
		v.Alternates = append(v.Alternates, altLink{l, alt})
	}
	v.Alternates = append(v.Alternates, altLink{"x-default", q.base + rest})
	return v
}

// errorView is the view of an error page. Nothing of the address asked
// for is repeated on it: its language chooser leads to each language's
// home, and it has no alternates.
func (p *Portal) errorView(q *req, section string) *view {
	v := p.newView(q, q.p.T("portal.error.notfound.title"), section)
	v.Alternates = nil
	for i := range v.Langs {
		v.Langs[i].Href = "/" + v.Langs[i].Lang + q.sp + "/"
	}
	return v
}

func (p *Portal) html(name string, v *view, status int) (*response, error) {
	var err error
	site := ""
	if v.Site != nil {
		site = v.Site.ID
	}
	nav := newKeyHash(v.Home, site, v.HelpURL, v.UILang, v.Prefix, v.Section)
	for _, l := range v.Langs {
		nav.add(l.Href)
	}
	if v.NavHTML, err = p.fragment(name, "nav", nav, v); err != nil {
		return nil, err
	}
	alt := newKeyHash()
	for _, a := range v.Alternates {
		alt.add(a.Lang)
		alt.add(a.Href)
	}
	if v.AltHTML, err = p.fragment(name, "alternates", alt, v.Alternates); err != nil {
		return nil, err
	}
	if v.JSONLD == nil {
		head := newKeyHash(v.UILang, v.OGLocale, v.Title, v.SiteName, v.Description, v.StaticCSS, v.StaticLogo, v.Canonical, string(v.AltHTML), v.PrevHref, v.NextHref)
		for _, f := range v.Feeds {
			head.add(f.Type)
			head.add(f.Title)
			head.add(f.Href)
		}
		if v.HeadHTML, err = p.fragment(name, "head", head, v); err != nil {
			return nil, err
		}
	}
	if v.FootHTML, err = p.fragment(name, "foot", newKeyHash(v.UILang, v.Prefix), v); err != nil {
		return nil, err
	}
	body, err := p.tmpl.render(name, v)
	if err != nil {
		return nil, err
	}
	return &response{status: status, ctype: "text/html; charset=utf-8", body: body, vary: "Accept-Language"}, nil
}

// card is a resource in a list.
type card struct {
	Href, Title, Summary, Lang, TypeLabel, Ages, Publisher string
	Langs                                                  []langView
	// Video marks a video the portal plays, Poster its poster's address
	// ("" without one).
	Video  bool
	Poster string
}

type langView struct{ Tag, Name string }

func langViews(tags []string) []langView {
	out := make([]langView, 0, len(tags))
	for _, t := range tags {
		out = append(out, langView{t, languageName(t)})
	}
	return out
}

func ages(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
}

// cardSummary is how much of a description a card shows, in bytes.
const cardSummary = 220

func (p *Portal) cards(ctx context.Context, q *req, rows []*resourceRow) ([]card, error) {
	profiles := p.profiles(ctx)
	// A resource translated into the visitor's language shows that
	// translation, as its page does.
	shown, err := p.translatedInto(ctx, q.lang, rows)
	if err != nil {
		return nil, err
	}
	out := make([]card, 0, len(rows))
	for _, r := range rows {
		c := card{
			Href:      q.prefix + "/resources/" + r.ID,
			Title:     r.Title,
			Summary:   r.summary,
			Lang:      r.Language,
			TypeLabel: vocabLabel(q.p, "type", r.Type),
			Ages:      q.p.T("portal.card.ages", "ages", ages(r.AgeMin, r.AgeMax)),
			Publisher: profiles.publisher(q.p, r.Owner),
			Langs:     r.langs,
		}
		if r.Type == "video" {
			if _, ok := videoFile(r.Blobs); ok {
				c.Video = true
				if img, ok := posterImage(r.Blobs); ok {
					c.Poster = blobHref(img)
				}
			}
		}
		if t, ok := shown[r.ID]; ok {
			c.Title, c.Lang = t.Title, t.Language
			if t.Description != "" {
				c.Summary = summary(t.Description, cardSummary)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// translatedInto reads the best translation into lang of each of rows that
// has one, by resource id; rows already in lang are left out.
func (p *Portal) translatedInto(ctx context.Context, lang string, rows []*resourceRow) (map[string]translationRow, error) {
	version := map[string]int64{}
	for _, r := range rows {
		if r.Language != lang && slices.Contains(r.TransLangs, lang) {
			version[r.ID] = r.Version
		}
	}
	if len(version) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(version))
	for id := range version {
		ids = append(ids, id)
	}
	rs, err := p.db.Reader().QueryContext(ctx, `SELECT resource, id, owner, updated_at, title, description, method, review,
		source_version FROM translations WHERE language = ? AND resource IN (SELECT value FROM json_each(?))`, lang, jsonText(ids))
	if err != nil {
		return nil, fmt.Errorf("read translations: %w", err)
	}
	defer rs.Close()
	byResource := map[string][]translationRow{}
	for rs.Next() {
		var res string
		var updated int64
		t := translationRow{Language: lang}
		if err := rs.Scan(&res, &t.ID, &t.Owner, &updated, &t.Title, &t.Description, &t.Method, &t.Review, &t.SourceVersion); err != nil {
			return nil, fmt.Errorf("read translations: %w", err)
		}
		t.Updated = time.UnixMilli(updated).UTC()
		t.Outdated = t.SourceVersion < version[res]
		byResource[res] = append(byResource[res], t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read translations: %w", err)
	}
	out := make(map[string]translationRow, len(byResource))
	for res, ts := range byResource {
		if t, ok := bestTranslations(ts)[lang]; ok && t.Title != "" {
			out[res] = t
		}
	}
	return out, nil
}

// profileView is a SIC's signposting as pages show it.
type profileView struct {
	Owner       string
	Country     string
	CountryName string
	protocol.Profile
}

// profileSet is every public profile, read once per index generation.
type profileSet struct {
	gen     int64
	list    []*profileView // by country name
	byOwner map[string]*profileView
}

// publisher names a SIC by its profile, or by its country in p's language
// while its profile has not arrived.
func (s *profileSet) publisher(p *locale.Printer, owner string) string {
	if pv := s.byOwner[owner]; pv != nil {
		return pv.Name
	}
	return p.T("portal.publisher.unnamed", "country", countryLabel(p, owner))
}

func (s *profileSet) country(code string) *profileView {
	for _, pv := range s.list {
		if pv.Country == code {
			return pv
		}
	}
	return nil
}

func (p *Portal) profiles(ctx context.Context) *profileSet {
	gen := p.gen.Load()
	if s := p.profileCache.Load(); s != nil && s.gen == gen {
		return s
	}
	p.profileMu.Lock()
	defer p.profileMu.Unlock()
	if s := p.profileCache.Load(); s != nil && s.gen == gen {
		return s
	}
	s := &profileSet{gen: gen, byOwner: map[string]*profileView{}}
	// A country's helpline must be its own SIC's: only a profile whose
	// owner the registry binds to its country is shown, and should two
	// qualify, the same one (the lowest id) every time.
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT owner, body FROM profiles ORDER BY id`)
	if err != nil {
		p.log.Warn("read profiles", "err", err)
		return s
	}
	defer rows.Close()
	byCountry := map[string]bool{}
	for rows.Next() {
		var owner, body string
		if err := rows.Scan(&owner, &body); err != nil {
			break
		}
		pv := &profileView{Owner: owner}
		if json.Unmarshal([]byte(body), &pv.Profile) != nil {
			continue
		}
		if byCountry[pv.Profile.Country] || !p.src.SpeaksFor(owner, pv.Profile.Country) {
			continue
		}
		byCountry[pv.Profile.Country] = true
		pv.Country, pv.CountryName = pv.Profile.Country, countryName(pv.Profile.Country)
		if s.byOwner[owner] == nil {
			s.byOwner[owner] = pv
		}
		s.list = append(s.list, pv)
	}
	slices.SortFunc(s.list, func(a, b *profileView) int {
		return cmp.Or(strings.Compare(a.CountryName, b.CountryName), strings.Compare(a.Country, b.Country))
	})
	p.profileCache.Store(s)
	return s
}

// humanSize is an attachment's size in the visitor's language, in whole
// units: a visitor choosing whether to download on a phone needs the order
// of magnitude, not decimals.
func humanSize(p *locale.Printer, n int64) string {
	round := func(unit int64) int { return int(max(1, (n+unit/2)/unit)) }
	switch {
	case n >= 1<<20:
		return p.T("portal.size.mb", "size", p.Number(round(1<<20)))
	case n >= 1<<10:
		return p.T("portal.size.kb", "size", p.Number(round(1<<10)))
	}
	return p.T("portal.size.bytes", "size", p.Number(int(n)))
}

func paragraphs(s string) []string {
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// link builds a path with query parameters.
func link(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// ogLocale is an interface language as Open Graph's og:locale writes it,
// language_TERRITORY, with the country the portal means by the language.
func ogLocale(lang string) string {
	switch lang {
	case locale.Fallback:
		return "en_GB"
	case "no":
		return "nb_NO"
	}
	if c := languageCountry[lang]; c != "" {
		return lang + "_" + strings.ToUpper(c)
	}
	return lang
}
