package portal_test

import (
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// videoNet is a hub with video resources of two SICs: one with a poster and
// captions in two languages, one with the video alone, a video resource
// without a video file, a community video and a guide.
func videoNet(t *testing.T) (n *testNet, ids map[string]string, files map[string]protocol.BlobRef) {
	n = startHub(t)
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
			body: resourceBody("Kiusaaminen verkossa", "fi", []string{"fi"}, 13, 17, "video", []string{"cyberbullying"})},
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
