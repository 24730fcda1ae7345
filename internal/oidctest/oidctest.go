package oidctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the zitadel/oidc release scripts/oidc.sh builds; the two must
// agree, since the binary's directory is named after it.
const Version = "v3.52.0"

// Build names the binary scripts/oidc.sh makes from Version: the example
// server's own main, rewritten in scripts/oidc to listen on loopback only.
// It names the binary's directory too, and changes whenever scripts/oidc
// does, so that a machine with an older build rebuilds.
const Build = Version + "-loopback"

// ListenHost is the only address the provider listens on: its clients
// have well-known secrets and its users well-known passwords.
const ListenHost = "127.0.0.1"

// The clients the example server registers, all with the same redirect URIs.
const (
	// ClientID is the confidential client a relying party under test uses.
	ClientID = "web"
	// OtherClientID is a second confidential client: its ID tokens carry
	// an audience that a relying party configured as ClientID must refuse.
	OtherClientID = "api"
	// ClientSecret is the secret of both ClientID and OtherClientID.
	ClientSecret = "secret"
	// NativeClientID is a public client that must use PKCE and accepts the
	// redirect URIs on any loopback port.
	NativeClientID = "native"

	// DefaultRedirectURI is what the clients accept when Start is given no
	// redirect URI. Nothing needs to listen there: Login stops at it.
	DefaultRedirectURI = "http://127.0.0.1:9999/auth/callback"

	// IDTokenLifetime is fixed by the example server for every client.
	IDTokenLifetime = time.Hour

	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// User is an account of the provider; it signs in with Username and
// Password on the provider's login form.
type User struct {
	ID            string
	Username      string
	Password      string
	FirstName     string
	LastName      string
	Email         string
	EmailVerified bool
}

// The provider's users unless Config.Users says otherwise.
var (
	// Verified has a verified email address.
	Verified = User{ID: "u-verified", Username: "verified", Password: "verified-password",
		FirstName: "Vera", LastName: "Verified", Email: "vera@sso.example", EmailVerified: true}
	// Unverified has an address the provider has not verified, which a
	// relying party must not match an account by.
	Unverified = User{ID: "u-unverified", Username: "unverified", Password: "unverified-password",
		FirstName: "Una", LastName: "Unverified", Email: "una@sso.example", EmailVerified: false}
	// Stranger has a verified address that no test creates an account for.
	Stranger = User{ID: "u-stranger", Username: "stranger", Password: "stranger-password",
		FirstName: "Stan", LastName: "Stranger", Email: "stan@elsewhere.example", EmailVerified: true}
)

// DefaultUsers returns Verified, Unverified and Stranger.
func DefaultUsers() []User { return []User{Verified, Unverified, Stranger} }

// Config says what a provider started by StartConfig knows.
type Config struct {
	// RedirectURIs are the exact redirect URIs of clients "web" and "api"
	// (and, on any loopback port, of "native"); DefaultRedirectURI if
	// empty. A relying party on a port chosen at run time picks its
	// address before the provider starts.
	RedirectURIs []string
	// Users are the provider's accounts; DefaultUsers if empty.
	Users []User
}

// Provider is a running OpenID Connect provider.
type Provider struct {
	// Issuer is http://localhost:PORT/, exactly as discovery and the iss
	// claim give it.
	Issuer       string
	RedirectURIs []string
	Users        []User
	stop         func()
	log          *logBuffer
}

// Stop stops the provider (SIGTERM, then SIGKILL after a while) and waits
// for it. Stopping twice is harmless.
func (p *Provider) Stop() { p.stop() }

// Log returns what the provider has written so far.
func (p *Provider) Log() string { return p.log.String() }

// Binary returns the path of the provider: $BIKFED_OIDC, else
// ${BIKFED_CACHE:-$HOME/.cache/bikfed}/oidc-<Build>/oidc-server, as
// scripts/oidc.sh builds it.
func Binary() (string, error) {
	if p := os.Getenv("BIKFED_OIDC"); p != "" {
		return p, nil
	}
	cache := os.Getenv("BIKFED_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find oidc provider binary: %w", err)
		}
		cache = filepath.Join(home, ".cache", "bikfed")
	}
	return filepath.Join(cache, "oidc-"+Build, "oidc-server"), nil
}

