package console

import (
	"testing"
	"time"
)

func TestNextEdition(t *testing.T) {
	taken := map[string]bool{"2026-12": true, "2027-03": true, "2026-03": true}
	for _, tc := range []struct {
		now, want string
	}{
		{"2026-01-05", "2026-06"},
		{"2026-03-31", "2026-06"},
		{"2026-04-01", "2026-06"},
		{"2026-08-20", "2026-09"},
		{"2026-10-01", "2027-06"},
		{"2026-12-07", "2027-06"},
		{"2027-07-01", "2027-09"},
	} {
		now, err := time.Parse(time.DateOnly, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := nextEdition(now, func(e string) bool { return taken[e] }); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.now, got, tc.want)
		}
	}
}
