package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

	"github.com/bikfed/bikfed/protocol"
)

// bikfedBin is the binary under test, built once for the whole package.
var bikfedBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bikfed-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bikfedBin = filepath.Join(dir, "bikfed")
	// Every client of these tests comes from 127.0.0.1, where a network of
	// nodes enrolling and a crawl of the portal would trip the per-address
	// rate limits. The tests of those limits turn them on with flags, which
	// win over the environment.
	os.Setenv("BIKFED_PUBLIC_RATE", "0")
	os.Setenv("BIKFED_SIGN_IN_RATE", "0")
	build := exec.Command("go", "build", "-o", bikfedBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build bikfed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitFor polls check until it succeeds or the deadline passes; tests never sleep blindly.
func waitFor(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// handedOut are the addresses freeAddr has returned. The kernel may give a
// port it just freed to the next listener on :0, so two processes started
// moments apart could otherwise be told the same address.
var handedOut sync.Map

// freeAddr returns a loopback address no listener holds now, for TCP and
// UDP alike (gossip takes both), and this test binary has not handed out
// before. Its port lies below the kernel's ephemeral range, so no process
// that listens on port 0 (the nodes, the test's own servers) can be given
// it between now and when its user binds it.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 10000 {
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		if _, seen := handedOut.LoadOrStore(addr, true); !seen {
			return addr
		}
	}
	t.Fatal("no free loopback port")
	return ""
}

// freePortLow and freePortHigh bound freeAddr's ports: under Linux's
// default ephemeral range (32768–60999).
const freePortLow, freePortHigh = 20000, 32768

// proc is a running bikfed process.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(t testing.TB, name, logDir string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bikfedBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
	return p
}

// kill stops the process with SIGKILL: no chance to flush or shut down.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop asks the process to shut down cleanly and waits for it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Errorf("%s did not stop within 15s of SIGTERM", p.name)
		p.kill()
	}
}

// runCLI runs one bikfed command to completion and returns its standard output.
func runCLI(t testing.TB, stdin []byte, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bikfedBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("bikfed %s: %v: %s%s", strings.Join(args, " "), err, errb.String(), out.String())
	}
	return out.String(), nil
}

func mustCLI(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, err := runCLI(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// network is a hub and its nodes as real processes in one temporary directory.
type network struct {
	t      testing.TB
	dir    string
	hubDir string
	hubURL string
	hubAdr string
	hub    *proc
	nodes  map[string]*testNode
	// hubExtra are extra flags for the hub's serve command.
	hubExtra []string
}

type testNode struct {
	id    string
	dir   string
	proc  *proc
	extra []string
}

func newNetwork(t testing.TB) *network {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	nw := &network{t: t, dir: dir, hubDir: filepath.Join(dir, "hub"), hubAdr: addr, hubURL: "http://" + addr, nodes: map[string]*testNode{}}
	nw.startHub()
	return nw
}

func (nw *network) startHub() {
	nw.t.Helper()
	nw.hub = startProc(nw.t, "hub", nw.dir, append([]string{"hub", "serve", "--data", nw.hubDir, "--listen", nw.hubAdr}, nw.hubExtra...)...)
	waitFor(nw.t, 30*time.Second, "hub to answer", func() error {
		resp, err := http.Get(nw.hubURL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("healthz: %s", resp.Status)
		}
		return nil
	})
}

// register returns a fresh enrolment token for id from the hub's CLI.
func (nw *network) register(id string) string {
	nw.t.Helper()
	out := mustCLI(nw.t, nil, "hub", "register-node", id, "--name", "Safer Internet Centre "+strings.ToUpper(id), "--data", nw.hubDir)
	return strings.TrimSpace(out)
}

// addNode enrols a node; extra flags go to its serve command.
func (nw *network) addNode(id string, extra ...string) *testNode {
	nw.t.Helper()
	n := &testNode{id: id, dir: filepath.Join(nw.dir, id), extra: extra}
	mustCLI(nw.t, nil, "node", "init", "--data", n.dir, "--hub", nw.hubURL, "--token", nw.register(id))
	nw.nodes[id] = n
	return n
}

func (nw *network) startNode(n *testNode) {
	nw.t.Helper()
	args := append([]string{"node", "serve", "--data", n.dir, "--listen", "127.0.0.1:0"}, n.extra...)
	n.proc = startProc(nw.t, n.id, nw.dir, args...)
}

func (nw *network) adminToken() string {
	b, err := os.ReadFile(filepath.Join(nw.hubDir, "admin.token"))
	if err != nil {
		nw.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// status reads the network status from the running hub.
func (nw *network) status() (*protocol.NetworkStatus, error) {
	req, _ := http.NewRequest("GET", nw.hubURL+protocol.PathStatus, nil)
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status: %s", resp.Status)
	}
	var st protocol.NetworkStatus
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// verify runs bikfed verify for a node and returns nil when node and hub agree.
func (nw *network) verify(n *testNode) error {
	out, err := runCLI(nw.t, nil, "verify", "--data", n.dir)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", n.id, err, out)
	}
	return nil
}

// manifest is the hub's manifest, read with the operator token.
func (nw *network) manifest() *protocol.Manifest {
	nw.t.Helper()
	req, _ := http.NewRequest("GET", nw.hubURL+protocol.PathManifest, nil)
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		nw.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m protocol.Manifest
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		nw.t.Fatal(err)
	}
	return &m
}
