package gossip

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("gossip is closed")
	// ErrInsecure is returned by the key methods of an unencrypted Gossip.
	ErrInsecure = errors.New("gossip runs without encryption: there is no keyring")
	// ErrJoinRefused means a seed was reached but the exchange failed. Almost
	// always the two sides disagree on the key or on the cluster label; the
	// seed's log says which.
	ErrJoinRefused = errors.New("could not join: check the gossip key and cluster label")
	// ErrNoSeedReachable means no seed could be connected to at all.
	ErrNoSeedReachable = errors.New("could not join: no seed reachable")
	// ErrMetaTooLarge is returned by Encode when the metadata would not fit
	// in MaxMetaSize, usually because of a long API URL.
	ErrMetaTooLarge = fmt.Errorf("gossip meta exceeds %d bytes", MaxMetaSize)
)

// State is a member's state as this member last saw it.
type State string

const (
	// StateAlive: the member answers (possibly under suspicion: memberlist
	// reports no event when suspicion starts, only when it ends).
	StateAlive State = "alive"
	// StateDead: the member stopped answering and was declared failed. It
	// may come back; this member keeps trying to reach it (RejoinInterval).
	StateDead State = "dead"
	// StateLeft: the member said goodbye (Close) before going away.
	StateLeft State = "left"
)

// Member is one member of the cluster, this one included.
type Member struct {
	// Meta is the member's last known metadata; zero if what it sent could
	// not be decoded (logged).
	Meta
	// Name is the member's gossip name, normally Meta.ID.
	Name string
	// Addr is the member's gossip address, host:port.
	Addr string
	// State is alive, dead or left.
	State State
	// Since is when this member saw the member enter State.
	Since time.Time
}

// EventKind says what changed about a member.
type EventKind int

