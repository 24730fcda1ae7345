package portal

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

// The Safer Internet Day minisite's events: its landing page, the list of an
// edition's events with filters, each event's page, the archive of past
// editions, and every list as an iCalendar file and as feeds.

// isSIDPath reports whether path, under the minisite's prefix, is one of
// the Safer Internet Day minisite's own pages or outputs.
func isSIDPath(path string) bool {
	return path == "/" || path == "" || path == "/events" || path == "/events.ics" || path == "/archive" ||
		strings.HasPrefix(path, "/events/")
}

// serveSID serves the paths isSIDPath names.
func (p *Portal) serveSID(w http.ResponseWriter, r *http.Request, q *req, path string) {
	switch {
	case path == "/" || path == "":
		p.handleSID(w, r, q)
	case path == "/events":
		p.handleEvents(w, r, q)
	case path == "/events.ics":
		p.handleEventsICS(w, r, q)
	case path == "/archive":
		p.handleArchive(w, r, q)
	case path == "/events/feed.atom", path == "/events/feed.rss", path == "/events/feed.json":
		p.handleEventsFeed(w, r, q, strings.TrimPrefix(path, "/events/feed."))
	case strings.HasSuffix(path, ".ics"):
		p.handleEventICS(w, r, q, strings.TrimSuffix(strings.TrimPrefix(path, "/events/"), ".ics"))
	default:
		p.handleEvent(w, r, q, strings.TrimPrefix(path, "/events/"))
	}
}

// eventRow is a public event as the portal indexed it.
type eventRow struct {
	ID, Owner string
	Version   int64
	Updated   time.Time
	protocol.Event
}

const eventColumns = `id, owner, version, updated_at, body`

// scanEvent reads one event row; nil, without an error, for a body that
// does not decode, which the lists leave out.
func scanEvent(sc interface{ Scan(...any) error }) (*eventRow, error) {
	e := new(eventRow)
	var updated int64
	var body string
	if err := sc.Scan(&e.ID, &e.Owner, &e.Version, &updated, &body); err != nil {
		return nil, err
	}
	e.Updated = time.UnixMilli(updated).UTC()
	if json.Unmarshal([]byte(body), &e.Event) != nil {
		return nil, nil
	}
	return e, nil
}

