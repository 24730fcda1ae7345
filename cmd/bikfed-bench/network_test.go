package main

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

func TestOpStats_Summary(t *testing.T) {
	s := newOpStats()
	for i := 1; i <= 100; i++ {
		s.add("push", time.Duration(i)*time.Millisecond, nil)
	}
	s.add("push", time.Second, errors.New("hub answered 503"))
	s.add("push", time.Second, errors.New("second"))
	got := s.summary("push")
	if got.n != 100 || got.errors != 2 || got.firstErr != "hub answered 503" {
		t.Errorf("n %d, errors %d, first %q", got.n, got.errors, got.firstErr)
	}
	// Failed requests are counted, not timed.
	if got.p50 != 51*time.Millisecond || got.p99 != 100*time.Millisecond || got.max != 100*time.Millisecond {
		t.Errorf("p50 %s p99 %s max %s", got.p50, got.p99, got.max)
	}
	if none := s.summary("pull"); none.n != 0 || none.p99 != 0 {
		t.Errorf("an operation never run: %+v", none)
	}
}

func TestPick(t *testing.T) {
	mix := []publicTarget{{Kind: "a", Weight: 1}, {Kind: "b", Weight: 3}, {Kind: "c", Weight: 6}}
	tests := []struct {
		u    int
		want string
	}{{0, "a"}, {1, "b"}, {3, "b"}, {4, "c"}, {9, "c"}}
	for _, tt := range tests {
		if got := pick(mix, tt.u).Kind; got != tt.want {
			t.Errorf("pick(%d) = %s, want %s", tt.u, got, tt.want)
		}
	}
	if totalWeight(mix) != 10 {
		t.Errorf("total weight %d", totalWeight(mix))
	}
}

func TestCaddyfile(t *testing.T) {
	got := caddyfile("127.0.0.1:9000", []string{"127.0.0.1:9001", "127.0.0.1:9002"})
	for _, want := range []string{
		"admin off", "http://127.0.0.1:9000 {", "bind 127.0.0.1",
		"reverse_proxy 127.0.0.1:9001 127.0.0.1:9002 {", "lb_policy round_robin", "health_uri /healthz",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

func TestLagWatch(t *testing.T) {
	w := newLagWatch()
	for _, body := range []string{
		`{"mirrors":[{"name":"eu1","cursor":120,"hub_seq":130,"lag":10,"live":true},{"name":"eu2","cursor":90,"hub_seq":130,"lag":40,"live":true}]}`,
		`{"mirrors":[{"name":"eu1","cursor":150,"hub_seq":150,"lag":0,"live":true},{"name":"eu2","cursor":148,"hub_seq":150,"lag":2,"live":false}]}`,
	} {
		ms, err := parseMirrors([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		w.record(ms)
	}
	if w.max["eu1"] != 10 || w.last["eu1"] != 0 || w.max["eu2"] != 40 || w.last["eu2"] != 2 || w.live["eu2"] || w.samples != 2 {
		t.Errorf("max %v, last %v, live %v, samples %d", w.max, w.last, w.live, w.samples)
	}
	if _, err := parseMirrors([]byte("<html>")); err == nil {
		t.Error("a page that is not JSON was read as mirrors")
	}
}

func TestSimNode_Batch(t *testing.T) {
	key, err := protocol.GenerateKey("sim001")
	if err != nil {
		t.Fatal(err)
	}
	n := &simNode{id: "sim001", key: key, drafts: sampledata.Synthetic("sim001", 8, 1), rng: rand.New(rand.NewPCG(1, 2))}
	now := time.Now()
	for round := range 50 {
		changes, owned, err := n.batch(3, now)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, s := range changes {
			c, err := protocol.ParseChange(s.Change)
			if err != nil {
				t.Fatal(err)
			}
			if !protocol.VerifySignature(key.Public(), s.Change, s.Sig) {
				t.Fatalf("round %d: change %d does not verify", round, i)
			}
			if c.Seq != n.seq+int64(i)+1 || c.ID != owned[i].id || c.Version != owned[i].version || c.Visibility != protocol.VisibilityPublic {
				t.Fatalf("round %d: change %d: seq %d id %s version %d %s, want seq %d %+v", round, i, c.Seq, c.ID, c.Version, c.Visibility, n.seq+int64(i)+1, owned[i])
			}
			if seen[c.ID] {
				t.Fatalf("round %d: two versions of %s in one push", round, c.ID)
			}
			seen[c.ID] = true
			// An update is the next version of what the node published.
			for _, o := range n.owned {
				if o.id == c.ID && c.Version != o.version+1 {
					t.Fatalf("round %d: %s version %d after %d", round, c.ID, c.Version, o.version)
				}
			}
		}
		n.commit(owned)
	}
	if n.seq != 150 {
		t.Errorf("seq %d after 50 pushes of 3", n.seq)
	}
	updates := 150 - len(n.owned)
	if updates < 25 || updates > 75 {
		t.Errorf("%d of 150 changes were updates, want about a third", updates)
	}
}

func TestProcFigures(t *testing.T) {
	// Burn some CPU so the process has a tick of it to read.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	if ticks := cpuTicks(os.Getpid()); ticks < 1 {
		t.Errorf("cpuTicks of this process: %d", ticks)
	}
	if kb := peakKB(os.Getpid()); kb < 1024 {
		t.Errorf("peakKB of this process: %d", kb)
	}
	if cpuTicks(-1) != 0 || peakKB(-1) != 0 {
		t.Error("a process that does not exist has figures")
	}
	if got := cores(3*time.Second, 2*time.Second); got != 1.5 {
		t.Errorf("cores: %v", got)
	}
}

func TestCheckMix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/entities") {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	mix := []publicTarget{
		{Kind: "home", Weight: 1, Paths: []string{"/", "/fr/"}},
		{Kind: "api", Weight: 1, Paths: []string{"/api/v1/entities", "/api/v1/resources"}},
		{Kind: "entities", Weight: 1, Paths: []string{"/api/v1/entities?limit=5"}},
	}
	kept, missing, err := checkMix(t.Context(), srv.URL, mix)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 2 || len(kept[0].Paths) != 2 || len(kept[1].Paths) != 1 || kept[1].Paths[0] != "/api/v1/resources" {
		t.Errorf("kept %+v", kept)
	}
	if len(missing) != 2 || !strings.Contains(missing[0], "404") {
		t.Errorf("missing %v", missing)
	}
	// The mix given is left as it was: the next phase checks it again.
	if len(mix[1].Paths) != 2 {
		t.Errorf("the mix was changed: %+v", mix)
	}
}

func TestParseLimited(t *testing.T) {
	page := "# HELP bikfed_http_limited_total Requests and connections turned away.\n" +
		"# TYPE bikfed_http_limited_total counter\n" +
		"bikfed_http_limited_total{reason=\"conn_evicted\"} 3\n" +
		"bikfed_http_limited_total{reason=\"rate\"} 0\n" +
		"bikfed_changes_applied_total 120\n"
	got := parseLimited(page)
	if len(got) != 2 || got["conn_evicted"] != 3 || got["rate"] != 0 {
		t.Errorf("got %v", got)
	}
}
