package hub

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// TestMirrors_PublicSelection: a mirror's feed carries public versions and,
// for an entity that was public and is not any more, a withdrawal; never a
// community change's bytes. The hub's portal indexes the same selection.
func TestMirrors_PublicSelection(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be := th.enrolNode(t, "be")
	pub := be.resource(t, "Be smart online", protocol.VisibilityPublic)
	gone := be.resource(t, "Cyberbullying handbook", protocol.VisibilityPublic)
	staff := be.resource(t, "Helpline staff rota", protocol.VisibilityCommunity)
	be.mustPush(t, be.signAll(t, pub, gone, staff)...)
	private := be.next(gone)
	private.Visibility = protocol.VisibilityCommunity
	be.mustPush(t, be.sign(t, private))

	tok, err := th.RegisterMirror(ctx, "eu1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := th.client("").EnrolMirror(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.client("").EnrolMirror(ctx, tok); err == nil {
		t.Error("a mirror token worked twice")
	}
	mc := th.client(res.Credential)
	feed, err := mc.MirrorChanges(ctx, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var public []string
	var withdrawn []string
	for _, it := range feed.Changes {
		if it.Withdrawn != "" {
			withdrawn = append(withdrawn, it.Withdrawn)
			continue
		}
		c, err := protocol.Verify(it.Signed, th.KeyDirectory().Lookup())
		if err != nil {
			t.Fatalf("hub_seq %d: %v", it.HubSeq, err)
		}
		public = append(public, c.ID)
	}
	if !slices.Equal(public, []string{pub.ID}) || !slices.Equal(withdrawn, []string{gone.ID}) {
		t.Fatalf("mirror feed: public %v, withdrawn %v; want [%s], [%s]", public, withdrawn, pub.ID, gone.ID)
	}
	if feed.Next != th.head.Load() || feed.More {
		t.Errorf("next %d more %v, head %d", feed.Next, feed.More, th.head.Load())
	}
	// A mirror's credential is not a node's: it pushes nothing.
	if _, err := mc.Push(ctx, protocol.PushHeader{Node: "be", Epoch: "e1", FromSeq: 1, ToSeq: 1, HeadSeq: 1}, be.signAll(t, be.resource(t, "x", protocol.VisibilityPublic))); err == nil {
		t.Error("a mirror's credential pushed")
	}

	// The hub's own portal reads the same selection.
	p := th.Portal()
	for {
		more, err := p.IndexOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	src := portalSource{th.Hub}
	changes, err := src.Changes(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Raw == nil || changes[1].ID != gone.ID || changes[1].Raw != nil {
		t.Fatalf("portal source: %+v", changes)
	}
	if _, ok, err := src.Entity(ctx, staff.ID); ok || err != nil {
		t.Errorf("the portal source gives the community entity %s: %v %v", staff.ID, ok, err)
	}

	if got := p.IndexedSeq(); got != th.head.Load() {
		t.Errorf("the portal indexed up to %d, head %d", got, th.head.Load())
	}
	resp, err := http.Get(th.url + "/api/v1/resources")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), pub.ID) || strings.Contains(string(body), gone.ID) {
		t.Errorf("the portal's resources: %s", body)
	}

	// The mirror asks from where it stands: no lag.
	if _, err := mc.MirrorChanges(ctx, feed.Next, 100, 0); err != nil {
		t.Fatal(err)
	}
	ms := th.Mirrors()
	if len(ms) != 1 || ms[0].Name != "eu1" || !ms[0].Live || ms[0].Lag != 0 {
		t.Errorf("mirrors: %+v", ms)
	}
	th.clock.Advance(2 * mirrorLiveWithin)
	if ms := th.Mirrors(); ms[0].Live {
		t.Error("a mirror silent for two minutes counts as live")
	}
}

// TestMirrors_ErasureHolders: a mirror holds every erasure of an entity that
// was ever public, and none of one that never was; its acknowledgement
// counts.
func TestMirrors_ErasureHolders(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be := th.enrolNode(t, "be")
	tok, err := th.RegisterMirror(ctx, "eu1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := th.client("").EnrolMirror(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	pub := be.resource(t, "Be smart online", protocol.VisibilityPublic)
	staff := be.resource(t, "Helpline staff rota", protocol.VisibilityCommunity)
	be.mustPush(t, be.signAll(t, pub, staff)...)
	var seqs []int64
	for _, c := range []*protocol.Change{pub, staff} {
		e := be.next(c)
		e.Deleted, e.Erased, e.Body = true, true, nil
		be.mustPush(t, be.sign(t, e))
		seqs = append(seqs, th.head.Load())
	}
	st, err := th.ErasureStatus(ctx, "", []string{pub.ID, staff.ID})
	if err != nil {
		t.Fatal(err)
	}
	holders := func(i int) []string {
		var out []string
		for _, h := range st.Erasures[i].Holders {
			out = append(out, h.Node)
		}
		return out
	}
	if !slices.Contains(holders(0), "mirror:eu1") || slices.Contains(holders(1), "mirror:eu1") {
		t.Fatalf("holders: public %v, community %v", holders(0), holders(1))
	}
	ack, err := th.client(res.Credential).AckErasures(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ack.Acknowledged, seqs[:1]) {
		t.Errorf("acknowledged %v, want %v", ack.Acknowledged, seqs[:1])
	}
}
