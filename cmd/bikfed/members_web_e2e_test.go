package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/mailpittest"
)

var inviteLinkField = regexp.MustCompile(`id="invite-link" value="([^"]+)"`)

// memInvitation is the one-time link the invitation page shows.
func memInvitation(t *testing.T, body string) string {
	t.Helper()
	m := inviteLinkField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the invitation page shows no link:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// memID finds a member's id in the members list by their name.
func memID(t *testing.T, admin *person, name string) string {
	t.Helper()
	m := regexp.MustCompile(`href="/members/(\d+)">` + regexp.QuoteMeta(name) + `<`).FindStringSubmatch(admin.get("/members/").body)
	if m == nil {
		t.Fatalf("%s is not in the members list", name)
	}
	return m[1]
}

// memSignedIn is a member who accepted their invitation and signed in.
func memSignedIn(t *testing.T, base, link, email string) *person {
	t.Helper()
	p := newPerson(t, base)
	p.acceptInvitation(link, testPassword)
	p.signIn(email, testPassword)
	return p
}

// TestE2E_MembersWeb is the members part of a real node's workspace over
// HTTP: only admins may use it; what an admin changes takes effect on the
// member's open session at once; an admin cannot lock the members out;
// forged posts change nothing; the audit log says it all in plain words.
func TestE2E_MembersWeb(t *testing.T) {
	_, n, base := workspaceNode(t, "be")
	ada := memSignedIn(t, base, addMember(t, n, "ada@sic.example.be", "Ada Admin", "admin"), "ada@sic.example.be")
	eva := memSignedIn(t, base, addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor"), "eva@sic.example.be")

	t.Run("an editor may not manage members", func(t *testing.T) {
		for _, path := range []string{"/members/", "/members/new", "/members/audit", "/members/1"} {
			if got := eva.get(path); got.status != http.StatusForbidden {
				t.Errorf("editor GET %s: %d, want 403", path, got.status)
			}
		}
		v := url.Values{"email": {"sneaky@example.be"}, "name": {"Sneaky"}, "role": {"admin"}, "form_token": {formToken(eva.get("/").body)}}
		if got := eva.do("POST", "/members/new", v); got.status != http.StatusForbidden {
			t.Fatalf("editor POST /members/new: %d", got.status)
		}
		if strings.Contains(ada.get("/members/").body, "sneaky@example.be") {
			t.Fatal("an editor added a member")
		}
	})

	t.Run("the add form refuses per field and keeps what was typed", func(t *testing.T) {
		for _, c := range []struct {
			name string
			form url.Values
			want []string
		}{
			{"empty", url.Values{}, []string{"Enter the member&#39;s email address.", "Enter the member&#39;s name.", "Choose at least one role.", `href="#f-roles"`}},
			{"bad email", url.Values{"email": {"not an email"}, "name": {"Kim"}, "role": {"editor"}},
				[]string{"Enter an email address such as", `value="not an email"`, `value="Kim"`, `value="editor" checked`}},
			{"taken email", url.Values{"email": {"EVA@sic.example.be"}, "name": {"Eva 2"}, "role": {"editor"}}, []string{"already belongs to a member"}},
			{"youth without handle", url.Values{"email": {"kid@example.be"}, "name": {"Kid"}, "role": {"youth"}}, []string{"A youth member needs a handle", "be-&lt;handle&gt;"}},
			{"handle for an editor", url.Values{"email": {"ed@example.be"}, "name": {"Ed"}, "role": {"editor"}, "handle": {"ed"}}, []string{"Only youth members have a handle"}},
			{"bad handle", url.Values{"email": {"kid@example.be"}, "name": {"Kid"}, "role": {"youth"}, "handle": {"Kid!"}}, []string{"lowercase letters", `value="Kid!"`}},
		} {
			t.Run(c.name, func(t *testing.T) {
				got := ada.post("/members/new", "/members/new", c.form)
				if got.status != http.StatusUnprocessableEntity {
					t.Fatalf("%d, want 422\n%s", got.status, got.body)
				}
				for _, w := range c.want {
					if !strings.Contains(got.body, w) {
						t.Errorf("the refused form lacks %q", w)
					}
				}
			})
		}
	})

	t.Run("an admin adds a member whose invitation works", func(t *testing.T) {
		got := ada.post("/members/new", "/members/new", url.Values{"email": {"kim@sic.example.be"}, "name": {"Kim Claes"}, "role": {"editor", "staff"}})
		if got.status != 200 || !strings.Contains(got.body, "Kim Claes has been added.") {
			t.Fatalf("add: %d\n%s", got.status, got.body)
		}
		link := memInvitation(t, got.body)
		if !strings.HasPrefix(link, base+"/signin/invite?token=") {
			t.Fatalf("invitation link %q", link)
		}
		kim := memSignedIn(t, base, link, "kim@sic.example.be")
		if p := kim.get("/profile"); p.status != 200 {
			t.Fatalf("the new editor opens the profile: %d", p.status)
		}

		got = ada.post("/members/new", "/members/new", url.Values{"email": {"robin@example.be"}, "name": {"Robin"}, "role": {"youth"}, "handle": {"robin"}})
		if got.status != 200 || !strings.Contains(got.body, "known as be-robin") {
			t.Fatalf("add youth: %d\n%s", got.status, got.body)
		}
		list := ada.get("/members/").body
		if !strings.Contains(list, "on the network: be-robin") || !strings.Contains(list, "invited, not signed in yet") {
			t.Fatalf("the list:\n%s", list)
		}
		id := memID(t, ada, "Robin")
		again := ada.post("/members/"+id, "/members/"+id+"/invite", url.Values{})
		if again.status != 200 || !strings.Contains(again.body, "new invitation for Robin") {
			t.Fatalf("invite again: %d\n%s", again.status, again.body)
		}
		memSignedIn(t, base, memInvitation(t, again.body), "robin@example.be")
	})

	t.Run("a role change takes effect on the open session at once", func(t *testing.T) {
		if got := eva.get("/profile"); got.status != 200 {
			t.Fatalf("before: %d", got.status)
		}
		id := memID(t, ada, "Eva Peeters")
		got := ada.post("/members/"+id, "/members/"+id+"/roles", url.Values{"role": {"staff"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("change roles: %d\n%s", got.status, got.body)
		}
		got = eva.get("/profile")
		if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/signin") || !strings.Contains(got.location, "done=ended") {
			t.Fatalf("eva's open session after losing the editor role: %d to %q", got.status, got.location)
		}
		eva.signIn("eva@sic.example.be", testPassword)
		if got := eva.get("/profile"); got.status != http.StatusForbidden {
			t.Fatalf("eva as staff opens the profile: %d", got.status)
		}
		if page := ada.get("/members/" + id).body; !strings.Contains(page, "Staff") || strings.Contains(page, `value="editor" checked`) {
			t.Fatalf("the member page after the change:\n%s", page)
		}
		got = ada.post("/members/"+id, "/members/"+id+"/roles", url.Values{"role": {"youth"}})
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "has no pseudonym") {
			t.Fatalf("youth for a member without a pseudonym: %d\n%s", got.status, got.body)
		}
		got = ada.post("/members/"+id, "/members/"+id+"/roles", url.Values{})
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "Choose at least one role.") {
			t.Fatalf("no role: %d\n%s", got.status, got.body)
		}
		if got := eva.get("/"); got.status != 200 {
			t.Fatalf("a refused change ended eva's session: %d", got.status)
		}
	})

	t.Run("disabling ends the open session", func(t *testing.T) {
		id := memID(t, ada, "Kim Claes")
		kim := newPerson(t, base)
		kim.signIn("kim@sic.example.be", testPassword)
		if got := kim.get("/"); got.status != 200 {
			t.Fatalf("before: %d", got.status)
		}
		if got := ada.get("/members/" + id + "/disable"); got.status != 200 || !strings.Contains(got.body, "signed out everywhere at once") {
			t.Fatalf("confirm disable: %d\n%s", got.status, got.body)
		}
		if got := ada.post("/members/"+id+"/disable", "/members/"+id+"/disable", url.Values{}); got.status != http.StatusSeeOther {
			t.Fatalf("disable: %d\n%s", got.status, got.body)
		}
		if got := kim.get("/"); got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/signin") {
			t.Fatalf("kim's cookie after being disabled: %d to %q", got.status, got.location)
		}
		if got := kim.do("POST", "/signin", url.Values{"email": {"kim@sic.example.be"}, "password": {testPassword}}); got.status == http.StatusSeeOther {
			t.Fatal("a disabled member signed in")
		}
	})

	t.Run("an admin cannot lock the members out", func(t *testing.T) {
		self := memID(t, ada, "Ada Admin")
		got := ada.post("/members/"+self, "/members/"+self+"/roles", url.Values{"role": {"editor"}})
		if got.status != http.StatusConflict || !strings.Contains(got.body, "only active admin") {
			t.Fatalf("the last admin drops their admin role: %d\n%s", got.status, got.body)
		}
		for _, action := range []string{"disable", "remove"} {
			if got := ada.get("/members/" + self + "/" + action); got.status != http.StatusConflict {
				t.Errorf("GET %s self: %d", action, got.status)
			}
			got := ada.post("/members/"+self, "/members/"+self+"/"+action, url.Values{})
			if got.status != http.StatusConflict || !strings.Contains(got.body, "You cannot "+action+" yourself") {
				t.Fatalf("%s self: %d\n%s", action, got.status, got.body)
			}
		}
		if page := ada.get("/members/"); page.status != 200 {
			t.Fatalf("the admin after refusals: %d", page.status)
		}
	})

	t.Run("forged posts change nothing", func(t *testing.T) {
		id := memID(t, ada, "Eva Peeters")
		if got := ada.do("POST", "/members/"+id+"/remove", url.Values{}); got.status != http.StatusForbidden {
			t.Fatalf("without the form token: %d", got.status)
		}
		if got := ada.post("/members/"+id, "/members/"+id+"/remove", url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); got.status != http.StatusForbidden {
			t.Fatalf("from another origin: %d", got.status)
		}
		if got := ada.post("/members/"+id, "/members/"+id+"/roles", url.Values{"role": {"admin"}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); got.status != http.StatusForbidden {
			t.Fatalf("roles from another origin: %d", got.status)
		}
		if got := ada.get("/members/" + id); got.status != 200 || strings.Contains(got.body, `value="admin" checked`) {
			t.Fatalf("after forged posts: %d", got.status)
		}
	})

	t.Run("remove, then the audit log", func(t *testing.T) {
		id := memID(t, ada, "Eva Peeters")
		if got := ada.get("/members/" + id + "/remove"); got.status != 200 || !strings.Contains(got.body, "cannot be undone") {
			t.Fatalf("confirm remove: %d\n%s", got.status, got.body)
		}
		got := ada.post("/members/"+id+"/remove", "/members/"+id+"/remove", url.Values{})
		if got.status != http.StatusSeeOther {
			t.Fatalf("remove: %d\n%s", got.status, got.body)
		}
		if got := ada.get("/members/" + id); got.status != http.StatusNotFound {
			t.Fatalf("a removed member's page: %d", got.status)
		}
		if got := eva.get("/"); got.status != http.StatusSeeOther {
			t.Fatalf("a removed member's session: %d", got.status)
		}
		audit := ada.get("/members/audit")
		for _, want := range []string{
			"Ada Admin added Kim Claes as Editor, Staff.",
			"Ada Admin made a new invitation for Robin.",
			"Ada Admin changed the roles of member " + id + " (removed) from Editor to Staff.",
			"Ada Admin disabled Kim Claes.",
			"Ada Admin removed member " + id + " (removed).",
			"Robin accepted the invitation",
			"Kim Claes signed in with a password.",
			"127.0.0.1",
		} {
			if !strings.Contains(audit.body, want) {
				t.Errorf("the audit log lacks %q", want)
			}
		}
		if i, j := strings.Index(audit.body, "removed member"), strings.Index(audit.body, "added Kim Claes"); i < 0 || j < 0 || i > j {
			t.Errorf("the audit log is not newest first")
		}
	})

	t.Run("the audit log pages", func(t *testing.T) {
		for range 50 {
			newPerson(t, base).signIn("ada@sic.example.be", testPassword)
		}
		first := ada.get("/members/audit")
		m := regexp.MustCompile(`href="(/members/audit\?before=\d+)"`).FindStringSubmatch(first.body)
		if m == nil {
			t.Fatalf("the first page links to no older page:\n%s", first.body)
		}
		older := ada.get(html.UnescapeString(m[1]))
		if older.status != 200 || !strings.Contains(older.body, "added Ada Admin as Admin.") || !strings.Contains(older.body, `href="/members/audit"`) {
			t.Fatalf("the older page: %d\n%s", older.status, older.body)
		}
		if strings.Contains(first.body, "added Ada Admin as Admin.") {
			t.Fatal("the first page holds the oldest event")
		}
		if got := ada.get("/members/audit?before=x"); got.status != http.StatusBadRequest {
			t.Fatalf("a bad page: %d", got.status)
		}
	})

	t.Run("every page in every language", func(t *testing.T) {
		leaked := regexp.MustCompile(`\b(profile|members)\.[a-z_]+\.?[a-z_.-]*`)
		id := memID(t, ada, "Robin")
		pages := []string{"/profile", "/profile/preview", "/members/", "/members/new", "/members/audit", "/members/" + id, "/members/" + id + "/remove"}
		for _, lang := range []string{"nl", "fr", "de", "fi", "pt", "en"} {
			for _, path := range pages {
				got := ada.get(path + "?lang=" + lang)
				if got.status != 200 || !strings.Contains(got.body, `<html lang="`+lang) {
					t.Errorf("%s in %s: %d", path, lang, got.status)
					continue
				}
				if m := leaked.FindString(got.body); m != "" {
					t.Errorf("%s in %s shows the message id %q", path, lang, m)
				}
			}
		}
		if got := ada.get("/members/new?lang=nl"); !strings.Contains(got.body, "Lid toevoegen") {
			t.Error("the Dutch add form is not in Dutch")
		}
	})
}

// With a mail server, adding a member in the workspace emails the
// invitation: the page says so and shows no link; the emailed link works.
func TestE2E_MembersWebEmail(t *testing.T) {
	mp := mailpittest.Start(t)
	nw := newNetwork(t)
	n := nw.addNode("be", "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort), "--smtp-tls", "none",
		"--smtp-from", "SIC Belgium <sic@be.example>")
	nw.startNode(n)
	base := "http://" + waitServing(t, n.dir, nodeAddrFile)
	mustCLI(t, nil, "node", "member", "add", "ada@sic.example.be", "--name", "Ada Admin", "--role", "admin", "--data", n.dir)
	adaLink, err := mp.WaitForMessage(t, "ada@sic.example.be").Link(base + "/signin/invite?token=")
	if err != nil {
		t.Fatal(err)
	}
	ada := memSignedIn(t, base, adaLink, "ada@sic.example.be")

	got := ada.post("/members/new", "/members/new", url.Values{"email": {"eva@sic.example.be"}, "name": {"Eva Peeters"}, "role": {"editor"}})
	if got.status != 200 || !strings.Contains(got.body, "The invitation was emailed to eva@sic.example.be") || strings.Contains(got.body, "invite?token=") {
		t.Fatalf("add with a mail server: %d\n%s", got.status, got.body)
	}
	link, err := mp.WaitForMessage(t, "eva@sic.example.be").Link(base + "/signin/invite?token=")
	if err != nil {
		t.Fatal(err)
	}
	eva := memSignedIn(t, base, link, "eva@sic.example.be")
	if got := eva.get("/profile"); got.status != 200 {
		t.Fatalf("the emailed member opens the profile: %d", got.status)
	}
}
