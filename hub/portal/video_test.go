package portal_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// videoNet is a hub with video resources of two SICs: one with a poster and
// captions in two languages, one with the video alone, a video resource
// without a video file, a community video and a guide.
func videoNet(t *testing.T) (n *testNet, ids map[string]string, files map[string]protocol.BlobRef) {
	n = startHub(t, func(c *hubConfig) { c.MinisiteHosts = map[string]string{"saferinternetday.localhost": "sid"} })
	be, fi := n.node("be"), n.node("fi")
	files = map[string]protocol.BlobRef{
		"webm":   be.upload([]byte("\x1aE\xdf\xa3 a webm video"), "clip.webm", "video/webm"),
		"poster": be.upload([]byte("\x89PNG a poster"), "poster.png", "image/png"),
		"en":     be.upload([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"), "clip.en.vtt", "text/vtt"),
		"fr":     be.upload([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\nBonjour\n"), "clip.fr.vtt", "text/vtt"),
		"mp4":    fi.upload([]byte("\x00\x00\x00\x18ftypmp42 an mp4 video"), "video.mp4", "video/mp4"),
		"pdf":    fi.upload([]byte("%PDF-1.4 a transcript"), "transcript.pdf", "application/pdf"),
		"secret": be.upload([]byte("\x1aE\xdf\xa3 a members' video"), "members.webm", "video/webm"),
	}
	ids = map[string]string{}
	r := be.push(
		draft{kind: "resource", vis: "public", blobs: []protocol.BlobRef{files["webm"], files["poster"], files["en"], files["fr"]},
			body: resourceBody("Passwords explained", "en", []string{"en", "fr"}, 8, 12, "video", []string{"privacy"})},
		draft{kind: "resource", vis: "community", blobs: []protocol.BlobRef{files["secret"]},
			body: resourceBody("Members video", "en", []string{"en"}, 8, 12, "video", []string{"privacy"})},
		draft{kind: "resource", vis: "public", body: resourceBody("Passwords guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})},
	)
	ids["captioned"], ids["community"], ids["guide"] = r[0], r[1], r[2]
	r = fi.push(
		draft{kind: "resource", vis: "public", blobs: []protocol.BlobRef{files["mp4"]},
			body: resourceBody("Kiusaaminen verkossa", "fi", []string{"fi"}, 13, 17, "video", []string{"cyberbullying"}, "sid")},
		draft{kind: "resource", vis: "public", blobs: []protocol.BlobRef{files["pdf"]},
			body: resourceBody("Video ilman tiedostoa", "fi", []string{"fi"}, 13, 17, "video", []string{"cyberbullying"})},
	)
	ids["plain"], ids["nofile"] = r[0], r[1]
	n.waitIndexed()
	return n, ids, files
}

func href(b protocol.BlobRef) string { return "/files/" + b.SHA256 + "/" + b.Name }

// videoElement is the <video> element of a page, "" when it has none.
func videoElement(page string) string {
	start := strings.Index(page, "<video")
	if start < 0 {
		return ""
	}
	end := strings.Index(page[start:], "</video>")
	if end < 0 {
		return page[start:]
	}
	return page[start : start+end+len("</video>")]
}

func TestPortal_VideoPlayer(t *testing.T) {
	n, ids, files := videoNet(t)
	t.Run("poster and captions", func(t *testing.T) {
		page := n.getOK("/fr/resources/" + ids["captioned"])
		v := videoElement(page)
		for _, want := range []string{
			`<video controls preload="metadata" playsinline poster="` + href(files["poster"]) + `">`,
			`<source src="` + href(files["webm"]) + `" type="video/webm">`,
			`<track kind="captions" src="` + href(files["en"]) + `" srclang="en" label="English">`,
			`<track kind="captions" src="` + href(files["fr"]) + `" srclang="fr" label="français" default>`,
			`<a href="` + href(files["webm"]) + `" download>Télécharger la vidéo</a>`,
		} {
			if !strings.Contains(v, want) {
				t.Errorf("the player lacks %s:\n%s", want, v)
			}
		}
		// The attachment list still lists every file.
		for _, f := range []string{"clip.webm", "poster.png", "clip.en.vtt", "clip.fr.vtt"} {
			if !strings.Contains(page, `>`+f+`</a>`) {
				t.Errorf("the attachments do not list %s", f)
			}
		}
	})
	t.Run("captions in the interface's language are the default", func(t *testing.T) {
		v := videoElement(n.getOK("/resources/" + ids["captioned"]))
		if !strings.Contains(v, `srclang="en" label="English" default>`) || strings.Contains(v, `srclang="fr" label="français" default`) {
			t.Errorf("the English interface's default track is not English:\n%s", v)
		}
		v = videoElement(n.getOK("/de/resources/" + ids["captioned"]))
		if strings.Contains(v, " default>") {
			t.Errorf("a German interface without German captions has a default track:\n%s", v)
		}
	})
	t.Run("without poster or captions", func(t *testing.T) {
		v := videoElement(n.getOK("/resources/" + ids["plain"]))
		if !strings.Contains(v, `<video controls preload="metadata" playsinline>`) || !strings.Contains(v, `<source src="`+href(files["mp4"])+`" type="video/mp4">`) {
			t.Errorf("the player of a plain video is wrong:\n%s", v)
		}
		if strings.Contains(v, "<track") || strings.Contains(v, "poster=") {
			t.Errorf("a video without poster or captions has them:\n%s", v)
		}
	})
	t.Run("no player without a video file or for other types", func(t *testing.T) {
		for _, id := range []string{ids["nofile"], ids["guide"]} {
			if v := videoElement(n.getOK("/resources/" + id)); v != "" {
				t.Errorf("%s has a player:\n%s", id, v)
			}
		}
	})
}

// cardTitles are the titles of a gallery page's cards, in order.
func cardTitles(page string) []string {
	var out []string
	for _, c := range strings.Split(page, `<li class="card`)[1:] {
		h := c[strings.Index(c, "<h3>"):]
		h = h[strings.Index(h, ">")+1:]
		h = h[strings.Index(h, ">")+1:]
		out = append(out, h[:strings.Index(h, "</a>")])
	}
	return out
}

func TestPortal_VideoGallery(t *testing.T) {
	n, ids, files := videoNet(t)
	t.Run("only public videos", func(t *testing.T) {
		page := n.getOK("/videos")
		got := strings.Join(cardTitles(page), "|")
		for _, want := range []string{"Passwords explained", "Kiusaaminen verkossa", "Video ilman tiedostoa"} {
			if !strings.Contains(got, want) {
				t.Errorf("the gallery lacks %q: %s", want, got)
			}
		}
		if strings.Contains(got, "Members video") || strings.Contains(got, "Passwords guide") || len(cardTitles(page)) != 3 {
			t.Errorf("the gallery lists %s", got)
		}
	})
	t.Run("cards mark a video and show its poster", func(t *testing.T) {
		page := n.getOK("/videos")
		if !strings.Contains(page, `<li class="card video">
<a class="poster" href="/resources/`+ids["captioned"]+`" tabindex="-1" aria-hidden="true"><img class="poster" src="`+href(files["poster"])+`" alt="" loading="lazy"></a>
<h3><a href="/resources/`+ids["captioned"]+`" lang="en">Passwords explained</a>`) {
			t.Errorf("the captioned video's card has no poster:\n%s", page)
		}
		if !strings.Contains(page, `<li class="card video">
<h3><a href="/resources/`+ids["plain"]+`"`) {
			t.Errorf("the plain video's card is not marked a video, or has a poster:\n%s", page)
		}
		if !strings.Contains(page, `<li class="card">
<h3><a href="/resources/`+ids["nofile"]+`"`) {
			t.Error("a video resource without a video file is marked one")
		}
	})
	t.Run("its own filters", func(t *testing.T) {
		page := n.getOK("/videos")
		for _, f := range []string{"lang", "age", "topic", "audience"} {
			if !strings.Contains(page, `id="f-`+f+`"`) {
				t.Errorf("the gallery has no %s filter", f)
			}
		}
		for _, f := range []string{"type", "country", "minisite"} {
			if strings.Contains(page, `id="f-`+f+`"`) {
				t.Errorf("the gallery has a %s filter", f)
			}
		}
		if strings.Contains(page, "type=video") {
			t.Error("the gallery's links carry its type")
		}
		for _, c := range []struct{ query, want string }{
			{"lang=fi", "Kiusaaminen verkossa|Video ilman tiedostoa"},
			{"topic=privacy", "Passwords explained"},
			{"age=8", "Passwords explained"},
			{"audience=parents&lang=en", "Passwords explained"},
			{"type=guide&lang=en", "Passwords explained"},
			{"q=passwords", "Passwords explained"},
		} {
			titles := cardTitles(n.getOK("/videos?" + c.query))
			slices.Sort(titles)
			if got := strings.Join(titles, "|"); got != c.want {
				t.Errorf("/videos?%s lists %s, want %s", c.query, got, c.want)
			}
		}
	})
	t.Run("paging", func(t *testing.T) {
		page := n.getOK("/videos?per_page=2")
		if len(cardTitles(page)) != 2 || !strings.Contains(page, `href="/videos?page=2&amp;per_page=2" rel="next"`) {
			t.Errorf("the first of two pages is wrong:\n%s", page)
		}
		if got := cardTitles(n.getOK("/videos?page=2&per_page=2")); len(got) != 1 {
			t.Errorf("the second page lists %v", got)
		}
	})
	t.Run("in an interface language", func(t *testing.T) {
		page := n.getOK("/fr/videos")
		for _, want := range []string{`<h1>Vidéos</h1>`, `action="/fr/videos"`, `<a href="/fr/videos" aria-current="page">Vidéos</a>`, `href="/fr/resources/` + ids["plain"] + `"`} {
			if !strings.Contains(page, want) {
				t.Errorf("/fr/videos lacks %s", want)
			}
		}
		if !strings.Contains(n.getOK("/"), `<a href="/videos">Videos</a>`) {
			t.Error("the home page's navigation does not link the videos")
		}
	})
	t.Run("in the sitemap, and on minisites' hosts only", func(t *testing.T) {
		if sm := n.getOK("/sitemaps/pages.xml"); !strings.Contains(sm, "/videos</loc>") || !strings.Contains(sm, "/fr/videos") {
			t.Error("the sitemap does not list /videos in every language")
		}
		if resp, _ := n.get("/sid/videos"); resp.StatusCode != 404 {
			t.Errorf("/sid/videos: %s", resp.Status)
		}
		// On the minisite's own host, its navigation's link shows its videos.
		resp, page := n.get("/videos", "Host: saferinternetday.localhost")
		if got := strings.Join(cardTitles(page), "|"); resp.StatusCode != 200 || got != "Kiusaaminen verkossa" || !strings.Contains(page, "<h1>Videos</h1>") {
			t.Errorf("/videos on the minisite's host: %s, %s", resp.Status, got)
		}
	})
}
