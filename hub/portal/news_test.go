package portal_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// newsNet is a hub with 45 public news posts (three pages), each a
// millisecond newer than the one before, the newest in Dutch, and a
// community post that no public surface may show.
func newsNet(t *testing.T) (n *testNet, newest string) {
	n = startHub(t)
	publish := func(title, text, lang string) string {
		// The news is ordered by time to the millisecond.
		for start := time.Now().UnixMilli(); time.Now().UnixMilli() == start; {
		}
		id, err := n.h.Publish(t.Context(), protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
			Title: title, Text: text, Language: lang, Author: protocol.Author{Name: "coordination", SIC: protocol.HubID}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for i := 1; i <= 44; i++ {
		publish(fmt.Sprintf("Network news %02d", i), fmt.Sprintf("Item %02d.\nIts second paragraph.", i), "en")
	}
	newest = publish("Safer Internet Day in Belgium", "Schools across Belgium took part.", "nl")
	n.node("be").push(draft{kind: "post", vis: "community", body: protocol.Post{Space: "awareness", Format: "blog", Title: "Members only zqxmarker",
		Text: "Not for the public zqxmarker.", Language: "en", Author: protocol.Author{Name: "Editor", SIC: "be"}}})
	n.waitIndexed()
	return n, newest
}

func TestPortal_NewsPaging(t *testing.T) {
	n, newest := newsNet(t)
	for _, c := range []struct {
		path, title, canonical, prev, next, pager string
		first, last                               string
	}{
		{"/news", "<title>News · Better Internet for Kids</title>", "/news", "", "/news?page=2", "Page 1 of 3", "Safer Internet Day in Belgium", "Network news 26"},
		{"/news?page=2", "<title>News, page 2 · Better Internet for Kids</title>", "/news?page=2", "/news", "/news?page=3", "Page 2 of 3", "Network news 25", "Network news 06"},
		{"/news?page=3", "<title>News, page 3 · Better Internet for Kids</title>", "/news?page=3", "/news?page=2", "", "Page 3 of 3", "Network news 05", "Network news 01"},
		{"/fr/news?page=2", "<title>Actualités, page 2 · Better Internet for Kids</title>", "/fr/news?page=2", "/fr/news", "/fr/news?page=3", "Page 2 sur 3", "Network news 25", "Network news 06"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp, body := n.get(c.path)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %s", c.path, resp.Status)
			}
			if got := strings.Count(body, `<li lang="`); c.pager != "Page 3 of 3" && got != 20 || c.pager == "Page 3 of 3" && got != 5 {
				t.Errorf("%d posts listed", got)
			}
			want := []string{c.title, `<link rel="canonical" href="` + n.url + c.canonical + `">`, c.pager, c.first, c.last}
			if c.prev != "" {
				want = append(want, `<link rel="prev" href="`+c.prev+`">`, `<a href="`+c.prev+`" rel="prev">`)
			} else if strings.Contains(body, `rel="prev"`) {
				t.Error("the first page has a previous page")
			}
			if c.next != "" {
				want = append(want, `<link rel="next" href="`+c.next+`">`, `<a href="`+c.next+`" rel="next">`)
			} else if strings.Contains(body, `rel="next"`) {
				t.Error("the last page has a next page")
			}
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %s", w)
				}
			}
			if strings.Contains(body, "zqxmarker") {
				t.Error("shows a community post")
			}
			if strings.Index(body, c.first) > strings.Index(body, c.last) {
				t.Error("not newest first")
			}
		})
	}
	if body := n.getOK("/news"); !strings.Contains(body, `href="/news/`+newest+`"`) || !strings.Contains(body, "Better Internet for Kids coordination team") {
		t.Errorf("the newest post is not linked, or not credited to the coordination team")
	}

	t.Run("a page that does not exist", func(t *testing.T) {
		for _, path := range []string{"/news?page=4", "/news?page=0", "/news?page=-1", "/news?page=two", "/news?page=", "/news?page=02", "/fr/news?page=9"} {
			resp, body := n.get(path)
			if resp.StatusCode != 404 || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %s, Cache-Control %q", path, resp.Status, resp.Header.Get("Cache-Control"))
			}
			want := "There is no such page of news."
			if strings.HasPrefix(path, "/fr/") {
				want = "Cette page d’actualités n’existe pas."
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s does not say the page does not exist", path)
			}
		}
	})

	t.Run("cached and conditional", func(t *testing.T) {
		resp, _ := n.get("/news?page=2")
		tag := resp.Header.Get("ETag")
		if tag == "" || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") {
			t.Fatalf("ETag %q, Cache-Control %q", tag, resp.Header.Get("Cache-Control"))
		}
		if r2, _ := n.get("/news?page=2", "If-None-Match: "+tag); r2.StatusCode != 304 {
			t.Errorf("If-None-Match: %s", r2.Status)
		}
		if r3, _ := n.get("/news?page=3", "If-None-Match: "+tag); r3.StatusCode != 200 {
			t.Errorf("another page answers %s to the second page's ETag", r3.Status)
		}
	})
}

