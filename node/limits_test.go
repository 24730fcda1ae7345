package node

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveLimited serves n's admin API the way Run does, limits included.
func serveLimited(t *testing.T, n *Node) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := n.server(ln)
	go srv.Serve(capped)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestNode_Server_Limits(t *testing.T) {
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	cfg := testConfig(dir)
	cfg.Limits.MaxHeaderBytes = 8 << 10
	cfg.Limits.ReadTimeout = 300 * time.Millisecond
	n, err := Open(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	addr := serveLimited(t, n)

	send := func(req string) (*http.Response, time.Duration) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%.40q: %v", req, err)
		}
		resp.Body.Close()
		return resp, time.Since(start)
	}
	t.Run("headers", func(t *testing.T) {
		if resp, _ := send("GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("/healthz: %s", resp.Status)
		}
		resp, _ := send(fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: node\r\nX-Pad: %s\r\n\r\n", strings.Repeat("a", 16<<10)))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("16 KiB of headers: %s, want 431", resp.Status)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		resp, took := send("POST " + PathAdminEntities + " HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer " + n.AdminToken() +
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		if resp.StatusCode < 400 || took > 3*time.Second {
			t.Fatalf("a body that never arrives: %s after %s, want an error within the read timeout", resp.Status, took)
		}
	})
}

func TestLimitConfig_Validate(t *testing.T) {
	c := DefaultConfig()
	c.DataDir = "/tmp/x"
	c.Limits.ReadTimeout = 0
	c.Limits.MaxHeaderBytes = 10
	c.Limits.MaxConns = 1
	err := c.Validate()
	for _, field := range []string{"limits.read_timeout:", "limits.max_header_bytes:", "limits.max_conns:"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want an error naming %s", err, field)
		}
	}
}