const (
	// EventJoin: a member appeared or came back (State alive).
	EventJoin EventKind = iota + 1
	// EventLeave: a member went away; Member.State says whether it left
	// (StateLeft) or failed (StateDead).
	EventLeave
	// EventUpdate: a member's Meta changed.
	EventUpdate
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventUpdate:
		return "update"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change in membership or metadata.
type Event struct {
	Kind   EventKind
	Member Member
}

// Gossip is this process's membership in the bikfed gossip cluster.
type Gossip struct {
	cfg     Config
	name    string
	log     *slog.Logger
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring // nil when Insecure

	metaMu    sync.Mutex
	meta      Meta
	metaBytes []byte
	leaving   atomic.Bool // set by shutdown: no more updates

	mu         sync.Mutex
	members    map[string]Member
	departing  map[string]time.Time // members that announced their leave
	subs       map[chan Event]struct{}
	closed     bool
	eventsOnce sync.Once
	events     <-chan Event

	// queue holds this package's own gossip messages (the leave
	// announcement), piggybacked by memberlist on its packets.
	queue *memberlist.TransmitLimitedQueue

	announce      chan struct{} // capacity 1: a pending metadata broadcast
	announcePace  time.Duration
	stop          chan struct{}
	cancelDials   context.CancelFunc
	announcerDone chan struct{}
	joinerDone    chan struct{}
	closeOnce     sync.Once
	closeErr      error
}

// Open starts this member with the given metadata and returns at once: the
// seeds in cfg.Join are joined in the background, retried with backoff
// until one answers (see Config.RejoinInterval). Call Close to leave.
func Open(cfg Config, meta Meta) (*Gossip, error) {
	if cfg.Name == "" {
		cfg.Name = meta.ID
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open gossip: invalid config: %w", err)
	}
	metaBytes, err := meta.Encode()
	if err != nil {
		return nil, fmt.Errorf("open gossip: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "gossip")

	mc, err := cfg.memberlistConfig()
	if err != nil {
		return nil, fmt.Errorf("open gossip: %w", err)
	}
	g := &Gossip{
		cfg:           cfg,
		name:          cfg.Name,
		log:           logger,
		meta:          meta,
		metaBytes:     metaBytes,
		members:       make(map[string]Member),
		departing:     make(map[string]time.Time),
		subs:          make(map[chan Event]struct{}),
		announce:      make(chan struct{}, 1),
		announcePace:  2 * mc.GossipInterval,
		stop:          make(chan struct{}),
		announcerDone: make(chan struct{}),
		joinerDone:    make(chan struct{}),
	}
	g.queue = &memberlist.TransmitLimitedQueue{NumNodes: g.numAlive, RetransmitMult: mc.RetransmitMult}
	if !cfg.Insecure {
		if g.keyring, err = memberlist.NewKeyring(cfg.Keys[1:], cfg.Keys[0]); err != nil {
			return nil, fmt.Errorf("open gossip: keyring: %w", err)
		}
	}
	advertise, err := resolveAdvertise(cfg.AdvertiseAddr)
	if err != nil {
		return nil, fmt.Errorf("open gossip: %w", err)
	}

	stdLogger := newStdLogger(logger, g.leaving.Load)
	dialCtx, cancelDials := context.WithCancel(context.Background())
	tr, err := newTransport(dialCtx, cfg.BindAddr, cfg.BindPort, stdLogger)
	if err != nil {
		cancelDials()
		return nil, fmt.Errorf("open gossip: %w", err)
	}
	g.cancelDials = cancelDials
	port := tr.GetAutoBindPort()

	mc.Name = cfg.Name
	mc.Transport = tr
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = port // also the default port of seeds given without one
	mc.AdvertiseAddr = advertise
	mc.AdvertisePort = cmp.Or(cfg.AdvertisePort, port)
	mc.Label = cfg.ClusterLabel
	mc.Keyring = g.keyring
	d := &delegate{g}
	mc.Delegate, mc.Events = d, d
	mc.Logger = stdLogger
	if g.ml, err = memberlist.Create(mc); err != nil {
		cancelDials()
		_ = tr.Shutdown()
		return nil, fmt.Errorf("open gossip: %w", err)
	}

	logger.Info("gossip started",
		"name", g.name, "addr", g.ml.LocalNode().Address(), "label", cfg.ClusterLabel,
		"encrypted", !cfg.Insecure, "seeds", cfg.Join, "profile", cmp.Or(cfg.Profile, ProfileWAN),
		"gossip_interval", mc.GossipInterval, "gossip_nodes", mc.GossipNodes,
		"retransmit_mult", mc.RetransmitMult, "probe_interval", mc.ProbeInterval,
		"probe_timeout", mc.ProbeTimeout, "suspicion_mult", mc.SuspicionMult,
		"push_pull_interval", mc.PushPullInterval)
	if cfg.Insecure {
		logger.Warn("gossip encryption is off: anyone who can reach the gossip port can join")
	}
	go g.announceLoop()
	go g.joinLoop()
	return g, nil
}

// resolveAdvertise turns a host name into the IP memberlist needs. Resolved
// once: a member that moves gets restarted with its new address.
func resolveAdvertise(addr string) (string, error) {
	if addr == "" || net.ParseIP(addr) != nil {
		return addr, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", addr)
	if err != nil {
		return "", fmt.Errorf("resolve advertise address %s: %w", addr, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return ips[0].String(), nil
}

// Close leaves the cluster, so that the others see this member as left
// rather than failed, then stops it: it announces the leave, calls
// memberlist's Leave, and only then Shutdown; each of the two waits is
// bounded by Config.LeaveTimeout. Event channels are closed. Calling Close
// again returns the first call's result.
func (g *Gossip) Close() error { return g.shutdown(true) }

// shutdown stops the member; without leave it just goes silent, as a
// killed process would.
func (g *Gossip) shutdown(leave bool) error {
	g.closeOnce.Do(func() {
		close(g.stop)
		// The announcer stops first so that no metadata update is queued
		// behind the leave.
		<-g.announcerDone
		var errs []error
		g.leaving.Store(true)
		if leave {
			g.announceLeave()
			// Leave blocks until its dead message has been retransmitted, so
			// that the others stop probing and reconnecting to us.
			if err := g.ml.Leave(g.cfg.LeaveTimeout); err != nil {
				g.log.Warn("gossip leave was not sent in time: the others will see this member as failed", "err", err)
				errs = append(errs, fmt.Errorf("leave gossip cluster: %w", err))
			}
		}
		g.cancelDials()
		<-g.joinerDone
		if err := g.ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("shut down gossip: %w", err))
		}
		g.mu.Lock()
		g.closed = true
		for ch := range g.subs {
			close(ch)
		}
		g.subs = nil
		g.mu.Unlock()
		g.closeErr = errors.Join(errs...)
		g.log.Info("gossip stopped", "left", leave)
	})
	return g.closeErr
}

// announceLeave tells the others that this member is leaving and waits
// until that has been retransmitted. Memberlist reports a graceful leave
// and a failure alike (NotifyLeave; v0.7.0 does not even fill in
// Node.State), so this message, received before the dead message Leave
// sends, is how the others record "left" rather than "dead". It goes first
// and separately because the dead message would replace a queued update
// of our own metadata before it had reached everyone.
func (g *Gossip) announceLeave() {
	if g.numAlive() <= 1 {
		return // nobody to tell
	}
	b := newLeaveBroadcast(g.name)
	g.queue.QueueBroadcast(b)
	t := time.NewTimer(g.cfg.LeaveTimeout)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
		g.log.Warn("gossip leave announcement not sent in time: some members may record this one as failed")
	}
}

// numAlive counts the members known alive, this one included; it scales
// retransmissions of the package's own messages as memberlist scales its.
func (g *Gossip) numAlive() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, m := range g.members {
		if m.State == StateAlive {
			n++
		}
	}
	return n
}

// Meta returns this member's current metadata.
func (g *Gossip) Meta() Meta {
	g.metaMu.Lock()
	defer g.metaMu.Unlock()
	return g.meta
}

func (g *Gossip) localMetaBytes() []byte {
	g.metaMu.Lock()
	defer g.metaMu.Unlock()
	return g.metaBytes
}

// Update changes this member's metadata with fn and announces it. It
// returns once the change is validated and applied locally; the broadcast
// happens in the background, so callers on hot paths (every push applied,
// every outbox write) are not held up, and updates made faster than they
// can be gossiped collapse into one. The ID cannot change.
func (g *Gossip) Update(fn func(*Meta)) error {
	if g.leaving.Load() {
		return ErrClosed
	}
	g.metaMu.Lock()
	next := g.meta
	fn(&next)
	if next.ID != g.meta.ID {
		g.metaMu.Unlock()
		return fmt.Errorf("update gossip meta: id cannot change from %q to %q", g.meta.ID, next.ID)
	}
	b, err := next.Encode()
	if err != nil {
		g.metaMu.Unlock()
		return fmt.Errorf("update gossip meta: %w", err)
	}
	changed := !bytes.Equal(b, g.metaBytes)
	g.meta, g.metaBytes = next, b
	g.metaMu.Unlock()
	if changed {
		select {
		case g.announce <- struct{}{}:
		default: // a broadcast is already pending and will carry this change
		}
	}
	return nil
}

// announceLoop broadcasts metadata changes, at most one per announcePace
// (two gossip rounds): UpdateNode reads the newest metadata when it runs,
// and a newer announcement replaces an older one still queued, so a burst
// of Updates costs a few broadcasts and the last one carries the result.
//
// UpdateNode's wait is used only for pacing, never as a delivery report:
// memberlist v0.7.0 signals completion with a non-blocking send on an
// unbuffered channel, so a broadcast that completes before UpdateNode
// starts waiting looks like a timeout; and a timeout leaves the message
// queued anyway, with push/pull as the backstop.
func (g *Gossip) announceLoop() {
	defer close(g.announcerDone)
	for {
		select {
		case <-g.stop:
			return
		case <-g.announce:
		}
		start := time.Now()
		_ = g.ml.UpdateNode(g.announcePace)
		if rest := g.announcePace - time.Since(start); rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-g.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// Members returns every member this one knows, itself included, sorted by
// name: the alive ones and, for Config.ReconnectTimeout, those that failed
// or left, with their last metadata.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	ms := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	g.mu.Unlock()
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// LocalMember returns this member as the cluster sees it; its Addr is the
// advertised address, with the port actually bound when BindPort was 0.
func (g *Gossip) LocalMember() Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.members[g.name]
}

// Subscribe returns a new channel of events and a function that ends the
// subscription and closes the channel. The channel holds Config.EventBuffer
// events; when the consumer falls behind, the oldest are dropped, because
// the events are produced on memberlist's goroutines, which must never
// block. Read Members after subscribing for the state so far.
func (g *Gossip) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, g.cfg.EventBuffer)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		close(ch)
		return ch, func() {}
	}
	g.subs[ch] = struct{}{}
	return ch, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, ok := g.subs[ch]; ok {
			delete(g.subs, ch)
			close(ch)
		}
	}
}

