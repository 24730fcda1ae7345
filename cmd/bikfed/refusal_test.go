package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// pusher is a hand-driven node: it enrols with a real key and sends raw push
// bodies, so tests can send what a well-behaved node never would.
type pusher struct {
	t     testing.TB
	id    string
	key   protocol.Key
	cred  string
	epoch string
	hub   string
	seq   int64
}

func newPusher(t testing.TB, nw *network, id string) *pusher {
	t.Helper()
	key, err := protocol.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	c := protocol.NewClient(protocol.DefaultClientConfig(nw.hubURL))
	resp, err := c.Enrol(t.Context(), protocol.EnrolRequest{Node: id, Token: nw.register(id), KeyID: key.ID, PublicKey: key.Public(), Epoch: "epoch-" + id})
	if err != nil {
		t.Fatal(err)
	}
	return &pusher{t: t, id: id, key: key, cred: resp.Credential, epoch: "epoch-" + id, hub: nw.hubURL}
}

func (p *pusher) resource(id string, version int64, title string) protocol.Signed {
	p.t.Helper()
	p.seq++
	body, _ := json.Marshal(protocol.Resource{
		Title: title, Description: "Tips for parents on talking about online grooming.", Language: "en",
		Languages: []string{"en"}, AgeMin: 8, AgeMax: 12, Audiences: []string{"parents"},
		Topics: []string{"grooming"}, Type: "tip-sheet",
	})
	c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: protocol.KindResource, Owner: p.id, Version: version,
		Seq: p.seq, UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: body}
	s, err := p.key.Sign(c)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

func (p *pusher) newID() string {
	id, err := protocol.NewEntityID(p.id, time.Now())
	if err != nil {
		p.t.Fatal(err)
	}
	return id
}

