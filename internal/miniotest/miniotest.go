package miniotest

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
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Commit is the short MinIO commit scripts/minio.sh builds; the two must
// agree, since the binary's directory is named after it.
const Commit = "7aac2a2c5b7c"

const (
	// AccessKey and SecretKey are the root credentials of every test server.
	AccessKey = "bikfed-test"
	SecretKey = "bikfed-test-secret"

	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Binary returns the path of the MinIO server: $BIKFED_MINIO, else
// ${BIKFED_CACHE:-$HOME/.cache/bikfed}/minio-<Commit>/minio, as
// scripts/minio.sh builds it.
func Binary() (string, error) {
	if p := os.Getenv("BIKFED_MINIO"); p != "" {
		return p, nil
	}
	cache := os.Getenv("BIKFED_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find minio binary: %w", err)
		}
		cache = filepath.Join(home, ".cache", "bikfed")
	}
	return filepath.Join(cache, "minio-"+Commit, "minio"), nil
}

// Start runs a MinIO server on a data directory of its own, bound to
// loopback, until the test ends, and returns its endpoint (host:port, plain
// http) and root credentials. The server's log is printed if the test fails.
func Start(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	// Registered before the server's own cleanup, so that it runs after
	// the server has stopped writing into the directories.
	dir := t.TempDir()
	srv, err := StartProcess(dir)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("minio log (%s):\n%s", srv.Endpoint, srv.Log())
		}
	})
	return srv.Endpoint, srv.AccessKey, srv.SecretKey
}

// Server is a MinIO server started by StartProcess.
type Server struct {
	// Endpoint is host:port on loopback, plain http.
	Endpoint  string
	AccessKey string
	SecretKey string
	stop      func()
	log       *logBuffer
}

// Stop stops the server (SIGTERM, then SIGKILL after a while) and waits
// for it. Stopping twice is harmless.
func (s *Server) Stop() { s.stop() }

// Log returns what the server has written so far.
func (s *Server) Log() string { return s.log.String() }

// StartProcess runs a MinIO server with its data under dir, bound to
// loopback, until Stop; for programs that have no testing.TB, such as the
// benchmark.
func StartProcess(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no MinIO server binary at %s: run `make minio` (scripts/minio.sh) to build it, or set BIKFED_MINIO to one", bin)
	}
	// A free port found by listening can be taken by someone else before
	// MinIO binds it; a server that exits at once is retried on new ports.
	var lastErr error
	for attempt := range 3 {
		srv, err := start(bin, filepath.Join(dir, strconv.Itoa(attempt)))
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start minio: %w", lastErr)
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

func start(bin, dir string) (*Server, error) {
	data, certs := filepath.Join(dir, "data"), filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}

	log := &logBuffer{}
	cmd := exec.Command(bin, "server", data,
		"--address", addr, "--console-address", console,
		// Kept out of $HOME/.minio, which the test does not own.
		"--certs-dir", certs)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey,
		"MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // no interactive niceties, nor telemetry
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

	if err := waitLive(addr, exited); err != nil {
		stop()
		return nil, fmt.Errorf("%w (exit: %v)\n--- minio log ---\n%s", err, waitErr, log.String())
	}
	return &Server{Endpoint: addr, AccessKey: AccessKey, SecretKey: SecretKey, stop: stop, log: log}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitLive polls MinIO's liveness endpoint until it answers 200, the process
// exits, or startTimeout passes.
func waitLive(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	url := "http://" + addr + "/minio/health/live"
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before it was live")
		case <-ctx.Done():
			return fmt.Errorf("minio not live at %s after %v", url, startTimeout)
		case <-tick.C:
		}
	}
}
