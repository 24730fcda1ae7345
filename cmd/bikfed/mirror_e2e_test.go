package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/internal/caddytest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// testMirror is a mirror process of a test network.
type testMirror struct {
	name string
	dir  string
	addr string
	URL  string
	proc *proc
}

// addMirror registers, enrols and starts a mirror; extra flags go to its
// serve command.
func (nw *network) addMirror(name string, extra ...string) *testMirror {
	nw.t.Helper()
	tok := strings.TrimSpace(mustCLI(nw.t, nil, "hub", "register-mirror", name, "--data", nw.hubDir))
	if !strings.HasPrefix(tok, protocol.MirrorPrefix+name+".") {
		nw.t.Fatalf("register-mirror printed %q", tok)
	}
	m := &testMirror{name: name, dir: filepath.Join(nw.dir, "mirror-"+name), addr: freeAddr(nw.t)}
	m.URL = "http://" + m.addr
	out := mustCLI(nw.t, nil, "mirror", "init", "--data", m.dir, "--hub", nw.hubURL, "--token", tok)
	if !strings.Contains(out, "mirror "+name+" enrolled") {
		nw.t.Fatalf("mirror init printed %q", out)
	}
	nw.startMirror(m, extra...)
	return m
}

// startMirror starts (or restarts) a mirror's process; ready waits for its
// health check to pass.
func (nw *network) startMirror(m *testMirror, extra ...string) {
	nw.t.Helper()
	args := append([]string{"mirror", "serve", "--data", m.dir, "--listen", m.addr, "--long-poll", "5s"}, extra...)
	m.proc = startProc(nw.t, "mirror-"+m.name, nw.dir, args...)
}

// ready waits until the mirror says it has caught up with the hub.
func (m *testMirror) ready(t testing.TB) {
	t.Helper()
	waitFor(t, 60*time.Second, "mirror "+m.name+" to catch up", func() error {
		resp, err := http.Get(m.URL + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz: %s", resp.Status)
		}
		return nil
	})
}

// portalHost is the host name visitors use: behind the load balancer
// every mirror sees the same one.
const portalHost = "portal.bikfed.test"

// getPage fetches url as a visitor of portalHost would, and returns status,
// ETag and body.
func getPage(t testing.TB, url string) (int, string, []byte) {
	t.Helper()
	return getPageIf(t, url, "")
}

// getPageIf is getPage with If-None-Match etag, when not empty.
func getPageIf(t testing.TB, url, etag string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = portalHost
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("ETag"), b
}

// resourceIDs lists the ids the portal's JSON search API gives at base.
func resourceIDs(t testing.TB, base string) []string {
	t.Helper()
	status, _, body := getPage(t, base+"/api/v1/resources?per_page=100")
	if status != http.StatusOK {
		t.Fatalf("%s/api/v1/resources: %d %s", base, status, body)
	}
	var res struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("%s/api/v1/resources: %v", base, err)
	}
	var ids []string
	for _, r := range res.Resources {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// mirrorStatus reads the hub's view of its mirrors.
func (nw *network) mirrors() ([]map[string]any, error) {
	req, _ := http.NewRequest("GET", nw.hubURL+"/admin/v1/mirrors", nil)
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Mirrors []map[string]any `json:"mirrors"`
	}
	return out.Mirrors, json.NewDecoder(resp.Body).Decode(&out)
}

