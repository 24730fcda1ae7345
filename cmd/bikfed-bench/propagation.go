package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
)

// Propagation: how long a change published on one node takes to be readable
// on every other node, with each of the three ways news travels. Hub and
// nodes are real bikfed processes on loopback.

// propPoll is how often each other node is asked whether the change has
// arrived; it bounds the measurement's resolution.
const propPoll = 20 * time.Millisecond

// cronEvery is the pull schedule of the cron-only mode.
const (
	cronEvery    = "5s"
	cronInterval = 5 * time.Second
)

// propGap is the least idle time between two measured changes.
const propGap = time.Second

// propMode is one way of carrying news to the nodes.
type propMode struct {
	name, desc string
	gossip     bool
	longPoll   bool
	pull       string // pull schedule
}

func propModes() []propMode {
	return []propMode{
		{name: "gossip", gossip: true, pull: "@every 1h",
			desc: "gossip hints (WAN profile, the default: 500 ms gossip interval), long-poll off, cron hourly"},
		{name: "long-poll", longPoll: true, pull: "@every 1h",
			desc: "long-poll, no gossip, cron hourly"},
		{name: "cron only", pull: "@every " + cronEvery,
			desc: "pull by cron every " + cronEvery + ", no long-poll, no gossip"},
	}
}

// propResult is one row of the report.
type propResult struct {
	nodes   int
	mode    propMode
	changes int
	p50     time.Duration
	p99     time.Duration
	max     time.Duration
}

type propReport struct{ rows []propResult }

// benchPropagation measures every mode with 5 and with 30 nodes.
func benchPropagation(ctx context.Context, cfg benchConfig, dir string) (*propReport, error) {
	rep := &propReport{}
	for _, size := range []struct{ nodes, changes, cronChanges int }{{5, 50, 20}, {30, 20, 10}} {
		for _, mode := range propModes() {
			k := size.changes
			if mode.pull != "@every 1h" {
				k = size.cronChanges // each takes seconds: fewer, still spread over the cron phase
			}
			fmt.Fprintf(os.Stderr, "propagation: %d nodes, %s, %d changes\n", size.nodes, mode.name, k)
			res, err := runPropagation(ctx, cfg.bin, filepath.Join(dir, fmt.Sprintf("prop-%d-%s", size.nodes, strings.ReplaceAll(mode.name, " ", "-"))), size.nodes, k, mode)
			if err != nil {
				return nil, fmt.Errorf("propagation, %d nodes, %s: %w", size.nodes, mode.name, err)
			}
			rep.rows = append(rep.rows, res)
		}
	}
	return rep, nil
}

// propNet is a hub and nodes started for one measurement.
type propNet struct {
	bin, dir string
	env      []string
	procs    []propProc
}

type propProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (pn *propNet) start(name string, args ...string) error {
	logf, err := os.Create(filepath.Join(pn.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(pn.bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = logf, logf, pn.env
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := propProc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	pn.procs = append(pn.procs, p)
	return nil
}

// stop ends every process, nodes first, and waits for them.
func (pn *propNet) stop() {
	for i := len(pn.procs) - 1; i >= 0; i-- {
		pn.procs[i].cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(20 * time.Second)
	for _, p := range pn.procs {
		select {
		case <-p.done:
		case <-deadline:
			p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// nodeAPI is a node's admin API.
type nodeAPI struct {
	id, base, token string
}

var propClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}

func (a nodeAPI) request(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := propClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func runPropagation(ctx context.Context, bin, dir string, nodes, changes int, mode propMode) (propResult, error) {
	res := propResult{nodes: nodes, mode: mode, changes: changes}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	key, err := gossip.GenerateKey()
	if err != nil {
		return res, err
	}
	// The key travels in the environment, as in a deployment, not in argv.
	pn := &propNet{bin: bin, dir: dir, env: append(os.Environ(), "BIKFED_GOSSIP_KEYS="+gossip.FormatKey(key), "BIKFED_GOSSIP_LABEL=bikfed-bench")}
	defer pn.stop()

	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	hubURL, hubDir := "http://"+addr, filepath.Join(dir, "hub")
	hubArgs := []string{"hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn"}
	var hubGossip string
	if mode.gossip {
		if hubGossip, err = freeAddr(); err != nil {
			return res, err
		}
		hubArgs = append(hubArgs, "--gossip", "--gossip-bind", hubGossip)
	}
	if err := pn.start("hub", hubArgs...); err != nil {
		return res, err
	}
	if err := waitHTTP(ctx, hubURL+"/healthz"); err != nil {
		return res, err
	}

	ids := make([]string, nodes)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%02d", i)
	}
	// Enrolment is CLI work against the hub's database: a few at a time.
	sem := make(chan struct{}, 4)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			token, err := cli(bin, "hub", "register-node", id, "--name", "Bench SIC "+id, "--data", hubDir)
			if err == nil {
				_, err = cli(bin, "node", "init", "--data", filepath.Join(dir, id), "--hub", hubURL, "--token", token)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	for _, id := range ids {
		args := []string{"node", "serve", "--data", filepath.Join(dir, id), "--listen", "127.0.0.1:0", "--log-level", "warn",
			"--push-debounce", "100ms", "--push-schedule", "@every 1h", "--pull-schedule", mode.pull,
			"--long-poll=" + fmt.Sprint(mode.longPoll)}
		if mode.gossip {
			port, err := freeAddr()
			if err != nil {
				return res, err
			}
			args = append(args, "--gossip", "--gossip-bind", port, "--gossip-join", hubGossip)
		}
		if err := pn.start(id, args...); err != nil {
			return res, err
		}
	}
	apis := make([]nodeAPI, nodes)
	for i, id := range ids {
		if apis[i], err = readNodeAPI(ctx, id, filepath.Join(dir, id)); err != nil {
			return res, err
		}
	}
	if mode.gossip {
		if err := waitMembers(ctx, hubURL, hubDir, apis); err != nil {
			return res, err
		}
	}

	var lat []time.Duration
	for c := range changes {
		// Changes are measured one by one, apart: gossip paces its
		// announcements (one per two gossip intervals), and a change
		// published right after the last one became visible would mostly
		// measure that pace, or, with cron, be in step with the schedule.
		gap := propGap
		if !mode.gossip && !mode.longPoll {
			gap += rand.N(cronInterval)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(gap):
		}
		owner := apis[c%nodes]
		d, err := publishAndWait(owner, apis, fmt.Sprintf("Bench change %d from %s", c, owner.id))
		if err != nil {
			return res, err
		}
		lat = append(lat, d)
	}
	st := percentiles(lat)
	res.p50, res.p99 = st.p50, st.p99
	res.max = slices.Max(lat)
	fmt.Fprintf(os.Stderr, "  p50 %s p99 %s max %s\n", ms(res.p50), ms(res.p99), ms(res.max))
	return res, nil
}

// readNodeAPI waits for a started node's admin address and reads its token.
func readNodeAPI(ctx context.Context, id, dir string) (nodeAPI, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "node.addr"))
		if err == nil && len(bytes.TrimSpace(b)) == 0 {
			err = errors.New("address not written yet")
		}
		if err == nil {
			a := nodeAPI{id: id, base: "http://" + strings.TrimSpace(string(b))}
			if err := waitHTTP(ctx, a.base+"/healthz"); err != nil {
				return a, err
			}
			tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
			a.token = strings.TrimSpace(string(tok))
			return a, err
		}
		if time.Now().After(deadline) {
			return nodeAPI{}, fmt.Errorf("node %s did not start: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return nodeAPI{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitMembers waits until the hub sees every node alive over gossip and
// every node sees the whole cluster: hints spread from member to member, so
// the measurement starts from a network that has settled.
func waitMembers(ctx context.Context, hubURL, hubDir string, apis []nodeAPI) error {
	nodes := len(apis)
	tok, err := os.ReadFile(filepath.Join(hubDir, "admin.token"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", hubURL+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		alive := 0
		if resp, err := propClient.Do(req); err == nil {
			var st struct {
				Nodes []struct {
					Live       string `json:"live"`
					LiveSource string `json:"live_source"`
				} `json:"nodes"`
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			for _, n := range st.Nodes {
				if n.Live == "alive" && n.LiveSource == "gossip" {
					alive++
				}
			}
		}
		if alive == nodes && allSeeAll(apis) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d nodes joined the gossip cluster", alive, nodes)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// allSeeAll reports whether every node sees every member alive.
func allSeeAll(apis []nodeAPI) bool {
	want := fmt.Sprintf("bikfed_gossip_members{state=\"alive\"} %d\n", len(apis)+1)
	for _, a := range apis {
		code, b, err := a.request("GET", "/metrics", nil)
		if err != nil || code != http.StatusOK || !bytes.Contains(b, []byte(want)) {
			return false
		}
	}
	return true
}

// publishAndWait creates a change on owner and returns how long it took,
// from sending the request, to be readable on every other node.
func publishAndWait(owner nodeAPI, apis []nodeAPI, title string) (time.Duration, error) {
	body, _ := json.Marshal(map[string]any{"kind": "post", "visibility": "community", "body": map[string]any{
		"space": "awareness", "format": "thread", "language": "en", "author": map[string]any{"name": "bench", "sic": owner.id}, "title": title,
		"text": "Sharing this term's campaign materials on screen time with the other awareness centres.",
	}})
	start := time.Now()
	code, b, err := owner.request("POST", "/admin/v1/entities", body)
	if err != nil {
		return 0, err
	}
	if code != http.StatusCreated {
		return 0, fmt.Errorf("create on %s: HTTP %d: %s", owner.id, code, b)
	}
	var e struct{ ID string }
	if err := json.Unmarshal(b, &e); err != nil {
		return 0, err
	}
	path := "/admin/v1/entities/" + url.PathEscape(e.ID)
	var mu sync.Mutex
	var worst time.Duration
	var failed error
	var wg sync.WaitGroup
	for _, a := range apis {
		if a.id == owner.id {
			continue
		}
		wg.Go(func() {
			deadline := start.Add(3 * time.Minute)
			for {
				if code, _, err := a.request("GET", path, nil); err == nil && code == http.StatusOK {
					break
				}
				if time.Now().After(deadline) {
					mu.Lock()
					failed = fmt.Errorf("%s from %s not on %s within 3 minutes", e.ID, owner.id, a.id)
					mu.Unlock()
					return
				}
				time.Sleep(propPoll)
			}
			d := time.Since(start)
			mu.Lock()
			worst = max(worst, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	return worst, failed
}

func (r *propReport) markdown() string {
	if r == nil || len(r.rows) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Propagation latency\n\n")
	fmt.Fprintf(&b, "A community post is created through one node's admin API; the time is measured from sending that request until the post is readable on **every** other node (the slowest of them). Changes are published one at a time, round-robin over the nodes, at least %s apart (a further random 0–%s in the cron-only mode, so that publication is not in step with the schedule); each other node is asked every %s. Pushes leave on the local write after a 100 ms debounce in every mode. Before measuring with gossip, every node sees the whole cluster. Hub and nodes are real `bikfed` processes on loopback, all on this one machine.\n\n", propGap, cronInterval, propPoll)
	fmt.Fprintf(&b, "| nodes | how news reaches the nodes | changes | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	for _, row := range r.rows {
		fmt.Fprintf(&b, "| %d | **%s**: %s | %d | %s | %s | %s |\n", row.nodes, row.mode.name, row.mode.desc, row.changes, secs(row.p50), secs(row.p99), secs(row.max))
	}
	b.WriteString("\nTarget (`make test`, `TestE2E_Gossip` and `TestE2E_LongPollPropagation`): p99 under 2 s over 100 changes with five nodes, cron hourly, with gossip and with long-poll alone. The cron-only rows show the backstop: news waits for the next scheduled pull, so latency is spread over the schedule's interval.\n\n")
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
