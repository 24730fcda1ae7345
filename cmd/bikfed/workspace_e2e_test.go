package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// person is someone using a workspace or console from a browser-like
// client: it keeps cookies, never follows redirects on its own, and sends
// each form with the token of the page it came from.
type person struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPerson(t *testing.T, base string) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, base: strings.TrimRight(base, "/"), c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer: its status, where it sends the client, and its body.
type page struct {
	status   int
	location string
	body     string
}

func (p *person) do(method, path string, form url.Values, header ...string) page {
	p.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = p.base + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

func (p *person) get(path string) page { p.t.Helper(); return p.do("GET", path, nil) }

// post sends form, with the form token of the page at from when it has
// one.
func (p *person) post(from, action string, form url.Values, header ...string) page {
	p.t.Helper()
	if from != "" {
		if tok := formToken(p.get(from).body); tok != "" && form.Get("form_token") == "" {
			form.Set("form_token", tok)
		}
	}
	return p.do("POST", action, form, header...)
}

var formTokenField = regexp.MustCompile(`name="form_token" value="([0-9a-f]+)"`)

func formToken(body string) string {
	m := formTokenField.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// acceptInvitation sets the first password through an invitation link.
func (p *person) acceptInvitation(link, password string) {
	p.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		p.t.Fatal(err)
	}
	got := p.do("POST", u.Path, url.Values{"token": {u.Query().Get("token")}, "password": {password}, "confirm": {password}})
	if got.status != http.StatusSeeOther {
		p.t.Fatalf("accept invitation: %d\n%s", got.status, got.body)
	}
}

// signIn signs in with a password and checks that it worked.
func (p *person) signIn(email, password string) {
	p.t.Helper()
	got := p.do("POST", "/signin", url.Values{"email": {email}, "password": {password}})
	if got.status != http.StatusSeeOther {
		p.t.Fatalf("sign in as %s: %d\n%s", email, got.status, got.body)
	}
}

// workspaceNode is a network of a hub and one running node, with the
// node's workspace address.
func workspaceNode(t *testing.T, id string) (*network, *testNode, string) {
	nw := newNetwork(t)
	n := nw.addNode(id)
	nw.startNode(n)
	addr := waitServing(t, n.dir, nodeAddrFile)
	return nw, n, "http://" + addr
}

// addMember runs `bikfed node member add` and returns the invitation link.
func addMember(t *testing.T, n *testNode, email, name string, roles ...string) string {
	t.Helper()
	args := []string{"node", "member", "add", email, "--name", name, "--data", n.dir}
	for _, r := range roles {
		args = append(args, "--role", r)
		if r == "youth" {
			args = append(args, "--handle", strings.Split(email, "@")[0])
		}
	}
	return invitationLink(t, mustCLI(t, nil, args...))
}

const testPassword = "correct horse battery staple 7"

func TestE2E_WorkspaceSignIn(t *testing.T) {
	_, n, base := workspaceNode(t, "be")
	link := addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor")

	eva := newPerson(t, base)
	if got := eva.get("/"); got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/signin") {
		t.Fatalf("a visitor opening the dashboard: %d to %q, want a redirect to /signin", got.status, got.location)
	}
	eva.acceptInvitation(link, testPassword)
	eva.signIn("eva@sic.example.be", testPassword)
	got := eva.get("/")
	if got.status != 200 || !strings.Contains(got.body, "Eva Peeters") || !strings.Contains(got.body, `href="/resources/"`) {
		t.Fatalf("dashboard: %d\n%s", got.status, got.body)
	}
	t.Log(got.body)
}
