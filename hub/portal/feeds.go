package portal

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"github.com/bikfed/bikfed/internal/locale"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// feedSize is how many resources a feed carries unless per_page says.
const feedSize = 50

// feedItem is one resource or news post in a feed, whatever the format.
// Content is the whole text, when the feed carries it.
type feedItem struct {
	URL, Title, Summary, Content, Lang, Author string
	Updated                                    time.Time
	Tags                                       []string
}

// handleFeed serves any gallery query as Atom, RSS 2.0 or JSON Feed 1.1.
func (p *Portal) handleFeed(w http.ResponseWriter, r *http.Request, q *req, format string) {
	v := r.URL.Query()
	if v.Get("per_page") == "" {
		v.Set("per_page", "50")
	}
	query, _ := parseQuery(v, q.site, false)
	params := query.encode()
	p.respond(w, r, q.key("feed-"+format)+"|"+params.Encode(), func() (*response, error) {
		ctx := r.Context()
		res, err := p.search(ctx, query)
		if err != nil {
			return nil, err
		}
		profiles := p.profiles(ctx)
		items := make([]feedItem, 0, len(res.Items))
		for _, row := range res.Items {
			items = append(items, feedItem{
				URL: q.base + q.prefix + "/resources/" + row.ID, Title: row.Title, Summary: summary(row.Description, 600),
				Lang: row.Language, Author: profiles.publisher(q.p, row.Owner), Updated: row.Updated,
				Tags: append([]string{row.Type}, row.Topics...),
			})
		}
		title := q.p.T("portal.feed.all")
		if q.site != "" {
			title = q.p.T("portal.feed.site", "site", minisiteView(q.p, q.site).Name)
		}
		if query.Text != "" {
			title = q.p.T("portal.feed.search", "feed", title, "text", query.Text)
		}
		self := q.base + link(q.prefix+"/feed."+format, params)
		home := q.base + link(q.prefix+"/resources", params)
		updated := p.lastModified()
		switch format {
		case "atom":
			return atomFeed(title, self, home, updated, items)
		case "rss":
			return rssFeed(title, q.p.T("portal.feed.description"), self, home, updated, items)
		}
		return jsonFeed(title, self, home, items)
	})
}

// handleNewsFeed serves the latest public news, the posts the news page
// lists, as Atom, RSS 2.0 or JSON Feed 1.1.
func (p *Portal) handleNewsFeed(w http.ResponseWriter, r *http.Request, q *req, format string) {
	p.respond(w, r, q.key("newsfeed-"+format), func() (*response, error) {
		news, err := p.news(r.Context(), q.p, feedSize, 0)
		if err != nil {
			return nil, err
		}
		items := make([]feedItem, 0, len(news))
		for _, n := range news {
			items = append(items, feedItem{URL: q.base + q.lp + "/news/" + n.ID, Title: n.Title, Summary: summary(n.Text, 600),
				Content: n.Text, Lang: n.Language, Author: n.Publisher, Updated: n.Updated})
		}
		title := q.p.T("portal.feed.news")
		self := q.base + q.lp + "/news/feed." + format
		home := q.base + q.lp + "/news"
		updated := p.lastModified()
		switch format {
		case "atom":
			return atomFeed(title, self, home, updated, items)
		case "rss":
			return rssFeed(title, q.p.T("portal.feed.news_description"), self, home, updated, items)
		}
		return jsonFeed(title, self, home, items)
	})
}

func xmlText(b *bytes.Buffer, s string) { xml.EscapeText(b, []byte(s)) }

// elem writes <name>text</name>.
func elem(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	xmlText(b, text)
	b.WriteString("</" + name + ">")
}

func atomFeed(title, self, home string, updated time.Time, items []feedItem) (*response, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<feed xmlns="http://www.w3.org/2005/Atom">`)
	elem(&b, "title", title)
	elem(&b, "id", self)
	b.WriteString(`<link rel="self" href="`)
	xmlText(&b, self)
	b.WriteString(`"/><link rel="alternate" type="text/html" href="`)
	xmlText(&b, home)
	b.WriteString(`"/>`)
	elem(&b, "updated", updated.Format(time.RFC3339))
	b.WriteString("<author><name>Better Internet for Kids</name></author>")
	for _, it := range items {
		b.WriteString("<entry>")
		b.WriteString(`<title xml:lang="`)
		xmlText(&b, it.Lang)
		b.WriteString(`">`)
		xmlText(&b, it.Title)
		b.WriteString("</title>")
		elem(&b, "id", it.URL)
		b.WriteString(`<link rel="alternate" type="text/html" hreflang="`)
		xmlText(&b, it.Lang)
		b.WriteString(`" href="`)
		xmlText(&b, it.URL)
		b.WriteString(`"/>`)
		elem(&b, "updated", it.Updated.Format(time.RFC3339))
		b.WriteString("<author>")
		elem(&b, "name", it.Author)
		b.WriteString("</author>")
		for _, t := range it.Tags {
			b.WriteString(`<category term="`)
			xmlText(&b, t)
			b.WriteString(`"/>`)
		}
		b.WriteString(`<summary xml:lang="`)
		xmlText(&b, it.Lang)
		b.WriteString(`">`)
		xmlText(&b, it.Summary)
		b.WriteString("</summary>")
		if it.Content != "" {
			b.WriteString(`<content type="text" xml:lang="`)
			xmlText(&b, it.Lang)
			b.WriteString(`">`)
			xmlText(&b, it.Content)
			b.WriteString("</content>")
		}
		b.WriteString("</entry>")
	}
	b.WriteString("</feed>\n")
	return &response{status: http.StatusOK, ctype: "application/atom+xml; charset=utf-8", body: b.Bytes()}, nil
}

