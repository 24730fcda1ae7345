package hub

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

const marker = "ZZ-PRIVATE-MARKER-7731"

// apiEntity is what these tests read of an entity of the public JSON API.
type apiEntity struct {
	ID       string             `json:"id"`
	Kind     protocol.Kind      `json:"kind"`
	Owner    string             `json:"owner"`
	Version  int64              `json:"version"`
	HubSeq   int64              `json:"hub_seq"`
	Blobs    []protocol.BlobRef `json:"blobs"`
	Outdated *bool              `json:"outdated"`
}

// index brings the portal's index up to the aggregate: the JSON API and
// public files answer from it.
func (th *testHub) index(tb testing.TB) {
	tb.Helper()
	for {
		more, err := th.Portal().IndexOnce(tb.Context())
		if err != nil {
			tb.Fatal(err)
		}
		if !more {
			return
		}
	}
}

func TestHub_PublicAPI(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")

	pub := be.resource(t, "Open guide", protocol.VisibilityPublic)
	pubV2 := be.next(pub)
	community := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines",
		Format: "thread", Title: "Case " + marker, Text: "text " + marker, Language: "en", Author: protocol.Author{Name: "a", SIC: "be"}})
	youth := be.newChange(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "blog", Title: "Youth " + marker, Text: "t " + marker, Language: "en", Author: protocol.Author{Pseudonym: "be-kid"}})
	future := time.Now().Add(48 * time.Hour).UTC()
	scheduled := be.resource(t, "Embargoed "+marker, protocol.VisibilityPublic)
	scheduled.PublishAt = &future
	communityRes := be.resource(t, "Members only "+marker, protocol.VisibilityCommunity)
	doomed := be.resource(t, "Deleted "+marker, protocol.VisibilityPublic)
	doomedDel := be.next(doomed)
	doomedDel.Deleted, doomedDel.Body = true, nil
	be.mustPush(t, be.signAll(t, pub, pubV2, community, youth, scheduled, communityRes, doomed, doomedDel)...)

	tr := func(res *protocol.Change, lang, title string, source int64) *protocol.Change {
		return fi.newChange(t, protocol.KindTranslation, protocol.VisibilityPublic, protocol.Translation{Resource: res.ID,
			SourceVersion: source, Language: lang, Title: title, Method: "human", Review: "reviewed"})
	}
	trOld := tr(pub, "fi", "Avoin opas", 1)
	trNew := tr(pub, "sv", "Öppen guide", 2)
	trScheduled := tr(scheduled, "fi", "Kielletty "+marker, 1)
	trScheduled.PublishAt = &future // a translation may not come out before its resource
	trCommunity := tr(communityRes, "fi", "Jäsenille "+marker, 1)
	// Public once, then the members': withdrawn.
	withdrawn := fi.resource(t, "Withdrawn "+marker, protocol.VisibilityPublic)
	withdrawnV2 := fi.next(withdrawn)
	withdrawnV2.Visibility = protocol.VisibilityCommunity
	// Scheduled for a moment from now, with its translation.
	soonAt := time.Now().Add(1500 * time.Millisecond).UTC()
	soon := fi.resource(t, "Soon", protocol.VisibilityPublic)
	soon.PublishAt = &soonAt
	trSoon := tr(soon, "sv", "Snart", 1)
	trSoon.PublishAt = &soonAt
	fi.mustPush(t, fi.signAll(t, trOld, trNew, trScheduled, trCommunity, withdrawn)...)
	th.index(t)
	fi.mustPush(t, fi.signAll(t, withdrawnV2, soon, trSoon)...)
	svc, err := th.Publish(ctx, protocol.KindService, protocol.VisibilityPublic, protocol.Service{Name: "ChatApp",
		Category: "messaging", URL: "https://chat.example", MinimumAge: 13, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	th.index(t)

	var bodies []string
	fetch := func(path string, want int) []byte {
		t.Helper()
		code, b := get(t, th.url+path, "")
		if code != want {
			t.Fatalf("GET %s = %d %s, want %d", path, code, b, want)
		}
		bodies = append(bodies, string(b))
		return b
	}
	list := func(q string) []apiEntity {
		t.Helper()
		var out struct {
			Entities []apiEntity `json:"entities"`
			Next     string      `json:"next"`
		}
		if err := json.Unmarshal(fetch("/api/v1/entities?"+q, 200), &out); err != nil {
			t.Fatal(err)
		}
		return out.Entities
	}
	ids := func(es []apiEntity) []string {
		var s []string
		for _, e := range es {
			s = append(s, e.ID)
		}
		return s
	}

	all := list("")
	if got := ids(all); len(got) != 4 || !containsAll(got, pub.ID, trOld.ID, trNew.ID, svc) {
		t.Fatalf("public list = %v", got)
	}
	for _, e := range all {
		if e.ID == pub.ID && (e.Version != 2 || e.Owner != "be" || e.Kind != protocol.KindResource || e.HubSeq == 0 || e.Blobs == nil) {
			t.Fatalf("resource metadata = %+v", e)
		}
	}
	if got := ids(list("kind=resource&owner=be")); len(got) != 1 || got[0] != pub.ID {
		t.Fatalf("kind=resource&owner=be = %v", got)
	}
	if got := ids(list("kind=translation&lang=sv")); len(got) != 1 || got[0] != trNew.ID {
		t.Fatalf("translations in sv = %v", got)
	}
	if got := ids(list("lang=nl")); len(got) != 1 || got[0] != pub.ID {
		t.Fatalf("lang=nl = %v", got)
	}
	page1 := list("limit=2")
	page2 := list("limit=2&after=" + url.QueryEscape(page1[1].ID))
	if len(page1) != 2 || len(page2) != 2 || page2[0].ID <= page1[1].ID {
		t.Fatalf("paging: %v then %v", ids(page1), ids(page2))
	}

	fetch("/api/v1/entities/"+pub.ID, 200)
	missing := fetch("/api/v1/entities/be:01ARZ3NDEKTSV4RRFFQ69G5FAV", 404)
	for _, c := range []*protocol.Change{community, youth, scheduled, communityRes, doomed, trScheduled, trCommunity, withdrawn, soon, trSoon} {
		if b := fetch("/api/v1/entities/"+c.ID, 404); string(b) != string(missing) {
			t.Fatalf("404 for %s differs from a missing id's: %s vs %s", c.ID, b, missing)
		}
		if b := fetch("/api/v1/resources/"+c.ID+"/translations", 404); string(b) != string(missing) {
			t.Fatalf("translations 404 for %s differs: %s", c.ID, b)
		}
	}

	var trs struct {
		Resource     string      `json:"resource"`
		Version      int64       `json:"version"`
		Translations []apiEntity `json:"translations"`
	}
	if err := json.Unmarshal(fetch("/api/v1/resources/"+pub.ID+"/translations", 200), &trs); err != nil {
		t.Fatal(err)
	}
	if trs.Version != 2 || len(trs.Translations) != 2 {
		t.Fatalf("translations = %+v", trs)
	}
	for _, e := range trs.Translations {
		wantOutdated := e.ID == trOld.ID
		if e.Outdated == nil || *e.Outdated != wantOutdated {
			t.Fatalf("translation %s outdated = %v, want %v", e.ID, e.Outdated, wantOutdated)
		}
	}
	for _, q := range []string{"kind=post", "kind=moderation", "kind=comment", "owner=fi", "lang=en", "kind=nope", "limit=x"} {
		code, b := get(t, th.url+"/api/v1/entities?"+q, "")
		if code != 200 && code != 400 {
			t.Fatalf("GET ?%s = %d", q, code)
		}
		bodies = append(bodies, string(b))
	}

	// Once its time has come, the scheduled resource and its translation appear.
	eventually(t, 10*time.Second, func() bool {
		th.index(t)
		code, b := get(t, th.url+"/api/v1/entities?kind=translation", "")
		return code == 200 && strings.Contains(string(b), trSoon.ID) && strings.Contains(string(b), `"publish_at"`)
	}, "the scheduled resource's translation to appear")
	fetch("/api/v1/entities/"+soon.ID, 200)

	for _, b := range bodies[:len(bodies)-1] {
		if strings.Contains(b, marker) {
			t.Fatalf("a public API response leaks private content: %s", b)
		}
	}
}

func containsAll(have []string, want ...string) bool {
	m := map[string]bool{}
	for _, h := range have {
		m[h] = true
	}
	for _, w := range want {
		if !m[w] {
			return false
		}
	}
	return true
}
