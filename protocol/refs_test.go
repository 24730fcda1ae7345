package protocol

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestCheckReference(t *testing.T) {
	now := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	later, earlier := now.Add(48*time.Hour), now.Add(-time.Hour)
	translation := func(source int64, vis Visibility, publishAt *time.Time) *Change {
		body, _ := json.Marshal(Translation{Resource: "be:01JKT3S6M00M2GA1850M2GA185", SourceVersion: source})
		return &Change{Kind: KindTranslation, Visibility: vis, PublishAt: publishAt, Body: body}
	}
	comment := func(vis Visibility) *Change {
		return &Change{Kind: KindComment, Visibility: vis, Body: json.RawMessage(`{"post":"be:01JKT3S6M00M2GA1850M2GA185"}`)}
	}
	resource := &Target{Kind: KindResource, Version: 3, Visibility: VisibilityPublic}
	post := &Target{Kind: KindPost, Version: 1, Visibility: VisibilityCommunity}
	ptYouth := &Target{Kind: KindPost, Version: 1, Visibility: VisibilityYouth, Space: "youth:pt"}
	europeanYouth := &Target{Kind: KindPost, Version: 1, Visibility: VisibilityYouth, Space: "youth"}
	flag := func(owner string, vis Visibility) *Change {
		return &Change{Kind: KindFlag, Owner: owner, Visibility: vis, Body: json.RawMessage(`{"target":"pt:01JKT3S6M00M2GA1850M2GA185"}`)}
	}
	commentBy := func(owner string) *Change {
		c := comment(VisibilityYouth)
		c.Owner = owner
		return c
	}
	for _, tc := range []struct {
		name string
		c    *Change
		t    *Target
		want error
	}{
		{"comment with its post's visibility", comment(VisibilityCommunity), post, nil},
		{"youth comment on a community post", comment(VisibilityYouth), post, ErrVisibilityMismatch},
		{"comment on a post not held", comment(VisibilityYouth), nil, nil},
		{"comment in its own national youth space", commentBy("pt"), ptYouth, nil},
		{"comment in another SIC's national youth space", commentBy("be"), ptYouth, ErrInvalidSpace},
		{"comment in the European youth space", commentBy("be"), europeanYouth, nil},
		{"deleted comment", &Change{Kind: KindComment, Visibility: VisibilityYouth, Deleted: true}, post, nil},
		{"flag with its target's visibility", flag("be", VisibilityCommunity), post, nil},
		{"flag of a comment", flag("be", VisibilityCommunity), &Target{Kind: KindComment, Version: 2, Visibility: VisibilityCommunity}, nil},
		{"flag with another visibility", flag("be", VisibilityYouth), post, ErrVisibilityMismatch},
		{"flag of a resource", flag("be", VisibilityCommunity), &Target{Kind: KindResource, Version: 1, Visibility: VisibilityCommunity}, ErrInvalidSource},
		{"flag of a deleted post", flag("be", VisibilityCommunity), &Target{Kind: KindPost, Version: 2, Visibility: VisibilityCommunity, Deleted: true}, ErrInvalidSource},
		{"flag in its own national youth space", flag("pt", VisibilityYouth), ptYouth, nil},
		{"flag in another SIC's national youth space", flag("be", VisibilityYouth), ptYouth, ErrInvalidSpace},
		{"flag of a target not held", flag("be", VisibilityYouth), nil, nil},
		{"translation of the current version", translation(3, VisibilityPublic, nil), resource, nil},
		{"translation of an older version", translation(1, VisibilityPublic, nil), resource, nil},
		{"source_version ahead", translation(4, VisibilityPublic, nil), resource, ErrInvalidSource},
		{"other visibility", translation(3, VisibilityCommunity, nil), resource, ErrVisibilityMismatch},
		{"no such resource", translation(1, VisibilityPublic, nil), nil, ErrInvalidSource},
		{"not a resource", translation(1, VisibilityCommunity, nil), post, ErrInvalidSource},
		{"deleted resource", translation(1, VisibilityPublic, nil), &Target{Kind: KindResource, Version: 4, Visibility: VisibilityPublic, Deleted: true}, ErrInvalidSource},
		{"embargoed resource", translation(1, VisibilityPublic, nil), &Target{Kind: KindResource, Version: 1, Visibility: VisibilityPublic, PublishAt: &later}, ErrInvalidSource},
		{"embargoed with the resource", translation(1, VisibilityPublic, &later), &Target{Kind: KindResource, Version: 1, Visibility: VisibilityPublic, PublishAt: &later}, nil},
		{"out before the resource", translation(1, VisibilityPublic, &now), &Target{Kind: KindResource, Version: 1, Visibility: VisibilityPublic, PublishAt: &later}, ErrInvalidSource},
		{"resource published", translation(1, VisibilityPublic, nil), &Target{Kind: KindResource, Version: 1, Visibility: VisibilityPublic, PublishAt: &earlier}, nil},
		{"other kinds pass", &Change{Kind: KindResource, Visibility: VisibilityPublic}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckReference(tc.c, tc.t, now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckReference = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidCountry(t *testing.T) {
	for code, ok := range map[string]bool{"be": true, "fi": true, "BE": false, "bel": false, "b": false, "": false, "b1": false, "é": false} {
		if got := ValidCountry(code) == nil; got != ok {
			t.Errorf("ValidCountry(%q) = %v, want %v", code, got, ok)
		}
	}
	if got := DefaultCountries("be"); len(got) != 1 || got[0] != "be" {
		t.Errorf("DefaultCountries(be) = %v", got)
	}
	for _, id := range []string{HubID, "childfocus", "b2"} {
		if got := DefaultCountries(id); got != nil {
			t.Errorf("DefaultCountries(%s) = %v, want none", id, got)
		}
	}
}

// CheckReference reads the body of a change that passed validation; it
// must not fail on anything a body can hold.
func FuzzCheckReference(f *testing.F) {
	f.Add([]byte(`{"resource":"be:01JKT3S6M00M2GA1850M2GA185","source_version":2}`), int64(1), true)
	f.Add([]byte(`{"source_version":1e99}`), int64(3), false)
	f.Add([]byte(`[`), int64(0), true)
	f.Fuzz(func(t *testing.T, body []byte, version int64, translation bool) {
		c := &Change{Kind: KindComment, Visibility: VisibilityYouth, Body: body}
		if translation {
			c.Kind = KindTranslation
		}
		CheckReference(c, &Target{Kind: KindResource, Version: version, Visibility: VisibilityPublic}, time.Now())
		CheckReference(c, nil, time.Now())
	})
}
