package portal

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bikfed/bikfed/protocol"
)

// FuzzParseEventQuery holds the events list's reading of its address to
// what its links rely on: whatever arrives, the query it makes encodes to
// an address that reads back as the same query, and it names only values
// the list can match.
func FuzzParseEventQuery(f *testing.F) {
	for _, s := range []string{"", "country=be", "edition=2026&lang=fr-BE&audience=parents&online=1",
		"country=BE&lang=%ZZ&online=yes", "edition=99999&country=b", "lang=" + strings.Repeat("a", 40)} {
		f.Add(s)
	}
	const current = 2027
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q := parseEventQuery(v, current)
		if q.Edition < protocol.FirstEdition || q.Edition > protocol.LastEdition {
			t.Fatalf("edition %d", q.Edition)
		}
		if q.Online != "" && q.Online != "0" && q.Online != "1" {
			t.Fatalf("online %q", q.Online)
		}
		if q.Audience != "" && !slices.Contains(protocol.Audiences, q.Audience) {
			t.Fatalf("audience %q", q.Audience)
		}
		link := q.link("/sid/events", current)
		_, rawQuery, _ := strings.Cut(link, "?")
		back, err := url.ParseQuery(rawQuery)
		if err != nil {
			t.Fatalf("link %q: %v", link, err)
		}
		if again := parseEventQuery(back, current); again != q {
			t.Fatalf("%q reads back as %+v, not %+v", link, again, q)
		}
		if !utf8.ValidString(link) || strings.ContainsAny(link, " \"<>") {
			t.Fatalf("link %q", link)
		}
	})
}
