package caddytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Version is the Caddy release scripts/caddy.sh builds; the two must agree,
// since the binary's directory is named after it. The Dockerfile's caddy
// stage pins the same release.
const Version = "v2.11.9"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Binary returns the path of the Caddy binary: $BIKFED_CADDY, else
// ${BIKFED_CACHE:-$HOME/.cache/bikfed}/caddy-<Version>/caddy, as
// scripts/caddy.sh builds it.
func Binary() (string, error) {
	if p := os.Getenv("BIKFED_CADDY"); p != "" {
		return p, nil
	}
	cache := os.Getenv("BIKFED_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find caddy binary: %w", err)
		}
		cache = filepath.Join(home, ".cache", "bikfed")
	}
	return filepath.Join(cache, "caddy-"+Version, "caddy"), nil
}

// ErrNoBinary is returned when the Caddy binary is not where Binary says.
var ErrNoBinary = errors.New("no caddy binary")

// requireBinary returns the binary's path, or skips the test (outside CI)
// or fails it (under CI) when there is none.
func requireBinary(t testing.TB) string {
	t.Helper()
	bin, err := findBinary()
	if err == nil {
		return bin
	}
	if errors.Is(err, ErrNoBinary) && os.Getenv("CI") == "" {
		t.Skipf("%v", err)
	}
	t.Fatalf("%v", err)
	return ""
}

func findBinary() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w at %s: run `make caddy` (scripts/caddy.sh) to build it, or set BIKFED_CADDY to one", ErrNoBinary, bin)
	}
	return bin, nil
}

// Validate runs `caddy validate` on a Caddyfile, so that a shipped
// configuration is known to load in the pinned release. It skips or fails
// like Start when there is no binary.
func Validate(t testing.TB, caddyfile string) {
	t.Helper()
	bin := requireBinary(t)
	cmd := exec.Command(bin, "validate", "--config", caddyfile, "--adapter", "caddyfile")
	cmd.Env = isolatedEnv(t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate %s: %v\n%s", caddyfile, err, out)
	}
}

// config is what the Caddyfile is written from; Options change it.
type config struct {
	Listen         string
	Admin          string
	Upstreams      []string
	HealthURI      string
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	FailDuration   time.Duration
	TryDuration    time.Duration
	TryInterval    time.Duration
}

// An Option changes how Start configures Caddy.
type Option func(*config)

// HealthURI sets the path of the active health check (default /healthz,
// which a mirror answers 503 until it has caught up with the hub).
func HealthURI(path string) Option { return func(c *config) { c.HealthURI = path } }

// HealthInterval sets how often each upstream is checked (default 500ms).
func HealthInterval(d time.Duration) Option { return func(c *config) { c.HealthInterval = d } }

// FailDuration sets how long an upstream that failed a request stays out
// of rotation (default 2s): the passive health check.
func FailDuration(d time.Duration) Option { return func(c *config) { c.FailDuration = d } }

// TryDuration sets how long Caddy keeps trying other upstreams for one
// request (default 5s).
func TryDuration(d time.Duration) Option { return func(c *config) { c.TryDuration = d } }

// caddyfile is the proxy of docs/Caddyfile with the test's addresses and
// shorter timers. Durations are written in milliseconds, which Caddy reads.
// The Host header is left as the visitor sent it (port included), which is
// what reverse_proxy does unless told otherwise. The site address names a
// port and no host, so that requests for any host name (a minisite's)
// match it; bind keeps it on loopback. Passive health counts only
// failed connections, not 5xx answers: a page that fails on every mirror
// alike must not take them all out of rotation.
var caddyfile = template.Must(template.New("Caddyfile").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) },
	"port": func(addr string) string {
		_, port, _ := net.SplitHostPort(addr)
		return port
	},
}).Parse(`{
	admin {{.Admin}}
	auto_https off
	persist_config off
}

http://:{{port .Listen}} {
	bind 127.0.0.1
	reverse_proxy {{range .Upstreams}}{{.}} {{end}}{
		lb_policy round_robin
		lb_try_duration {{ms .TryDuration}}
		lb_try_interval {{ms .TryInterval}}
		health_uri {{.HealthURI}}
		health_interval {{ms .HealthInterval}}
		health_timeout {{ms .HealthTimeout}}
		fail_duration {{ms .FailDuration}}
		max_fails 1
	}
}
`))

// Server is a running Caddy.
type Server struct {
	// URL is http://127.0.0.1:PORT, the load balancer's address.
	URL string
	// Admin is the admin endpoint's host:port on loopback.
	Admin string

	bin, dir string
	cfg      config
	stop     func()
	log      *logFile
}