// events reads an edition's events, first to start first. An edition is
// a few hundred events at most, read whole and filtered in memory like the
// guide; every page that reads it is cached.
func (p *Portal) events(ctx context.Context, edition int) ([]*eventRow, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE edition = ? ORDER BY start, id`, edition)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*eventRow
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}

func (p *Portal) event(ctx context.Context, id string) (*eventRow, error) {
	e, err := scanEvent(p.db.Reader().QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

// eventIDs are every public event's id, for the sitemap.
func (p *Portal) eventIDs(ctx context.Context) ([]string, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id FROM events ORDER BY edition DESC, start, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// editionCount is how many events an edition has.
type editionCount struct{ Edition, Count int }

func (p *Portal) editionCounts(ctx context.Context) ([]editionCount, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT edition, count(*) FROM events GROUP BY edition ORDER BY edition DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []editionCount
	for rows.Next() {
		var c editionCount
		if err := rows.Scan(&c.Edition, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// currentEdition is the edition the minisite shows first: this year's until
// its day is over, then next year's.
func (p *Portal) currentEdition() int { return protocol.NextEdition(p.now()) }

// eventQuery is a selection of an edition's events. Country, Lang and
// Audience are one value each, "" for any; Online is "1" for events one can
// follow online, "0" for those held in a place, "" for any.
type eventQuery struct {
	Edition                         int
	Country, Lang, Audience, Online string
}

// maxEventLang bounds the language asked for, before it is parsed.
const maxEventLang = 35

// parseEventQuery reads a selection, dropping what is not a valid value
// rather than refusing the page: a filter that cannot match is no filter.
func parseEventQuery(v url.Values, current int) eventQuery {
	q := eventQuery{Edition: current}
	if n, err := atoiStrict(v.Get("edition")); err == nil && n >= protocol.FirstEdition && n <= protocol.LastEdition {
		q.Edition = n
	}
	if c := v.Get("country"); len(c) == 2 && c[0] >= 'a' && c[0] <= 'z' && c[1] >= 'a' && c[1] <= 'z' {
		q.Country = c
	}
	if l := v.Get("lang"); l != "" && len(l) <= maxEventLang {
		if canon, err := protocol.ParseLanguageTag(l); err == nil {
			q.Lang = canon
		}
	}
	if a := v.Get("audience"); slices.Contains(protocol.Audiences, a) {
		q.Audience = a
	}
	if o := v.Get("online"); o == "1" || o == "0" {
		q.Online = o
	}
	return q
}

// encode is the query as parameters, leaving out the edition when it is
// current, so that the list's address does not change its meaning when
// the year turns.
func (q eventQuery) encode(current int) url.Values {
	v := url.Values{}
	if q.Edition != current {
		v.Set("edition", strconv.Itoa(q.Edition))
	}
	for _, kv := range [][2]string{{"country", q.Country}, {"lang", q.Lang}, {"audience", q.Audience}, {"online", q.Online}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// key is the query as one string, for cache keys.
func (q eventQuery) key() string { return q.encode(0).Encode() }

func (q eventQuery) link(path string, current int) string { return link(path, q.encode(current)) }

func (q eventQuery) filtered() bool {
	return q.Country != "" || q.Lang != "" || q.Audience != "" || q.Online != ""
}

// matches reports whether e answers q, leaving out the filter skip names,
// so that a filter's counts apply every other one, as the gallery's do.
func (q eventQuery) matches(e *eventRow, skip string) bool {
	switch {
	case skip != "country" && q.Country != "" && e.Country != q.Country:
		return false
	case skip != "lang" && q.Lang != "" && e.Language != q.Lang && !strings.HasPrefix(e.Language, q.Lang+"-"):
		return false
	case skip != "audience" && q.Audience != "" && !slices.Contains(e.Audiences, q.Audience):
		return false
	case skip != "online" && q.Online == "1" && !e.Online:
		return false
	case skip != "online" && q.Online == "0" && e.Place == nil:
		return false
	}
	return true
}

// eventView is an event as the pages show it: its times in its own zone,
// with the zone named.
type eventView struct {
	ID, Href, ICS, Title, Lang string
	When, Zone, Start, End     string
	Where, Publisher           string
	Online                     bool
	Audiences                  string
	URL                        string
	Paragraphs                 []string
	Summary                    string
}

// eventZone is where an event's times are shown: its organiser's zone, UTC
// if that one cannot be loaded (it was checked when the event was signed).
func eventZone(e *protocol.Event) *time.Location {
	if loc, err := time.LoadLocation(e.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// eventWhen says when an event is, in its own zone: "9 February 2027,
// 10:00–12:00", or both days and times for one that runs over midnight.
func eventWhen(pr *locale.Printer, e *protocol.Event) (when, zone string) {
	loc := eventZone(e)
	s, end := e.Start.In(loc), e.End.In(loc)
	y1, m1, d1 := s.Date()
	y2, m2, d2 := end.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		when = pr.Date(s) + ", " + pr.Clock(s) + "–" + pr.Clock(end)
	} else {
		when = pr.DateTime(s) + " – " + pr.DateTime(end)
	}
	abbr, _ := s.Zone()
	if abbr == "" || abbr[0] == '+' || abbr[0] == '-' {
		// The zone database has no abbreviation for many zones: the
		// offset says the same.
		abbr = "UTC" + abbr
	}
	if loc.String() == "UTC" {
		return when, "UTC"
	}
	return when, abbr + " (" + loc.String() + ")"
}

// eventPlace says where an event is held, in the interface's language.
func eventPlace(pr *locale.Printer, e *protocol.Event) string {
	if e.Place == nil {
		return pr.T("portal.events.online")
	}
	parts := make([]string, 0, 3)
	if e.Place.Venue != "" {
		parts = append(parts, e.Place.Venue)
	}
	parts = append(parts, e.Place.City, countryLabel(pr, e.Place.Country))
	place := strings.Join(parts, ", ")
	if e.Online {
		return pr.T("portal.events.hybrid", "place", place)
	}
	return place
}

func (p *Portal) eventView(q *req, e *eventRow, profiles *profileSet) eventView {
	v := eventView{ID: e.ID, Href: q.prefix + "/events/" + e.ID, ICS: q.prefix + "/events/" + e.ID + ".ics",
		Title: e.Title, Lang: e.Language, Where: eventPlace(q.p, &e.Event), Online: e.Online, URL: e.URL,
		Start: e.Start.UTC().Format(time.RFC3339), End: e.End.UTC().Format(time.RFC3339),
		Publisher: profiles.publisher(q.p, e.Owner), Paragraphs: paragraphs(e.Description),
		Summary: summary(e.Description, cardSummary)}
	v.When, v.Zone = eventWhen(q.p, &e.Event)
	labels := make([]string, 0, len(e.Audiences))
	for _, a := range e.Audiences {
		labels = append(labels, vocabLabel(q.p, "audience", a))
	}
	v.Audiences = strings.Join(labels, ", ")
	return v
}

// countryCount is a country's events in an edition, with the link to them.
type countryCount struct {
	Code, Name, Href string
	Count            int
}

func countByCountry(pr *locale.Printer, list []*eventRow, href func(code string) string) []countryCount {
	n := map[string]int{}
	for _, e := range list {
		n[e.Country]++
	}
	out := make([]countryCount, 0, len(n))
	for c, k := range n {
		out = append(out, countryCount{Code: c, Name: countryLabel(pr, c), Href: href(c), Count: k})
	}
	col := collatorFor(pr)
	slices.SortFunc(out, func(a, b countryCount) int { return col.CompareString(a.Name, b.Name) })
	return out
}

type eventLinks struct {
	ICS, FeedAtom, FeedRSS, FeedJSON string
}

// eventFeeds are a selection's calendar and feeds, and the head's links to
// the feeds.
func eventFeeds(q *req, eq eventQuery, current int) (eventLinks, []feedLink) {
	params := eq.encode(current)
	l := eventLinks{ICS: link(q.prefix+"/events.ics", params), FeedAtom: link(q.prefix+"/events/feed.atom", params),
		FeedRSS: link(q.prefix+"/events/feed.rss", params), FeedJSON: link(q.prefix+"/events/feed.json", params)}
	return l, []feedLink{
		{"application/atom+xml", q.p.T("portal.events.feed", "format", "Atom"), l.FeedAtom},
		{"application/rss+xml", q.p.T("portal.events.feed", "format", "RSS"), l.FeedRSS},
		{"application/feed+json", q.p.T("portal.events.feed", "format", "JSON Feed"), l.FeedJSON},
	}
}

type sidData struct {
	Edition             int
	Date, DateISO       string
	Countries           []countryCount
	Events              []eventView
	Total               int
	EventsHref, Archive string
	Resources           string
	Links               eventLinks
}

// handleSID is the Safer Internet Day minisite's landing page: this
// edition's day, its events by country and the events themselves.
func (p *Portal) handleSID(w http.ResponseWriter, r *http.Request, q *req) {
	current := p.currentEdition()
	p.respond(w, r, q.key("sid")+"|"+strconv.Itoa(current), func() (*response, error) {
		ctx := r.Context()
		list, err := p.events(ctx, current)
		if err != nil {
			return nil, err
		}
		v := p.newView(q, minisiteView(q.p, q.site).Name, "sid")
		day := protocol.SIDDate(current)
		d := sidData{Edition: current, Date: q.p.Date(day), DateISO: day.Format(time.DateOnly), Total: len(list),
			EventsHref: q.prefix + "/events", Archive: q.prefix + "/archive", Resources: q.prefix + "/resources"}
		base := eventQuery{Edition: current}
		d.Countries = countByCountry(q.p, list, func(c string) string {
			b := base
			b.Country = c
			return b.link(q.prefix+"/events", current)
		})
		profiles := p.profiles(ctx)
		for _, e := range list {
			d.Events = append(d.Events, p.eventView(q, e, profiles))
		}
		var feeds []feedLink
		d.Links, feeds = eventFeeds(q, base, current)
		v.Feeds = append(feeds, v.Feeds...)
		v.Description = q.p.T("portal.sid.date", "year", current, "date", d.Date)
		v.Canonical = q.canonical(q.sp + "/")
		v.Data = d
		return p.html("sid", v, http.StatusOK)
	})
}

type eventsData struct {
	Action    string
	Edition   int
	Editions  []option
	Countries []option
	Langs     []option
	Audiences []option
	Formats   []option
	Facets    []facetView
	Clear     string
	Total     int
	Events    []eventView
	Archive   string
	Links     eventLinks
}

func (p *Portal) handleEvents(w http.ResponseWriter, r *http.Request, q *req) {
	current := p.currentEdition()
	eq := parseEventQuery(r.URL.Query(), current)
	p.respond(w, r, q.key("events")+"|"+strconv.Itoa(current)+"|"+eq.key(), func() (*response, error) {
		ctx := r.Context()
		all, err := p.events(ctx, eq.Edition)
		if err != nil {
			return nil, err
		}
		counts, err := p.editionCounts(ctx)
		if err != nil {
			return nil, err
		}
		path := q.prefix + "/events"
		d := eventsData{Action: path, Edition: eq.Edition, Archive: q.prefix + "/archive"}
		profiles := p.profiles(ctx)
		for _, e := range all {
			if eq.matches(e, "") {
				d.Events = append(d.Events, p.eventView(q, e, profiles))
			}
		}
		d.Total = len(d.Events)
		if eq.filtered() {
			d.Clear = eventQuery{Edition: eq.Edition}.link(path, current)
		}
		d.Editions, d.Countries, d.Langs, d.Audiences, d.Formats = eventOptions(q.p, eq, all, counts, current)
		d.Facets = eventFacets(q.p, path, eq, all, current)
		var feeds []feedLink
		d.Links, feeds = eventFeeds(q, eq, current)
		title := q.p.T("portal.events.title", "year", eq.Edition)
		if eq.Country != "" {
			title = q.p.T("portal.events.title_country", "year", eq.Edition, "country", countryLabel(q.p, eq.Country))
		}
		v := p.newView(q, title, "events")
		v.Feeds = append(feeds, v.Feeds...)
		v.Description = q.p.T("portal.sid.date", "year", eq.Edition, "date", q.p.Date(protocol.SIDDate(eq.Edition)))
		v.Canonical = q.canonical(eq.link(q.sp+"/events", current))
		v.Data = d
		return p.html("events", v, http.StatusOK)
	})
}

// eventOptions are the choices of the list's form: every edition that has
// events (and the current one), the countries, languages and audiences of
// the edition's events, and the two formats.
func eventOptions(pr *locale.Printer, eq eventQuery, all []*eventRow, counts []editionCount, current int) (editions, countries, langs, audiences, formats []option) {
	years := []int{current, eq.Edition}
	for _, c := range counts {
		years = append(years, c.Edition)
	}
	slices.Sort(years)
	years = slices.Compact(years)
	slices.Reverse(years)
	for _, y := range years {
		editions = append(editions, option{strconv.Itoa(y), strconv.Itoa(y), y == eq.Edition})
	}
	anyOne := pr.T("portal.events.filter.any")
	countries = []option{{"", anyOne, eq.Country == ""}}
	for _, c := range countByCountry(pr, all, func(string) string { return "" }) {
		countries = append(countries, option{c.Code, c.Name, c.Code == eq.Country})
	}
	if eq.Country != "" && !slices.ContainsFunc(countries, func(o option) bool { return o.Value == eq.Country }) {
		countries = append(countries, option{eq.Country, countryLabel(pr, eq.Country), true})
	}
	langs = []option{{"", anyOne, eq.Lang == ""}}
	seen := map[string]bool{}
	for _, e := range all {
		base, _, _ := strings.Cut(e.Language, "-")
		seen[base] = true
	}
	if eq.Lang != "" {
		seen[eq.Lang] = true
	}
	for l := range seen {
		langs = append(langs, option{l, langLabel(pr, l), l == eq.Lang})
	}
	col := collatorFor(pr)
	slices.SortFunc(langs[1:], func(a, b option) int { return col.CompareString(a.Label, b.Label) })
	audiences = []option{{"", anyOne, eq.Audience == ""}}
	for _, a := range protocol.Audiences {
		audiences = append(audiences, option{a, vocabLabel(pr, "audience", a), a == eq.Audience})
	}
	formats = []option{{"", anyOne, eq.Online == ""}, {"1", pr.T("portal.events.online"), eq.Online == "1"}, {"0", pr.T("portal.events.in_person"), eq.Online == "0"}}
	return editions, countries, langs, audiences, formats
}

// eventFacets are the filters as links, each value with the number of
// events it would show.
func eventFacets(pr *locale.Printer, path string, eq eventQuery, all []*eventRow, current int) []facetView {
	type value struct {
		v, label, lang string
		keep           func(*eventRow) bool
	}
	group := func(param, title string, values []value, cur string, set func(*eventQuery, string)) facetView {
		f := facetView{Param: param, Title: title}
		for _, val := range values {
			n := 0
			for _, e := range all {
				if val.keep(e) && eq.matches(e, param) {
					n++
				}
			}
			on := cur == val.v
			if n == 0 && !on {
				continue
			}
			t := eq
			if on {
				set(&t, "")
			} else {
				set(&t, val.v)
			}
			f.Values = append(f.Values, facetValueView{Href: t.link(path, current), Label: val.label, Lang: val.lang, Count: n, Selected: on})
		}
		return f
	}
	var countries []value
	for _, c := range countByCountry(pr, all, func(string) string { return "" }) {
		countries = append(countries, value{c.Code, c.Name, "", func(e *eventRow) bool { return e.Country == c.Code }})
	}
	var langs []value
	seen := map[string]bool{}
	for _, e := range all {
		base, _, _ := strings.Cut(e.Language, "-")
		if !seen[base] {
			seen[base] = true
			langs = append(langs, value{base, languageName(base), base, func(e *eventRow) bool { return e.Language == base || strings.HasPrefix(e.Language, base+"-") }})
		}
	}
	slices.SortFunc(langs, func(a, b value) int { return cmp.Compare(a.label, b.label) })
	var audiences []value
	for _, a := range protocol.Audiences {
		audiences = append(audiences, value{a, vocabLabel(pr, "audience", a), "", func(e *eventRow) bool { return slices.Contains(e.Audiences, a) }})
	}
	formats := []value{
		{"1", pr.T("portal.events.online"), "", func(e *eventRow) bool { return e.Online }},
		{"0", pr.T("portal.events.in_person"), "", func(e *eventRow) bool { return e.Place != nil }},
	}
	var out []facetView
	for _, f := range []facetView{
		group("country", pr.T("portal.facet.country"), countries, eq.Country, func(q *eventQuery, v string) { q.Country = v }),
		group("lang", pr.T("portal.facet.language"), langs, eq.Lang, func(q *eventQuery, v string) { q.Lang = v }),
		group("audience", pr.T("portal.facet.audience"), audiences, eq.Audience, func(q *eventQuery, v string) { q.Audience = v }),
		group("online", pr.T("portal.events.filter.format"), formats, eq.Online, func(q *eventQuery, v string) { q.Online = v }),
	} {
		if len(f.Values) > 0 {
			out = append(out, f)
		}
	}
	return out
}

type eventPage struct {
	eventView
	LangName                 string
	Edition                  int
	EditionHref, CountryHref string
	Country                  string
}

func (p *Portal) handleEvent(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("event")+"|"+id, func() (*response, error) {
		ctx := r.Context()
		var e *eventRow
		if _, err := protocol.SplitEntityID(id); err == nil {
			var err error
			if e, err = p.event(ctx, id); err != nil {
				return nil, err
			}
		}
		if e == nil {
			v := p.errorView(q, "events")
			v.Data = q.p.T("portal.error.event")
			return p.html("error", v, http.StatusNotFound)
		}
		current := p.currentEdition()
		d := eventPage{eventView: p.eventView(q, e, p.profiles(ctx)), LangName: langLabel(q.p, e.Language), Edition: e.Edition, Country: countryLabel(q.p, e.Country),
			EditionHref: eventQuery{Edition: e.Edition}.link(q.prefix+"/events", current),
			CountryHref: eventQuery{Edition: e.Edition, Country: e.Country}.link(q.prefix+"/events", current)}
		v := p.newView(q, e.Title, "events")
		v.Description = summary(e.Description, 200)
		v.Canonical = q.canonical(q.sp + "/events/" + e.ID)
		v.Data = d
		return p.html("event", v, http.StatusOK)
	})
}

type archiveEdition struct {
	Edition             int
	Date, DateISO, Href string
	Count               int
}

func (p *Portal) handleArchive(w http.ResponseWriter, r *http.Request, q *req) {
	current := p.currentEdition()
	p.respond(w, r, q.key("archive")+"|"+strconv.Itoa(current), func() (*response, error) {
		counts, err := p.editionCounts(r.Context())
		if err != nil {
			return nil, err
		}
		var d []archiveEdition
		for _, c := range counts {
			if c.Edition >= current {
				continue
			}
			day := protocol.SIDDate(c.Edition)
			d = append(d, archiveEdition{Edition: c.Edition, Date: q.p.Date(day), DateISO: day.Format(time.DateOnly), Count: c.Count,
				Href: eventQuery{Edition: c.Edition}.link(q.prefix+"/events", current)})
		}
		v := p.newView(q, q.p.T("portal.events.archive"), "events")
		v.Canonical = q.canonical(q.sp + "/archive")
		v.Data = d
		return p.html("archive", v, http.StatusOK)
	})
}

// icalOf is an event as a VEVENT: its page on the portal, its place and
// its own link in the description.
func icalOf(q *req, e *eventRow) icalEvent {
	page := q.base + q.prefix + "/events/" + e.ID
	desc := e.Description
	if e.URL != "" {
		desc = strings.TrimSpace(desc + "\n\n" + e.URL)
	}
	desc = strings.TrimSpace(desc + "\n\n" + page)
	return icalEvent{UID: e.ID + "@bikfed", Sequence: e.Version - 1, Stamp: e.Updated, Start: e.Start, End: e.End,
		Summary: e.Title, Description: desc, Location: eventPlace(q.p, &e.Event), URL: cmp.Or(e.URL, page)}
}

func icsResponse(name string, events []icalEvent) *response {
	return &response{status: http.StatusOK, ctype: "text/calendar; charset=utf-8", body: icalendar(name, events)}
}

// handleEventsICS serves a selection of events as an iCalendar file.
func (p *Portal) handleEventsICS(w http.ResponseWriter, r *http.Request, q *req) {
	current := p.currentEdition()
	eq := parseEventQuery(r.URL.Query(), current)
	p.respond(w, r, q.key("events.ics")+"|"+strconv.Itoa(current)+"|"+eq.key(), func() (*response, error) {
		all, err := p.events(r.Context(), eq.Edition)
		if err != nil {
			return nil, err
		}
		var out []icalEvent
		for _, e := range all {
			if eq.matches(e, "") {
				out = append(out, icalOf(q, e))
			}
		}
		return icsResponse(eventsTitle(q.p, eq), out), nil
	})
}

func (p *Portal) handleEventICS(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("event.ics")+"|"+id, func() (*response, error) {
		var e *eventRow
		if _, err := protocol.SplitEntityID(id); err == nil {
			var err error
			if e, err = p.event(r.Context(), id); err != nil {
				return nil, err
			}
		}
		if e == nil {
			v := p.errorView(q, "events")
			v.Data = q.p.T("portal.error.event")
			return p.html("error", v, http.StatusNotFound)
		}
		return icsResponse(e.Title, []icalEvent{icalOf(q, e)}), nil
	})
}

func eventsTitle(pr *locale.Printer, eq eventQuery) string {
	if eq.Country != "" {
		return pr.T("portal.events.title_country", "year", eq.Edition, "country", countryLabel(pr, eq.Country))
	}
	return pr.T("portal.events.title", "year", eq.Edition)
}

// handleEventsFeed serves a selection of events as Atom, RSS 2.0 or JSON
// Feed 1.1, first to start first, like the list.
func (p *Portal) handleEventsFeed(w http.ResponseWriter, r *http.Request, q *req, format string) {
	current := p.currentEdition()
	eq := parseEventQuery(r.URL.Query(), current)
	p.respond(w, r, q.key("eventsfeed-"+format)+"|"+strconv.Itoa(current)+"|"+eq.key(), func() (*response, error) {
		ctx := r.Context()
		all, err := p.events(ctx, eq.Edition)
		if err != nil {
			return nil, err
		}
		profiles := p.profiles(ctx)
		var items []feedItem
		for _, e := range all {
			if !eq.matches(e, "") {
				continue
			}
			when, zone := eventWhen(q.p, &e.Event)
			head := when + " " + zone + " · " + eventPlace(q.p, &e.Event)
			items = append(items, feedItem{URL: q.base + q.prefix + "/events/" + e.ID, Title: e.Title,
				Summary: summary(head+"\n\n"+e.Description, 600), Content: strings.TrimSpace(head + "\n\n" + e.Description),
				Lang: e.Language, Author: profiles.publisher(q.p, e.Owner), Updated: e.Updated, Tags: e.Audiences})
		}
		params := eq.encode(current)
		title := eventsTitle(q.p, eq)
		self := q.base + link(q.prefix+"/events/feed."+format, params)
		home := q.base + link(q.prefix+"/events", params)
		updated := p.lastModified()
		switch format {
		case "atom":
			return atomFeed(title, self, home, updated, items)
		case "rss":
			return rssFeed(title, q.p.T("portal.sid.date", "year", eq.Edition, "date", q.p.Date(protocol.SIDDate(eq.Edition))), self, home, updated, items)
		}
		return jsonFeed(title, self, home, items)
	})
}
