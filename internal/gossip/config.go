package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/bikfed/bikfed/protocol"
)

// Profiles: the memberlist default each one starts from.
const (
	// ProfileWAN (memberlist.DefaultWANConfig) is for members spread over
	// the internet, as the hub and the national nodes are: slow probes and
	// long suspicion, because a false "dead" costs more than a late one when
	// HTTP sync is the authority anyway.
	ProfileWAN = "wan"
	// ProfileLAN (memberlist.DefaultLANConfig) is for members in one data
	// centre, such as a hub and its mirrors.
	ProfileLAN = "lan"
	// ProfileLocal (memberlist.DefaultLocalConfig, with RetransmitMult raised
	// to minRetransmitMult) is for members on one machine: demos and tests.
	ProfileLocal = "local"
)

// minRetransmitMult is the lowest retransmission multiplier any profile gets.
// Measured with memberlist v0.7.0 and 32 members on loopback,
// DefaultLocalConfig's RetransmitMult of 2 under-gossips: a metadata update
// was still missing on some members after 10 s, while the LAN/WAN value of 4
// reached everyone in about 0.5 s. Retransmits are RetransmitMult*log10(N+1)
// per message, so 4 stays cheap at a few hundred members.
const minRetransmitMult = 4

// Config configures a Gossip. Start from DefaultConfig; Keys (or Insecure),
// ClusterLabel and, when BindAddr is a wildcard, AdvertiseAddr must be set.
//
// The timer fields (RetransmitMult to TCPTimeout) are overrides: zero takes
// the profile's value. Their values per profile are:
//
//	                 wan     lan     local
//	GossipInterval   500ms   200ms   100ms
//	GossipNodes      4       3       3
//	RetransmitMult   4       4       4 (memberlist: 2)
//	ProbeInterval    5s      1s      1s
//	ProbeTimeout     3s      500ms   200ms
//	SuspicionMult    6       4       3
//	PushPullInterval 60s     30s     15s
//	TCPTimeout       30s     10s     1s
//
// A failed member is suspected after ProbeInterval+ProbeTimeout and declared
// dead SuspicionMult*max(1,log10(N))*ProbeInterval later (sooner with other
// members' confirmations, at most SuspicionMaxTimeoutMult=6 times later
// without), so with the WAN profile and 30 members a failure is known in
// about a minute; a metadata update reaches everyone in a few GossipIntervals.
type Config struct {
	// Name is this member's name in the cluster, unique across it.
	// Default: the ID of the Meta given to Open. Same syntax as a node id.
	Name string

	// BindAddr is the IP address to listen on, UDP and TCP. Default "0.0.0.0".
	BindAddr string
	// BindPort is the port to listen on, UDP and TCP. Default 7946, the
	// usual memberlist port. 0 picks a free port (tests); the port in use is
	// then in LocalMember().Addr.
	BindPort int
	// AdvertiseAddr is the address the other members use to reach this one:
	// an IP, or a host name resolved once at Open. Required when BindAddr is
	// a wildcard, because memberlist would otherwise guess a private address,
	// which is wrong for members that meet over the internet or through NAT.
	// Empty with a specific BindAddr: BindAddr.
	AdvertiseAddr string
	// AdvertisePort is the port the others use. Default (0): the bound port.
	AdvertisePort int

	// Keys is the encryption keyring, 16, 24 or 32 bytes each (AES-128,
	// -192, -256); the first one encrypts, all of them decrypt. Required
	// unless Insecure. See ParseKey and GenerateKey.
	Keys [][]byte
	// Insecure runs gossip unencrypted. Only for tests and demos on one
	// machine; members cannot mix encrypted and unencrypted gossip.
	Insecure bool
	// ClusterLabel is sent with every packet and stream (and authenticated
	// with the key), and a member drops what carries another label. It keeps
	// clusters that share a network and a key apart, e.g. "bikfed-prod" and
	// "bikfed-staging". Required, at most 255 bytes.
	ClusterLabel string

	// Join lists seed addresses ("host:port"; the port defaults to
	// BindPort). Open returns at once and joins in the background, retrying
	// with backoff until a seed answers. Nodes list the hub; the hub may list
	// nothing. Empty: wait for others to join this member.
	Join []string

	// Profile is the memberlist default the timers start from: ProfileWAN
	// (default, also for ""), ProfileLAN or ProfileLocal.
	Profile string

	// GossipInterval is how often gossip that could not ride on a probe is
	// sent, to GossipNodes random members. 0: profile value.
	GossipInterval time.Duration
	// GossipNodes is how many members each gossip round goes to. 0: profile value.
	GossipNodes int
	// RetransmitMult times log10(N+1) is how often each message is
	// retransmitted. 0: profile value, which is at least 4 in every profile
	// (see minRetransmitMult).
	RetransmitMult int
	// ProbeInterval is how often one random member is probed. 0: profile value.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for its ack before asking
	// others to probe indirectly; about the 99th percentile round trip.
	// Must be less than ProbeInterval. 0: profile value.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect member may refute before it is
	// declared dead. 0: profile value.
	SuspicionMult int
	// PushPullInterval is how often full state is exchanged with one random
	// member over TCP: the anti-entropy that repairs lost gossip. 0: profile value.
	PushPullInterval time.Duration
	// TCPTimeout bounds dialling and each stream read/write. 0: profile value.
	TCPTimeout time.Duration

	// RejoinInterval is how often this member tries to reconnect: to the
	// Join seeds while it has not joined yet or is alone, and to the last
	// address of members that failed (not those that left), so that a
	// restarted hub or a healed partition merges back into one cluster.
	// Also the longest wait between attempts of the initial join. Default 30s.
	RejoinInterval time.Duration
	// ReconnectTimeout is how long a failed member is retried, and how long
	// failed and departed members stay listed by Members. Default 24h.
	ReconnectTimeout time.Duration
	// LeaveTimeout bounds each of Close's two waits: for the leave
	// announcement and for memberlist's leave message to be retransmitted.
	// A member whose announcement did not get out is recorded as failed
	// rather than left. Default 5s.
	LeaveTimeout time.Duration
	// EventBuffer is the capacity of each event channel; when a consumer
	// falls this far behind, the oldest events are dropped. Default 256.
	EventBuffer int

	// Logger receives the package's and memberlist's logs, with
	// component=gossip. Nil: logs are discarded.
	Logger *slog.Logger
}

