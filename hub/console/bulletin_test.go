package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/protocol"
)

// editionForm is a complete, valid form of an edition pointing at ref.
func editionForm(ref string) url.Values {
	return url.Values{
		"edition": {"2026-12"}, "published": {"2026-12-01"}, "language": {"en"}, "title": {"Winter 2026: screens at the holidays"},
		"focus_title": {"Gifts that connect"}, "focus_body": {"A new console or phone?\r\n\r\nSet it up **together**."},
		"item": {"news:" + ref}, "note-" + ref: {"What the forum decided."},
		"v0-language": {"fr"}, "v0-title": {"Hiver 2026 : les écrans pendant les fêtes"}, "v0-focus_title": {"Des cadeaux connectés"},
		"v0-focus_body": {"Une nouvelle console ? Installez-la **ensemble**."}, "v0-note-" + ref: {"Ce que le forum a décidé."},
		"v1-language": {""},
	}
}

func TestConsole_Bulletin(t *testing.T) {
	mp := mailpittest.Start(t)
	f := newFixture(t, func(c *hub.Config) {
		c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = mp.SMTPHost, mp.SMTPPort, mail.TLSNone, "BIK <bik@hub.example.org>"
		c.Bulletin.BatchPause = 0
	})
	ctx := context.Background()
	news, err := f.hub.Publish(ctx, protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "Safer Internet Forum: the outcomes", Text: "What was decided.", Language: "en", Author: protocol.Author{Name: "BIK", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("roles", func(t *testing.T) {
		for _, tc := range []struct {
			role, path string
			want       int
		}{
			{"", "/console/bulletin", http.StatusSeeOther},
			{"moderator", "/console/bulletin", http.StatusForbidden},
			{"coordinator", "/console/bulletin", http.StatusOK},
			{"operator", "/console/bulletin/new", http.StatusOK},
			{"coordinator", "/console/bulletin/2031-03", http.StatusNotFound},
		} {
			if code, _, _ := f.do(t, tc.role, "GET", tc.path, nil); code != tc.want {
				t.Errorf("%s GET %s: %d, want %d", tc.role, tc.path, code, tc.want)
			}
		}
		if code, _, _ := f.post(t, "moderator", "/console/bulletin/new", editionForm(news)); code != http.StatusForbidden {
			t.Errorf("a moderator saved an edition: %d", code)
		}
		if code, _, _ := f.do(t, "coordinator", "POST", "/console/bulletin/new", editionForm(news), "Sec-Fetch-Site", "same-origin"); code != http.StatusForbidden {
			t.Errorf("a form without its token: %d", code)
		}
	})

	t.Run("the quarter's items, filtered", func(t *testing.T) {
		form := editionForm(news)
		form.Del("item")
		form.Set("action", "filter")
		form.Set("q", "forum")
		form.Set("all", "1")
		code, _, body := f.post(t, "coordinator", "/console/bulletin/new", form)
		if code != http.StatusOK || !strings.Contains(body, "Safer Internet Forum: the outcomes") {
			t.Fatalf("filter: %d\n%s", code, body)
		}
		form.Set("q", "nothing like it")
		if _, _, body := f.post(t, "coordinator", "/console/bulletin/new", form); strings.Contains(body, "Safer Internet Forum") || !strings.Contains(body, `id="no-items"`) {
			t.Fatalf("a filter that matches nothing still lists the news")
		}
	})

	t.Run("refused fields are named", func(t *testing.T) {
		form := editionForm(news)
		form.Set("edition", "2026-11")
		form.Set("focus_body", "")
		form.Set("v0-language", "en")
		code, _, body := f.post(t, "coordinator", "/console/bulletin/new", form)
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("an invalid edition: %d", code)
		}
		for _, id := range []string{`href="#edition"`, `href="#focus_body"`, `href="#v0-language"`} {
			if !strings.Contains(body, id) {
				t.Errorf("the summary does not link %s", id)
			}
		}
		if !strings.Contains(body, "Hiver 2026") {
			t.Error("the refused form lost the version's title")
		}
	})

	t.Run("draft, preview, publish, send", func(t *testing.T) {
		code, h, _ := f.post(t, "coordinator", "/console/bulletin/new", editionForm(news))
		if code != http.StatusSeeOther || h.Get("Location") != "/console/bulletin/2026-12?done=saved" {
			t.Fatalf("save: %d %s", code, h.Get("Location"))
		}
		if _, err := f.hub.BulletinByEdition(ctx, "2026-12"); err == nil {
			t.Fatal("a draft was published")
		}
		_, _, body := f.do(t, "coordinator", "GET", "/console/bulletin", nil)
		if !strings.Contains(body, "Winter 2026") || !strings.Contains(body, "draft") {
			t.Fatalf("the list does not show the draft:\n%s", body)
		}
		for lang, want := range map[string]string{"en": "Set it up <strong>together</strong>", "fr": "Installez-la <strong>ensemble</strong>",
			"de": "Set it up <strong>together</strong>", "lv": "Set it up"} {
			code, h, body := f.do(t, "coordinator", "GET", "/console/bulletin/2026-12/preview/"+lang, nil)
			if code != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, `lang="`+lang+`"`) || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("preview in %s: %d\n%s", lang, code, body)
			}
		}
		if code, _, _ := f.do(t, "coordinator", "GET", "/console/bulletin/2026-12/preview/tlh", nil); code != http.StatusNotFound {
			t.Errorf("preview in a language the portal has not: %d", code)
		}
		if code, h, _ := f.post(t, "coordinator", "/console/bulletin/2026-12/publish", url.Values{}); code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "published") {
			t.Fatalf("publish: %d", code)
		}
		e, err := f.hub.BulletinByEdition(ctx, "2026-12")
		if err != nil || e.Bulletin.Items[0].Note != "What the forum decided." || e.Bulletin.Versions[0].Notes[0] != "Ce que le forum a décidé." {
			t.Fatalf("published: %+v %v", e, err)
		}
		// One confirmed subscriber.
		if code, _, _ := f.do(t, "", "POST", "/bulletin/subscribe", url.Values{"email": {"lea@example.org"}, "lang": {"fr"}}); code != http.StatusOK {
			t.Fatalf("subscribe: %d", code)
		}
		link, err := mp.WaitForMessage(t, "lea@example.org").Link("/bulletin/confirm?t=")
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := f.do(t, "", "POST", "/fr/bulletin/confirm", url.Values{"t": {link[strings.Index(link, "t=")+2:]}}); code != http.StatusOK {
			t.Fatalf("confirm: %d", code)
		}
		_, _, body = f.do(t, "coordinator", "GET", "/console/bulletin/2026-12", nil)
		if !strings.Contains(body, `href="/console/bulletin/2026-12/send"`) {
			t.Fatalf("no send button on a published edition:\n%s", body)
		}
		if code, _, body := f.do(t, "coordinator", "GET", "/console/bulletin/2026-12/send", nil); code != http.StatusOK || !strings.Contains(body, "1 confirmed") {
			t.Fatalf("confirm sending: %d\n%s", code, body)
		}
		if code, _, _ := f.post(t, "coordinator", "/console/bulletin/2026-12/send", url.Values{}); code != http.StatusSeeOther {
			t.Fatalf("send: %d", code)
		}
		msg := mp.WaitForMessage(t, "lea@example.org", mailpittest.SubjectContains("Hiver 2026"))
		if !strings.Contains(msg.Text, "Ce que le forum a décidé.") {
			t.Fatalf("the copy has not the French note:\n%s", msg.Text)
		}
		sentRE := regexp.MustCompile(`id="progress-sent">1 / 1<`)
		for i := 0; ; i++ {
			_, _, body = f.do(t, "coordinator", "GET", "/console/bulletin/2026-12", nil)
			if sentRE.MatchString(body) {
				break
			}
			if i == 100 {
				t.Fatalf("the progress never showed the copy sent:\n%s", body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(body, "No subscriber gets an edition twice") {
			t.Error("the page does not say no subscriber gets it twice")
		}
		if code, _, _ := f.post(t, "coordinator", "/console/bulletin/2026-12/send", url.Values{}); code != http.StatusConflict {
			t.Errorf("a second sending: %d", code)
		}
		if strings.Contains(body, "lea@example.org") {
			t.Error("the console shows a subscriber's address")
		}
	})

	t.Run("every language", func(t *testing.T) {
		leak := regexp.MustCompile(`console\.[a-z_.]+|portal\.[a-z_.]+|\{[a-z]+\}`)
		for _, lang := range []string{"en", "nl", "fr", "de", "fi", "pt"} {
			for _, p := range []string{"/console/bulletin", "/console/bulletin/new", "/console/bulletin/2026-12"} {
				code, _, body := f.do(t, "operator", "GET", p+"?lang="+lang, nil)
				if code != http.StatusOK {
					t.Errorf("%s %s: %d", lang, p, code)
					continue
				}
				if m := leak.FindString(body); m != "" {
					t.Errorf("%s %s shows %q", lang, p, m)
				}
			}
		}
	})
}

// Before any click, the edition's page and the send page say when a
// sending could reach no one, and then offer no "Send now".
func TestConsole_bulletinReadiness(t *testing.T) {
	winter := protocol.Bulletin{Edition: "2026-12", Published: "2026-12-01", Title: "Winter 2026", Language: "en",
		Focus: protocol.BulletinArticle{Title: "Gifts that connect", Body: "Set it up together."}}

	t.Run("no mail server", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.hub.SaveBulletin(t.Context(), winter, 0, "test"); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/console/bulletin/2026-12", "/console/bulletin/2026-12/send", "/console/bulletin"} {
			_, _, body := f.do(t, "coordinator", "GET", path, nil)
			if !strings.Contains(body, `id="send-blocked"`) || !strings.Contains(body, "--smtp-host") {
				t.Errorf("%s does not say there is no mail server:\n%s", path, body)
			}
			if strings.Contains(body, `id="send-edition"`) || strings.Contains(body, `id="send"`) {
				t.Errorf("%s offers to send", path)
			}
		}
		if code, _, _ := f.post(t, "coordinator", "/console/bulletin/2026-12/send", url.Values{}); code != http.StatusServiceUnavailable {
			t.Errorf("send without a mail server: %d", code)
		}
	})

	t.Run("no confirmed subscriber", func(t *testing.T) {
		f := newFixture(t, func(c *hub.Config) {
			c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = "127.0.0.1", 1, mail.TLSNone, "BIK <bik@hub.example.org>"
		})
		if _, err := f.hub.SaveBulletin(t.Context(), winter, 0, "test"); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := f.do(t, "", "POST", "/bulletin/subscribe", url.Values{"email": {"lea@example.org"}, "lang": {"fr"}}); code != http.StatusOK {
			t.Fatalf("subscribe: %d", code)
		}
		for _, path := range []string{"/console/bulletin/2026-12", "/console/bulletin/2026-12/send"} {
			_, _, body := f.do(t, "coordinator", "GET", path, nil)
			if !strings.Contains(body, "No subscriber has confirmed yet") || strings.Contains(body, `id="send-edition"`) || strings.Contains(body, `id="send"`) {
				t.Errorf("%s with no confirmed subscriber:\n%s", path, body)
			}
			if !strings.Contains(body, "Addresses waiting for confirmation: 1. The hub mailed each") {
				t.Errorf("%s does not count the address waiting", path)
			}
		}
		if code, _, _ := f.post(t, "coordinator", "/console/bulletin/2026-12/send", url.Values{}); code != http.StatusConflict {
			t.Errorf("send to no one: %d", code)
		}
		if p, _ := f.hub.BulletinSending(t.Context(), "2026-12"); p.State != hub.SendingNone {
			t.Errorf("a sending to no one was recorded: %+v", p)
		}
	})
}

