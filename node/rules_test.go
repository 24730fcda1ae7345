package node

import (
	"database/sql"
	"encoding/json"
	"errors"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

func draftOf(t *testing.T, kind protocol.Kind, vis protocol.Visibility, body any) Draft {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return Draft{Kind: kind, Visibility: vis, Body: b}
}

func TestNode_AuthorRules(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	ctx := t.Context()
	create := func(d Draft) (Entity, error) { return n.Create(ctx, d) }
	mustCreateDraft := func(d Draft) Entity {
		t.Helper()
		e, err := create(d)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	profile := func(country, name string) Draft {
		return draftOf(t, protocol.KindProfile, protocol.VisibilityPublic, protocol.Profile{Country: country, Name: name,
			Languages: []string{"nl", "fr"}, Helpline: &protocol.Helpline{Name: "Child Focus", Phone: "116000"}})
	}

	t.Run("profiles", func(t *testing.T) {
		if _, err := create(profile("fr", "Not ours")); !errors.Is(err, protocol.ErrCountryNotAllowed) {
			t.Fatalf("profile for fr: %v, want country_not_allowed", err)
		}
		own := mustCreateDraft(profile("be", "Child Focus"))
		if _, err := create(profile("be", "Child Focus bis")); !errors.Is(err, protocol.ErrCountryTaken) {
			t.Fatalf("second profile for be: %v, want country_taken", err)
		}
		if _, err := n.Update(ctx, own.ID, profile("be", "Child Focus (updated)")); err != nil {
			t.Fatalf("update of the profile: %v", err)
		}
		if _, err := n.Delete(ctx, own.ID, false); err != nil {
			t.Fatal(err)
		}
		mustCreateDraft(profile("be", "Child Focus anew"))
	})

	t.Run("comments", func(t *testing.T) {
		post := mustCreateDraft(draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines", Format: "thread",
			Title: "Sextortion", Text: "More cases?", Language: "en", Author: protocol.Author{Name: "Helpline", SIC: "be"}}))
		comment := func(vis protocol.Visibility) Draft {
			return draftOf(t, protocol.KindComment, vis, protocol.Comment{Post: post.ID, Text: "Yes", Language: "en", Author: protocol.Author{Name: "Pieter", SIC: "be"}})
		}
		if _, err := create(comment(protocol.VisibilityYouth)); !errors.Is(err, protocol.ErrVisibilityMismatch) {
			t.Fatalf("youth comment on a community thread: %v, want visibility_mismatch", err)
		}
		mustCreateDraft(comment(protocol.VisibilityCommunity))
	})

	t.Run("translations", func(t *testing.T) {
		res := mustCreate(t, n, "Guide")
		if _, err := n.Update(ctx, res.ID, resourceDraft("Guide, 2nd edition")); err != nil {
			t.Fatal(err)
		}
		gone := mustCreate(t, n, "Gone")
		if _, err := n.Delete(ctx, gone.ID, false); err != nil {
			t.Fatal(err)
		}
		tr := func(resource string, source int64, vis protocol.Visibility) Draft {
			return draftOf(t, protocol.KindTranslation, vis, protocol.Translation{Resource: resource, SourceVersion: source,
				Language: "fr", Title: "Guide", Method: "human", Review: "reviewed"})
		}
		for _, tc := range []struct {
			name string
			d    Draft
			want error
		}{
			{"current version", tr(res.ID, 2, protocol.VisibilityPublic), nil},
			{"source_version ahead", tr(res.ID, 3, protocol.VisibilityPublic), protocol.ErrInvalidSource},
			{"other visibility", tr(res.ID, 2, protocol.VisibilityCommunity), protocol.ErrVisibilityMismatch},
			{"unknown resource", tr("fi:01ARZ3NDEKTSV4RRFFQ69G5FAV", 1, protocol.VisibilityPublic), protocol.ErrInvalidSource},
			{"deleted resource", tr(gone.ID, 1, protocol.VisibilityPublic), protocol.ErrInvalidSource},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := create(tc.d)
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("create: %v, want %v", err, tc.want)
				}
			})
		}
	})
}

