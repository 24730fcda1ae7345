package account

import (
	"errors"
	"testing"
)

func TestStore_FailSignIn(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	f.active(t, "ed@example.org")
	const addr = "192.0.2.7"
	for i := range f.cfg.AddressFailures {
		if d := f.SignInWait(addr); d != 0 {
			t.Fatalf("waiting after %d failures", i)
		}
		if err := f.FailSignIn(ctx, SignInFailure{Address: addr, Method: "oidc", Detail: "unknown email"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.FailSignIn(ctx, SignInFailure{Address: addr, Method: "oidc", Detail: "unknown email"}); err != nil {
		t.Fatal(err)
	}
	if d := f.SignInWait(addr); d <= 0 {
		t.Fatal("not throttled after too many failures")
	}
	if d := f.SignInWait("192.0.2.8"); d != 0 {
		t.Errorf("another address waits %v", d)
	}
	// The same count holds back a password from that address.
	_, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword, Address: addr})
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("password sign-in from a throttled address: %v", err)
	}
	events, err := f.Audit(ctx, 0, 1)
	if err != nil || len(events) != 1 || events[0].Type != EventSignInFailed || events[0].Detail != "oidc: unknown email" ||
		events[0].Address != addr {
		t.Errorf("audit: %+v %v", events, err)
	}
}

func TestStore_StartSessionVia(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org")
	tok, _, err := f.StartSessionVia(ctx, m.ID, "oidc", "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := f.Lookup(ctx, tok); err != nil || got.ID != m.ID {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	events, err := f.Audit(ctx, 0, 1)
	if err != nil || len(events) != 1 || events[0].Type != EventSignIn || events[0].Detail != "oidc" {
		t.Errorf("audit: %+v %v", events, err)
	}
	if err := f.Disable(ctx, "cli", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.StartSessionVia(ctx, m.ID, "oidc", "test", ""); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled member: %v", err)
	}
}
