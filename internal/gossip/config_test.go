package gossip

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.AdvertiseAddr = "192.0.2.10"
	c.Keys = [][]byte{bytes.Repeat([]byte{1}, 32)}
	c.ClusterLabel = "bikfed-prod"
	c.Join = []string{"hub.example.org:7946"}
	return c
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // fields named in the error; none: valid
	}{
		{"valid", func(*Config) {}, nil},
		{"specific bind address needs no advertise address", func(c *Config) { c.BindAddr, c.AdvertiseAddr = "10.0.0.5", "" }, nil},
		{"advertise host name", func(c *Config) { c.AdvertiseAddr = "node.example.org" }, nil},
		{"insecure", func(c *Config) { c.Keys, c.Insecure = nil, true }, nil},
		{"every profile", func(c *Config) { c.Profile = ProfileLAN }, nil},
		{"empty profile is wan", func(c *Config) { c.Profile = "" }, nil},
		{"everything missing", func(c *Config) { *c = Config{} }, []string{
			"BindAddr", "Keys", "ClusterLabel", "RejoinInterval", "ReconnectTimeout", "LeaveTimeout", "EventBuffer",
		}},
		{"wildcard without advertise address", func(c *Config) { c.AdvertiseAddr = "" }, []string{"AdvertiseAddr"}},
		{"ipv6 wildcard without advertise address", func(c *Config) { c.BindAddr, c.AdvertiseAddr = "::", "" }, []string{"AdvertiseAddr"}},
		{"advertise with port", func(c *Config) { c.AdvertiseAddr = "node.example.org:7946" }, []string{"AdvertiseAddr"}},
		{"bind host name", func(c *Config) { c.BindAddr = "localhost" }, []string{"BindAddr"}},
		{"ports", func(c *Config) { c.BindPort, c.AdvertisePort = -1, 70000 }, []string{"BindPort", "AdvertisePort"}},
		{"bad name", func(c *Config) { c.Name = "Hub!" }, []string{"Name"}},
		{"no keys", func(c *Config) { c.Keys = nil }, []string{"Keys"}},
		{"keys and insecure", func(c *Config) { c.Insecure = true }, []string{"Keys"}},
		{"short key", func(c *Config) { c.Keys = append(c.Keys, make([]byte, 20)) }, []string{"Keys"}},
		{"label too long", func(c *Config) { c.ClusterLabel = strings.Repeat("l", 256) }, []string{"ClusterLabel"}},
		{"label with space", func(c *Config) { c.ClusterLabel = "bikfed prod" }, []string{"ClusterLabel"}},
		{"empty seed", func(c *Config) { c.Join = []string{""} }, []string{"Join"}},
		{"unknown profile", func(c *Config) { c.Profile = "fast" }, []string{"Profile"}},
		{"negative timers", func(c *Config) {
			c.GossipInterval, c.GossipNodes, c.RetransmitMult, c.SuspicionMult, c.TCPTimeout = -1, -1, -1, -1, -1
		}, []string{"GossipInterval", "GossipNodes", "RetransmitMult", "SuspicionMult", "TCPTimeout"}},
		{"probe timeout not below interval", func(c *Config) { c.ProbeTimeout = 6 * time.Second }, []string{"ProbeTimeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			for _, field := range tt.want {
				if !strings.Contains(err.Error(), field+":") {
					t.Errorf("error does not name %s: %v", field, err)
				}
			}
		})
	}
}

