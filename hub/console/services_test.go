package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/protocol"
)

// serviceForm is a complete, valid form of an entry of the guide.
func serviceForm() url.Values {
	return url.Values{
		"name": {"Roblox"}, "slug": {"roblox"}, "category": {"game"},
		"description": {"An online game platform where players make and share games."},
		"url":         {"https://www.roblox.com"}, "age": {"min"}, "minimum_age": {"13"},
		"pegi": {"7"}, "app_store_age": {"12+"},
		"safety_features":   {"Chat filters\r\nReport buttons in every game\r\n"},
		"privacy_features":  {"Private servers"},
		"parental_controls": {"Parent PIN\nSpending limits"},
		"features":          {"parental-controls", "spending-limits"},
		"how_to_report":     {"Open the menu, choose Report, and say what happened."},
		"report_url":        {"https://en.help.roblox.com/report"},
		"how_to_block":      {"Open the player's profile and choose Block."},
		"block_url":         {"https://en.help.roblox.com/block"},
		"topics":            {"gaming", "scams"},
		"language":          {"en"},
		"v0-language":       {"fr"}, "v0-description": {"Une plateforme de jeux en ligne."},
		"v0-how_to_report": {"Ouvrez le menu et choisissez Signaler."},
		"v1-language":      {""},
	}
}

var wantService = protocol.Service{Name: "Roblox", Slug: "roblox", Category: "game",
	Description: "An online game platform where players make and share games.", URL: "https://www.roblox.com",
	MinimumAge: 13, PEGI: 7, AppStoreAge: "12+", SafetyFeatures: []string{"Chat filters", "Report buttons in every game"},
	PrivacyFeatures: []string{"Private servers"}, ParentalControls: []string{"Parent PIN", "Spending limits"},
	Features: []string{"parental-controls", "spending-limits"}, HowToReport: "Open the menu, choose Report, and say what happened.",
	ReportURL: "https://en.help.roblox.com/report", HowToBlock: "Open the player's profile and choose Block.",
	BlockURL: "https://en.help.roblox.com/block", Topics: []string{"gaming", "scams"}, Language: "en",
	Versions: []protocol.ServiceVersion{{Language: "fr", Description: "Une plateforme de jeux en ligne.",
		HowToReport: "Ouvrez le menu et choisissez Signaler."}}}

var serviceLoc = regexp.MustCompile(`^/console/services\?done=saved$`)

