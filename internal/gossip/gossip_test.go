package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test timers: the local profile shrunk further so that a cluster on
// loopback converges in tens of milliseconds and a failure is declared in
// about half a second. A probe that times out under load (-race on two
// cores) only starts a suspicion, which the member refutes.
func testConfig(t *testing.T, keys ...[]byte) (Config, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := DefaultConfig()
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = 0
	cfg.Keys = keys
	cfg.ClusterLabel = "bikfed-test"
	cfg.Profile = ProfileLocal
	cfg.GossipInterval = 20 * time.Millisecond
	cfg.ProbeInterval = 100 * time.Millisecond
	cfg.ProbeTimeout = 50 * time.Millisecond
	cfg.SuspicionMult = 3
	cfg.PushPullInterval = 500 * time.Millisecond
	cfg.TCPTimeout = time.Second
	cfg.RejoinInterval = 200 * time.Millisecond
	cfg.LeaveTimeout = 2 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of a member:\n%s", logs)
		}
	})
	return cfg, logs
}

func testMeta(id string) Meta {
	role := RoleNode
	if id == "hub" {
		role = RoleHub
	}
	return Meta{ID: id, Role: role, Epoch: "01J0EPOCH" + id, Seq: 7, API: "http://127.0.0.1:8080/" + id, Protocol: 1}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// open starts a member and closes it when the test ends.
func open(t *testing.T, cfg Config, meta Meta) *Gossip {
	t.Helper()
	g, err := Open(cfg, meta)
	if err != nil {
		t.Fatalf("open %s: %v", meta.ID, err)
	}
	t.Cleanup(func() {
		start := time.Now()
		if err := g.Close(); err != nil {
			t.Logf("close %s: %v", meta.ID, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Logf("close %s took %s", meta.ID, took.Round(time.Millisecond))
		}
	})
	return g
}

// kill stops g without leaving, as SIGKILL would.
func kill(t *testing.T, g *Gossip) {
	t.Helper()
	if err := g.shutdown(false); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

func port(t *testing.T, g *Gossip) int {
	t.Helper()
	_, p, err := net.SplitHostPort(g.LocalMember().Addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it returns nil or timeout passes, and returns
// how long that took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

// member returns what g knows about name.
func member(g *Gossip, name string) (Member, bool) {
	for _, m := range g.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// sees reports whether g knows name in state st, with meta when given.
func sees(g *Gossip, name string, st State, meta *Meta) error {
	m, ok := member(g, name)
	switch {
	case !ok:
		return fmt.Errorf("%s does not know %s", g.name, name)
	case m.State != st:
		return fmt.Errorf("%s sees %s %s, want %s", g.name, name, m.State, st)
	case meta != nil && m.Meta != *meta:
		return fmt.Errorf("%s sees %s with %+v, want %+v", g.name, name, m.Meta, *meta)
	}
	return nil
}

// waitEvent reads ch until an event matching want arrives.
func waitEvent(t *testing.T, ch <-chan Event, timeout time.Duration, what string, want func(Event) bool) Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
			if want(ev) {
				return ev
			}
		case <-deadline.C:
			t.Fatalf("%s: no event within %s", what, timeout)
		}
	}
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// has returns nil once every one of the strings appears in the logs.
func (b *logBuffer) has(strs ...string) error {
	s := b.String()
	for _, want := range strs {
		if !strings.Contains(s, want) {
			return fmt.Errorf("logs lack %q", want)
		}
	}
	return nil
}

func TestGossip_JoinAndUpdate(t *testing.T) {
	key := mustKey(t)
	names := []string{"hub", "be", "fi", "pt", "nl"}
	metas := map[string]Meta{}
	var members []*Gossip
	start := time.Now()
	for i, name := range names {
		cfg, _ := testConfig(t, key)
		if i > 0 {
			cfg.Join = []string{members[0].LocalMember().Addr}
		}
		metas[name] = testMeta(name)
		members = append(members, open(t, cfg, metas[name]))
	}

	took := waitFor(t, 5*time.Second, "all members see all", func() error {
		for _, g := range members {
			for _, name := range names {
				meta := metas[name]
				if err := sees(g, name, StateAlive, &meta); err != nil {
					return err
				}
			}
		}
		return nil
	})
	t.Logf("5 members converged %s after the first Open (%s after the last)", time.Since(start).Round(time.Millisecond), took.Round(time.Millisecond))

	for _, g := range members {
		if m := g.LocalMember(); m.Name != g.name || m.State != StateAlive || m.Since.IsZero() {
			t.Errorf("%s: LocalMember = %+v", g.name, m)
		}
	}

	var subs []<-chan Event
	for _, g := range members {
		subs = append(subs, g.Events())
	}
	pt := members[3]
	if err := pt.Update(func(m *Meta) { m.Seq = 42 }); err != nil {
		t.Fatal(err)
	}
	want := metas["pt"]
	want.Seq = 42
	if pt.Meta() != want {
		t.Fatalf("Meta() = %+v, want %+v", pt.Meta(), want)
	}
	took = waitFor(t, 2*time.Second, "update reaches everyone", func() error {
		for _, g := range members {
			if err := sees(g, "pt", StateAlive, &want); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("meta update reached all 5 members in %s", took.Round(time.Millisecond))
	for i, ch := range subs {
		ev := waitEvent(t, ch, time.Second, names[i]+" update event", func(ev Event) bool {
			return ev.Kind == EventUpdate && ev.Member.Name == "pt"
		})
		if ev.Member.Seq != 42 || ev.Member.State != StateAlive {
			t.Errorf("%s: update event %+v", names[i], ev.Member)
		}
	}

	t.Run("refuses a bad update", func(t *testing.T) {
		for _, fn := range []func(*Meta){
			func(m *Meta) { m.ID = "xx" },
			func(m *Meta) { m.API = "http://example.org/" + strings.Repeat("a", MaxMetaSize) },
			func(m *Meta) { m.Seq = -1 },
		} {
			if err := pt.Update(fn); err == nil {
				t.Error("Update accepted an invalid change")
			}
		}
		if pt.Meta() != want {
			t.Errorf("a refused update changed the meta to %+v", pt.Meta())
		}
	})
}

func TestGossip_FailureAndRestart(t *testing.T) {
	key := mustKey(t)
	hubCfg, _ := testConfig(t, key)
	hub := open(t, hubCfg, testMeta("hub"))
	seed := []string{hub.LocalMember().Addr}
	var nodes []*Gossip
	for _, name := range []string{"be", "fi"} {
		cfg, _ := testConfig(t, key)
		cfg.Join = seed
		nodes = append(nodes, open(t, cfg, testMeta(name)))
	}
	be, fi := nodes[0], nodes[1]
	waitFor(t, 5*time.Second, "converge", func() error {
		for _, g := range []*Gossip{hub, be, fi} {
			for _, name := range []string{"hub", "be", "fi"} {
				if err := sees(g, name, StateAlive, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})

	events, unsubscribe := hub.Subscribe()
	defer unsubscribe()
	fiPort := port(t, fi)
	kill(t, fi)
	took := waitFor(t, 10*time.Second, "fi seen dead", func() error {
		for _, g := range []*Gossip{hub, be} {
			if err := sees(g, "fi", StateDead, nil); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("a killed member was seen dead by the others after %s", took.Round(time.Millisecond))
	ev := waitEvent(t, events, time.Second, "leave event", func(ev Event) bool { return ev.Member.Name == "fi" })
	if ev.Kind != EventLeave || ev.Member.State != StateDead || ev.Member.Meta != testMeta("fi") {
		t.Errorf("event for the killed member: %v %+v", ev.Kind, ev.Member)
	}

	// A restart: same name and port, a new epoch, as after a reinstall.
	cfg, _ := testConfig(t, key)
	cfg.BindPort = fiPort
	cfg.Join = seed
	meta := testMeta("fi")
	meta.Epoch = "01J0EPOCHNEW"
	open(t, cfg, meta)
	took = waitFor(t, 5*time.Second, "restarted fi seen alive", func() error {
		for _, g := range []*Gossip{hub, be} {
			if err := sees(g, "fi", StateAlive, &meta); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("the restarted member was alive again for the others after %s", took.Round(time.Millisecond))
	waitEvent(t, events, time.Second, "join event", func(ev Event) bool {
		return ev.Kind == EventJoin && ev.Member.Name == "fi" && ev.Member.State == StateAlive
	})
}

func TestGossip_Close(t *testing.T) {
	key := mustKey(t)
	hubCfg, _ := testConfig(t, key)
	hub := open(t, hubCfg, testMeta("hub"))
	cfg, _ := testConfig(t, key)
	cfg.Join = []string{hub.LocalMember().Addr}
	fi := open(t, cfg, testMeta("fi"))
	be := open(t, cfg, testMeta("be"))
	waitFor(t, 5*time.Second, "converge", func() error {
		for _, g := range []*Gossip{hub, be, fi} {
			for _, name := range []string{"hub", "be", "fi"} {
				if err := sees(g, name, StateAlive, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})

	events := hub.Events()
	beEvents := be.Events()
	start := time.Now()
	if err := be.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
	// Leave waited for the goodbye to go out, so the others know at once
	// or nearly: well before failure detection could have called it dead.
	took := waitFor(t, time.Second, "be seen as left", func() error {
		for _, g := range []*Gossip{hub, fi} {
			if err := sees(g, "be", StateLeft, nil); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("a closed member was seen as left after %s", took.Round(time.Millisecond))
	ev := waitEvent(t, events, time.Second, "leave event", func(ev Event) bool { return ev.Member.Name == "be" })
	if ev.Kind != EventLeave || ev.Member.State != StateLeft {
		t.Errorf("event for the closed member: %v %+v", ev.Kind, ev.Member)
	}

	if err := be.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := be.Update(func(m *Meta) { m.Seq++ }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if _, err := be.Join(hub.LocalMember().Addr); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close: %v, want ErrClosed", err)
	}
	waitFor(t, time.Second, "closed member's events channel closed", func() error {
		select {
		case _, ok := <-beEvents:
			if ok {
				return errors.New("still open")
			}
			return nil
		default:
			return errors.New("still open")
		}
	})
	if ch, _ := be.Subscribe(); ch != nil {
		if _, ok := <-ch; ok {
			t.Error("Subscribe after Close returned an open channel")
		}
	}
}

func TestGossip_JoinRefused(t *testing.T) {
	seedKey := mustKey(t)
	tests := []struct {
		name     string
		setup    func(*Config)
		seedLogs []string // what the refusing side says
	}{
		{
			name:     "wrong key",
			setup:    func(c *Config) { c.Keys = [][]byte{mustKey(t)} },
			seedLogs: []string{"no installed keys could decrypt the message", "check the gossip key"},
		},
		{
			name:     "wrong cluster label",
			setup:    func(c *Config) { c.ClusterLabel = "bikfed-other" },
			seedLogs: []string{`unacceptable label \"bikfed-other\"`, "check the gossip cluster label"},
		},
		{
			name:     "no encryption",
			setup:    func(c *Config) { c.Keys, c.Insecure = nil, true },
			seedLogs: []string{"encryption is configured but remote state is not encrypted", "check the gossip key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seedCfg, seedLogs := testConfig(t, seedKey)
			seed := open(t, seedCfg, testMeta("hub"))
			addr := seed.LocalMember().Addr

			cfg, logs := testConfig(t, seedKey)
			cfg.Join = []string{addr}
			tt.setup(&cfg)
			g := open(t, cfg, testMeta("be"))

			// The background join, retried, and each side's log.
			waitFor(t, 3*time.Second, "joining side's log", func() error {
				return logs.has("could not join: check the gossip key and cluster label", addr)
			})
			waitFor(t, 3*time.Second, "refusing side's log", func() error {
				return seedLogs.has(tt.seedLogs...)
			})

			_, err := g.Join(addr)
			if !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), "check the gossip key and cluster label") {
				t.Errorf("Join = %v, want ErrJoinRefused", err)
			}
			for _, m := range seed.Members() {
				if m.Name != "hub" {
					t.Errorf("the seed let in %+v", m)
				}
			}
			for _, m := range g.Members() {
				if m.Name != "be" {
					t.Errorf("the refused member sees %+v", m)
				}
			}
		})
	}
}

func TestGossip_JoinRetriesInBackground(t *testing.T) {
	key := mustKey(t)
	hubCfg, _ := testConfig(t, key)
	first := open(t, hubCfg, testMeta("hub"))
	hubPort := port(t, first)
	addr := first.LocalMember().Addr
	kill(t, first)

	cfg, logs := testConfig(t, key)
	cfg.Join = []string{addr}
	start := time.Now()
	be := open(t, cfg, testMeta("be"))
	if took := time.Since(start); took > time.Second {
		t.Errorf("Open with an unreachable seed took %s", took)
	}
	waitFor(t, 3*time.Second, "unreachable seed logged", func() error {
		return logs.has("could not join: no seed reachable", addr)
	})
	if _, err := be.Join(addr); !errors.Is(err, ErrNoSeedReachable) {
		t.Errorf("Join = %v, want ErrNoSeedReachable", err)
	}

	hubCfg.BindPort = hubPort
	hub := open(t, hubCfg, testMeta("hub"))
	took := waitFor(t, 5*time.Second, "joined once the seed is up", func() error {
		if err := sees(be, "hub", StateAlive, nil); err != nil {
			return err
		}
		return sees(hub, "be", StateAlive, nil)
	})
	t.Logf("joined %s after the seed came up", took.Round(time.Millisecond))
}

// TestGossip_HubRestart checks the reconnect path: a hub that has no seeds
// is brought back into the cluster by the nodes that saw it fail.
func TestGossip_HubRestart(t *testing.T) {
	key := mustKey(t)
	hubCfg, _ := testConfig(t, key)
	hub := open(t, hubCfg, testMeta("hub"))
	hubPort := port(t, hub)
	var nodes []*Gossip
	for _, name := range []string{"be", "fi"} {
		cfg, _ := testConfig(t, key)
		cfg.Join = []string{hub.LocalMember().Addr}
		nodes = append(nodes, open(t, cfg, testMeta(name)))
	}
	waitFor(t, 5*time.Second, "converge", func() error {
		for _, g := range nodes {
			for _, name := range []string{"hub", "be", "fi"} {
				if err := sees(g, name, StateAlive, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	kill(t, hub)
	waitFor(t, 10*time.Second, "hub seen dead", func() error {
		for _, g := range nodes {
			if err := sees(g, "hub", StateDead, nil); err != nil {
				return err
			}
		}
		return nil
	})

	hubCfg.BindPort = hubPort
	hub = open(t, hubCfg, testMeta("hub"))
	took := waitFor(t, 5*time.Second, "restarted hub rejoined", func() error {
		for _, name := range []string{"be", "fi"} {
			if err := sees(hub, name, StateAlive, nil); err != nil {
				return err
			}
		}
		for _, g := range nodes {
			if err := sees(g, "hub", StateAlive, nil); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("a restarted hub without seeds was back in the cluster after %s", took.Round(time.Millisecond))
}

func TestGossip_KeyRotation(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	hubCfg, _ := testConfig(t, oldKey)
	hub := open(t, hubCfg, testMeta("hub"))
	seed := hub.LocalMember().Addr
	members := []*Gossip{hub}
	for _, name := range []string{"be", "fi"} {
		cfg, _ := testConfig(t, oldKey)
		cfg.Join = []string{seed}
		members = append(members, open(t, cfg, testMeta(name)))
	}
	converged := func() error {
		for _, g := range members {
			for _, other := range members {
				if err := sees(g, other.name, StateAlive, nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	waitFor(t, 5*time.Second, "converge", converged)

	for _, round := range []struct {
		name string
		do   func(*Gossip) error
	}{
		{"add", func(g *Gossip) error { return g.AddKey(newKey) }},
		{"use", func(g *Gossip) error { return g.UseKey(newKey) }},
		{"remove", func(g *Gossip) error { return g.RemoveKey(oldKey) }},
	} {
		for _, g := range members {
			if err := round.do(g); err != nil {
				t.Fatalf("%s on %s: %v", round.name, g.name, err)
			}
		}
	}
	for _, g := range members {
		if keys := g.keyring.GetKeys(); len(keys) != 1 || !bytes.Equal(keys[0], newKey) {
			t.Fatalf("%s: keyring not rotated", g.name)
		}
	}
	if err := hub.RemoveKey(newKey); err == nil {
		t.Error("removing the primary key was allowed")
	}

	if err := hub.Update(func(m *Meta) { m.Seq = 1000 }); err != nil {
		t.Fatal(err)
	}
	want := hub.Meta()
	waitFor(t, 2*time.Second, "update under the new key", func() error {
		for _, g := range members {
			if err := sees(g, "hub", StateAlive, &want); err != nil {
				return err
			}
		}
		return nil
	})
	if err := converged(); err != nil {
		t.Fatalf("after rotation: %v", err)
	}

	newCfg, _ := testConfig(t, newKey)
	pt := open(t, newCfg, testMeta("pt"))
	if _, err := pt.Join(seed); err != nil {
		t.Errorf("a member with the new key cannot join: %v", err)
	}
	staleCfg, _ := testConfig(t, oldKey)
	stale := open(t, staleCfg, testMeta("nl"))
	if _, err := stale.Join(seed); !errors.Is(err, ErrJoinRefused) {
		t.Errorf("a member with the removed key: Join = %v, want ErrJoinRefused", err)
	}
}

func TestGossip_Insecure(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.Insecure = true
	hub := open(t, cfg, testMeta("hub"))
	cfg.Join = []string{hub.LocalMember().Addr}
	be := open(t, cfg, testMeta("be"))
	waitFor(t, 5*time.Second, "insecure members join", func() error { return sees(hub, "be", StateAlive, nil) })
	for _, err := range []error{be.AddKey(mustKey(t)), be.UseKey(mustKey(t)), be.RemoveKey(mustKey(t))} {
		if !errors.Is(err, ErrInsecure) {
			t.Errorf("key method on an insecure member: %v, want ErrInsecure", err)
		}
	}
}

func TestOpen_Refuses(t *testing.T) {
	cfg, _ := testConfig(t, mustKey(t))
	if _, err := Open(cfg, Meta{ID: "be", Role: "boss"}); err == nil {
		t.Error("Open accepted an invalid Meta")
	}
	cfg.ClusterLabel = ""
	if _, err := Open(cfg, testMeta("be")); err == nil || !strings.Contains(err.Error(), "ClusterLabel") {
		t.Errorf("Open without a label: %v", err)
	}
	cfg, _ = testConfig(t, mustKey(t))
	first := open(t, cfg, testMeta("be"))
	cfg.BindPort = port(t, first)
	if _, err := Open(cfg, testMeta("fi")); err == nil {
		t.Error("Open on a port in use succeeded")
	}
}

// TestGossip_departed covers the relay of leave announcements and the
// repair of a leave whose announcement lost the race with the dead message.
func TestGossip_departed(t *testing.T) {
	cfg, _ := testConfig(t, mustKey(t))
	g := open(t, cfg, testMeta("hub"))
	events := g.Events()
	g.mu.Lock()
	g.members["be"] = Member{Meta: testMeta("be"), Name: "be", Addr: "127.0.0.1:1", State: StateDead, Since: time.Now()}
	g.mu.Unlock()

	g.departed("be")
	if m, _ := member(g, "be"); m.State != StateLeft {
		t.Errorf("a member announced leaving after being seen dead is %s, want left", m.State)
	}
	ev := waitEvent(t, events, time.Second, "corrected leave", func(Event) bool { return true })
	if ev.Kind != EventLeave || ev.Member.Name != "be" || ev.Member.State != StateLeft {
		t.Errorf("event %v %+v", ev.Kind, ev.Member)
	}
	if n := g.queue.NumQueued(); n != 1 {
		t.Errorf("%d messages queued, want the announcement relayed once", n)
	}
	g.departed("be")
	g.departed("hub") // our own, relayed back
	if n := g.queue.NumQueued(); n != 1 {
		t.Errorf("%d messages queued after duplicates, want 1", n)
	}
	select {
	case ev := <-events:
		t.Errorf("duplicate announcement produced %v %+v", ev.Kind, ev.Member)
	default:
	}
}

func TestDeliver_DropsOldest(t *testing.T) {
	ch := make(chan Event, 2)
	for i := range 3 {
		dropped := deliver(ch, Event{Kind: EventUpdate, Member: Member{Meta: Meta{Seq: int64(i)}}})
		if want := i == 2; dropped != want {
			t.Errorf("event %d: dropped = %v, want %v", i, dropped, want)
		}
	}
	for _, want := range []int64{1, 2} {
		if ev := <-ch; ev.Member.Seq != want {
			t.Errorf("got seq %d, want %d", ev.Member.Seq, want)
		}
	}
}

func TestJoinError(t *testing.T) {
	tests := []struct {
		name string
		errs []error
		want error
	}{
		{"refused", []error{errors.New("failed to join 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused")}, ErrNoSeedReachable},
		{"unresolvable", []error{errors.New("failed to resolve nowhere.invalid: no such host")}, ErrNoSeedReachable},
		{"wrong key", []error{errors.New("failed to join 127.0.0.1:2: no installed keys could decrypt the message")}, ErrJoinRefused},
		{"one reached", []error{
			errors.New("failed to join 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"),
			errors.New("failed to join 127.0.0.1:2: EOF"),
		}, ErrJoinRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := joinError(multiError(tt.errs))
			if !errors.Is(err, tt.want) {
				t.Errorf("joinError = %v, want %v", err, tt.want)
			}
			for _, e := range tt.errs {
				if !strings.Contains(err.Error(), e.Error()) {
					t.Errorf("%q lost %q", err, e)
				}
			}
		})
	}
}

// multiError mimics go-multierror, which memberlist's Join returns.
type multiError []error

func (m multiError) Error() string          { return fmt.Sprintf("%d errors occurred", len(m)) }
func (m multiError) WrappedErrors() []error { return m }
