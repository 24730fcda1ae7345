package workspace

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestEventInput_Draft(t *testing.T) {
	p := english(t)
	form := url.Values{"title": {"  Atelier  "}, "language": {"fr"}, "start": {"2027-02-09T10:00"}, "end": {"2027-02-09T12:00"},
		"time_zone": {"Europe/Brussels"}, "city": {"Namur"}, "place_country": {"be"}, "country": {"be"},
		"audiences": {"children", "teachers"}, "edition": {"2027"}}
	var ps problems
	d := eventInputFrom(form).draft(p, &ps)
	if len(ps) > 0 {
		t.Fatalf("problems: %+v", ps)
	}
	var e protocol.Event
	if err := json.Unmarshal(d.Body, &e); err != nil {
		t.Fatal(err)
	}
	if d.Kind != protocol.KindEvent || d.Visibility != protocol.VisibilityPublic || e.Title != "Atelier" {
		t.Errorf("draft %+v %s", d, d.Body)
	}
	// 10:00 in Brussels in February is 09:00 UTC.
	if want := time.Date(2027, 2, 9, 9, 0, 0, 0, time.UTC); !e.Start.Equal(want) || !e.End.Equal(want.Add(2*time.Hour)) {
		t.Errorf("start %v end %v", e.Start, e.End)
	}
	if e.Place == nil || e.Place.City != "Namur" || e.Online {
		t.Errorf("place %+v online %v", e.Place, e.Online)
	}

	t.Run("unreadable fields", func(t *testing.T) {
		bad := url.Values{"start": {"9 February"}, "end": {""}, "time_zone": {"Mars/Olympus"}, "edition": {"next"}}
		var ps problems
		eventInputFrom(bad).draft(p, &ps)
		for _, f := range []string{"start", "end", "time_zone", "edition"} {
			if ps.For(f) == "" {
				t.Errorf("no problem for %s: %+v", f, ps)
			}
		}
	})

	t.Run("online only has no place", func(t *testing.T) {
		v := url.Values{"online": {"1"}, "time_zone": {"Europe/Helsinki"}, "start": {"2027-02-09T10:00"}, "end": {"2027-02-09T11:00"}, "edition": {"2027"}}
		var ps problems
		d := eventInputFrom(v).draft(p, &ps)
		var e protocol.Event
		json.Unmarshal(d.Body, &e)
		if e.Place != nil || !e.Online {
			t.Errorf("online event %s", d.Body)
		}
	})
}

func TestAddEventProblems(t *testing.T) {
	p := english(t)
	raw := func(edit func(b map[string]any)) error {
		b := map[string]any{"title": "", "language": "fr", "start": "2027-02-09T09:00:00Z", "end": "2027-02-09T08:00:00Z",
			"time_zone": "Europe/Brussels", "place": map[string]any{"city": "", "country": "BE"}, "country": "be",
			"audiences": []string{}, "url": "ftp://x", "edition": 1999}
		edit(b)
		body, _ := json.Marshal(b)
		c := protocol.Change{Protocol: protocol.Version, ID: "be:01JKT3SK2R8F6Y1GQW4M9XZ0AB", Kind: protocol.KindEvent, Owner: "be",
			Version: 1, Seq: 1, UpdatedAt: time.Now(), Visibility: protocol.VisibilityPublic, Body: body, KeyID: "be-x"}
		r, _ := json.Marshal(c)
		_, err := protocol.ParseChange(r)
		return err
	}
	var ps problems
	addEventProblems(p, raw(func(map[string]any) {}), &ps)
	var fields []string
	for _, pr := range ps.eventSorted() {
		fields = append(fields, pr.Field)
		if pr.Message == "" || pr.Message == "events.error."+pr.Field {
			t.Errorf("%s has no words: %q", pr.Field, pr.Message)
		}
	}
	if want := []string{"title", "end", "city", "place_country", "audiences", "url", "edition"}; !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	var none problems
	addEventProblems(p, raw(func(b map[string]any) { delete(b, "place"); b["online"] = false }), &none)
	if none.For("place") == "" {
		t.Errorf("an event neither online nor in a place: %+v", none)
	}
	var country problems
	addEventProblems(p, &protocol.Error{Code: protocol.CodeCountryNotAllowed}, &country)
	if country.For("country") == "" {
		t.Errorf("country refused: %+v", country)
	}
	var other problems
	addEventProblems(p, errors.New("disk full"), &other)
	if other.For("general") == "" {
		t.Errorf("other error: %+v", other)
	}
}

func TestEventZones(t *testing.T) {
	for _, z := range zoneList {
		if err := protocol.ValidTimeZone(z); err != nil {
			t.Errorf("%s: %v", z, err)
		}
	}
}

// An event opened for editing and saved unchanged is the same event: its
// times read back in its own zone, its place and its other fields as they
// were.
func TestEventInputOf_roundTrip(t *testing.T) {
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2027, 2, 9, 13, 0, 0, 0, hel).UTC()
	want := protocol.Event{Title: "Nuorten paneeli", Description: "Kaksi riviä.\nToinen.", Language: "fi", Start: start,
		End: start.Add(90 * time.Minute), TimeZone: "Europe/Helsinki", Online: true,
		Place: &protocol.EventPlace{Venue: "Oodi", City: "Helsinki", Country: "fi"}, Country: "fi",
		Audiences: []string{"teens", "youth-workers"}, URL: "https://example.fi/sid", Edition: 2027}
	in := eventInputOf(want)
	if in.Start != "2027-02-09T13:00" || in.End != "2027-02-09T14:30" {
		t.Errorf("times in the form: %s, %s", in.Start, in.End)
	}
	form := url.Values{"title": {in.Title}, "description": {in.Description}, "language": {in.Language}, "start": {in.Start},
		"end": {in.End}, "time_zone": {in.TimeZone}, "online": {"1"}, "venue": {in.Venue}, "city": {in.City},
		"place_country": {in.PlaceCountry}, "country": {in.Country}, "audiences": in.Audiences, "url": {in.URL}, "edition": {in.Edition}}
	var ps problems
	d := eventInputFrom(form).draft(english(t), &ps)
	if len(ps) > 0 {
		t.Fatalf("problems: %+v", ps)
	}
	var got protocol.Event
	if err := json.Unmarshal(d.Body, &got); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("saved unchanged:\n got %s\nwant %s", b, a)
	}
}
