package node

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// testGossip is gossip on loopback with timers shrunk for tests.
func testGossip(name string) gossip.Config {
	c := gossip.DefaultConfig()
	c.Name = name
	c.BindAddr, c.BindPort = "127.0.0.1", 0
	c.Insecure = true
	c.ClusterLabel = "bikfed-test"
	c.Profile = gossip.ProfileLocal
	c.GossipInterval = 20 * time.Millisecond
	c.ProbeInterval, c.ProbeTimeout = 100*time.Millisecond, 50*time.Millisecond
	c.RejoinInterval = 200 * time.Millisecond
	return c
}

func memberOf(g *gossip.Gossip, name string) (gossip.Member, bool) {
	for _, m := range g.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return gossip.Member{}, false
}

// TestNode_GossipHints runs a node whose only way to learn of new changes
// in time is the hub's gossip announcement: the long-poll is off and the
// schedules are hourly.
func TestNode_GossipHints(t *testing.T) {
	hub := newFakeHub(t)
	hubMember, err := gossip.Open(testGossip("hub"), gossip.Meta{ID: "hub", Role: gossip.RoleHub, Protocol: protocol.Version})
	if err != nil {
		t.Fatal(err)
	}
	defer hubMember.Close()

	dir := initNode(t, hub, "be")
	cfg := testConfig(dir)
	cfg.LongPoll = false
	cfg.Schedules.Pull, cfg.Schedules.Push = "@every 1h", "@every 1h"
	cfg.Gossip.Enabled = true
	cfg.Gossip.Config = testGossip("")
	cfg.Gossip.Join = []string{hubMember.LocalMember().Addr}
	n, err := Open(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln) }()

	waitFor(t, 5*time.Second, "the node in the hub's gossip view", func() bool {
		m, ok := memberOf(hubMember, "be")
		return ok && m.State == gossip.StateAlive && m.Role == gossip.RoleNode && m.Epoch == n.Identity().Epoch
	})

	t.Run("a local write is announced and pushed", func(t *testing.T) {
		e := mustCreate(t, n, "Announced")
		waitFor(t, 5*time.Second, "outbox head announced", func() bool {
			m, _ := memberOf(hubMember, "be")
			return m.Seq == 1
		})
		waitFor(t, 5*time.Second, "debounced push", func() bool { _, ok := hub.row(e.ID); return ok })
	})

	t.Run("the hub's announcement pulls", func(t *testing.T) {
		fi := hub.remoteKey(t, "fi")
		s := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("Hinted")})
		c, _ := protocol.ParseChange(s.Change)
		hub.mu.Lock()
		seq := hub.hubSeq
		hub.mu.Unlock()
		if err := hubMember.Update(func(m *gossip.Meta) { m.Seq = seq }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "pull on the hint", func() bool { _, err := n.Get(t.Context(), c.ID); return err == nil })
	})

	t.Run("metrics and readiness", func(t *testing.T) {
		base := "http://" + ln.Addr().String()
		resp, err := http.Get(base + PathMetrics)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("metrics without the admin token: %s", resp.Status)
		}
		req, _ := http.NewRequest("GET", base+PathMetrics, nil)
		req.Header.Set("Authorization", "Bearer "+n.AdminToken())
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "bikfed_gossip_hinted_pulls_total 0") {
			t.Error("no pull counted as hinted")
		}
		for _, want := range []string{
			`bikfed_gossip_hinted_pulls_total`,
			`bikfed_changes_applied_total 1`,
			`bikfed_sync_batches_total{direction="pull",result="ok"} 1`,
			`bikfed_sync_batches_total{direction="push",result="ok"} 1`,
			`bikfed_node_pull_lag{node="be"} 0`,
			`bikfed_node_push_lag{node="be"} 0`,
			`bikfed_gossip_members{state="alive"} 2`,
			`bikfed_last_sync_success_timestamp_seconds{direction="pull"}`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		resp, err = http.Get(base + PathReady)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("readyz: %s", resp.Status)
		}
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
	if m, _ := memberOf(hubMember, "be"); m.State != gossip.StateLeft {
		t.Errorf("after a clean stop the hub sees be %s, want left", m.State)
	}
}

func TestSyncCheck(t *testing.T) {
	now := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	epoch := now.Add(-48 * time.Hour)
	tests := []struct {
		name   string
		err    string
		lastOK *time.Time
		start  time.Time
		ok     bool
	}{
		{"no error", "", ago(time.Hour), epoch, true},
		{"no error, never synced", "", nil, epoch, true},
		{"failing briefly", "hub unreachable", ago(time.Minute), epoch, true},
		{"failing long", "hub unreachable", ago(time.Hour), epoch, false},
		{"never succeeded, new epoch", "hub unreachable", nil, now.Add(-time.Minute), true},
		{"never succeeded, old epoch", "hub unreachable", nil, epoch, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := syncCheck("pull", tt.err, tt.lastOK, tt.start, now, 10*time.Minute)
			if c.OK != tt.ok {
				t.Errorf("OK = %v (%s), want %v", c.OK, c.Error, tt.ok)
			}
			if !c.OK && !strings.Contains(c.Error, tt.err) {
				t.Errorf("error %q does not give the cause", c.Error)
			}
		})
	}
}

func TestGossipConfig_validate(t *testing.T) {
	c := testConfig(t.TempDir())
	c.Gossip.Enabled = true
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "gossip.Keys:") || !strings.Contains(err.Error(), "gossip.AdvertiseAddr:") {
		t.Fatalf("enabled gossip without keys or advertise address: %v", err)
	}
}
