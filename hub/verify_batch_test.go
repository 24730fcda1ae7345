package hub

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// TestHub_PushBadSignaturesInBatches: a push large enough that its
// signatures are verified as batches, with a tampered signature in the
// first, a middle and the last chunk: each is refused on its own line and
// every other record applies.
func TestHub_PushBadSignaturesInBatches(t *testing.T) {
	th := mustOpenHub(t)
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	const n = 2*protocol.BatchSize + 120
	cs := make([]*protocol.Change, n)
	for i := range cs {
		cs[i] = be.resource(t, fmt.Sprintf("Resource %d", i), protocol.VisibilityPublic)
	}
	ss := be.signAll(t, cs...)
	bad := []int{3, protocol.BatchSize + 7, n - 1}
	for _, i := range bad {
		ss[i].Sig = append([]byte(nil), ss[i].Sig...)
		ss[i].Sig[40] ^= 0x01
	}
	res := be.mustPush(t, ss...)
	if res.Applied != n-len(bad) || res.AppliedSeq != seqOf(t, ss[n-1]) || len(res.Refused) != len(bad) {
		t.Fatalf("push result = applied %d, applied_seq %d, %d refused: %+v", res.Applied, res.AppliedSeq, len(res.Refused), res.Refused)
	}
	for k, i := range bad {
		r := res.Refused[k]
		if r.Code != protocol.CodeBadSignature || r.Line != i+2 || r.ID != cs[i].ID {
			t.Errorf("refusal %d = %+v, want bad_signature on line %d for %s", k, r, i+2, cs[i].ID)
		}
	}
	items, _ := pullAll(t, fi.client, 0)
	if len(items) != n-len(bad) {
		t.Fatalf("feed has %d items, want %d", len(items), n-len(bad))
	}
	refused := map[string]bool{}
	for _, i := range bad {
		refused[cs[i].ID] = true
	}
	j := 0
	for i, s := range ss {
		if refused[cs[i].ID] {
			continue
		}
		if !bytes.Equal(items[j].Change, s.Change) {
			t.Fatalf("feed item %d is not record %d", j, i)
		}
		j++
	}
}
