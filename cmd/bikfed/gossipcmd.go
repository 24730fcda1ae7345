package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/node"
)

// gossipSettings are the gossip flags that need parsing into gossip.Config
// once every source has been read.
type gossipSettings struct {
	cfg       *gossip.Config
	bind      string
	advertise string
	join      string
	keys      string
	keyFile   string
	insecure  bool
}

// gossipFlags registers the membership settings, shared by hub and node.
// Keys are secrets: give them in BIKFED_GOSSIP_KEYS, the config file or a
// key file rather than on the command line, where ps shows them.
func gossipFlags(s *settings, enabled *bool, cfg *gossip.Config, joinHelp string) {
	g := &gossipSettings{cfg: cfg, bind: net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.BindPort))}
	fs := s.fs
	fs.BoolVar(enabled, "gossip", *enabled, "join the gossip cluster: membership, liveness and sync hints (off: HTTP only)")
	fs.StringVar(&g.bind, "gossip-bind", g.bind, "gossip address to listen on, UDP and TCP: ip[:port]")
	fs.StringVar(&g.advertise, "gossip-advertise", "", "gossip address the others reach this member at: host[:port] (required when --gossip-bind is a wildcard)")
	fs.StringVar(&g.join, "gossip-join", "", joinHelp)
	fs.StringVar(&cfg.ClusterLabel, "gossip-label", cfg.ClusterLabel, "gossip cluster label; members with another label are refused")
	fs.StringVar(&g.keys, "gossip-keys", "", "gossip keys, base64, comma-separated, the first encrypts (prefer BIKFED_GOSSIP_KEYS or the config file)")
	fs.StringVar(&g.keyFile, "gossip-key-file", "", "file of gossip keys, base64, one per line, the first encrypts")
	fs.BoolVar(&g.insecure, "gossip-insecure", false, "gossip without encryption (tests and demos on one machine only)")
	fs.StringVar(&cfg.Profile, "gossip-profile", cfg.Profile, "gossip timers: wan, lan or local")
	// Advanced: overrides of the profile's timers, for tests and tuning (0: the profile's value).
	fs.DurationVar(&cfg.GossipInterval, "gossip-interval", 0, "advanced: gossip round interval (0: profile)")
	fs.DurationVar(&cfg.ProbeInterval, "gossip-probe-interval", 0, "advanced: failure-detection probe interval (0: profile)")
	fs.DurationVar(&cfg.ProbeTimeout, "gossip-probe-timeout", 0, "advanced: probe timeout (0: profile)")
	fs.IntVar(&cfg.SuspicionMult, "gossip-suspicion-mult", 0, "advanced: suspicion multiplier (0: profile)")
	fs.IntVar(&cfg.RetransmitMult, "gossip-retransmit-mult", cfg.RetransmitMult, "advanced: retransmission multiplier (each update is sent mult*ceil(log10(members+1)) times by every member)")
	fs.DurationVar(&cfg.PushPullInterval, "gossip-push-pull-interval", 0, "advanced: full state exchange interval (0: profile)")
	fs.DurationVar(&cfg.RejoinInterval, "gossip-rejoin-interval", cfg.RejoinInterval, "advanced: how often to retry the seeds and failed members")
	s.after = append(s.after, g.apply)
}

// apply parses the address, seed and key settings into the config.
func (g *gossipSettings) apply() error {
	var errs []error
	host, port, err := splitHostPort(g.bind, gossip.DefaultConfig().BindPort)
	if err != nil {
		errs = append(errs, fmt.Errorf("gossip-bind: %w", err))
	} else {
		g.cfg.BindAddr, g.cfg.BindPort = host, port
	}
	if g.advertise != "" {
		host, port, err := splitHostPort(g.advertise, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("gossip-advertise: %w", err))
		} else {
			g.cfg.AdvertiseAddr, g.cfg.AdvertisePort = host, port
		}
	}
	g.cfg.Join = nil
	for _, seed := range strings.Split(g.join, ",") {
		if seed = strings.TrimSpace(seed); seed != "" {
			g.cfg.Join = append(g.cfg.Join, seed)
		}
	}
	keys, err := g.readKeys()
	if err != nil {
		errs = append(errs, err)
	}
	g.cfg.Keys, g.cfg.Insecure = keys, g.insecure
	return errors.Join(errs...)
}

