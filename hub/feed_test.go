package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestHub_ChangesLongPoll(t *testing.T) {
	th := mustOpenHub(t)
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	be.mustPush(t, be.sign(t, be.resource(t, "first", protocol.VisibilityPublic)))

	type result struct {
		f   *protocol.Feed
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		f, err := fi.client.Changes(context.Background(), 1, 0, 20*time.Second)
		done <- result{f, err, time.Since(start)}
	}()
	// The poll is parked once it has recorded its cursor.
	eventually(t, 5*time.Second, func() bool {
		th.mu.Lock()
		defer th.mu.Unlock()
		return th.nodes["fi"].pullCursor == 1
	}, "long-poll registered")
	s := be.sign(t, be.resource(t, "second", protocol.VisibilityPublic))
	be.mustPush(t, s)
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.f.Changes) != 1 || !bytes.Equal(r.f.Changes[0].Change, s.Change) || r.f.Next != 2 {
			t.Fatalf("woken feed = %+v", r.f)
		}
		if r.d > 10*time.Second {
			t.Fatalf("long-poll took %s", r.d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long-poll not woken by the push")
	}

	t.Run("times out empty", func(t *testing.T) {
		start := time.Now()
		f, err := fi.client.Changes(t.Context(), 2, 0, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Changes) != 0 || f.Next != 2 || time.Since(start) < 150*time.Millisecond {
			t.Fatalf("timed-out poll = %+v after %s", f, time.Since(start))
		}
	})
}

func TestHub_ChangesIdleRound(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.sign(t, be.resource(t, "only", protocol.VisibilityPublic)))
	h := th.Handler()
	req := httptest.NewRequest(http.MethodGet, protocol.PathChanges+"?since=1&wait=0", nil)
	req.Header.Set("Authorization", "Bearer "+be.cred)
	req.Header.Set("Accept-Encoding", "gzip")
	const rounds = 200
	start := time.Now()
	var size int
	for range rounds {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("idle round: %d %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
		for k, v := range rec.Header() {
			size += len(k) + len(v[0]) + 4
		}
	}
	per := time.Since(start) / rounds
	if per > 5*time.Millisecond || size > 2048 {
		t.Fatalf("idle round costs %s and %d bytes", per, size)
	}
	t.Logf("idle round: %s, %d bytes", per, size)
}

func TestHub_ChangesGzip(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	s := be.sign(t, be.resource(t, "zipped", protocol.VisibilityPublic))
	be.mustPush(t, s)
	req, _ := http.NewRequest(http.MethodGet, th.url+protocol.PathChanges+"?since=0", nil)
	req.Header.Set("Authorization", "Bearer "+th.AdminToken())
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	var f protocol.Feed
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if len(f.Changes) != 1 || !bytes.Equal(f.Changes[0].Change, s.Change) || f.You != nil {
		t.Fatalf("operator feed = %+v", f)
	}
}

func TestHub_ManifestOrderings(t *testing.T) {
	// The same changes reaching two hubs in different orders give the same
	// digests, though every hub_seq differs.
	a, b := mustOpenHub(t), mustOpenHub(t)
	beKey, fiKey := newKey(t, "be"), newKey(t, "fi")
	beA, fiA := a.enrolWithKey(t, "be", beKey, "e1"), a.enrolWithKey(t, "fi", fiKey, "e1")
	beB, fiB := b.enrolWithKey(t, "be", beKey, "e1"), b.enrolWithKey(t, "fi", fiKey, "e1")

	var beS, fiS []protocol.Signed
	for i := range 4 {
		beS = append(beS, beA.sign(t, beA.resource(t, "be "+itoa(int64(i)), protocol.VisibilityPublic)))
		fiS = append(fiS, fiA.sign(t, fiA.resource(t, "fi "+itoa(int64(i)), protocol.VisibilityCommunity)))
	}
	beB.seq, fiB.seq = beA.seq, fiA.seq
	beA.mustPush(t, beS...)
	fiA.mustPush(t, fiS...)
	fiB.mustPush(t, fiS[:2]...)
	beB.mustPush(t, beS...)
	fiB.mustPush(t, fiS[2:]...)

	ma, err := beA.client.Manifest(t.Context(), "be")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := beB.client.Manifest(t.Context(), "be")
	if err != nil {
		t.Fatal(err)
	}
	if len(ma.Owners) != 2 || len(ma.Entries) != 4 {
		t.Fatalf("manifest = %+v", ma)
	}
	ja, _ := json.Marshal(ma.Owners)
	jb, _ := json.Marshal(mb.Owners)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("digests differ:\n%s\n%s", ja, jb)
	}
	// The digest is what a node computes from its own rows.
	d := protocol.NewDigest()
	for _, e := range ma.Entries {
		var hash [32]byte
		for i, s := range beS {
			if c := mustChange(t, s); c.ID == e.ID {
				hash = beS[i].Hash()
			}
		}
		d.Add(e.ID, e.Version, hash[:])
	}
	if ma.Owners[0].Owner != "be" || ma.Owners[0].Digest != d.Sum() || ma.Owners[0].Count != 4 {
		t.Fatalf("be digest %+v, node computes %s", ma.Owners[0], d.Sum())
	}
}

func mustChange(tb testing.TB, s protocol.Signed) *protocol.Change {
	tb.Helper()
	var c protocol.Change
	if err := json.Unmarshal(s.Change, &c); err != nil {
		tb.Fatal(err)
	}
	return &c
}

func TestParseFeedQuery(t *testing.T) {
	for _, tc := range []struct {
		since, limit, wait string
		ok                 bool
		wantLimit          int
		wantWait           time.Duration
	}{
		{"", "", "", true, protocol.MaxFeedPage, 0},
		{"5", "10", "30s", true, 10, 30 * time.Second},
		{"5", "5000", "2", true, protocol.MaxFeedPage, 2 * time.Second},
		{"-1", "", "", false, 0, 0},
		{"x", "", "", false, 0, 0},
		{"0", "0", "", false, 0, 0},
		{"0", "", "-3s", false, 0, 0},
		{"0", "", "soon", false, 0, 0},
	} {
		_, limit, wait, err := parseFeedQuery(tc.since, tc.limit, tc.wait)
		if (err == nil) != tc.ok || (tc.ok && (limit != tc.wantLimit || wait != tc.wantWait)) {
			t.Errorf("parseFeedQuery(%q,%q,%q) = %d, %s, %v", tc.since, tc.limit, tc.wait, limit, wait, err)
		}
	}
}
