package node

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// TestSync_PullBadSignatureInBatch: a page large enough that its
// signatures are verified as batches, with one tampered signature: that
// change is refused on its own, named by its hub_seq, and the rest apply.
func TestSync_PullBadSignatureInBatch(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	fi := hub.remoteKey(t, "fi")
	const total, bad = 2*protocol.BatchSize + 50, protocol.BatchSize + 10
	var ids []string
	var badID string
	for i := range total {
		if i == bad {
			c := protocol.Change{Kind: protocol.KindResource, Body: resourceBody("tampered")}
			s := hub.author(t, fi, c)
			pc, err := protocol.ParseChange(s.Change)
			if err != nil {
				t.Fatal(err)
			}
			s.Sig = append([]byte(nil), s.Sig...)
			s.Sig[50] ^= 0x80
			hub.inject(pc, s) // replaces the genuine copy
			badID = pc.ID
			continue
		}
		s := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody(fmt.Sprintf("r%d", i))})
		pc, _ := protocol.ParseChange(s.Change)
		ids = append(ids, pc.ID)
	}
	mustSync(t, n)
	for _, id := range ids {
		if e, err := n.Get(t.Context(), id); err != nil || e.State != StateRemote {
			t.Fatalf("Get %s = %+v, %v", id, e, err)
		}
	}
	if _, err := n.Get(t.Context(), badID); !errors.Is(err, protocol.ErrNotFound) {
		t.Fatalf("tampered change applied: %v", err)
	}
	st := mustStatus(t, n)
	if len(st.Refusals) != 1 || st.Refusals[0].Code != protocol.CodeBadSignature || st.Refusals[0].ID != badID {
		t.Fatalf("refusals = %+v", st.Refusals)
	}
}
