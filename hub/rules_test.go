package hub

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func profileBody(country, name string) protocol.Profile {
	return protocol.Profile{Country: country, Name: name, Languages: []string{"en"},
		Helpline: &protocol.Helpline{Name: name + " helpline", Phone: "116111"}}
}

func refusalCodes(res *protocol.PushResult) []protocol.Code {
	var out []protocol.Code
	for _, r := range res.Refused {
		out = append(out, r.Code)
	}
	return out
}

func TestHub_PushMissingSeq(t *testing.T) {
	for _, tc := range []struct {
		name        string
		carry       []int // indexes of the five records the body carries
		wantApplied int
		wantSeq     int64
		wantMissing int64
	}{
		{"all carried", []int{0, 1, 2, 3, 4}, 5, 5, 0},
		{"middle line lost", []int{0, 1, 3, 4}, 2, 2, 3},
		{"first line lost", []int{1, 2, 3, 4}, 0, 0, 1},
		{"tail lost", []int{0, 1, 2}, 3, 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := mustOpenHub(t)
			be := th.enrolNode(t, "be")
			var all []protocol.Signed
			for i := range 5 {
				all = append(all, be.sign(t, be.resource(t, "R"+itoa(int64(i)), protocol.VisibilityPublic)))
			}
			var lines [][]byte
			for _, i := range tc.carry {
				lines = append(lines, protocol.AppendSigned(nil, all[i]))
			}
			res, status, body := be.pushRaw(t, protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 1, ToSeq: 5, HeadSeq: 5}, lines...)
			if status != 200 {
				t.Fatalf("push = %d %s", status, body)
			}
			if res.Applied != tc.wantApplied || res.AppliedSeq != tc.wantSeq || res.MissingSeq != tc.wantMissing || len(res.Refused) != 0 {
				t.Fatalf("push = applied %d applied_seq %d missing %d refused %v; want %d, %d, %d, none",
					res.Applied, res.AppliedSeq, res.MissingSeq, res.Refused, tc.wantApplied, tc.wantSeq, tc.wantMissing)
			}
			if tc.wantSeq == 5 {
				return
			}
			// Sent again in full from the checkpoint, everything arrives.
			res = be.mustPush(t, all[tc.wantSeq:]...)
			if res.AppliedSeq != 5 || res.Applied != 5-tc.wantApplied {
				t.Fatalf("push again = %+v", res)
			}
		})
	}

	t.Run("refused records count as carried", func(t *testing.T) {
		th := mustOpenHub(t)
		be := th.enrolNode(t, "be")
		ok := be.sign(t, be.resource(t, "fine", protocol.VisibilityPublic))
		bad := be.sign(t, be.resource(t, "tampered", protocol.VisibilityPublic))
		bad.Sig[0] ^= 0xff
		unparsable := be.resource(t, "odd", protocol.VisibilityPublic)
		unparsable.Kind = "recipe"
		last := be.sign(t, be.resource(t, "last", protocol.VisibilityPublic))
		res, status, body := be.pushRaw(t, protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 1, ToSeq: 4, HeadSeq: 4},
			protocol.AppendSigned(nil, ok), protocol.AppendSigned(nil, bad), protocol.AppendSigned(nil, be.sign(t, unparsable)), protocol.AppendSigned(nil, last))
		if status != 200 || res.AppliedSeq != 4 || res.Applied != 2 || len(res.Refused) != 2 || res.MissingSeq != 0 {
			t.Fatalf("push = %d %s", status, body)
		}
	})

	t.Run("a line without a readable seq proves nothing", func(t *testing.T) {
		th := mustOpenHub(t)
		be := th.enrolNode(t, "be")
		first := be.sign(t, be.resource(t, "first", protocol.VisibilityPublic))
		be.seq++ // seq 2 travels as an unreadable line
		third := be.sign(t, be.resource(t, "third", protocol.VisibilityPublic))
		res, status, body := be.pushRaw(t, protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 1, ToSeq: 3, HeadSeq: 3},
			protocol.AppendSigned(nil, first), []byte(`{"change":{"v":1,`), protocol.AppendSigned(nil, third))
		if status != 200 || res.AppliedSeq != 1 || res.MissingSeq != 2 || res.Applied != 1 {
			t.Fatalf("push = %d %s", status, body)
		}
	})
}

