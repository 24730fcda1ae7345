package account

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStore_SignIn(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	add2(t, f) // invited, no password
	gone := f.active(t, "gone@example.org")
	if err := f.Disable(ctx, "cli", gone.ID); err != nil {
		t.Fatal(err)
	}

	tok, sess, got, err := f.SignIn(ctx, Credentials{Email: " ED@Example.org", Password: goodPassword, Address: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || sess.MemberID != m.ID {
		t.Errorf("SignIn = %+v, %+v", sess, got)
	}
	if looked, _, err := f.Lookup(ctx, tok); err != nil || looked.ID != sess.ID {
		t.Errorf("Lookup of the new session = %+v, %v", looked, err)
	}

	// Every failure looks the same to the caller and costs one hash.
	failures := []struct {
		name string
		c    Credentials
	}{
		{"wrong password", Credentials{Email: "ed@example.org", Password: "not the password at all"}},
		{"unknown email", Credentials{Email: "nobody@example.org", Password: goodPassword}},
		{"invited, no password yet", Credentials{Email: "second@example.org", Password: goodPassword}},
		{"disabled", Credentials{Email: "gone@example.org", Password: goodPassword}},
		{"empty", Credentials{}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			before := f.hasher.verifies.Load()
			tok, _, _, err := f.SignIn(ctx, tt.c)
			if err != ErrInvalidCredentials || tok != "" {
				t.Fatalf("SignIn = %q, %v; want exactly ErrInvalidCredentials", tok, err)
			}
			if n := f.hasher.verifies.Load() - before; n != 1 {
				t.Errorf("SignIn verified %d hashes, want 1 like any other attempt", n)
			}
		})
	}
}

func TestStore_SignIn_Throttle(t *testing.T) {
	ctx := t.Context()
	wrong := func(email, addr string) Credentials {
		return Credentials{Email: email, Password: "not the password at all", Address: addr}
	}

	t.Run("per account, with doubling waits", func(t *testing.T) {
		f := newStore(t)
		f.active(t, "ed@example.org")
		for i := range 5 {
			if _, _, _, err := f.SignIn(ctx, wrong("ed@example.org", "192.0.2.1")); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("failure %d = %v", i+1, err)
			}
		}
		// The sixth failure is still checked, and locks the email out.
		if _, _, _, err := f.SignIn(ctx, wrong("ed@example.org", "192.0.2.2")); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("sixth failure = %v", err)
		}
		before := f.hasher.verifies.Load()
		_, _, _, err := f.SignIn(ctx, Credentials{Email: "ED@example.org", Password: goodPassword, Address: "198.51.100.7"})
		var te *ThrottledError
		if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) || te.RetryAfter != time.Second {
			t.Fatalf("SignIn while locked out = %v, want a one-second *ThrottledError", err)
		}
		if f.hasher.verifies.Load() != before {
			t.Error("a throttled attempt verified a hash")
		}
		if !strings.Contains(err.Error(), "try again in 1s") {
			t.Errorf("message %q does not say when to try again", err)
		}
		f.clock.Advance(time.Second)
		if _, _, _, err := f.SignIn(ctx, wrong("ed@example.org", "192.0.2.3")); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("seventh failure = %v", err)
		}
		if _, _, _, err := f.SignIn(ctx, wrong("ed@example.org", "192.0.2.3")); !errors.As(err, &te) || te.RetryAfter != 2*time.Second {
			t.Fatalf("after the seventh failure = %v, want a two-second wait", err)
		}
		// Other emails are not affected.
		f.active(t, "other@example.org")
		f.signIn(t, "other@example.org")

		// A success resets the account's count.
		f.clock.Advance(2 * time.Second)
		f.signIn(t, "ed@example.org")
		for i := range 5 {
			if _, _, _, err := f.SignIn(ctx, wrong("ed@example.org", "192.0.2.4")); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("failure %d after a success = %v, want it checked", i+1, err)
			}
		}
	})

	t.Run("unknown emails are throttled like known ones", func(t *testing.T) {
		f := newStore(t)
		for range 6 {
			f.SignIn(ctx, wrong("nobody@example.org", "192.0.2.1"))
		}
		if _, _, _, err := f.SignIn(ctx, wrong("nobody@example.org", "192.0.2.1")); !errors.Is(err, ErrThrottled) {
			t.Fatalf("SignIn = %v, want ErrThrottled", err)
		}
	})

	t.Run("per address, across emails", func(t *testing.T) {
		f := newStore(t)
		f.active(t, "ed@example.org")
		for i := range 21 {
			email := "guess" + string(rune('a'+i)) + "@example.org"
			if _, _, _, err := f.SignIn(ctx, wrong(email, "2001:db8:1:2::"+string(rune('a'+i%6)))); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("failure %d = %v", i+1, err)
			}
		}
		// The same /64 is locked out, even for a right password ...
		_, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: "2001:db8:1:2::ff"})
		if !errors.Is(err, ErrThrottled) {
			t.Fatalf("SignIn from the throttled /64 = %v, want ErrThrottled", err)
		}
		// ... another address is not.
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: "2001:db8:1:3::1"}); err != nil {
			t.Fatalf("SignIn from another /64: %v", err)
		}
		// The failures are forgotten after the window.
		f.clock.Advance(time.Hour + time.Second)
		if _, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: "2001:db8:1:2::ff"}); err != nil {
			t.Fatalf("SignIn from the /64 an hour later: %v", err)
		}
	})
}

