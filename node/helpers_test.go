package node

import (
	"database/sql"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testConfig(dir string) Config {
	c := DefaultConfig()
	c.DataDir = dir
	c.Listen = "127.0.0.1:0"
	c.PushDebounce = 10 * time.Millisecond
	c.LongPollWait = 2 * time.Second
	c.Client.Retries = 0
	c.Client.Timeout = 10 * time.Second
	c.MapDatabase = true
	return c
}

// initNode enrols a node in a fresh data dir and returns the dir.
func initNode(t *testing.T, hub *fakeHub, id string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := Init(t.Context(), dir, hub.URL(), hub.token(id), testLogger(t)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return dir
}

func openNode(t *testing.T, dir string) *Node {
	t.Helper()
	n, err := Open(t.Context(), testConfig(dir), testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newTestNode(t *testing.T, hub *fakeHub, id string) *Node {
	t.Helper()
	return openNode(t, initNode(t, hub, id))
}

func resourceBody(title string) json.RawMessage {
	b, _ := json.Marshal(protocol.Resource{
		Title: title, Description: "A guide.", Language: "en", Languages: []string{"en"},
		AgeMin: 8, AgeMax: 12, Audiences: []string{"children"}, Topics: []string{"privacy"}, Type: "guide",
	})
	return b
}

func resourceDraft(title string) Draft {
	return Draft{Kind: protocol.KindResource, Visibility: protocol.VisibilityPublic, Body: resourceBody(title)}
}

func mustCreate(t *testing.T, n *Node, title string) Entity {
	t.Helper()
	e, err := n.Create(t.Context(), resourceDraft(title))
	if err != nil {
		t.Fatalf("Create %q: %v", title, err)
	}
	return e
}

// outboxSeqs returns the outbox's seqs in order.
func outboxSeqs(t *testing.T, n *Node) []int64 {
	t.Helper()
	rows, err := n.db.Reader().QueryContext(t.Context(), `SELECT seq FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var k int
	if err := db.QueryRowContext(t.Context(), q, args...).Scan(&k); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return k
}

// waitFor polls cond until it holds or the deadline passes; tests never sleep bare.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustSync(t *testing.T, n *Node) {
	t.Helper()
	if err := n.SyncOnce(t.Context(), nil); err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
}

func mustStatus(t *testing.T, n *Node) Status {
	t.Helper()
	s, err := n.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
