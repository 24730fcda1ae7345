package workspace

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// PathEvents is where a SIC's staff list, add, change and delete the SIC's
// Safer Internet Day events.
const PathEvents = "/events/"

const sectionEvents = "events"

// maxEventForm bounds an event form's body: its description is at most
// protocol.MaxTextField, the rest a few short fields.
const maxEventForm = 128 << 10

// eventZones are the IANA zones the form offers: those of the network's
// countries, by country. A zone an event already has is kept.
var eventZones = map[string]string{
	"at": "Europe/Vienna", "be": "Europe/Brussels", "bg": "Europe/Sofia", "cy": "Asia/Nicosia", "cz": "Europe/Prague",
	"de": "Europe/Berlin", "dk": "Europe/Copenhagen", "ee": "Europe/Tallinn", "es": "Europe/Madrid", "fi": "Europe/Helsinki",
	"fr": "Europe/Paris", "gr": "Europe/Athens", "hr": "Europe/Zagreb", "hu": "Europe/Budapest", "ie": "Europe/Dublin",
	"is": "Atlantic/Reykjavik", "it": "Europe/Rome", "lt": "Europe/Vilnius", "lu": "Europe/Luxembourg", "lv": "Europe/Riga",
	"mt": "Europe/Malta", "nl": "Europe/Amsterdam", "no": "Europe/Oslo", "pl": "Europe/Warsaw", "pt": "Europe/Lisbon",
	"ro": "Europe/Bucharest", "rs": "Europe/Belgrade", "se": "Europe/Stockholm", "si": "Europe/Ljubljana",
	"sk": "Europe/Bratislava", "ua": "Europe/Kyiv", "gb": "Europe/London",
}

// extraZones are zones of the network's countries besides their capital's:
// the Canaries, the Azores, Madeira.
var extraZones = []string{"Atlantic/Canary", "Atlantic/Azores", "Atlantic/Madeira", "UTC"}

