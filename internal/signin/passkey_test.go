package signin

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/oidctest"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

func newPasskeyFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, fixtureOptions{passkeyOrigin: "https://sic.example"})
}

// addPasskey puts a passkey on file for a member as a finished
// registration would, without the ceremony, which the passkey package
// tests; it returns the passkey's id.
func (f *fixture) addPasskey(member int64, name string) string {
	f.t.Helper()
	id := make([]byte, 16)
	rand.Read(id)
	err := f.db.WriteTx(f.t.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(f.t.Context(), `INSERT INTO passkeys (id, member_id, name, public_key, attestation_type,
			attestation_format, aaguid, sign_count, transports, attachment, flags, created_at)
			VALUES (?, ?, ?, x'00', 'none', 'none', zeroblob(16), 0, 'internal', 'platform', 5, ?)`,
			id, member, name, time.Now().UnixMilli())
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(id)
}

func (f *fixture) memberID(email string) account.Member {
	f.t.Helper()
	m, err := f.store.GetByEmail(f.t.Context(), email)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *fixture) lastAudit() account.Event {
	f.t.Helper()
	evs, err := f.store.Audit(f.t.Context(), 0, 1)
	if err != nil || len(evs) != 1 {
		f.t.Fatalf("Audit = %v, %v", evs, err)
	}
	return evs[0]
}

func (f *fixture) require(roles ...string) {
	f.t.Helper()
	if err := f.keys.SetRequiredRoles(f.t.Context(), "test", roles); err != nil {
		f.t.Fatal(err)
	}
}

func TestHandler_PasskeySignInPage(t *testing.T) {
	f := newPasskeyFixture(t)
	a := f.get(f.browser(), "/signin?next=/work")
	if a.status != http.StatusOK {
		t.Fatalf("sign-in page: %d", a.status)
	}
	mustContain(t, a.body, `<form id="passkey-signin" method="post" action="/signin/passkey/login/finish" data-passkey="login" data-passkey-begin="/signin/passkey/login/begin"`,
		`hidden>`, `<input type="hidden" name="next" value="/work">`, "Sign in with a passkey",
		`<script src="`+f.pk.ScriptURL()+`" defer></script>`,
		// The password form is still there for a browser without a script.
		`<input type="password" id="password"`)
	if a := f.get(f.browser(), f.pk.ScriptURL()); a.status != http.StatusOK || !strings.Contains(a.body, "navigator.credentials") {
		t.Fatalf("the script under the sign-in prefix: %d", a.status)
	}

	plain := newFixture(t)
	if a := plain.get(plain.browser(), "/signin"); strings.Contains(a.body, "passkey") {
		t.Errorf("a server without passkeys offers them:\n%s", a.body)
	}
}

func TestHandler_PasskeyRequired(t *testing.T) {
	f := newPasskeyFixture(t)
	f.member("eddie@example.org")
	eddie := f.memberID("eddie@example.org")
	u, _ := url.Parse(f.srv.URL)
	pendingToken := func(c *http.Client) string {
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "bikfed-passkey-pending" {
				return ck.Value
			}
		}
		return ""
	}

	// A policy for another role changes nothing for an editor.
	f.require("admin")
	f.signIn(f.browser(), "eddie@example.org", goodPassword)
	if e := f.lastAudit(); e.Type != account.EventSignIn || e.Detail != "password" {
		t.Fatalf("sign-in audited as %+v", e)
	}

	f.require("admin", "editor")
	c := f.browser()
	a := f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {"wrong password here"}})
	if a.status != http.StatusOK || pendingToken(c) != "" {
		t.Fatalf("wrong password: %d, pending %q", a.status, pendingToken(c))
	}
	mustContain(t, a.body, "Wrong email address or password.")

	before := f.lastAudit()
	a = f.post(c, "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}, "next": {"/work"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin/confirm?next=%2Fwork" {
		t.Fatalf("password of a member who needs a passkey: %d to %q", a.status, a.header.Get("Location"))
	}
	if ck := a.header.Get("Set-Cookie"); !strings.HasPrefix(ck, "bikfed-passkey-pending=") ||
		!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") {
		t.Errorf("pending cookie %q: want HttpOnly and SameSite=Lax, so that a redirect from an identity provider carries it", ck)
	}
	pending := pendingToken(c)
	if m, err := f.keys.Pending(t.Context(), pending); err != nil || m != eddie.ID {
		t.Fatalf("Pending = %d, %v", m, err)
	}
	if a := f.get(c, "/"); a.status != http.StatusSeeOther {
		t.Fatalf("a pending sign-in opens the home page: %d %s", a.status, a.body)
	}
	if sessions, _ := f.store.Sessions(t.Context(), eddie.ID); len(sessions) != 1 {
		t.Fatalf("sessions after the password step: %d, want only the earlier one", len(sessions))
	}
	if e := f.lastAudit(); e.ID != before.ID {
		t.Fatalf("the password step was audited as %+v", e)
	}

	// With no passkey yet, the second step adds the first one.
	a = f.get(c, "/signin/confirm?next=%2Fwork")
	if a.status != http.StatusOK {
		t.Fatalf("second step: %d", a.status)
	}
	mustContain(t, a.body, "<h1>Add a passkey to sign in</h1>", `data-passkey="enrol"`, `data-passkey-begin="/signin/passkey/enrol/begin"`,
		`<label for="passkey-name">`, `<input type="hidden" name="next" value="/work">`, "data-passkey-missing")

	// With one, it asks for it.
	f.addPasskey(eddie.ID, "laptop")
	a = f.get(c, "/signin/confirm")
	mustContain(t, a.body, "<h1>Confirm with your passkey</h1>", `data-passkey="second"`, `action="/signin/passkey/second/finish"`)
	if strings.Contains(a.body, `data-passkey="enrol"`) {
		t.Error("a member with a passkey is offered to add one")
	}

	// Cancelling ends the pending sign-in.
	a = f.post(c, "/signin/confirm", url.Values{"next": {"/work"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?next=%2Fwork" {
		t.Fatalf("cancel: %d to %q", a.status, a.header.Get("Location"))
	}
	if _, err := f.keys.Pending(t.Context(), pending); err == nil {
		t.Fatal("the pending sign-in outlived its cancellation")
	}
	a = f.get(f.browser(), "/signin/confirm")
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/signin?done=pending" {
		t.Fatalf("second step without a pending sign-in: %d to %q", a.status, a.header.Get("Location"))
	}
	mustContain(t, f.get(f.browser(), "/signin?done=pending").body, "waited too long for a passkey")
}

