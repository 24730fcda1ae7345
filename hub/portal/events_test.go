package portal_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// sidEvent is an event of edition on its Safer Internet Day, from hour to
// hour+2 in zone.
func sidEvent(edition int, title, lang, zone string, hour int, country string, audiences []string, online bool, city string) protocol.Event {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	d := protocol.SIDDate(edition)
	start := time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, loc)
	e := protocol.Event{Title: title, Description: "About " + title + ".", Language: lang, Start: start.UTC(),
		End: start.Add(2 * time.Hour).UTC(), TimeZone: zone, Online: online, Country: country, Audiences: audiences,
		Edition: edition, URL: "https://example.org/" + country}
	if city != "" {
		e.Place = &protocol.EventPlace{City: city, Country: country}
	}
	return e
}

func TestPortal_SIDEvents(t *testing.T) {
	n := startHub(t, func(c *hubConfig) { c.MinisiteHosts = map[string]string{"saferinternetday.localhost": "sid"} })
	cur := protocol.NextEdition(time.Now())
	past := cur - 1
	pub := protocol.VisibilityPublic
	be := n.node("be")
	beIDs := be.push(
		draft{kind: protocol.KindEvent, vis: pub, body: sidEvent(cur, "Atelier : bien vivre en ligne", "fr-BE", "Europe/Brussels", 10, "be", []string{"children", "teachers"}, false, "Namur")},
		draft{kind: protocol.KindEvent, vis: pub, body: sidEvent(cur, "Webinar voor ouders", "nl-BE", "Europe/Brussels", 19, "be", []string{"parents"}, true, "")},
		draft{kind: protocol.KindEvent, vis: pub, body: sidEvent(cur, "Withdrawn event", "en", "Europe/Brussels", 14, "be", []string{"parents"}, true, "")},
	)
	workshop, withdrawn := beIDs[0], beIDs[2]
	panel := n.node("fi").push(draft{kind: protocol.KindEvent, vis: pub,
		body: sidEvent(cur, "Nuorten paneeli", "fi", "Europe/Helsinki", 13, "fi", []string{"teens"}, true, "Helsinki")})[0]
	old := n.node("fr").push(draft{kind: protocol.KindEvent, vis: pub,
		body: sidEvent(past, "Café des parents", "fr", "Europe/Paris", 18, "fr", []string{"parents"}, false, "Lyon")})[0]
	be.push(draft{id: withdrawn, kind: protocol.KindEvent, vis: pub, deleted: true})
	n.waitIndexed()

	t.Run("landing page", func(t *testing.T) {
		body := n.getOK("/sid/")
		for _, want := range []string{
			"Safer Internet Day " + strconv.Itoa(cur) + " is on " + protocol.SIDDate(cur).Format("2 January 2006") + ".",
			`<a href="/sid/events?country=be"><strong>Belgium</strong><span>Events: 2</span></a>`,
			`<a href="/sid/events?country=fi"><strong>Finland</strong><span>Events: 1</span></a>`,
			`<a href="/sid/events/` + workshop + `" lang="fr-BE">Atelier : bien vivre en ligne</a>`,
			`10:00–12:00</time> <span class="meta">CET (Europe/Brussels)</span>`,
			`13:00–15:00</time> <span class="meta">EET (Europe/Helsinki)</span>`,
			"<p>Namur, Belgium</p>", "<p>Helsinki, Finland, and online</p>", "<p>Online event</p>",
			`href="/sid/resources"`, `href="/sid/events.ics"`, `href="/sid/archive"`,
			`<link rel="alternate" type="application/atom&#43;xml" title="Events (Atom)" href="/sid/events/feed.atom">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		if strings.Contains(body, "Withdrawn event") || strings.Contains(body, "Café des parents") {
			t.Error("the landing page shows a deleted event or one of a past edition")
		}
		if fr := n.getOK("/fr/sid/"); !strings.Contains(fr, "<strong>Belgique</strong><span>Événements : 2</span>") {
			t.Error("the French landing page does not name Belgium in French with its count")
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{workshop, beIDs[1], panel}},
			{"?country=be", []string{workshop, beIDs[1]}},
			{"?country=be&online=1", []string{beIDs[1]}},
			{"?online=0", []string{workshop, panel}},
			{"?lang=nl", []string{beIDs[1]}},
			{"?lang=fr-BE", []string{workshop}},
			{"?audience=teens", []string{panel}},
			{"?audience=teens&country=be", nil},
			{"?edition=" + strconv.Itoa(past), []string{old}},
			{"?country=belgium&audience=robots&online=maybe&lang=%ZZ", []string{workshop, beIDs[1], panel}},
		} {
			body := n.getOK("/sid/events" + tc.query)
			got := strings.Count(body, `<li class="card event">`)
			if got != len(tc.want) {
				t.Errorf("%s: %d events, want %d", tc.query, got, len(tc.want))
			}
			for _, id := range tc.want {
				if !strings.Contains(body, `href="/sid/events/`+id+`"`) {
					t.Errorf("%s: %s missing", tc.query, id)
				}
			}
			if !strings.Contains(body, "Events: "+strconv.Itoa(len(tc.want))) {
				t.Errorf("%s: count missing", tc.query)
			}
		}
		body := n.getOK("/sid/events?country=be")
		for _, want := range []string{
			`<a href="/sid/events?country=be&amp;online=1"><span>Online event</span> <span class="n">(1)</span>`,
			`<a href="/sid/events" class="on" aria-current="true"><span>Belgium</span> <span class="n">(2)</span>`,
			`<option value="be" selected>Belgium</option>`,
			`href="/sid/events.ics?country=be"`,
			`<title>Safer Internet Day ` + strconv.Itoa(cur) + ` events: Belgium`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("country list: missing %q", want)
			}
		}
	})

	t.Run("archive", func(t *testing.T) {
		body := n.getOK("/sid/archive")
		want := `<a href="/sid/events?edition=` + strconv.Itoa(past) + `"><strong>Safer Internet Day ` + strconv.Itoa(past) + `</strong>`
		if !strings.Contains(body, want) || !strings.Contains(body, "Events: 1</span>") {
			t.Errorf("archive: missing %q with its count", want)
		}
		if strings.Contains(body, "Safer Internet Day "+strconv.Itoa(cur)+"</strong>") {
			t.Error("the archive lists the current edition")
		}
		if day := protocol.SIDDate(past).Format(time.DateOnly); !strings.Contains(body, `<time datetime="`+day+`">`) {
			t.Errorf("archive: the edition's day is not marked up as %s", day)
		}
	})

	t.Run("event page", func(t *testing.T) {
		body := n.getOK("/sid/events/" + workshop)
		for _, want := range []string{
			`<h1 lang="fr-BE">Atelier : bien vivre en ligne</h1>`,
			`<dd>Namur, Belgium</dd>`, `<dd>Children, Teachers</dd>`,
			`href="/sid/events/` + workshop + `.ics"`, `href="https://example.org/be"`,
			`<a href="/sid/events?country=be">Belgium</a>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		for _, path := range []string{"/sid/events/" + withdrawn, "/sid/events/" + withdrawn + ".ics", "/sid/events/nonsense", "/events", "/youth/events"} {
			if resp, _ := n.get(path); resp.StatusCode != 404 {
				t.Errorf("%s: %s, want 404", path, resp.Status)
			}
		}
	})

	t.Run("iCalendar", func(t *testing.T) {
		resp, body := n.get("/sid/events.ics?country=be")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" {
			t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		if strings.Count(body, "BEGIN:VEVENT") != 2 || strings.Count(body, "\n") != strings.Count(body, "\r\n") {
			t.Fatalf("calendar:\n%s", body)
		}
		start := protocol.SIDDate(cur).Add(9 * time.Hour).Format("20060102T150405Z")
		for _, want := range []string{"UID:" + workshop + "@bikfed\r\n", "DTSTART:" + start + "\r\n", "SUMMARY:Atelier : bien vivre en ligne\r\n", "LOCATION:Namur\\, Belgium\r\n"} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q", want)
			}
		}
		one := n.getOK("/sid/events/" + panel + ".ics")
		if strings.Count(one, "BEGIN:VEVENT") != 1 || !strings.Contains(one, "LOCATION:Helsinki\\, Finland\\, and online\r\n") {
			t.Errorf("one event's calendar:\n%s", one)
		}
		if fr := n.getOK("/fr/sid/events/" + panel + ".ics"); !strings.Contains(fr, "LOCATION:Helsinki\\, Finlande et en ligne") &&
			!strings.Contains(fr, "LOCATION:Helsinki\\, Finlande\\, et en ligne") {
			t.Errorf("the French calendar's place is not in French:\n%s", fr)
		}
	})

	t.Run("feeds and sitemap", func(t *testing.T) {
		atom := n.getOK("/sid/events/feed.atom?country=fi")
		if !strings.Contains(atom, "Nuorten paneeli") || strings.Contains(atom, "Atelier") {
			t.Errorf("the Finnish events' feed:\n%.1500s", atom)
		}
		var feed struct {
			Items []struct {
				Title string `json:"title"`
			} `json:"items"`
		}
		n.getJSON("/sid/events/feed.json", &feed)
		if len(feed.Items) != 3 {
			t.Errorf("JSON Feed has %d items, want 3", len(feed.Items))
		}
		if rss := n.getOK("/sid/events/feed.rss"); !strings.Contains(rss, "<title>Webinar voor ouders</title>") {
			t.Error("RSS feed lacks the webinar")
		}
		sm := n.getOK("/sitemaps/pages.xml")
		for _, want := range []string{n.url + "/sid/events/" + workshop + "<", n.url + "/sid/events<", n.url + "/sid/archive<"} {
			if !strings.Contains(sm, want) {
				t.Errorf("sitemap lacks %q", want)
			}
		}
		if strings.Contains(sm, withdrawn) {
			t.Error("sitemap names the deleted event")
		}
	})

	t.Run("minisite host", func(t *testing.T) {
		host := "Host: saferinternetday.localhost"
		if body := n.getOK("/", host); !strings.Contains(body, `<a href="/events?country=be"><strong>Belgium</strong>`) {
			t.Error("the minisite's host does not show its landing page with its own addresses")
		}
		if body := n.getOK("/events/"+old, host); !strings.Contains(body, `<h1 lang="fr">Café des parents</h1>`) {
			t.Error("the minisite's host does not show an event's page")
		}
		if resp, body := n.get("/events.ics?edition="+strconv.Itoa(past), host); resp.StatusCode != 200 || !strings.Contains(body, "SUMMARY:Café des parents") {
			t.Errorf("the minisite's host calendar: %s", resp.Status)
		}
	})
}
