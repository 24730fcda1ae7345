package mailpittest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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

// Version is the Mailpit release scripts/mailpit.sh builds; the two must
// agree, since the binary's directory is named after it.
const Version = "v1.33.1"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// TLSMode is how the SMTP server deals with TLS.
type TLSMode int

const (
	// TLSNone is plain SMTP: no STARTTLS offered.
	TLSNone TLSMode = iota
	// TLSStartTLS offers STARTTLS and refuses mail from a client that
	// does not upgrade first.
	TLSStartTLS
	// TLSImplicit speaks TLS from the first byte (SMTPS).
	TLSImplicit
)

// Config says how a server started by StartConfig behaves.
type Config struct {
	TLS TLSMode
}

// Server is a running Mailpit.
type Server struct {
	// SMTPAddr is host:port on loopback.
	SMTPAddr string
	// SMTPHost and SMTPPort are SMTPAddr apart, as SMTP settings take them.
	SMTPHost string
	SMTPPort int
	// HTTPURL is the base of the web interface and REST API, without a
	// trailing slash: http://127.0.0.1:PORT.
	HTTPURL string
	// TLS is the server's TLS mode; RootCAs trusts its certificate, which
	// names 127.0.0.1 and localhost (nil with TLSNone).
	TLS     TLSMode
	RootCAs *x509.CertPool

	client *http.Client
	stop   func()
	log    *logBuffer
}

// Stop stops the server (SIGTERM, then SIGKILL after a while) and waits
// for it. Stopping twice is harmless.
func (s *Server) Stop() { s.stop() }

// Log returns what the server has written so far.
func (s *Server) Log() string { return s.log.String() }

// Binary returns the path of the Mailpit server: $BIKFED_MAILPIT, else
// ${BIKFED_CACHE:-$HOME/.cache/bikfed}/mailpit-<Version>/mailpit, as
// scripts/mailpit.sh builds it.
func Binary() (string, error) {
	if p := os.Getenv("BIKFED_MAILPIT"); p != "" {
		return p, nil
	}
	cache := os.Getenv("BIKFED_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find mailpit binary: %w", err)
		}
		cache = filepath.Join(home, ".cache", "bikfed")
	}
	return filepath.Join(cache, "mailpit-"+Version, "mailpit"), nil
}

// Start runs a plain SMTP Mailpit until the test ends. The server's log is
// printed if the test fails.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartConfig(t, Config{})
}

// StartConfig runs a Mailpit configured by cfg until the test ends.
func StartConfig(t testing.TB, cfg Config) *Server {
	t.Helper()
	// Registered before the server's own cleanup, so that it runs after
	// the server has stopped writing its database.
	dir := t.TempDir()
	srv, err := StartProcess(dir, cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("mailpit log (smtp %s, http %s):\n%s", srv.SMTPAddr, srv.HTTPURL, srv.Log())
		}
	})
	return srv
}

// StartProcess runs a Mailpit with its database under dir, bound to
// loopback, until Stop; for programs that have no testing.TB, such as
// the demo.
func StartProcess(dir string, cfg Config) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no Mailpit binary at %s: run `make mailpit` (scripts/mailpit.sh) to build it, or set BIKFED_MAILPIT to one", bin)
	}
	// A free port found by listening can be taken by someone else before
	// Mailpit binds it; a server that exits at once is retried on new ports.
	var lastErr error
	for attempt := range 3 {
		srv, err := start(bin, filepath.Join(dir, strconv.Itoa(attempt)), cfg)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start mailpit: %w", lastErr)
}

// logBuffer collects the server's output, written by exec's copying
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

func start(bin, dir string, cfg Config) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	smtpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--smtp", smtpAddr,
		"--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any",
		// No lookups or calls beyond loopback, and no message ever
		// pruned under a test that counts them.
		"--smtp-disable-rdns",
		"--disable-version-check",
		"--max", "0",
	}
	var roots *x509.CertPool
	if cfg.TLS == TLSNone {
		// PLAIN and LOGIN without TLS, which Mailpit otherwise refuses
		// and which it refuses to combine with required TLS.
		args = append(args, "--smtp-auth-allow-insecure")
	} else {
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if roots, err = writeCert(certFile, keyFile); err != nil {
			return nil, err
		}
		args = append(args, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile)
		if cfg.TLS == TLSStartTLS {
			args = append(args, "--smtp-require-starttls")
		} else {
			args = append(args, "--smtp-require-tls")
		}
	}

	log := &logBuffer{}
	cmd := exec.Command(bin, args...)
	// Mailpit takes its defaults from MP_* variables; the test's server
	// must not inherit a developer's own settings.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MP_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
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

	host, portStr, _ := net.SplitHostPort(smtpAddr)
	port, _ := strconv.Atoi(portStr)
	srv := &Server{
		SMTPAddr: smtpAddr, SMTPHost: host, SMTPPort: port,
		HTTPURL: "http://" + httpAddr,
		TLS:     cfg.TLS, RootCAs: roots,
		client: &http.Client{Timeout: 10 * time.Second},
		stop:   stop, log: log,
	}
	if err := srv.waitReady(exited); err != nil {
		stop()
		<-exited
		return nil, fmt.Errorf("%w (exit: %v)\n--- mailpit log ---\n%s", err, waitErr, log.String())
	}
	return srv, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls the readiness endpoint and the SMTP port until both
// answer, the process exits, or startTimeout passes: Mailpit opens its
// HTTP side before its SMTP side.
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.ready(ctx) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("mailpit exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("mailpit not ready (smtp %s, http %s) after %v", s.SMTPAddr, s.HTTPURL, startTimeout)
		case <-tick.C:
		}
	}
}

func (s *Server) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.SMTPAddr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// writeCert writes a self-signed certificate for the loopback names and
// its key, and returns a pool that trusts it.
func writeCert(certFile, keyFile string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("smtp certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "mailpittest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("smtp certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("smtp certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("smtp certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("smtp certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool, nil
}
