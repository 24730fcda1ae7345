package hub

import (
	"bytes"
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

func TestHub_PushAdmission(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	first := be.signAll(t, be.resource(t, "One", protocol.VisibilityPublic), be.resource(t, "Two", protocol.VisibilityPublic))
	second := be.signAll(t, be.resource(t, "Three", protocol.VisibilityPublic), be.resource(t, "Four", protocol.VisibilityPublic))

	t.Run("a push sent before the answer to the one before is refused at once", func(t *testing.T) {
		p := startSlowPush(t, th, be, first)
		waitInFlight(t, th, "be", 1)
		start := time.Now()
		_, err := be.client.Push(t.Context(), be.header(t, second), second)
		if !errors.Is(err, protocol.ErrSeqGap) {
			t.Fatalf("push from seq 3 while 1-2 is in flight = %v; want seq_gap", err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Fatalf("refused after %s: a push is not held for another", took)
		}
		if status := p.end(false); status != http.StatusOK {
			t.Fatalf("first push: HTTP %d", status)
		}
		waitInFlight(t, th, "be", 0)
		// In turn, it applies.
		if res := be.mustPush(t, second...); res.Applied != 2 || res.AppliedSeq != 4 {
			t.Fatalf("sent again: %+v", res)
		}
	})

	t.Run("a push that follows nothing is refused", func(t *testing.T) {
		h := protocol.PushHeader{Node: "be", Epoch: be.epoch, FromSeq: 20, ToSeq: 20, HeadSeq: 20}
		if _, err := be.client.Push(t.Context(), h, nil); !errors.Is(err, protocol.ErrSeqGap) {
			t.Fatalf("push from seq 20 = %v; want seq_gap", err)
		}
		waitInFlight(t, th, "be", 0)
	})

	third := be.signAll(t, be.resource(t, "Five", protocol.VisibilityPublic))
	t.Run("pushes in flight are limited", func(t *testing.T) {
		var held []*slowPush
		for i := range maxInFlight {
			held = append(held, startSlowPush(t, th, be, third)) // all continue the checkpoint
			waitInFlight(t, th, "be", i+1)
		}
		code, b := postPush(t, th, be, "identity", mustNDJSON(t, be, third))
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
