package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

// securityHeaders go on every portal response, after its
// Content-Security-Policy (contentPolicy).
var securityHeaders = [][2]string{
	{"Referrer-Policy", "strict-origin-when-cross-origin"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
}

// contentPolicy is the portal's Content-Security-Policy. The portal runs no
// script: its one <script> element is JSON-LD, a data block that script-src
// does not govern, so script-src 'none' costs nothing and stops any injected
// script. Styles come only from the portal's own stylesheet. Images and media
// may also come from mediaOrigins, where the hub redirects downloads of
// attachments (presigned URLs of its object store): without them a video's
// player and poster would be blocked.
func contentPolicy(mediaOrigins []string) string {
	media := ""
	if len(mediaOrigins) > 0 {
		src := "'self' " + strings.Join(mediaOrigins, " ")
		media = "; img-src " + src + "; media-src " + src
	}
	return "default-src 'self'" + media + "; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}

// openData reports whether path is one of the portal's machine-readable
// outputs that browsers may read across origins: the JSON API and the
// feeds (of the portal and of its minisites).
func openData(path string) bool {
	return strings.HasPrefix(path, "/api/") || isFeed(path)
}

// Handler returns the portal's HTTP handler, to be mounted at "/".
func (p *Portal) Handler() http.Handler { return http.HandlerFunc(p.serveHTTP) }

func (p *Portal) serveHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", p.csp)
	for _, kv := range securityHeaders {
		hd.Set(kv[0], kv[1])
	}
	q := p.newReq(r)
	if openData(q.path) {
		// The JSON API and the feeds are public data that any site's script
		// may read: no credentials are ever involved, so any origin will do.
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", "ETag, Last-Modified, Link")
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, HEAD")
			hd.Set("Access-Control-Allow-Headers", "Accept, Accept-Language, If-None-Match, If-Modified-Since")
			hd.Set("Access-Control-Max-Age", "86400")
			hd.Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if q.chosen && !isPage(q.path) && !isFeed(q.path) {
		// Machine-readable outputs have one address, for every language.
		p.notFound(w, r, q, http.StatusNotFound)
		return
	}
	if q.path == "/oai" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, HEAD, POST")
			p.notFound(w, r, q, http.StatusMethodNotAllowed)
			return
		}
		p.handleOAI(w, r, q)
		return
	}
	if step, ok := bulletinPath(q.path); ok && isBulletinStep(step) && q.sp == "" && r.Method == http.MethodPost {
		p.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.handleBulletinPost(w, r, q, step)
		})).ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		p.notFound(w, r, q, http.StatusMethodNotAllowed)
		return
	}
	if q.prefix != "" && q.path == "" {
		http.Redirect(w, r, q.prefix+"/", http.StatusMovedPermanently)
		return
	}
	if isPage(q.path) {
		// A page speaks the visitor's language: an address without one
		// sends a visitor whose browser asks for another to that
		// language's address, and serves English otherwise.
		hd.Add("Vary", "Accept-Language")
		if !q.chosen && q.lang != locale.Fallback {
			target := "/" + q.lang + r.URL.Path
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
	}
	path := q.path
	switch {
	case q.site == "sid" && isSIDPath(path):
		p.serveSID(w, r, q, path)
	case path == "/":
		p.handleHome(w, r, q)
	case path == "/resources":
		p.handleGallery(w, r, q)
	case strings.HasPrefix(path, "/resources/"):
		p.handleResource(w, r, q, strings.TrimPrefix(path, "/resources/"))
	case path == "/feed.atom", path == "/feed.rss", path == "/feed.json":
		p.handleFeed(w, r, q, strings.TrimPrefix(path, "/feed."))
	case q.sp != "":
		// Everything else belongs to the portal as a whole.
		p.notFound(w, r, q, http.StatusNotFound)
	case path == "/videos":
		p.handleVideos(w, r, q)
	case path == "/services":
		p.handleServices(w, r, q)
	case strings.HasPrefix(path, "/services/"):
		p.handleService(w, r, q, strings.TrimPrefix(path, "/services/"))
	case path == "/news":
		p.handleNews(w, r, q)
	case path == "/news/feed.atom", path == "/news/feed.rss", path == "/news/feed.json":
		p.handleNewsFeed(w, r, q, strings.TrimPrefix(path, "/news/feed."))
	case strings.HasPrefix(path, "/news/"):
		p.handlePost(w, r, q, strings.TrimPrefix(path, "/news/"))
	case path == "/bulletin":
		p.handleBulletins(w, r, q)
	case strings.HasPrefix(path, "/bulletin/"):
		if rest, _ := bulletinPath(path); isBulletinStep(rest) {
			p.handleBulletinStep(w, r, q, rest)
		} else {
			p.handleBulletin(w, r, q, rest)
		}
	case path == "/directory":
		p.handleDirectory(w, r, q)
	case path == "/help":
		p.handleHelp(w, r, q)
	case textPages[path] != "":
		p.handleText(w, r, q, path)
	case path == "/api/v1/resources":
		p.handleAPISearch(w, r, q)
	case path == "/api/v1/entities":
		p.handleAPIEntities(w, r, q)
	case strings.HasPrefix(path, "/api/v1/entities/"):
		p.handleAPIEntity(w, r, q, strings.TrimPrefix(path, "/api/v1/entities/"))
	case strings.HasPrefix(path, "/api/v1/resources/") && strings.HasSuffix(path, "/translations"):
		p.handleAPITranslations(w, r, q, strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/resources/"), "/translations"))
	case strings.HasPrefix(path, "/api/v1/resources/"):
		p.handleAPIResource(w, r, q, strings.TrimPrefix(path, "/api/v1/resources/"))
	case path == "/sitemap.xml":
		p.handleSitemapIndex(w, r, q)
	case strings.HasPrefix(path, "/sitemaps/"):
		p.handleSitemap(w, r, q, strings.TrimPrefix(path, "/sitemaps/"))
	case path == "/robots.txt":
		p.handleRobots(w, r, q)
	case p.static.byPath[path].body != nil:
		f := p.static.byPath[path]
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		p.write(w, r, &response{status: http.StatusOK, ctype: f.ctype, body: f.body})
	default:
		p.notFound(w, r, q, http.StatusNotFound)
	}
}

func (p *Portal) newReq(r *http.Request) *req {
	q := &req{r: r, path: r.URL.Path, host: r.Host}
	if lang, rest, ok := p.langs.splitLang(q.path); ok {
		q.lang, q.chosen, q.lp, q.prefix, q.path = lang, true, "/"+lang, "/"+lang, rest
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	q.site = p.cfg.MinisiteHosts[strings.ToLower(host)]
	if q.site == "" {
		for _, s := range minisiteOrder {
			if q.path == "/"+s || strings.HasPrefix(q.path, "/"+s+"/") {
				q.site, q.sp, q.path = s, "/"+s, strings.TrimPrefix(q.path, "/"+s)
				q.prefix += q.sp
				break
			}
		}
	}
	q.prefs = parseAcceptLanguage(r.Header.Get("Accept-Language"))
	switch {
	case q.chosen:
	case isPage(q.path):
		q.lang = p.langs.bundle.Match(r.Header.Get("Accept-Language"))
	default:
		// Machine-readable outputs have one address and speak English.
		q.lang = locale.Fallback
	}
	q.p = p.langs.bundle.Printer(q.lang)
	if p.cfg.PublicURL != "" {
		q.base = p.cfg.PublicURL
	} else {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		q.base = scheme + "://" + r.Host
	}
	return q
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request, q *req, status int) {
	v := p.errorView(q, "")
	v.Data = q.p.T("portal.error.notfound.text")
	if status == http.StatusMethodNotAllowed {
		v.Title, v.Data = q.p.T("portal.error.method.title"), q.p.T("portal.error.method.text")
	}
	res, err := p.html("error", v, status)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	p.write(w, r, res)
}

// serverError logs err and answers a generic page: no internal detail, and
// nothing from the request, reaches the visitor.
func (p *Portal) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		p.log.Error("portal request failed", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte(p.langs.en.T("portal.error.server") + "\n"))
}

type homeData struct {
	Latest []template.HTML
	Total  int
	News   []newsItem
}

func (p *Portal) handleHome(w http.ResponseWriter, r *http.Request, q *req) {
	p.respond(w, r, q.key("home"), func() (*response, error) {
		ctx := r.Context()
		query, _ := parseQuery(url.Values{"per_page": {"6"}}, q.site, false)
		query.prefer = q.lang
		res, err := p.search(ctx, query)
		if err != nil {
			return nil, err
		}
		title := q.p.T("portal.site.name")
		if q.site != "" {
			title = minisiteView(q.p, q.site).Name
		}
		v := p.newView(q, title, "")
		v.Description = q.p.T("portal.home.description")
		v.Canonical = q.canonical(q.sp + "/")
		d := homeData{Total: res.Total}
		cards, err := p.cards(ctx, q, res.Items)
		if err != nil {
			return nil, err
		}
		if d.Latest, err = p.renderCards("home", cards, nil); err != nil {
			return nil, err
		}
		if q.site == "" {
			if d.News, err = p.news(ctx, q.p, 3, 0); err != nil {
				return nil, err
			}
		}
		v.Data = d
		return p.html("home", v, http.StatusOK)
	})
}

type option struct {
	Value, Label string
	Selected     bool
}

type hiddenField struct{ Name, Value string }

type anchor struct{ Href, Label string }

type facetView struct {
	Param, Title string
	Values       []facetValueView
}

type facetValueView struct {
	Href, Label, Lang string
	Count             int
	Selected          bool
}

// searchHelp is the help box above the results of a search for distress:
// the visitor's country's helpline when the network has its SIC, and the
// European numbers always.
type searchHelp struct {
	Country  *countryHelp
	HelpHref string
}

type galleryData struct {
	// Action is the gallery's own address, where its search form goes.
	Action string
	Text   string
	Hidden []hiddenField
	Sorts  []option
	Facets []facetView
	Clear  string
	// Help is the help box a search for distress shows first.
	Help  *searchHelp
	Total int
	// Suggest and Topics are what a search that found nothing offers: the
	// search spelled as the index knows its words, and topics to browse.
	Suggest *anchor
	Topics  []anchor
	Cards   []template.HTML
	// FacetsHTML is the filters, rendered by the "facets" template.
	FacetsHTML                       template.HTML
	Page, Pages                      int
	Prev, Next                       string
	FeedAtom, FeedRSS, FeedJSON, API string
}

// galleryView is one of the portal's galleries: every resource
// (/resources) or those of one type (/videos).
type galleryView struct {
	// path is the gallery's path under the language and minisite prefix,
	// section its place in the navigation, kind the type it shows ("" for
	// all), title the message id of its title.
	path, section, kind, title string
	// facets are the filters it offers, in order (-1: age).
	facets []facet
	// feeds tells whether it links the feeds and the API, which have no
	// view of one type.
	feeds bool
}

var (
	resourcesGallery = galleryView{path: "/resources", section: "resources", title: "portal.gallery.title", facets: facetOrder, feeds: true}
	videosGallery    = galleryView{path: "/videos", section: "videos", kind: "video", title: "portal.videos.title",
		facets: []facet{facetLang, -1, facetTopic, facetAudience}}
)

func (p *Portal) handleGallery(w http.ResponseWriter, r *http.Request, q *req) {
	p.gallery(w, r, q, &resourcesGallery)
}

func (p *Portal) handleVideos(w http.ResponseWriter, r *http.Request, q *req) {
	p.gallery(w, r, q, &videosGallery)
}

func (p *Portal) gallery(w http.ResponseWriter, r *http.Request, q *req, g *galleryView) {
	query, _ := parseQuery(r.URL.Query(), q.site, false)
	query.prefer = q.lang
	if g.kind != "" {
		query.ofKind(g.kind)
	}
	// A search for distress puts help first, the visitor's country's.
	key, help := q.key("gallery")+"|"+g.path+"|"+string(query.appendParams(nil)), ""
	if p.inDistress(query.Text) {
		help = cmp.Or(visitorCountry(q, ""), "-")
		key += "|help=" + help
	}
	p.respond(w, r, key, func() (*response, error) {
		ctx := r.Context()
		res, err := p.search(ctx, query)
		if err != nil {
			return nil, err
		}
		title := q.p.T(g.title)
		// A minisite's own host name has the video gallery too, of the
		// minisite's videos; its title is the page's, as its navigation
		// names it.
		if q.site != "" && g.kind == "" {
			title = q.p.T("portal.gallery.site_title", "site", minisiteView(q.p, q.site).Name)
		}
		if query.Text != "" {
			// A search's results are named by what was searched.
			title = q.p.T("portal.gallery.title_search", "text", query.Text)
		}
		v := p.newView(q, title, g.section)
		path := q.prefix + g.path
		v.Canonical = q.canonical(query.link(q.sp + g.path))
		d := galleryData{Action: path, Text: query.Text, Total: res.Total, Page: query.Page}
		if help != "" {
			d.Help = &searchHelp{HelpHref: q.lp + "/help"}
			if isHelpCountry(help) {
				mine, _ := helpList(q.p, p.profiles(ctx), help)
				d.Help.Country = mine
				d.Help.HelpHref += "?country=" + help
			}
		}
		if res.Total == 0 && query.Text != "" {
			if err := p.suggest(ctx, q, query, path, &d); err != nil {
				return nil, err
			}
		}
		cardsKey := newKeyHash()
		cards, err := p.cards(ctx, q, res.Items)
		if err != nil {
			return nil, err
		}
		if d.Cards, err = p.renderCards("gallery", cards, cardsKey); err != nil {
			return nil, err
		}
		for k, vals := range query.encode() {
			if k == "q" || k == "page" || k == "sort" {
				continue
			}
			for _, val := range vals {
				d.Hidden = append(d.Hidden, hiddenField{k, val})
			}
		}
		slices.SortFunc(d.Hidden, func(a, b hiddenField) int { return strings.Compare(a.Name+a.Value, b.Name+b.Value) })
		// The default order is sent as no order at all, so that a visitor
		// who types a search in a gallery sorted newest first (the default
		// without words) gets relevance (the default with them).
		def := query.defaultSort()
		for _, s := range []struct{ v, l string }{{sortRelevance, "portal.gallery.sort.relevance"}, {sortNewest, "portal.gallery.sort.newest"}, {sortOldest, "portal.gallery.sort.oldest"}, {sortTitle, "portal.gallery.sort.title"}} {
			switch {
			case s.v == def:
				d.Sorts = slices.Insert(d.Sorts, 0, option{"", q.p.T(s.l), query.Sort == s.v})
			case s.v != sortRelevance || query.Text != "":
				d.Sorts = append(d.Sorts, option{s.v, q.p.T(s.l), query.Sort == s.v})
			}
		}
		if query.filtered() {
			d.Clear = path
		}
		facets := struct {
			Clear  string
			Facets []facetView
			P      *locale.Printer
			// Open shows the filters unfolded when one is chosen.
			Open bool
		}{d.Clear, p.facetViews(ctx, q, path, query, &res.hits, g.facets), q.p, false}
		for _, f := range facets.Facets {
			for _, fv := range f.Values {
				facets.Open = facets.Open || fv.Selected
			}
		}
		fk := facetsKey(q.lang, d.Clear, facets.Facets)
		facetsSum := fk.sum()
		if d.FacetsHTML, err = p.fragment("gallery", "facets", fk, facets); err != nil {
			return nil, err
		}
		d.Pages = max(1, (res.Total+query.PerPage-1)/query.PerPage)
		if query.Page > 1 {
			d.Prev = query.withPage(query.Page - 1).link(path)
		}
		if query.Page < d.Pages && query.Page < maxPage {
			d.Next = query.withPage(query.Page + 1).link(path)
		}
		if g.feeds {
			first := query.withPage(1)
			d.FeedAtom = first.link(q.prefix + "/feed.atom")
			d.FeedRSS = first.link(q.prefix + "/feed.rss")
			d.FeedJSON = first.link(q.prefix + "/feed.json")
			// The API has no minisite views: the minisite is a parameter there.
			api := *query
			api.site = ""
			d.API = api.link("/api/v1/resources")
			v.Feeds = []feedLink{
				{"application/atom+xml", q.p.T("portal.gallery.feed.atom"), d.FeedAtom},
				{"application/rss+xml", q.p.T("portal.gallery.feed.rss"), d.FeedRSS},
				{"application/feed+json", q.p.T("portal.gallery.feed.json"), d.FeedJSON},
			}
		}
		v.Data = d
		if v.ContentHTML, err = p.fragment("gallery", "gallerybody", galleryKey(v, &d, cardsKey.sum(), facetsSum), v); err != nil {
			return nil, err
		}
		return p.html("gallery", v, http.StatusOK)
	})
}

// suggestedTopics is how many topics a search that found nothing offers.
const suggestedTopics = 8

// suggest fills in what a search that found nothing offers: the closest
// spelling the index knows, when searching for it finds something, and the
// topics with the most resources.
func (p *Portal) suggest(ctx context.Context, q *req, query *Query, path string, d *galleryData) error {
	text, err := p.suggestSpelling(ctx, query.Text)
	if err != nil {
		return err
	}
	if text != "" {
		sq := *query
		sq.Text, sq.Page = text, 1
		if res, err := p.search(ctx, &sq); err != nil {
			return err
		} else if res.Total > 0 {
			d.Suggest = &anchor{sq.link(path), text}
		}
	}
	for _, fc := range p.eng.largest(facetTopic, suggestedTopics) {
		d.Topics = append(d.Topics, anchor{path + "?topic=" + url.QueryEscape(fc.Value), vocabLabel(q.p, "topic", fc.Value)})
	}
	return nil
}

// facetOrder is how the gallery lists the facets.
var facetOrder = []facet{facetLang, -1, facetTopic, facetType, facetAudience, facetCountry, facetMinisite}

func (p *Portal) facetViews(ctx context.Context, q *req, path string, query *Query, h *hits, order []facet) []facetView {
	profiles := p.profiles(ctx)
	out := make([]facetView, 0, len(order))
	// Every link is written in buf first, with the toggled values in vals.
	var buf []byte
	vals := make([]string, 0, maxFacetValues+1)
	for _, f := range order {
		if f < 0 {
			fv := facetView{Param: "age", Title: q.p.T("portal.facet.age")}
			for i, b := range ageBuckets {
				fc := h.Ages[i]
				if fc.Count == 0 && !fc.Selected {
					continue
				}
				fv.Values = append(fv.Values, facetValueView{Href: string(query.toggleAge(b.lo, b.hi).appendLink(buf[:0], path)),
					Label: b.label, Count: fc.Count, Selected: fc.Selected})
			}
			out = append(out, fv)
			continue
		}
		if f == facetMinisite && query.site != "" {
			continue
		}
		fv := facetView{Param: facetParams[f], Title: q.p.T(facetTitles[f]), Values: make([]facetValueView, 0, len(h.Facets[f]))}
		for _, fc := range h.Facets[f] {
			t := query.toggle(f, fc.Value, vals)
			buf = t.appendLink(buf[:0], path)
			vv := facetValueView{Href: string(buf), Count: fc.Count, Selected: fc.Selected}
			switch f {
			case facetLang:
				vv.Label, vv.Lang = languageName(fc.Value), fc.Value
			case facetCountry:
				vv.Label = profiles.publisher(q.p, fc.Value)
				if pv := profiles.byOwner[fc.Value]; pv != nil {
					vv.Label = pv.CountryName
				}
			case facetMinisite:
				vv.Label = minisiteView(q.p, fc.Value).Name
			default:
				vv.Label = vocabLabel(q.p, facetVocab[f], fc.Value)
			}
			fv.Values = append(fv.Values, vv)
		}
		out = append(out, fv)
	}
	return out
}

// facetTitles are the facets' titles' message ids, and facetVocab the
// vocabularies of their labels.
var (
	facetTitles = [numFacets]string{"portal.facet.language", "portal.facet.topic", "portal.facet.type", "portal.facet.audience", "portal.facet.country", "portal.facet.minisite"}
	facetVocab  = [numFacets]string{"", "topic", "type", "audience", "", ""}
)

// newsItem is a public news post.
type newsItem struct {
	ID, Title, Language, Date, ISO, Publisher, Summary string
	Paragraphs                                         []string
	Updated                                            time.Time
	Text                                               string
	Owner                                              string
}

// news reads public news posts, newest first, from the offset-th.
func (p *Portal) news(ctx context.Context, pr *locale.Printer, limit, offset int) ([]newsItem, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id, owner, updated_at, body FROM news ORDER BY updated_at DESC, id LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	profiles := p.profiles(ctx)
	var out []newsItem
	for rows.Next() {
		var n newsItem
		var updated int64
		var body string
		if err := rows.Scan(&n.ID, &n.Owner, &updated, &body); err != nil {
			return nil, err
		}
		var post protocol.Post
		if json.Unmarshal([]byte(body), &post) != nil {
			continue
		}
		n.fill(pr, &post, updated, profiles)
		out = append(out, n)
	}
	return out, rows.Err()
}

func (n *newsItem) fill(pr *locale.Printer, post *protocol.Post, updated int64, profiles *profileSet) {
	n.Updated = time.UnixMilli(updated).UTC()
	n.Title, n.Language, n.Text = post.Title, post.Language, post.Text
	n.Date, n.ISO = pr.Date(n.Updated), n.Updated.Format(time.RFC3339)
	n.Summary = summary(post.Text, 280)
	n.Paragraphs = paragraphs(post.Text)
	if n.Owner == protocol.HubID {
		n.Publisher = pr.T("portal.news.coordination")
	} else {
		n.Publisher = profiles.publisher(pr, n.Owner)
	}
}

// newsPageSize is how many posts a page of the news lists.
const newsPageSize = 20

type newsData struct {
	Items                       []newsItem
	Page, Pages                 int
	Prev, Next                  string
	FeedAtom, FeedRSS, FeedJSON string
}

// newsPage is the address of a page of the news: the first has no number.
func newsPage(path string, page int) string {
	if page <= 1 {
		return path
	}
	return path + "?page=" + strconv.Itoa(page)
}

func (p *Portal) handleNews(w http.ResponseWriter, r *http.Request, q *req) {
	// Anything but a page number is a page that does not exist (0).
	page := 1
	if v := r.URL.Query(); v.Has("page") {
		page = 0
		if n, err := atoiStrict(v.Get("page")); err == nil && n >= 1 {
			page = n
		}
	}
	p.respond(w, r, q.key("news")+"|"+strconv.Itoa(page), func() (*response, error) {
		ctx := r.Context()
		var total int
		if err := p.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM news`).Scan(&total); err != nil {
			return nil, err
		}
		pages := max(1, (total+newsPageSize-1)/newsPageSize)
		if page < 1 || page > pages {
			v := p.errorView(q, "news")
			v.Data = q.p.T("portal.error.news_page")
			return p.html("error", v, http.StatusNotFound)
		}
		items, err := p.news(ctx, q.p, newsPageSize, (page-1)*newsPageSize)
		if err != nil {
			return nil, err
		}
		title := q.p.T("portal.news.title")
		if page > 1 {
			// Each page has a title of its own.
			title = q.p.T("portal.news.title_page", "page", page)
		}
		v := p.newView(q, title, "news")
		v.Canonical = q.canonical(newsPage("/news", page))
		path := q.lp + "/news"
		d := newsData{Items: items, Page: page, Pages: pages,
			FeedAtom: path + "/feed.atom", FeedRSS: path + "/feed.rss", FeedJSON: path + "/feed.json"}
		if page > 1 {
			d.Prev = newsPage(path, page-1)
		}
		if page < pages {
			d.Next = newsPage(path, page+1)
		}
		v.PrevHref, v.NextHref = d.Prev, d.Next
		v.Feeds = append([]feedLink{
			{"application/atom+xml", q.p.T("portal.news.feed", "format", "Atom"), d.FeedAtom},
			{"application/rss+xml", q.p.T("portal.news.feed", "format", "RSS"), d.FeedRSS},
			{"application/feed+json", q.p.T("portal.news.feed", "format", "JSON Feed"), d.FeedJSON},
		}, v.Feeds...)
		v.Data = d
		return p.html("news", v, http.StatusOK)
	})
}

func (p *Portal) handlePost(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("post")+"|"+id, func() (*response, error) {
		ctx := r.Context()
		var n newsItem
		var updated int64
		var body string
		err := p.db.Reader().QueryRowContext(ctx, `SELECT id, owner, updated_at, body FROM news WHERE id = ?`, id).Scan(&n.ID, &n.Owner, &updated, &body)
		var post protocol.Post
		if err != nil || json.Unmarshal([]byte(body), &post) != nil {
			v := p.errorView(q, "news")
			v.Data = q.p.T("portal.error.news")
			return p.html("error", v, http.StatusNotFound)
		}
		n.fill(q.p, &post, updated, p.profiles(ctx))
		v := p.newView(q, n.Title, "news")
		v.Canonical = q.canonical("/news/" + n.ID)
		v.Data = n
		return p.html("post", v, http.StatusOK)
	})
}

func (p *Portal) handleDirectory(w http.ResponseWriter, r *http.Request, q *req) {
	p.respond(w, r, q.key("directory"), func() (*response, error) {
		v := p.newView(q, q.p.T("portal.directory.title"), "directory")
		v.Canonical = q.canonical("/directory")
		list := p.profiles(r.Context()).list
		sics := make([]sicView, 0, len(list))
		for _, pv := range list {
			sics = append(sics, sicView{pv, countryLabel(q.p, pv.Country), q.p})
		}
		v.Data = sics
		return p.html("directory", v, http.StatusOK)
	})
}

// sicView is a SIC's signposting with its country's name in the
// interface's language, and the interface's text for the "sic" template.
type sicView struct {
	*profileView
	CountryLabel string
	P            *locale.Printer
}

type helpData struct {
	Countries []countryOption
	// Mine is the visitor's country, nil when it is not known; Others
	// are every other country.
	Mine   *countryHelp
	Others []countryHelp
}

type countryOption struct {
	Code, Name string
	Selected   bool
}

func (p *Portal) handleHelp(w http.ResponseWriter, r *http.Request, q *req) {
	asked := strings.ToLower(r.URL.Query().Get("country"))
	if !isHelpCountry(asked) {
		asked = ""
	}
	country := visitorCountry(q, asked)
	p.respond(w, r, q.key("help")+"|"+country+"|"+asked, func() (*response, error) {
		mine, others := helpList(q.p, p.profiles(r.Context()), country)
		d := helpData{Mine: mine, Others: others}
		all := append(slices.Clone(others), countryHelp{})
		if mine != nil {
			all[len(all)-1] = *mine
		} else {
			all = all[:len(all)-1]
		}
		col := collatorFor(q.p)
		slices.SortFunc(all, func(a, b countryHelp) int { return col.CompareString(a.Name, b.Name) })
		for _, c := range all {
			d.Countries = append(d.Countries, countryOption{c.Code, c.Name, c.Code == country})
		}
		title := q.p.T("portal.help.title")
		if mine != nil && asked != "" {
			title = q.p.T("portal.help.title_country", "country", mine.Name)
		}
		v := p.newView(q, title, "help")
		v.Canonical = q.canonical("/help")
		if asked != "" {
			v.Canonical += "?country=" + asked
		}
		v.Data = d
		return p.html("help", v, http.StatusOK)
	})
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// textPages are the portal's pages of plain text, by path: each the
// catalogue's <id>.title and its paragraphs <id>.p1, p2….
var textPages = map[string]string{"/about": "portal.about", "/privacy": "portal.privacy", "/accessibility": "portal.a11y"}

func (p *Portal) handleText(w http.ResponseWriter, r *http.Request, q *req, path string) {
	p.respond(w, r, q.key("text")+"|"+path, func() (*response, error) {
		id := textPages[path]
		v := p.newView(q, q.p.T(id+".title"), "")
		v.Canonical = q.canonical(path)
		var paras []string
		for i := 1; ; i++ {
			k := id + ".p" + strconv.Itoa(i)
			s := q.p.T(k)
			if s == k {
				break
			}
			paras = append(paras, s)
		}
		v.Data = paras
		return p.html("text", v, http.StatusOK)
	})
}