func TestHandler_AccountPasskeys(t *testing.T) {
	f := newPasskeyFixture(t)
	f.member("eddie@example.org")
	f.member("ana@example.org")
	eddie, ana := f.memberID("eddie@example.org"), f.memberID("ana@example.org")
	c := f.browser()
	f.signIn(c, "eddie@example.org", goodPassword)
	token := f.formToken(c)

	a := f.get(c, "/account")
	mustContain(t, a.body, `<h2 id="passkeys">Passkeys</h2>`, "You have no passkeys yet.",
		`data-passkey="register"`, `<input type="hidden" name="next" value="/account?done=passkey-added">`,
		`name="`+web.FormField+`" value="`+token+`"`)

	laptop := f.addPasskey(eddie.ID, "laptop")
	phone := f.addPasskey(eddie.ID, "phone")
	anas := f.addPasskey(ana.ID, "ana's key")
	a = f.get(c, "/account")
	mustContain(t, a.body, "<td>laptop</td>", "<td>phone</td>", "Not yet", `aria-label="Rename laptop"`, `aria-label="Remove phone"`)
	if strings.Contains(a.body, "ana&#39;s key") {
		t.Error("the account page lists another member's passkey")
	}

	a = f.get(c, "/account?rename="+url.QueryEscape(laptop))
	mustContain(t, a.body, `<form id="passkey-rename"`, `<input type="hidden" name="id" value="`+laptop+`">`, `value="laptop"`)

	rename := func(id, name string, header ...string) answer {
		return f.post(c, "/account", url.Values{web.FormField: {token}, "do": {"passkey-rename"}, "id": {id}, "name": {name}}, header...)
	}
	tests := []struct {
		name, id, newName string
		status            int
		want              string
	}{
		{"empty", laptop, "  ", http.StatusUnprocessableEntity, "Give the passkey a name."},
		{"too long", laptop, strings.Repeat("n", 101), http.StatusUnprocessableEntity, "at most 100 characters"},
		{"far too long", laptop, strings.Repeat("n", 5000), http.StatusUnprocessableEntity, "at most 100 characters"},
		{"another member's", anas, "mine now", http.StatusNotFound, "no longer on your account"},
		{"unknown", "AAAA", "x", http.StatusNotFound, "no longer on your account"},
	}
	for _, tt := range tests {
		t.Run("rename "+tt.name, func(t *testing.T) {
			a := rename(tt.id, tt.newName)
			if a.status != tt.status {
				t.Fatalf("rename: %d", a.status)
			}
			mustContain(t, a.body, tt.want)
		})
	}
	a = rename(laptop, strings.Repeat("n", 101))
	mustContain(t, a.body, `aria-invalid="true" aria-describedby="passkey-new-name-error"`, `value="`+strings.Repeat("n", 101)+`"`)
	if a := rename(laptop, "old laptop", "Sec-Fetch-Site", "cross-site"); a.status != http.StatusForbidden {
		t.Fatalf("rename from another site: %d", a.status)
	}
	if a := f.post(c, "/account", url.Values{"do": {"passkey-rename"}, "id": {laptop}, "name": {"x"}}); a.status != http.StatusForbidden {
		t.Fatalf("rename without the form token: %d", a.status)
	}
	if a := rename(laptop, "old laptop"); a.status != http.StatusSeeOther || a.header.Get("Location") != "/account?done=passkey-renamed" {
		t.Fatalf("rename: %d to %q", a.status, a.header.Get("Location"))
	}
	names := func(member int64) []string {
		t.Helper()
		pks, err := f.keys.List(t.Context(), member)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, pk := range pks {
			out = append(out, pk.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := strings.Join(names(eddie.ID), ","); got != "old laptop,phone" {
		t.Fatalf("eddie's passkeys: %s", got)
	}
	if got := strings.Join(names(ana.ID), ","); got != "ana's key" {
		t.Fatalf("ana's passkeys: %s", got)
	}

	// Removal asks first, then removes.
	a = f.get(c, "/account?remove="+url.QueryEscape(phone))
	if a.status != http.StatusOK {
		t.Fatalf("removal question: %d", a.status)
	}
	mustContain(t, a.body, "Remove the passkey “phone”?", `<input type="hidden" name="do" value="passkey-remove">`)
	remove := func(id string) answer {
		return f.post(c, "/account", url.Values{web.FormField: {token}, "do": {"passkey-remove"}, "id": {id}})
	}
	if a := remove(anas); a.status != http.StatusNotFound {
		t.Fatalf("removing another member's passkey: %d", a.status)
	}
	f.require("editor")
	if a := remove(phone); a.status != http.StatusSeeOther || a.header.Get("Location") != "/account?done=passkey-removed" {
		t.Fatalf("remove: %d to %q", a.status, a.header.Get("Location"))
	}
	if e := f.lastAudit(); e.Type != passkey.EventPasskeyRemoved || e.MemberID != eddie.ID || e.Detail != "phone" {
		t.Fatalf("removal audited as %+v", e)
	}

	// The last passkey of a member whose role asks for one stays.
	a = f.get(c, "/account?done=passkey-removed")
	mustContain(t, a.body, "Your role asks for a passkey after your password", "The passkey has been removed.")
	a = f.get(c, "/account?remove="+url.QueryEscape(laptop))
	if a.status != http.StatusConflict {
		t.Fatalf("removal question for the last passkey: %d", a.status)
	}
	mustContain(t, a.body, "this is your only one")
	if a := remove(laptop); a.status != http.StatusConflict {
		t.Fatalf("removing the last passkey: %d", a.status)
	}
	if got := strings.Join(names(eddie.ID), ","); got != "old laptop" {
		t.Fatalf("eddie's passkeys: %s", got)
	}
	f.require()
	if a := remove(laptop); a.status != http.StatusSeeOther {
		t.Fatalf("removing the last passkey with no policy: %d", a.status)
	}
}

// TestHandler_OIDCPasskeyRequired checks that single sign-on does not get
// around a role's passkey: it stops at the same second step as a password.
func TestHandler_OIDCPasskeyRequired(t *testing.T) {
	s := newSSOFixtureWith(t, fixtureOptions{passkeyOrigin: "https://sic.example"})
	s.member(oidctest.Verified.Email)
	m := s.memberID(oidctest.Verified.Email)
	s.require("editor")
	c := s.browser()
	a := s.sso(c, "/signin/oidc/start?next=%2Faccount", oidctest.Verified)
	if a.status != http.StatusOK {
		t.Fatalf("after sign-on: %d %s", a.status, a.body)
	}
	mustContain(t, a.body, "<h1>Add a passkey to sign in</h1>", `<input type="hidden" name="next" value="/account">`)
	if sessions, _ := s.store.Sessions(t.Context(), m.ID); len(sessions) != 0 {
		t.Fatalf("single sign-on opened %d sessions past the passkey policy", len(sessions))
	}
	if a := s.get(c, "/"); a.status != http.StatusSeeOther {
		t.Fatalf("home after sign-on without a passkey: %d", a.status)
	}
	u, _ := url.Parse(s.srv.URL)
	var pending string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "bikfed-passkey-pending" {
			pending = ck.Value
		}
	}
	if id, method, err := s.keys.PendingVia(t.Context(), pending); err != nil || id != m.ID || method != "oidc" {
		t.Fatalf("PendingVia = %d, %q, %v", id, method, err)
	}
}

func TestConfig_Validate_passkeys(t *testing.T) {
	f := newPasskeyFixture(t)
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"/signin/passkey", true},
		{"/signin/keys/passkey", true},
		{"/passkey", false},
		{"/signinpasskey", false},
	} {
		pcfg := passkey.DefaultHandlerConfig()
		pcfg.Prefix = tc.prefix
		pk, err := passkey.NewHandler(f.keys, f.site, pcfg)
		if err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		c.BaseURL, c.Passkeys = "https://sic.example", pk
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("passkey prefix %s: Validate() = %v, want ok %v", tc.prefix, err, tc.ok)
		}
	}
}