func TestHub_PushAfterMissingSeq(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	var all []protocol.Signed
	for i := range 6 {
		all = append(all, be.sign(t, be.resource(t, "R"+itoa(int64(i)), protocol.VisibilityPublic)))
	}
	// The first push lacks seq 2: the next must start from it.
	res, _, _ := be.pushRaw(t, protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 1, ToSeq: 3, HeadSeq: 6},
		protocol.AppendSigned(nil, all[0]), protocol.AppendSigned(nil, all[2]))
	if res == nil || res.AppliedSeq != 1 || res.MissingSeq != 2 {
		t.Fatalf("first push = %+v, want applied_seq 1, missing_seq 2", res)
	}
	if _, err := be.client.Push(t.Context(), protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 4, ToSeq: 6, HeadSeq: 6}, all[3:]); !errors.Is(err, protocol.ErrSeqGap) {
		t.Fatalf("push from seq 4: %v, want seq_gap", err)
	}
	res = be.mustPush(t, all[1:]...)
	if res.AppliedSeq != 6 || res.Applied != 5 {
		t.Fatalf("push again = %+v", res)
	}
}

func TestHub_PushReadFailure(t *testing.T) {
	fault := filepath.Join(t.TempDir(), "fault")
	th := mustOpenHub(t, func(c *Config) { c.TestFaultFile = fault })
	be := th.enrolNode(t, "be")
	blob := newTestBlob(7, 2000, "minutes.txt", "text/plain")
	be.upload(t, blob)
	plain := be.sign(t, be.resource(t, "before", protocol.VisibilityPublic))
	withBlob := be.resource(t, "with attachment", protocol.VisibilityPublic)
	withBlob.Blobs = []protocol.BlobRef{blob.ref}
	signed := be.sign(t, withBlob)

	if err := os.WriteFile(fault, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := be.push(t, plain, signed)
	if !errors.Is(err, protocol.ErrUnavailable) {
		t.Fatalf("push during a read failure: %v, want unavailable", err)
	}
	if st, err := th.NetworkStatus(context.Background()); err != nil || st.Entities != 0 {
		t.Fatalf("entities after a failed push = %+v, %v; want 0", st, err)
	}
	if f, err := be.client.Changes(t.Context(), 0, 1, 0); err != nil || f.You == nil || f.You.AppliedSeq != 0 {
		t.Fatalf("checkpoint after a failed push = %+v, %v; want 0", f, err)
	}

	os.Remove(fault)
	res := be.mustPush(t, plain, signed)
	if res.Applied != 2 || res.AppliedSeq != 2 || len(res.Refused) != 0 {
		t.Fatalf("push after the fault = %+v", res)
	}
}

func TestHub_ProfileCountry(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	fi := th.enrolNode(t, "fi")
	ctx := context.Background()

	// A node speaks for its own country only.
	res := fi.mustPush(t, fi.sign(t, fi.newChange(t, protocol.KindProfile, protocol.VisibilityPublic, profileBody("be", "Not Child Focus"))))
	if got := refusalCodes(res); len(got) != 1 || got[0] != protocol.CodeCountryNotAllowed || res.AppliedSeq != 1 {
		t.Fatalf("fi's profile for be = %+v", res)
	}
	own := be.newChange(t, protocol.KindProfile, protocol.VisibilityPublic, profileBody("be", "Child Focus"))
	if res := be.mustPush(t, be.sign(t, own)); res.Applied != 1 {
		t.Fatalf("be's own profile = %+v", res)
	}
	// One live profile per country: a second one is refused, an update is not.
	second := be.newChange(t, protocol.KindProfile, protocol.VisibilityPublic, profileBody("be", "Child Focus bis"))
	update := be.next(own)
	res = be.mustPush(t, be.sign(t, second), be.sign(t, update))
	if got := refusalCodes(res); len(got) != 1 || got[0] != protocol.CodeCountryTaken || res.Applied != 1 {
		t.Fatalf("second profile for be = %+v", res)
	}
	// Deleted, the profile frees its country, in the same batch.
	del := be.next(update)
	del.Deleted, del.Body = true, nil
	third := be.newChange(t, protocol.KindProfile, protocol.VisibilityPublic, profileBody("be", "Child Focus ter"))
	if res := be.mustPush(t, be.sign(t, del), be.sign(t, third)); res.Applied != 2 {
		t.Fatalf("profile after the delete = %+v", res)
	}

	// The hub speaks for no country; a node bound at registration for one.
	if _, err := th.Publish(ctx, protocol.KindProfile, protocol.VisibilityPublic, profileBody("eu", "Hub")); !errors.Is(err, protocol.ErrCountryNotAllowed) {
		t.Fatalf("hub profile: %v", err)
	}
	tok, err := th.RegisterNode(ctx, "childfocus", "Child Focus", "NL")
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t, "childfocus")
	enrolled, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "childfocus", Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"})
	if err != nil || len(enrolled.Countries) != 1 || enrolled.Countries[0] != "nl" {
		t.Fatalf("enrolment answer = %+v, %v; want countries [nl]", enrolled, err)
	}
	if got := th.countriesOf("childfocus"); len(got) != 1 || got[0] != "nl" {
		t.Fatalf("countries of childfocus = %v", got)
	}
	if _, err := th.RegisterNode(ctx, "childfocus", "Child Focus"); err != nil {
		t.Fatal(err)
	}
	if got := th.countriesOf("childfocus"); len(got) != 1 || got[0] != "nl" {
		t.Fatalf("countries of childfocus after registering again = %v, want kept", got)
	}
	if _, err := th.RegisterNode(ctx, "xx", "X", "bel"); !errors.Is(err, protocol.ErrInvalidField) {
		t.Fatalf("register with a bad country: %v", err)
	}
}