// push sends raw NDJSON lines covering seqs from..to.
func (p *pusher) push(from, to int64, lines ...[]byte) (*protocol.PushResult, int) {
	p.t.Helper()
	hdr, _ := json.Marshal(protocol.PushHeader{Node: p.id, Epoch: p.epoch, FromSeq: from, ToSeq: to, HeadSeq: to})
	body := append(hdr, '\n')
	for _, l := range lines {
		body = append(append(body, l...), '\n')
	}
	req, _ := http.NewRequest("POST", p.hub+protocol.PathPush, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.cred)
	req.Header.Set("Content-Type", protocol.ContentTypeNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var res protocol.PushResult
	json.NewDecoder(resp.Body).Decode(&res)
	return &res, resp.StatusCode
}

func line(s protocol.Signed) []byte { return protocol.AppendSigned(nil, s) }

func TestE2E_Refusals(t *testing.T) {
	nw := newNetwork(t)
	be := newPusher(t, nw, "be")
	fi := newPusher(t, nw, "fi")

	idA, idB := be.newID(), be.newID()
	a1 := be.resource(idA, 1, "Grooming: signs to watch for")
	a2 := be.resource(idA, 2, "Grooming: signs to watch for (2nd edition)")

	tampered := be.resource(be.newID(), 1, "Tampered title")
	tampered.Change = bytes.Replace(tampered.Change, []byte("Tampered title"), []byte("Tampered TITLE"), 1)

	// fi's validly signed record, slipped into be's batch at be's next seq.
	fi.seq = be.seq
	fiOwned := fi.resource(fi.newID(), 1, "Finnish guide")
	be.seq = fi.seq

	malformedSeq := be.seq + 1
	be.seq++
	malformed := []byte(fmt.Sprintf(`{"change":{"v":1,"id":"%s","seq":%d,"kind":"resource",`, be.newID(), malformedSeq))

	unknown := func() protocol.Signed {
		be.seq++
		c := &protocol.Change{Protocol: protocol.Version, ID: be.newID(), Kind: "recipe", Owner: "be", Version: 1, Seq: be.seq,
			UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: json.RawMessage(`{"title":"pancakes"}`)}
		s, err := be.key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	b1 := be.resource(idB, 1, "Sexting: a lesson plan for 14-16 year olds")

	res, status := be.push(1, be.seq, line(a1), line(a2), line(tampered), line(fiOwned), malformed, line(unknown), line(b1))
	if status != 200 {
		t.Fatalf("push answered %d", status)
	}
	if res.Applied != 3 {
		t.Errorf("applied %d, want 3 (a v1, a v2, b v1)", res.Applied)
	}
	if res.AppliedSeq != be.seq {
		t.Errorf("checkpoint %d, want %d: refused records still advance it", res.AppliedSeq, be.seq)
	}
	wantCodes := map[protocol.Code]bool{protocol.CodeBadSignature: false, protocol.CodeNotOwner: false, protocol.CodeMalformedJSON: false, protocol.CodeUnknownKind: false}
	for _, r := range res.Refused {
		if r.Reason == "" {
			t.Errorf("refusal %s has no reason", r.Name())
		}
		if _, ok := wantCodes[r.Code]; !ok {
			t.Errorf("unexpected refusal %s: %s %s", r.Name(), r.Code, r.Reason)
		}
		wantCodes[r.Code] = true
	}
	for code, seen := range wantCodes {
		if !seen {
			t.Errorf("no %s refusal in %+v", code, res.Refused)
		}
	}

	// A replayed older version is refused; the rest of its batch applies.
	replay := be.resource(idA, 1, "Grooming: signs to watch for")
	c1 := be.resource(be.newID(), 1, "Screen time: a family agreement")
	res, _ = be.push(be.seq-1, be.seq, line(replay), line(c1))
	if res.Applied != 1 || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeStaleVersion {
		t.Errorf("replay: applied %d refused %+v, want 1 applied and one stale_version", res.Applied, res.Refused)
	}

	// The public API shows the accepted records once the portal has
	// indexed them.
	waitFor(t, 30*time.Second, "the accepted records on the public API", func() error {
		for _, id := range []string{idA, idB} {
			resp, err := http.Get(nw.hubURL + "/api/v1/entities/" + id)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("accepted %s: public API answered %d", id, resp.StatusCode)
			}
		}
		return nil
	})

	// The coordination team sees every refusal, with its reason.
	st, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == "be" && n.RefusalCount != 5 {
			t.Errorf("status shows %d refusals for be, want 5: %+v", n.RefusalCount, n.Refusals)
		}
	}
}

func TestE2E_OversizedBatch(t *testing.T) {
	nw := newNetwork(t)
	// The hub's batch limit is lowered so the test stays small.
	nw.hub.stop()
	nw.hub = startProc(t, "hub-small", nw.dir, "hub", "serve", "--data", nw.hubDir, "--listen", nw.hubAdr, "--max-batch-changes", "50")
	waitFor(t, 30*time.Second, "hub restart", func() error { _, err := nw.status(); return err })
	be := newPusher(t, nw, "be")
	var lines [][]byte
	for i := 0; i < 80; i++ {
		lines = append(lines, line(be.resource(be.newID(), 1, fmt.Sprintf("Media literacy card %d", i))))
	}
	res, status := be.push(1, 80, lines...)
	if status != 200 {
		t.Fatalf("oversized push answered %d", status)
	}
	if !res.Truncated || res.AppliedSeq != 50 || res.Applied != 50 {
		t.Fatalf("oversized push: truncated=%v applied_seq=%d applied=%d, want true/50/50", res.Truncated, res.AppliedSeq, res.Applied)
	}
	// Nothing is lost: the rest goes in the next push.
	res, _ = be.push(51, 80, lines[50:]...)
	if res.Applied != 30 || res.AppliedSeq != 80 {
		t.Fatalf("second push: applied %d, applied_seq %d; want 30, 80", res.Applied, res.AppliedSeq)
	}
	st, _ := nw.status()
	if st.Entities != 80 {
		t.Errorf("hub holds %d entities, want 80", st.Entities)
	}
}
