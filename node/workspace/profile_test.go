package workspace

import (
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

func english(t *testing.T) *locale.Printer {
	t.Helper()
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	return b.Printer("en")
}

func TestBuildProfile(t *testing.T) {
	p := english(t)
	base := func() profileForm {
		return profileForm{"country": "be", "name": "SIC Belgium", "languages": "nl, FR;de nl"}
	}
	for _, c := range []struct {
		name   string
		change func(profileForm)
		errs   []string // fields refused
		check  func(*testing.T, *protocol.Profile)
	}{
		{name: "minimal", check: func(t *testing.T, pr *protocol.Profile) {
			if strings.Join(pr.Languages, " ") != "nl fr de" || pr.Helpline != nil || pr.Hotline != nil {
				t.Fatalf("%+v", pr)
			}
		}},
		{name: "full", change: func(f profileForm) {
			f["website"], f["helpline_name"], f["helpline_phone"], f["helpline_hours"] = "https://sic.example", "Helpline", "+32 (0)2 116.000", "Mon–Fri 9:00–18:00"
			f["hotline_name"], f["hotline_report_url"], f["youth_name"], f["awareness_name"] = "Hotline", "https://report.example", "Panel", "Centre"
		}, check: func(t *testing.T, pr *protocol.Profile) {
			if pr.Helpline.Phone != "+32 (0)2 116.000" || pr.Hotline.ReportURL != "https://report.example" || pr.YouthPanel.Name != "Panel" || pr.Awareness.Name != "Centre" {
				t.Fatalf("%+v", pr)
			}
		}},
		{name: "no name, no languages", change: func(f profileForm) { f["name"], f["languages"] = "", " , " }, errs: []string{"name", "languages"}},
		{name: "bad language", change: func(f profileForm) { f["languages"] = "nl, english-uk" }, errs: []string{"languages"}},
		{name: "too many languages", change: func(f profileForm) {
			var codes []string
			for i := range protocol.MaxListLen + 1 {
				codes = append(codes, string(rune('a'+i/26))+string(rune('a'+i%26)))
			}
			f["languages"] = strings.Join(codes, ", ")
		}, errs: []string{"languages"}},
		{name: "website without scheme", change: func(f profileForm) { f["website"] = "sic.example" }, errs: []string{"website"}},
		{name: "javascript address", change: func(f profileForm) { f["website"] = "javascript:alert(1)" }, errs: []string{"website"}},
		{name: "name too long", change: func(f profileForm) { f["name"] = strings.Repeat("x", maxProfileText+1) }, errs: []string{"name"}},
		{name: "control character", change: func(f profileForm) { f["name"] = "SIC\x07" }, errs: []string{"name"}},
		{name: "bidi override", change: func(f profileForm) { f["name"] = "SIC\u202e" }, errs: []string{"name"}},
		{name: "helpline started without a name or a way to reach it", change: func(f profileForm) { f["helpline_hours"] = "9-5" },
			errs: []string{"helpline_name", "helpline_phone"}},
		{name: "bad phone and email", change: func(f profileForm) {
			f["helpline_name"], f["helpline_phone"], f["helpline_email"] = "H", "call 12", "not-an-email"
		}, errs: []string{"helpline_phone", "helpline_email"}},
		{name: "hotline without its address", change: func(f profileForm) { f["hotline_name"] = "H" }, errs: []string{"hotline_report_url"}},
		{name: "youth panel address only", change: func(f profileForm) { f["youth_url"] = "https://panel.example" }, errs: []string{"youth_name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			if c.change != nil {
				c.change(f)
			}
			pr, errs := buildProfile(f, p.T)
			var got []string
			for _, e := range summary(errs) {
				got = append(got, e.Field)
				if strings.HasPrefix(e.Message, "profile.") {
					t.Errorf("%s: message id %q has no text", e.Field, e.Message)
				}
			}
			if strings.Join(got, " ") != strings.Join(c.errs, " ") {
				t.Fatalf("refused %v, want %v (%v)", got, c.errs, errs)
			}
			if len(c.errs) > 0 {
				return
			}
			if pr == nil {
				t.Fatal("no profile")
			}
			if c.check != nil {
				c.check(t, pr)
			}
		})
	}
}

func TestValidPhone(t *testing.T) {
	for s, ok := range map[string]bool{"116 111": true, "+32 2 800 80 80": true, "(02) 555-01.23": true, "12": false,
		"1+16 111": false, "116 111 ext 2": false, "": false} {
		if validPhone(s) != ok {
			t.Errorf("validPhone(%q) = %v", s, !ok)
		}
	}
}

// TestFormOf_roundTrip: a saved profile fills the form that builds it again.
func TestFormOf_roundTrip(t *testing.T) {
	in := &protocol.Profile{Country: "be", Name: "SIC", Languages: []string{"nl", "fr"}, Website: "https://sic.example",
		Helpline: &protocol.Helpline{Name: "H", Phone: "116 111", Hours: "9-5"},
		Hotline:  &protocol.Hotline{Name: "R", ReportURL: "https://r.example"}}
	out, errs := buildProfile(formOf(in), english(t).T)
	if errs != nil || out.Website != in.Website || *out.Helpline != *in.Helpline || *out.Hotline != *in.Hotline ||
		strings.Join(out.Languages, ",") != "nl,fr" || out.YouthPanel != nil || out.Awareness != nil {
		t.Fatalf("round trip: %+v %v", out, errs)
	}
}
