package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// slowPush is a push whose body is still being sent: its header is written,
// the rest waits for end.
type slowPush struct {
	w      *io.PipeWriter
	rest   []byte
	status chan int
}

func startSlowPush(t *testing.T, th *testHub, n *testNode, ss []protocol.Signed) *slowPush {
	t.Helper()
	var body bytes.Buffer
	if err := protocol.EncodePush(&body, n.header(t, ss), ss); err != nil {
		t.Fatal(err)
	}
	head, rest, _ := bytes.Cut(body.Bytes(), []byte("\n"))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, th.url+protocol.PathPush, pr)
	req.Header.Set("Authorization", "Bearer "+n.cred)
	p := &slowPush{w: pw, rest: rest, status: make(chan int, 1)}
	// A failed test must not leave the request open: closing the hub waits
	// for it.
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			p.status <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		p.status <- resp.StatusCode
	}()
	go pw.Write(append(head, '\n'))
	return p
}

// end sends the rest of the body, or cuts the request off.
func (p *slowPush) end(cut bool) int {
	if cut {
		p.w.CloseWithError(errors.New("connection lost"))
	} else {
		p.w.Write(p.rest)
		p.w.Close()
	}
	return <-p.status
}

// waitInFlight waits until the hub holds n pushes of node.
func waitInFlight(t *testing.T, th *testHub, node string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		th.mu.Lock()
		k := len(th.nodes[node].inflight)
		th.mu.Unlock()
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes of %s in flight, want %d", k, node, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type pushAnswer struct {
	res *protocol.PushResult
	err error
}

func pushAsync(n *testNode, h protocol.PushHeader, ss []protocol.Signed) chan pushAnswer {
	ch := make(chan pushAnswer, 1)
	go func() {
		res, err := n.client.Push(context.Background(), h, ss)
		ch <- pushAnswer{res, err}
	}()
	return ch
}

func TestHub_PushPipelined(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	first := be.signAll(t, be.resource(t, "One", protocol.VisibilityPublic), be.resource(t, "Two", protocol.VisibilityPublic))
	second := be.signAll(t, be.resource(t, "Three", protocol.VisibilityPublic), be.resource(t, "Four", protocol.VisibilityPublic))

	t.Run("a follower waits for the push it follows", func(t *testing.T) {
		p := startSlowPush(t, th, be, first)
		waitInFlight(t, th, "be", 1)
		follower := pushAsync(be, be.header(t, second), second)
		waitInFlight(t, th, "be", 2)
		select {
		case a := <-follower:
			t.Fatalf("follower answered before the push it follows: %+v, %v", a.res, a.err)
		case <-time.After(100 * time.Millisecond):
		}
		if status := p.end(false); status != http.StatusOK {
			t.Fatalf("first push: HTTP %d", status)
		}
		a := <-follower
		if a.err != nil || a.res.Applied != 2 || a.res.AppliedSeq != 4 {
			t.Fatalf("follower = %+v, %v", a.res, a.err)
		}
		waitInFlight(t, th, "be", 0)
	})

	third := be.signAll(t, be.resource(t, "Five", protocol.VisibilityPublic))
	fourth := be.signAll(t, be.resource(t, "Six", protocol.VisibilityPublic))
	t.Run("a follower that arrives first is held for the push it follows", func(t *testing.T) {
		follower := pushAsync(be, be.header(t, fourth), fourth)
		time.Sleep(200 * time.Millisecond) // well inside aheadWait
		res := be.mustPush(t, third...)
		if res.Applied != 1 || res.AppliedSeq != 5 {
			t.Fatalf("first push = %+v", res)
		}
		a := <-follower
		if a.err != nil || a.res.Applied != 1 || a.res.AppliedSeq != 6 {
			t.Fatalf("follower = %+v, %v", a.res, a.err)
		}
	})

	fifth := be.signAll(t, be.resource(t, "Seven", protocol.VisibilityPublic))
	sixth := be.signAll(t, be.resource(t, "Eight", protocol.VisibilityPublic))
	t.Run("a follower of a push that fails is refused with seq_gap", func(t *testing.T) {
		p := startSlowPush(t, th, be, fifth)
		waitInFlight(t, th, "be", 1)
		follower := pushAsync(be, be.header(t, sixth), sixth)
		waitInFlight(t, th, "be", 2)
		p.end(true)
		a := <-follower
		if !errors.Is(a.err, protocol.ErrSeqGap) {
			t.Fatalf("follower of a failed push = %+v, %v; want seq_gap", a.res, a.err)
		}
		if st, _ := th.NetworkStatus(t.Context()); nodeStatus(t, st, "be").AppliedSeq != 6 {
			t.Fatalf("applied_seq = %d, want 6", nodeStatus(t, st, "be").AppliedSeq)
		}
		// In turn, both apply.
		be.mustPush(t, fifth...)
		if res := be.mustPush(t, sixth...); res.AppliedSeq != 8 {
			t.Fatalf("sent again: %+v", res)
		}
	})

	t.Run("a push that follows nothing is refused once the wait is over", func(t *testing.T) {
		h := protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 20, ToSeq: 20, HeadSeq: 20}
		start := time.Now()
		_, err := be.client.Push(t.Context(), h, nil)
		if !errors.Is(err, protocol.ErrSeqGap) {
			t.Fatalf("push from seq 20 = %v; want seq_gap", err)
		}
		if took := time.Since(start); took < aheadWait {
			t.Fatalf("refused after %s, before the wait of %s for the push it might follow", took, aheadWait)
		}
	})

	t.Run("pushes in flight are limited", func(t *testing.T) {
		var held []*slowPush
		for i := range maxInFlight {
			held = append(held, startSlowPush(t, th, be, sixth)) // all continue the checkpoint
			waitInFlight(t, th, "be", i+1)
		}
		code, b := postPush(t, th, be, "identity", mustNDJSON(t, be, sixth))
		var er protocol.ErrorResponse
		if code != http.StatusServiceUnavailable || json.Unmarshal(b, &er) != nil || er.Error.Code != protocol.CodeUnavailable {
			t.Fatalf("push past the limit: HTTP %d %s", code, b)
		}
		for _, p := range held {
			if status := p.end(false); status != http.StatusOK {
				t.Fatalf("held push: HTTP %d", status)
			}
		}
		waitInFlight(t, th, "be", 0)
	})
}

// mustNDJSON encodes ss as n's push body.
func mustNDJSON(t *testing.T, n *testNode, ss []protocol.Signed) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := protocol.EncodePush(&body, n.header(t, ss), ss); err != nil {
		t.Fatal(err)
	}
	return body.Bytes()
}
