package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/internal/caddytest"
)

// Mirrors and their load balancer, as docs/scale.md deploys them: `bikfed
// mirror serve` processes pulling the hub's public feed, behind a Caddy
// reverse proxy that checks each one's /healthz.

// mirrorProcs is how many threads each mirror process may run Go code on.
// One mirror per machine is the real deployment; here every mirror shares
// this machine's cores with the hub, Caddy, the simulated nodes and the
// load. With one each, a mirror stands for a machine of fixed size, so a
// second mirror adds capacity as a second machine would; left to the
// default, one mirror alone would already take every core and the second
// could add none.
const mirrorProcs = 1

// mirror is one running mirror process.
type mirror struct {
	name, dir, url string
	proc           *exec.Cmd
}

func (m *mirror) pid() int { return m.proc.Process.Pid }

func stopProc(p *exec.Cmd) {
	if p == nil || p.Process == nil {
		return
	}
	p.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.Process.Kill()
		<-done
	}
}

// mirrorsAvailable reports whether the binary has the mirror commands.
func mirrorsAvailable(bin string) bool {
	out, _ := exec.Command(bin, "mirror", "serve", "--help").CombinedOutput()
	return strings.Contains(string(out), "--listen") || strings.Contains(string(out), "-listen")
}

// startMirror registers, enrols and starts mirror name, and waits until it
// has caught up with the hub (its /healthz answers 200).
func startMirror(ctx context.Context, bin, dir, hubDir, hubURL, publicURL, name string) (*mirror, error) {
	token, err := cli(bin, "hub", "register-mirror", name, "--data", hubDir)
	if err != nil {
		return nil, err
	}
	m := &mirror{name: name, dir: filepath.Join(dir, "mirror-"+name)}
	if _, err := cli(bin, "mirror", "init", "--data", m.dir, "--hub", hubURL, "--token", token); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	m.url = "http://" + addr
	m.proc = exec.Command(bin, "mirror", "serve", "--data", m.dir, "--listen", addr, "--public-url", publicURL, "--log-level", "warn")
	m.proc.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", mirrorProcs))
	m.proc.Stderr = os.Stderr
	if err := m.proc.Start(); err != nil {
		return nil, fmt.Errorf("start mirror %s: %w", name, err)
	}
	if err := waitStatus(ctx, m.url+"/healthz", 10*time.Minute); err != nil {
		stopProc(m.proc)
		return nil, fmt.Errorf("mirror %s: %w", name, err)
	}
	return m, nil
}

