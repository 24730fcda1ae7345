package account

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestStore_Lookup(t *testing.T) {
	ctx := t.Context()

	t.Run("returns the member as they are now", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		tok := f.signIn(t, "ed@example.org")
		sess, got, err := f.Lookup(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != m.ID || sess.MemberID != m.ID || sess.UserAgent != "test" || sess.Address != "192.0.2.1" {
			t.Errorf("Lookup = %+v, %+v", sess, got)
		}
	})

	t.Run("idle expiry", func(t *testing.T) {
		f := newStore(t)
		f.active(t, "ed@example.org")
		tok := f.signIn(t, "ed@example.org")
		f.clock.Advance(2*time.Hour - time.Second)
		if _, _, err := f.Lookup(ctx, tok); err != nil {
			t.Fatalf("Lookup just inside the idle time: %v", err)
		}
		// That use restarted the idle time.
		f.clock.Advance(2*time.Hour - time.Second)
		if _, _, err := f.Lookup(ctx, tok); err != nil {
			t.Fatalf("Lookup after a use: %v", err)
		}
		f.clock.Advance(2 * time.Hour)
		if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Fatalf("Lookup after two idle hours = %v, want ErrNoSession", err)
		}
	})

	t.Run("absolute expiry however busy", func(t *testing.T) {
		f := newStore(t)
		f.active(t, "ed@example.org")
		tok := f.signIn(t, "ed@example.org")
		for range 11 {
			f.clock.Advance(time.Hour)
			if _, _, err := f.Lookup(ctx, tok); err != nil {
				t.Fatalf("Lookup: %v", err)
			}
		}
		f.clock.Advance(time.Hour)
		if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Fatalf("Lookup after twelve hours = %v, want ErrNoSession", err)
		}
	})

	t.Run("writes the last-seen time at most once a minute", func(t *testing.T) {
		f := newStore(t)
		m := f.active(t, "ed@example.org")
		tok := f.signIn(t, "ed@example.org")
		signedIn := f.clock.Now()
		lastSeen := func() time.Time {
			t.Helper()
			var v int64
			if err := f.db.Reader().QueryRowContext(ctx, "SELECT last_seen_at FROM sessions WHERE member_id = ?", m.ID).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return fromMS(v)
		}
		f.clock.Advance(59 * time.Second)
		if _, _, err := f.Lookup(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen(); !got.Equal(signedIn) {
			t.Errorf("last seen %v after a lookup within the minute, want %v unchanged", got, signedIn)
		}
		f.clock.Advance(time.Second)
		if _, _, err := f.Lookup(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got, want := lastSeen(), f.clock.Now(); !got.Equal(want) {
			t.Errorf("last seen %v after a minute, want %v", got, want)
		}
	})

	t.Run("unknown and malformed tokens", func(t *testing.T) {
		f := newStore(t)
		other, _, _ := newToken()
		for _, tok := range []string{other, "", "x"} {
			if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
				t.Errorf("Lookup(%q) = %v, want ErrNoSession", tok, err)
			}
		}
	})
}

func TestStore_SignOut(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	f.active(t, "ed@example.org")
	tok, other := f.signIn(t, "ed@example.org"), f.signIn(t, "ed@example.org")
	if err := f.SignOut(ctx, tok, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after SignOut = %v, want ErrNoSession", err)
	}
	if _, _, err := f.Lookup(ctx, other); err != nil {
		t.Errorf("the other session ended too: %v", err)
	}
	if err := f.SignOut(ctx, tok, ""); err != nil {
		t.Errorf("second SignOut: %v", err)
	}
}

func TestStore_SignOutEverywhere(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	f.active(t, "other@example.org")
	mine := []string{f.signIn(t, "ed@example.org"), f.signIn(t, "ed@example.org")}
	theirs := f.signIn(t, "other@example.org")
	if err := f.SignOutEverywhere(ctx, MemberActor(m.ID), m.ID, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range mine {
		if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Errorf("Lookup after SignOutEverywhere = %v, want ErrNoSession", err)
		}
	}
	if _, _, err := f.Lookup(ctx, theirs); err != nil {
		t.Errorf("another member's session ended: %v", err)
	}
}

func TestStore_Sessions(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	old, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: "192.0.2.1", UserAgent: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	_, laptop, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: "192.0.2.2", UserAgent: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.Sessions(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0] != laptop || list[1].UserAgent != "phone" || list[1].Address != "192.0.2.1" {
		t.Fatalf("Sessions = %+v, want laptop (%+v) then phone", list, laptop)
	}
	if !list[0].ExpiresAt.Equal(list[0].CreatedAt.Add(12 * time.Hour)) {
		t.Errorf("ExpiresAt = %v, want twelve hours after %v", list[0].ExpiresAt, list[0].CreatedAt)
	}

	// The phone's session goes idle; it is no longer listed, and pruning
	// deletes it.
	f.clock.Advance(90 * time.Minute)
	if _, _, err := f.Lookup(ctx, old); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Lookup of the idle session = %v", err)
	}
	if list, err = f.Sessions(ctx, m.ID); err != nil || len(list) != 1 || list[0].UserAgent != "laptop" {
		t.Fatalf("Sessions after the phone went idle = %+v, %v", list, err)
	}
	if n, err := f.PruneSessions(ctx); err != nil || n != 1 {
		t.Fatalf("PruneSessions = %d, %v; want 1", n, err)
	}
}

func TestStore_Cookie(t *testing.T) {
	f := newStore(t)
	tok, _, _ := newToken()
	tests := []struct {
		secure bool
		name   string
	}{
		{true, "__Host-bikfed-session"},
		{false, "bikfed-session"},
	}
	for _, tt := range tests {
		c := f.Cookie(tok, tt.secure)
		if c.Name != tt.name || c.Value != tok || c.Path != "/" || c.Domain != "" || !c.HttpOnly ||
			c.Secure != tt.secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 12*3600 {
			t.Errorf("Cookie(secure=%v) = %+v", tt.secure, c)
		}
		if err := c.Valid(); err != nil {
			t.Errorf("Cookie(secure=%v): %v", tt.secure, err)
		}
		if cl := f.ClearCookie(tt.secure); cl.Name != tt.name || cl.MaxAge >= 0 || cl.Value != "" {
			t.Errorf("ClearCookie(secure=%v) = %+v", tt.secure, cl)
		}
	}
}