// Events returns the default subscription, made on the first call, for a
// process with a single consumer. It is closed by Close.
func (g *Gossip) Events() <-chan Event {
	g.eventsOnce.Do(func() { g.events, _ = g.Subscribe() })
	return g.events
}

func (g *Gossip) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// observe records what memberlist reported about a member and tells the
// subscribers. It runs under memberlist's node lock (see delegate.go).
func (g *Gossip) observe(kind EventKind, n *memberlist.Node) {
	m := Member{Name: n.Name, Addr: n.Address(), State: StateAlive, Since: time.Now()}
	meta, err := DecodeMeta(n.Meta)
	if err != nil {
		g.log.Warn("gossip member sent unreadable metadata", "member", n.Name, "addr", m.Addr, "err", err)
	} else {
		m.Meta = meta
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	switch kind {
	case EventLeave:
		// Memberlist reports a leave and a failure alike; a member that
		// left announced it first (see announceLeave).
		m.State = StateDead
		if _, ok := g.departing[n.Name]; ok || (n.Name == g.name && g.leaving.Load()) {
			m.State = StateLeft
		}
	case EventJoin:
		delete(g.departing, n.Name)
	}
	if old, ok := g.members[n.Name]; ok && old.State == m.State {
		m.Since = old.Since
	}
	g.members[n.Name] = m
	g.publishLocked(Event{Kind: kind, Member: m})

	attrs := []any{"member", m.Name, "addr", m.Addr, "state", m.State, "role", m.Role, "seq", m.Seq}
	if kind == EventUpdate {
		g.log.Debug("gossip member updated", attrs...)
	} else {
		g.log.Info("gossip member "+kind.String(), attrs...)
	}
}

// departed records another member's leave announcement and passes it on.
// Messages of our own are sent only by the member that queues them, not
// re-gossiped by memberlist as its own are, so every member relays the
// announcement once: otherwise, in a cluster of more than a handful, most
// members would never hear it and would record the leave as a failure.
func (g *Gossip) departed(name string) {
	if name == g.name {
		return // our own, relayed back
	}
	g.mu.Lock()
	if _, seen := g.departing[name]; seen {
		g.mu.Unlock()
		return
	}
	g.departing[name] = time.Now()
	// The announcement can lose the race with the dead message that
	// follows it; a member recorded dead a moment ago then becomes left.
	if m, ok := g.members[name]; ok && m.State == StateDead && time.Since(m.Since) < time.Minute {
		m.State = StateLeft
		g.members[name] = m
		g.publishLocked(Event{Kind: EventLeave, Member: m})
		g.log.Info("gossip member leave", "member", m.Name, "addr", m.Addr, "state", m.State, "role", m.Role, "seq", m.Seq)
	}
	g.mu.Unlock()
	g.queue.QueueBroadcast(newLeaveBroadcast(name))
}

// publishLocked hands ev to every subscriber; g.mu is held.
func (g *Gossip) publishLocked(ev Event) {
	for ch := range g.subs {
		if deliver(ch, ev) {
			g.log.Debug("gossip event consumer is behind: dropped the oldest event")
		}
	}
}

// deliver puts ev on ch, discarding the oldest queued events to make room.
// Callers hold g.mu, so nobody else sends on ch meanwhile and the loop ends
// within two rounds. It reports whether something was dropped.
func deliver(ch chan Event, ev Event) (dropped bool) {
	for {
		select {
		case ch <- ev:
			return dropped
		default:
		}
		select {
		case <-ch:
			dropped = true
		default:
		}
	}
}

// Join contacts the given seeds (Config.Join when none are given) and
// merges state with every one that answers. It returns how many answered,
// and an error wrapping ErrJoinRefused or ErrNoSeedReachable when none did.
// Open already joins Config.Join in the background; Join is for operators
// and tests that want the outcome.
func (g *Gossip) Join(seeds ...string) (int, error) {
	if g.isClosed() {
		return 0, ErrClosed
	}
	if len(seeds) == 0 {
		seeds = g.cfg.Join
	}
	if len(seeds) == 0 {
		return 0, errors.New("join gossip cluster: no seeds")
	}
	return g.join(seeds, slog.LevelInfo)
}

// join joins seeds, logging success at level (a routine reconnect is not
// news) and failure as a warning (it always is).
func (g *Gossip) join(seeds []string, level slog.Level) (int, error) {
	n, err := g.ml.Join(seeds)
	if err != nil {
		err = joinError(err)
		g.log.Warn(err.Error(), "seeds", seeds)
		return n, err
	}
	g.log.Log(context.Background(), level, "joined gossip cluster", "seeds", seeds, "answered", n, "alive", g.ml.NumMembers())
	return n, nil
}

// joinError classifies memberlist's join error: connection failures mean no
// seed is up (or a firewall is in the way); a failure after connecting means
// the seed refused us, which memberlist only reports as an undecryptable
// answer (wrong key) or a closed stream (wrong label).
func joinError(err error) error {
	errs := []error{err}
	var multi interface{ WrappedErrors() []error }
	if errors.As(err, &multi) {
		errs = multi.WrappedErrors()
	}
	msgs := make([]string, 0, len(errs))
	sentinel := ErrNoSeedReachable
	for _, e := range errs {
		msg := e.Error()
		if !strings.Contains(msg, ": dial ") && !strings.Contains(msg, "failed to resolve") {
			sentinel = ErrJoinRefused
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("%w: %s", sentinel, strings.Join(msgs, "; "))
}

// joinLoop joins the seeds, with backoff until it succeeds, then every
// RejoinInterval reconnects to failed members and, when alone or when
// something failed, to the seeds again. Without this a restarted hub, which
// has no seeds of its own, would stay alone while the nodes, still in touch
// with each other, never asked it back.
func (g *Gossip) joinLoop() {
	defer close(g.joinerDone)
	joined := len(g.cfg.Join) == 0
	backoff := min(time.Second, g.cfg.RejoinInterval)
	for {
		delay := g.cfg.RejoinInterval
		if !joined {
			if _, err := g.join(g.cfg.Join, slog.LevelInfo); err == nil {
				joined = true
			} else {
				delay = backoff
				backoff = min(2*backoff, g.cfg.RejoinInterval)
			}
		} else {
			g.reconnect()
		}
		g.forget(time.Now())

		// Jitter keeps a cluster restarted all at once from retrying in step.
		delay = delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(delay)
		select {
		case <-g.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// reconnect tries the last address of each member that failed within
// ReconnectTimeout, and the seeds if this member is alone or something
// failed (the failed member may be back at another address).
func (g *Gossip) reconnect() {
	now := time.Now()
	alone := true
	var failed []Member
	g.mu.Lock()
	for _, m := range g.members {
		switch {
		case m.Name == g.name:
		case m.State == StateAlive:
			alone = false
		case m.State == StateDead && now.Sub(m.Since) < g.cfg.ReconnectTimeout:
			failed = append(failed, m)
		}
	}
	g.mu.Unlock()

	if len(g.cfg.Join) > 0 && (alone || len(failed) > 0) {
		level := slog.LevelDebug
		if alone {
			level = slog.LevelInfo // back from isolation: worth a line
		}
		_, _ = g.join(g.cfg.Join, level)
	}
	for _, m := range failed {
		select {
		case <-g.stop:
			return
		default:
		}
		if g.stateOf(m.Name) != StateDead {
			continue // came back meanwhile, e.g. through the seeds
		}
		if _, err := g.ml.Join([]string{m.Addr}); err != nil {
			g.log.Debug("failed gossip member still unreachable", "member", m.Name, "addr", m.Addr, "err", err)
			continue
		}
		g.log.Info("reconnected to failed gossip member", "member", m.Name, "addr", m.Addr)
	}
}

func (g *Gossip) stateOf(name string) State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.members[name].State
}

// forget drops members that failed or left longer than ReconnectTimeout
// ago, so that a cluster whose members come and go does not grow the list
// forever.
func (g *Gossip) forget(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, m := range g.members {
		if name != g.name && m.State != StateAlive && now.Sub(m.Since) > g.cfg.ReconnectTimeout {
			delete(g.members, name)
		}
	}
	// Announcements are kept a while to relay each only once, but one whose
	// dead message never came (the leaver's Leave failed) must not turn a
	// later failure of the same member into a leave.
	for name, at := range g.departing {
		if now.Sub(at) > time.Minute {
			delete(g.departing, name)
		}
	}
}
