package node

import (
	"errors"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// A puller checks a retired key by hub_seq, as the hub does: what the key
// signed before its retirement stays, a change sequenced after it is refused
// however early its updated_at claims to be (a hub or mirror that served it
// anyway is not trusted).
func TestSync_PullRetiredKey(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	fi := hub.remoteKey(t, "fi")
	before := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("signed while in use")})

	hub.mu.Lock()
	retiredAt := time.Now().UTC().Add(time.Hour)
	k := hub.keys[fi.ID]
	k.RetiredAt, k.RetiredHubSeq = &retiredAt, hub.hubSeq
	hub.keys[fi.ID] = k
	hub.mu.Unlock()
	after := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("signed after the rotation")})
	mustSync(t, n)

	bc, _ := protocol.ParseChange(before.Change)
	if e, err := n.Get(t.Context(), bc.ID); err != nil || e.State != StateRemote {
		t.Fatalf("change signed before the retirement: %+v, %v", e, err)
	}
	ac, _ := protocol.ParseChange(after.Change)
	if _, err := n.Get(t.Context(), ac.ID); !errors.Is(err, protocol.ErrNotFound) {
		t.Fatalf("change sequenced after the retirement applied: %v", err)
	}
	st := mustStatus(t, n)
	if len(st.Refusals) != 1 || st.Refusals[0].ID != ac.ID || st.Refusals[0].Code != protocol.CodeBadSignature || st.Refusals[0].HubSeq != 2 {
		t.Fatalf("refusals = %+v", st.Refusals)
	}
}
