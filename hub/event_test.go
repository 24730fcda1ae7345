package hub

import (
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func eventBody(country, title string) protocol.Event {
	return protocol.Event{Title: title, Language: "fr-BE", Start: time.Date(2027, 2, 9, 9, 0, 0, 0, time.UTC),
		End: time.Date(2027, 2, 9, 11, 0, 0, 0, time.UTC), TimeZone: "Europe/Brussels", Online: true, Country: country,
		Audiences: []string{"parents"}, Edition: 2027}
}

func TestHub_Event(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	fi := th.enrolNode(t, "fi")

	// A SIC organises events in its own countries.
	res := fi.mustPush(t, fi.sign(t, fi.newChange(t, protocol.KindEvent, protocol.VisibilityPublic, eventBody("be", "Webinaire"))))
	if got := refusalCodes(res); len(got) != 1 || got[0] != protocol.CodeCountryNotAllowed {
		t.Fatalf("fi's event in be = %+v", res)
	}
	ev := be.newChange(t, protocol.KindEvent, protocol.VisibilityPublic, eventBody("be", "Webinaire pour les parents"))
	update := be.next(ev)
	del := be.next(update)
	del.Deleted, del.Body = true, nil
	for i, c := range []*protocol.Change{ev, update, del} {
		if res := be.mustPush(t, be.sign(t, c)); res.Applied != 1 || len(res.Refused) != 0 {
			t.Fatalf("push %d of be's event = %+v", i, res)
		}
	}
	f, err := fi.client.Changes(t.Context(), 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var last *protocol.Change
	for _, it := range f.Changes {
		if c := mustChange(t, it.Signed); c.ID == ev.ID {
			last = c
		}
	}
	if last == nil || !last.Deleted || last.Version != del.Version {
		t.Fatalf("fi's feed ends the event with %+v, want its deletion", last)
	}
}
