package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/protocol"
)

func TestConsole_Moderation(t *testing.T) {
	f := newFixture(t)
	be, fi := f.enrol(t, "bx"), f.enrol(t, "fi")
	post := be.publish(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines", Format: "thread",
		Title: "Calls about sextortion", Text: "We had **three** calls <script>alert(1)</script> this week.", Language: "en",
		Author: protocol.Author{Name: "Els, Child Focus", SIC: "bx"}})
	fi.publish(t, protocol.KindFlag, protocol.VisibilityCommunity, protocol.Flag{Target: post, Reason: "personal-data",
		Text: "It names a caller's school.", Author: protocol.Author{Name: "Liisa Virtanen", SIC: "fi"}})
	youth := be.publish(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth", Format: "thread",
		Title: "Our school's phone rules", Text: "What do you think?", Language: "en", Author: protocol.Author{Pseudonym: "bx-sam"}})
	itemPath := "/console/moderation/" + post

	t.Run("who reads and who decides", func(t *testing.T) {
		for _, tc := range []struct {
			role, method, path string
			want               int
		}{
			{"", "GET", "/console/moderation/", http.StatusSeeOther},
			{"operator", "GET", "/console/moderation/", http.StatusForbidden},
			{"operator", "GET", itemPath, http.StatusForbidden},
			{"coordinator", "GET", "/console/moderation/", http.StatusOK},
			{"coordinator", "GET", itemPath, http.StatusOK},
			{"moderator", "GET", "/console/moderation/?filter=decided", http.StatusOK},
			{"moderator", "GET", "/console/moderation/?filter=nonsense", http.StatusNotFound},
			{"moderator", "GET", "/console/moderation/?after=nonsense", http.StatusBadRequest},
			{"moderator", "GET", "/console/moderation/bx:01M97JXJX57R1WK5FJKAX5A9YY", http.StatusNotFound},
		} {
			code, _, _ := f.do(t, tc.role, tc.method, tc.path, nil)
			if code != tc.want {
				t.Errorf("%s %s %s: %d, want %d", tc.role, tc.method, tc.path, code, tc.want)
			}
		}
		_, _, body := f.do(t, "coordinator", "GET", itemPath, nil)
		if strings.Contains(body, `name="decision"`) {
			t.Error("a coordinator is offered the decision form")
		}
		code, _, _ := f.do(t, "coordinator", "POST", itemPath, url.Values{"form_token": {f.token(t, "coordinator")},
			"decision": {"hide"}, "reason": {"no"}}, "Sec-Fetch-Site", "same-origin")
		if code != http.StatusForbidden {
			t.Errorf("a coordinator's decision: %d, want 403", code)
		}
		_, _, body = f.do(t, "moderator", "GET", "/console/", nil)
		if !strings.Contains(body, `href="/console/moderation/"`) {
			t.Error("a moderator's menu lacks the queue")
		}
	})

	t.Run("the queue lists both items with their flags", func(t *testing.T) {
		code, _, body := f.do(t, "moderator", "GET", "/console/moderation/", nil)
		if code != http.StatusOK {
			t.Fatalf("queue: %d", code)
		}
		for _, want := range []string{"Calls about sextortion", "Our school&#39;s phone rules", `data-flags="1"`, "Personal data", "Helplines", "European youth"} {
			if !strings.Contains(body, want) {
				t.Errorf("the queue lacks %q", want)
			}
		}
		_, _, flagged := f.do(t, "moderator", "GET", "/console/moderation/?filter=flagged", nil)
		if strings.Contains(flagged, youth) || !strings.Contains(flagged, post) {
			t.Error("the flagged tab shows the unflagged youth post, or not the flagged one")
		}
		if !strings.Contains(flagged, `aria-current="page">Flagged`) {
			t.Error("the flagged tab is not marked current")
		}
	})

	t.Run("the item page renders the text safely and shows the flagger", func(t *testing.T) {
		_, _, body := f.do(t, "moderator", "GET", itemPath, nil)
		for _, want := range []string{"<strong>three</strong>", "&lt;script&gt;", "Liisa Virtanen", "It names a caller&#39;s school.", `name="decision"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the item page lacks %q", want)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Error("the item's script is on the page")
		}
		if strings.Contains(body, `value="restore"`) {
			t.Error("restore is offered for an item that is not hidden")
		}
		reply := fi.publish(t, protocol.KindComment, protocol.VisibilityCommunity, protocol.Comment{Post: post, Text: "We see the _same_.",
			Language: "en", Author: protocol.Author{Name: "Liisa Virtanen", SIC: "fi"}})
		code, _, body := f.do(t, "moderator", "GET", "/console/moderation/"+reply, nil)
		if code != http.StatusOK || !strings.Contains(body, "Comment by Liisa Virtanen") || !strings.Contains(body, `id="thread-text"`) ||
			!strings.Contains(body, "Calls about sextortion") || !strings.Contains(body, "<em>same</em>") {
			t.Errorf("a comment's page lacks its thread or its text: %d\n%s", code, body)
		}
	})

	tok := f.token(t, "moderator")
	decide := func(decision, reason string) (int, http.Header, string) {
		t.Helper()
		return f.do(t, "moderator", "POST", itemPath, url.Values{"form_token": {tok}, "decision": {decision}, "reason": {reason}},
			"Sec-Fetch-Site", "same-origin")
	}

	t.Run("a decision without reason or choice comes back with the input", func(t *testing.T) {
		code, _, body := decide("", "Half a thought")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="error-summary"`) ||
			!strings.Contains(body, "Choose hide, restore or dismiss.") || !strings.Contains(body, ">Half a thought</textarea>") {
			t.Fatalf("no choice: %d\n%s", code, body)
		}
		code, _, body = decide("hide", "   ")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Give the reason for your decision.") ||
			!strings.Contains(body, `value="hide" aria-describedby="decision-hide-hint" checked`) {
			t.Fatalf("no reason: %d", code)
		}
		code, _, _ = decide("hide", strings.Repeat("é", protocol.MaxModerationReason))
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("a reason too long: %d", code)
		}
		code, _, _ = decide("restore", "Nothing to restore")
		if code != http.StatusConflict {
			t.Fatalf("restore of a visible item: %d", code)
		}
		if c, _ := f.hub.Case(context.Background(), post); len(c.Decisions) != 0 {
			t.Fatalf("refused forms decided: %+v", c.Decisions)
		}
	})

	const reason = "It names a caller's school."
	t.Run("hide", func(t *testing.T) {
		code, hd, _ := decide("hide", reason)
		if code != http.StatusSeeOther || hd.Get("Location") != itemPath+"?done=hide" {
			t.Fatalf("hide: %d %s", code, hd.Get("Location"))
		}
		_, _, body := f.do(t, "moderator", "GET", hd.Get("Location"), nil)
		if !strings.Contains(body, `id="decided"`) || !strings.Contains(body, `id="hidden-state"`) || !strings.Contains(body, html.EscapeString(reason)) {
			t.Fatalf("after hiding:\n%s", body)
		}
		c, err := f.hub.Case(context.Background(), post)
		if err != nil || !c.Item.Hidden || c.Item.HiddenReason != reason || c.Waiting {
			t.Fatalf("case after hiding: %+v %v", c, err)
		}
		evs, err := f.hub.Accounts().Audit(context.Background(), 0, 5)
		if err != nil || evs[0].Type != hub.EventModerationDecision || evs[0].Actor != "member:"+itoa(f.ids["moderator"]) {
			t.Fatalf("audit: %+v %v", evs, err)
		}
		_, _, log := f.do(t, "operator", "GET", "/console/members/audit", nil)
		if !strings.Contains(log, "moderation decision") || !strings.Contains(log, "hide "+post) {
			t.Error("the audit log page does not show the decision in words")
		}
		_, _, waiting := f.do(t, "moderator", "GET", "/console/moderation/?filter=flagged", nil)
		if strings.Contains(waiting, post) {
			t.Error("the hidden item still waits")
		}
		_, _, decided := f.do(t, "moderator", "GET", "/console/moderation/?filter=decided", nil)
		if !strings.Contains(decided, post) || !strings.Contains(decided, `<span class="badge bad">hidden</span>`) {
			t.Errorf("the decided list lacks the hidden item")
		}
	})

	t.Run("dismiss after hide leaves it hidden", func(t *testing.T) {
		if code, _, _ := decide("dismiss", "The second look found nothing new."); code != http.StatusSeeOther {
			t.Fatalf("dismiss: %d", code)
		}
		c, _ := f.hub.Case(context.Background(), post)
		if !c.Item.Hidden || c.Item.HiddenReason != reason {
			t.Fatalf("a dismiss un-hid it: %+v", c.Item)
		}
		_, _, body := f.do(t, "moderator", "GET", itemPath, nil)
		if !strings.Contains(body, `value="restore"`) {
			t.Error("restore is not offered for a hidden item")
		}
	})

	t.Run("a forged decision changes nothing", func(t *testing.T) {
		code, _, _ := f.do(t, "moderator", "POST", itemPath, url.Values{"decision": {"restore"}, "reason": {"forged"}}, "Sec-Fetch-Site", "cross-site")
		if code != http.StatusForbidden {
			t.Fatalf("cross-site decision: %d", code)
		}
		if c, _ := f.hub.Case(context.Background(), post); !c.Item.Hidden {
			t.Fatal("a forged request restored the item")
		}
	})
}