// A version's note belongs to its item, whatever the order the items are
// saved in; a draft saved with the notes in the items' order reads alike.
func TestConsole_bulletinVersionNotes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var refs []string
	for _, title := range []string{"Forum outcomes", "Youth panel"} {
		id, err := f.hub.Publish(ctx, protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
			Title: title, Text: "Text.", Language: "en", Author: protocol.Author{Name: "BIK", SIC: "hub"}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, id)
	}
	forum, youth := refs[0], refs[1]
	form := editionForm(forum)
	form["item"] = []string{"news:" + youth, "news:" + forum}
	form["v0-note-"+youth] = []string{"Ce que les jeunes ont demandé."}
	if code, _, body := f.post(t, "coordinator", "/console/bulletin/new", form); code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	d, ok, err := f.hub.BulletinDraftOf(ctx, "2026-12")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	b := d.Bulletin
	if b.Items[0].Ref != youth || b.Versions[0].Notes[0] != "Ce que les jeunes ont demandé." || b.Versions[0].Notes[1] != "Ce que le forum a décidé." {
		t.Fatalf("notes not tied to their items: %+v %q", b.Items, b.Versions[0].Notes)
	}

	// A draft of before, its notes one a line in the items' order.
	b.Versions[0].Notes = []string{"", "Le forum, en bref."}
	if err := f.hub.SaveBulletinDraft(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	_, _, body := f.do(t, "coordinator", "GET", "/console/bulletin/2026-12", nil)
	forumID := "v0-item-" + strings.ReplaceAll(forum, ":", "-") + "-note"
	for _, want := range []string{
		`<label for="` + forumID + `" class="sub">Forum outcomes</label>`,
		`id="` + forumID + `" name="v0-note-` + forum + `" value="Le forum, en bref."`,
		`name="v0-note-` + youth + `" value=""`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the edition's page misses %s", want)
		}
	}
}

