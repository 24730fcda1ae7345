package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// create writes an entity through a running node's admin API and returns
// its id.
func (a adminAPI) create(t *testing.T, kind protocol.Kind, vis protocol.Visibility, body any) string {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"kind": kind, "visibility": vis, "body": body})
	code, b, err := a.do("POST", "/admin/v1/entities", req)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create a %s on %s: %d %v %s", kind, a.node, code, err, b)
	}
	var e struct{ ID string }
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// decisions counts the hub's moderation decisions a running node holds.
func (a adminAPI) decisions() (int, error) {
	code, b, err := a.do("GET", "/admin/v1/entities?kind=moderation&owner=hub", nil)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("list decisions: HTTP %d", code)
	}
	var l struct{ Entities []json.RawMessage }
	if err := json.Unmarshal(b, &l); err != nil {
		return 0, err
	}
	return len(l.Entities), nil
}

// The moderation queue from flag to every node: a be staff member's
// helpline thread, flagged by a fi member, reaches the hub's queue with
// the flagger and the reason; a moderator signed in to the console hides
// it with a reason, and after a sync round neither node shows it, except
// be's own view, which shows it hidden with the reason. A dismiss of
// another flagged thread changes nothing, nor does a dismiss of the hidden
// one. Every moderation page passes
// axe-core.
func TestE2E_ModerationQueue(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	nw.startNode(be)
	nw.startNode(fi)
	beAPI, fiAPI := admin(t, be), admin(t, fi)
	waitServing(t, nw.hubDir, hubAddrFile)

	els := map[string]any{"name": "Els Peeters, Child Focus", "sic": "be"}
	liisa := map[string]any{"name": "Liisa Virtanen, Pelastakaa Lapset", "sic": "fi"}
	hidden := beAPI.create(t, protocol.KindPost, protocol.VisibilityCommunity, map[string]any{"space": "helplines", "format": "thread",
		"language": "en", "author": els, "title": "A caller from a school in Ghent",
		"text": "A pupil of **Sint-Lucas** called about a photo shared in the class chat; her first name is on it."})
	kept := beAPI.create(t, protocol.KindPost, protocol.VisibilityCommunity, map[string]any{"space": "helplines", "format": "thread",
		"language": "en", "author": els, "title": "Follow-up with parents after sextortion",
		"text": "How do other helplines follow up with parents?"})
	youth := beAPI.create(t, protocol.KindPost, protocol.VisibilityYouth, map[string]any{"space": "youth", "format": "thread",
		"language": "nl", "author": map[string]any{"pseudonym": "be-sam"}, "title": "Gsm's in de klas",
		"text": "Mogen jullie je gsm gebruiken tijdens de les?"})
	waitFor(t, 60*time.Second, "fi to hold be's threads", func() error {
		if !fiAPI.has(hidden) || !fiAPI.has(kept) {
			return errors.New("not yet")
		}
		return nil
	})
	const flagText = "It names the pupil's school and her first name."
	fiAPI.create(t, protocol.KindFlag, protocol.VisibilityCommunity, map[string]any{"target": hidden, "reason": "personal-data",
		"text": flagText, "author": liisa})
	fiAPI.create(t, protocol.KindFlag, protocol.VisibilityCommunity, map[string]any{"target": kept, "reason": "off-topic", "author": liisa})

	out := mustCLI(t, nil, "hub", "member", "add", "mona@example.eu", "--name", "Mona Moderator", "--role", "moderator", "--data", nw.hubDir)
	b := newConsoleBrowser(t)
	b.acceptInvitation(invitationLink(t, out), "mona@example.eu", "eleven quiet lanterns by the canal", "")
	// Each page is audited and kept at a desktop's width and a phone's.
	shots := 0
	check := func(name string) {
		t.Helper()
		shots++
		b.webBrowser.check(fmt.Sprintf("%02d-%s", shots, name))
	}

	queue := nw.hubURL + "/console/moderation/"
	row := func(id string) string { return fmt.Sprintf(`#queue tr[data-item=%q]`, id) }
	waitFor(t, 60*time.Second, "both flags in the hub's queue", func() error {
		ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(queue+"?filter=flagged"), chromedp.WaitVisible(chromedp.CSS("h2"))); err != nil {
			return err
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('%s, %s').length`, row(hidden), row(kept))))
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("%d of 2 flagged threads listed", n)
		}
		return nil
	})
	if s := b.text(row(hidden)); !strings.Contains(s, "A caller from a school in Ghent") || !strings.Contains(s, "Personal data") ||
		!strings.Contains(s, "1 flag") || !strings.Contains(s, "Helplines") {
		t.Errorf("the queue's row: %q", s)
	}
	check("queue-flagged")
	b.step("open the waiting tab", chromedp.Navigate(queue), chromedp.WaitVisible(chromedp.CSS("#queue")))
	check("queue-waiting")
	b.step("open the youth tab", chromedp.Navigate(queue+"?filter=youth"), chromedp.WaitVisible(chromedp.CSS(row(youth))))
	if s := b.text("#queue"); strings.Contains(s, "A caller from a school") {
		t.Error("the youth tab lists a helplines thread")
	}
	check("queue-youth")
	b.step("open the youth post", chromedp.Click(chromedp.CSS(row(youth)+" a")), chromedp.WaitVisible(chromedp.CSS("#item-text")))
	b.mustShow("#item-author", "be-sam")
	check("item-youth")

	b.step("open the flagged thread", chromedp.Navigate(queue), chromedp.WaitVisible(chromedp.CSS("#queue")),
		chromedp.Click(chromedp.CSS(row(hidden)+" a")), chromedp.WaitVisible(chromedp.CSS("#flags")))
	if s := b.text("#flags"); !strings.Contains(s, "Liisa Virtanen, Pelastakaa Lapset") || !strings.Contains(s, flagText) ||
		!strings.Contains(s, "Personal data") || !strings.Contains(s, "fi") {
		t.Errorf("the flags: %q", s)
	}
	if s := get(t, b.ctx, "read the rendered text", chromedp.InnerHTML(chromedp.CSS("#item-text"))); !strings.Contains(s, "<strong>Sint-Lucas</strong>") {
		t.Errorf("the item is not rendered from Markdown: %q", s)
	}
	check("item")

	b.step("decide without a reason", chromedp.Click(chromedp.CSS("#decision-hide")), chromedp.Submit(chromedp.CSS("#reason")),
		chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	b.mustShow("#error-summary", "Give the reason for your decision.")
	if v := get(t, b.ctx, "read the choice", chromedp.Evaluate[bool](`document.querySelector('#decision-hide').checked`)); !v {
		t.Error("the refused form lost the decision")
	}
	check("item-errors")
	const reason = "Names a pupil and her school: personal data of a child."
	b.step("hide with a reason", chromedp.SendKeys(chromedp.CSS("#reason"), reason), chromedp.Submit(chromedp.CSS("#reason")),
		chromedp.WaitVisible(chromedp.CSS("#decided")))
	b.mustShow("#hidden-state", reason)
	b.mustShow("#decisions", "Hidden")
	check("item-hidden")
	b.step("open the decided tab", chromedp.Navigate(queue+"?filter=decided"), chromedp.WaitVisible(chromedp.CSS(row(hidden))))
	b.mustShow(row(hidden), "hidden")
	check("queue-decided")

	waitFor(t, 60*time.Second, "be and fi to pull the hide", func() error {
		for _, a := range []adminAPI{beAPI, fiAPI} {
			if n, err := a.decisions(); err != nil || n != 1 {
				return fmt.Errorf("%s holds %d decisions (%v)", a.node, n, err)
			}
		}
		return nil
	})

	b.step("open the other flagged thread", chromedp.Navigate(queue+"?filter=flagged"), chromedp.WaitVisible(chromedp.CSS(row(kept))),
		chromedp.Click(chromedp.CSS(row(kept)+" a")), chromedp.WaitVisible(chromedp.CSS("#flags")))
	b.step("dismiss its flag", chromedp.Click(chromedp.CSS("#decision-dismiss")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "A question about parents belongs in helplines."), chromedp.Submit(chromedp.CSS("#reason")),
		chromedp.WaitVisible(chromedp.CSS("#decided")))
	if s := b.text("#decided"); !strings.Contains(s, "Nothing changes") {
		t.Errorf("after dismissing: %q", s)
	}
	check("item-dismissed")
	b.step("the flagged tab is empty", chromedp.Navigate(queue+"?filter=flagged"), chromedp.WaitVisible(chromedp.CSS("#queue-empty")))
	check("queue-flagged-empty")
	// A dismiss after the hide says a later look found nothing new: the
	// thread stays hidden, on the hub and on every node.
	b.step("dismiss on the hidden thread", chromedp.Navigate(queue+"?filter=decided"), chromedp.WaitVisible(chromedp.CSS(row(hidden))),
		chromedp.Click(chromedp.CSS(row(hidden)+" a")), chromedp.WaitVisible(chromedp.CSS("#decision-restore")),
		chromedp.Click(chromedp.CSS("#decision-dismiss")), chromedp.SendKeys(chromedp.CSS("#reason"), "Looked at again: the hide stands."),
		chromedp.Submit(chromedp.CSS("#reason")), chromedp.WaitVisible(chromedp.CSS("#decided")))
	b.mustShow("#hidden-state", reason)
	waitFor(t, 60*time.Second, "be and fi to pull both dismisses", func() error {
		for _, a := range []adminAPI{beAPI, fiAPI} {
			if n, err := a.decisions(); err != nil || n != 3 {
				return fmt.Errorf("%s holds %d decisions (%v)", a.node, n, err)
			}
		}
		return nil
	})

	// Read what each node's workspace would show, from its own database.
	be.proc.stop()
	fi.proc.stop()
	for _, tn := range []*testNode{be, fi} {
		cfg := node.DefaultConfig()
		cfg.DataDir = tn.dir
		n, err := node.Open(t.Context(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.CommunityThread(t.Context(), hidden, 0, node.CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
			t.Errorf("%s shows the hidden thread to its members: %v", tn.id, err)
		}
		th, err := n.CommunityThread(t.Context(), kept, 0, node.CommentPage{})
		if err != nil || th.Post.Hidden {
			t.Errorf("%s after a dismiss: %+v %v", tn.id, th.Post, err)
		}
		if tn.id == "be" {
			th, err := n.CommunityThread(t.Context(), hidden, 0, node.CommentPage{HiddenOf: "be"})
			if err != nil || !th.Post.Hidden || th.Post.HiddenReason != reason {
				t.Errorf("be's own view of its hidden thread: %+v %v", th.Post, err)
			}
		}
		n.Close()
	}
}