func TestHub_ReferenceRules(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	fi := th.enrolNode(t, "fi")
	future := time.Now().Add(48 * time.Hour).UTC()

	thread := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines", Format: "thread",
		Title: "Sextortion", Text: "Seen more cases?", Language: "en", Author: protocol.Author{Name: "Helpline", SIC: "be"}})
	res := be.newChange(t, protocol.KindResource, protocol.VisibilityPublic, resourceBody("Guide"))
	resV2 := be.next(res)
	gone := be.resource(t, "Gone", protocol.VisibilityPublic)
	goneDel := be.next(gone)
	goneDel.Deleted, goneDel.Body = true, nil
	embargoed := be.resource(t, "Embargoed", protocol.VisibilityPublic)
	embargoed.PublishAt = &future
	// A comment on a post of the same batch.
	youthComment := be.newChange(t, protocol.KindComment, protocol.VisibilityYouth, protocol.Comment{Post: thread.ID, Text: "hi", Language: "en", Author: protocol.Author{Pseudonym: "be-kid"}})
	if r := be.mustPush(t, be.signAll(t, thread, res, resV2, gone, goneDel, embargoed, youthComment)...); len(r.Refused) != 1 ||
		r.Refused[0].Code != protocol.CodeVisibilityMismatch || r.Refused[0].ID != youthComment.ID {
		t.Fatalf("same batch = %+v", r)
	}

	tr := func(resource string, source int64, vis protocol.Visibility) *protocol.Change {
		return fi.newChange(t, protocol.KindTranslation, vis, protocol.Translation{Resource: resource, SourceVersion: source,
			Language: "fi", Title: "Opas", Method: "human", Review: "reviewed"})
	}
	comment := func(vis protocol.Visibility) *protocol.Change {
		return fi.newChange(t, protocol.KindComment, vis, protocol.Comment{Post: thread.ID, Text: "Yes", Language: "en", Author: protocol.Author{Name: "Mikko", SIC: "fi"}})
	}
	for _, tc := range []struct {
		name string
		c    func() *protocol.Change
		want protocol.Code // "" applies
	}{
		{"comment with its post's visibility", func() *protocol.Change { return comment(protocol.VisibilityCommunity) }, ""},
		{"youth comment on a staff thread", func() *protocol.Change { return comment(protocol.VisibilityYouth) }, protocol.CodeVisibilityMismatch},
		{"translation of the current version", func() *protocol.Change { return tr(res.ID, 2, protocol.VisibilityPublic) }, ""},
		{"translation of an older version", func() *protocol.Change { return tr(res.ID, 1, protocol.VisibilityPublic) }, ""},
		{"source_version ahead of the resource", func() *protocol.Change { return tr(res.ID, 3, protocol.VisibilityPublic) }, protocol.CodeInvalidSource},
		{"translation with another visibility", func() *protocol.Change { return tr(res.ID, 2, protocol.VisibilityCommunity) }, protocol.CodeVisibilityMismatch},
		{"resource that does not exist", func() *protocol.Change { return tr("be:01ARZ3NDEKTSV4RRFFQ69G5FAV", 1, protocol.VisibilityPublic) }, protocol.CodeInvalidSource},
		{"deleted resource", func() *protocol.Change { return tr(gone.ID, 1, protocol.VisibilityPublic) }, protocol.CodeInvalidSource},
		{"not a resource", func() *protocol.Change { return tr(thread.ID, 1, protocol.VisibilityPublic) }, protocol.CodeInvalidSource},
		{"resource not published yet", func() *protocol.Change { return tr(embargoed.ID, 1, protocol.VisibilityPublic) }, protocol.CodeInvalidSource},
		{"embargoed with its resource", func() *protocol.Change {
			c := tr(embargoed.ID, 1, protocol.VisibilityPublic)
			c.PublishAt = &future
			return c
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c()
			r := fi.mustPush(t, fi.sign(t, c))
			switch {
			case tc.want == "" && (r.Applied != 1 || len(r.Refused) != 0):
				t.Fatalf("push = %+v, want applied", r)
			case tc.want != "" && (len(r.Refused) != 1 || r.Refused[0].Code != tc.want || r.AppliedSeq != c.Seq):
				t.Fatalf("push = %+v, want %s", r, tc.want)
			}
		})
	}
}