// The new edition's quarter may have nothing yet: the form says so and
// offers every quarter's items; a refused form names the edition.
func TestConsole_bulletinQuarter(t *testing.T) {
	f := newFixture(t)
	news, err := f.hub.Publish(t.Context(), protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "Forum outcomes", Text: "Text.", Language: "en", Author: protocol.Author{Name: "BIK", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}
	form := editionForm(news)
	form["edition"], form["item"], form["action"] = []string{"2025-03"}, nil, []string{"filter"}
	_, _, body := f.post(t, "coordinator", "/console/bulletin/new", form)
	if !strings.Contains(body, "From 1 January 2025 to 31 March 2025") || !strings.Contains(body, `id="quarter-empty"`) ||
		!strings.Contains(body, `id="all-quarters"`) || strings.Contains(body, `id="no-items"`) {
		t.Fatalf("an empty quarter:\n%s", body)
	}
	form["action"] = []string{"all"}
	_, _, body = f.post(t, "coordinator", "/console/bulletin/new", form)
	if !strings.Contains(body, `value="news:`+news+`"`) || strings.Contains(body, `id="quarter-empty"`) {
		t.Fatalf("every quarter:\n%s", body)
	}
	form["action"], form["title"] = []string{"save"}, []string{""}
	code, _, body := f.post(t, "coordinator", "/console/bulletin/new", form)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "The edition was not saved") || strings.Contains(body, "The service was not saved") {
		t.Fatalf("a refused edition: %d\n%s", code, body)
	}
}

