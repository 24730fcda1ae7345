package hub

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// modNet is a hub with be and fi, for the moderation queue.
type modNet struct {
	th     *testHub
	be, fi *testNode
}

func newModNet(t *testing.T) *modNet {
	th := mustOpenHub(t)
	return &modNet{th: th, be: th.enrolNode(t, "be"), fi: th.enrolNode(t, "fi")}
}

func (m *modNet) post(t *testing.T, n *testNode, space string, vis protocol.Visibility, a protocol.Author, title string) *protocol.Change {
	t.Helper()
	c := n.newChange(t, protocol.KindPost, vis, protocol.Post{Space: space, Format: "thread", Title: title,
		Text: "Text of " + title, Language: "en", Author: a})
	m.mustApply(t, n, c)
	return c
}

func (m *modNet) comment(t *testing.T, n *testNode, post *protocol.Change, a protocol.Author, text string) *protocol.Change {
	t.Helper()
	c := n.newChange(t, protocol.KindComment, post.Visibility, protocol.Comment{Post: post.ID, Text: text, Language: "en", Author: a})
	m.mustApply(t, n, c)
	return c
}

func (m *modNet) flag(t *testing.T, n *testNode, target *protocol.Change, reason, text string, a protocol.Author) *protocol.Change {
	t.Helper()
	c := n.newChange(t, protocol.KindFlag, target.Visibility, protocol.Flag{Target: target.ID, Reason: reason, Text: text, Author: a})
	m.mustApply(t, n, c)
	return c
}

func (m *modNet) mustApply(t *testing.T, n *testNode, cs ...*protocol.Change) {
	t.Helper()
	res := n.mustPush(t, n.signAll(t, cs...)...)
	if len(res.Refused) > 0 {
		t.Fatalf("refused: %+v", res.Refused)
	}
}

func (m *modNet) decide(t *testing.T, target, decision, reason string) string {
	t.Helper()
	id, err := m.th.Decide(t.Context(), Decision{Target: target, Decision: decision, Reason: reason, Actor: account.MemberActor(7)})
	if err != nil {
		t.Fatalf("decide %s %s: %v", decision, target, err)
	}
	return id
}

func (m *modNet) queue(t *testing.T, f QueueFilter) []string {
	t.Helper()
	var ids []string
	q := QueueQuery{Filter: f, Limit: 2}
	for {
		p, err := m.th.Queue(t.Context(), q)
		if err != nil {
			t.Fatalf("queue %q: %v", f, err)
		}
		for _, e := range p.Entries {
			ids = append(ids, e.Item.ID)
		}
		if p.Next == "" {
			return ids
		}
		q.After = p.Next
	}
}

var (
	els    = protocol.Author{Name: "Els, Child Focus", SIC: "be"}
	liisa  = protocol.Author{Name: "Liisa, Pelastakaa Lapset", SIC: "fi"}
	beSam  = protocol.Author{Pseudonym: "be-sam"}
	fiAino = protocol.Author{Pseudonym: "fi-aino"}
)

