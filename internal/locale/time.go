package locale

import (
	"strconv"
	"time"
)

const day = 24 * time.Hour

// rounding says how unit rounds an amount to a whole number.
type rounding int

const (
	nearest rounding = iota
	up
	down
)

// unit picks the largest of seconds, minutes, hours and days in which d is
// at least 1, and d's whole amount of it, at least 1.
func unit(d time.Duration, r rounding) (string, int) {
	if d < 0 {
		d = -d
	}
	var name string
	var size time.Duration
	switch {
	case d >= day:
		name, size = "days", day
	case d >= time.Hour:
		name, size = "hours", time.Hour
	case d >= time.Minute:
		name, size = "minutes", time.Minute
	default:
		name, size = "seconds", time.Second
	}
	n := d / size
	switch rem := d % size; {
	case r == up && rem > 0, r == nearest && rem >= size/2:
		n++
	}
	return name, max(int(n), 1)
}

// Duration writes d in its largest whole unit, rounded to the nearest:
// "3 minutes", "3 minuten", "3 minuuttia".
func (p *Printer) Duration(d time.Duration) string {
	u, n := unit(d, nearest)
	return p.N("time."+u, n)
}

// In writes how long until something happens, rounded up so that a wait
// is never shown shorter than it is: "in 3 minutes", "over 3 minuten",
// "dans 3 minutes", "3 minuutin kuluttua".
func (p *Printer) In(d time.Duration) string {
	u, n := unit(d, up)
	return p.N("time.in."+u, n)
}

// Ago writes how long since something happened, rounded down: "3 minutes
// ago", "il y a 3 minutes", "vor 3 Minuten". Less than a minute is "just
// now".
func (p *Printer) Ago(d time.Duration) string {
	if d < time.Minute && d > -time.Minute {
		return p.T("time.now")
	}
	u, n := unit(d, down)
	return p.N("time.ago."+u, n)
}

// Date writes t's calendar day in the printer's language, in t's own
// location: "7 December 2026", "7. Dezember 2026", "7 de dezembro de 2026".
func (p *Printer) Date(t time.Time) string {
	return p.T("date.format",
		"day", strconv.Itoa(t.Day()),
		"month", p.T("date.month."+strconv.Itoa(int(t.Month()))),
		"year", strconv.Itoa(t.Year()))
}

// Clock writes t's time of day on the 24-hour clock: "14:05", "14.05".
func (p *Printer) Clock(t time.Time) string {
	return p.T("date.clock",
		"hour", strconv.Itoa(t.Hour()),
		"minute", pad2(t.Minute()))
}

// DateTime writes t's day and time of day: "7 December 2026 at 14:05",
// "7. joulukuuta 2026 klo 14.05".
func (p *Printer) DateTime(t time.Time) string {
	return p.T("date.datetime", "date", p.Date(t), "time", p.Clock(t))
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