// Start runs a provider whose clients accept redirectURIs (or
// DefaultRedirectURI) and whose users are DefaultUsers, until the test
// ends. The provider's log is printed if the test fails.
func Start(t testing.TB, redirectURIs ...string) *Provider {
	t.Helper()
	return StartConfig(t, Config{RedirectURIs: redirectURIs})
}

// StartConfig runs a provider configured by cfg until the test ends.
func StartConfig(t testing.TB, cfg Config) *Provider {
	t.Helper()
	dir := t.TempDir()
	p, err := StartProcess(dir, cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("oidc provider log (%s):\n%s", p.Issuer, p.Log())
		}
	})
	return p
}

// StartProcess runs a provider configured by cfg, with its users file
// under dir, until Stop; for programs that have no testing.TB.
func StartProcess(dir string, cfg Config) (*Provider, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no OpenID Connect provider binary at %s: run `make oidc` (scripts/oidc.sh) to build it, or set BIKFED_OIDC to one", bin)
	}
	if len(cfg.RedirectURIs) == 0 {
		cfg.RedirectURIs = []string{DefaultRedirectURI}
	}
	if len(cfg.Users) == 0 {
		cfg.Users = DefaultUsers()
	}
	usersFile := filepath.Join(dir, "users.json")
	if err := writeUsers(usersFile, cfg.Users); err != nil {
		return nil, err
	}
	// A free port found by listening can be taken by someone else before
	// the provider binds it; a provider that exits at once is retried on a
	// new port.
	var lastErr error
	for range 3 {
		p, err := start(bin, usersFile, cfg)
		if err == nil {
			return p, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start oidc provider: %w", lastErr)
}

// writeUsers writes the users in the example server's users file format: a
// JSON object from user ID to its storage.User, whose fields have no tags.
func writeUsers(path string, users []User) error {
	type fileUser struct {
		User
		PreferredLanguage string
	}
	m := make(map[string]fileUser, len(users))
	for _, u := range users {
		if u.ID == "" || u.Username == "" {
			return fmt.Errorf("write oidc users: user %+v needs an ID and a username", u)
		}
		m[u.ID] = fileUser{User: u, PreferredLanguage: "en"}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("write oidc users: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write oidc users: %w", err)
	}
	return nil
}

// logBuffer collects the provider's output, written by exec's copying
// goroutines and read by the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func start(bin, usersFile string, cfg Config) (*Provider, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log := &logBuffer{}
	cmd := exec.Command(bin)
	// The provider reads only these; it listens on LISTEN_HOST:PORT and
	// names itself http://localhost:PORT/. LISTEN_HOST is also its default,
	// but an inherited variable must not move it off loopback.
	cmd.Env = append(os.Environ(),
		"LISTEN_HOST="+ListenHost,
		"PORT="+strconv.Itoa(port),
		"USERS_FILE="+usersFile,
		"REDIRECT_URI="+strings.Join(cfg.RedirectURIs, ","),
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

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

	issuer := fmt.Sprintf("http://localhost:%d/", port)
	if err := waitReady(issuer, exited); err != nil {
		stop()
		<-exited
		return nil, fmt.Errorf("%w (exit: %v)\n--- oidc provider log ---\n%s", err, waitErr, log.String())
	}
	return &Provider{Issuer: issuer, RedirectURIs: cfg.RedirectURIs, Users: cfg.Users, stop: stop, log: log}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls the discovery document until it names issuer, the
// process exits, or startTimeout passes. Checking the issuer, not just the
// status, tells this provider from anything else that took the port.
func waitReady(issuer string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	url := issuer + ".well-known/openid-configuration"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if d, err := discover(ctx, client, url); err == nil && d.Issuer == issuer {
			return nil
		}
		select {
		case <-exited:
			return errors.New("oidc provider exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("oidc provider not ready at %s after %v", url, startTimeout)
		case <-tick.C:
		}
	}
}

func discover(ctx context.Context, client *http.Client, url string) (*discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s", resp.Status)
	}
	var d discovery
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return &d, nil
}

type discovery struct {
	Issuer string `json:"issuer"`
}
