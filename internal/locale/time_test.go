package locale

import (
	"testing"
	"time"
)

func TestPrinter_In(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", time.Second, "in 1 second"},
		{"en", 1500 * time.Millisecond, "in 2 seconds"},
		{"en", 0, "in 1 second"},
		{"en", 3 * time.Minute, "in 3 minutes"},
		{"en", 3*time.Minute + time.Second, "in 4 minutes"},
		{"en", time.Hour, "in 1 hour"},
		{"en", 15 * time.Minute, "in 15 minutes"},
		{"nl", 3 * time.Minute, "over 3 minuten"},
		{"nl", 2 * time.Hour, "over 2 uur"},
		{"fr", 3 * time.Minute, "dans 3 minutes"},
		{"fr", time.Minute, "dans 1 minute"},
		{"de", 3 * time.Minute, "in 3 Minuten"},
		{"de", 2 * day, "in 2 Tagen"},
		{"fi", 3 * time.Minute, "3 minuutin kuluttua"},
		{"fi", time.Hour, "1 tunnin kuluttua"},
		{"pt", 3 * time.Minute, "dentro de 3 minutos"},
		{"pt", day, "dentro de 1 dia"},
	} {
		if got := b.Printer(tc.lang).In(tc.d); got != tc.want {
			t.Errorf("%s In(%v): got %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
}

func TestPrinter_Ago(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 10 * time.Second, "just now"},
		{"en", 119 * time.Second, "1 minute ago"},
		{"en", 5 * time.Hour, "5 hours ago"},
		{"en", -5 * time.Hour, "5 hours ago"},
		{"fr", 3 * day, "il y a 3 jours"},
		{"de", 3 * day, "vor 3 Tagen"},
		{"de", 3 * time.Minute, "vor 3 Minuten"},
		{"nl", 3 * day, "3 dagen geleden"},
		{"fi", 3 * day, "3 päivää sitten"},
		{"fi", day, "1 päivä sitten"},
		{"pt", 3 * time.Minute, "há 3 minutos"},
	} {
		if got := b.Printer(tc.lang).Ago(tc.d); got != tc.want {
			t.Errorf("%s Ago(%v): got %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
}

func TestPrinter_Duration(t *testing.T) {
	b := mustLoad(t)
	for _, tc := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 90 * time.Minute, "2 hours"},
		{"en", 89 * time.Minute, "1 hour"},
		{"de", 2 * day, "2 Tage"},
		{"fi", 7 * day, "7 päivää"},
		{"nl", time.Minute, "1 minuut"},
	} {
		if got := b.Printer(tc.lang).Duration(tc.d); got != tc.want {
			t.Errorf("%s Duration(%v): got %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
}

func TestPrinter_DateTime(t *testing.T) {
	b := mustLoad(t)
	at := time.Date(2027, time.February, 9, 14, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang, date, datetime string
	}{
		{"en", "9 February 2027", "9 February 2027 at 14:05"},
		{"nl", "9 februari 2027", "9 februari 2027 om 14:05"},
		{"fr", "9 février 2027", "9 février 2027 à 14:05"},
		{"de", "9. Februar 2027", "9. Februar 2027 um 14:05"},
		{"fi", "9. helmikuuta 2027", "9. helmikuuta 2027 klo 14.05"},
		{"pt", "9 de fevereiro de 2027", "9 de fevereiro de 2027 às 14:05"},
	} {
		p := b.Printer(tc.lang)
		if got := p.Date(at); got != tc.date {
			t.Errorf("%s Date: got %q, want %q", tc.lang, got, tc.date)
		}
		if got := p.DateTime(at); got != tc.datetime {
			t.Errorf("%s DateTime: got %q, want %q", tc.lang, got, tc.datetime)
		}
	}
}