func rssFeed(title, description, self, home string, updated time.Time, items []feedItem) (*response, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>`)
	elem(&b, "title", title)
	elem(&b, "link", home)
	elem(&b, "description", description)
	b.WriteString(`<atom:link rel="self" type="application/rss+xml" href="`)
	xmlText(&b, self)
	b.WriteString(`"/>`)
	elem(&b, "lastBuildDate", updated.Format(time.RFC1123Z))
	for _, it := range items {
		b.WriteString("<item>")
		elem(&b, "title", it.Title)
		elem(&b, "link", it.URL)
		b.WriteString(`<guid isPermaLink="true">`)
		xmlText(&b, it.URL)
		b.WriteString("</guid>")
		elem(&b, "pubDate", it.Updated.Format(time.RFC1123Z))
		elem(&b, "dc:creator", it.Author)
		elem(&b, "dc:language", it.Lang)
		for _, t := range it.Tags {
			elem(&b, "category", t)
		}
		elem(&b, "description", it.Summary)
		b.WriteString("</item>")
	}
	b.WriteString("</channel></rss>\n")
	return &response{status: http.StatusOK, ctype: "application/rss+xml; charset=utf-8", body: b.Bytes()}, nil
}

func jsonFeed(title, self, home string, items []feedItem) (*response, error) {
	type author struct {
		Name string `json:"name"`
	}
	type item struct {
		ID           string    `json:"id"`
		URL          string    `json:"url"`
		Title        string    `json:"title"`
		ContentText  string    `json:"content_text"`
		Summary      string    `json:"summary,omitempty"`
		DateModified time.Time `json:"date_modified"`
		Language     string    `json:"language"`
		Authors      []author  `json:"authors"`
		Tags         []string  `json:"tags"`
	}
	out := struct {
		Version     string `json:"version"`
		Title       string `json:"title"`
		HomePageURL string `json:"home_page_url"`
		FeedURL     string `json:"feed_url"`
		Items       []item `json:"items"`
	}{Version: "https://jsonfeed.org/version/1.1", Title: title, HomePageURL: home, FeedURL: self, Items: []item{}}
	for _, it := range items {
		i := item{ID: it.URL, URL: it.URL, Title: it.Title, ContentText: it.Summary,
			DateModified: it.Updated, Language: it.Lang, Authors: []author{{it.Author}}, Tags: it.Tags}
		if it.Content != "" {
			i.ContentText, i.Summary = it.Content, it.Summary
		}
		out.Items = append(out.Items, i)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, ctype: "application/feed+json", body: append(b, '\n')}, nil
}

// sitemapSize is how many resources one sitemap file covers, by rid range,
// so a file's URL keeps meaning the same resources as the index grows.
const sitemapSize = 5000

