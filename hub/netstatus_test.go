package hub

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// noRedirect is a browser that shows redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestHub_Console(t *testing.T) {
	var served []string
	th := mustOpenHub(t, func(c *Config) { c.PublicURL = "https://hub.example.org" })
	th.SetConsole(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = append(served, r.URL.Path) }))
	srv := httptest.NewServer(th.Handler())
	defer srv.Close()
	c := noRedirect()
	for _, tc := range []struct{ path, location string }{
		{"/status", "/console/"},
		{"/console", "/console/"},
	} {
		resp, err := c.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tc.location {
			t.Errorf("GET %s: %s to %q, want %q", tc.path, resp.Status, resp.Header.Get("Location"), tc.location)
		}
	}
	for _, p := range []string{"/console/", "/console/nodes/be"} {
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if want := []string{"/console/", "/console/nodes/be"}; !slices.Equal(served, want) {
		t.Errorf("the console served %v, want %v", served, want)
	}
	if !th.Secure() {
		t.Error("an https public URL is not secure")
	}
}

func TestHub_ConsoleFormKey(t *testing.T) {
	th := mustOpenHub(t)
	k1, err := th.ConsoleFormKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := th.ConsoleFormKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Fatalf("form keys %x and %x: want the same 32 bytes each time", k1, k2)
	}
	fi, err := os.Stat(filepath.Join(th.cfg.DataDir, consoleKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", consoleKeyFile, fi.Mode().Perm())
	}
}

