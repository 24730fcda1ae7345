package node

import (
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// TestPull_Volume pulls many ~1 KB entities. It runs 3,000 by default; set
// BIKFED_PULL_N=100000 to measure the brief's target (well under 30 s on 2 cores).
func TestPull_Volume(t *testing.T) {
	total := 3000
	if v := os.Getenv("BIKFED_PULL_N"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	owners := []string{"fi", "se", "nl", "pt"}
	keys := map[string]protocol.Key{}
	for _, o := range owners {
		keys[o] = hub.remoteKey(t, o)
	}
	desc := strings.Repeat("Practical advice for parents about privacy settings. ", 13)
	signed := make([]protocol.Signed, total)
	changes := make([]*protocol.Change, total)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				o := owners[i%len(owners)]
				body, _ := json.Marshal(protocol.Resource{Title: "Resource " + strconv.Itoa(i), Description: desc, Language: "en",
					Languages: []string{"en"}, AgeMin: 6, AgeMax: 16, Audiences: []string{"parents"}, Topics: []string{"privacy"}, Type: "guide"})
				c := &protocol.Change{Protocol: protocol.Version, Kind: protocol.KindResource, Owner: o, Version: 1, Seq: int64(i + 1),
					UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: body}
				c.ID, _ = protocol.NewEntityID(o, time.Now())
				s, err := keys[o].Sign(c)
				if err != nil {
					t.Error(err)
					return
				}
				signed[i], changes[i] = s, c
			}
		})
	}
	wg.Wait()
	for i := range signed {
		hub.inject(changes[i], signed[i])
	}
	t.Logf("change size %d bytes", len(signed[0].Change))

	start, cpu0 := time.Now(), cpuTime()
	var pages int
	if err := n.SyncOnce(t.Context(), func(done, total int64) { pages++ }); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	// CPU time, unlike wall time, does not depend on what else the machine runs;
	// it includes the fake hub's share.
	t.Logf("pulled %d entities in %d pages in %s (%.0f/s), %s CPU", total, pages, elapsed, float64(total)/elapsed.Seconds(), cpuTime()-cpu0)
	s := mustStatus(t, n)
	if s.Entities != int64(total) || s.PullCursor != int64(total) {
		t.Fatalf("entities %d cursor %d, want %d", s.Entities, s.PullCursor, total)
	}
	start = time.Now()
	rep, err := n.Verify(t.Context())
	if err != nil || !rep.Equal {
		t.Fatalf("Verify = %+v, %v", rep.Owners, err)
	}
	t.Logf("verify in %s; status in ...", time.Since(start))
	start = time.Now()
	mustStatus(t, n)
	t.Logf("status in %s", time.Since(start))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestImport_Volume imports many resources; BIKFED_IMPORT_N=20000 measures the
// brief's target (seconds, not minutes).
func TestImport_Volume(t *testing.T) {
	total := 2000
	if v := os.Getenv("BIKFED_IMPORT_N"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	var b strings.Builder
	for i := range total {
		line, _ := json.Marshal(resourceDraft("Imported resource " + strconv.Itoa(i)))
		b.Write(line)
		b.WriteByte('\n')
	}
	start := time.Now()
	res, err := n.Import(t.Context(), strings.NewReader(b.String()))
	if err != nil || res.Created != total {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	t.Logf("imported %d in %s", total, time.Since(start))
	start = time.Now()
	if err := n.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %d in %s", total, time.Since(start))
}