// filesContain reports the files under dir that contain marker.
func filesContain(t testing.TB, dir, marker string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(atrest.Reveal(b), []byte(marker)) {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestE2E_Mirrors: two mirrors of a hub with two nodes. They serve the same
// resources as the hub with the same ETags; the community posts of both
// nodes never reach them, not even their files; a public attachment is
// served by both; an erasure leaves both, which acknowledge it, and the hub
// shows it complete with the mirrors among its holders. A resource made
// community leaves the mirrors too.
func TestE2E_Mirrors(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	ids := map[string]string{}
	for _, n := range []*testNode{be, fi} {
		drafts, err := sampledata.Drafts(n.id)
		if err != nil {
			t.Fatal(err)
		}
		importRecords(t, n, drafts, ids)
		importDrafts(t, n, []sampledata.Draft{communityPost(n.id)})
	}
	erased, sha := createWithAttachment(t, be, "Consent forms for school trips")
	nw.startNode(be)
	nw.startNode(fi)
	waitFor(t, 90*time.Second, "convergence", func() error { return verifyAll(nw) })

	m1 := nw.addMirror("eu1")
	m2 := nw.addMirror("eu2")
	m1.ready(t)
	m2.ready(t)

	var hubIDs []string
	waitFor(t, 60*time.Second, "the hub's portal to index", func() error {
		if hubIDs = resourceIDs(t, nw.hubURL); len(hubIDs) < 5 || !slices.Contains(hubIDs, erased) {
			_, _, b := getPage(t, nw.hubURL+"/api/v1/resources?per_page=100")
			return fmt.Errorf("the hub's portal lists %d resources: %v %.300s", len(hubIDs), hubIDs, b)
		}
		return nil
	})
	for _, m := range []*testMirror{m1, m2} {
		waitFor(t, 30*time.Second, m.name+" to list the hub's resources", func() error {
			if got := resourceIDs(t, m.URL); !slices.Equal(got, hubIDs) {
				return fmt.Errorf("%s lists %v, the hub %v", m.name, got, hubIDs)
			}
			return nil
		})
	}

	// The same content has the same ETag on every mirror, so a visitor's
	// conditional request is answered 304 by whichever it reaches.
	for _, page := range []string{"/", "/resources", "/resources/" + erased, "/feed.atom", "/sitemap.xml", "/api/v1/resources"} {
		s1, tag1, body1 := getPage(t, m1.URL+page)
		s2, tag2, body2 := getPage(t, m2.URL+page)
		if s1 != http.StatusOK || s2 != http.StatusOK || tag1 == "" || tag1 != tag2 {
			t.Errorf("%s: eu1 %d %q, eu2 %d %q", page, s1, tag1, s2, tag2)
		}
		if !bytes.Equal(body1, body2) {
			t.Errorf("%s: the mirrors serve different bodies", page)
		}
		// The hub's own portal indexed the same selection: the same page.
		if s, tag, body := getPage(t, nw.hubURL+page); s != http.StatusOK || tag != tag1 || !bytes.Equal(body, body1) {
			t.Errorf("%s: the hub answers %d %q, the mirrors %q (same body: %v)", page, s, tag, tag1, bytes.Equal(body, body1))
		}
		if status, _, _ := getPageIf(t, m2.URL+page, tag1); status != http.StatusNotModified {
			t.Errorf("%s: eu2 answers eu1's ETag with %d, want 304", page, status)
		}
	}

	// Behind the load balancer, visitors see the hub's resources.
	lb := caddytest.Start(t, []string{m1.addr, m2.addr})
	waitFor(t, 30*time.Second, "the load balancer to list the hub's resources", func() error {
		if got := resourceIDs(t, lb.URL); !slices.Equal(got, hubIDs) {
			return fmt.Errorf("through the load balancer %v, the hub %v", got, hubIDs)
		}
		return nil
	})

	// Closed-loop public load through the load balancer while eu1 is
	// killed, misses a new resource, and comes back.
	load := startPublicLoad(t, lb.URL, 4, []string{"/", "/resources", "/resources/" + erased, "/feed.atom", "/api/v1/resources"})
	time.Sleep(time.Second)
	inFlight := load.inFlight.Load()
	m1.proc.kill()
	dir := t.TempDir()
	out := mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Safer Internet Day quiz"), "--data", be.dir)
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "eu2 to show the new resource", func() error {
		if status, _, _ := getPage(t, m2.URL+"/resources/"+created.ID); status != http.StatusOK {
			return fmt.Errorf("eu2: %d", status)
		}
		return nil
	})
	nw.startMirror(m1)
	m1.ready(t)
	waitFor(t, 30*time.Second, "eu1 to catch up", func() error {
		if status, _, _ := getPage(t, m1.URL+"/resources/"+created.ID); status != http.StatusOK {
			return fmt.Errorf("eu1: %d", status)
		}
		return nil
	})
	time.Sleep(time.Second) // traffic to both again
	ok, failed := load.stop()
	t.Logf("public load through the load balancer: %d answered, %d failed, %d in flight at the kill", ok, failed, inFlight)
	if failed > inFlight {
		t.Errorf("%d requests failed; at most the %d in flight at the kill may", failed, inFlight)
	}
	if ok < 100 {
		t.Errorf("only %d requests answered under load", ok)
	}

	// The public attachment, fetched from the hub once and then cached.
	fileURL := "/files/" + sha + "/consent-form.txt"
	for _, m := range []*testMirror{m1, m2} {
		status, _, body := getPage(t, m.URL+fileURL)
		if status != http.StatusOK || !strings.Contains(string(body), "Consent form of a pupil") {
			t.Fatalf("%s%s: %d %q", m.name, fileURL, status, body)
		}
	}

	// No community content anywhere on a mirror: not in a page, not in a
	// file of its data directory.
	for _, n := range []*testNode{be, fi} {
		marker := "Sextortion contacts rising after the holidays (" + n.id + ")"
		for _, m := range []*testMirror{m1, m2} {
			if hits := filesContain(t, m.dir, marker); len(hits) > 0 {
				t.Errorf("%s holds community content of %s in %v", m.name, n.id, hits)
			}
		}
	}

	// Lag and liveness at the hub.
	waitFor(t, 30*time.Second, "both mirrors live with no lag", func() error {
		ms, err := nw.mirrors()
		if err != nil {
			return err
		}
		if len(ms) != 2 {
			return fmt.Errorf("%d mirrors", len(ms))
		}
		for _, m := range ms {
			if m["live"] != true || m["lag"].(float64) != 0 {
				return fmt.Errorf("mirror %v", m)
			}
		}
		return nil
	})

	// An erasure reaches both mirrors, which purge and acknowledge it.
	mustCLI(t, nil, "node", "delete", erased, "--erase", "--data", be.dir)
	for _, m := range []*testMirror{m1, m2} {
		waitFor(t, 60*time.Second, "the erased resource to leave "+m.name, func() error {
			if status, _, _ := getPage(t, m.URL+"/resources/"+erased); status != http.StatusNotFound {
				return fmt.Errorf("/resources/%s: %d", erased, status)
			}
			if status, _, _ := getPage(t, m.URL+fileURL); status != http.StatusNotFound {
				return fmt.Errorf("%s: %d", fileURL, status)
			}
			return nil
		})
	}
	waitFor(t, 60*time.Second, "the erasure complete with the mirrors as holders", func() error {
		e, err := erasureStatus(nw, erased)
		if err != nil {
			return err
		}
		if !e.Complete {
			return fmt.Errorf("erasure pending at %v", e.Pending)
		}
		return nil
	})
	if status, _, _ := getPage(t, lb.URL+"/resources/"+erased); status != http.StatusNotFound {
		t.Errorf("the load balancer still serves the erased resource: %d", status)
	}
	holders := erasureHolders(t, nw, erased)
	for _, want := range []string{"mirror:eu1", "mirror:eu2"} {
		if !slices.Contains(holders, want) {
			t.Errorf("erasure holders %v lack %s", holders, want)
		}
	}
	for _, m := range []*testMirror{m1, m2} {
		if hits := filesContain(t, m.dir, "Consent forms for school trips"); len(hits) > 0 {
			t.Errorf("%s still holds the erased resource in %v", m.name, hits)
		}
	}
}

// erasureHolders lists the holders the hub recorded for the erasure of id.
func erasureHolders(t *testing.T, nw *network, id string) []string {
	t.Helper()
	body, _ := json.Marshal(protocol.ErasureStatusRequest{IDs: []string{id}})
	req, _ := http.NewRequest("POST", nw.hubURL+protocol.PathErasureStatus, bytes.NewReader(body))
	owner, _ := protocol.SplitEntityID(id)
	req.Header.Set("Authorization", "Bearer "+nodeCredential(t, nw.nodes[owner]))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res protocol.ErasureStatusResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || len(res.Erasures) != 1 {
		t.Fatalf("erasure status of %s: %v %+v", id, err, res)
	}
	var out []string
	for _, h := range res.Erasures[0].Holders {
		out = append(out, h.Node)
	}
	return out
}

// publicLoad is closed-loop traffic: each worker asks for the next page as
// soon as the last one is answered.
type publicLoad struct {
	inFlight   atomic.Int64
	ok, failed atomic.Int64
	stopped    atomic.Bool
	wg         sync.WaitGroup
}

func startPublicLoad(t testing.TB, base string, workers int, pages []string) *publicLoad {
	l := &publicLoad{}
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		l.wg.Go(func() {
			for i := w; !l.stopped.Load(); i++ {
				req, _ := http.NewRequest("GET", base+pages[i%len(pages)], nil)
				req.Host = portalHost
				l.inFlight.Add(1)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l.inFlight.Add(-1)
				if err != nil || resp.StatusCode != http.StatusOK {
					l.failed.Add(1)
					if err == nil {
						err = fmt.Errorf("%s", resp.Status)
					}
					t.Logf("public request %s failed: %v", pages[i%len(pages)], err)
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	t.Cleanup(func() { l.stop() })
	return l
}

// stop ends the load and returns how many requests were answered and how
// many failed.
func (l *publicLoad) stop() (ok, failed int64) {
	l.stopped.Store(true)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}