// TestNode_NationalYouthSpace: what is written in the node's national youth
// space, and every comment on it, is stored but never signed, pushed or
// re-sent by reconciliation; the European youth space travels as usual.
func TestNode_NationalYouthSpace(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "pt")
	ctx := t.Context()
	post := func(space string, a protocol.Author, text string) Draft {
		return draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: space, Format: "thread",
			Title: "Olá", Text: text, Language: "pt", Author: a})
	}
	comment := func(on string) Draft {
		return draftOf(t, protocol.KindComment, protocol.VisibilityYouth, protocol.Comment{Post: on, Text: "Também",
			Language: "pt", Author: protocol.Author{Pseudonym: "pt-tiago"}})
	}
	outbox := func() int {
		t.Helper()
		var k int
		if err := n.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	mustSync(t, n)
	before, pushes := outbox(), hub.pushCount()

	national, err := n.Create(ctx, post("youth:pt", protocol.Author{Pseudonym: "pt-rita"}, "só para Portugal"))
	if err != nil {
		t.Fatal(err)
	}
	byCoordinator, err := n.Create(ctx, post("youth:pt", protocol.Author{Name: "Joana", SIC: "pt"}, "da coordenação"))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := n.Create(ctx, comment(national.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entity{national, byCoordinator, reply} {
		if got, err := n.Get(ctx, e.ID); err != nil || got.State != StateLocal {
			t.Fatalf("%s shows as %q (%v), want %q: it never leaves the node", e.ID, got.State, err, StateLocal)
		}
	}
	if _, err := n.Update(ctx, national.ID, post("youth:pt", protocol.Author{Pseudonym: "pt-rita"}, "só para Portugal, editado")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Delete(ctx, byCoordinator.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Delete(ctx, reply.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := outbox(); got != before {
		t.Fatalf("outbox has %d rows after writing in youth:pt, want %d", got, before)
	}
	mustSync(t, n)
	if got := hub.pushCount(); got != pushes {
		t.Fatalf("%d pushes after writing only in youth:pt, want %d", got, pushes)
	}
	// A reconciliation compares own content with the hub's manifest and
	// re-sends what the hub lacks: never a local entity.
	if err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sync_state SET reconcile = 1 WHERE id = 1`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, n)
	for _, id := range []string{national.ID, byCoordinator.ID, reply.ID} {
		if _, ok := hub.row(id); ok {
			t.Fatalf("the hub holds %s of youth:pt", id)
		}
	}
	if got, err := n.Get(ctx, national.ID); err != nil || got.Version != 2 {
		t.Fatalf("the national post is not kept locally at v2: %+v, %v", got, err)
	}

	// A post cannot leave its space, nor one enter it.
	if _, err := n.Update(ctx, national.ID, post("youth", protocol.Author{Pseudonym: "pt-rita"}, "agora para todos")); !errors.Is(err, protocol.ErrInvalidSpace) {
		t.Fatalf("moving the national post to youth: %v, want invalid_space", err)
	}
	european, err := n.Create(ctx, post("youth", protocol.Author{Pseudonym: "pt-rita"}, "para a Europa"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Update(ctx, european.ID, post("youth:pt", protocol.Author{Pseudonym: "pt-rita"}, "de volta")); !errors.Is(err, protocol.ErrInvalidSpace) {
		t.Fatalf("moving a European post into youth:pt: %v, want invalid_space", err)
	}
	onEuropean, err := n.Create(ctx, comment(european.ID))
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, n)
	for _, id := range []string{european.ID, onEuropean.ID} {
		if _, ok := hub.row(id); !ok {
			t.Fatalf("the hub lacks %s of the European youth space", id)
		}
	}

	// Another SIC's national youth space is not this node's to write in.
	if _, err := n.Create(ctx, post("youth:be", protocol.Author{Pseudonym: "pt-rita"}, "x")); !errors.Is(err, protocol.ErrInvalidSpace) {
		t.Fatalf("post in youth:be: %v, want invalid_space", err)
	}
	if _, err := n.Create(ctx, post("youth:pt", protocol.Author{Pseudonym: "be-sam"}, "x")); !errors.Is(err, protocol.ErrInvalidAuthor) {
		t.Fatalf("post as be-sam: %v, want invalid_author", err)
	}
}