// Start runs a Caddy that balances over upstreams (host:port, plain HTTP)
// until the test ends, and returns once it answers. Its log is printed if
// the test fails. Outside CI the test is skipped when there is no binary.
func Start(t testing.TB, upstreams []string, opts ...Option) *Server {
	t.Helper()
	bin := requireBinary(t)
	if len(upstreams) == 0 {
		t.Fatalf("caddytest.Start: no upstreams")
	}
	// Registered before the server's own cleanup, so that it runs after
	// Caddy has stopped writing into the directory.
	dir := t.TempDir()
	cfg := config{
		Upstreams:      upstreams,
		HealthURI:      "/healthz",
		HealthInterval: 500 * time.Millisecond,
		HealthTimeout:  time.Second,
		FailDuration:   2 * time.Second,
		TryDuration:    5 * time.Second,
		TryInterval:    100 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	// A free port found by listening can be taken by someone else before
	// Caddy binds it; a Caddy that fails to start is retried on new ports.
	var lastErr error
	for attempt := range 3 {
		s, err := start(bin, filepath.Join(dir, fmt.Sprint(attempt)), cfg)
		if err == nil {
			t.Cleanup(func() {
				s.Stop()
				if t.Failed() {
					t.Logf("caddy log (%s):\n%s", s.URL, s.Log())
				}
			})
			return s
		}
		lastErr = err
	}
	t.Fatalf("start caddy: %v", lastErr)
	return nil
}

// Stop stops Caddy (SIGTERM, then SIGKILL after a while) and waits for it.
// Stopping twice is harmless.
func (s *Server) Stop() { s.stop() }

// Log returns what Caddy has written so far.
func (s *Server) Log() string { return s.log.String() }

// SetUpstreams replaces the upstreams and reloads Caddy's configuration
// through its admin endpoint, as an operator does after adding or removing
// a mirror; requests in flight are not dropped.
func (s *Server) SetUpstreams(upstreams ...string) error {
	cfg := s.cfg
	cfg.Upstreams = upstreams
	file, err := writeCaddyfile(s.dir, cfg)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "reload", "--config", file, "--adapter", "caddyfile", "--address", s.Admin)
	cmd.Env = isolatedEnv(s.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("caddy reload: %v\n%s", err, out)
	}
	s.cfg = cfg
	return nil
}

// isolatedEnv is the environment with Caddy's data, configuration and home
// directories under dir, so that nothing is read from or left in the
// user's own.
func isolatedEnv(dir string) []string {
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "HOME="), strings.HasPrefix(kv, "XDG_DATA_HOME="), strings.HasPrefix(kv, "XDG_CONFIG_HOME="):
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+dir,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
}

func writeCaddyfile(dir string, cfg config) (string, error) {
	var buf bytes.Buffer
	if err := caddyfile.Execute(&buf, cfg); err != nil {
		return "", fmt.Errorf("write Caddyfile: %w", err)
	}
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write Caddyfile: %w", err)
	}
	return file, nil
}

func start(bin, dir string, cfg config) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var err error
	if cfg.Listen, err = freeAddr(); err != nil {
		return nil, err
	}
	if cfg.Admin, err = freeAddr(); err != nil {
		return nil, err
	}
	file, err := writeCaddyfile(dir, cfg)
	if err != nil {
		return nil, err
	}
	log, err := openLog(filepath.Join(dir, "caddy.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = isolatedEnv(dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); log.Close(); close(exited) }()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			select {
			case <-exited:
				return
			default:
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(stopTimeout):
				cmd.Process.Kill()
				<-exited
			}
		})
	}
	if err := waitReady(cfg.Listen, cfg.Admin, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w (exit: %v)\n--- caddy log ---\n%s", err, waitErr, log.String())
	}
	return &Server{
		URL: "http://" + cfg.Listen, Admin: cfg.Admin,
		bin: bin, dir: dir, cfg: cfg, stop: stop, log: log,
	}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until Caddy's admin endpoint serves its configuration and
// its listener accepts connections. It does not send a request through the
// proxy: with every upstream down, as when mirrors are still catching up,
// that request would wait out the whole try duration.
func waitReady(listen, admin string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if adminReady(ctx, client, admin) {
			if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("caddy exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("caddy not ready on %s after %v", listen, startTimeout)
		case <-tick.C:
		}
	}
}

func adminReady(ctx context.Context, client *http.Client, admin string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/config/", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// logFile is Caddy's output, kept in a file in the test's directory (so it
// survives a test that hangs) and read back when the test fails.
type logFile struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

func openLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open caddy log: %w", err)
	}
	return &logFile{f: f, path: path}, nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	return l.f.Write(p)
}

func (l *logFile) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func (l *logFile) String() string {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", l.path, err)
	}
	return string(b)
}
