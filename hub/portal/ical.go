package portal

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// icalEvent is one VEVENT of an iCalendar export (RFC 5545). Its times are
// written in UTC: every calendar reads them, and no VTIMEZONE, which would
// have to restate the zone database's rules, is needed.
type icalEvent struct {
	UID                            string
	Sequence                       int64
	Stamp, Start, End              time.Time
	Summary, Description, Location string
	URL                            string
}

// icalLineMax is the longest a content line may be, in octets, without its
// CRLF (RFC 5545 §3.1).
const icalLineMax = 75

// icalendar writes a VCALENDAR of events named name.
func icalendar(name string, events []icalEvent) []byte {
	var b bytes.Buffer
	line := func(s string) { foldLine(&b, s) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Better Internet for Kids//bikfed//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("X-WR-CALNAME:" + icalText(name))
	for _, e := range events {
		line("BEGIN:VEVENT")
		line("UID:" + icalText(e.UID))
		if e.Sequence > 0 {
			line("SEQUENCE:" + strconv.FormatInt(e.Sequence, 10))
		}
		line("DTSTAMP:" + icalTime(e.Stamp))
		line("DTSTART:" + icalTime(e.Start))
		line("DTEND:" + icalTime(e.End))
		line("SUMMARY:" + icalText(e.Summary))
		if e.Description != "" {
			line("DESCRIPTION:" + icalText(e.Description))
		}
		if e.Location != "" {
			line("LOCATION:" + icalText(e.Location))
		}
		if e.URL != "" {
			// URL is a URI value, not text: it is written as it is.
			line("URL:" + e.URL)
		}
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.Bytes()
}

func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icalText escapes a TEXT value: backslash, semicolon and comma are
// escaped, a line break is written \n, and other control characters,
// which a content line may not hold, are dropped.
func icalText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteString(`\n`)
		case '\n':
			b.WriteString(`\n`)
		default:
			if c < 0x20 || c == 0x7f {
				continue
			}
			b.WriteByte(c)
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// foldLine writes s as a content line: folded before icalLineMax octets
// with CRLF and a space, never inside a UTF-8 sequence, ended by CRLF.
func foldLine(b *bytes.Buffer, s string) {
	limit := icalLineMax
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		// A continuation line's leading space counts towards its octets.
		limit = icalLineMax - 1
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}
