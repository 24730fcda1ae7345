package hub

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
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

func TestHub_StatusPage(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.PublicURL = "https://hub.example.org" })
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.sign(t, be.resource(t, "Cyberbullying: a guide for parents", protocol.VisibilityPublic)))
	// One refused record, to be listed with its reason.
	stale := be.resource(t, "Stale", protocol.VisibilityPublic)
	stale.Version = 0
	be.mustPush(t, be.sign(t, stale))
	th.enrolNode(t, "fi")

	c := noRedirect()
	t.Run("sign-in required", func(t *testing.T) {
		resp, err := c.Get(th.url + "/status")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/status/signin" {
			t.Fatalf("GET /status signed out: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		code, body := get(t, th.url+"/status/signin", "")
		if code != 200 || !strings.Contains(string(body), `type="password"`) || !strings.Contains(string(body), `<label for="token">`) {
			t.Fatalf("sign-in form: %d\n%s", code, body)
		}
	})

	var session *http.Cookie
	t.Run("sign in", func(t *testing.T) {
		resp, err := c.PostForm(th.url+"/status/signin", url.Values{"token": {"wrong-token-wrong-token"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `role="alert"`) || len(resp.Cookies()) != 0 {
			t.Fatalf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
		}
		resp, err = c.PostForm(th.url+"/status/signin", url.Values{"token": {th.AdminToken()}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/status" {
			t.Fatalf("sign in: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				session = ck
			}
		}
		if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode || session.Path != "/status" {
			t.Fatalf("session cookie: %+v", session)
		}
	})

	page := func(cookie *http.Cookie, bearer string) (int, string) {
		req, _ := http.NewRequest("GET", th.url+"/status", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("page", func(t *testing.T) {
		ctx := context.Background()
		if err := th.recordLag(ctx); err != nil {
			t.Fatal(err)
		}
		// be pushed a moment ago: alive by its last HTTP contact.
		if code, body := page(session, ""); code != 200 || !regexp.MustCompile(`(?s)id="node-be">.*?data-live="alive"`).MatchString(body) {
			t.Fatalf("status page: %d, be not shown alive\n%s", code, body)
		}
		th.clock.Advance(6 * time.Minute) // past LivenessWindow, into the chart's next 5-minute bin
		if err := th.recordLag(ctx); err != nil {
			t.Fatal(err)
		}
		code, body := page(session, "")
		if code != 200 {
			t.Fatalf("status page: %d\n%s", code, body)
		}
		for _, want := range []string{
			`<tr id="node-be">`, `data-live="silent"`, "last contact",
			`<tr id="node-fi">`, `data-live="never"`,
			"Gossip is off",
			`<svg`, `<title id="lag-title">`, `<desc id="lag-desc">`, `<polyline`, "Lag over the last 24 hours, as text",
			`Refused records from be`, `invalid_field`,
			`<form class="inline" method="post" action="/status/signout">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("status page lacks %q", want)
			}
		}
	})

	t.Run("bearer token also works", func(t *testing.T) {
		if code, _ := page(nil, th.AdminToken()); code != 200 {
			t.Errorf("status page with the operator token: %d", code)
		}
		if code, _ := page(nil, be.cred); code != http.StatusSeeOther {
			t.Errorf("status page with a node credential: %d, want a redirect to sign in", code)
		}
	})

	t.Run("tampered or expired sessions are refused", func(t *testing.T) {
		forged := &http.Cookie{Name: sessionCookie, Value: session.Value[1:] + "A"}
		if code, _ := page(forged, ""); code != http.StatusSeeOther {
			t.Errorf("forged session accepted: %d", code)
		}
		th.clock.Advance(sessionTTL + time.Minute)
		if code, _ := page(session, ""); code != http.StatusSeeOther {
			t.Errorf("expired session accepted: %d", code)
		}
	})

	t.Run("sign out ends the session", func(t *testing.T) {
		resp, err := c.PostForm(th.url+"/status/signin", url.Values{"token": {th.AdminToken()}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var fresh *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				fresh = ck
			}
		}
		if fresh == nil {
			t.Fatal("no session cookie")
		}
		if code, _ := page(fresh, ""); code != http.StatusOK {
			t.Fatalf("signed in: %d", code)
		}
		req, _ := http.NewRequest("POST", th.url+"/status/signout", nil)
		req.AddCookie(fresh)
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var cleared bool
		for _, ck := range resp.Cookies() {
			cleared = cleared || (ck.Name == sessionCookie && ck.MaxAge < 0)
		}
		if resp.StatusCode != http.StatusSeeOther || !cleared {
			t.Errorf("sign out: %s, cookies %v", resp.Status, resp.Cookies())
		}
		// A copy of the cookie kept from before the sign-out is refused.
		if code, _ := page(fresh, ""); code != http.StatusSeeOther {
			t.Errorf("the session after sign-out: %d, want a redirect to sign in", code)
		}
	})
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
	svg := string(lagChartSVG(series, end, time.Minute))
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
	empty := string(lagChartSVG(nil, end, time.Minute))
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
