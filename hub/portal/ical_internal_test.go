package portal

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestIcalText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                  "plain",
		"a, b; c":                `a\, b\; c`,
		`back\slash`:             `back\\slash`,
		"two\nlines":             `two\nlines`,
		"windows\r\nline":        `windows\nline`,
		"old mac\rline":          `old mac\nline`,
		"bell\x07 and tab\tgone": "bell and tabgone",
		"Atelier : élèves":       "Atelier : élèves",
	} {
		if got := icalText(in); got != want {
			t.Errorf("icalText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFoldLine(t *testing.T) {
	tests := []string{
		"SUMMARY:short",
		"DESCRIPTION:" + strings.Repeat("a", 200),
		// Two-byte letters, so a fold at 75 octets would split one.
		"SUMMARY:" + strings.Repeat("é", 100),
		// Four-byte runes.
		"SUMMARY:" + strings.Repeat("😀", 60),
		"X:" + strings.Repeat("b", 73),
	}
	for _, in := range tests {
		var b bytes.Buffer
		foldLine(&b, in)
		got := b.String()
		if !strings.HasSuffix(got, "\r\n") {
			t.Fatalf("%q does not end with CRLF", got)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > icalLineMax {
				t.Errorf("line %d of %.20q is %d octets", i, in, len(l))
			}
			if !utf8.ValidString(l) {
				t.Errorf("line %d of %.20q splits a character: %q", i, in, l)
			}
			if i > 0 && l[0] != ' ' {
				t.Errorf("continuation line %d does not start with a space", i)
			}
			if strings.ContainsAny(l, "\r\n") {
				t.Errorf("bare CR or LF in line %d", i)
			}
		}
		// Unfolding (RFC 5545 §3.1) gives the line back.
		if un := strings.ReplaceAll(strings.TrimSuffix(got, "\r\n"), "\r\n ", ""); un != in {
			t.Errorf("unfolded %q, want %q", un, in)
		}
		if in == "X:"+strings.Repeat("b", 73) && len(lines) != 1 {
			t.Errorf("a line of exactly 75 octets was folded")
		}
	}
}

func TestIcalendar(t *testing.T) {
	start := time.Date(2027, 2, 9, 9, 0, 0, 0, time.UTC)
	out := string(icalendar("SID, 2027", []icalEvent{{UID: "be:01JKT3SK2R8F6Y1GQW4M9XZ0AB@bikfed", Sequence: 1,
		Stamp: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC), Start: start, End: start.Add(2 * time.Hour),
		Summary: "Atelier; école, parents", Description: "Ligne 1\n\nLigne 2", Location: "Namur, Belgique",
		URL: "https://www.saferinternet.be/fr/sid?x=1,2"}}))
	if strings.Count(out, "\r\n") != strings.Count(out, "\n") {
		t.Fatal("a line ends without CR")
	}
	for _, want := range []string{
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Better Internet for Kids//bikfed//EN\r\n",
		"X-WR-CALNAME:SID\\, 2027\r\n",
		"BEGIN:VEVENT\r\nUID:be:01JKT3SK2R8F6Y1GQW4M9XZ0AB@bikfed\r\nSEQUENCE:1\r\nDTSTAMP:20261207T093000Z\r\n",
		"DTSTART:20270209T090000Z\r\nDTEND:20270209T110000Z\r\n",
		"SUMMARY:Atelier\\; école\\, parents\r\n",
		"DESCRIPTION:Ligne 1\\n\\nLigne 2\r\n",
		"LOCATION:Namur\\, Belgique\r\n",
		"URL:https://www.saferinternet.be/fr/sid?x=1,2\r\n",
		"END:VEVENT\r\nEND:VCALENDAR\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
