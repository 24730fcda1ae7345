package account

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestStore_Accept(t *testing.T) {
	ctx := t.Context()
	add := func(t *testing.T, f *fixture) (Member, string) {
		t.Helper()
		m, tok, err := f.Add(ctx, "cli", NewMember{Email: "ed@example.org", Name: "Ed", Roles: []string{"editor"}})
		if err != nil {
			t.Fatal(err)
		}
		return m, tok
	}

	t.Run("sets the password and activates", func(t *testing.T) {
		f := newStore(t)
		m, tok := add(t, f)
		got, err := f.Accept(ctx, tok, goodPassword, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != m.ID || got.Status != StatusActive || !got.HasPassword {
			t.Errorf("Accept = %+v", got)
		}
		f.signIn(t, "ed@example.org")
	})

	t.Run("single use", func(t *testing.T) {
		f := newStore(t)
		_, tok := add(t, f)
		if _, err := f.Accept(ctx, tok, goodPassword, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Accept(ctx, tok, "another good passphrase", ""); !errors.Is(err, ErrTokenUsed) {
			t.Fatalf("second Accept = %v, want ErrTokenUsed", err)
		}
		f.signIn(t, "ed@example.org")
	})

	t.Run("valid for seven days", func(t *testing.T) {
		f := newStore(t)
		_, tok := add(t, f)
		f.clock.Advance(7*24*time.Hour - time.Minute)
		if _, err := f.Accept(ctx, tok, goodPassword, ""); err != nil {
			t.Fatalf("Accept just before expiry: %v", err)
		}
		_, tok2 := add2(t, f)
		f.clock.Advance(7 * 24 * time.Hour)
		if _, err := f.Accept(ctx, tok2, goodPassword, ""); !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("Accept after seven days = %v, want ErrTokenExpired", err)
		}
	})

	t.Run("unknown and malformed tokens", func(t *testing.T) {
		f := newStore(t)
		add(t, f)
		other, _, _ := newToken()
		for _, tok := range []string{other, "", "not a token", "../../etc/passwd"} {
			if _, err := f.Accept(ctx, tok, goodPassword, ""); !errors.Is(err, ErrTokenUnknown) {
				t.Errorf("Accept(%q) = %v, want ErrTokenUnknown", tok, err)
			}
		}
	})

	t.Run("a refused password leaves the invitation usable", func(t *testing.T) {
		f := newStore(t)
		_, tok := add(t, f)
		if _, err := f.Accept(ctx, tok, "password", ""); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("Accept with a weak password = %v, want ErrWeakPassword", err)
		}
		if _, err := f.Accept(ctx, tok, "ed@example.org is me, really", ""); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("Accept with the email in the password = %v, want ErrWeakPassword", err)
		}
		if _, err := f.Accept(ctx, tok, goodPassword, ""); err != nil {
			t.Fatalf("Accept after refusals: %v", err)
		}
	})

	t.Run("accepting one invitation ends the others", func(t *testing.T) {
		f := newStore(t)
		m, tok := add(t, f)
		tok2, err := f.Invite(ctx, "cli", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Accept(ctx, tok2, goodPassword, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Accept(ctx, tok, "another good passphrase", ""); !errors.Is(err, ErrTokenUsed) {
			t.Fatalf("Accept of the first invitation = %v, want ErrTokenUsed", err)
		}
		if _, err := f.Invite(ctx, "cli", m.ID); !errors.Is(err, ErrActive) {
			t.Fatalf("Invite of an active member = %v, want ErrActive", err)
		}
	})

	t.Run("a disabled member's invitation is gone", func(t *testing.T) {
		f := newStore(t)
		m, tok := add(t, f)
		if err := f.Disable(ctx, "cli", m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Accept(ctx, tok, goodPassword, ""); !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("Accept after Disable = %v, want ErrTokenUnknown", err)
		}
		if _, err := f.Invite(ctx, "cli", m.ID); !errors.Is(err, ErrDisabled) {
			t.Fatalf("Invite of a disabled member = %v, want ErrDisabled", err)
		}
	})
}

func add2(t *testing.T, f *fixture) (Member, string) {
	t.Helper()
	m, tok, err := f.Add(t.Context(), "cli", NewMember{Email: "second@example.org", Name: "Second", Roles: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

func TestStore_Accept_Concurrent(t *testing.T) {
	f := newStore(t)
	_, tok, err := f.Add(t.Context(), "cli", NewMember{Email: "ed@example.org", Name: "Ed", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	passwords := []string{"first racing passphrase", "second racing passphrase"}
	errs := make([]error, len(passwords))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, pw := range passwords {
		wg.Go(func() {
			<-start
			_, errs[i] = f.Accept(t.Context(), tok, pw, "")
		})
	}
	close(start)
	wg.Wait()

	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won == -1:
			won = i
		case err == nil:
			t.Fatal("both concurrent Accepts succeeded")
		case !errors.Is(err, ErrTokenUsed):
			t.Fatalf("losing Accept = %v, want ErrTokenUsed", err)
		}
	}
	if won == -1 {
		t.Fatalf("no Accept succeeded: %v", errs)
	}
	// The winner's password is the one that works.
	_, _, _, err = f.SignIn(t.Context(), Credentials{Email: "ed@example.org", Password: passwords[won]})
	if err != nil {
		t.Errorf("SignIn with the winning password: %v", err)
	}
	_, _, _, err = f.SignIn(t.Context(), Credentials{Email: "ed@example.org", Password: passwords[1-won]})
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("SignIn with the losing password = %v, want ErrInvalidCredentials", err)
	}
}

func TestStore_RequestReset(t *testing.T) {
	ctx := t.Context()

	t.Run("unknown, invited and disabled emails get nothing, and no error", func(t *testing.T) {
		f := newStore(t)
		add2(t, f) // invited
		m := f.active(t, "gone@example.org")
		if err := f.Disable(ctx, "cli", m.ID); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"nobody@example.org", "second@example.org", "gone@example.org", "not an email"} {
			tok, got, err := f.RequestReset(ctx, email, "192.0.2.9")
			if err != nil || tok != "" || got.ID != 0 {
				t.Errorf("RequestReset(%q) = %q, %+v, %v; want nothing", email, tok, got, err)
			}
		}
	})

	t.Run("reset sets the password and ends every session", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		s1, s2 := f.signIn(t, "ed@example.org"), f.signIn(t, "ed@example.org")
		tok, got, err := f.RequestReset(ctx, "ED@example.org", "192.0.2.9")
		if err != nil || tok == "" || got.ID != m.ID {
			t.Fatalf("RequestReset = %q, %+v, %v", tok, got, err)
		}
		// Asking is not using: the sessions live on until the link is used.
		if _, _, err := f.Lookup(ctx, s1); err != nil {
			t.Fatalf("Lookup after RequestReset: %v", err)
		}
		const newPassword = "a brand new passphrase"
		if _, err := f.ResetPassword(ctx, tok, newPassword, "192.0.2.9"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{s1, s2} {
			if _, _, err := f.Lookup(ctx, s); !errors.Is(err, ErrNoSession) {
				t.Errorf("Lookup after ResetPassword = %v, want ErrNoSession", err)
			}
		}
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword}); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("SignIn with the old password = %v, want ErrInvalidCredentials", err)
		}
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: newPassword}); err != nil {
			t.Errorf("SignIn with the new password: %v", err)
		}
		if _, err := f.ResetPassword(ctx, tok, "yet another passphrase", ""); !errors.Is(err, ErrTokenUsed) {
			t.Errorf("second ResetPassword = %v, want ErrTokenUsed", err)
		}
	})

	t.Run("a reset link expires after an hour", func(t *testing.T) {
		f := newStore(t)
		f.active(t, "ed@example.org")
		tok, _, err := f.RequestReset(ctx, "ed@example.org", "")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
		if _, err := f.ResetPassword(ctx, tok, "a brand new passphrase", ""); !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("ResetPassword after an hour = %v, want ErrTokenExpired", err)
		}
	})

	t.Run("an invitation is not a reset link, nor the reverse", func(t *testing.T) {
		f := newStore(t)
		_, inv := add2(t, f)
		if _, err := f.ResetPassword(ctx, inv, goodPassword, ""); !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("ResetPassword with an invitation = %v, want ErrTokenUnknown", err)
		}
		f.active(t, "ed@example.org")
		tok, _, err := f.RequestReset(ctx, "ed@example.org", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Accept(ctx, tok, goodPassword, ""); !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("Accept with a reset link = %v, want ErrTokenUnknown", err)
		}
	})
}