func (f *fixture) services(t *testing.T) []hub.ServiceEntry {
	t.Helper()
	list, err := f.hub.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestConsole_Services(t *testing.T) {
	f := newFixture(t)

	t.Run("roles", func(t *testing.T) {
		for _, tc := range []struct {
			role, path string
			want       int
		}{
			{"", "/console/services", http.StatusSeeOther},
			{"moderator", "/console/services", http.StatusForbidden},
			{"moderator", "/console/services/new", http.StatusForbidden},
			{"coordinator", "/console/services", http.StatusOK},
			{"operator", "/console/services/new", http.StatusOK},
			{"coordinator", "/console/services/hub:01J00000000000000000000000", http.StatusNotFound},
		} {
			if code, _, _ := f.do(t, tc.role, "GET", tc.path, nil); code != tc.want {
				t.Errorf("%s GET %s: %d, want %d", tc.role, tc.path, code, tc.want)
			}
		}
		if code, _, _ := f.post(t, "moderator", "/console/services/new", serviceForm()); code != http.StatusForbidden {
			t.Errorf("a moderator's save: %d, want 403", code)
		}
		if _, _, body := f.do(t, "moderator", "GET", "/console/", nil); strings.Contains(body, `href="/console/services"`) {
			t.Error("the menu offers the guide to a moderator")
		}
		if _, _, body := f.do(t, "coordinator", "GET", "/console/", nil); !strings.Contains(body, `href="/console/services"`) {
			t.Error("the menu does not offer the guide to a coordinator")
		}
	})

	t.Run("validation errors keep the form", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			edit  func(url.Values)
			field string
		}{
			{"no name", func(v url.Values) { v.Set("name", "  ") }, "name"},
			{"bad slug", func(v url.Values) { v.Set("slug", "Roblox Chat") }, "slug"},
			{"no slug", func(v url.Values) { v.Del("slug") }, "slug"},
			{"no category", func(v url.Values) { v.Set("category", "") }, "category"},
			{"category outside the vocabulary", func(v url.Values) { v.Set("category", "casino") }, "category"},
			{"no address", func(v url.Values) { v.Set("url", "") }, "url"},
			{"address not a URL", func(v url.Values) { v.Set("url", "roblox dot com") }, "url"},
			{"no age choice", func(v url.Values) { v.Del("age") }, "age"},
			{"minimum age 0", func(v url.Values) { v.Set("minimum_age", "0") }, "minimum_age"},
			{"minimum age not a number", func(v url.Values) { v.Set("minimum_age", "thirteen") }, "minimum_age"},
			{"PEGI outside the ratings", func(v url.Values) { v.Set("pegi", "13") }, "pegi"},
			{"App Store outside the ratings", func(v url.Values) { v.Set("app_store_age", "10+") }, "app_store_age"},
			{"feature outside the vocabulary", func(v url.Values) { v.Add("features", "x-ray") }, "features"},
			{"topic outside the vocabulary", func(v url.Values) { v.Add("topics", "knitting") }, "topics"},
			{"report link not a URL", func(v url.Values) { v.Set("report_url", "ask support") }, "report_url"},
			{"safety feature too long", func(v url.Values) { v.Set("safety_features", strings.Repeat("x", protocol.MaxShortField+1)) }, "safety_features"},
			{"description too long", func(v url.Values) { v.Set("description", strings.Repeat("x", protocol.MaxTextField+1)) }, "description"},
			{"version in the entry's language", func(v url.Values) { v.Set("v0-language", "en") }, "v0-language"},
			{"version without a language", func(v url.Values) { v.Set("v0-language", "") }, "v0-language"},
			{"version saying nothing", func(v url.Values) { v.Set("v1-language", "de") }, "v1-description"},
			{"version link not a URL", func(v url.Values) { v.Set("v0-block_url", "menu") }, "v0-block_url"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := serviceForm()
				form.Set("description", form.Get("description")+" "+tc.name)
				tc.edit(form)
				code, _, body := f.post(t, "coordinator", "/console/services/new", form)
				if code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422", code)
				}
				if !strings.Contains(body, `id="`+tc.field+`-error"`) || !strings.Contains(body, `href="#`+tc.field+`"`) {
					t.Errorf("no error next to %s and in the summary:\n%s", tc.field, body)
				}
				if tc.field != "description" && !strings.Contains(body, ">"+html.EscapeString(form.Get("description"))+"</textarea>") {
					t.Error("the refused form lost the description")
				}
				if !strings.Contains(body, `value="Une plateforme`) && !strings.Contains(body, ">Une plateforme de jeux en ligne.</textarea>") {
					t.Error("the refused form lost the French version")
				}
				if !strings.Contains(body, `value="spending-limits" checked`) {
					t.Error("the refused form lost the ticked features")
				}
			})
		}
		if n := len(f.services(t)); n != 0 {
			t.Fatalf("refused forms published %d services", n)
		}
	})

	t.Run("cross-origin refused", func(t *testing.T) {
		for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			form := serviceForm()
			form.Set("form_token", f.token(t, "coordinator"))
			if code, _, _ := f.do(t, "coordinator", "POST", "/console/services/new", form, h...); code != http.StatusForbidden {
				t.Errorf("%v: status %d, want 403", h, code)
			}
		}
		if n := len(f.services(t)); n != 0 {
			t.Fatalf("forged requests published %d services", n)
		}
	})

	var id string
	t.Run("round trip", func(t *testing.T) {
		code, h, body := f.post(t, "coordinator", "/console/services/new", serviceForm())
		if code != http.StatusSeeOther || !serviceLoc.MatchString(h.Get("Location")) {
			t.Fatalf("status %d to %q:\n%s", code, h.Get("Location"), body)
		}
		list := f.services(t)
		if len(list) != 1 {
			t.Fatalf("%d services", len(list))
		}
		id = list[0].ID
		if list[0].Version != 1 || !reflect.DeepEqual(list[0].Service, wantService) {
			t.Fatalf("stored v%d %+v\nwant %+v", list[0].Version, list[0].Service, wantService)
		}
		_, _, page := f.do(t, "coordinator", "GET", "/console/services?done=saved", nil)
		for _, want := range []string{"Roblox", "Minimum age 13", "Game", `href="/services/roblox"`, `role="status"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the list lacks %q", want)
			}
		}
		// The edit form shows every field as stored; sending it back
		// unchanged stores the same entry.
		_, _, edit := f.do(t, "coordinator", "GET", "/console/services/"+id, nil)
		for _, want := range []string{`value="roblox"`, `value="min" checked`, `value="13"`, `<option value="7" selected>`,
			` selected>12&#43;</option>`, ">Chat filters\nReport buttons in every game</textarea>", `value="gaming" checked`,
			`value="fr" lang="fr" selected`, ">Ouvrez le menu et choisissez Signaler.</textarea>", `id="v1-language"`} {
			if !strings.Contains(edit, want) {
				t.Errorf("the edit form lacks %q", want)
			}
		}

		form := serviceForm()
		form.Set("age", "none")
		form.Set("minimum_age", "")
		form.Set("v0-remove", "1")
		form.Set("v1-language", "de")
		form.Set("v1-how_to_block", "Öffnen Sie das Profil und wählen Sie Blockieren.")
		form.Set("v2-language", "")
		code, _, body = f.post(t, "coordinator", "/console/services/"+id, form)
		if code != http.StatusSeeOther {
			t.Fatalf("edit: status %d:\n%s", code, body)
		}
		e, err := f.hub.Service(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := wantService
		want.MinimumAge, want.NoMinimumAge = 0, true
		want.Versions = []protocol.ServiceVersion{{Language: "de", HowToBlock: "Öffnen Sie das Profil und wählen Sie Blockieren."}}
		if e.Version != 2 || !reflect.DeepEqual(e.Service, want) {
			t.Fatalf("after the edit: v%d %+v", e.Version, e.Service)
		}
		if _, _, page := f.do(t, "coordinator", "GET", "/console/services", nil); !strings.Contains(page, "No minimum age") {
			t.Error("the list does not say there is no minimum age")
		}
	})

	t.Run("slug taken", func(t *testing.T) {
		form := serviceForm()
		form.Set("name", "Roblox again")
		code, _, body := f.post(t, "operator", "/console/services/new", form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="slug-error"`) {
			t.Fatalf("status %d", code)
		}
		if n := len(f.services(t)); n != 1 {
			t.Fatalf("%d services", n)
		}
	})

	t.Run("audit", func(t *testing.T) {
		_, _, page := f.do(t, "operator", "GET", "/console/members/audit", nil)
		if n := strings.Count(page, "service saved in the guide"); n != 2 {
			t.Errorf("the audit log shows %d saves, want 2", n)
		}
	})

	t.Run("every language", func(t *testing.T) {
		leak := regexp.MustCompile(`(console|portal)\.[a-z_.]+|\{[a-z]+\}`)
		bad := serviceForm()
		bad.Set("name", "")
		bad.Set("v1-language", "de")
		for _, lang := range []string{"en", "nl", "fr", "de", "fi", "pt"} {
			for _, p := range []string{"/console/services", "/console/services/new", "/console/services/" + id, "/console/services/" + id + "/withdraw"} {
				code, _, body := f.do(t, "coordinator", "GET", p+"?lang="+lang, nil)
				if code != http.StatusOK {
					t.Errorf("%s %s: %d", lang, p, code)
				}
				if m := leak.FindString(body); m != "" {
					t.Errorf("%s %s shows %q", lang, p, m)
				}
			}
			_, _, body := f.post(t, "coordinator", "/console/services/new?lang="+lang, bad)
			if m := leak.FindString(body); m != "" {
				t.Errorf("%s refused form shows %q", lang, m)
			}
		}
	})

	t.Run("withdraw", func(t *testing.T) {
		code, h, _ := f.post(t, "coordinator", "/console/services/"+id+"/withdraw", url.Values{})
		if code != http.StatusSeeOther || h.Get("Location") != "/console/services?done=withdrawn" {
			t.Fatalf("status %d to %q", code, h.Get("Location"))
		}
		if n := len(f.services(t)); n != 0 {
			t.Fatalf("%d services after withdrawing", n)
		}
		if code, _, _ := f.do(t, "coordinator", "GET", "/console/services/"+id, nil); code != http.StatusNotFound {
			t.Errorf("the withdrawn service's form: %d", code)
		}
		_, _, page := f.do(t, "operator", "GET", "/console/members/audit", nil)
		if !strings.Contains(page, "service withdrawn from the guide") {
			t.Error("the audit log does not show the withdrawal")
		}
		// The slug is free again.
		if code, _, body := f.post(t, "coordinator", "/console/services/new", serviceForm()); code != http.StatusSeeOther {
			t.Fatalf("adding it anew: %d\n%s", code, body)
		}
	})
}
