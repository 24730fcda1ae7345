package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// GossipConfig is the node's membership: internal/gossip's settings and a
// switch. Gossip carries hints only: the hub announcing a new hub_seq makes
// the node pull at once, and the node announces its outbox head for the
// hub's status page. HTTP sync and its schedules work the same without it.
type GossipConfig struct {
	// Enabled turns gossip on. Off (the default), the node relies on
	// long-polling and its schedules.
	Enabled bool `json:"enabled"`
	// Config is the member's settings; Join lists the hub's gossip address.
	// Name defaults to the node id.
	gossip.Config
}

// DefaultGossipConfig returns gossip's defaults (WAN profile, port 7946)
// with the cluster label "bikfed" and the hub's retransmission multiplier
// (8: see hub.RetransmitMult). Keys, Join and, when binding a wildcard
// address, AdvertiseAddr must be set before enabling it.
func DefaultGossipConfig() GossipConfig {
	c := gossip.DefaultConfig()
	c.ClusterLabel = "bikfed"
	c.RetransmitMult = 8
	return GossipConfig{Config: c}
}

// validate checks the settings when gossip is on, naming each field
// "gossip.<field>".
func (c GossipConfig) validate() []error {
	if !c.Enabled {
		return nil
	}
	err := c.Config.Validate()
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []error{fmt.Errorf("gossip.%w", err)}
	}
	var errs []error
	for _, e := range joined.Unwrap() {
		errs = append(errs, fmt.Errorf("gossip.%w", e))
	}
	return errs
}

// announceRefresh is how often the node re-reads its outbox head for its
// gossip metadata even without a local write: an epoch switch or a CLI
// writing beside the server also move it.
const announceRefresh = 30 * time.Second

// nodeOps is the node's membership and metrics.
type nodeOps struct {
	metrics *nodeMetrics
	gossip  atomic.Pointer[gossip.Gossip]
	// announce asks for the metadata to be refreshed (a local write).
	announce chan struct{}
	// pullHint asks for a pull now: the hub announced news.
	pullHint chan struct{}
}

func (n *Node) initOps() {
	n.ops = &nodeOps{announce: make(chan struct{}, 1), pullHint: make(chan struct{}, 1)}
	n.ops.metrics = newNodeMetrics(n)
}

// startMembership joins the gossip cluster when it is enabled and starts
// acting on the hub's hints. The returned stop leaves the cluster, so the
// hub shows this node as left rather than dead, and waits for the hint
// goroutines.
func (n *Node) startMembership(ctx context.Context) (stop func(), err error) {
	if !n.cfg.Gossip.Enabled {
		return func() {}, nil
	}
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		return nil, fmt.Errorf("start gossip: %w", err)
	}
	cfg := n.cfg.Gossip.Config
	cfg.Name = cmp.Or(cfg.Name, n.ident.Node)
	if cfg.Logger == nil {
		cfg.Logger = n.log
	}
	g, err := gossip.Open(cfg, gossip.Meta{
		ID:       n.ident.Node,
		Role:     gossip.RoleNode,
		Epoch:    st.Epoch,
		Seq:      st.HeadSeq,
		Protocol: protocol.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("start gossip: %w", err)
	}
	n.ops.gossip.Store(g)
	events, unsubscribe := g.Subscribe()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { n.watchHub(ctx, events, g) })
	wg.Go(func() { n.hintedPulls(ctx) })
	wg.Go(func() { n.announceLoop(ctx, g) })
	var once sync.Once
	return func() {
		once.Do(func() {
			n.ops.gossip.Store(nil)
			if err := g.Close(); err != nil {
				n.log.Warn("leave gossip cluster", "err", err)
			}
			cancel()
			unsubscribe()
			wg.Wait()
		})
	}, nil
}

// watchHub turns the hub's announcements into pulls. It reads Members once
// for a hub that was known before the subscription, then follows events.
func (n *Node) watchHub(ctx context.Context, events <-chan gossip.Event, g *gossip.Gossip) {
	for _, m := range g.Members() {
		n.considerHint(ctx, m)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind == gossip.EventJoin || ev.Kind == gossip.EventUpdate {
				n.considerHint(ctx, ev.Member)
			}
		}
	}
}

// considerHint asks for a pull when m is the hub and its hub_seq is past
// our cursor. A pull already running (the long-poll, a schedule) is not
// waited for: the hinted pull runs beside it and whichever applies a page
// second finds the cursor moved and starts over, so a hint costs at most one
// redundant feed request.
func (n *Node) considerHint(ctx context.Context, m gossip.Member) {
	if m.Role != gossip.RoleHub || m.State != gossip.StateAlive || m.Seq <= 0 {
		return
	}
	var cursor int64
	if err := n.db.Reader().QueryRowContext(ctx, `SELECT pull_cursor FROM sync_state WHERE id = 1`).Scan(&cursor); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("read pull cursor for a gossip hint", "err", err)
		}
		return
	}
	if m.Seq <= cursor {
		return
	}
	select {
	case n.ops.pullHint <- struct{}{}:
		n.log.Debug("hub announced new changes; pulling now", "hub_seq", m.Seq, "cursor", cursor)
	default: // a hinted pull is already pending and will see these too
	}
}

// hintedPulls runs one pull per pending hint; hints arriving during a pull
// collapse into the next one.
func (n *Node) hintedPulls(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ops.pullHint:
		}
		n.ops.metrics.hints.Inc()
		if err := n.Pull(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("pull on a gossip hint failed; the schedule will retry", "err", err)
		}
	}
}

// kickAnnounce asks for the node's gossip metadata to be refreshed after a
// local write; it never blocks.
func (n *Node) kickAnnounce() {
	if n.ops == nil {
		return
	}
	select {
	case n.ops.announce <- struct{}{}:
	default:
	}
}

// announceLoop keeps the node's metadata (epoch, outbox head) current.
func (n *Node) announceLoop(ctx context.Context, g *gossip.Gossip) {
	t := time.NewTicker(announceRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ops.announce:
		case <-t.C:
		}
		st, err := readSyncState(ctx, n.db.Reader())
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("read outbox head for gossip", "err", err)
			}
			continue
		}
		err = g.Update(func(m *gossip.Meta) { m.Epoch, m.Seq = st.Epoch, st.HeadSeq })
		if err != nil && !errors.Is(err, gossip.ErrClosed) {
			n.log.Warn("announce outbox head over gossip", "err", err)
		}
	}
}

// GossipMembers returns the cluster as this node sees it, itself
// included; nil when gossip is off.
func (n *Node) GossipMembers() []gossip.Member {
	if g := n.ops.gossip.Load(); g != nil {
		return g.Members()
	}
	return nil
}
