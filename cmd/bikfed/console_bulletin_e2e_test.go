package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/mailpittest"
)

// The bulletin composed in the console, in a real browser against a real
// hub and mailpit: a coordinator starts an edition, finds the quarter's
// news by a word of its title, ticks it with a note, adds a French
// version, saves the draft, writes the item's French note in the field
// the saved item has, saves again, previews the mail in English, French and
// Latvian (which the edition has not), publishes and sends it to the one
// confirmed subscriber, and the page shows the copy sent. axe-core on
// every page, the previews included.
func TestE2E_ConsoleBulletin(t *testing.T) {
	mp := mailpittest.Start(t)
	nw := bulletinHub(t, mp)
	waitServing(t, nw.hubDir, hubAddrFile)
	var news struct {
		ID string `json:"id"`
	}
	nw.adminJSON("POST", "/admin/v1/entities", map[string]any{"kind": "post", "visibility": "public", "body": map[string]any{
		"space": "news", "format": "blog", "title": "Safer Internet Forum: what the young delegates asked for", "text": "Their demands.",
		"language": "en", "author": map[string]any{"name": "BIK coordination", "sic": "hub"}}}, &news)
	if news.ID == "" {
		t.Fatal("no news published")
	}
	subscribeByPost(t, nw.hubURL, mp, "reader@console-e2e.example.net", "fr")

	mustCLI(t, nil, "hub", "member", "add", "carla@example.eu", "--name", "Carla Coordinator", "--role", "coordinator", "--data", nw.hubDir)
	link, err := mp.WaitForMessage(t, "carla@example.eu").Link("/console/signin/invite?token=")
	if err != nil {
		t.Fatal(err)
	}
	b := newConsoleBrowser(t)
	b.acceptInvitation(link, "carla@example.eu", "seven purple bicycles at dawn", "")

	b.step("open the bulletin", chromedp.Click(chromedp.CSS(`nav a[href="/console/bulletin"]`)), chromedp.WaitVisible(chromedp.CSS("#new-edition")))
	b.mustShow("#subscribers", "1 confirmed")
	b.check("bulletins-empty")
	b.step("start an edition", chromedp.Click(chromedp.CSS("#new-edition")), chromedp.WaitVisible(chromedp.CSS("#edition")))
	b.check("edition-new")
	b.fill(map[string]string{
		"#edition":        "2026-12",
		"#title":          "Winter 2026: what young people asked for",
		"#focus_title":    "Listening to the youth panels",
		"#focus_body":     "The young delegates asked for **fewer rules and more conversations**.",
		"#q":              "delegates",
		"#v0-title":       "Hiver 2026 : ce que les jeunes ont demandé",
		"#v0-focus_title": "Écouter les panels de jeunes",
		"#v0-focus_body":  "Les jeunes délégués ont demandé **moins de règles et plus de conversations**.",
	})
	b.step("choose the date and the French version",
		// Today: an edition whose day is to come is not on the portal yet.
		chromedp.SetValue(chromedp.CSS("#published"), time.Now().UTC().Format(time.DateOnly)),
		chromedp.SetValue(chromedp.CSS("#v0-language"), "fr"))
	itemID := "#item-" + strings.ReplaceAll(news.ID, ":", "-")
	b.step("filter the quarter's items", chromedp.Click(chromedp.CSS("#filter")), chromedp.WaitVisible(chromedp.CSS(itemID)))
	if got := b.value("#v0-title"); !strings.HasPrefix(got, "Hiver 2026") {
		t.Fatalf("filtering lost the version's title: %q", got)
	}
	b.step("tick the news with a note", chromedp.Click(chromedp.CSS(itemID)))
	b.fill(map[string]string{itemID + "-note": "Their demands, point by point."})
	b.check("edition-filled")
	b.step("save the draft", chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.mustShow("#state-h", "draft")
	// The French note goes in the field the saved item now has there.
	b.fill(map[string]string{"#v0-" + itemID[1:] + "-note": "Leurs demandes, point par point."})
	b.step("save the French note", chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.check("edition-saved")

	for _, lang := range []string{"en", "fr", "lv"} {
		b.step("preview in "+lang, chromedp.Navigate(nw.hubURL+"/console/bulletin/2026-12/preview/"+lang), chromedp.WaitVisible(chromedp.CSS("h1")))
		want := map[string]string{"en": "Winter 2026", "fr": "Hiver 2026", "lv": "Winter 2026"}[lang]
		b.mustShow("h1", want)
		b.check("preview-" + lang)
	}
	b.step("back to the edition", chromedp.Navigate(nw.hubURL+"/console/bulletin/2026-12"), chromedp.WaitVisible(chromedp.CSS("#publish")))
	b.step("publish", chromedp.Click(chromedp.CSS("#publish")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.mustShow("#editions", "published, not sent")
	b.check("bulletins-published")
	b.step("open it again", chromedp.Click(chromedp.CSS(`#editions th a`)), chromedp.WaitVisible(chromedp.CSS("#send-edition")))
	b.step("ask to send", chromedp.Click(chromedp.CSS("#send-edition")), chromedp.WaitVisible(chromedp.CSS("#send")))
	b.check("send-confirm")
	b.step("send", chromedp.Click(chromedp.CSS("#send")), chromedp.WaitVisible(chromedp.CSS("#progress")))
	msg := mp.WaitForMessage(t, "reader@console-e2e.example.net", mailpittest.SubjectContains("Hiver 2026"))
	if !strings.Contains(msg.Text, "Leurs demandes, point par point.") {
		t.Fatalf("the copy is not the French version:\n%s", msg.Text)
	}
	waitFor(t, 30*time.Second, "the progress to show the copy sent", func() error {
		resp, err := http.Get(nw.hubURL + "/admin/v1/bulletins/2026-12/sending")
		if err == nil {
			resp.Body.Close()
		}
		var p sendingProgress
		nw.adminJSON("GET", "/admin/v1/bulletins/2026-12/sending", nil, &p)
		if p.State != "sent" || p.Sent != 1 {
			return fmt.Errorf("%+v", p)
		}
		return nil
	})
	b.step("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#progress")))
	b.mustShow("#progress-sent", "1 / 1")
	b.mustShow("#state", "No subscriber gets an edition twice")
	b.check("sent")

	waitFor(t, 30*time.Second, "the portal to show the edition", func() error {
		if page := getBody(t, nw.hubURL+"/fr/bulletin/2026-12"); !strings.Contains(page, "Leurs demandes, point par point.") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
}
