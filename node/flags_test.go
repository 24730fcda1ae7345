package node

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

func flagBody(t *testing.T, target, reason, text string, a protocol.Author) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(protocol.Flag{Target: target, Reason: reason, Text: text, Author: a})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNode_YouthFlags(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "pt")
	be := newRemote(t, hub, "be")
	mod := newModerator(t, hub)
	ctx := t.Context()
	add := func(email, pseudonym string, roles ...string) account.Member {
		t.Helper()
		m, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: email, Name: email, Roles: roles, Pseudonym: pseudonym})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rita := add("rita@example.pt", "pt-rita", RoleYouth)
	joana := add("joana@example.pt", "", RoleYouthCoordinator)
	staff := add("eva@example.pt", "", RoleStaff)

	none, err := n.YouthFlags(ctx, YouthFlagQuery{})
	if err != nil || len(none) != 0 {
		t.Fatalf("before any flag: %v, %v", none, err)
	}

	held, err := n.Hold(ctx, rita.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Redes sociais", Text: "O que acham?", Language: "pt"}))
	if err != nil {
		t.Fatal(err)
	}
	approved, err := n.ApproveHeld(ctx, held.ID, joana.ID)
	if err != nil {
		t.Fatal(err)
	}
	ritaPost := approved.EntityID
	// A staff post of pt's own, flagged too: not a young person's.
	staffPost, err := n.CreateAs(ctx, staff.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines",
		Format: "thread", Title: "Linha", Text: "Contactos", Language: "pt"}))
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, n)

	// be flags Rita's post and pt's staff post; joana flags Rita's post
	// from pt; a be flag deleted since is no longer one.
	beFlag := be.put(protocol.Change{Kind: protocol.KindFlag, Version: 1, Visibility: protocol.VisibilityYouth,
		Body: flagBody(t, ritaPost, "personal-data", "Mostra o nome da escola.", protocol.Author{Name: "Bart", SIC: "be"})})
	be.put(protocol.Change{Kind: protocol.KindFlag, Version: 1, Visibility: protocol.VisibilityCommunity,
		Body: flagBody(t, staffPost.ID, "spam", "", protocol.Author{Name: "Bart", SIC: "be"})})
	gone := be.put(protocol.Change{Kind: protocol.KindFlag, Version: 1, Visibility: protocol.VisibilityYouth,
		Body: flagBody(t, ritaPost, "spam", "", protocol.Author{Name: "Bart", SIC: "be"})})
	be.put(protocol.Change{ID: gone.ID, Kind: protocol.KindFlag, Version: 2, Visibility: protocol.VisibilityYouth, Deleted: true})
	mustSync(t, n)
	own, err := n.CreateAs(ctx, joana.ID, draftOf(t, protocol.KindFlag, protocol.VisibilityYouth, protocol.Flag{Target: ritaPost,
		Reason: "other", Text: "Vou falar com a Rita."}))
	if err != nil {
		t.Fatal(err)
	}

	got, err := n.YouthFlags(ctx, YouthFlagQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("youth flags = %+v, want joana's and be's on Rita's post", got)
	}
	if got[0].ID != own.ID || got[1].ID != beFlag.ID {
		t.Errorf("order %s, %s; want joana's (newest) then be's", got[0].ID, got[1].ID)
	}
	b := got[1]
	if b.Member != rita.ID || b.Target != ritaPost || b.Owner != "be" || b.Reason != "personal-data" ||
		b.Text != "Mostra o nome da escola." || b.Author != (protocol.Author{Name: "Bart", SIC: "be"}) || b.At.IsZero() || b.Decision != nil {
		t.Errorf("be's flag = %+v", b)
	}
	if got[0].Author != (protocol.Author{Name: joana.Name, SIC: "pt"}) {
		t.Errorf("joana's flag names %+v", got[0].Author)
	}
	if got, _ := n.YouthFlags(ctx, YouthFlagQuery{Limit: 1}); len(got) != 1 {
		t.Errorf("limit 1: %d flags", len(got))
	}

	// The moderators hide the post, then dismiss a later report: the
	// coordinator reads the latest word.
	mod.decide("", 1, ritaPost, "hide", "Nome da escola.")
	mustSync(t, n)
	got, err = n.YouthFlags(ctx, YouthFlagQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if d := got[0].Decision; d == nil || d.Decision != "hide" || d.Reason != "Nome da escola." {
		t.Errorf("decision after hide: %+v", d)
	}
	mod.decide("", 1, ritaPost, "dismiss", "Nada mais a fazer.")
	mustSync(t, n)
	got, _ = n.YouthFlags(ctx, YouthFlagQuery{})
	if d := got[1].Decision; d == nil || d.Decision != "dismiss" {
		t.Errorf("decision after dismiss: %+v", d)
	}

	t.Run("ModerationOf", func(t *testing.T) {
		got, err := n.ModerationOf(ctx, []string{ritaPost, staffPost.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[ritaPost].Decision != "dismiss" || got[ritaPost].Reason != "Nada mais a fazer." {
			t.Errorf("ModerationOf = %+v, want the dismiss on Rita's post only", got)
		}
	})

	t.Run("DecidedHeld", func(t *testing.T) {
		again, err := n.Hold(ctx, rita.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
			Format: "thread", Title: "Outra", Text: "Mais uma", Language: "pt"}))
		if err != nil {
			t.Fatal(err)
		}
		waiting, err := n.Hold(ctx, rita.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
			Format: "thread", Title: "Espera", Text: "Ainda não", Language: "pt"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.RejectHeld(ctx, again.ID, joana.ID, "Repetido."); err != nil {
			t.Fatal(err)
		}
		got, err := n.DecidedHeld(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != again.ID || got[0].State != HeldRejected || got[1].ID != held.ID || got[1].DecidedBy != joana.ID {
			t.Errorf("DecidedHeld = %+v, want the rejection then the approval", got)
		}
		if got, _ := n.DecidedHeld(ctx, 1); len(got) != 1 || got[0].ID == waiting.ID {
			t.Errorf("DecidedHeld(1) = %+v", got)
		}
	})

	t.Run("FlagsOn", func(t *testing.T) {
		on, err := n.FlagsOn(ctx, []string{ritaPost, staffPost.ID, "pt:nothing"})
		if err != nil {
			t.Fatal(err)
		}
		if len(on) != 2 || len(on[ritaPost]) != 2 || len(on[staffPost.ID]) != 1 || on[staffPost.ID][0].Reason != "spam" {
			t.Errorf("FlagsOn = %+v", on)
		}
		if on, err := n.FlagsOn(ctx, nil); err != nil || len(on) != 0 {
			t.Errorf("no targets: %v, %v", on, err)
		}
		if _, err := n.FlagsOn(ctx, make([]string, maxFlagTargets+1)); err == nil {
			t.Error("too many targets accepted")
		}
	})

	t.Run("index", func(t *testing.T) {
		rows, err := n.db.Reader().QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT id FROM entities f
			WHERE f.kind = 'flag' AND json_extract(f.body, '$.target') IN (?) AND f.deleted = 0`, ritaPost)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var a, b, c int
			var detail string
			if err := rows.Scan(&a, &b, &c, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "entities_flag_target") {
			t.Errorf("flags by target do not use the index: %s", p)
		}
	})
}
