package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// bulletinNet is a hub with the sample content and the two sample
// editions of the bulletin.
func bulletinNet(t *testing.T) *testNet {
	// A mail server nothing listens on: the portal takes subscriptions
	// only when the hub can mail their confirmation.
	n := startHub(t, func(c *hub.Config) {
		c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = "127.0.0.1", 1, mail.TLSNone, "BIK <bik@hub.example.org>"
	})
	ids := n.seedSamples()
	drafts, err := sampledata.Bulletins()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range drafts {
		body, err := sampledata.Resolve(d.Body, ids)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.h.Publish(t.Context(), d.Kind, d.Visibility, body); err != nil {
			t.Fatal(err)
		}
	}
	n.waitIndexed()
	return n
}

func TestPortal_Bulletin(t *testing.T) {
	n := bulletinNet(t)

	t.Run("archive, newest first, in the visitor's language", func(t *testing.T) {
		body := n.getOK("/fr/bulletin")
		winter := strings.Index(body, "Hiver 2026 : jeux, arnaques")
		autumn := strings.Index(body, "Automne 2026 : la rentrée")
		if winter < 0 || autumn < 0 || winter > autumn {
			t.Fatalf("archive order or language: %d %d\n%s", winter, autumn, body)
		}
		if !strings.Contains(body, `action="/fr/bulletin/subscribe"`) || !strings.Contains(body, `<option value="fr" lang="fr" selected>`) {
			t.Error("no subscription form with French chosen")
		}
		if !strings.Contains(n.getOK("/it/bulletin"), `lang="en">Winter 2026`) {
			t.Error("an edition without Italian is not listed in English, marked so")
		}
	})

	t.Run("an edition in French", func(t *testing.T) {
		body := n.getOK("/fr/bulletin/2026-09")
		for _, want := range []string{
			`<article lang="fr">`,
			"<h1>Automne 2026 : la rentrée, de nouveaux téléphones, de nouvelles questions</h1>",
			"<strong>configurez le téléphone ensemble</strong>",
			`<time datetime="2026-09-17">`,
			`hreflang="en" lang="en">English</a>`,
			`hreflang="de" lang="de">Deutsch</a>`,
			"Sexting et sextorsion : fiche conseils pour les parents",
			"Le sexting et la sextorsion expliqués aux parents",
			`href="/fr/news/hub:`,
			`<link rel="canonical" href="` + n.url + `/fr/bulletin/2026-09">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		if got := strings.Count(body, `<li class="card">`); got != 5 {
			t.Errorf("%d cards, want 5", got)
		}
	})

	t.Run("a language the edition has not shows its own", func(t *testing.T) {
		body := n.getOK("/pt/bulletin/2026-12")
		if !strings.Contains(body, `<article lang="en">`) || !strings.Contains(body, "Gifts that connect") || !strings.Contains(body, `<html lang="pt-PT"`) {
			t.Fatalf("Portuguese visitor:\n%s", body)
		}
	})

	t.Run("unknown editions and steps", func(t *testing.T) {
		for _, p := range []string{"/bulletin/2026-06", "/bulletin/nonsense", "/bulletin/2026-09/x"} {
			if resp, _ := n.get(p); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d", p, resp.StatusCode)
			}
		}
		resp, body := n.get("/bulletin/confirm?t=AAAA")
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Cache-Control") != "no-store" || strings.Contains(body, "AAAA") {
			t.Errorf("a bad link: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	})

	t.Run("an edition shows from its publication day on", func(t *testing.T) {
		spring := protocol.Bulletin{Edition: "2099-03", Published: "2099-03-20", Title: "Spring 2099", Language: "en",
			Focus: protocol.BulletinArticle{Title: "Later", Body: "Not yet."}}
		if _, err := n.h.Publish(t.Context(), protocol.KindBulletin, protocol.VisibilityPublic, spring); err != nil {
			t.Fatal(err)
		}
		n.waitIndexed()
		if body := n.getOK("/bulletin"); strings.Contains(body, "Spring 2099") || !strings.Contains(body, "Winter 2026") {
			t.Errorf("the archive lists an edition to come:\n%s", body)
		}
		if resp, _ := n.get("/bulletin/2099-03"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("an edition to come: %d", resp.StatusCode)
		}
		if sm := n.getOK("/sitemaps/pages.xml"); strings.Contains(sm, "2099-03") {
			t.Error("the sitemap lists an edition to come")
		}
	})

	t.Run("sitemap and menu", func(t *testing.T) {
		sm := n.getOK("/sitemaps/pages.xml")
		for _, want := range []string{n.url + "/bulletin</loc>", n.url + "/bulletin/2026-09</loc>", n.url + "/fr/bulletin/2026-12"} {
			if !strings.Contains(sm, want) {
				t.Errorf("sitemap misses %s", want)
			}
		}
		if !strings.Contains(n.getOK("/de/"), `<a href="/de/bulletin">Bulletin</a>`) {
			t.Error("the menu has no link to the bulletin")
		}
	})
}
