package node

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// moderator publishes the hub's moderation decisions, each a minute after
// the previous one.
type moderator struct {
	t   *testing.T
	hub *fakeHub
	seq int64
	at  time.Time
}

func newModerator(t *testing.T, hub *fakeHub) *moderator {
	return &moderator{t: t, hub: hub, at: time.Now().UTC().Add(-30 * time.Minute)}
}

// decide writes version v of the moderation entity id (a new one when
// empty) deciding about target.
func (m *moderator) decide(id string, v int64, target, decision, reason string) protocol.Change {
	m.t.Helper()
	body, _ := json.Marshal(protocol.Moderation{Target: target, Decision: decision, Reason: reason})
	return m.put(protocol.Change{ID: id, Kind: protocol.KindModeration, Version: v, Visibility: protocol.VisibilityCommunity, Body: body})
}

func (m *moderator) put(c protocol.Change) protocol.Change {
	m.t.Helper()
	m.seq++
	m.at = m.at.Add(time.Minute)
	c.Seq, c.UpdatedAt = m.seq, m.at
	s := m.hub.author(m.t, m.hub.key, c)
	got, err := protocol.ParseChange(s.Change)
	if err != nil {
		m.t.Fatal(err)
	}
	return *got
}

func TestNode_CommunityModeration(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be := newRemote(t, hub, "be")
	mod := newModerator(t, hub)
	p1 := be.putPost("", 1, "helplines", "Sextortion contacts rising", "Twice the usual contacts in January.")
	p2 := be.putPost("", 1, "helplines", "Volunteer briefings", "How do you brief volunteers?")
	c1 := be.putComment("", 1, p1.ID, "Same here, a short script helps.")
	c2 := be.putComment("", 1, p2.ID, "Here is a phone number to call me.")
	c3 := be.putComment("", 1, p2.ID, "We brief them weekly.")
	mustSync(t, n)

	hiddenPost := func(t *testing.T) {
		t.Helper()
		if got := threadIDs(t, n, "helplines", 0); !slices.Equal(got, []string{p2.ID}) {
			t.Errorf("threads %v, want p2 only", got)
		}
		if _, err := n.CommunityThread(t.Context(), p1.ID, 0, CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
			t.Errorf("hidden thread: %v, want not found", err)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "contacts"}); len(got) != 0 {
			t.Errorf("hidden post found: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "script"}); len(got) != 0 {
			t.Errorf("a comment of a hidden post found: %v", got)
		}
	}
	visiblePost := func(t *testing.T) {
		t.Helper()
		if got := threadIDs(t, n, "helplines", 0); !slices.Contains(got, p1.ID) {
			t.Errorf("threads %v, want p1 back", got)
		}
		if th := mustThread(t, n, p1.ID, 0); th.Post.Hidden || len(th.Comments) != 1 {
			t.Errorf("thread: hidden %v, %d comments", th.Post.Hidden, len(th.Comments))
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "script"}); !slices.Equal(got, []string{c1.ID}) {
			t.Errorf("search script: %v", got)
		}
	}

	var hide protocol.Change
	t.Run("a hidden post takes its thread out of lists, pages and search", func(t *testing.T) {
		hide = mod.decide("", 1, p1.ID, "hide", "Shares a victim's details.")
		mustSync(t, n)
		hiddenPost(t)
	})
	t.Run("its SIC sees it hidden, with the reason", func(t *testing.T) {
		l, err := n.CommunityThreads(t.Context(), ThreadQuery{Space: "helplines", HiddenOf: "be"})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(l.Threads, func(s ThreadSummary) bool { return s.Post == p1.ID })
		if i < 0 || !l.Threads[i].Hidden || l.Threads[i].HiddenReason != "Shares a victim's details." {
			t.Fatalf("owner's list: %+v", l.Threads)
		}
		th, err := n.CommunityThread(t.Context(), p1.ID, 0, CommentPage{HiddenOf: "be"})
		if err != nil {
			t.Fatal(err)
		}
		if !th.Post.Hidden || th.Post.HiddenReason != "Shares a victim's details." || len(th.Comments) != 1 {
			t.Errorf("owner's thread: hidden %v reason %q comments %d", th.Post.Hidden, th.Post.HiddenReason, len(th.Comments))
		}
		res, err := n.SearchCommunity(t.Context(), CommunityQuery{Text: "contacts", Spaces: protocol.Spaces, HiddenOf: "be"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != 1 || !res.Hits[0].Hidden || res.Hits[0].HiddenReason != "Shares a victim's details." {
			t.Errorf("owner's search: %+v", res.Hits)
		}
		if got := threadIDs(t, n, "helplines", 0); slices.Contains(got, p1.ID) {
			t.Errorf("another SIC's view lists it: %v", got)
		}
	})
	t.Run("a dismiss changes nothing", func(t *testing.T) {
		mod.decide("", 1, p1.ID, "dismiss", "")
		mod.decide("", 1, p2.ID, "dismiss", "")
		mustSync(t, n)
		hiddenPost(t)
		if got := threadIDs(t, n, "helplines", 0); !slices.Equal(got, []string{p2.ID}) {
			t.Errorf("dismissed p2: %v", got)
		}
	})
	t.Run("a restore brings it back", func(t *testing.T) {
		mod.decide("", 1, p1.ID, "restore", "The details were removed.")
		mustSync(t, n)
		visiblePost(t)
	})
	t.Run("a new version of an earlier decision is the latest", func(t *testing.T) {
		hide = mod.decide(hide.ID, 2, p1.ID, "hide", "Shares a victim's details, again.")
		mustSync(t, n)
		hiddenPost(t)
	})
	t.Run("a deleted decision lifts it", func(t *testing.T) {
		mod.put(protocol.Change{ID: hide.ID, Kind: protocol.KindModeration, Version: 3, Visibility: protocol.VisibilityCommunity, Deleted: true})
		mustSync(t, n)
		visiblePost(t)
	})
	t.Run("a hidden comment leaves its thread alone", func(t *testing.T) {
		mod.decide("", 1, c2.ID, "hide", "Personal contact details.")
		mustSync(t, n)
		if got := threadIDs(t, n, "helplines", 0); !slices.Contains(got, p2.ID) {
			t.Fatalf("threads %v, want p2", got)
		}
		th := mustThread(t, n, p2.ID, 0)
		if th.CommentCount != 1 || len(th.Comments) != 1 || th.Comments[0].ID != c3.ID {
			t.Errorf("thread: count %d comments %+v", th.CommentCount, th.Comments)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "phone"}); len(got) != 0 {
			t.Errorf("hidden comment found: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "volunteers"}); !slices.Equal(got, []string{p2.ID}) {
			t.Errorf("its post: %v", got)
		}
		th, err := n.CommunityThread(t.Context(), p2.ID, 0, CommentPage{HiddenOf: "be"})
		if err != nil {
			t.Fatal(err)
		}
		if th.CommentCount != 2 || len(th.Comments) != 2 || !th.Comments[0].Hidden || th.Comments[0].HiddenReason != "Personal contact details." || th.Comments[1].Hidden {
			t.Errorf("owner's thread: count %d comments %+v", th.CommentCount, th.Comments)
		}
	})
	t.Run("a decision before its target", func(t *testing.T) {
		id, _ := protocol.NewEntityID("be", time.Now())
		cid, _ := protocol.NewEntityID("be", time.Now())
		mod.decide("", 1, id, "hide", "Off-topic advertising.")
		mod.decide("", 1, cid, "hide", "Off-topic advertising.")
		mustSync(t, n)
		be.putComment(cid, 1, p2.ID, "Buy our product.")
		be.putPost(id, 1, "helplines", "Cheap advertising", "Buy our product.")
		mustSync(t, n)
		if got := threadIDs(t, n, "helplines", 0); slices.Contains(got, id) {
			t.Errorf("listed: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "product"}); len(got) != 0 {
			t.Errorf("found: %v", got)
		}
		if th := mustThread(t, n, p2.ID, 0); th.CommentCount != 1 {
			t.Errorf("p2 counts %d comments, want 1", th.CommentCount)
		}
	})
	t.Run("an own post hidden shows to this node's members with the reason", func(t *testing.T) {
		e, err := n.Create(t.Context(), Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity,
			Body: postBody(n.ID(), "hotlines", "Our report form", "Link to the form.")})
		if err != nil {
			t.Fatal(err)
		}
		mustSync(t, n)
		mod.decide("", 1, e.ID, "hide", "Broken link.")
		mustSync(t, n)
		if got := threadIDs(t, n, "hotlines", 0); len(got) != 0 {
			t.Errorf("listed without HiddenOf: %v", got)
		}
		l, err := n.CommunityThreads(t.Context(), ThreadQuery{Space: "hotlines", HiddenOf: n.ID()})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Threads) != 1 || !l.Threads[0].Hidden || l.Threads[0].HiddenReason != "Broken link." {
			t.Errorf("own view: %+v", l.Threads)
		}
	})
}
