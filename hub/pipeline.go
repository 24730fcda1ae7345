package hub

import (
	"context"
	"slices"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// Pipelined pushes (docs/protocol.md §10): a node catching up may send its
// next batch before the answer to the previous one, so that the hub checks
// the next batch's signatures on all cores while it writes and commits the
// previous one, instead of leaving cores idle at every commit and round
// trip. The hub admits a push that continues the node's checkpoint, or that
// follows a push of the node still in flight; a follower is applied after
// the push it follows, and refused with seq_gap if that one did not apply
// in full.
const (
	// maxInFlight is how many pushes of one node the hub holds at once: each
	// may keep a whole batch in memory.
	maxInFlight = 4
	// aheadWait is how long a push that continues nothing the hub knows of is
	// held for the push it follows: a node's two requests may reach their
	// handlers in either order.
	aheadWait = time.Second
)

// pushTicket is an admitted push that has not finished.
type pushTicket struct {
	node  string
	epoch string
	to    int64
	after *pushTicket   // the push this one follows, applied first; nil if none
	done  chan struct{} // closed when the push has finished, applied or not
}

// admit admits a push by its header, before its body is read, from the
// in-memory checkpoint and the node's pushes in flight. It returns the
// node's applied_seq when the push continues it in the same epoch (records
// up to it were processed before), else 0. The caller must end the ticket
// with finish.
func (h *Hub) admit(ctx context.Context, hd protocol.PushHeader) (*pushTicket, int64, error) {
	deadline := time.Now().Add(aheadWait)
	for {
		h.mu.Lock()
		n := h.nodes[hd.Node]
		if n == nil {
			h.mu.Unlock()
			return nil, 0, protocol.Errorf(protocol.CodeForbidden, "node %q is not registered", hd.Node)
		}
		if len(n.inflight) >= maxInFlight {
			h.mu.Unlock()
			return nil, 0, protocol.Errorf(protocol.CodeUnavailable, "%d pushes of %s are in flight; send the next one when one is answered", len(n.inflight), hd.Node)
		}
		err := checkpointCheck(hd, n.epoch, n.appliedSeq)
		var after *pushTicket
		if err != nil {
			for _, t := range n.inflight {
				if t.epoch == hd.Epoch && t.to+1 == hd.FromSeq {
					err, after = nil, t
				}
			}
		}
		if err == nil {
			t := &pushTicket{node: hd.Node, epoch: hd.Epoch, to: hd.ToSeq, after: after, done: make(chan struct{})}
			n.inflight = append(n.inflight, t)
			var applied int64
			if after == nil && hd.Epoch == n.epoch {
				applied = n.appliedSeq
			}
			n.signal() // a follower may be waiting for this one
			h.mu.Unlock()
			return t, applied, nil
		}
		if n.changed == nil {
			n.changed = make(chan struct{})
		}
		changed := n.changed
		h.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, 0, err
		}
		timer := time.NewTimer(wait)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, 0, err
		}
		timer.Stop()
	}
}

// finish ends a push admitted by admit: it leaves the node's pushes in
// flight, and the push following it, if any, may apply. t may be nil.
func (h *Hub) finish(t *pushTicket) {
	if t == nil {
		return
	}
	h.mu.Lock()
	if n := h.nodes[t.node]; n != nil {
		n.inflight = slices.DeleteFunc(n.inflight, func(x *pushTicket) bool { return x == t })
		n.signal()
	}
	h.mu.Unlock()
	close(t.done)
}

// signal wakes the pushes waiting for the node's checkpoint or pushes in
// flight to change; the caller holds h.mu.
func (n *nodeState) signal() {
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
}

// waitAfter waits until the push t follows has finished.
func (t *pushTicket) waitAfter(ctx context.Context) error {
	if t == nil || t.after == nil {
		return nil
	}
	select {
	case <-t.after.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
