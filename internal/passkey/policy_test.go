package passkey

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/bikfed/bikfed/internal/account"
)

// lastAudit returns the newest entry of the audit log, the zero Event if
// there is none.
func (f *fixture) lastAudit(t *testing.T) account.Event {
	t.Helper()
	evs, err := f.accounts.Audit(t.Context(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return account.Event{}
	}
	return evs[0]
}

func TestService_SetRequiredRoles(t *testing.T) {
	f := newFixture(t)
	if got, err := f.RequiredRoles(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("RequiredRoles at first = %v, %v", got, err)
	}
	tests := []struct {
		name    string
		roles   []string
		want    []string
		err     error
		audited string // the new entry's detail; "" for no entry
	}{
		{"two roles", []string{"editor", "admin", "editor"}, []string{"admin", "editor"}, nil, "required for admin,editor"},
		{"the same again", []string{"admin", "editor"}, []string{"admin", "editor"}, nil, ""},
		{"one fewer", []string{"admin"}, []string{"admin"}, nil, "required for admin"},
		{"empty name", []string{"admin", ""}, []string{"admin"}, ErrInvalidRole, ""},
		{"space in name", []string{"ad min"}, []string{"admin"}, ErrInvalidRole, ""},
		{"none", nil, nil, nil, "required for none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastAudit(t)
			err := f.SetRequiredRoles(t.Context(), "member:7", tt.roles)
			if !errors.Is(err, tt.err) {
				t.Fatalf("SetRequiredRoles = %v, want %v", err, tt.err)
			}
			got, err := f.RequiredRoles(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tt.want) {
				t.Errorf("RequiredRoles = %v, want %v", keys, tt.want)
			}
			e := f.lastAudit(t)
			switch {
			case tt.audited == "" && e.ID != before.ID:
				t.Errorf("audited %+v", e)
			case tt.audited != "" && (e.Type != EventPolicyChanged || e.Actor != "member:7" || e.Detail != tt.audited):
				t.Errorf("audit entry %+v, want %s by member:7: %s", e, EventPolicyChanged, tt.audited)
			}
		})
	}
}

func TestService_RemoveAll(t *testing.T) {
	f := newFixture(t)
	ana, bo := f.member(t, "ana@sic.example"), f.member(t, "bo@sic.example")
	f.register(t, ana)
	if e := f.lastAudit(t); e.Type != EventPasskeyAdded || e.MemberID != ana.ID || e.Detail != "laptop" {
		t.Fatalf("registration audited as %+v", e)
	}
	f.register(t, ana)
	f.register(t, bo)
	n, err := f.RemoveAll(t.Context(), "member:1", ana.ID)
	if err != nil || n != 2 {
		t.Fatalf("RemoveAll = %d, %v", n, err)
	}
	if e := f.lastAudit(t); e.Type != EventPasskeyRemoved || e.MemberID != ana.ID || e.Actor != "member:1" {
		t.Fatalf("RemoveAll audited as %+v", e)
	}
	if has, _ := f.Has(t.Context(), ana.ID); has {
		t.Error("ana still has a passkey")
	}
	if has, _ := f.Has(t.Context(), bo.ID); !has {
		t.Error("bo's passkey went too")
	}
	before := f.lastAudit(t)
	if n, err := f.RemoveAll(t.Context(), "member:1", ana.ID); err != nil || n != 0 {
		t.Fatalf("RemoveAll again = %d, %v", n, err)
	}
	if e := f.lastAudit(t); e.ID != before.ID {
		t.Errorf("removing nothing was audited: %+v", e)
	}
}

// TestHandler_audit checks that a passkey sign-in is recorded as a
// password sign-in is, and that a refused one counts as a failure.
func TestHandler_audit(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")
	k := s.register(t, m)

	signIn := func(b *http.Client, sign func(*protocol.CredentialAssertion) []byte) (int, errorBody) {
		t.Helper()
		var lo protocol.CredentialAssertion
		if code := s.post(t, b, "/signin/passkey/login/begin", url.Values{}, &lo); code != http.StatusOK {
			t.Fatalf("login/begin: %d", code)
		}
		var e errorBody
		code := s.post(t, b, "/signin/passkey/login/finish", url.Values{"credential": {string(sign(&lo))}}, &e)
		return code, e
	}
	if code, e := signIn(s.browser(t), func(lo *protocol.CredentialAssertion) []byte { return k.get(t, lo, testOrigin) }); code != http.StatusOK {
		t.Fatalf("login/finish: %d %+v", code, e)
	}
	if e := s.lastAudit(t); e.Type != account.EventSignIn || e.MemberID != m.ID || e.Detail != "passkey" {
		t.Fatalf("passkey sign-in audited as %+v", e)
	}

	// An answer for another site is refused and recorded.
	if code, _ := signIn(s.browser(t), func(lo *protocol.CredentialAssertion) []byte {
		return k.get(t, lo, "https://evil.example")
	}); code != http.StatusBadRequest {
		t.Fatalf("login/finish from another origin: %d", code)
	}
	if e := s.lastAudit(t); e.Type != account.EventSignInFailed || e.Actor != account.ActorAnonymous ||
		len(e.Detail) < 8 || e.Detail[:8] != "passkey:" {
		t.Fatalf("refused passkey sign-in audited as %+v", e)
	}

	// A disabled member's passkey opens nothing.
	if err := s.accounts.Disable(t.Context(), "test", m.ID); err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	if code, _ := signIn(b, func(lo *protocol.CredentialAssertion) []byte { return k.get(t, lo, testOrigin) }); code != http.StatusBadRequest {
		t.Fatalf("login/finish of a disabled member: %d", code)
	}
	if got := s.get(t, b, "/whoami"); got != "0" {
		t.Fatalf("a disabled member signed in as %q", got)
	}
	if e := s.lastAudit(t); e.Type != account.EventSignInFailed {
		t.Fatalf("a disabled member's passkey audited as %+v", e)
	}
}

