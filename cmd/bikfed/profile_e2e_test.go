package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// profileValues is a complete profile form for Belgium.
func profileValues() url.Values {
	return url.Values{
		"country": {"be"}, "name": {"Safer Internet Centre Belgium"}, "website": {"https://www.saferinternet.be"},
		"languages":     {"nl, FR, de"},
		"helpline_name": {"Child Focus helpline"}, "helpline_phone": {"+32 116 000"},
		"helpline_chat": {"https://chat.childfocus.example"}, "helpline_hours": {"Mon–Fri 9:00–18:00"},
		"hotline_name": {"Child Focus hotline"}, "hotline_report_url": {"https://report.childfocus.example/"},
		"youth_name": {"Youth panel Belgium"},
	}
}

// TestE2E_ProfileWeb is the SIC's profile in the workspace of a real node:
// refused with a message per field and the form kept, previewed, saved,
// and shown on the hub's portal help page for the country after sync; a
// youth member may not open it.
func TestE2E_ProfileWeb(t *testing.T) {
	nw, n, base := workspaceNode(t, "be")
	editorLink := addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor")
	youthLink := addMember(t, n, "robin@sic.example.be", "Robin", "youth")

	eva := newPerson(t, base)
	eva.acceptInvitation(editorLink, testPassword)
	eva.signIn("eva@sic.example.be", testPassword)

	got := eva.get("/profile")
	if got.status != 200 || !strings.Contains(got.body, "no profile yet") || !strings.Contains(got.body, `name="helpline_hours"`) {
		t.Fatalf("a new profile's form: %d\n%s", got.status, got.body)
	}

	t.Run("refused per field, the form kept", func(t *testing.T) {
		bad := profileValues()
		bad.Set("name", "")
		bad.Set("website", "www.no-scheme.example")
		bad.Set("languages", "nl, english-uk")
		bad.Set("helpline_phone", "call us!")
		bad.Set("hotline_report_url", "")
		got := eva.post("/profile", "/profile", bad)
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("invalid profile: %d\n%s", got.status, got.body)
		}
		for _, want := range []string{
			`href="#f-name"`, "Enter the name of the centre.",
			`href="#f-website"`, "Enter a full web address starting with https://",
			"is not a language code", `value="nl, english-uk"`,
			`href="#f-helpline_phone"`, `value="call us!"`,
			"Enter the address where people report to the hotline.",
			`value="Mon–Fri 9:00–18:00"`, `aria-invalid="true"`, "There are 5 problems",
		} {
			if !strings.Contains(got.body, want) {
				t.Errorf("the refused form lacks %q", want)
			}
		}
		if strings.Contains(eva.get("/profile").body, `value="Child Focus`) {
			t.Fatal("a refused profile was saved")
		}
	})

	t.Run("preview of the unsaved form", func(t *testing.T) {
		got := eva.post("/profile", "/profile/preview", profileValues())
		if got.status != 200 {
			t.Fatalf("preview: %d\n%s", got.status, got.body)
		}
		for _, want := range []string{"This is a preview", "Get help / report: Belgium", "Belgium: Safer Internet Centre Belgium",
			`href="tel:&#43;32%20116%20000"`, "Call &#43;32 116 000", "Open: Mon–Fri 9:00–18:00", "Report to Child Focus hotline",
			`name="helpline_phone" value="&#43;32 116 000"`, "Nothing has been saved yet"} {
			if !strings.Contains(got.body, want) {
				t.Errorf("the preview lacks %q", want)
			}
		}
		if strings.Contains(eva.get("/profile").body, `value="Child Focus`) {
			t.Fatal("a preview saved the profile")
		}
	})

	t.Run("a youth member may not open it", func(t *testing.T) {
		robin := newPerson(t, base)
		robin.acceptInvitation(youthLink, testPassword)
		robin.signIn("robin@sic.example.be", testPassword)
		if got := robin.get("/profile"); got.status != http.StatusForbidden {
			t.Fatalf("youth GET /profile: %d", got.status)
		}
		tok := formToken(robin.get("/account").body)
		v := profileValues()
		v.Set("form_token", tok)
		if got := robin.do("POST", "/profile", v); got.status != http.StatusForbidden {
			t.Fatalf("youth POST /profile: %d", got.status)
		}
	})

	t.Run("saved, then on the portal's help page", func(t *testing.T) {
		got := eva.post("/profile", "/profile", profileValues())
		if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/profile?saved=1") {
			t.Fatalf("save: %d %q\n%s", got.status, got.location, got.body)
		}
		page := eva.get(got.location)
		if !strings.Contains(page.body, "Saved.") || !strings.Contains(page.body, `value="nl, fr, de"`) {
			t.Fatalf("after saving:\n%s", page.body)
		}
		waitFor(t, 60*time.Second, "the profile on the portal's help page", func() error {
			body := getBody(t, nw.hubURL+"/help?country=be")
			if !strings.Contains(body, "Child Focus helpline") || !strings.Contains(body, "tel:+32 116 000") && !strings.Contains(body, "tel:&#43;32") {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		// An update replaces it.
		v := profileValues()
		v.Set("helpline_hours", "Every day 8:00–20:00")
		if got := eva.post("/profile", "/profile", v); got.status != http.StatusSeeOther {
			t.Fatalf("update: %d\n%s", got.status, got.body)
		}
		waitFor(t, 60*time.Second, "the updated profile on the portal", func() error {
			if !strings.Contains(getBody(t, nw.hubURL+"/help?country=be"), "Every day 8:00–20:00") {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		prev := eva.get("/profile/preview")
		if prev.status != 200 || !strings.Contains(prev.body, "Every day 8:00–20:00") || !strings.Contains(prev.body, "as saved") {
			t.Fatalf("preview of the saved profile: %d\n%s", prev.status, prev.body)
		}
	})

	t.Run("forged posts change nothing", func(t *testing.T) {
		v := profileValues()
		v.Set("name", "Forged")
		if got := eva.do("POST", "/profile", v); got.status != http.StatusForbidden {
			t.Fatalf("without the form token: %d", got.status)
		}
		if got := eva.post("/profile", "/profile", v, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); got.status != http.StatusForbidden {
			t.Fatalf("from another origin: %d", got.status)
		}
		if strings.Contains(eva.get("/profile").body, "Forged") {
			t.Fatal("a forged post changed the profile")
		}
	})
}
