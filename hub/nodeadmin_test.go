package hub

import (
	"context"
	"errors"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

func TestHub_SuspendNode(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	c := be.resource(t, "Before the suspension", protocol.VisibilityPublic)
	be.mustPush(t, be.sign(t, c))
	ctx := context.Background()

	if err := th.SuspendNode(ctx, "be"); err != nil {
		t.Fatal(err)
	}
	if _, err := be.push(t, be.sign(t, be.resource(t, "During", protocol.VisibilityPublic))); !errors.Is(err, protocol.ErrSuspended) {
		t.Fatalf("push while suspended: %v, want suspended", err)
	}
	be.seq-- // that seq never reached the hub
	if _, err := be.client.Changes(ctx, 0, 10, 0); !errors.Is(err, protocol.ErrSuspended) {
		t.Fatalf("pull while suspended: %v, want suspended", err)
	}
	if _, _, _, err := be.client.GetBlob(ctx, "0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, protocol.ErrSuspended) {
		t.Fatalf("blob request while suspended: %v, want suspended", err)
	}
	if _, err := th.storedChange(ctx, c.ID); err != nil {
		t.Fatalf("content of a suspended node: %v", err)
	}
	st, err := th.NetworkStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !nodeStatus(t, st, "be").Suspended {
		t.Fatal("status does not show the suspension")
	}

	// A restart keeps the suspension.
	th.close()
	th = mustOpenHubAt(t, th.cfg)
	be.client = th.client(be.cred)
	if _, err := be.client.Changes(ctx, 0, 10, 0); !errors.Is(err, protocol.ErrSuspended) {
		t.Fatalf("pull after a restart: %v, want suspended", err)
	}
	if err := th.ResumeNode(ctx, "be"); err != nil {
		t.Fatal(err)
	}
	be.hub = th
	be.mustPush(t, be.sign(t, be.resource(t, "After", protocol.VisibilityPublic)))
}

func TestHub_RotateNodeKey(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be := th.enrolNode(t, "be")
	old := be.resource(t, "Signed with the old key", protocol.VisibilityPublic)
	be.mustPush(t, be.sign(t, old))

	res, err := th.RotateNodeKey(ctx, "be")
	if err != nil {
		t.Fatal(err)
	}
	if res.Token == "" || len(res.RetiredKeys) != 1 || res.RetiredKeys[0] != be.key.ID || res.RetiredHubSeq != th.HubSeq() {
		t.Fatalf("rotation = %+v (head %d)", res, th.HubSeq())
	}
	if _, err := be.push(t, be.sign(t, be.resource(t, "Old credential", protocol.VisibilityPublic))); !errors.Is(err, protocol.ErrUnauthorized) {
		t.Fatalf("push with the revoked credential: %v, want unauthorized", err)
	}
	be.seq-- // that seq never reached the hub
	t.Run("the old key cannot enrol again", func(t *testing.T) {
		_, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "be", Token: res.Token, KeyID: be.key.ID, PublicKey: be.key.Public(), Epoch: be.epoch})
		if !errors.Is(err, protocol.ErrInvalidField) {
			t.Fatalf("enrol with the retired key: %v, want invalid_field", err)
		}
	})
	newKey := newKey(t, "be")
	enr, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "be", Token: res.Token, KeyID: newKey.ID, PublicKey: newKey.Public(), Epoch: be.epoch})
	if err != nil {
		t.Fatal(err)
	}
	oldKey := be.key
	be.key, be.cred, be.client = newKey, enr.Credential, th.client(enr.Credential)

	// Signed with the old key after the rotation: refused, whatever its updated_at.
	late := be.resource(t, "Stolen key", protocol.VisibilityPublic)
	late.UpdatedAt = old.UpdatedAt
	lateSigned, err := oldKey.Sign(late)
	if err != nil {
		t.Fatal(err)
	}
	fresh := be.resource(t, "New key", protocol.VisibilityPublic)
	pr := be.mustPush(t, lateSigned, be.sign(t, fresh))
	if pr.Applied != 1 || len(pr.Refused) != 1 || pr.Refused[0].Code != protocol.CodeBadSignature || pr.Refused[0].ID != late.ID {
		t.Fatalf("push after the rotation = %+v", pr)
	}

	dir := th.KeyDirectory()
	var retired protocol.KeyInfo
	for _, k := range dir.Keys {
		if k.KeyID == oldKey.ID {
			retired = k
		}
	}
	if retired.RetiredAt == nil || retired.RetiredHubSeq != res.RetiredHubSeq {
		t.Fatalf("key directory entry of the old key = %+v", retired)
	}
	items, _ := pullAll(t, th.operatorClient(), 0)
	for _, it := range items {
		if _, err := protocol.VerifyAt(it.Signed, dir.Lookup(), it.HubSeq); err != nil {
			t.Errorf("a puller refuses hub_seq %d: %v", it.HubSeq, err)
		}
	}
	if len(items) != 2 {
		t.Fatalf("feed has %d changes, want the old-key one and the new-key one", len(items))
	}
}