// zoneList is every zone the form offers, sorted.
var zoneList = func() []string {
	out := slices.Clone(extraZones)
	for _, z := range eventZones {
		if !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return out
}()

// eventInput is what a person typed into the event form, kept as typed.
type eventInput struct {
	Title, Description, Language string
	Start, End, TimeZone         string
	Online                       bool
	Venue, City, PlaceCountry    string
	Country                      string
	Audiences                    []string
	URL, Edition                 string
}

func eventInputOf(e protocol.Event) eventInput {
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	in := eventInput{Title: e.Title, Description: e.Description, Language: e.Language, TimeZone: e.TimeZone,
		Start: e.Start.In(loc).Format(datetimeLocal), End: e.End.In(loc).Format(datetimeLocal), Online: e.Online,
		Country: e.Country, Audiences: e.Audiences, URL: e.URL, Edition: strconv.Itoa(e.Edition)}
	if e.Place != nil {
		in.Venue, in.City, in.PlaceCountry = e.Place.Venue, e.Place.City, e.Place.Country
	}
	return in
}

func eventInputFrom(v url.Values) eventInput {
	clean := func(s string) string { return strings.TrimSpace(s) }
	return eventInput{Title: clean(v.Get("title")), Description: strings.TrimRight(v.Get("description"), " \t\r\n"),
		Language: v.Get("language"), Start: clean(v.Get("start")), End: clean(v.Get("end")), TimeZone: v.Get("time_zone"),
		Online: v.Get("online") == "1", Venue: clean(v.Get("venue")), City: clean(v.Get("city")),
		PlaceCountry: v.Get("place_country"), Country: v.Get("country"), Audiences: v["audiences"], URL: clean(v.Get("url")),
		Edition: clean(v.Get("edition"))}
}

// eventFormOrder is the order of the form's fields, which the error
// summary follows.
var eventFormOrder = []string{"title", "description", "language", "start", "end", "time_zone", "place", "city",
	"place_country", "country", "audiences", "url", "edition", "general"}

// eventFormField maps the protocol's field names to the form's.
func eventFormField(protocolField string) string {
	f := strings.TrimPrefix(protocolField, "body.")
	switch {
	case f == "place.city":
		return "city"
	case f == "place.country":
		return "place_country"
	case f == "place.venue":
		return "city"
	}
	if i := strings.IndexAny(f, "[."); i >= 0 {
		f = f[:i]
	}
	if slices.Contains(eventFormOrder, f) {
		return f
	}
	return "general"
}

func eventAnchor(field string) string {
	switch field {
	case "audiences":
		return "f-audiences-" + protocol.Audiences[0]
	case "place":
		return "f-online"
	case "general":
		return "f-title"
	}
	return "f-" + strings.ReplaceAll(field, "_", "-")
}

// eventProblems are the form's errors in its order.
func (ps problems) eventSorted() problems {
	out := slices.Clone(ps)
	for i := range out {
		out[i].Anchor = eventAnchor(out[i].Field)
	}
	slices.SortStableFunc(out, func(a, b fieldProblem) int {
		return slices.Index(eventFormOrder, a.Field) - slices.Index(eventFormOrder, b.Field)
	})
	return out
}

// draft turns the input into an event; what cannot be read goes into ps
// with the person's words for it. Times are read in the zone chosen.
func (in eventInput) draft(p *locale.Printer, ps *problems) node.Draft {
	e := protocol.Event{Title: in.Title, Description: in.Description, Language: in.Language, TimeZone: in.TimeZone,
		Online: in.Online, Country: in.Country, Audiences: in.Audiences, URL: in.URL}
	if e.Audiences == nil {
		e.Audiences = []string{}
	}
	if in.City != "" || in.Venue != "" || !in.Online {
		e.Place = &protocol.EventPlace{Venue: in.Venue, City: in.City, Country: in.PlaceCountry}
	}
	// The list offers the network's zones; an event that has another
	// (set through the API) keeps it if the protocol knows it.
	loc := time.UTC
	if err := protocol.ValidTimeZone(in.TimeZone); err != nil {
		ps.add("time_zone", p.T("events.error.time_zone"))
	} else if l, err := time.LoadLocation(in.TimeZone); err == nil {
		loc = l
	}
	if t, err := parseLocal(in.Start, loc); err != nil {
		ps.add("start", p.T("events.error.start"))
	} else {
		e.Start = t.UTC()
	}
	if t, err := parseLocal(in.End, loc); err != nil {
		ps.add("end", p.T("events.error.end"))
	} else {
		e.End = t.UTC()
	}
	if n, err := strconv.Atoi(in.Edition); err != nil {
		ps.add("edition", p.T("events.error.edition"))
	} else {
		e.Edition = n
	}
	body, _ := json.Marshal(e)
	return node.Draft{Kind: protocol.KindEvent, Visibility: protocol.VisibilityPublic, Body: body}
}

// addEventProblems words the protocol's refusal of an event field by field.
func addEventProblems(p *locale.Printer, err error, ps *problems) {
	var ve *protocol.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		for _, f := range ve.Fields {
			field := eventFormField(f.Field)
			if field == "general" {
				ps.add(field, p.T("events.error.general"))
				continue
			}
			ps.add(field, p.T("events.error."+field))
		}
		return
	}
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeCountryNotAllowed {
		ps.add("country", p.T("events.error.country"))
		return
	}
	ps.add("general", p.T("events.error.general"))
}

func (ws *Workspace) mountEvents() {
	ws.handle("GET "+PathEvents+"{$}", ws.listEvents, rolesContent...)
	ws.handle("GET "+PathEvents+"new", ws.newEvent, rolesContent...)
	ws.handle("POST "+PathEvents+"new", ws.submitEvent, rolesContent...)
	ws.handle("GET "+PathEvents+"{id}", ws.editEvent, rolesContent...)
	ws.handle("POST "+PathEvents+"{id}", ws.submitEvent, rolesContent...)
	ws.handle("GET "+PathEvents+"{id}/delete", ws.confirmDeleteEvent, rolesContent...)
	ws.handle("POST "+PathEvents+"{id}/delete", ws.deleteEvent, rolesContent...)
}

func eventHref(id string) string { return PathEvents + pathID(id) }

