package gossip

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/bikfed/bikfed/protocol"
)

// This file is the adapter between memberlist and the rest of the package.
// Memberlist calls these methods from its own goroutines, the event ones
// while holding its node lock: they must return quickly and must not call
// back into the Memberlist.

var (
	_ memberlist.Delegate           = (*delegate)(nil)
	_ memberlist.EventDelegate      = (*delegate)(nil)
	_ memberlist.NodeAwareTransport = (*transport)(nil)
)

// delegate supplies this member's metadata and receives membership events.
type delegate struct{ g *Gossip }

// NodeMeta returns the encoded local Meta. Encode capped it at MaxMetaSize,
// far below memberlist's limit, which memberlist would otherwise enforce
// with a panic.
func (d *delegate) NodeMeta(limit int) []byte {
	b := d.g.localMetaBytes()
	if len(b) > limit {
		return nil
	}
	return b
}

// Gossip carries membership and hints only. The one message of our own is
// the leave announcement; there is no state of our own to exchange.

func (d *delegate) NotifyMsg(b []byte) {
	name, err := parseLeaveMessage(b)
	if err != nil {
		d.g.log.Debug("ignored a gossip message", "err", err)
		return
	}
	d.g.departed(name)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.g.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.g.observe(EventJoin, n) }
func (d *delegate) NotifyLeave(n *memberlist.Node)  { d.g.observe(EventLeave, n) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.g.observe(EventUpdate, n) }

// msgLeave starts a leave announcement: msgLeave followed by the member's name.
const msgLeave byte = 'L'

func leaveMessage(name string) []byte { return append([]byte{msgLeave}, name...) }

// parseLeaveMessage reads a leave announcement. The input comes from the
// network; a name is a node id, so anything else is refused.
func parseLeaveMessage(b []byte) (string, error) {
	if len(b) == 0 || b[0] != msgLeave {
		return "", errors.New("unknown gossip message type")
	}
	name := string(b[1:])
	if err := protocol.ValidNodeID(name); err != nil {
		return "", fmt.Errorf("leave announcement: %w", err)
	}
	return name, nil
}

// broadcast is one of our messages in the TransmitLimitedQueue. Unlike
// memberlist's own notifications, Finished closes a channel, so a waiter
// that arrives late still sees it. Messages are named after their member,
// so a newer one about the same member replaces an older one still queued.
type broadcast struct {
	name string
	msg  []byte
	done chan struct{}
	once sync.Once
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func newLeaveBroadcast(member string) *broadcast {
	return &broadcast{name: "leave/" + member, msg: leaveMessage(member), done: make(chan struct{})}
}

func (b *broadcast) Name() string                          { return b.name }
func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *broadcast) Message() []byte                       { return b.msg }
func (b *broadcast) Finished()                             { b.once.Do(func() { close(b.done) }) }

// transport is memberlist's own UDP/TCP transport with dials that Close can
// cancel. Memberlist dials with plain timeouts (TCPTimeout, 30 s in the WAN
// profile), so without this a join attempt to an unreachable seed would hold
// Close for that long; with it, Close aborts in-flight dials and streams.
type transport struct {
	*memberlist.NetTransport
	ctx context.Context
}

// newTransport binds the UDP and TCP listeners. Port 0 asks the kernel for
// a free TCP port and then binds UDP to the same number, which another
// process may hold, so that case is retried as memberlist itself does.
func newTransport(ctx context.Context, addr string, port int, logger *log.Logger) (*transport, error) {
	attempts := 1
	if port == 0 {
		attempts = 10
	}
	var err error
	for range attempts {
		var nt *memberlist.NetTransport
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{addr},
			BindPort:  port,
			Logger:    logger,
		})
		if err == nil {
			return &transport{NetTransport: nt, ctx: ctx}, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("listen for gossip on %s: %w", net.JoinHostPort(addr, fmt.Sprint(port)), err)
}

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(t.ctx, "tcp", a.Addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(t.ctx, func() { conn.Close() })
	return &cancelConn{Conn: conn, stop: stop}, nil
}

// cancelConn releases its context hook when memberlist closes it.
type cancelConn struct {
	net.Conn
	stop func() bool
}

func (c *cancelConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
