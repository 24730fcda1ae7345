package protocol

import (
	"errors"
	"testing"
	"time"
)

// The hub's key may sign an erasure of another owner's entity (the
// coordination team erasing a removed node's content), and nothing else of
// another owner.
func TestVerify_HubErasure(t *testing.T) {
	hub, be := testKey(t, HubID), testKey(t, "be")
	id, err := NewEntityID("be", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	base := Change{Protocol: Version, ID: id, Kind: KindResource, Owner: "be", Version: 2, Seq: 9,
		UpdatedAt: time.Now().UTC(), Visibility: VisibilityPublic}
	tests := []struct {
		name    string
		key     Key
		deleted bool
		erased  bool
		ok      bool
	}{
		{"hub erasure", hub, true, true, true},
		{"hub delete without erasure", hub, true, false, false},
		{"owner erasure", be, true, true, true},
		{"other node's erasure", testKey(t, "fr"), true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.Deleted, c.Erased = tc.deleted, tc.erased
			s, err := tc.key.Sign(&c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifyAt(s, testKeys(t).Lookup(), 0)
			if tc.ok && err != nil {
				t.Fatalf("VerifyAt: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("VerifyAt accepted it")
			}
			if !tc.ok && !errors.Is(err, ErrInvalidField) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyAt: %v, want invalid_field or bad_signature", err)
			}
		})
	}
}
