package hub

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// GossipConfig is the hub's membership: internal/gossip's settings and a
// switch. Gossip only hints (the hub's hub_seq moved, so pull now) and tells
// the network status who is alive; HTTP sync works the same without it.
type GossipConfig struct {
	// Enabled turns gossip on. Off (the default), liveness in the network status
	// comes from each node's last HTTP contact.
	Enabled bool
	// Config is the member's settings. The hub joins no one by default: the
	// nodes list the hub as their seed. Name defaults to "hub".
	gossip.Config
}

// RetransmitMult is bikfed's default gossip retransmission multiplier:
// each member sends every update RetransmitMult*ceil(log10(N+1)) times.
// Memberlist's 4 leaves a small cluster (under ten members, where that is
// just 4 sends to 4 random peers a round) missing the hub's hint on about
// one node in two hundred, measured on loopback; the node then waits for
// a probe or the state exchange (5 to 60 s with the WAN profile). At 8 a
// miss needs two rounds of every relay to skip the node. Hints are paced
// to one per two gossip intervals per member, so the extra sends stay
// cheap even at a few hundred members.
const RetransmitMult = 8

// DefaultGossipConfig returns gossip's defaults (WAN profile, port 7946)
// with the cluster label "bikfed" and RetransmitMult. Keys and, when binding a wildcard
// address, AdvertiseAddr must be set before enabling it.
func DefaultGossipConfig() GossipConfig {
	c := gossip.DefaultConfig()
	c.ClusterLabel = "bikfed"
	c.RetransmitMult = RetransmitMult
	return GossipConfig{Config: c}
}

// validate checks the settings when gossip is on, naming each field
// "Gossip.<field>".
func (c GossipConfig) validate(name string) []error {
	if !c.Enabled {
		return nil
	}
	c.Name = cmp.Or(c.Name, name)
	err := c.Config.Validate()
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []error{fmt.Errorf("Gossip.%w", err)}
	}
	var errs []error
	for _, e := range joined.Unwrap() {
		errs = append(errs, fmt.Errorf("Gossip.%w", e))
	}
	return errs
}

// ops is what the hub keeps for its operators: membership, metrics,
// readiness and the lag history. It lives beside the sync state so that
// the hot paths touch it only through a few non-blocking calls.
type ops struct {
	metrics *hubMetrics
	gossip  atomic.Pointer[gossip.Gossip]
	// serving is true between Run starting to serve and starting to shut
	// down: /readyz reports it so a load balancer drains the hub first.
	serving atomic.Bool
	// lastPrune is when lag samples were last pruned (sampler goroutine only).
	lastPrune time.Time
}

// initOps sets up metrics; Open calls it once the hub is otherwise built.
func (h *Hub) initOps() {
	h.ops = &ops{}
	h.ops.metrics = newHubMetrics(h)
}

// startOps begins what only a serving hub does: it joins the gossip
// cluster (when enabled), samples lag for the console's chart and reports
// ready. The returned stop leaves the cluster first, so the nodes see a
// departure rather than a failure and stop expecting hints, and waits for
// the sampler, which writes to the database Close is about to close.
func (h *Hub) startOps(ln net.Listener) (stop func(), err error) {
	if h.cfg.Gossip.Enabled {
		if err := h.openGossip(ln); err != nil {
			return nil, err
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { h.sampleLag(done) })
	h.ops.serving.Store(true)
	var once sync.Once
	return func() {
		once.Do(func() {
			h.ops.serving.Store(false)
			if g := h.ops.gossip.Swap(nil); g != nil {
				if err := g.Close(); err != nil {
					h.log.Warn("leave gossip cluster", "err", err)
				}
			}
			close(done)
			wg.Wait()
		})
	}, nil
}

func (h *Hub) openGossip(ln net.Listener) error {
	cfg := h.cfg.Gossip.Config
	cfg.Name = cmp.Or(cfg.Name, protocol.HubID)
	if cfg.Logger == nil {
		cfg.Logger = h.log
	}
	meta := gossip.Meta{
		ID:       protocol.HubID,
		Role:     gossip.RoleHub,
		Seq:      h.head.Load(),
		API:      h.advertisedAPI(ln),
		Protocol: protocol.Version,
	}
	g, err := gossip.Open(cfg, meta)
	if err != nil {
		return fmt.Errorf("start gossip: %w", err)
	}
	h.ops.gossip.Store(g)
	// A push committed while gossip was opening advanced the head without
	// a member to tell.
	h.hintHead(h.head.Load())
	return nil
}

// advertisedAPI is the API address members are told: the public URL, or
// the listener when it is a specific address.
func (h *Hub) advertisedAPI(ln net.Listener) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
		return (&url.URL{Scheme: "http", Host: a.String()}).String()
	}
	return ""
}

// hintHead announces a new hub_seq, so nodes pull at once instead of at
// their next schedule. It never blocks: gossip coalesces updates made
// faster than it can spread them.
func (h *Hub) hintHead(head int64) {
	g := h.ops.gossip.Load()
	if g == nil {
		return
	}
	err := g.Update(func(m *gossip.Meta) { m.Seq = max(m.Seq, head) })
	if err != nil && !errors.Is(err, gossip.ErrClosed) {
		h.log.Warn("announce hub_seq over gossip", "hub_seq", head, "err", err)
	}
}

// GossipMembers returns the cluster as this hub sees it, itself included;
// nil when gossip is off.
func (h *Hub) GossipMembers() []gossip.Member {
	if g := h.ops.gossip.Load(); g != nil {
		return g.Members()
	}
	return nil
}

// Liveness values of protocol.NodeStatus.Live.
const (
	liveAlive  = "alive"
	liveSilent = "silent"
	liveNever  = "never"
)

// addLiveness fills in each node's liveness, version and announced seq:
// from gossip when it knows the node, else from the last HTTP contact.
func (h *Hub) addLiveness(st *protocol.NetworkStatus, now time.Time) {
	members := map[string]gossip.Member{}
	for _, m := range h.GossipMembers() {
		members[m.Name] = m
	}
	for i := range st.Nodes {
		ns := &st.Nodes[i]
		if m, ok := members[ns.Node]; ok && m.Role == gossip.RoleNode {
			since := m.Since.UTC()
			ns.Live, ns.LiveSource, ns.LiveSince = string(m.State), "gossip", &since
			ns.Version = m.Protocol
			if m.Epoch == ns.Epoch && m.Seq > 0 {
				ns.AnnouncedSeq = m.Seq
				ns.PushLag = max(ns.PushLag, m.Seq-ns.AppliedSeq)
			}
			continue
		}
		ns.LiveSource = "http"
		last := ns.LastSuccessAt
		if ns.LastPullAt != nil && (last == nil || ns.LastPullAt.After(*last)) {
			last = ns.LastPullAt
		}
		switch {
		case last == nil:
			ns.Live = liveNever
		case now.Sub(*last) <= h.cfg.LivenessWindow:
			ns.Live = liveAlive
		default:
			ns.Live = liveSilent
		}
		ns.LiveSince = last
	}
}
