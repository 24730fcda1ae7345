package main

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mustSay fails unless the page has status and, once HTML escaping is
// undone, every one of texts.
func mustSay(t *testing.T, what string, got page, status int, texts ...string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, got.status, status, got.body)
	}
	body := html.UnescapeString(got.body)
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Fatalf("%s: the page does not say %q\n%s", what, s, got.body)
		}
	}
}

// mustBeSignedOut fails unless the person's next page sends them to sign in.
func mustBeSignedOut(t *testing.T, what string, p *person) {
	t.Helper()
	got := p.get("/")
	if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/signin") {
		t.Fatalf("%s: the dashboard answered %d (to %q), want a redirect to sign in", what, got.status, got.location)
	}
}

// ownResources counts the node's own resources through the admin API.
func ownResources(t *testing.T, n *testNode, base string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/v1/entities?kind=resource&owner="+n.id, nil)
	req.Header.Set("Authorization", "Bearer "+nodeToken(t, n))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Entities []json.RawMessage `json:"entities"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return len(list.Entities)
}

// nodeToken is a node's admin token.
func nodeToken(t *testing.T, n *testNode) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestE2E_WorkspaceRefusals walks through what the workspace must refuse,
// against a real node: each refusal says why, and changes nothing.
func TestE2E_WorkspaceRefusals(t *testing.T) {
	_, n, base := workspaceNode(t, "be")
	evaID, evaLink := addMemberID(t, n, "eva@sic.example.be", "Eva Peeters", "editor")
	youthLink := addMember(t, n, "noor@school.example.be", "Noor Janssens", "youth")
	lotteLink := addMember(t, n, "lotte@sic.example.be", "Lotte Maes", "editor")
	newPerson(t, base).acceptInvitation(lotteLink, testPassword)

	t.Run("reused invitation", func(t *testing.T) {
		eva := newPerson(t, base)
		eva.acceptInvitation(evaLink, testPassword)
		u, _ := url.Parse(evaLink)
		again := eva.do("POST", u.Path, url.Values{"token": {u.Query().Get("token")},
			"password": {"another long passphrase 99"}, "confirm": {"another long passphrase 99"}})
		mustSay(t, "a second use of the invitation", again, http.StatusGone, "This invitation has already been used.")
		if got := eva.do("POST", "/signin", url.Values{"email": {"eva@sic.example.be"}, "password": {"another long passphrase 99"}}); got.status == http.StatusSeeOther {
			t.Fatal("the reused invitation changed the password")
		}
		eva.signIn("eva@sic.example.be", testPassword)
	})

	t.Run("wrong password and throttling", func(t *testing.T) {
		p := newPerson(t, base)
		wrong := url.Values{"email": {"lotte@sic.example.be"}, "password": {"not the right password at all"}}
		mustSay(t, "a wrong password", p.do("POST", "/signin", wrong), http.StatusOK, "Wrong email address or password.")
		unknown := url.Values{"email": {"nobody@sic.example.be"}, "password": {"not the right password at all"}}
		mustSay(t, "an unknown address", p.do("POST", "/signin", unknown), http.StatusOK, "Wrong email address or password.")
		var last page
		for range 6 {
			last = p.do("POST", "/signin", wrong)
		}
		mustSay(t, "repeated failures", last, http.StatusTooManyRequests, "Too many attempts. Please try again in")
		// Even the right password waits until the lockout ends.
		right := url.Values{"email": {"lotte@sic.example.be"}, "password": {testPassword}}
		mustSay(t, "the right password during the lockout", p.do("POST", "/signin", right), http.StatusTooManyRequests, "Too many attempts.")
		mustBeSignedOut(t, "after the lockout", p)
	})

	t.Run("youth member opening the editor", func(t *testing.T) {
		noor := newPerson(t, base)
		noor.acceptInvitation(youthLink, testPassword)
		noor.signIn("noor@school.example.be", testPassword)
		before := ownResources(t, n, base)
		mustSay(t, "a youth member opening resources", noor.get("/resources/"), http.StatusForbidden,
			"Your role does not give access to this page.")
		got := noor.do("POST", "/admin/v1/entities", nil)
		if got.status != http.StatusForbidden || !strings.Contains(got.body, "your roles do not allow this") {
			t.Fatalf("a youth member's session on the admin API: %d %s", got.status, got.body)
		}
		if after := ownResources(t, n, base); after != before {
			t.Fatalf("resources %d → %d", before, after)
		}
		if strings.Contains(noor.get("/").body, `href="/resources/"`) {
			t.Fatal("the menu offers a youth member the resources")
		}
	})

	t.Run("request from another origin", func(t *testing.T) {
		eva := newPerson(t, base)
		eva.signIn("eva@sic.example.be", testPassword)
		forged := eva.post("/account", "/account", url.Values{"do": {"password"}, "current": {testPassword},
			"password": {"a forged new passphrase 12"}, "confirm": {"a forged new passphrase 12"}},
			"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
		mustSay(t, "a cross-site password change", forged, http.StatusForbidden, "This form was sent from another site")
		noToken := eva.do("POST", "/signin/out", url.Values{})
		mustSay(t, "a sign-out without the form's token", noToken, http.StatusForbidden, "This form was sent from another site")
		if got := eva.get("/"); got.status != http.StatusOK {
			t.Fatalf("the refused requests signed Eva out: %d", got.status)
		}
		api := eva.do("POST", "/admin/v1/entities", url.Values{}, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
		if api.status != http.StatusForbidden {
			t.Fatalf("a cross-site admin API call with Eva's cookie: %d %s", api.status, api.body)
		}
		other := newPerson(t, base)
		if got := other.do("POST", "/signin", url.Values{"email": {"eva@sic.example.be"}, "password": {"a forged new passphrase 12"}}); got.status == http.StatusSeeOther {
			t.Fatal("the forged password change went through")
		}
	})

	t.Run("cookie from before sign-out", func(t *testing.T) {
		eva := newPerson(t, base)
		eva.signIn("eva@sic.example.be", testPassword)
		u, _ := url.Parse(base)
		cookies := eva.c.Jar.Cookies(u)
		if got := eva.post("/", "/signin/out", url.Values{}); got.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d %s", got.status, got.body)
		}
		replay := newPerson(t, base)
		replay.c.Jar.SetCookies(u, cookies)
		mustBeSignedOut(t, "the old cookie", replay)
	})

	t.Run("role change on an open session", func(t *testing.T) {
		eva := newPerson(t, base)
		eva.signIn("eva@sic.example.be", testPassword)
		if got := eva.get("/resources/"); got.status != http.StatusOK {
			t.Fatalf("an editor opening resources: %d", got.status)
		}
		mustCLI(t, nil, "node", "member", "roles", evaID, "--role", "staff", "--data", n.dir)
		mustBeSignedOut(t, "after the role change", eva)
		eva.signIn("eva@sic.example.be", testPassword)
		mustSay(t, "resources after losing the editor role", eva.get("/resources/"), http.StatusForbidden,
			"Your role does not give access to this page.")
		mustCLI(t, nil, "node", "member", "roles", evaID, "--role", "editor", "--data", n.dir)
	})

	t.Run("disabled member's open session", func(t *testing.T) {
		eva := newPerson(t, base)
		eva.signIn("eva@sic.example.be", testPassword)
		mustCLI(t, nil, "node", "member", "disable", evaID, "--data", n.dir)
		got := eva.get("/")
		if got.status != http.StatusSeeOther || !strings.Contains(got.location, "done=ended") {
			t.Fatalf("a disabled member's session: %d to %q", got.status, got.location)
		}
		mustSay(t, "the sign-in page after the session ended", eva.get(got.location), http.StatusOK,
			"Your session has ended. Please sign in again.")
		mustSay(t, "a disabled member signing in", eva.do("POST", "/signin",
			url.Values{"email": {"eva@sic.example.be"}, "password": {testPassword}}), http.StatusOK,
			"Wrong email address or password.")
	})
}

// TestE2E_WorkspaceExpiredInvitation restarts a node a week later (by its
// test clock): the invitation it sent has expired.
func TestE2E_WorkspaceExpiredInvitation(t *testing.T) {
	nw, n, base := workspaceNode(t, "fi")
	link := addMember(t, n, "mikko@sic.example.fi", "Mikko Virtanen", "editor")
	n.proc.stop()
	os.Remove(filepath.Join(n.dir, nodeAddrFile))
	t.Setenv(testClockOffsetEnv, "169h")
	nw.startNode(n)
	base = "http://" + waitServing(t, n.dir, nodeAddrFile)
	u, _ := url.Parse(link)
	p := newPerson(t, base)
	mustSay(t, "opening the expired invitation", p.get(u.RequestURI()), http.StatusGone, "This invitation has expired.")
	got := p.do("POST", u.Path, url.Values{"token": {u.Query().Get("token")}, "password": {testPassword}, "confirm": {testPassword}})
	mustSay(t, "accepting the expired invitation", got, http.StatusGone, "This invitation has expired.")
	mustSay(t, "signing in after it", p.do("POST", "/signin",
		url.Values{"email": {"mikko@sic.example.fi"}, "password": {testPassword}}), http.StatusOK, "Wrong email address or password.")
}
