package portal

import (
	"testing"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

func TestServiceRow_suitableFor(t *testing.T) {
	tests := []struct {
		name string
		s    protocol.Service
		age  int
		want bool
	}{
		{"minimum age reached", protocol.Service{MinimumAge: 13}, 13, true},
		{"minimum age not reached", protocol.Service{MinimumAge: 13}, 12, false},
		{"no minimum age", protocol.Service{NoMinimumAge: true}, 3, true},
		{"no minimum age, PEGI 12", protocol.Service{NoMinimumAge: true, PEGI: 12}, 9, false},
		{"no minimum age, PEGI 12, old enough", protocol.Service{NoMinimumAge: true, PEGI: 12}, 12, true},
		{"App Store 17+", protocol.Service{MinimumAge: 13, AppStoreAge: "17+"}, 16, false},
		{"App Store 12+", protocol.Service{MinimumAge: 13, AppStoreAge: "12+"}, 13, true},
		// An old entry's 0 says nothing: no age is known to suit.
		{"old entry with 0", protocol.Service{}, 17, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &serviceRow{Service: tc.s}
			if got := s.suitableFor(tc.age); got != tc.want {
				t.Errorf("suitableFor(%d) = %v, want %v", tc.age, got, tc.want)
			}
		})
	}
}

func TestAgeText(t *testing.T) {
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, de := b.Printer("en"), b.Printer("de")
	for _, c := range []struct {
		s    protocol.Service
		pr   *locale.Printer
		want string
	}{
		{protocol.Service{MinimumAge: 13}, en, "Minimum age 13"},
		{protocol.Service{NoMinimumAge: true}, en, "No minimum age"},
		{protocol.Service{}, en, "Minimum age not given in this guide"},
		{protocol.Service{MinimumAge: 16}, de, "Mindestalter 16 Jahre"},
		{protocol.Service{NoMinimumAge: true}, de, "Kein Mindestalter"},
	} {
		if got := ageText(c.pr, &serviceRow{Service: c.s}); got != c.want {
			t.Errorf("ageText(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
