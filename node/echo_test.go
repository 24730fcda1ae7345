package node

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/bikfed/bikfed/protocol"
)

func echoCount(t *testing.T, n *Node) float64 {
	t.Helper()
	var m dto.Metric
	if err := n.ops.metrics.echoes.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A pull after a push skips the own changes the feed brings back as they
// were pushed, and still verifies and applies everything else in the same
// pages: another node's change, and an own change the hub serves with other
// bytes than it acknowledged.
func TestSync_PullSkipsEchoes(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	n.cfg.PushBatch = 3
	var ids []string
	for _, title := range []string{"one", "two", "three", "four", "five", "six", "refused"} {
		ids = append(ids, mustCreate(t, n, title).ID)
	}
	hub.setRefuse(ids[6], protocol.CodeInvalidField)
	fi := hub.remoteKey(t, "fi")
	hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("Finnish")})
	if err := n.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The refused change is no echo: the hub does not hold it.
	if k := n.echoes.len(); k != 6 {
		t.Fatalf("echoes noted after the push = %d, want 6", k)
	}
	// The hub serves one own change with bytes other than those it
	// acknowledged: it is verified, and refused.
	hub.mu.Lock()
	row := hub.rows[ids[2]]
	row.signed = protocol.Signed{Change: bytes.Replace(row.signed.Change, []byte("three"), []byte("THREE"), 1), Sig: row.signed.Sig}
	hub.mu.Unlock()
	before, err := n.Get(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Pull(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := echoCount(t, n); got != 5 {
		t.Errorf("echoes skipped = %v, want 5", got)
	}
	// The one the hub altered did not come back as it was sent: once the
	// cursor has passed the point where it would have, it is forgotten.
	if k := n.echoes.len(); k != 0 {
		t.Errorf("echoes left after the pull = %d, want 0", k)
	}
	s := mustStatus(t, n)
	if len(s.Refusals) != 2 {
		t.Fatalf("refusals = %+v, want the hub's refusal of one and ours of the altered one", s.Refusals)
	}
	var bad bool
	for _, r := range s.Refusals {
		bad = bad || r.Source == "pull" && r.ID == ids[2] && r.Code == protocol.CodeBadSignature
	}
	if !bad {
		t.Errorf("refusals = %+v: the altered own change was not verified", s.Refusals)
	}
	if s.PullCursor != hub.hubSeq {
		t.Errorf("pull cursor %d, hub at %d", s.PullCursor, hub.hubSeq)
	}
	after, err := n.Get(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || after.State != StateSynced || !bytes.Equal(after.Body, before.Body) || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("own entity after the pull = %+v, before %+v", after, before)
	}
	list, err := n.List(t.Context(), ListFilter{Owner: "fi"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("fi's entities = %d, want the pulled one", len(list))
	}

	t.Run("a new epoch forgets the echoes", func(t *testing.T) {
		mustCreate(t, n, "seven")
		if err := n.Push(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n.echoes.len() == 0 {
			t.Fatal("no echo noted")
		}
		n.pushMu.Lock()
		err := n.newEpochLocked(t.Context(), "test")
		n.pushMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if k := n.echoes.len(); k != 0 {
			t.Errorf("echoes after a new epoch = %d", k)
		}
	})
}
