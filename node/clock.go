package node

import (
	"time"
)

// maxClockSkew is how far the local clock may be from the hub's before the
// node warns: publication follows the hub's time either way.
const maxClockSkew = time.Minute

// now is the network's time: the local clock corrected by the offset the
// hub's answers measured (docs/protocol.md §18). A node whose clock is wrong
// would otherwise release embargoed content early or late, and date its
// changes wrongly.
func (n *Node) now() time.Time {
	t := n.cfg.Clock()
	if skew, ok := n.skew(); ok {
		t = t.Add(skew)
	}
	return t.UTC()
}

// skew is the hub's clock minus ours: as this process measured it, else as
// the database holds it from the last process that did.
func (n *Node) skew() (time.Duration, bool) {
	if skew, ok := n.clockSkew(); ok {
		return skew, true
	}
	if n.hasStoredSkew.Load() {
		return time.Duration(n.storedSkew.Load()), true
	}
	return 0, false
}

// clockSkew returns the hub's clock minus ours and whether this process has
// measured it.
func (n *Node) clockSkew() (time.Duration, bool) {
	off := n.client.HubClock()
	return off.Offset, !off.MeasuredAt.IsZero()
}

// clockOffsetMillis is the measured offset for storing, nil before any.
func (n *Node) clockOffsetMillis() any {
	skew, ok := n.clockSkew()
	if !ok {
		return nil
	}
	return skew.Milliseconds()
}

// checkClock warns once when the local clock goes more than maxClockSkew
// from the hub's, and once when it comes back.
func (n *Node) checkClock() {
	skew, ok := n.clockSkew()
	if !ok {
		return
	}
	off := skew.Abs() > maxClockSkew
	if n.clockOff.Swap(off) == off {
		return
	}
	if off {
		n.log.Warn("the local clock differs from the hub's; publication follows the hub's time",
			"hub_minus_local", skew.Round(time.Millisecond).String())
	} else {
		n.log.Info("the local clock agrees with the hub's again", "hub_minus_local", skew.Round(time.Millisecond).String())
	}
}