func (g *gossipSettings) readKeys() ([][]byte, error) {
	if g.keys != "" && g.keyFile != "" {
		return nil, errors.New("gossip-keys and gossip-key-file: give one or the other")
	}
	text := strings.ReplaceAll(g.keys, ",", "\n")
	source := "gossip-keys"
	if g.keyFile != "" {
		b, err := os.ReadFile(g.keyFile)
		if err != nil {
			return nil, fmt.Errorf("gossip-key-file: %w", err)
		}
		text, source = string(b), g.keyFile
	}
	var keys [][]byte
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, err := gossip.ParseKey(s)
		if err != nil {
			// The key itself is never echoed: it is a secret.
			return nil, fmt.Errorf("%s: key %d: %w", source, len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitHostPort reads "host", "host:port" or ":port"; an empty host is
// the wildcard and a missing port is defPort.
func splitHostPort(s string, defPort int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		// No port at all: the whole thing is the host.
		if strings.Contains(err.Error(), "missing port") {
			return strings.Trim(s, "[]"), defPort, nil
		}
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q is not a port", portStr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// hubOpsFlags registers the hub's membership and status settings.
func hubOpsFlags(s *settings, cfg *hub.Config) {
	gossipFlags(s, &cfg.Gossip.Enabled, &cfg.Gossip.Config, "gossip seeds, host:port, comma-separated (the hub usually has none: nodes join it)")
	s.fs.DurationVar(&cfg.LagSampleInterval, "lag-sample-interval", cfg.LagSampleInterval, "how often each node's lag is sampled for the console's lag chart")
	s.fs.DurationVar(&cfg.LivenessWindow, "liveness-window", cfg.LivenessWindow, "without gossip, how recent a node's last contact must be to show it alive")
}

// nodeOpsFlags registers the node's membership and readiness settings.
func nodeOpsFlags(s *settings, cfg *node.Config) {
	gossipFlags(s, &cfg.Gossip.Enabled, &cfg.Gossip.Config, "the hub's gossip address, host:port (more seeds comma-separated)")
	s.fs.DurationVar(&cfg.ReadyMaxSyncFailure, "ready-max-sync-failure", cfg.ReadyMaxSyncFailure, "how long push or pull may keep failing before /readyz says not ready")
}

// gossipKeygen prints a new random gossip key.
func (e *cmdEnv) gossipKeygen(args []string) error {
	s := newSettings("bikfed gossip-keygen", e.stderr)
	if err := s.parse(args); err != nil {
		return err
	}
	k, err := gossip.GenerateKey()
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, gossip.FormatKey(k))
	return nil
}

// demoCluster is the demo's gossip membership: one key made for the run,
// loopback, the local profile, the hub on a port chosen up front so the
// nodes can name it as their seed.
type demoCluster struct {
	key     []byte
	hubAddr string
	log     *slog.Logger
}

func newDemoCluster(log *slog.Logger) (*demoCluster, error) {
	key, err := gossip.GenerateKey()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("demo gossip: %w", err)
	}
	return &demoCluster{key: key, hubAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: log}, nil
}

func (d *demoCluster) config(port int, join ...string) gossip.Config {
	c := gossip.DefaultConfig()
	c.BindAddr, c.BindPort = "127.0.0.1", port
	c.Keys = [][]byte{bytes.Clone(d.key)}
	c.ClusterLabel = "bikfed-demo"
	c.Profile = gossip.ProfileLocal
	c.Join = join
	c.RejoinInterval = 2 * time.Second
	// Everyone leaves at once when the demo stops; nobody is left to hear
	// a late goodbye.
	c.LeaveTimeout = time.Second
	return c
}

// hub turns gossip on in the hub's config.
func (d *demoCluster) hub(cfg *hub.Config) {
	_, p, _ := net.SplitHostPort(d.hubAddr)
	port, _ := strconv.Atoi(p)
	cfg.Gossip.Enabled, cfg.Gossip.Config = true, d.config(port)
	cfg.Gossip.Logger = d.log
	cfg.LagSampleInterval = 10 * time.Second
}

// node turns gossip on in a node's config, joining the hub.
func (d *demoCluster) node(cfg *node.Config, id string) {
	cfg.Gossip.Enabled, cfg.Gossip.Config = true, d.config(0, d.hubAddr)
	cfg.Gossip.Logger = d.log.With("node", id)
}

// freePort returns a loopback port free for now, for a member that must
// keep its port across restarts (memberlist refuses a member that comes
// back at another address).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