func TestHub_ReadyAndMetrics(t *testing.T) {
	th := mustOpenHub(t)
	if code, _ := get(t, th.url+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz before Run: %d, want 503", code)
	}
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.signAll(t, be.resource(t, "One", protocol.VisibilityPublic), be.resource(t, "Two", protocol.VisibilityPublic))...)
	bad := be.resource(t, "Bad", protocol.VisibilityPublic)
	bad.Version = 0
	be.mustPush(t, be.sign(t, bad))
	be.seq = 8
	if _, err := be.push(t, be.sign(t, be.resource(t, "After a gap", protocol.VisibilityPublic))); err == nil {
		t.Fatal("a push with a gap was accepted")
	}
	if _, err := be.client.Changes(context.Background(), 0, 10, 0); err != nil {
		t.Fatal(err)
	}

	if code, _ := get(t, th.url+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("metrics without a token: %d", code)
	}
	if code, _ := get(t, th.url+"/metrics", be.cred); code != http.StatusForbidden {
		t.Errorf("metrics with a node credential: %d", code)
	}
	code, body := get(t, th.url+"/metrics", th.AdminToken())
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`bikfed_sync_batches_total{direction="push",result="ok"} 1`,
		`bikfed_sync_batches_total{direction="push",result="partial"} 1`,
		`bikfed_sync_batches_total{direction="push",result="rejected"} 1`,
		`bikfed_changes_applied_total 2`,
		`bikfed_changes_refused_total{code="invalid_field",direction="push"} 1`,
		`bikfed_changes_refused_total{code="bad_signature",direction="push"} 0`,
		`bikfed_feed_request_seconds_count 1`,
		`bikfed_node_pull_lag{node="be"} 2`,
		`bikfed_node_push_lag{node="be"} 0`,
		`bikfed_gossip_members{state="alive"} 0`,
		`bikfed_blob_bytes_total{direction="in"} 0`,
		`bikfed_hub_seq 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	th.CountBlobBytes(BlobOut, 1234)
	if _, body := get(t, th.url+"/metrics", th.AdminToken()); !strings.Contains(string(body), `bikfed_blob_bytes_total{direction="out"} 1234`) {
		t.Error("CountBlobBytes not reflected")
	}

	// Served by Run: ready until shutdown begins.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Run(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	eventually(t, 5*time.Second, func() bool {
		code, _ := get(t, base+"/readyz", "")
		return code == 200
	}, "readyz 200 while serving")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if th.ops.serving.Load() {
		t.Error("still reported serving after Run returned")
	}
}

func TestHub_GossipLiveness(t *testing.T) {
	gcfg := func(name string) gossip.Config {
		c := gossip.DefaultConfig()
		c.Name = name
		c.BindAddr, c.BindPort = "127.0.0.1", 0
		c.Insecure = true
		c.ClusterLabel = "bikfed-test"
		c.Profile = gossip.ProfileLocal
		c.GossipInterval = 20 * time.Millisecond
		c.ProbeInterval, c.ProbeTimeout = 100*time.Millisecond, 50*time.Millisecond
		c.RejoinInterval = 200 * time.Millisecond
		return c
	}
	th := mustOpenHub(t, func(c *Config) {
		c.Gossip.Enabled = true
		c.Gossip.Config = gcfg("")
		c.LagSampleInterval = 50 * time.Millisecond
	})
	be := th.enrolNode(t, "be")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Run(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	var hubAddr string
	eventually(t, 5*time.Second, func() bool {
		for _, m := range th.GossipMembers() {
			if m.Name == "hub" {
				hubAddr = m.Addr
				return m.API == "http://"+ln.Addr().String() && m.Role == gossip.RoleHub
			}
		}
		return false
	}, "hub member with its API address")

	// A node announces an outbox head past what it has pushed.
	cfg := gcfg("be")
	cfg.Join = []string{hubAddr}
	member, err := gossip.Open(cfg, gossip.Meta{ID: "be", Role: gossip.RoleNode, Epoch: be.epoch, Seq: 3, Protocol: protocol.Version})
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	eventually(t, 5*time.Second, func() bool {
		st, err := th.NetworkStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := nodeStatus(t, st, "be")
		return n.Live == "alive" && n.LiveSource == "gossip" && n.AnnouncedSeq == 3 && n.PushLag == 3 && n.Version == protocol.Version
	}, "be alive from gossip, with push lag 3")

	// The hub's hub_seq reaches the members after a push.
	be.mustPush(t, be.sign(t, be.resource(t, "Hinted", protocol.VisibilityPublic)))
	eventually(t, 5*time.Second, func() bool {
		for _, m := range member.Members() {
			if m.Name == "hub" {
				return m.Seq == th.HubSeq() && m.Seq > 0
			}
		}
		return false
	}, "hub_seq announced to the node")

	// The lag sampler records while serving.
	eventually(t, 5*time.Second, func() bool {
		series, err := th.lagHistorySince(context.Background(), time.Now().Add(-time.Hour))
		return err == nil && len(series) == 1 && len(series[0].Samples) >= 2
	}, "lag samples")

	member.Close()
	eventually(t, 5*time.Second, func() bool {
		st, _ := th.NetworkStatus(context.Background())
		return nodeStatus(t, st, "be").Live == "left"
	}, "be left")
}

func TestLagChartSVG(t *testing.T) {
	end := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) time.Time { return end.Add(-ago) }
	series := []lagSeries{
		{Node: "be", Samples: []lagSample{
			{Node: "be", At: at(23 * time.Hour), PullLagSeconds: 2},
			{Node: "be", At: at(23*time.Hour - 5*time.Minute), PullLagSeconds: 90},
			{Node: "be", At: at(23*time.Hour - 6*time.Minute), PullLagSeconds: 1}, // same bin: the worst is kept
			{Node: "be", At: at(23*time.Hour - 10*time.Minute), PullLagSeconds: 3},
			// The hub was down for hours: the line breaks.
			{Node: "be", At: at(2 * time.Hour), PullLagSeconds: 4},
			{Node: "be", At: at(2*time.Hour - 5*time.Minute), PullLagSeconds: 0},
		}},
		{Node: "fi", Samples: []lagSample{{Node: "fi", At: at(time.Minute), PullLagSeconds: 30}}},
		{Node: "old", Samples: []lagSample{{Node: "old", At: at(25 * time.Hour), PullLagSeconds: 1e6}}},
	}
	svg := string(lagChartSVG(series, end, time.Minute, DefaultChartLabels()))
	for _, want := range []string{`role="img"`, `aria-labelledby="lag-title lag-desc"`, `<title>be</title>`, `<title>fi</title>`, "−24h", "now", `stroke-dasharray="8 4"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2 (be's line broken by the outage)", n)
	}
	if !strings.Contains(svg, "<circle") {
		t.Error("a lone sample is not drawn")
	}
	// Samples outside the 24 hours do not set the scale.
	if !strings.Contains(svg, ">100 s</text>") {
		t.Error("the scale does not top out at 100 s")
	}
	empty := string(lagChartSVG(nil, end, time.Minute, DefaultChartLabels()))
	if !strings.Contains(empty, "No lag samples yet") {
		t.Error("empty chart has no text")
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct {
		in        float64
		top, step float64
	}{
		{0, 1, 0.25},
		{0.4, 1, 0.25},
		{7, 8, 2},
		{42, 50, 10},
		{90, 100, 20},
		{290, 360, 120},
		{3000, 3600, 1800},
		{80000, 86400, 21600},
	}
	for _, tt := range tests {
		top, step := niceScale(tt.in)
		if top != tt.top || step != tt.step || top < tt.in {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.in, top, step, tt.top, tt.step)
		}
	}
	for in, want := range map[float64]string{0: "0 s", 0.25: "0.25 s", 45: "45 s", 600: "10 min", 5400: "90 min", 12600: "3.5 h"} {
		if got := fmtSeconds(in); got != want {
			t.Errorf("fmtSeconds(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestHub_LagPruning(t *testing.T) {
	th := mustOpenHub(t)
	th.enrolNode(t, "be")
	ctx := context.Background()
	old := toMillis(th.now().Add(-26 * time.Hour))
	if _, err := th.db.Writer().ExecContext(ctx, `INSERT INTO lag_samples VALUES ('be', ?, 1, 1, 0)`, old); err != nil {
		t.Fatal(err)
	}
	if err := th.recordLag(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := th.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM lag_samples`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d samples after pruning, want only the new one", n)
	}
}

func TestGossipConfig_validate(t *testing.T) {
	c := DefaultConfig()
	c.DataDir = t.TempDir()
	c.Gossip.Enabled = true
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "Gossip.Keys:") || !strings.Contains(err.Error(), "Gossip.AdvertiseAddr:") {
		t.Fatalf("enabled gossip without keys or advertise address: %v", err)
	}
	c.Gossip.Enabled = false
	if err := c.Validate(); err != nil {
		t.Fatalf("disabled gossip is not checked: %v", err)
	}
}