func TestHub_Queue(t *testing.T) {
	m := newModNet(t)
	flagged := m.post(t, m.be, "helplines", protocol.VisibilityCommunity, els, "Flagged thread")
	quiet := m.post(t, m.be, "helplines", protocol.VisibilityCommunity, els, "Quiet thread")
	reply := m.comment(t, m.fi, quiet, liisa, "A reply someone flags")
	youthPost := m.post(t, m.be, "youth", protocol.VisibilityYouth, beSam, "Youth post")
	f1 := m.flag(t, m.fi, flagged, "personal-data", "Names a caller", liisa)
	m.flag(t, m.fi, reply, "spam", "", liisa)
	m.flag(t, m.be, flagged, "other", "Second look please", els)

	if got, want := m.queue(t, QueueFlagged), []string{flagged.ID, reply.ID}; !slices.Equal(got, want) {
		t.Fatalf("flagged = %v, want %v (oldest first)", got, want)
	}
	if got, want := m.queue(t, QueueYouth), []string{youthPost.ID}; !slices.Equal(got, want) {
		t.Fatalf("youth = %v, want %v", got, want)
	}
	if got, want := m.queue(t, QueueWaiting), []string{youthPost.ID, flagged.ID, reply.ID}; !slices.Equal(got, want) {
		t.Fatalf("waiting = %v, want %v", got, want)
	}
	if got := m.queue(t, QueueDecided); len(got) != 0 {
		t.Fatalf("decided before any decision: %v", got)
	}

	t.Run("an entry carries its flags and the comment its thread", func(t *testing.T) {
		p, err := m.th.Queue(t.Context(), QueueQuery{Filter: QueueFlagged})
		if err != nil {
			t.Fatal(err)
		}
		e := p.Entries[0]
		if e.Item.Title != "Flagged thread" || e.Item.Author != els || e.Item.Owner != "be" || e.Item.Space != "helplines" ||
			e.OpenFlags != 2 || len(e.Flags) != 2 || e.Since.IsZero() || !e.Waiting {
			t.Fatalf("entry %+v", e)
		}
		if f := e.Flags[0]; f.ID != f1.ID || f.Reason != "personal-data" || f.Text != "Names a caller" || f.Owner != "fi" || f.FlaggerName() != liisa.Name || !f.Open {
			t.Fatalf("first flag %+v", f)
		}
		c, err := m.th.Case(t.Context(), reply.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Thread == nil || c.Thread.ID != quiet.ID || c.Item.Space != "helplines" || c.Item.Text != "A reply someone flags" {
			t.Fatalf("comment case %+v", c)
		}
	})

	t.Run("a decision takes an item out; a later flag brings it back", func(t *testing.T) {
		m.decide(t, flagged.ID, DecisionHide, "Names a child who called the helpline.")
		m.decide(t, youthPost.ID, DecisionDismiss, "Looked at: fine.")
		if got, want := m.queue(t, QueueWaiting), []string{reply.ID}; !slices.Equal(got, want) {
			t.Fatalf("waiting after deciding = %v, want %v", got, want)
		}
		if got, want := m.queue(t, QueueDecided), []string{youthPost.ID, flagged.ID}; !slices.Equal(got, want) {
			t.Fatalf("decided = %v, want %v (newest first)", got, want)
		}
		c, err := m.th.Case(t.Context(), flagged.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Item.Hidden || c.Item.HiddenReason != "Names a child who called the helpline." || c.Waiting || len(c.Decisions) != 1 {
			t.Fatalf("hidden case %+v", c)
		}
		for _, f := range c.Flags {
			if f.Open {
				t.Fatalf("a flag before the decision is still open: %+v", f)
			}
		}
		m.flag(t, m.fi, flagged, "harassment", "Still there in the quote", liisa)
		// The reply waits since its flag, the hidden thread since the new one.
		if got, want := m.queue(t, QueueFlagged), []string{reply.ID, flagged.ID}; !slices.Equal(got, want) {
			t.Fatalf("flagged after a new flag = %v, want %v", got, want)
		}
		p, _ := m.th.Queue(t.Context(), QueueQuery{Filter: QueueFlagged})
		for _, e := range p.Entries {
			if e.Item.ID == flagged.ID && (e.OpenFlags != 1 || len(e.Flags) != 3 || e.Last == nil || e.Last.Decision != DecisionHide) {
				t.Fatalf("reopened entry %+v", e)
			}
		}
	})

	t.Run("a youth item that changes after its look waits again", func(t *testing.T) {
		edit := m.be.next(youthPost)
		m.mustApply(t, m.be, edit)
		if got := m.queue(t, QueueYouth); !slices.Equal(got, []string{youthPost.ID}) {
			t.Fatalf("youth after an edit = %v", got)
		}
	})

	t.Run("a deleted item leaves the queue", func(t *testing.T) {
		del := m.fi.next(reply)
		del.Deleted, del.Body = true, nil
		m.mustApply(t, m.fi, del)
		if slices.Contains(m.queue(t, QueueWaiting), reply.ID) {
			t.Fatal("a deleted comment waits")
		}
		if _, err := m.th.Case(t.Context(), reply.ID); !errors.Is(err, ErrNotModerated) {
			t.Fatalf("case of a deleted comment: %v", err)
		}
	})

	t.Run("bad cursors and filters", func(t *testing.T) {
		if _, err := m.th.Queue(t.Context(), QueueQuery{Filter: "everything"}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("an unknown filter: %v", err)
		}
		for _, c := range []string{"x", "0~be:01M97JXJX57R1WK5FJKAX5A9YY", "12~nothing", "12"} {
			if _, err := m.th.Queue(t.Context(), QueueQuery{After: c}); !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %q: %v", c, err)
			}
		}
	})
}

func TestHub_Decide(t *testing.T) {
	m := newModNet(t)
	p := m.post(t, m.be, "helplines", protocol.VisibilityCommunity, els, "A thread")
	y := m.post(t, m.be, "youth", protocol.VisibilityYouth, beSam, "A youth thread")
	news, err := m.th.Publish(t.Context(), protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "News", Text: "News", Language: "en", Author: protocol.Author{Name: "Team", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    Decision
		want error
	}{
		{"no reason", Decision{Target: p.ID, Decision: DecisionDismiss, Reason: "  ", Actor: "member:1"}, ErrNoReason},
		{"long reason", Decision{Target: p.ID, Decision: DecisionHide, Reason: strings.Repeat("x", protocol.MaxModerationReason+1), Actor: "member:1"}, ErrReasonTooLong},
		{"approve", Decision{Target: p.ID, Decision: "approve", Reason: "ok", Actor: "member:1"}, ErrUnknownDecision},
		{"restore what is not hidden", Decision{Target: p.ID, Decision: DecisionRestore, Reason: "ok", Actor: "member:1"}, ErrNotHidden},
		{"the hub's own news", Decision{Target: news, Decision: DecisionHide, Reason: "ok", Actor: "member:1"}, ErrNotModerated},
		{"nothing", Decision{Target: "be:01M97JXJX57R1WK5FJKAX5A9YY", Decision: DecisionHide, Reason: "ok", Actor: "member:1"}, ErrNotModerated},
		{"no moderator", Decision{Target: p.ID, Decision: DecisionHide, Reason: "ok"}, ErrNoActor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.th.Decide(t.Context(), tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}

	hide := m.decide(t, y.ID, DecisionHide, "Shares a phone number.")
	c, err := m.th.storedChange(t.Context(), hide)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != protocol.KindModeration || c.Owner != protocol.HubID || c.Visibility != protocol.VisibilityYouth ||
		!strings.Contains(string(c.Body), `"decision":"hide"`) || !strings.Contains(string(c.Body), y.ID) {
		t.Fatalf("decision entity %+v %s", c, c.Body)
	}
	evs, err := m.th.Accounts().Audit(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Type != EventModerationDecision || evs[0].Actor != account.MemberActor(7) ||
		!strings.Contains(evs[0].Detail, "hide "+y.ID) || !strings.Contains(evs[0].Detail, hide) {
		t.Fatalf("audit %+v", evs)
	}

	t.Run("dismiss after hide leaves it hidden; restore un-hides", func(t *testing.T) {
		m.decide(t, y.ID, DecisionDismiss, "The second report is unfounded.")
		c, err := m.th.Case(t.Context(), y.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Item.Hidden || c.Item.HiddenReason != "Shares a phone number." || len(c.Decisions) != 2 || c.Decisions[0].Decision != DecisionDismiss {
			t.Fatalf("after dismiss: %+v", c)
		}
		m.decide(t, y.ID, DecisionRestore, "The number is the helpline's.")
		if c, _ = m.th.Case(t.Context(), y.ID); c.Item.Hidden {
			t.Fatalf("restored but hidden: %+v", c.Item)
		}
	})
}

func TestHub_AuthorHistory(t *testing.T) {
	m := newModNet(t)
	a := m.post(t, m.be, "youth", protocol.VisibilityYouth, beSam, "One")
	b := m.post(t, m.be, "youth", protocol.VisibilityYouth, beSam, "Two")
	c := m.comment(t, m.be, a, beSam, "Three")
	other := m.post(t, m.fi, "youth", protocol.VisibilityYouth, fiAino, "Someone else")
	named := m.post(t, m.be, "helplines", protocol.VisibilityCommunity, els, "Els writes")
	now := m.post(t, m.be, "youth", protocol.VisibilityYouth, beSam, "Now")
	m.decide(t, a.ID, DecisionHide, "first")
	m.decide(t, a.ID, DecisionRestore, "second")
	m.decide(t, b.ID, DecisionDismiss, "third")
	m.decide(t, c.ID, DecisionHide, "fourth")
	m.decide(t, other.ID, DecisionHide, "not be-sam")
	m.decide(t, named.ID, DecisionHide, "not be-sam either")
	m.decide(t, now.ID, DecisionDismiss, "this item's own")

	// Two pages of two and more: the decided list pages newest first, an
	// item once, by its latest decision.
	if got, want := m.queue(t, QueueDecided), []string{now.ID, named.ID, other.ID, c.ID, b.ID, a.ID}; !slices.Equal(got, want) {
		t.Fatalf("decided = %v, want %v", got, want)
	}
	cs, err := m.th.Case(t.Context(), now.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := cs.History
	if h.Hidden != 2 || h.Restored != 1 || h.Dismissed != 1 || len(h.Recent) != 4 {
		t.Fatalf("history %+v", h)
	}
	if h.Recent[0].Reason != "fourth" || h.Recent[0].Item.ID != c.ID || h.Recent[3].Reason != "first" {
		t.Fatalf("recent, newest first: %+v", h.Recent)
	}
	cs, err = m.th.Case(t.Context(), named.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cs.History.Hidden+cs.History.Restored+cs.History.Dismissed != 0 {
		t.Fatalf("Els has no other decisions: %+v", cs.History)
	}
}