// ownEvent returns the event the path names when it is this SIC's.
func (ws *Workspace) ownEvent(w http.ResponseWriter, r *http.Request) (node.Entity, bool) {
	id := r.PathValue("id")
	if owner, err := protocol.SplitEntityID(id); err != nil || owner != ws.node.ID() {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	e, err := ws.node.Get(r.Context(), id)
	if errors.Is(err, protocol.ErrNotFound) || err == nil && (e.Kind != protocol.KindEvent || e.Deleted) {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	if err != nil {
		ws.fail(w, r, "read event", err)
		return node.Entity{}, false
	}
	return e, true
}

// eventRow is an event in the list.
type eventRow struct {
	Href, Title, When, Where, State string
	Edition                         int
	start                           time.Time
}

type eventListPage struct {
	Upcoming, Past []eventRow
	Deleted        bool
}

// maxOwnEvents is how many of its events the list reads: a SIC holds a
// handful a year.
const maxOwnEvents = 1000

func (ws *Workspace) listEvents(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	list, _, err := ws.node.SearchOwn(r.Context(), node.OwnFilter{Kind: protocol.KindEvent, Limit: maxOwnEvents})
	if err != nil {
		ws.fail(w, r, "list events", err)
		return
	}
	now := time.Now()
	page := eventListPage{Deleted: r.URL.Query().Get("deleted") == "1"}
	for _, e := range list {
		var b protocol.Event
		if e.Deleted || json.Unmarshal(e.Body, &b) != nil {
			continue
		}
		row := eventRow{Href: eventHref(e.ID), Title: b.Title, When: eventWhen(p, &b), Where: eventWhere(r, p, &b),
			State: ws.stateWords(p, e), Edition: b.Edition, start: b.Start}
		if b.End.After(now) {
			page.Upcoming = append(page.Upcoming, row)
		} else {
			page.Past = append(page.Past, row)
		}
	}
	slices.SortFunc(page.Upcoming, func(a, b eventRow) int { return a.start.Compare(b.start) })
	slices.SortFunc(page.Past, func(a, b eventRow) int { return b.start.Compare(a.start) })
	ws.render(w, r, http.StatusOK, "events", sectionEvents, page)
}

// eventWhen says when an event is, in its own zone, with the zone named.
func eventWhen(p *locale.Printer, e *protocol.Event) string {
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	s, end := e.Start.In(loc), e.End.In(loc)
	if s.Format(time.DateOnly) == end.Format(time.DateOnly) {
		return p.Date(s) + ", " + p.Clock(s) + "–" + p.Clock(end) + " (" + loc.String() + ")"
	}
	return p.DateTime(s) + " – " + p.DateTime(end) + " (" + loc.String() + ")"
}

func eventWhere(r *http.Request, p *locale.Printer, e *protocol.Event) string {
	if e.Place == nil {
		return p.T("events.online")
	}
	place := e.Place.City + ", " + countryName(r, e.Place.Country)
	if e.Online {
		return p.T("events.hybrid", "place", place)
	}
	return place
}

type eventFormPage struct {
	ID, Action string
	In         eventInput
	Problems   problems
	TextLangs  []choice
	Audiences  []choice
	Zones      []choice
	Countries  []choice
	Places     []choice
	Saved      bool
	State      string
}

func (ws *Workspace) eventFormPage(r *http.Request, id string, in eventInput, ps problems) eventFormPage {
	p := web.Printer(r)
	action := PathEvents + "new"
	if id != "" {
		action = eventHref(id)
	}
	pg := eventFormPage{ID: id, Action: action, In: in, Problems: ps.eventSorted()}
	pg.TextLangs = languageChoices(p, "", []string{in.Language})
	pg.Audiences = vocabulary(p, "resources.audience.", "f-audiences-", protocol.Audiences, in.Audiences)
	zones := zoneList
	if in.TimeZone != "" && !slices.Contains(zones, in.TimeZone) && protocol.ValidTimeZone(in.TimeZone) == nil {
		zones = append(slices.Clone(zones), in.TimeZone)
	}
	for _, z := range zones {
		pg.Zones = append(pg.Zones, choice{Value: z, Label: strings.ReplaceAll(z, "_", " "), Checked: z == in.TimeZone})
	}
	for _, c := range ws.countries() {
		pg.Countries = append(pg.Countries, choice{Value: c, Label: countryName(r, c), Checked: c == in.Country})
	}
	codes := make([]string, 0, len(eventZones)+1)
	for c := range eventZones {
		codes = append(codes, c)
	}
	if in.PlaceCountry != "" && !slices.Contains(codes, in.PlaceCountry) && len(in.PlaceCountry) == 2 {
		codes = append(codes, in.PlaceCountry)
	}
	for _, c := range codes {
		pg.Places = append(pg.Places, choice{Value: c, Label: countryName(r, c), Checked: c == in.PlaceCountry})
	}
	slices.SortFunc(pg.Places, func(a, b choice) int { return strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) })
	return pg
}

// sicZone is the zone the form preselects: the workspace's own, when it is
// one the form offers, else the SIC's country's.
func (ws *Workspace) sicZone(country string) string {
	if z := ws.cfg.Location.String(); slices.Contains(zoneList, z) && z != "UTC" {
		return z
	}
	return cmp.Or(eventZones[country], "Europe/Brussels")
}

func (ws *Workspace) newEvent(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	country := ""
	if cs := ws.countries(); len(cs) > 0 {
		country = cs[0]
	}
	edition := protocol.NextEdition(time.Now())
	day := protocol.SIDDate(edition).Format(time.DateOnly)
	in := eventInput{Country: country, PlaceCountry: country, TimeZone: ws.sicZone(country), Edition: strconv.Itoa(edition),
		Start: day + "T10:00", End: day + "T12:00"}
	if l := p.Lang(); slices.Contains(resourceLanguages, l) {
		in.Language = l
	}
	ws.render(w, r, http.StatusOK, "events_form", sectionEvents, ws.eventFormPage(r, "", in, nil))
}

func (ws *Workspace) editEvent(w http.ResponseWriter, r *http.Request) {
	e, ok := ws.ownEvent(w, r)
	if !ok {
		return
	}
	var b protocol.Event
	if err := json.Unmarshal(e.Body, &b); err != nil {
		ws.fail(w, r, "read event", err)
		return
	}
	pg := ws.eventFormPage(r, e.ID, eventInputOf(b), nil)
	pg.Saved, pg.State = r.URL.Query().Get("saved") == "1", ws.stateWords(web.Printer(r), e)
	ws.render(w, r, http.StatusOK, "events_form", sectionEvents, pg)
}

func (ws *Workspace) submitEvent(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	var cur *node.Entity
	if r.PathValue("id") != "" {
		e, ok := ws.ownEvent(w, r)
		if !ok {
			return
		}
		cur = &e
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxEventForm)
	if err := r.ParseForm(); err != nil {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	in := eventInputFrom(r.PostForm)
	id := ""
	if cur != nil {
		id = cur.ID
	}
	var ps problems
	d := in.draft(p, &ps)
	if len(ps) == 0 {
		ws.checkEvent(p, d, &ps)
	}
	if len(ps) > 0 {
		ws.render(w, r, http.StatusUnprocessableEntity, "events_form", sectionEvents, ws.eventFormPage(r, id, in, ps))
		return
	}
	var e node.Entity
	var err error
	if cur == nil {
		e, err = ws.node.Create(r.Context(), d)
	} else {
		e, err = ws.node.Update(r.Context(), cur.ID, d)
	}
	if err != nil {
		var ve *protocol.ValidationError
		var pe *protocol.Error
		if !errors.As(err, &ve) && !errors.As(err, &pe) {
			ws.fail(w, r, "save event", err)
			return
		}
		addEventProblems(p, err, &ps)
		ws.render(w, r, http.StatusUnprocessableEntity, "events_form", sectionEvents, ws.eventFormPage(r, id, in, ps))
		return
	}
	m, _ := web.Member(r)
	ws.log.Info("event saved", "id", e.ID, "version", e.Version, "member", m.ID)
	http.Redirect(w, r, eventHref(e.ID)+"?saved=1", http.StatusSeeOther)
}

// checkEvent validates d as the node will on saving, and the organising
// country as the hub will: the protocol's parser on a change with a
// made-up envelope.
func (ws *Workspace) checkEvent(p *locale.Printer, d node.Draft, ps *problems) {
	self := ws.node.ID()
	id, err := protocol.NewEntityID(self, time.Now())
	if err != nil {
		ps.add("general", p.T("events.error.general"))
		return
	}
	c := protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: self, Version: 1, Seq: 1,
		UpdatedAt: time.Now().UTC(), Visibility: d.Visibility, Body: d.Body, KeyID: self + "-check"}
	raw, err := json.Marshal(&c)
	if err != nil {
		ps.add("general", p.T("events.error.general"))
		return
	}
	if _, err := protocol.ParseChange(raw); err != nil {
		addEventProblems(p, err, ps)
	}
	var b protocol.Event
	if json.Unmarshal(d.Body, &b) == nil && !slices.Contains(ws.countries(), b.Country) {
		ps.add("country", p.T("events.error.country"))
	}
}

type eventDeletePage struct {
	Title, Href, Action string
}

func (ws *Workspace) confirmDeleteEvent(w http.ResponseWriter, r *http.Request) {
	e, ok := ws.ownEvent(w, r)
	if !ok {
		return
	}
	ws.render(w, r, http.StatusOK, "events_delete", sectionEvents, eventDeletePage{Title: titleOf(e.Body),
		Href: eventHref(e.ID), Action: eventHref(e.ID) + "/delete"})
}

func (ws *Workspace) deleteEvent(w http.ResponseWriter, r *http.Request) {
	e, ok := ws.ownEvent(w, r)
	if !ok {
		return
	}
	if _, err := ws.node.Delete(r.Context(), e.ID, false); err != nil {
		ws.fail(w, r, "delete event", err)
		return
	}
	m, _ := web.Member(r)
	ws.log.Info("event deleted", "id", e.ID, "member", m.ID)
	http.Redirect(w, r, PathEvents+"?deleted=1", http.StatusSeeOther)
}
