package node

import (
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
			Title: "Sextortion", Text: "More cases?", Language: "en", Author: "Helpline"}))
		comment := func(vis protocol.Visibility) Draft {
			return draftOf(t, protocol.KindComment, vis, protocol.Comment{Post: post.ID, Text: "Yes", Language: "en", Author: "a"})
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
