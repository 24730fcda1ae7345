package node

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

func TestNode_PreModeration(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "pt")
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
	tiago := add("tiago@example.pt", "pt-tiago", RoleYouth)
	joana := add("joana@example.pt", "", RoleYouthCoordinator)
	editor := add("eva@example.pt", "", RoleEditor)
	post := func(space, title string, a protocol.Author) Draft {
		return draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: space, Format: "thread",
			Title: title, Text: "O que acham?", Language: "pt", Author: a})
	}
	outbox := func() int {
		t.Helper()
		return count(t, n.db.Reader(), `SELECT count(*) FROM outbox`)
	}
	audit := func(typ account.EventType) []account.Event {
		t.Helper()
		events, err := n.Accounts().Audit(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []account.Event
		for _, e := range events {
			if e.Type == typ {
				out = append(out, e)
			}
		}
		return out
	}
	mustSync(t, n)
	before, pushes := outbox(), hub.pushCount()

	// The draft claims to be Tiago; the held item speaks as Rita.
	held, err := n.Hold(ctx, rita.ID, post("youth", "Redes sociais", protocol.Author{Pseudonym: "pt-tiago"}))
	if err != nil {
		t.Fatal(err)
	}
	var body protocol.Post
	if err := json.Unmarshal(held.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Author != (protocol.Author{Pseudonym: "pt-rita"}) || held.State != HeldWaiting || held.MemberID != rita.ID {
		t.Fatalf("held item = %+v, author %+v; want Rita's, waiting", held, body.Author)
	}
	named, err := n.Hold(ctx, rita.ID, post("youth", "Com nome", protocol.Author{Name: "Rita Silva", SIC: "pt"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(named.Body), `"author":{"pseudonym":"pt-rita"}`) {
		t.Fatalf("a name in the draft survived: %s", named.Body)
	}
	if got := outbox(); got != before {
		t.Fatalf("outbox has %d rows after holding, want %d", got, before)
	}
	mustSync(t, n)
	if got := hub.pushCount(); got != pushes {
		t.Fatalf("%d pushes after holding, want %d", got, pushes)
	}
	if k := count(t, n.db.Reader(), `SELECT count(*) FROM entities WHERE kind = 'post'`); k != 0 {
		t.Fatalf("%d posts stored before any approval", k)
	}

	t.Run("refused drafts and members", func(t *testing.T) {
		later := time.Now().Add(time.Hour)
		missing, err := protocol.NewEntityID("pt", later)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			member int64
			d      Draft
			want   error
		}{
			{"not a youth member", editor.ID, post("youth", "x", protocol.Author{}), ErrNotYouth},
			{"unknown member", 9999, post("youth", "x", protocol.Author{}), ErrNotYouth},
			{"staff space", rita.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "blog", Format: "thread",
				Title: "x", Text: "x", Language: "pt"}), protocol.ErrInvalidField},
			{"another SIC's youth space", rita.ID, post("youth:be", "x", protocol.Author{}), protocol.ErrInvalidSpace},
			{"a resource", rita.ID, resourceDraft("x"), protocol.ErrInvalidField},
			{"public comment", rita.ID, draftOf(t, protocol.KindComment, protocol.VisibilityPublic, protocol.Comment{Post: missing,
				Text: "x", Language: "pt"}), protocol.ErrInvalidField},
			{"scheduled", rita.ID, Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth, PublishAt: &later,
				Body: post("youth", "x", protocol.Author{}).Body}, protocol.ErrInvalidField},
			{"body not an object", rita.ID, Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth, Body: json.RawMessage(`[1]`)}, protocol.ErrInvalidField},
			{"too large", rita.ID, Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth,
				Body: json.RawMessage(`{"text":"` + strings.Repeat("x", protocol.MaxChangeBytes) + `"}`)}, protocol.ErrInvalidField},
		}
		for _, c := range cases {
			_, err := n.Hold(ctx, c.member, c.d)
			if !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		if items, err := n.HeldItems(ctx, HeldFilter{}); err != nil || len(items) != 2 {
			t.Fatalf("%d held items after refusals (%v), want 2", len(items), err)
		}
	})

	t.Run("only a coordinator decides", func(t *testing.T) {
		for _, who := range []int64{editor.ID, tiago.ID, 9999} {
			if _, err := n.ApproveHeld(ctx, held.ID, who); !errors.Is(err, ErrNotCoordinator) {
				t.Errorf("approve by %d: %v, want ErrNotCoordinator", who, err)
			}
			if _, err := n.RejectHeld(ctx, held.ID, who, "não"); !errors.Is(err, ErrNotCoordinator) {
				t.Errorf("reject by %d: %v, want ErrNotCoordinator", who, err)
			}
		}
		if _, err := n.ApproveHeld(ctx, "no-such-item", joana.ID); !errors.Is(err, ErrHeldNotFound) {
			t.Errorf("approve unknown: %v, want ErrHeldNotFound", err)
		}
		if got, err := n.HeldItem(ctx, held.ID); err != nil || got.State != HeldWaiting {
			t.Fatalf("after refused decisions: %+v, %v", got, err)
		}
	})

	var approved HeldItem
	t.Run("approve publishes once", func(t *testing.T) {
		approved, err = n.ApproveHeld(ctx, held.ID, joana.ID)
		if err != nil {
			t.Fatal(err)
		}
		if approved.State != HeldApproved || approved.EntityID == "" || approved.DecidedBy != joana.ID || approved.DecidedAt == nil {
			t.Fatalf("approved = %+v", approved)
		}
		e, err := n.Get(ctx, approved.EntityID)
		if err != nil {
			t.Fatal(err)
		}
		var p protocol.Post
		if err := json.Unmarshal(e.Body, &p); err != nil || p.Author.Pseudonym != "pt-rita" || p.Title != "Redes sociais" {
			t.Fatalf("entity body %s (%v)", e.Body, err)
		}
		again, err := n.ApproveHeld(ctx, held.ID, joana.ID)
		if err != nil || again.EntityID != approved.EntityID {
			t.Fatalf("second approval: %+v, %v; want the same entity %s", again, err, approved.EntityID)
		}
		if k := count(t, n.db.Reader(), `SELECT count(*) FROM entities WHERE kind = 'post'`); k != 1 {
			t.Fatalf("%d posts after approving twice, want 1", k)
		}
		if got := outbox(); got != before+1 {
			t.Fatalf("outbox has %d rows, want %d", got, before+1)
		}
		mustSync(t, n)
		if _, ok := hub.row(approved.EntityID); !ok {
			t.Fatalf("the hub does not hold the approved post %s", approved.EntityID)
		}
		if _, err := n.RejectHeld(ctx, held.ID, joana.ID, "tarde demais"); !errors.Is(err, ErrHeldDecided) {
			t.Fatalf("rejecting an approved item: %v, want ErrHeldDecided", err)
		}
		ev := audit(account.EventHeldApproved)
		if len(ev) != 1 || ev[0].MemberID != rita.ID || ev[0].Actor != account.MemberActor(joana.ID) || !strings.Contains(ev[0].Detail, approved.EntityID) {
			t.Fatalf("approval events = %+v", ev)
		}
	})

	t.Run("reject keeps the item with its reason", func(t *testing.T) {
		pushed, head := hub.pushCount(), outbox()
		for _, bad := range []string{"", "   ", strings.Repeat("é", MaxHeldReason+1), "\xff"} {
			if _, err := n.RejectHeld(ctx, named.ID, joana.ID, bad); !errors.Is(err, ErrInvalidReason) {
				t.Errorf("reason %.20q: %v, want ErrInvalidReason", bad, err)
			}
		}
		const reason = "Não escrevas o teu nome verdadeiro."
		r, err := n.RejectHeld(ctx, named.ID, joana.ID, "  "+reason+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != HeldRejected || r.Reason != reason || r.EntityID != "" {
			t.Fatalf("rejected = %+v", r)
		}
		if _, err := n.ApproveHeld(ctx, named.ID, joana.ID); !errors.Is(err, ErrHeldDecided) {
			t.Fatalf("approving a rejected item: %v, want ErrHeldDecided", err)
		}
		if _, err := n.RejectHeld(ctx, named.ID, joana.ID, reason); !errors.Is(err, ErrHeldDecided) {
			t.Fatalf("rejecting twice: %v, want ErrHeldDecided", err)
		}
		mine, err := n.HeldItems(ctx, HeldFilter{Member: rita.ID, State: HeldRejected})
		if err != nil || len(mine) != 1 || mine[0].Reason != reason {
			t.Fatalf("Rita's rejected items: %+v, %v", mine, err)
		}
		if got := outbox(); got != head {
			t.Fatalf("outbox has %d rows after a rejection, want %d", got, head)
		}
		mustSync(t, n)
		if got := hub.pushCount(); got != pushed {
			t.Fatalf("%d pushes after a rejection, want %d", got, pushed)
		}
		ev := audit(account.EventHeldRejected)
		if len(ev) != 1 || ev[0].MemberID != rita.ID || ev[0].Actor != account.MemberActor(joana.ID) || !strings.Contains(ev[0].Detail, named.ID) {
			t.Fatalf("rejection events = %+v", ev)
		}
		if strings.Contains(ev[0].Detail, "Rita") || strings.Contains(ev[0].Detail, reason) {
			t.Fatalf("the audit log carries the item's words: %q", ev[0].Detail)
		}
	})

	t.Run("national youth space stays local", func(t *testing.T) {
		local, err := n.Hold(ctx, tiago.ID, post("youth:pt", "Só cá", protocol.Author{}))
		if err != nil {
			t.Fatal(err)
		}
		reply, err := n.Hold(ctx, rita.ID, draftOf(t, protocol.KindComment, protocol.VisibilityYouth,
			protocol.Comment{Post: approved.EntityID, Text: "Concordo", Language: "pt"}))
		if err != nil {
			t.Fatal(err)
		}
		pushed, head := hub.pushCount(), outbox()
		a, err := n.ApproveHeld(ctx, local.ID, joana.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e, err := n.Get(ctx, a.EntityID); err != nil || e.State != StateLocal {
			t.Fatalf("approved national post shows as %q (%v), want %q", e.State, err, StateLocal)
		}
		if got := outbox(); got != head {
			t.Fatalf("outbox has %d rows after approving in youth:pt, want %d", got, head)
		}
		mustSync(t, n)
		if hub.pushCount() != pushed {
			t.Fatalf("a push after approving in youth:pt")
		}
		c, err := n.ApproveHeld(ctx, reply.ID, joana.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustSync(t, n)
		if _, ok := hub.row(c.EntityID); !ok {
			t.Fatalf("the hub does not hold the approved comment %s", c.EntityID)
		}
	})

	t.Run("an item that no longer passes the rules stays waiting", func(t *testing.T) {
		target, err := n.Create(ctx, post("youth", "Da coordenação", protocol.Author{Name: "Joana", SIC: "pt"}))
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.Hold(ctx, rita.ID, draftOf(t, protocol.KindComment, protocol.VisibilityYouth,
			protocol.Comment{Post: target.ID, Text: "Eu também", Language: "pt"}))
		if err != nil {
			t.Fatal(err)
		}
		// The post moves to a staff space: a youth comment no longer fits it.
		if _, err := n.Update(ctx, target.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "blog",
			Format: "thread", Title: "Da coordenação", Text: "O que acham?", Language: "pt", Author: protocol.Author{Name: "Joana", SIC: "pt"}})); err != nil {
			t.Fatal(err)
		}
		if _, err := n.ApproveHeld(ctx, h.ID, joana.ID); !errors.Is(err, protocol.ErrVisibilityMismatch) {
			t.Fatalf("approving a youth comment on a staff post: %v, want visibility_mismatch", err)
		}
		if got, err := n.HeldItem(ctx, h.ID); err != nil || got.State != HeldWaiting || got.EntityID != "" {
			t.Fatalf("after a refused approval: %+v, %v", got, err)
		}
		if ev := audit(account.EventHeldApproved); len(ev) != 3 {
			t.Fatalf("%d approval events, want 3 (none for the refused one)", len(ev))
		}
		if _, err := n.RejectHeld(ctx, h.ID, joana.ID, "A conversa foi apagada."); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("queue and paging", func(t *testing.T) {
		for i := range 3 {
			if _, err := n.Hold(ctx, tiago.ID, post("youth", "fila "+string(rune('a'+i)), protocol.Author{})); err != nil {
				t.Fatal(err)
			}
		}
		page1, err := n.HeldItems(ctx, HeldFilter{State: HeldWaiting, Limit: 2})
		if err != nil || len(page1) != 2 {
			t.Fatalf("page 1: %d, %v", len(page1), err)
		}
		page2, err := n.HeldItems(ctx, HeldFilter{State: HeldWaiting, Limit: 2, After: page1[1].ID})
		if err != nil || len(page2) != 1 {
			t.Fatalf("page 2: %d, %v", len(page2), err)
		}
		for _, h := range append(page1, page2...) {
			if h.State != HeldWaiting || h.MemberID != tiago.ID {
				t.Fatalf("queue holds %+v", h)
			}
		}
		if page2[0].CreatedAt.Before(page1[1].CreatedAt) {
			t.Fatalf("queue is not oldest first: %v before %v", page2[0].CreatedAt, page1[1].CreatedAt)
		}
	})

	t.Run("a coordinator does not decide on their own item", func(t *testing.T) {
		both := add("ines@example.pt", "pt-ines", RoleYouth, RoleYouthCoordinator)
		h, err := n.Hold(ctx, both.ID, post("youth", "Minha", protocol.Author{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.ApproveHeld(ctx, h.ID, both.ID); !errors.Is(err, ErrOwnHeldItem) {
			t.Fatalf("self-approval: %v, want ErrOwnHeldItem", err)
		}
	})
}