// DefaultConfig returns the settings a member runs with unless configured
// otherwise. Keys, ClusterLabel and AdvertiseAddr are left empty: they must
// be chosen per deployment.
func DefaultConfig() Config {
	return Config{
		BindAddr:         "0.0.0.0",
		BindPort:         7946,
		Profile:          ProfileWAN,
		RejoinInterval:   30 * time.Second,
		ReconnectTimeout: 24 * time.Hour,
		LeaveTimeout:     5 * time.Second,
		EventBuffer:      256,
	}
}

// Validate reports every invalid field at once, as "field: problem" errors.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Name != "" {
		if err := protocol.ValidNodeID(c.Name); err != nil {
			bad("Name", "%v", err)
		}
	}
	bindIP := net.ParseIP(c.BindAddr)
	if bindIP == nil {
		bad("BindAddr", "%q is not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		bad("BindPort", "%d is not a port", c.BindPort)
	}
	if c.AdvertiseAddr == "" && bindIP != nil && bindIP.IsUnspecified() {
		bad("AdvertiseAddr", "required when BindAddr is %s", c.BindAddr)
	}
	if strings.ContainsAny(c.AdvertiseAddr, " :/") && net.ParseIP(c.AdvertiseAddr) == nil {
		bad("AdvertiseAddr", "%q is not an IP address or host name", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("AdvertisePort", "%d is not a port", c.AdvertisePort)
	}
	switch {
	case c.Insecure && len(c.Keys) > 0:
		bad("Keys", "set together with Insecure")
	case !c.Insecure && len(c.Keys) == 0:
		bad("Keys", "required (or Insecure, for tests)")
	}
	for i, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			bad("Keys", "key %d is %d bytes, must be 16, 24 or 32", i, len(k))
		}
	}
	if c.ClusterLabel == "" {
		bad("ClusterLabel", "required")
	} else if len(c.ClusterLabel) > memberlist.LabelMaxSize || !printable(c.ClusterLabel) {
		bad("ClusterLabel", "must be at most %d printable ASCII characters without spaces", memberlist.LabelMaxSize)
	}
	for _, s := range c.Join {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			bad("Join", "%q is not a host:port address", s)
		}
	}
	if _, err := profileConfig(c.Profile); err != nil {
		bad("Profile", "%v", err)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"GossipInterval", c.GossipInterval},
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"PushPullInterval", c.PushPullInterval},
		{"TCPTimeout", c.TCPTimeout},
	} {
		if d.v < 0 {
			bad(d.field, "negative")
		}
	}
	for _, n := range []struct {
		field string
		v     int
	}{
		{"GossipNodes", c.GossipNodes},
		{"RetransmitMult", c.RetransmitMult},
		{"SuspicionMult", c.SuspicionMult},
	} {
		if n.v < 0 {
			bad(n.field, "negative")
		}
	}
	if mc, err := c.memberlistConfig(); err == nil && mc.ProbeTimeout >= mc.ProbeInterval {
		bad("ProbeTimeout", "%s must be less than ProbeInterval %s", mc.ProbeTimeout, mc.ProbeInterval)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"RejoinInterval", c.RejoinInterval},
		{"ReconnectTimeout", c.ReconnectTimeout},
		{"LeaveTimeout", c.LeaveTimeout},
	} {
		if d.v <= 0 {
			bad(d.field, "must be positive")
		}
	}
	if c.EventBuffer <= 0 {
		bad("EventBuffer", "must be positive")
	}
	return errors.Join(errs...)
}

// profileConfig returns memberlist's defaults for a profile.
func profileConfig(profile string) (*memberlist.Config, error) {
	var mc *memberlist.Config
	switch profile {
	case ProfileWAN, "":
		mc = memberlist.DefaultWANConfig()
	case ProfileLAN:
		mc = memberlist.DefaultLANConfig()
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
	default:
		return nil, fmt.Errorf("%q is not %s, %s or %s", profile, ProfileWAN, ProfileLAN, ProfileLocal)
	}
	mc.RetransmitMult = max(mc.RetransmitMult, minRetransmitMult)
	return mc, nil
}

// memberlistConfig builds the memberlist configuration for the profile and
// overrides. Addresses, keys, logging and delegates are filled in by Open.
func (c Config) memberlistConfig() (*memberlist.Config, error) {
	mc, err := profileConfig(c.Profile)
	if err != nil {
		return nil, err
	}
	setDuration := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setDuration(&mc.GossipInterval, c.GossipInterval)
	setInt(&mc.GossipNodes, c.GossipNodes)
	setInt(&mc.RetransmitMult, c.RetransmitMult)
	setDuration(&mc.ProbeInterval, c.ProbeInterval)
	setDuration(&mc.ProbeTimeout, c.ProbeTimeout)
	setInt(&mc.SuspicionMult, c.SuspicionMult)
	setDuration(&mc.PushPullInterval, c.PushPullInterval)
	setDuration(&mc.TCPTimeout, c.TCPTimeout)
	return mc, nil
}