func TestStore_SignIn_Rehash(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	stored := func() string {
		t.Helper()
		var phc string
		if err := f.db.Reader().QueryRowContext(ctx, "SELECT password_hash FROM members WHERE id = ?", m.ID).Scan(&phc); err != nil {
			t.Fatal(err)
		}
		return phc
	}
	before := stored()
	if !strings.Contains(before, "$m=64,t=1,p=1$") {
		t.Fatalf("stored hash %q", before)
	}
	stronger := Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	f.Store.hasher = NewHasher(stronger)
	f.signIn(t, "ed@example.org")
	after := stored()
	if !strings.Contains(after, "$m=128,t=2,p=1$") {
		t.Fatalf("hash after sign-in with new parameters = %q, want it rehashed", after)
	}
	f.signIn(t, "ed@example.org")
	if stored() != after {
		t.Error("a hash with the current parameters was rehashed again")
	}
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.1:5555"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2001:db8::1", "2001:db8::ffff:1"},
		{"2001:db8::1", "[2001:db8::2]:443"},
		{"fe80::1%eth0", "fe80::2"},
	}
	for _, tt := range tests {
		if ka, kb := addressKey(tt.a), addressKey(tt.b); ka != kb {
			t.Errorf("addressKey(%q) = %q, addressKey(%q) = %q; want one key", tt.a, ka, tt.b, kb)
		}
	}
	if addressKey("192.0.2.1") == addressKey("192.0.2.2") || addressKey("2001:db8:0:1::1") == addressKey("2001:db8:0:2::1") {
		t.Error("addresses of different clients share a key")
	}
}

func TestThrottle_Fail(t *testing.T) {
	c := DefaultConfig(nodeRoles...)
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var waits []time.Duration
	for range 40 {
		th.fail("k", now, 3, c)
		waits = append(waits, th.wait("k", now))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		if waits[i] != w {
			t.Errorf("wait after failure %d = %v, want %v", i+1, waits[i], w)
		}
	}
	if got := waits[len(waits)-1]; got != c.ThrottleMax {
		t.Errorf("wait after 40 failures = %v, want the cap %v", got, c.ThrottleMax)
	}
	if got := th.wait("other", now); got != 0 {
		t.Errorf("another key waits %v", got)
	}
	// After a quiet window the count starts over.
	now = now.Add(c.ThrottleWindow + time.Second)
	th.fail("k", now, 3, c)
	if got := th.wait("k", now); got != 0 {
		t.Errorf("wait after a quiet window = %v, want 0", got)
	}
}

func TestStore_CheckSignIn(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	gone := f.active(t, "gone@example.org")
	if err := f.Disable(ctx, "cli", gone.ID); err != nil {
		t.Fatal(err)
	}
	last := func() Event {
		t.Helper()
		evs, err := f.Audit(ctx, 0, 1)
		if err != nil || len(evs) != 1 {
			t.Fatalf("Audit = %v, %v", evs, err)
		}
		return evs[0]
	}

	before := last()
	got, err := f.CheckSignIn(ctx, Credentials{Email: "ED@example.org", Password: goodPassword, Address: "192.0.2.1"})
	if err != nil || got.ID != m.ID {
		t.Fatalf("CheckSignIn = %+v, %v", got, err)
	}
	if sessions, err := f.Sessions(ctx, m.ID); err != nil || len(sessions) != 0 {
		t.Errorf("a checked password opened sessions: %+v, %v", sessions, err)
	}
	if e := last(); e.ID != before.ID {
		t.Errorf("a checked password was audited: %+v", e)
	}

	for _, c := range []Credentials{
		{Email: "ed@example.org", Password: "not the password at all", Address: "192.0.2.1"},
		{Email: "gone@example.org", Password: goodPassword, Address: "192.0.2.1"},
	} {
		if _, err := f.CheckSignIn(ctx, c); err != ErrInvalidCredentials {
			t.Errorf("CheckSignIn(%s) = %v, want exactly ErrInvalidCredentials", c.Email, err)
		}
		if e := last(); e.Type != EventSignInFailed {
			t.Errorf("refused CheckSignIn(%s) audited as %+v", c.Email, e)
		}
	}
}
