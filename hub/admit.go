package hub

import (
	"slices"

	"github.com/bikfed/bikfed/protocol"
)

// A push is admitted by its header, before its body is read, when it
// continues the node's checkpoint (docs/protocol.md §11): a node sends one
// push at a time and the next after the answer, so a push that starts past
// applied_seq + 1 is refused with seq_gap at once, before the hub spends
// anything on its body. Sending the next batch before the answer (pipelining)
// gained the hub too little to keep once signatures were verified in
// batches (docs/benchmarks.md).

// maxInFlight is how many pushes of one node the hub reads or applies at
// once: a node sends one at a time, but a client that stopped waiting for an
// answer may send again while its first push is still being read, and each
// push may keep a whole batch in memory.
const maxInFlight = 4

// pushTicket is an admitted push that has not finished.
type pushTicket struct {
	node string
}

// admit admits a push by its header from the in-memory checkpoint. It
// returns the node's applied_seq when the push is in the same epoch
// (records up to it were processed before), else 0. The caller must end the
// ticket with finish.
func (h *Hub) admit(hd protocol.PushHeader) (*pushTicket, int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[hd.Node]
	if n == nil {
		return nil, 0, protocol.Errorf(protocol.CodeForbidden, "node %q is not registered", hd.Node)
	}
	if len(n.inflight) >= maxInFlight {
		return nil, 0, protocol.Errorf(protocol.CodeUnavailable, "%d pushes of %s are in flight; send the next one when one is answered", len(n.inflight), hd.Node)
	}
	if err := checkpointCheck(hd, n.epoch, n.appliedSeq); err != nil {
		return nil, 0, err
	}
	t := &pushTicket{node: hd.Node}
	n.inflight = append(n.inflight, t)
	var applied int64
	if hd.Epoch == n.epoch {
		applied = n.appliedSeq
	}
	return t, applied, nil
}

// finish ends a push admitted by admit. t may be nil.
func (h *Hub) finish(t *pushTicket) {
	if t == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.nodes[t.node]; n != nil {
		n.inflight = slices.DeleteFunc(n.inflight, func(x *pushTicket) bool { return x == t })
	}
}
