package account

import (
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestStore_Audit(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	m := f.active(t, "ed@example.org") // member-added, invitation-accepted
	f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: "not the password at all", Address: "192.0.2.7"})
	f.SignIn(ctx, Credentials{Email: "nobody@example.org", Password: "not the password at all", Address: "192.0.2.7"})
	tok := f.signIn(t, "ed@example.org")
	if err := f.SignOut(ctx, tok, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetRoles(ctx, "member:99", m.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.RequestReset(ctx, "ed@example.org", "192.0.2.8"); err != nil {
		t.Fatal(err)
	}
	if err := f.Disable(ctx, "cli", m.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove(ctx, "cli", m.ID); err != nil {
		t.Fatal(err)
	}

	events, err := f.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []EventType{EventMemberRemoved, EventMemberDisabled, EventResetRequested, EventRolesChanged, EventSignOut,
		EventSignIn, EventSignInFailed, EventSignInFailed, EventInvitationAccepted, EventMemberAdded}
	if !slices.Equal(types, want) {
		t.Fatalf("events = %v, want %v", types, want)
	}
	unknown, wrong := events[6], events[7]
	if unknown.MemberID != 0 || unknown.Detail != "unknown email" || unknown.Address != "192.0.2.7" || unknown.Actor != ActorAnonymous {
		t.Errorf("failure for an unknown email = %+v", unknown)
	}
	if wrong.MemberID != m.ID || wrong.Detail != "wrong password" {
		t.Errorf("failure for a wrong password = %+v", wrong)
	}
	if roles := events[3]; roles.Actor != "member:99" || roles.Detail != "roles editor -> admin" {
		t.Errorf("role change = %+v", roles)
	}

	page1, err := f.Audit(ctx, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	page2, err := f.Audit(ctx, page1[len(page1)-1].ID, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(page1) != 4 || len(page2) != 4 || page2[0] != events[4] {
		t.Errorf("pages of 4 = %v then %v", page1, page2)
	}

	f.clock.Advance(24 * time.Hour)
	if _, _, err := f.RequestReset(ctx, "nobody@example.org", ""); err != nil {
		t.Fatal(err)
	}
	n, err := f.PruneAudit(ctx, time.Hour)
	if err != nil || n != int64(len(events)) {
		t.Fatalf("PruneAudit = %d, %v; want %d", n, err, len(events))
	}
	if left, err := f.Audit(ctx, 0, 0); err != nil || len(left) != 1 {
		t.Fatalf("after pruning, %d events left (%v), want 1", len(left), err)
	}
}

func TestStore_RecordTx(t *testing.T) {
	ctx := t.Context()
	f := newStore(t)
	ev := Event{Type: EventHeldApproved, MemberID: 7, Actor: MemberActor(3), Detail: "held h1 as e1"}
	if err := f.db.WriteTx(ctx, func(tx *sql.Tx) error { return f.RecordTx(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	// A transaction that fails takes its event with it.
	boom := errors.New("the recorded change failed")
	err := f.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := f.RecordTx(ctx, tx, Event{Type: EventHeldRejected, Actor: "cli"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing transaction: %v", err)
	}
	if err := f.db.WriteTx(ctx, func(tx *sql.Tx) error { return f.RecordTx(ctx, tx, Event{Actor: "cli"}) }); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("event without a type: %v, want ErrInvalidEvent", err)
	}
	events, err := f.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(events), events)
	}
	got := events[0]
	if got.Type != ev.Type || got.MemberID != 7 || got.Actor != "member:3" || got.Detail != ev.Detail || !got.At.Equal(f.clock.Now()) {
		t.Fatalf("recorded %+v, want %+v at %v", got, ev, f.clock.Now())
	}
}