// TestHandler_enrolment checks that a pending sign-in of a member with no
// passkey may add a first one, which signs them in, and nothing more.
func TestHandler_enrolment(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")
	u, _ := url.Parse(s.srv.URL)
	pendingBrowser := func() (*http.Client, string) {
		t.Helper()
		pending, err := s.StartPending(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		b := s.browser(t)
		b.Jar.SetCookies(u, []*http.Cookie{s.h.PendingCookie(pending)})
		return b, pending
	}

	var e errorBody
	if code := s.post(t, s.browser(t), "/signin/passkey/enrol/begin", url.Values{}, &e); code != http.StatusBadRequest {
		t.Fatalf("enrol/begin without a pending sign-in: %d %+v", code, e)
	}

	b, pending := pendingBrowser()
	var opts protocol.CredentialCreation
	if code := s.post(t, b, "/signin/passkey/enrol/begin", url.Values{}, &opts); code != http.StatusOK {
		t.Fatalf("enrol/begin: %d", code)
	}
	k := newKey(t, testRPID, userHandle(t, &opts))
	form := url.Values{"credential": {string(k.create(t, &opts, testOrigin))}, "name": {"phone"}, "next": {"/work"}}
	var done signedIn
	if code := s.post(t, b, "/signin/passkey/enrol/finish", form, &done); code != http.StatusOK || done.Redirect != "/work" {
		t.Fatalf("enrol/finish: %d %+v", code, done)
	}
	if got := s.get(t, b, "/whoami"); got != strconv.FormatInt(m.ID, 10) {
		t.Fatalf("signed in as %q after enrolment", got)
	}
	if e := s.lastAudit(t); e.Type != account.EventSignIn || e.Detail != "password, first passkey" {
		t.Fatalf("enrolment audited as %+v", e)
	}
	if _, err := s.Pending(t.Context(), pending); !errors.Is(err, ErrNoPending) {
		t.Fatalf("the pending sign-in outlived the enrolment: %v", err)
	}
	if pks, _ := s.List(t.Context(), m.ID); len(pks) != 1 || pks[0].Name != "phone" {
		t.Fatalf("passkeys after enrolment: %+v", pks)
	}

	// With a passkey on file, a password alone adds no other.
	b, _ = pendingBrowser()
	if code := s.post(t, b, "/signin/passkey/enrol/begin", url.Values{}, &e); code != http.StatusBadRequest {
		t.Fatalf("enrol/begin with a passkey on file: %d %+v", code, e)
	}
	if got := s.get(t, b, "/whoami"); got != "0" {
		t.Fatalf("signed in as %q", got)
	}
}

func TestHandler_second_factor_after_oidc(t *testing.T) {
	s := newServer(t)
	m := s.member(t, "ana@sic.example")
	k := s.register(t, m)
	pending, err := s.StartPendingVia(t.Context(), m.ID, "oidc")
	if err != nil {
		t.Fatal(err)
	}
	b := s.browser(t)
	u, _ := url.Parse(s.srv.URL)
	b.Jar.SetCookies(u, []*http.Cookie{s.h.PendingCookie(pending)})
	var opts protocol.CredentialAssertion
	if code := s.post(t, b, "/signin/passkey/second/begin", url.Values{}, &opts); code != http.StatusOK {
		t.Fatalf("second/begin: %d", code)
	}
	var done signedIn
	if code := s.post(t, b, "/signin/passkey/second/finish", url.Values{"credential": {string(k.get(t, &opts, testOrigin))}}, &done); code != http.StatusOK {
		t.Fatalf("second/finish: %d", code)
	}
	if e := s.lastAudit(t); e.Type != account.EventSignIn || e.MemberID != m.ID || e.Detail != "oidc and passkey" {
		t.Fatalf("second factor after single sign-on audited as %+v", e)
	}
}
