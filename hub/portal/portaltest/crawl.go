package portaltest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// linkPattern finds the URLs of HTML (href, src, action), XML (<loc>,
// <link href>), JSON ("url": …) and plain text (Sitemap: …) responses.
var linkPattern = regexp.MustCompile(`(?:href|src|action)="([^"]+)"|<loc>([^<]+)</loc>|"(?:url|next|feed_url|home_page_url)":"([^"]+)"|Sitemap: (\S+)`)

// Crawl visits every URL of base's host reachable from the start paths
// (breadth first, at most limit responses) and fails the test if any
// response, whatever its status, contains one of the forbidden strings. It
// returns the URLs it fetched. Links that leave the host are not followed.
func Crawl(t testing.TB, base string, start []string, limit int, forbidden ...string) []string {
	t.Helper()
	bu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var queue, fetched []string
	add := func(raw string, from *url.URL) {
		raw = strings.ReplaceAll(raw, "&amp;", "&")
		raw = strings.ReplaceAll(raw, `\u0026`, "&")
		u, err := from.Parse(raw)
		if err != nil || u.Host != bu.Host || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		u.Fragment = ""
		if !seen[u.String()] {
			seen[u.String()] = true
			queue = append(queue, u.String())
		}
	}
	for _, s := range start {
		add(s, bu)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for len(queue) > 0 && len(fetched) < limit {
		next := queue[0]
		queue = queue[1:]
		req, _ := http.NewRequestWithContext(t.Context(), "GET", next, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("crawl %s: %v", next, err)
		}
		var body []byte
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("crawl %s: %v", next, err)
			}
			r = zr
		}
		body, err = io.ReadAll(r)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("crawl %s: %v", next, err)
		}
		fetched = append(fetched, next)
		for _, f := range forbidden {
			if bytes.Contains(body, []byte(f)) || strings.Contains(strings.Join(headerValues(resp.Header), "\n"), f) {
				t.Errorf("%s (%s) contains %q", next, resp.Status, f)
			}
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			add(loc, resp.Request.URL)
		}
		for _, m := range linkPattern.FindAllSubmatch(body, -1) {
			for _, g := range m[1:] {
				if len(g) > 0 {
					add(string(g), resp.Request.URL)
				}
			}
		}
	}
	return fetched
}

func headerValues(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}
