package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-ical"

	"github.com/bikfed/bikfed/protocol"
)

// TestE2E_SIDEvents: a Belgian editor signs in to her node's workspace in
// French, is told in French what her event lacks, then creates it through
// the form; the node syncs; a French visitor of the portal's Safer Internet
// Day minisite sees Belgium's count and the event, opens Belgium's list and
// the event's page, and the event's calendar file reads back, in an
// iCalendar parser of its own, with the summary, start and place she gave.
// axe-core audits every page.
func TestE2E_SIDEvents(t *testing.T) {
	nw := newNetwork(t)
	n := nw.addNode("be", fastSync...)
	nw.startNode(n)
	base := "http://" + waitServing(t, n.dir, nodeAddrFile)
	link := addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor")
	edition := protocol.NextEdition(time.Now())
	day := protocol.SIDDate(edition).Format(time.DateOnly)
	const title = "Atelier : bien vivre ensemble en ligne"

	b := startWebBrowser(t, "TestE2E_SIDEvents")
	b.do("read French", acceptLanguage("fr-BE,fr;q=0.9"))
	b.open(link, "#password")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "eva@sic.example.be", "#password": testPassword})
	b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))

	if got := get(t, b.ctx, "find the menu's events", chromedp.Evaluate[string](`document.querySelector('.nav a[href="/events/"]').href`)); got != base+"/events/" {
		t.Errorf("the menu's events link is %q", got)
	}
	b.do("open the events", chromedp.Click(chromedp.CSS(`.nav a[href="/events/"]`)), chromedp.WaitVisible(chromedp.CSS(`main a[href="/events/new"]`)))
	b.mustShow("main h1", "Événements du Safer Internet Day")
	b.check("ws-events-empty")
	b.do("add an event", chromedp.Click(chromedp.CSS(`main a[href="/events/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-title")))
	for sel, want := range map[string]string{"#f-time-zone": "Europe/Brussels", "#f-edition": strconv.Itoa(edition),
		"#f-country": "be", "#f-place-country": "be", "#f-start": day + "T10:00"} {
		if got := get(t, b.ctx, "read "+sel, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, sel))); got != want {
			t.Errorf("%s is preselected %q, want %q", sel, got, want)
		}
	}
	b.check("ws-event-new")

	// Sent without a title nor an audience, the form comes back saying so.
	b.do("save too early", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#errors")))
	b.mustShow("#e-title", "Donnez un titre à l’événement")
	b.mustShow("#e-audiences", "Choisissez au moins un public")
	b.check("ws-event-errors")

	b.fill(map[string]string{"#f-title": title, "#f-city": "Namur", "#f-venue": "Athénée royal",
		"#f-description": "Deux heures d’atelier pour les classes de 5e et 6e primaire.",
		"#f-url":         "https://www.saferinternet.be/fr/sid/atelier"})
	b.do("choose the language and audiences",
		chromedp.SetValue(chromedp.CSS("#f-language"), "fr"),
		chromedp.Click(chromedp.CSS("#f-audiences-children")), chromedp.Click(chromedp.CSS("#f-audiences-teachers")))
	b.do("save", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`main .notice[role=status]`)))
	b.check("ws-event-saved")
	b.do("back to the list", chromedp.Click(chromedp.CSS(`.nav a[href="/events/"]`)), chromedp.WaitVisible(chromedp.CSS(`ul[aria-labelledby=upcoming]`)))
	b.mustShow(`ul[aria-labelledby=upcoming]`, title)
	b.mustShow(`ul[aria-labelledby=upcoming]`, "10:00–12:00 (Europe/Brussels)")
	b.check("ws-events")

	hub := nw.hubURL
	waitFor(t, 60*time.Second, "the event on the portal", func() error {
		if !strings.Contains(getBody(t, hub+"/sid/events?country=be"), title) {
			return fmt.Errorf("not listed yet")
		}
		return nil
	})

	v := startVisitor(t, "fr")
	v.open(hub+"/sid/", `a[href="/fr/sid/events?country=be"]`)
	if loc := v.location(); loc != hub+"/fr/sid/" {
		t.Errorf("/sid/ for a French browser landed on %s", loc)
	}
	v.mustShow(`a[href="/fr/sid/events?country=be"]`, "Belgique")
	v.mustShow(`a[href="/fr/sid/events?country=be"]`, "Événements : 1")
	v.mustShow(".cards .event", title)
	if got := get(t, v.ctx, "read the title's language", chromedp.Evaluate[string](`document.querySelector('.cards .event h3 a').lang`)); got != "fr" {
		t.Errorf("the event's title is marked lang=%q", got)
	}
	v.check("portal-sid")
	fitsPhone(t, v, "/fr/sid/", "portal-sid")

	v.open(hub+"/fr/sid/", `a[href="/fr/sid/events?country=be"]`)
	v.do("open Belgium's events", chromedp.Click(`a[href="/fr/sid/events?country=be"]`), chromedp.WaitVisible(`#results-h`))
	if loc := v.location(); loc != hub+"/fr/sid/events?country=be" {
		t.Errorf("Belgium's count led to %s", loc)
	}
	v.mustShow("#results-h", "Événements : 1")
	v.mustShow("main h1", "Belgique")
	v.check("portal-sid-events-be")
	fitsPhone(t, v, "/fr/sid/events?country=be", "portal-sid-events-be")

	v.open(hub+"/fr/sid/events?country=be", ".cards .event h3 a")
	v.do("open the event", chromedp.Click(".cards .event h3 a"), chromedp.WaitVisible("article.event h1"))
	v.mustShow("article.event h1", title)
	v.mustShow("article.event dl", "10:00–12:00")
	v.mustShow("article.event dl", "CET (Europe/Brussels)")
	v.mustShow("article.event dl", "Athénée royal, Namur, Belgique")
	v.check("portal-sid-event")
	fitsPhone(t, v, "the event's page", "portal-sid-event")
	ics := get(t, v.ctx, "read the calendar link", chromedp.Evaluate[string](`document.querySelector('a[type="text/calendar"]').href`))

	v.open(hub+"/fr/sid/archive", "main h1")
	v.check("portal-sid-archive")

	// The calendar file, read by an iCalendar parser that is not the
	// portal's.
	resp, err := http.Get(ics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("the calendar is served as %q", ct)
	}
	cal, err := ical.NewDecoder(resp.Body).Decode()
	if err != nil {
		t.Fatalf("decode %s: %v", ics, err)
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("%d events in the calendar, want 1", len(events))
	}
	ev := events[0]
	if s, _ := ev.Props.Text(ical.PropSummary); s != title {
		t.Errorf("SUMMARY %q, want %q", s, title)
	}
	start, err := ev.DateTimeStart(time.UTC)
	brussels, _ := time.LoadLocation("Europe/Brussels")
	d := protocol.SIDDate(edition)
	if want := time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, brussels); err != nil || !start.Equal(want) {
		t.Errorf("DTSTART %v (%v), want %v", start, err, want)
	}
	if loc, _ := ev.Props.Text(ical.PropLocation); loc != "Athénée royal, Namur, Belgique" {
		t.Errorf("LOCATION %q", loc)
	}
	uid, _ := ev.Props.Text(ical.PropUID)
	if !strings.HasPrefix(uid, "be:") {
		t.Errorf("UID %q", uid)
	}

	// Withdrawn by its organiser, the event leaves the portal.
	id := strings.TrimSuffix(uid, "@bikfed")
	b.open(base+"/events/", `ul[aria-labelledby=upcoming] a`)
	b.do("open the event", chromedp.Click(`ul[aria-labelledby=upcoming] a`), chromedp.WaitVisible(`main a[href$="/delete"]`))
	b.do("ask to delete it", chromedp.Click(`main a[href$="/delete"]`), chromedp.WaitVisible(`main form button.danger`))
	b.check("ws-event-delete")
	b.do("delete it", chromedp.Click(`main form button.danger`), chromedp.WaitVisible(`main .notice[role=status]`))
	b.mustShow("main", "Aucun événement à venir.")
	waitFor(t, 60*time.Second, "the event to leave the portal", func() error {
		resp, err := http.Get(hub + "/sid/events/" + id)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("its page answers %s", resp.Status)
		}
		return nil
	})
	if body := getBody(t, hub+"/sid/"); strings.Contains(body, title) || strings.Contains(body, `href="/sid/events?country=be"`) {
		t.Error("the SID page still shows the deleted event or Belgium's count")
	}
	if body := getBody(t, hub+"/sid/events.ics"); strings.Contains(body, "BEGIN:VEVENT") {
		t.Error("the calendar still holds the deleted event")
	}
}