// waitStatus waits until url answers 200; a mirror answers 503 while it
// catches up with the hub.
func waitStatus(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 in %s: %s", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// caddyfile is the load balancer's configuration, docs/Caddyfile's on
// loopback: plain HTTP, round robin over the mirrors, a request that meets
// a dead mirror tried on another, each mirror checked on /healthz (every
// second here, so a phase starts soon after the mirrors are ready). The
// admin endpoint is off: other Caddy processes on the machine may hold its
// port.
func caddyfile(addr string, upstreams []string) string {
	var b strings.Builder
	b.WriteString("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}\n\n")
	fmt.Fprintf(&b, "http://%s {\n\tbind 127.0.0.1\n\treverse_proxy %s {\n", addr, strings.Join(upstreams, " "))
	for _, l := range []string{
		"lb_policy round_robin", "lb_try_duration 5s", "lb_try_interval 100ms",
		"health_uri /healthz", "health_interval 1s", "health_timeout 2s",
		"fail_duration 30s", "max_fails 1",
	} {
		fmt.Fprintf(&b, "\t\t%s\n", l)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// caddyBinary finds the pinned Caddy: scripts/caddy.sh builds it once per
// machine and prints its path; without the script, where caddytest (and
// the script) keep it.
func caddyBinary() (string, error) {
	if _, err := os.Stat("scripts/caddy.sh"); err == nil {
		out, err := exec.Command("scripts/caddy.sh").Output()
		if err != nil {
			return "", fmt.Errorf("scripts/caddy.sh: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(lines[len(lines)-1]), nil
	}
	p, err := caddytest.Binary()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("caddy is not built at %s (scripts/caddy.sh builds it): %w", p, err)
	}
	return p, nil
}

// startCaddy runs Caddy in front of upstreams (host:port) and waits until a
// request through it reaches a healthy mirror.
func startCaddy(ctx context.Context, bin, dir, addr string, upstreams []string) (*exec.Cmd, string, error) {
	cdir := filepath.Join(dir, fmt.Sprintf("caddy-%d", len(upstreams)))
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return nil, "", err
	}
	conf := filepath.Join(cdir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(caddyfile(addr, upstreams)), 0o644); err != nil {
		return nil, "", err
	}
	logf, err := os.Create(filepath.Join(cdir, "caddy.log"))
	if err != nil {
		return nil, "", err
	}
	p := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	// Caddy keeps its state under XDG_DATA_HOME and XDG_CONFIG_HOME: this
	// run's, not the user's.
	p.Env = append(os.Environ(), "XDG_DATA_HOME="+cdir, "XDG_CONFIG_HOME="+cdir)
	p.Stdout, p.Stderr = logf, logf
	if err := p.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start caddy: %w", err)
	}
	go func() { p.Wait(); logf.Close() }()
	url := "http://" + addr
	if err := waitStatus(ctx, url+"/healthz", time.Minute); err != nil {
		p.Process.Kill()
		return nil, "", fmt.Errorf("caddy (log: %s): %w", logf.Name(), err)
	}
	return p, url, nil
}

// stopCaddy stops a Caddy started by startCaddy, whose Wait is already taken.
func stopCaddy(p *exec.Cmd) {
	if p == nil || p.Process == nil {
		return
	}
	p.Process.Signal(syscall.SIGTERM)
	for range 150 {
		if p.Process.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.Process.Kill()
}

// mirrorStatus is one mirror in the hub's GET /admin/v1/mirrors.
type mirrorStatus struct {
	Name   string `json:"name"`
	Cursor int64  `json:"cursor"`
	HubSeq int64  `json:"hub_seq"`
	Lag    int64  `json:"lag"`
	Live   bool   `json:"live"`
}

func parseMirrors(b []byte) ([]mirrorStatus, error) {
	var out struct {
		Mirrors []mirrorStatus `json:"mirrors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode mirrors: %w", err)
	}
	return out.Mirrors, nil
}

// lagWatch samples each mirror's lag from the hub while a phase runs.
type lagWatch struct {
	mu      sync.Mutex
	max     map[string]int64
	last    map[string]int64
	live    map[string]bool
	samples int
	errs    int
	first   string
}

func newLagWatch() *lagWatch {
	return &lagWatch{max: map[string]int64{}, last: map[string]int64{}, live: map[string]bool{}}
}

func (w *lagWatch) record(ms []mirrorStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for _, m := range ms {
		w.max[m.Name] = max(w.max[m.Name], m.Lag)
		w.last[m.Name] = m.Lag
		w.live[m.Name] = m.Live
	}
}

func (w *lagWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs++
	if w.first == "" {
		w.first = err.Error()
	}
}

// sample asks the hub for its mirrors once.
func (w *lagWatch) sample(ctx context.Context, hubURL, adminToken string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/admin/v1/mirrors", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(err)
		}
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		w.fail(err)
		return
	}
	if resp.StatusCode != http.StatusOK {
		w.fail(fmt.Errorf("GET /admin/v1/mirrors: %s", resp.Status))
		return
	}
	ms, err := parseMirrors(b)
	if err != nil {
		w.fail(err)
		return
	}
	w.record(ms)
}

// watch samples every interval until ctx ends.
func (w *lagWatch) watch(ctx context.Context, hubURL, adminToken string, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		w.sample(ctx, hubURL, adminToken)
	}
}
