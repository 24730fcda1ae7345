package account

import (
	"errors"
	"testing"
	"time"
)

func TestStore_ChangePassword(t *testing.T) {
	ctx := t.Context()
	const newPassword = "a brand new sentence to remember"

	t.Run("keeps this session and ends the others", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		here, there := f.signIn(t, "ed@example.org"), f.signIn(t, "ed@example.org")
		sess, _, err := f.Lookup(ctx, here)
		if err != nil {
			t.Fatal(err)
		}
		err = f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: goodPassword, New: newPassword,
			KeepSession: sess.ID, Address: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Lookup(ctx, here); err != nil {
			t.Errorf("the session the change was made from ended: %v", err)
		}
		if _, _, err := f.Lookup(ctx, there); !errors.Is(err, ErrNoSession) {
			t.Errorf("another session survived the change: %v", err)
		}
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword}); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("old password after the change: %v", err)
		}
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: newPassword}); err != nil {
			t.Errorf("new password after the change: %v", err)
		}
		events, err := f.Audit(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			if e.Type == EventPasswordChanged && e.MemberID == m.ID && e.Address == "192.0.2.1" {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s event in %+v", EventPasswordChanged, events)
		}
	})

	t.Run("refusals change nothing", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		other := f.signIn(t, "ed@example.org")
		for _, tc := range []struct {
			name, current, new string
			want               error
		}{
			{"wrong current password", "not the password at all", newPassword, ErrWrongPassword},
			{"weak new password", goodPassword, "short", ErrWeakPassword},
			{"new password has the email", goodPassword, "ed@example.org is my password", ErrWeakPassword},
		} {
			err := f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: tc.current, New: tc.new})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if _, _, err := f.Lookup(ctx, other); err != nil {
			t.Errorf("a refused change ended a session: %v", err)
		}
		f.signIn(t, "ed@example.org")
	})

	t.Run("wrong current passwords are throttled", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		var err error
		for range 10 {
			err = f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: "guess guess guess", New: newPassword})
			if errors.Is(err, ErrThrottled) {
				break
			}
		}
		var te *ThrottledError
		if !errors.As(err, &te) || te.RetryAfter <= 0 {
			t.Fatalf("after repeated wrong passwords: %v, want a *ThrottledError", err)
		}
		// While locked, even the right password is not checked.
		before := f.hasher.verifies.Load()
		err = f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: goodPassword, New: newPassword})
		if !errors.Is(err, ErrThrottled) || f.hasher.verifies.Load() != before {
			t.Fatalf("right password while locked: %v", err)
		}
		f.clock.Advance(time.Hour)
		if err := f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: goodPassword, New: newPassword}); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
	})

	t.Run("disabled member", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		if err := f.Disable(ctx, "cli", m.ID); err != nil {
			t.Fatal(err)
		}
		err := f.ChangePassword(ctx, PasswordChange{MemberID: m.ID, Current: goodPassword, New: newPassword})
		if !errors.Is(err, ErrDisabled) {
			t.Fatalf("disabled member: %v", err)
		}
	})
}

func TestStore_CheckLink(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	_, live, err := f.Add(ctx, "cli", NewMember{Email: "new@example.org", Name: "New", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	_, used, err := f.Add(ctx, "cli", NewMember{Email: "used@example.org", Name: "Used", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Accept(ctx, used, goodPassword, ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * 24 * time.Hour)
	_, expired, err := f.Add(ctx, "cli", NewMember{Email: "late@example.org", Name: "Late", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	reset, _, err := f.RequestReset(ctx, "used@example.org", "")
	if err != nil || reset == "" {
		t.Fatalf("RequestReset: %q %v", reset, err)
	}
	f.clock.Advance(2 * 24 * time.Hour)
	// late's invitation is now two days old, new's eight; so the expired
	// one is new's, and late's is still live.
	live, expired = expired, live
	auditBefore, err := f.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		kind  LinkKind
		token string
		want  error
	}{
		{"live invitation", LinkInvite, live, nil},
		{"expired invitation", LinkInvite, expired, ErrTokenExpired},
		{"used invitation", LinkInvite, used, ErrTokenUsed},
		{"unknown", LinkInvite, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ErrTokenUnknown},
		{"malformed", LinkInvite, "<script>", ErrTokenUnknown},
		{"invitation as a reset", LinkReset, live, ErrTokenUnknown},
		{"expired reset", LinkReset, reset, ErrTokenExpired},
	} {
		_, err := f.CheckLink(ctx, tc.kind, tc.token)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := f.CheckLink(ctx, LinkInvite, live); err != nil || got.Email != "late@example.org" {
		t.Errorf("CheckLink = %+v, %v", got, err)
	}
	auditAfter, err := f.Audit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(auditAfter) != len(auditBefore) {
		t.Errorf("CheckLink wrote %d audit events", len(auditAfter)-len(auditBefore))
	}
	// Checking does not use: the live link still works.
	if _, err := f.Accept(ctx, live, goodPassword, ""); err != nil {
		t.Fatalf("Accept after CheckLink: %v", err)
	}
}