func TestPortal_NewsFeeds(t *testing.T) {
	n, newest := newsNet(t)
	page := n.getOK("/news")
	for _, w := range []string{
		`<link rel="alternate" type="application/atom&#43;xml" title="News feed (Atom)" href="/news/feed.atom">`,
		`<link rel="alternate" type="application/rss&#43;xml" title="News feed (RSS)" href="/news/feed.rss">`,
		`<link rel="alternate" type="application/feed&#43;json" title="News feed (JSON Feed)" href="/news/feed.json">`,
		`Follow the news: <a href="/news/feed.atom">Atom</a>, <a href="/news/feed.rss">RSS</a>, <a href="/news/feed.json">JSON Feed</a>`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("the news page lacks %s", w)
		}
	}
	if fr := n.getOK("/fr/news"); !strings.Contains(fr, `title="Flux d’actualités (Atom)" href="/fr/news/feed.atom"`) {
		t.Error("the French news page does not link the French news feed")
	}
	if home := n.getOK("/resources"); !strings.Contains(home, `<a href="/news/feed.rss">News feed (RSS)</a>`) {
		t.Error("the footer does not list the news feeds")
	}

	t.Run("atom", func(t *testing.T) {
		resp, body := n.get("/news/feed.atom", "Accept-Language: fr")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s, %q, CORS %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Access-Control-Allow-Origin"))
		}
		var feed struct {
			Title   string `xml:"title"`
			Entries []struct {
				Title   string `xml:"title"`
				ID      string `xml:"id"`
				Content string `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal([]byte(body), &feed); err != nil {
			t.Fatal(err)
		}
		if feed.Title != "Better Internet for Kids: news" || len(feed.Entries) != 45 {
			t.Fatalf("title %q, %d entries", feed.Title, len(feed.Entries))
		}
		if e := feed.Entries[0]; e.ID != n.url+"/news/"+newest || e.Content != "Schools across Belgium took part." {
			t.Errorf("first entry %+v", e)
		}
		if feed.Entries[44].Content != "Item 01.\nIts second paragraph." {
			t.Errorf("last entry %+v", feed.Entries[44])
		}
	})
	t.Run("rss in French", func(t *testing.T) {
		body := n.getOK("/fr/news/feed.rss")
		for _, w := range []string{"<title>Better Internet for Kids\u00a0: actualités</title>", "<link>" + n.url + "/fr/news</link>",
			"<guid isPermaLink=\"true\">" + n.url + "/fr/news/" + newest + "</guid>", "Actualités du réseau"} {
			if !strings.Contains(body, w) {
				t.Errorf("lacks %s", w)
			}
		}
	})
	t.Run("json feed", func(t *testing.T) {
		var feed struct {
			Title   string `json:"title"`
			FeedURL string `json:"feed_url"`
			Items   []struct {
				URL, ContentText, Language string
				Authors                    []struct{ Name string }
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(n.getOK("/news/feed.json")), &feed); err != nil {
			t.Fatal(err)
		}
		if feed.Title != "Better Internet for Kids: news" || feed.FeedURL != n.url+"/news/feed.json" || len(feed.Items) != 45 {
			t.Fatalf("%q %q %d items", feed.Title, feed.FeedURL, len(feed.Items))
		}
		if it := feed.Items[1]; it.URL != n.url+"/news/"+newest && it.Language != "en" {
			t.Errorf("item %+v", it)
		}
	})
	t.Run("public only, conditional, portal-wide", func(t *testing.T) {
		for _, path := range []string{"/news/feed.atom", "/news/feed.rss", "/news/feed.json", "/de/news/feed.atom"} {
			resp, body := n.get(path)
			if strings.Contains(body, "zqxmarker") {
				t.Errorf("%s shows a community post", path)
			}
			if r2, _ := n.get(path, "If-None-Match: "+resp.Header.Get("ETag")); r2.StatusCode != 304 {
				t.Errorf("%s: If-None-Match: %s", path, r2.Status)
			}
			if r3, _ := n.get(path, "If-Modified-Since: "+resp.Header.Get("Last-Modified")); r3.StatusCode != 304 {
				t.Errorf("%s: If-Modified-Since: %s", path, r3.Status)
			}
		}
		if resp := n.getNoFollow("/news/feed.atom", "Accept-Language: de"); resp.StatusCode != 200 {
			t.Errorf("the news feed sends a German browser elsewhere: %s", resp.Status)
		}
		if resp, _ := n.get("/sid/news/feed.atom"); resp.StatusCode != 404 {
			t.Errorf("a minisite's news feed: %s", resp.Status)
		}
	})
}
