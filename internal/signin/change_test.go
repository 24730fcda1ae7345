package signin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/web"
)

func TestHandler_ChangePassword(t *testing.T) {
	f := newFixture(t)
	f.member("eddie@example.org")
	here, elsewhere := f.browser(), f.browser()
	f.signIn(here, "eddie@example.org", goodPassword)
	f.signIn(elsewhere, "eddie@example.org", goodPassword)
	a := f.get(here, "/account")
	mustContain(t, a.body, "Change your password", `name="current" autocomplete="current-password"`,
		`name="password" autocomplete="new-password"`, `name="confirm" autocomplete="new-password"`,
		`<label for="current">Current password</label>`, "At least 15 characters")
	const newPassword = "a whole new sentence to remember"
	change := func(c *http.Client, current, password, confirm string, header ...string) answer {
		return f.post(c, "/account", url.Values{web.FormField: {f.formToken(c)}, "do": {"password"},
			"current": {current}, "password": {password}, "confirm": {confirm}}, header...)
	}
	for _, tc := range []struct {
		name                      string
		current, password, repeat string
		want                      []string
	}{
		{"wrong current password", "not the password at all", newPassword, newPassword,
			[]string{"The current password is wrong.", `aria-describedby="current-error"`}},
		{"weak new password", goodPassword, "short", "short",
			[]string{"The password is too short: use at least 15 characters.", `aria-describedby="password-error password-rules"`}},
		{"mismatch", goodPassword, newPassword, newPassword + "x",
			[]string{"The two passwords are different.", `aria-describedby="confirm-error"`}},
	} {
		a := change(here, tc.current, tc.password, tc.repeat)
		if a.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d", tc.name, a.status)
		}
		mustContain(t, a.body, tc.want...)
		if a := f.get(elsewhere, "/"); a.status != http.StatusOK {
			t.Fatalf("%s ended another session: %d", tc.name, a.status)
		}
	}
	if a := f.post(here, "/account", url.Values{"do": {"password"}, "current": {goodPassword},
		"password": {newPassword}, "confirm": {newPassword}}); a.status != http.StatusForbidden {
		t.Fatalf("change without a form token: %d", a.status)
	}
	a = change(here, goodPassword, newPassword, newPassword)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/account?done=password" {
		t.Fatalf("change: %d to %q: %s", a.status, a.header.Get("Location"), a.body)
	}
	mustContain(t, f.get(here, "/account?done=password").body, "Your password has been changed.")
	if a := f.get(elsewhere, "/"); a.status != http.StatusSeeOther {
		t.Errorf("another browser is still signed in after the change: %d", a.status)
	}
	f.signIn(f.browser(), "eddie@example.org", newPassword)
	if a := f.post(f.browser(), "/signin", url.Values{"email": {"eddie@example.org"}, "password": {goodPassword}}); a.status != http.StatusOK ||
		!strings.Contains(a.body, "Wrong email address or password.") {
		t.Errorf("the old password still signs in: %d", a.status)
	}
}

func TestHandler_DisabledMembersInvitation(t *testing.T) {
	f := newFixture(t)
	tok := f.invite("gone@example.org")
	m, err := f.store.GetByEmail(t.Context(), "gone@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Disable(t.Context(), "test", m.ID); err != nil {
		t.Fatal(err)
	}
	a := f.get(f.browser(), "/signin/invite?token="+url.QueryEscape(tok))
	if a.status != http.StatusGone || strings.Contains(a.body, `type="password"`) {
		t.Fatalf("a disabled member's invitation shows the form: %d", a.status)
	}
	mustContain(t, a.body, "This invitation link is not valid.")
}
