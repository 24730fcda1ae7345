package portal_test

import (
	"strings"
	"testing"
)

func TestPortal_Smoke(t *testing.T) {
	n := startHub(t)
	ids := n.seedSamples()
	for _, path := range []string{"/", "/resources", "/resources/" + ids["be-res-1"], "/resources/" + ids["be-res-1"] + "?lang=fr",
		"/services", "/news", "/directory", "/help?country=fi", "/sid/", "/youth/resources", "/pocc/",
		"/api/v1/resources", "/feed.atom", "/feed.rss", "/feed.json", "/news/feed.atom", "/news/feed.rss", "/news/feed.json", "/sitemap.xml", "/sitemaps/pages.xml", "/sitemaps/resources-1.xml",
		"/oai?verb=Identify", "/oai?verb=ListRecords&metadataPrefix=oai_dc", "/oai?verb=ListSets", "/robots.txt"} {
		body := n.getOK(path)
		if strings.Contains(body, "<no value>") {
			t.Errorf("%s: template printed <no value>", path)
		}
		if testing.Verbose() && (path == "/resources" || strings.HasPrefix(path, "/resources/")) {
			t.Logf("%s:\n%.3000s", path, body)
		}
	}
}

func TestPortal_Empty(t *testing.T) {
	n := startHub(t)
	for _, path := range []string{"/", "/resources", "/api/v1/resources", "/feed.json", "/sitemap.xml", "/oai?verb=Identify", "/help", "/directory", "/news", "/news/feed.atom", "/news/feed.json", "/services"} {
		n.getOK(path)
	}
}