func (p *Portal) handleSitemapIndex(w http.ResponseWriter, r *http.Request, q *req) {
	p.respond(w, r, q.key("sitemap"), func() (*response, error) {
		rows, err := p.db.Reader().QueryContext(r.Context(), `SELECT (rid - 1) / ?, MAX(updated_at) FROM resources GROUP BY 1 ORDER BY 1`, sitemapSize)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		b.WriteString("<sitemap>")
		elem(&b, "loc", q.base+"/sitemaps/pages.xml")
		b.WriteString("</sitemap>")
		for rows.Next() {
			var n, last int64
			if err := rows.Scan(&n, &last); err != nil {
				return nil, err
			}
			b.WriteString("<sitemap>")
			elem(&b, "loc", q.base+"/sitemaps/resources-"+itoa(n+1)+".xml")
			elem(&b, "lastmod", time.UnixMilli(last).UTC().Format(time.RFC3339))
			b.WriteString("</sitemap>")
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		b.WriteString("</sitemapindex>\n")
		return &response{status: http.StatusOK, ctype: "application/xml; charset=utf-8", body: b.Bytes()}, nil
	})
}

func (p *Portal) handleSitemap(w http.ResponseWriter, r *http.Request, q *req, name string) {
	today := p.bulletinDay()
	p.respond(w, r, q.key("sitemap")+"|"+name+"|"+today, func() (*response, error) {
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
			`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">`)
		url1 := func(loc string, alts [][2]string) {
			b.WriteString("<url>")
			elem(&b, "loc", loc)
			for _, a := range alts {
				b.WriteString(`<xhtml:link rel="alternate" hreflang="`)
				xmlText(&b, a[0])
				b.WriteString(`" href="`)
				xmlText(&b, a[1])
				b.WriteString(`"/>`)
			}
			b.WriteString("</url>")
		}
		if name == "pages.xml" {
			paths := []string{"/", "/resources", "/videos", "/services", "/news", "/bulletin", "/directory", "/help", "/about", "/privacy", "/accessibility"}
			for _, s := range minisiteOrder {
				paths = append(paths, "/"+s+"/", "/"+s+"/resources")
			}
			paths = append(paths, "/sid/events", "/sid/archive")
			ids, err := p.eventIDs(r.Context())
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				paths = append(paths, "/sid/events/"+id)
			}
			news, err := p.news(r.Context(), p.langs.en, 1000, 0)
			if err != nil {
				return nil, err
			}
			for _, n := range news {
				paths = append(paths, "/news/"+n.ID)
			}
			services, err := p.services(r.Context())
			if err != nil {
				return nil, err
			}
			addr := addrs(services)
			for _, s := range services {
				paths = append(paths, "/services/"+addr[s])
			}
			editions, err := p.bulletins(r.Context(), today)
			if err != nil {
				return nil, err
			}
			for _, b := range editions {
				paths = append(paths, "/bulletin/"+b.Edition)
			}
			// Each page in every interface language, each naming the
			// others: English's address has no prefix.
			for _, path := range paths {
				alts := make([][2]string, 0, len(p.langs.list)+1)
				for _, l := range p.langs.list {
					href := q.base + "/" + l + path
					if l == locale.Fallback {
						href = q.base + path
					}
					alts = append(alts, [2]string{l, href})
				}
				alts = append(alts, [2]string{"x-default", q.base + path})
				for _, a := range alts[:len(alts)-1] {
					url1(a[1], alts)
				}
			}
		} else {
			num, ok := strings.CutPrefix(name, "resources-")
			num, ok2 := strings.CutSuffix(num, ".xml")
			n, err := atoiStrict(num)
			if !ok || !ok2 || err != nil || n < 1 {
				v := p.errorView(q, "")
				v.Data = q.p.T("portal.error.sitemap")
				return p.html("error", v, http.StatusNotFound)
			}
			rows, err := p.db.Reader().QueryContext(r.Context(), `SELECT r.id, r.language,
				(SELECT json_group_array(DISTINCT t.language) FROM translations t WHERE t.resource = r.id)
				FROM resources r WHERE r.rid > ? AND r.rid <= ? ORDER BY r.rid`, (n-1)*sitemapSize, n*sitemapSize)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			count := 0
			for rows.Next() {
				var id, lang, tlangs string
				if err := rows.Scan(&id, &lang, &tlangs); err != nil {
					return nil, err
				}
				self := q.base + "/resources/" + id
				langs := unionLangs(lang, jsonList(tlangs))
				alts := make([][2]string, 0, len(langs)+1)
				for _, l := range langs {
					href := self
					if l != lang {
						href += "?lang=" + url.QueryEscape(l)
					}
					alts = append(alts, [2]string{l, href})
				}
				alts = append(alts, [2]string{"x-default", self})
				for _, a := range alts[:len(alts)-1] {
					url1(a[1], alts)
				}
				count++
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			if count == 0 {
				v := p.errorView(q, "")
				v.Data = q.p.T("portal.error.sitemap")
				return p.html("error", v, http.StatusNotFound)
			}
		}
		b.WriteString("</urlset>\n")
		return &response{status: http.StatusOK, ctype: "application/xml; charset=utf-8", body: b.Bytes()}, nil
	})
}

func (p *Portal) handleRobots(w http.ResponseWriter, r *http.Request, q *req) {
	body := "User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /oai\n\nSitemap: " + q.base + "/sitemap.xml\n"
	p.respond(w, r, q.key("robots"), func() (*response, error) {
		return &response{status: http.StatusOK, ctype: "text/plain; charset=utf-8", body: []byte(body)}, nil
	})
}