// nameUnparsed reads a change the strict parser refused: anything a push
// line can hold.
func FuzzNameUnparsed(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"be:01JKT3S6M00M2GA1850M2GA185","seq":3,"version":2,"kind":"recipe"}`))
	f.Add([]byte(`{"seq":1e300,"version":-1,"id":7}`))
	f.Add([]byte(`{"seq":2.5}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, seq, version := nameUnparsed(raw)
		if seq < 0 || version < 0 {
			t.Fatalf("negative seq %d or version %d", seq, version)
		}
		if id != "" {
			if _, err := protocol.SplitEntityID(id); err != nil {
				t.Fatalf("id %q is not an entity id", id)
			}
		}
	})
}

// TestHub_CommunityRules: a national youth space never reaches the hub, and
// an author speaks for the node that signs, whatever a node sends.
func TestHub_CommunityRules(t *testing.T) {
	th := mustOpenHub(t)
	pt := th.enrolNode(t, "pt")
	const marker = "NATIONAL-YOUTH-5512"
	post := func(space string, vis protocol.Visibility, a protocol.Author) *protocol.Change {
		text := "Texto"
		if space == "youth:pt" {
			text += " " + marker
		}
		return pt.newChange(t, protocol.KindPost, vis, protocol.Post{Space: space, Format: "thread", Title: "Olá",
			Text: text, Language: "pt", Author: a})
	}
	national := post("youth:pt", protocol.VisibilityYouth, protocol.Author{Pseudonym: "pt-rita"})
	coordinator := post("youth:pt", protocol.VisibilityYouth, protocol.Author{Name: "Joana", SIC: "pt"})
	european := post("youth", protocol.VisibilityYouth, protocol.Author{Pseudonym: "pt-rita"})
	forged := post("helplines", protocol.VisibilityCommunity, protocol.Author{Name: "Els", SIC: "be"})
	forgedPseudonym := post("youth", protocol.VisibilityYouth, protocol.Author{Pseudonym: "be-sam"})
	news := post("news", protocol.VisibilityPublic, protocol.Author{Name: "Joana", SIC: "pt"})
	// A comment on the national post, which the hub never took.
	onNational := pt.newChange(t, protocol.KindComment, protocol.VisibilityYouth, protocol.Comment{Post: national.ID, Text: "Eu também " + marker,
		Language: "pt", Author: protocol.Author{Pseudonym: "pt-tiago"}})
	onEuropean := pt.newChange(t, protocol.KindComment, protocol.VisibilityYouth, protocol.Comment{Post: european.ID, Text: "Sim",
		Language: "pt", Author: protocol.Author{Pseudonym: "pt-tiago"}})
	flag := func(target string, vis protocol.Visibility) *protocol.Change {
		text := "Flagged"
		if target == national.ID {
			text += " " + marker
		}
		return pt.newChange(t, protocol.KindFlag, vis, protocol.Flag{Target: target, Reason: "other", Text: text,
			Author: protocol.Author{Pseudonym: "pt-tiago"}})
	}
	// Flags: on the European post, on the national post the hub never
	// took, on nothing the hub holds, and with the wrong visibility.
	flagEuropean, flagNational := flag(european.ID, protocol.VisibilityYouth), flag(national.ID, protocol.VisibilityYouth)
	missing, err := protocol.NewEntityID("fi", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	flagMissing := flag(missing, protocol.VisibilityYouth)
	flagMismatch := pt.newChange(t, protocol.KindFlag, protocol.VisibilityCommunity, protocol.Flag{Target: european.ID, Reason: "spam",
		Author: protocol.Author{Name: "Joana", SIC: "pt"}})
	r := pt.mustPush(t, pt.signAll(t, national, coordinator, european, forged, forgedPseudonym, news, onNational, onEuropean,
		flagEuropean, flagNational, flagMissing, flagMismatch)...)
	want := map[string]protocol.Code{national.ID: protocol.CodeInvalidSpace, coordinator.ID: protocol.CodeInvalidSpace,
		forged.ID: protocol.CodeInvalidAuthor, forgedPseudonym.ID: protocol.CodeInvalidAuthor, news.ID: protocol.CodeInvalidSpace,
		onNational.ID: protocol.CodeInvalidSpace, flagNational.ID: protocol.CodeInvalidSpace, flagMissing.ID: protocol.CodeInvalidSource,
		flagMismatch.ID: protocol.CodeVisibilityMismatch}
	got := map[string]protocol.Code{}
	for _, rf := range r.Refused {
		got[rf.ID] = rf.Code
	}
	if !maps.Equal(got, want) {
		t.Fatalf("refused %v, want %v", got, want)
	}
	if r.Applied != 3 {
		t.Fatalf("applied %d, want the European post, its comment and its flag", r.Applied)
	}
	feed, err := pt.client.Changes(t.Context(), 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range feed.Changes {
		if bytes.Contains(item.Change, []byte(marker)) {
			t.Fatalf("the feed carries a national youth change: %s", item.Change)
		}
	}
}
