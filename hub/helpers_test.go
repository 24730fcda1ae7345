package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// testClock is a clock tests can move forward.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// testHub is an open hub behind a real HTTP server on 127.0.0.1.
type testHub struct {
	*Hub
	url   string
	clock *testClock
	srv   *httptest.Server
}

// mustOpenHub opens a hub in a fresh directory (or dir, when given through a
// config modifier) and serves it.
func mustOpenHub(tb testing.TB, mods ...func(*Config)) *testHub {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = tb.TempDir()
	for _, m := range mods {
		m(&cfg)
	}
	return mustOpenHubAt(tb, cfg)
}

func mustOpenHubAt(tb testing.TB, cfg Config) *testHub {
	tb.Helper()
	clock := &testClock{}
	h, err := open(context.Background(), cfg, nil, clock.Now)
	if err != nil {
		tb.Fatalf("open hub: %v", err)
	}
	srv := httptest.NewServer(h.Handler())
	th := &testHub{Hub: h, url: srv.URL, clock: clock, srv: srv}
	tb.Cleanup(th.close)
	return th
}

func (th *testHub) close() {
	th.stopLongPolls()
	th.srv.Close()
	th.Hub.Close()
}

func (th *testHub) client(cred string) *protocol.Client {
	cfg := protocol.DefaultClientConfig(th.url)
	cfg.Credential = cred
	cfg.Retries = 0
	cfg.Timeout = 30 * time.Second
	return protocol.NewClient(cfg)
}

func (th *testHub) operatorClient() *protocol.Client { return th.client(th.AdminToken()) }

// testNode is a node as the hub sees it: a key, a credential, an outbox seq.
type testNode struct {
	id     string
	key    protocol.Key
	epoch  string
	cred   string
	client *protocol.Client
	seq    int64
	hub    *testHub
}

func newKey(tb testing.TB, id string) protocol.Key {
	tb.Helper()
	k, err := protocol.GenerateKey(id)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// enrolNode registers id and enrols it through the HTTP API.
func (th *testHub) enrolNode(tb testing.TB, id string) *testNode {
	tb.Helper()
	return th.enrolWithKey(tb, id, newKey(tb, id), "e1")
}

func (th *testHub) enrolWithKey(tb testing.TB, id string, key protocol.Key, epoch string) *testNode {
	tb.Helper()
	ctx := context.Background()
	tok, err := th.RegisterNode(ctx, id, "SIC "+strings.ToUpper(id))
	if err != nil {
		tb.Fatalf("register %s: %v", id, err)
	}
	res, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: id, Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: epoch})
	if err != nil {
		tb.Fatalf("enrol %s: %v", id, err)
	}
	return &testNode{id: id, key: key, epoch: epoch, cred: res.Credential, client: th.client(res.Credential), hub: th}
}

func mustJSON(tb testing.TB, v any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func resourceBody(title string) protocol.Resource {
	return protocol.Resource{Title: title, Description: "About " + title, Language: "en", Languages: []string{"en", "nl"},
		AgeMin: 8, AgeMax: 14, Audiences: []string{"children", "teachers"}, Topics: []string{"privacy"}, Type: "guide"}
}

// newChange starts a version-1 change of a new entity with the next seq.
func (n *testNode) newChange(tb testing.TB, kind protocol.Kind, vis protocol.Visibility, body any) *protocol.Change {
	tb.Helper()
	id, err := protocol.NewEntityID(n.id, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	n.seq++
	return &protocol.Change{Protocol: protocol.Version, ID: id, Kind: kind, Owner: n.id, Version: 1, Seq: n.seq,
		UpdatedAt: time.Now().UTC(), Visibility: vis, Body: mustJSON(tb, body)}
}

func (n *testNode) resource(tb testing.TB, title string, vis protocol.Visibility) *protocol.Change {
	return n.newChange(tb, protocol.KindResource, vis, resourceBody(title))
}

// next returns a new version of c with the next seq.
func (n *testNode) next(c *protocol.Change) *protocol.Change {
	n.seq++
	c2 := *c
	c2.Version++
	c2.Seq = n.seq
	c2.UpdatedAt = time.Now().UTC()
	return &c2
}

func (n *testNode) sign(tb testing.TB, c *protocol.Change) protocol.Signed {
	tb.Helper()
	s, err := n.key.Sign(c)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

func (n *testNode) signAll(tb testing.TB, cs ...*protocol.Change) []protocol.Signed {
	out := make([]protocol.Signed, len(cs))
	for i, c := range cs {
		out[i] = n.sign(tb, c)
	}
	return out
}

func seqOf(tb testing.TB, s protocol.Signed) int64 {
	var c struct{ Seq int64 }
	if err := json.Unmarshal(s.Change, &c); err != nil {
		tb.Fatal(err)
	}
	return c.Seq
}

// header covers the seqs of ss.
func (n *testNode) header(tb testing.TB, ss []protocol.Signed) protocol.PushHeader {
	h := protocol.PushHeader{Node: n.id, Epoch: n.epoch, FromSeq: 1 << 62}
	for _, s := range ss {
		q := seqOf(tb, s)
		h.FromSeq, h.ToSeq = min(h.FromSeq, q), max(h.ToSeq, q)
	}
	h.HeadSeq = max(h.ToSeq, n.seq)
	return h
}

func (n *testNode) push(tb testing.TB, ss ...protocol.Signed) (*protocol.PushResult, error) {
	tb.Helper()
	return n.client.Push(context.Background(), n.header(tb, ss), ss)
}

func (n *testNode) mustPush(tb testing.TB, ss ...protocol.Signed) *protocol.PushResult {
	tb.Helper()
	res, err := n.push(tb, ss...)
	if err != nil {
		tb.Fatalf("push: %v", err)
	}
	return res
}

// pushRaw posts a hand-made NDJSON body, for records no client would send.
func (n *testNode) pushRaw(tb testing.TB, h protocol.PushHeader, lines ...[]byte) (*protocol.PushResult, int, []byte) {
	tb.Helper()
	var body bytes.Buffer
	body.Write(mustJSON(tb, h))
	for _, l := range lines {
		body.WriteByte('\n')
		body.Write(l)
	}
	body.WriteByte('\n')
	req, _ := http.NewRequest(http.MethodPost, n.hub.url+protocol.PathPush, &body)
	req.Header.Set("Authorization", "Bearer "+n.cred)
	req.Header.Set("Content-Type", protocol.ContentTypeNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, b
	}
	var res protocol.PushResult
	if err := json.Unmarshal(b, &res); err != nil {
		tb.Fatalf("decode push result %s: %v", b, err)
	}
	return &res, resp.StatusCode, b
}

// pullAll reads the whole feed after since, page by page.
func pullAll(tb testing.TB, c *protocol.Client, since int64) ([]protocol.FeedItem, int64) {
	tb.Helper()
	var out []protocol.FeedItem
	for {
		f, err := c.Changes(context.Background(), since, 0, 0)
		if err != nil {
			tb.Fatalf("changes since %d: %v", since, err)
		}
		out = append(out, f.Changes...)
		since = f.Next
		if !f.More {
			return out, since
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, d time.Duration, cond func() bool, msg string) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out: %s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func nodeStatus(tb testing.TB, st *protocol.NetworkStatus, id string) protocol.NodeStatus {
	tb.Helper()
	for _, n := range st.Nodes {
		if n.Node == id {
			return n
		}
	}
	tb.Fatalf("node %s not in status", id)
	return protocol.NodeStatus{}
}

// get does a GET and returns status and body.
func get(tb testing.TB, url, bearer string) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