// A published edition whose day is to come says when it appears.
func TestConsole_bulletinAppears(t *testing.T) {
	f := newFixture(t)
	spring := protocol.Bulletin{Edition: "2099-03", Published: "2099-03-20", Title: "Spring 2099", Language: "en",
		Focus: protocol.BulletinArticle{Title: "Later", Body: "Not yet."}}
	if _, err := f.hub.SaveBulletin(t.Context(), spring, 0, "test"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console/bulletin", "/console/bulletin/2099-03"} {
		if _, _, body := f.do(t, "coordinator", "GET", path, nil); !strings.Contains(body, "published, appears on 20 March 2099") {
			t.Errorf("%s does not say when the edition appears:\n%s", path, body)
		}
	}
	// Its mail would link to a page the portal does not show yet.
	_, _, body := f.do(t, "coordinator", "GET", "/console/bulletin/2099-03/send", nil)
	if !strings.Contains(body, "This edition appears on the portal on 20 March 2099") || strings.Contains(body, `id="send"`) {
		t.Errorf("the send page of an edition still to come:\n%s", body)
	}
}

// An edition's languages are the portal's 28, those its subscribers
// choose among, each named in itself.
func TestConsole_bulletinLanguages(t *testing.T) {
	f := newFixture(t)
	news, err := f.hub.Publish(t.Context(), protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "Forum outcomes", Text: "Text.", Language: "en", Author: protocol.Author{Name: "BIK", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := f.do(t, "coordinator", "GET", "/console/bulletin/new?lang=fr", nil)
	language := regexp.MustCompile(`(?s)<select id="language".*?</select>`).FindString(body)
	version := regexp.MustCompile(`(?s)<select id="v0-language".*?</select>`).FindString(body)
	if n := strings.Count(language, "<option "); n != 28 {
		t.Errorf("the edition's language: %d options, want 28", n)
	}
	if n := strings.Count(version, "<option "); n != 29 {
		t.Errorf("a version's language: %d options, want 28 and none", n)
	}
	for _, want := range []string{`<option value="uk" lang="uk">українська</option>`, `<option value="sr" lang="sr">српски</option>`,
		`<option value="de" lang="de">Deutsch</option>`} {
		if !strings.Contains(version, want) {
			t.Errorf("a version's languages miss %s", want)
		}
	}
	if strings.Contains(version, `value="lb"`) {
		t.Error("Luxembourgish, which the portal does not speak, is offered")
	}
	form := editionForm(news)
	form["v0-language"] = []string{"uk"}
	if code, _, body := f.post(t, "coordinator", "/console/bulletin/new", form); code != http.StatusSeeOther {
		t.Fatalf("a Ukrainian version: %d\n%s", code, body)
	}
	_, _, body = f.do(t, "coordinator", "GET", "/console/bulletin/2026-12?lang=fr", nil)
	preview := regexp.MustCompile(`(?s)<select id="preview-lang".*?</select>`).FindString(body)
	if n := strings.Count(preview, "<option "); n != 28 || !strings.Contains(preview, `lang="sr">српски</option>`) {
		t.Errorf("the preview chooser:\n%s", preview)
	}
	if !strings.Contains(body, `lang="uk" id="preview-uk">українська</a>`) {
		t.Error("the edition's preview in Ukrainian is not named in Ukrainian")
	}
}

// A mail's preview leads back to its edition, and its link to the portal
// ends without a colon.
func TestConsole_bulletinPreviewBack(t *testing.T) {
	f := newFixture(t)
	news, err := f.hub.Publish(t.Context(), protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "Forum outcomes", Text: "Text.", Language: "en", Author: protocol.Author{Name: "BIK", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := f.post(t, "coordinator", "/console/bulletin/new", editionForm(news)); code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	_, _, body := f.do(t, "coordinator", "GET", "/console/bulletin/2026-12/preview/fr?lang=fr", nil)
	if !strings.Contains(body, `<a href="/console/bulletin/2026-12">Retour à l’édition 2026-12 dans la console</a>`) {
		t.Errorf("no way back to the edition:\n%s", body)
	}
	if !strings.Contains(body, ">Lire cette édition sur le portail</a>") {
		t.Errorf("the link to the portal:\n%s", body)
	}
}