func TestHub_RemoveNode(t *testing.T) {
	ctx := context.Background()
	t.Run("the choice is required", func(t *testing.T) {
		th := mustOpenHub(t)
		th.enrolNode(t, "be")
		if _, err := th.RemoveNode(ctx, "be", ""); !errors.Is(err, protocol.ErrInvalidField) {
			t.Fatalf("remove without a choice: %v", err)
		}
	})
	t.Run("keep content", func(t *testing.T) {
		th := mustOpenHub(t)
		be := th.enrolNode(t, "be")
		fi := th.enrolNode(t, "fi")
		kept := be.resource(t, "Kept", protocol.VisibilityPublic)
		be.mustPush(t, be.sign(t, kept))
		// fi erases an entity of its own: be holds a copy and owes an
		// acknowledgement, which its removal must write off.
		gone := fi.resource(t, "Gone", protocol.VisibilityPublic)
		erased := fi.next(gone)
		erased.Deleted, erased.Erased, erased.Body = true, true, nil
		fi.mustPush(t, fi.signAll(t, gone, erased)...)
		if n := pendingHolderRows(t, th, "be"); n != 1 {
			t.Fatalf("be owes %d acknowledgements before its removal, want 1", n)
		}
		if _, err := th.RemoveNode(ctx, "be", KeepContent); err != nil {
			t.Fatal(err)
		}
		if _, err := be.push(t, be.sign(t, be.resource(t, "After removal", protocol.VisibilityPublic))); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("push after removal: %v, want unauthorized", err)
		}
		if _, err := th.RegisterNode(ctx, "be", "again"); !errors.Is(err, protocol.ErrConflict) {
			t.Fatalf("register a removed node: %v, want conflict", err)
		}
		if _, err := th.storedChange(ctx, kept.ID); err != nil {
			t.Fatalf("kept content: %v", err)
		}
		items, _ := pullAll(t, fi.client, 0)
		if len(items) != 2 {
			t.Fatalf("feed has %d changes, want be's kept resource and fi's erasure", len(items))
		}
		if _, err := protocol.VerifyAt(items[0].Signed, th.KeyDirectory().Lookup(), items[0].HubSeq); err != nil {
			t.Fatalf("kept content no longer verifies: %v", err)
		}
		if n := pendingHolderRows(t, th, "be"); n != 0 {
			t.Fatalf("a removed node still holds %d erasures up", n)
		}
	})
	t.Run("erase content", func(t *testing.T) {
		th := mustOpenHub(t)
		be := th.enrolNode(t, "be")
		fi := th.enrolNode(t, "fi")
		a, b := be.resource(t, "First", protocol.VisibilityPublic), be.resource(t, "Second", protocol.VisibilityCommunity)
		be.mustPush(t, be.signAll(t, a, b)...)
		res, err := th.RemoveNode(ctx, "be", EraseContent)
		if err != nil {
			t.Fatal(err)
		}
		if res.Erased != 2 {
			t.Fatalf("erased %d entities, want 2", res.Erased)
		}
		for _, c := range []*protocol.Change{a, b} {
			got, err := th.storedChange(ctx, c.ID)
			if err != nil || !got.Erased || got.Owner != "be" || got.KeyID != th.KeyID() || got.Body != nil {
				t.Fatalf("stored %s = %+v, %v", c.ID, got, err)
			}
		}
		items, _ := pullAll(t, fi.client, 0)
		if len(items) != 2 {
			t.Fatalf("feed has %d changes, want the 2 erasures", len(items))
		}
		for _, it := range items {
			if _, err := protocol.VerifyAt(it.Signed, th.KeyDirectory().Lookup(), it.HubSeq); err != nil {
				t.Fatalf("a puller refuses the erasure at hub_seq %d: %v", it.HubSeq, err)
			}
		}
		// Again: nothing left to erase, and no error.
		if res, err := th.RemoveNode(ctx, "be", EraseContent); err != nil || res.Erased != 0 {
			t.Fatalf("second removal = %+v, %v", res, err)
		}
	})
}

// A push verified while the key was in use and applied after a rotation is
// refused: retirement and apply take the same lock, and apply checks again.
func TestHub_RotationRacesPush(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	c := be.resource(t, "Verified before, applied after", protocol.VisibilityPublic)
	it := &pushItem{line: 2, signed: be.sign(t, c)}
	th.verify(it, "be")
	if it.refusal != nil {
		t.Fatalf("verify: %+v", it.refusal)
	}
	if _, err := th.RotateNodeKey(context.Background(), "be"); err != nil {
		t.Fatal(err)
	}
	b := &batch{header: protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: c.Seq, ToSeq: c.Seq, HeadSeq: c.Seq}, items: []*pushItem{it}}
	res, err := th.applyBatch(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeBadSignature {
		t.Fatalf("apply after the rotation = %+v", res)
	}
}

// pendingHolderRows counts the erasures node has not acknowledged.
func pendingHolderRows(t *testing.T, th *testHub, node string) int {
	t.Helper()
	var n int
	if err := th.db.Reader().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM erasure_holders WHERE node = ? AND acked_at IS NULL`, node).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
