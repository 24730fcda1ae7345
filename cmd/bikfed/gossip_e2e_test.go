package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// gossipTimers are the hidden test timers: the local profile with failure
// detection shrunk so that a killed member is declared dead within a second
// or two on loopback, quick retries of the seeds, and a full state exchange
// every second, which repairs a hint that gossip happened not to deliver.
var gossipTimers = []string{
	"--gossip-profile", "local",
	"--gossip-probe-interval", "200ms", "--gossip-probe-timeout", "100ms", "--gossip-suspicion-mult", "3",
	"--gossip-rejoin-interval", "500ms", "--gossip-push-pull-interval", "1s",
}

// hourlyCron makes the schedules useless for the propagation tests: only
// the hints (or the long-poll) can deliver a change within seconds.
var hourlyCron = []string{"--push-schedule", "@every 1h", "--pull-schedule", "@every 1h", "--push-debounce", "100ms"}

// gossipNetwork is a network whose hub and nodes (optionally) gossip.
type gossipNetwork struct {
	*network
	gossip    bool
	key       string
	label     string
	hubGossip string
}

func newGossipNetwork(t *testing.T, withGossip bool) *gossipNetwork {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	nw := &network{t: t, dir: dir, hubDir: filepath.Join(dir, "hub"), hubAdr: addr, hubURL: "http://" + addr, nodes: map[string]*testNode{}}
	k, err := gossip.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	gn := &gossipNetwork{network: nw, gossip: withGossip, key: gossip.FormatKey(k), label: "bikfed-e2e"}
	nw.hubExtra = []string{"--lag-sample-interval", "200ms"}
	if withGossip {
		gn.hubGossip = freeAddr(t)
		nw.hubExtra = append(nw.hubExtra, gn.gossipFlags(gn.hubGossip, gn.key, gn.label)...)
	}
	nw.startHub()
	return gn
}

func (gn *gossipNetwork) gossipFlags(bind, key, label string, join ...string) []string {
	f := append([]string{"--gossip", "--gossip-bind", bind, "--gossip-keys", key, "--gossip-label", label}, gossipTimers...)
	if len(join) > 0 {
		f = append(f, "--gossip-join", strings.Join(join, ","))
	}
	return f
}

// addGossipNode enrols id with flags for its propagation mode; a gossiping
// node gets a fixed gossip port of its own, so that it comes back at the
// same address after a restart.
func (gn *gossipNetwork) addGossipNode(id string, extra ...string) *testNode {
	gn.t.Helper()
	flags := append(slices.Clone(hourlyCron), extra...)
	if gn.gossip {
		flags = append(flags, "--long-poll=false")
		flags = append(flags, gn.gossipFlags(freeAddr(gn.t), gn.key, gn.label, gn.hubGossip)...)
	}
	return gn.addNode(id, flags...)
}

// adminAPI is a running node's admin API.
type adminAPI struct {
	node, base, token string
}

var apiClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// admin reads a running node's admin address (written at each start) and token.
func admin(t testing.TB, n *testNode) adminAPI {
	t.Helper()
	a := adminAPI{node: n.id}
	waitFor(t, 20*time.Second, n.id+" admin address", func() error {
		b, err := os.ReadFile(filepath.Join(n.dir, "node.addr"))
		if err != nil {
			return err
		}
		a.base = "http://" + strings.TrimSpace(string(b))
		resp, err := apiClient.Get(a.base + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	tok, err := os.ReadFile(filepath.Join(n.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	a.token = strings.TrimSpace(string(tok))
	return a
}

func (a adminAPI) do(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// publish creates a community post on the node and returns its id.
func (a adminAPI) publish(title string) (string, error) {
	body, _ := json.Marshal(map[string]any{"kind": "post", "visibility": "community", "body": map[string]any{
		"space": "helplines", "format": "thread", "language": "en", "author": map[string]any{"name": "e2e", "sic": a.node}, "title": title,
		"text": "How are other helplines handling follow-up with parents after a sextortion report?",
	}})
	code, b, err := a.do("POST", "/admin/v1/entities", body)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("create: HTTP %d: %s", code, b)
	}
	var e struct{ ID string }
	if err := json.Unmarshal(b, &e); err != nil {
		return "", err
	}
	return e.ID, nil
}

// has reports whether the node holds entity id.
func (a adminAPI) has(id string) bool {
	code, _, err := a.do("GET", "/admin/v1/entities/"+url.PathEscape(id), nil)
	return err == nil && code == http.StatusOK
}

// propagation publishes changes in waves, one change on every node per
// wave, and returns for each change how long it took from the moment its
// create request was sent until it was visible on every other node.
// Each other node is polled every 10 ms.
func propagation(t *testing.T, apis map[string]adminAPI, changes int) []time.Duration {
	t.Helper()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range apis {
			if !yield(id) {
				return
			}
		}
	})
	var mu sync.Mutex
	var lat []time.Duration
	for wave := 0; len(lat) < changes; wave++ {
		var wg sync.WaitGroup
		for _, owner := range ids {
			if wave*len(ids)+slices.Index(ids, owner) >= changes {
				break
			}
			wg.Go(func() {
				start := time.Now()
				id, err := apis[owner].publish(fmt.Sprintf("Wave %d from %s", wave, owner))
				if err != nil {
					t.Errorf("publish on %s: %v", owner, err)
					return
				}
				var worst time.Duration
				var inner sync.WaitGroup
				var imu sync.Mutex
				for _, other := range ids {
					if other == owner {
						continue
					}
					inner.Go(func() {
						deadline := start.Add(15 * time.Second)
						for !apis[other].has(id) {
							if time.Now().After(deadline) {
								t.Errorf("%s from %s not on %s within 15s", id, owner, other)
								return
							}
							time.Sleep(10 * time.Millisecond) // the poll interval of the measurement
						}
						d := time.Since(start)
						imu.Lock()
						worst = max(worst, d)
						imu.Unlock()
					})
				}
				inner.Wait()
				mu.Lock()
				lat = append(lat, worst)
				mu.Unlock()
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	return lat
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// startNodes starts the nodes and waits until each answers.
func startNodes(t *testing.T, gn *gossipNetwork, ids []string) map[string]adminAPI {
	t.Helper()
	apis := map[string]adminAPI{}
	for _, id := range ids {
		gn.startNode(gn.nodes[id])
	}
	for _, id := range ids {
		apis[id] = admin(t, gn.nodes[id])
	}
	return apis
}

// nodeLive returns the hub's JSON view of each node's liveness and source.
func nodeLive(nw *network) (map[string]protocol.NodeStatus, error) {
	st, err := nw.status()
	if err != nil {
		return nil, err
	}
	m := map[string]protocol.NodeStatus{}
	for _, n := range st.Nodes {
		m[n.Node] = n
	}
	return m, nil
}

var e2eNodes = []string{"be", "fi", "pt", "nl", "at"}

// TestE2E_Gossip runs five nodes and a hub as processes that gossip, with
// the long-poll off and cron hourly: gossip hints alone carry changes.
func TestE2E_Gossip(t *testing.T) {
	gn := newGossipNetwork(t, true)
	for _, id := range e2eNodes {
		gn.addGossipNode(id)
	}
	apis := startNodes(t, gn, e2eNodes)
	waitFor(t, 20*time.Second, "every node alive in the hub's gossip view", func() error {
		live, err := nodeLive(gn.network)
		if err != nil {
			return err
		}
		for _, id := range e2eNodes {
			if n := live[id]; n.Live != "alive" || n.LiveSource != "gossip" || n.Version != protocol.Version {
				return fmt.Errorf("%s: live %q from %q, version %d", id, n.Live, n.LiveSource, n.Version)
			}
		}
		return nil
	})
	// Hints spread from member to member: measure once every node knows
	// every other, as in a network that has been up for a while.
	waitFor(t, 20*time.Second, "every node to see the whole cluster", func() error {
		for _, id := range e2eNodes {
			if m := scrape(t, apis[id].base+"/metrics", apis[id].token); m[`bikfed_gossip_members{state="alive"}`] != 6 {
				return fmt.Errorf("%s sees %v members alive", id, m[`bikfed_gossip_members{state="alive"}`])
			}
		}
		return nil
	})

	t.Run("propagation", func(t *testing.T) {
		lat := propagation(t, apis, 100)
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		t.Logf("gossip hints, long-poll off, cron hourly: %d changes to 4 other nodes each: p50 %s, p99 %s, max %s",
			len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond))
		if p99 >= 2*time.Second {
			t.Errorf("p99 propagation %s, want under 2s", p99)
		}
		// The hints, not some other path, did it.
		for _, id := range e2eNodes {
			m := scrape(t, apis[id].base+"/metrics", apis[id].token)
			if m[`bikfed_gossip_hinted_pulls_total`] == 0 {
				t.Errorf("%s pulled no change on a gossip hint", id)
			}
		}
	})

	t.Run("metrics and health", func(t *testing.T) {
		hubMetrics := scrape(t, gn.hubURL+"/metrics", gn.adminToken())
		for name, atLeast := range map[string]float64{
			`bikfed_sync_batches_total{direction="push",result="ok"}`:             20,
			`bikfed_changes_applied_total`:                                        100,
			`bikfed_feed_request_seconds_count`:                                   1,
			`bikfed_gossip_members{state="alive"}`:                                6,
			`bikfed_node_pull_lag{node="be"}`:                                     0,
			`bikfed_node_pull_lag_seconds{node="be"}`:                             0,
			`bikfed_node_push_lag{node="be"}`:                                     0,
			`bikfed_changes_refused_total{code="bad_signature",direction="push"}`: 0,
			`bikfed_blob_bytes_total{direction="in"}`:                             0,
			`bikfed_sync_batches_total{direction="push",result="rejected"}`:       0,
			`bikfed_hub_seq`: 100,
			`bikfed_feed_request_seconds_bucket{le="+Inf"}`:                          1,
			`bikfed_changes_refused_total{code="version_conflict",direction="push"}`: 0,
		} {
			v, ok := hubMetrics[name]
			if !ok || v < atLeast {
				t.Errorf("hub metric %s = %v (present %v), want >= %v", name, v, ok, atLeast)
			}
		}
		be := scrape(t, apis["be"].base+"/metrics", apis["be"].token)
		for name, atLeast := range map[string]float64{
			`bikfed_changes_applied_total`:                            80,
			`bikfed_sync_batches_total{direction="pull",result="ok"}`: 1,
			`bikfed_sync_batches_total{direction="push",result="ok"}`: 1,
			`bikfed_node_pull_lag{node="be"}`:                         0,
			`bikfed_gossip_members{state="alive"}`:                    6,
		} {
			if v, ok := be[name]; !ok || v < atLeast {
				t.Errorf("node metric %s = %v (present %v), want >= %v", name, v, ok, atLeast)
			}
		}
		for _, u := range []string{gn.hubURL + "/healthz", gn.hubURL + "/readyz", apis["be"].base + "/healthz", apis["be"].base + "/readyz"} {
			resp, err := apiClient.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %s", u, resp.Status)
			}
		}
		// Metrics name every node: not for anyone without the token.
		resp, err := apiClient.Get(gn.hubURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /metrics without a token: %s", resp.Status)
		}
	})

	t.Run("wrong key or label cannot join", func(t *testing.T) {
		other, err := gossip.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		rogues := map[string][]string{
			"xk": gn.gossipFlags(freeAddr(t), gossip.FormatKey(other), gn.label, gn.hubGossip),
			"xl": gn.gossipFlags(freeAddr(t), gn.key, "bikfed-elsewhere", gn.hubGossip),
		}
		for id, flags := range rogues {
			n := gn.addNode(id, append(append(slices.Clone(hourlyCron), "--long-poll=false"), flags...)...)
			gn.startNode(n)
		}
		for id := range rogues {
			waitFor(t, 20*time.Second, id+" logs why it cannot join", func() error {
				return logHas(gn.nodes[id].proc.log, "could not join: check the gossip key and cluster label")
			})
		}
		waitFor(t, 10*time.Second, "the hub says why it refused them", func() error {
			return logHas(gn.hub.log, "check the gossip key", "check the gossip cluster label")
		})
		live, err := nodeLive(gn.network)
		if err != nil {
			t.Fatal(err)
		}
		for id := range rogues {
			if n := live[id]; n.LiveSource == "gossip" {
				t.Errorf("%s is in the hub's gossip view (%s) despite its wrong key or label", id, n.Live)
			}
		}
		if m := scrape(t, gn.hubURL+"/metrics", gn.adminToken()); m[`bikfed_gossip_members{state="alive"}`] != 6 {
			t.Errorf("hub sees %v members alive, want 6 (5 nodes and itself)", m[`bikfed_gossip_members{state="alive"}`])
		}
		for id := range rogues {
			gn.nodes[id].proc.stop()
		}
	})

	t.Run("killed node shown dead then alive", func(t *testing.T) {
		page := signIn(t, gn.hubURL, gn.adminToken())
		if got := page.live(t, "fi"); got != "alive" {
			t.Fatalf("before the kill the status shows fi %q", got)
		}
		killed := time.Now()
		gn.nodes["fi"].proc.kill()
		waitFor(t, 20*time.Second, "the status to show fi dead", func() error {
			if got := page.live(t, "fi"); got != "dead" {
				return fmt.Errorf("fi shown %q", got)
			}
			return nil
		})
		t.Logf("SIGKILLed fi shown dead after %s", time.Since(killed).Round(time.Millisecond))
		restarted := time.Now()
		gn.startNode(gn.nodes["fi"])
		waitFor(t, 20*time.Second, "the status to show fi alive again", func() error {
			if got := page.live(t, "fi"); got != "alive" {
				return fmt.Errorf("fi shown %q", got)
			}
			return nil
		})
		t.Logf("restarted fi shown alive after %s", time.Since(restarted).Round(time.Millisecond))
		// A clean stop leaves the cluster: shown left, not dead.
		gn.nodes["pt"].proc.stop()
		waitFor(t, 10*time.Second, "the status to show pt left", func() error {
			if got := page.live(t, "pt"); got != "left" {
				return fmt.Errorf("pt shown %q", got)
			}
			return nil
		})
	})
}

// TestE2E_LongPollPropagation is the same network without gossip: the
// long-poll alone carries changes, as where UDP is blocked.
func TestE2E_LongPollPropagation(t *testing.T) {
	gn := newGossipNetwork(t, false)
	for _, id := range e2eNodes {
		gn.addGossipNode(id)
	}
	apis := startNodes(t, gn, e2eNodes)
	waitFor(t, 20*time.Second, "every node polling", func() error {
		live, err := nodeLive(gn.network)
		if err != nil {
			return err
		}
		for _, id := range e2eNodes {
			if n := live[id]; n.Live != "alive" || n.LiveSource != "http" {
				return fmt.Errorf("%s: live %q from %q", id, n.Live, n.LiveSource)
			}
		}
		return nil
	})
	lat := propagation(t, apis, 100)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	t.Logf("long-poll, no gossip, cron hourly: %d changes to 4 other nodes each: p50 %s, p99 %s, max %s",
		len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond))
	if p99 >= 2*time.Second {
		t.Errorf("p99 propagation %s, want under 2s", p99)
	}
	page := signIn(t, gn.hubURL, gn.adminToken())
	if got := page.live(t, "be"); got != "alive" {
		t.Errorf("without gossip the status shows be %q, want alive from its last contact", got)
	}
}

// scrape reads a Prometheus text exposition into "name{labels}" → value.
func scrape(t testing.TB, u, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

func logHas(path string, strs ...string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, s := range strs {
		if !bytes.Contains(b, []byte(s)) {
			return fmt.Errorf("%s lacks %q", filepath.Base(path), s)
		}
	}
	return nil
}

// statusPage reads the network status as the operator's scripts do.
type statusPage struct {
	url, token string
}

// signIn returns the operator's reader of the network status.
func signIn(t testing.TB, hubURL, token string) *statusPage {
	t.Helper()
	return &statusPage{url: hubURL + protocol.PathStatus, token: token}
}

// live returns the liveness the status gives node.
func (p *statusPage) live(t testing.TB, node string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url, nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st protocol.NetworkStatus
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == node {
			return n.Live
		}
	}
	return "absent"
}