func TestConfig_memberlistConfig(t *testing.T) {
	tests := []struct {
		profile string
		gossip  time.Duration
		probe   time.Duration
	}{
		{"", 500 * time.Millisecond, 5 * time.Second},
		{ProfileWAN, 500 * time.Millisecond, 5 * time.Second},
		{ProfileLAN, 200 * time.Millisecond, time.Second},
		{ProfileLocal, 100 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		c := validConfig()
		c.Profile = tt.profile
		mc, err := c.memberlistConfig()
		if err != nil {
			t.Fatal(err)
		}
		if mc.GossipInterval != tt.gossip || mc.ProbeInterval != tt.probe {
			t.Errorf("profile %q: gossip %s probe %s", tt.profile, mc.GossipInterval, mc.ProbeInterval)
		}
		if mc.RetransmitMult < minRetransmitMult {
			t.Errorf("profile %q: RetransmitMult %d under-gossips", tt.profile, mc.RetransmitMult)
		}
	}

	c := validConfig()
	c.GossipInterval, c.GossipNodes, c.RetransmitMult = time.Millisecond, 7, 2
	c.ProbeInterval, c.ProbeTimeout, c.SuspicionMult = time.Minute, time.Second, 9
	c.PushPullInterval, c.TCPTimeout = time.Hour, 3*time.Second
	mc, err := c.memberlistConfig()
	if err != nil {
		t.Fatal(err)
	}
	if mc.GossipInterval != time.Millisecond || mc.GossipNodes != 7 || mc.RetransmitMult != 2 ||
		mc.ProbeInterval != time.Minute || mc.ProbeTimeout != time.Second || mc.SuspicionMult != 9 ||
		mc.PushPullInterval != time.Hour || mc.TCPTimeout != 3*time.Second {
		t.Errorf("overrides not applied: %+v", mc)
	}
}

func TestParseKey(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := GenerateKey(); len(k) != KeySize || bytes.Equal(k, k2) {
		t.Fatal("GenerateKey does not make distinct 32-byte keys")
	}
	k16 := bytes.Repeat([]byte{0xfb}, 16)
	tests := []struct {
		name string
		in   string
		want []byte // nil: error
	}{
		{"formatted", FormatKey(k), k},
		{"with spaces and newline", "  " + FormatKey(k) + "\n", k},
		{"unpadded", strings.TrimRight(FormatKey(k16), "="), k16},
		{"url alphabet", base64.URLEncoding.EncodeToString(k16), k16},
		{"24 bytes", FormatKey(k[:24]), k[:24]},
		{"empty", "", nil},
		{"not base64", "not a key!", nil},
		{"wrong size", FormatKey(k[:20]), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseKey accepted %q", tt.in)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("ParseKey = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestLogBridge(t *testing.T) {
	tests := []struct {
		line      string
		level     slog.Level
		msg       string
		hintsWord string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1\n", slog.LevelDebug, "Stream connection from=127.0.0.1:1", ""},
		{"[INFO] memberlist: Marking fi as failed", slog.LevelInfo, "Marking fi as failed", ""},
		{"[WARN] memberlist: Refuting a dead message", slog.LevelWarn, "Refuting a dead message", ""},
		{"[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=127.0.0.1:2", slog.LevelError,
			"failed to receive: no installed keys could decrypt the message from=127.0.0.1:2", "gossip key"},
		{"[ERR] memberlist: discarding stream with unacceptable label \"x\": from=127.0.0.1:3", slog.LevelError,
			"discarding stream with unacceptable label \"x\": from=127.0.0.1:3", "cluster label"},
		{"[ERROR] memberlist: Failed to encrypt local state: boom", slog.LevelError, "Failed to encrypt local state: boom", ""},
		{"Err: Could not set the deadline: x", slog.LevelError, "Could not set the deadline: x", ""},
		{"no prefix at all", slog.LevelInfo, "no prefix at all", ""},
	}
	for _, tt := range tests {
		level, msg := parseLogLine(tt.line)
		if level != tt.level || msg != tt.msg {
			t.Errorf("parseLogLine(%q) = %v %q, want %v %q", tt.line, level, msg, tt.level, tt.msg)
		}
		if h := logHint(msg); (tt.hintsWord == "") != (h == "") || !strings.Contains(h, tt.hintsWord) {
			t.Errorf("logHint(%q) = %q, want a hint about %q", msg, h, tt.hintsWord)
		}
	}

	var buf bytes.Buffer
	std := newStdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), nil)
	std.Printf("[DEBUG] memberlist: chatter")
	std.Printf("[ERR] memberlist: discarding packet with unacceptable label %q: from=x", "other")
	out := buf.String()
	if strings.Contains(out, "chatter") {
		t.Errorf("debug line logged at Info level: %s", out)
	}
	for _, want := range []string{"level=ERROR", `unacceptable label`, "source=memberlist", "hint=", "check the gossip cluster label"} {
		if !strings.Contains(out, want) {
			t.Errorf("bridged log lacks %q: %s", want, out)
		}
	}

	// A send on the socket shutdown has just closed is an error only while
	// the member is running.
	var closing atomic.Bool
	buf.Reset()
	std = newStdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), closing.Load)
	const closed = "[ERR] memberlist: Failed to send gossip to 127.0.0.1:7946: write udp: use of closed network connection"
	std.Printf(closed)
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("closed connection while running not logged as an error: %q", buf.String())
	}
	buf.Reset()
	closing.Store(true)
	std.Printf(closed)
	if buf.Len() != 0 {
		t.Errorf("closed connection while shutting down logged at Info or above: %q", buf.String())
	}
}
