package workspace

import (
	"testing"

	"github.com/bikfed/bikfed/internal/account"
)

func TestAuditText(t *testing.T) {
	p := english(t)
	names := map[int64]string{1: "Ada Admin", 2: "Eva Peeters"}
	for _, c := range []struct {
		e    account.Event
		want string
	}{
		{account.Event{Type: account.EventRolesChanged, MemberID: 2, Actor: "member:1", Detail: "roles editor -> editor staff"},
			"Ada Admin changed the roles of Eva Peeters from Editor to Editor, Staff."},
		{account.Event{Type: account.EventMemberAdded, MemberID: 1, Actor: "admin-token", Detail: "roles admin"},
			"A script with the admin token added Ada Admin as Admin."},
		{account.Event{Type: account.EventMemberRemoved, MemberID: 7, Actor: "member:1"}, "Ada Admin removed member 7 (removed)."},
		{account.Event{Type: account.EventSignIn, MemberID: 2, Actor: "member:2", Detail: "passkey"}, "Eva Peeters signed in with a passkey."},
		{account.Event{Type: account.EventSignInFailed, Actor: account.ActorAnonymous, Detail: "unknown email"},
			"A sign-in with an unknown email address failed (unknown email)."},
		{account.Event{Type: account.EventMemberDisabled, MemberID: 2, Actor: "cli"}, "The command line on the server disabled Eva Peeters."},
		{account.Event{Type: "passkey-added", MemberID: 2, Actor: "member:2"}, "Eva Peeters added a passkey."},
		{account.Event{Type: "passkey-policy-changed", Actor: "member:1", Detail: "required for admin,editor"},
			"Ada Admin set the roles that must sign in with a passkey: Admin, Editor."},
		{account.Event{Type: "passkey-policy-changed", Actor: "member:1", Detail: "required for none"},
			"Ada Admin set the roles that must sign in with a passkey: no role."},
		{account.Event{Type: "something-new", MemberID: 2, Actor: "member:2"}, "Eva Peeters: something-new (Eva Peeters)."},
	} {
		if got := auditText(p, names, c.e); got != c.want {
			t.Errorf("%s: %q, want %q", c.e.Type, got, c.want)
		}
	}
}
