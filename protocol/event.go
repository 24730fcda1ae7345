package protocol

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	// Every holder must agree on which zone names exist, whatever zoneinfo
	// its host has: a record one node accepts is accepted everywhere.
	_ "time/tzdata"
)

// Event is a Safer Internet Day event organised by a SIC: a workshop, a
// webinar, a youth panel. It is owned by the organising SIC's node and is
// public: the portal lists the network's events by SID edition.
type Event struct {
	Title string `json:"title"`
	// Description is plain text, paragraphs separated by blank lines, as a
	// resource's.
	Description string `json:"description,omitempty"`
	// Language is the language of Title and Description, and the one the
	// event is held in.
	Language string `json:"language"`
	// Start and End are instants; TimeZone is the IANA zone the organiser
	// gave them in ("Europe/Brussels"), which the portal shows them in.
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	TimeZone string    `json:"time_zone"`
	// Online says the event can be followed online; with a Place it is
	// hybrid.
	Online bool        `json:"online,omitempty"`
	Place  *EventPlace `json:"place,omitempty"`
	// Country is the organising country, a lowercase ISO 3166 alpha-2
	// code; a place may be in another one.
	Country   string   `json:"country"`
	Audiences []string `json:"audiences"`
	URL       string   `json:"url,omitempty"`
	// Edition is the Safer Internet Day the event belongs to, by year.
	Edition int `json:"edition"`
}

// EventPlace is where an event is held in person.
type EventPlace struct {
	// Venue is the building or the school, when the organiser says.
	Venue   string `json:"venue,omitempty"`
	City    string `json:"city"`
	Country string `json:"country"`
}

// Limits of an event's times and edition.
const (
	// MaxEventLength is the longest an event lasts: SID events run from
	// an hour's webinar to a week of activities.
	MaxEventLength = 31 * 24 * time.Hour
	// MaxTimeZoneLen bounds a zone name; the longest IANA name is 32.
	MaxTimeZoneLen = 64
	// FirstEdition is the first Safer Internet Day, LastEdition the
	// last year a record may plan for.
	FirstEdition = 2004
	LastEdition  = 2100
)

// SIDDate is the day of a Safer Internet Day edition: the second Tuesday
// of February.
func SIDDate(edition int) time.Time {
	d := time.Date(edition, time.February, 1, 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, (int(time.Tuesday)-int(d.Weekday())+7)%7)
	return d.AddDate(0, 0, 7)
}

// NextEdition is the edition a SIC prepares for at now: this year's until
// its day is over, next year's after.
func NextEdition(now time.Time) int {
	y := now.UTC().Year()
	if now.UTC().After(SIDDate(y).AddDate(0, 0, 1)) {
		return y + 1
	}
	return y
}

// ValidTimeZone checks an IANA time zone name as the protocol accepts it:
// one the zone database has, by its name ("UTC" included), never "Local".
func ValidTimeZone(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("required")
	case len(name) > MaxTimeZoneLen:
		return fmt.Errorf("%d bytes, limit %d", len(name), MaxTimeZoneLen)
	case name == "Local":
		return fmt.Errorf("%q is not an IANA time zone name", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("%q is not an IANA time zone name", name)
	}
	return nil
}

func validCountry(v *fieldErrors, field, code string) {
	if len(code) != 2 || !isAlpha(code) || strings.ToLower(code) != code {
		v.add(field, "%q is not a lowercase ISO 3166 alpha-2 code", code)
	}
}

func (e *Event) validate(v *fieldErrors, c *Change) {
	requireName(v, "body.title", e.Title, MaxShortField)
	optionalText(v, "body.description", e.Description, MaxTextField)
	requireLang(v, "body.language", e.Language)
	if err := ValidTimeZone(e.TimeZone); err != nil {
		v.add("body.time_zone", "%v", err)
	}
	switch {
	case e.Start.IsZero():
		v.add("body.start", "required")
	case e.Start.Year() < FirstEdition-1 || e.Start.Year() > LastEdition+1:
		v.add("body.start", "%s is not in the years of Safer Internet Day", e.Start.UTC().Format(time.RFC3339))
	case e.End.IsZero():
		v.add("body.end", "required")
	case !e.End.After(e.Start):
		v.add("body.end", "an event ends after it starts")
	case e.End.Sub(e.Start) > MaxEventLength:
		v.add("body.end", "an event lasts at most %d days", int(MaxEventLength/(24*time.Hour)))
	}
	if pl := e.Place; pl != nil {
		optionalText(v, "body.place.venue", pl.Venue, MaxShortField)
		if r, ok := BidiControl(pl.Venue); ok {
			v.add("body.place.venue", "has the bidirectional control U+%04X", r)
		}
		requireName(v, "body.place.city", pl.City, MaxShortField)
		validCountry(v, "body.place.country", pl.Country)
	} else if !e.Online {
		v.add("body.place", "an event is online, in a place, or both")
	}
	validCountry(v, "body.country", e.Country)
	requireList(v, "body.audiences", e.Audiences)
	vocabList(v, "body.audiences", e.Audiences, Audiences)
	if e.URL != "" {
		// A visitor follows the link from a list of events: mailto and
		// tel, which other kinds allow, are not where an event is.
		if u, err := url.Parse(e.URL); len(e.URL) > 2048 || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add("body.url", "not an http(s) URL of at most 2048 bytes")
		}
	}
	if e.Edition < FirstEdition || e.Edition > LastEdition {
		v.add("body.edition", "%d is not a Safer Internet Day edition (%d to %d)", e.Edition, FirstEdition, LastEdition)
	}
	if c.Visibility != VisibilityPublic {
		v.add("visibility", "an event is announced to the public and must be public")
	}
}

var eventFields = []fastField[Event]{
	{"title", func(d *fastDecoder, e *Event) bool { return d.str(&e.Title) }},
	{"description", func(d *fastDecoder, e *Event) bool { return d.str(&e.Description) }},
	{"language", func(d *fastDecoder, e *Event) bool { return d.str(&e.Language) }},
	{"start", func(d *fastDecoder, e *Event) bool { return d.time(&e.Start) }},
	{"end", func(d *fastDecoder, e *Event) bool { return d.time(&e.End) }},
	{"time_zone", func(d *fastDecoder, e *Event) bool { return d.str(&e.TimeZone) }},
	{"online", func(d *fastDecoder, e *Event) bool { return d.bool(&e.Online) }},
	{"place", func(d *fastDecoder, e *Event) bool {
		e.Place = new(EventPlace)
		return decodeObject(d, e.Place, eventPlaceFields)
	}},
	{"country", func(d *fastDecoder, e *Event) bool { return d.str(&e.Country) }},
	{"audiences", func(d *fastDecoder, e *Event) bool { return decodeList(d, &e.Audiences, (*fastDecoder).str) }},
	{"url", func(d *fastDecoder, e *Event) bool { return d.str(&e.URL) }},
	{"edition", func(d *fastDecoder, e *Event) bool { return d.int(&e.Edition) }},
}

var eventPlaceFields = []fastField[EventPlace]{
	{"venue", func(d *fastDecoder, p *EventPlace) bool { return d.str(&p.Venue) }},
	{"city", func(d *fastDecoder, p *EventPlace) bool { return d.str(&p.City) }},
	{"country", func(d *fastDecoder, p *EventPlace) bool { return d.str(&p.Country) }},
}
