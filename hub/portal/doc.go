// Package portal is the public European portal of a bikfed hub: the resource
// gallery with full-text search and facets, resource pages in the visitor's
// language, the minisites (Safer Internet Day, BIK Youth, Positive Online
// Content), the guide to online services, news, the national SIC directory
// with "get help / report" on every page, and the machine-readable outputs of
// the same model: a JSON API, Atom/RSS/JSON Feed, sitemaps with hreflang,
// schema.org JSON-LD and an OAI-PMH 2.0 endpoint (Dublin Core, and IEEE LOM
// in the LRE application profile).
//
// The portal never reads the aggregate on a request. An indexer follows the
// hub_seq of its Source (the hub's aggregate, or a mirror's copy of the
// public part of it) off the apply path, keeps only what is shown
// (protocol.Change.ShownAt, and a translation only with its resource) in its
// own SQLite file (<datadir>/portal.db, rebuildable at any time), and keeps
// the facet sets in memory as bitsets. Every public page, the JSON API and
// the hub's public files read only that index, so nothing that is not public
// can reach a public surface, and the hub and its mirrors show the same.
//
// Routes (Handler), each also under a minisite prefix (/sid, /youth, /pocc)
// where it makes sense, or on a minisite host name (Config.MinisiteHosts):
//
//	GET /                                  home, or a minisite's landing page
//	GET /resources?q=&lang=&age=&topic=&type=&audience=&country=&minisite=&sort=&page=
//	GET /resources/{id}[?lang=]            a resource in the chosen language
//	GET /videos?q=&lang=&age=&topic=&audience=&sort=&page=  the video gallery
//	GET /services?q=&category=&age=&feature=  the guide to online services
//	GET /services/{slug}                   one service of the guide
//	GET /news[?page=], /news/{id}          news from the network, 20 a page
//	GET /news/feed.atom, .rss, .json       the latest news as a feed
//	GET /directory                         the national SIC directory
//	GET /help[?country=]                   get help / report: helpline and hotline
//	GET /api/v1/resources?…                the gallery as JSON, with facets
//	GET /api/v1/resources/{id}             one resource with its translations
//	GET /api/v1/entities?kind=&owner=&lang=&limit=&after=  shown entities as signed
//	GET /api/v1/entities/{id}              one shown entity
//	GET /api/v1/resources/{id}/translations  a resource's shown translations
//	GET /feed.atom, /feed.rss, /feed.json  any gallery query as a feed
//	GET /sitemap.xml, /sitemaps/…          sitemaps with hreflang alternates
//	GET /robots.txt
//	GET|POST /oai                          OAI-PMH 2.0, oai_dc and IEEE LOM (lom)
//	GET /static/…                          the stylesheet
package portal
