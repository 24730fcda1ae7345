package protocol

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEvent_validate(t *testing.T) {
	type edit = func(c, b map[string]any)
	place := func(b map[string]any) map[string]any { return b["place"].(map[string]any) }
	tests := []struct {
		name   string
		edit   edit
		fields []string
	}{
		{"title missing", func(c, b map[string]any) { delete(b, "title") }, []string{"body.title"}},
		{"title too long", func(c, b map[string]any) { b["title"] = strings.Repeat("x", MaxShortField+1) }, []string{"body.title"}},
		{"title with a bidi override", func(c, b map[string]any) { b["title"] = "Atelier\u202e" }, []string{"body.title"}},
		{"description too long", func(c, b map[string]any) { b["description"] = strings.Repeat("x", MaxTextField+1) }, []string{"body.description"}},
		{"language not a tag", func(c, b map[string]any) { b["language"] = "french" }, []string{"body.language"}},
		{"language not canonical", func(c, b map[string]any) { b["language"] = "fr-be" }, []string{"body.language"}},
		{"time zone missing", func(c, b map[string]any) { delete(b, "time_zone") }, []string{"body.time_zone"}},
		{"time zone unknown", func(c, b map[string]any) { b["time_zone"] = "Europe/Atlantis" }, []string{"body.time_zone"}},
		{"time zone Local", func(c, b map[string]any) { b["time_zone"] = "Local" }, []string{"body.time_zone"}},
		{"time zone a path", func(c, b map[string]any) { b["time_zone"] = "../../etc/passwd" }, []string{"body.time_zone"}},
		{"time zone too long", func(c, b map[string]any) { b["time_zone"] = strings.Repeat("A", MaxTimeZoneLen+1) }, []string{"body.time_zone"}},
		{"start missing", func(c, b map[string]any) { delete(b, "start") }, []string{"body.start"}},
		{"start in year 1", func(c, b map[string]any) { b["start"] = "0001-02-09T09:00:00Z" }, []string{"body.start"}},
		{"end missing", func(c, b map[string]any) { delete(b, "end") }, []string{"body.end"}},
		{"end before start", func(c, b map[string]any) { b["end"] = "2027-02-09T08:00:00Z" }, []string{"body.end"}},
		{"end at start", func(c, b map[string]any) { b["end"] = b["start"] }, []string{"body.end"}},
		{"longer than a month", func(c, b map[string]any) { b["end"] = "2027-03-20T09:00:00Z" }, []string{"body.end"}},
		{"neither online nor in a place", func(c, b map[string]any) { delete(b, "place"); b["online"] = false }, []string{"body.place"}},
		{"place without city", func(c, b map[string]any) { delete(place(b), "city") }, []string{"body.place.city"}},
		{"place country upper case", func(c, b map[string]any) { place(b)["country"] = "BE" }, []string{"body.place.country"}},
		{"venue with a bidi isolate", func(c, b map[string]any) { place(b)["venue"] = "\u2067x" }, []string{"body.place.venue"}},
		{"country missing", func(c, b map[string]any) { delete(b, "country") }, []string{"body.country"}},
		{"country alpha-3", func(c, b map[string]any) { b["country"] = "bel" }, []string{"body.country"}},
		{"no audience", func(c, b map[string]any) { b["audiences"] = []any{} }, []string{"body.audiences"}},
		{"audience outside the vocabulary", func(c, b map[string]any) { b["audiences"] = []any{"children", "grandparents"} }, []string{"body.audiences[1]"}},
		{"audience repeated", func(c, b map[string]any) { b["audiences"] = []any{"children", "children"} }, []string{"body.audiences[1]"}},
		{"link mailto", func(c, b map[string]any) { b["url"] = "mailto:sid@example.org" }, []string{"body.url"}},
		{"link javascript", func(c, b map[string]any) { b["url"] = "javascript:alert(1)" }, []string{"body.url"}},
		{"link too long", func(c, b map[string]any) { b["url"] = "https://example.org/" + strings.Repeat("a", 2048) }, []string{"body.url"}},
		{"edition before the first SID", func(c, b map[string]any) { b["edition"] = 2003 }, []string{"body.edition"}},
		{"edition missing", func(c, b map[string]any) { delete(b, "edition") }, []string{"body.edition"}},
		{"edition far ahead", func(c, b map[string]any) { b["edition"] = 2101 }, []string{"body.edition"}},
		{"not public", func(c, b map[string]any) { c["visibility"] = "community" }, []string{"visibility"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mutate(t, golden(t, KindEvent), tc.edit)
			_, err := ParseChange(raw)
			if ErrorCode(err) != CodeInvalidField {
				t.Fatalf("err = %v, want invalid_field", err)
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %q, want %q (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestEvent_validate_accepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(c, b map[string]any)
	}{
		{"online only", func(c, b map[string]any) { delete(b, "place") }},
		{"in a place only", func(c, b map[string]any) { delete(b, "online") }},
		{"place in another country", func(c, b map[string]any) { b["place"].(map[string]any)["country"] = "lu" }},
		{"no link, no description, no venue", func(c, b map[string]any) {
			delete(b, "url")
			delete(b, "description")
			delete(b["place"].(map[string]any), "venue")
		}},
		{"UTC", func(c, b map[string]any) { b["time_zone"] = "UTC" }},
		{"start with an offset", func(c, b map[string]any) { b["start"] = "2027-02-09T10:00:00+01:00" }},
		{"a week", func(c, b map[string]any) { b["end"] = "2027-02-16T09:00:00Z" }},
		{"deleted", func(c, b map[string]any) { c["deleted"] = true; delete(c, "body") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseChange(mutate(t, golden(t, KindEvent), tc.edit)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSIDDate(t *testing.T) {
	for year, want := range map[int]string{2025: "2025-02-11", 2026: "2026-02-10", 2027: "2027-02-09", 2028: "2028-02-08", 2033: "2033-02-08"} {
		if got := SIDDate(year).Format(time.DateOnly); got != want {
			t.Errorf("SIDDate(%d) = %s, want %s", year, got, want)
		}
	}
}

func TestNextEdition(t *testing.T) {
	for _, tc := range []struct {
		now  string
		want int
	}{
		{"2026-12-07T17:00:00Z", 2027},
		{"2027-01-15T00:00:00Z", 2027},
		{"2027-02-09T23:00:00Z", 2027},
		{"2027-02-11T00:00:00Z", 2028},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		if got := NextEdition(now); got != tc.want {
			t.Errorf("NextEdition(%s) = %d, want %d", tc.now, got, tc.want)
		}
	}
}
