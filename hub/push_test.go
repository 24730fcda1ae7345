package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/bikfed/bikfed/protocol"
)

func TestHub_PushFeedRoundTrip(t *testing.T) {
	th := mustOpenHub(t)
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	ss := be.signAll(t,
		be.resource(t, "Cyberbullying guide", protocol.VisibilityPublic),
		be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "awareness", Format: "thread",
			Title: "SID plans", Text: "Draft plans — ünïcødé ✓", Language: "en", Author: protocol.Author{Name: "ann", SIC: "be"}}),
		be.resource(t, "Privacy tips", protocol.VisibilityPublic),
	)
	res := be.mustPush(t, ss...)
	if res.Applied != 3 || res.Duplicates != 0 || len(res.Refused) != 0 || res.AppliedSeq != 3 || res.HubSeq != 3 {
		t.Fatalf("push result = %+v", res)
	}

	items, next := pullAll(t, fi.client, 0)
	if len(items) != 3 || next != 3 {
		t.Fatalf("feed has %d items, next %d", len(items), next)
	}
	dir, err := fi.client.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		if !bytes.Equal(it.Change, ss[i].Change) || !bytes.Equal(it.Sig, ss[i].Sig) {
			t.Fatalf("item %d is not verbatim:\n got %s\nwant %s", i, it.Change, ss[i].Change)
		}
		if it.HubSeq != int64(i+1) {
			t.Fatalf("item %d hub_seq %d", i, it.HubSeq)
		}
		if _, err := protocol.Verify(it.Signed, dir.Lookup()); err != nil {
			t.Fatalf("item %d does not verify against the key directory: %v", i, err)
		}
	}

	t.Run("re-push is a no-op", func(t *testing.T) {
		again := be.mustPush(t, ss...)
		if again.Applied != 0 || again.Duplicates != 3 || again.AppliedSeq != 3 || again.HubSeq != 3 {
			t.Fatalf("re-push result = %+v", again)
		}
	})

	t.Run("processed records are counted, not verified again", func(t *testing.T) {
		// A re-push after a lost answer: records at or below applied_seq
		// are duplicates whatever they hold (docs/protocol.md §10), so
		// the hub does not spend a signature check on them.
		tampered := slices.Clone(ss)
		tampered[1].Sig = slices.Clone(tampered[1].Sig)
		tampered[1].Sig[0] ^= 0xff
		again := be.mustPush(t, tampered...)
		if again.Applied != 0 || again.Duplicates != 3 || len(again.Refused) != 0 || again.AppliedSeq != 3 {
			t.Fatalf("re-push with a spoilt processed record = %+v", again)
		}
		items, _ := pullAll(t, fi.client, 0)
		if len(items) != 3 || !bytes.Equal(items[1].Sig, ss[1].Sig) {
			t.Fatal("a processed record's re-push changed the stored change")
		}
		var body bytes.Buffer
		if err := protocol.EncodePush(&body, be.header(t, tampered), tampered); err != nil {
			t.Fatal(err)
		}
		b, err := th.readPush(t.Context(), &body, "be")
		if err != nil {
			t.Fatal(err)
		}
		defer th.finish(b.ticket)
		b.wait()
		for _, it := range b.items {
			if it.done != nil || it.dupSeq == 0 {
				t.Fatalf("record on line %d went to verification (dupSeq %d)", it.line, it.dupSeq)
			}
		}
	})

	t.Run("feed paging and you", func(t *testing.T) {
		f, err := be.client.Changes(t.Context(), 0, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Changes) != 2 || !f.More || f.Next != 2 || f.HubSeq != 3 {
			t.Fatalf("page 1 = more %v next %d head %d, %d items", f.More, f.Next, f.HubSeq, len(f.Changes))
		}
		if f.You == nil || f.You.Epoch != "e1" || f.You.AppliedSeq != 3 {
			t.Fatalf("you = %+v", f.You)
		}
		f, err = be.client.Changes(t.Context(), 3, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Changes) != 0 || f.More || f.Next != 3 || f.HubSeq != 3 {
			t.Fatalf("empty page = %+v", f)
		}
	})

	t.Run("a new version moves the entity to the feed's end", func(t *testing.T) {
		var c protocol.Change
		json.Unmarshal(ss[0].Change, &c)
		v2 := be.sign(t, be.next(&c))
		if res := be.mustPush(t, v2); res.Applied != 1 || res.HubSeq != 4 {
			t.Fatalf("push v2 = %+v", res)
		}
		items, _ := pullAll(t, fi.client, 0)
		if len(items) != 3 || !bytes.Equal(items[2].Change, v2.Change) || items[2].HubSeq != 4 {
			t.Fatalf("feed after v2: %d items, last %s", len(items), items[len(items)-1].Change)
		}
	})
}

// TestHub_PushManyRows pushes a batch large enough that apply writes many
// entities per statement, with two versions of the same entities in it, some
// in the same statement: each ends at its last version, once in the feed.
func TestHub_PushManyRows(t *testing.T) {
	th := mustOpenHub(t)
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	var cs []*protocol.Change
	for i := range 150 {
		cs = append(cs, be.resource(t, fmt.Sprintf("Resource %d", i), protocol.VisibilityPublic))
		if i == 5 || i == 40 || i == 100 {
			cs = append(cs, be.next(cs[len(cs)-3])) // v2 of an entity a few rows back
		}
	}
	ss := be.signAll(t, cs...)
	res := be.mustPush(t, ss...)
	if res.Applied != len(ss) || len(res.Refused) != 0 || res.AppliedSeq != int64(len(ss)) || res.HubSeq != int64(len(ss)) {
		t.Fatalf("push result = %+v", res)
	}
	items, _ := pullAll(t, fi.client, 0)
	if len(items) != 150 {
		t.Fatalf("feed has %d items, want one per entity", len(items))
	}
	latest := map[string]protocol.Signed{}
	for i, c := range cs {
		latest[c.ID] = ss[i]
	}
	last := int64(0)
	for _, it := range items {
		c, err := protocol.ParseChange(it.Change)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(it.Change, latest[c.ID].Change) || it.HubSeq <= last {
			t.Fatalf("feed item %s v%d at hub_seq %d is not the latest version in order", c.ID, c.Version, it.HubSeq)
		}
		last = it.HubSeq
	}
	if again := be.mustPush(t, ss...); again.Applied != 0 || again.Duplicates != len(ss) {
		t.Fatalf("re-push = %+v", again)
	}
}

func TestHub_PushRefusals(t *testing.T) {
	th := mustOpenHub(t)
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")

	// An entity at v2, so replaying v1 is stale.
	x1 := be.resource(t, "Stale target", protocol.VisibilityPublic)
	x2 := be.next(x1)
	y1 := be.resource(t, "Conflict target", protocol.VisibilityPublic)
	be.mustPush(t, be.signAll(t, x1, x2, y1)...)

	good1 := be.sign(t, be.resource(t, "Good one", protocol.VisibilityPublic))

	tampered := be.sign(t, be.resource(t, "Tampered", protocol.VisibilityPublic))
	tampered.Sig = append([]byte(nil), tampered.Sig...)
	tampered.Sig[0] ^= 0xff

	// fi's own, validly signed change, relayed by be with be's next seq.
	be.seq++
	foreign := fi.newChange(t, protocol.KindResource, protocol.VisibilityPublic, resourceBody("Not be's"))
	foreign.Seq = be.seq
	foreignS := fi.sign(t, foreign)

	be.seq++
	replay := *x1
	replay.Seq = be.seq
	replayS := be.sign(t, &replay)

	be.seq++
	conflict := *y1
	conflict.Seq = be.seq
	conflict.Body = mustJSON(t, resourceBody("Same version, other text"))
	conflictS := be.sign(t, &conflict)

	be.seq++
	malformedSeq := be.seq
	malformed := []byte(`{"change":{"v":1,"seq":` + itoa(malformedSeq) + `,"kind":`)

	unknown := be.newChange(t, protocol.KindResource, protocol.VisibilityPublic, resourceBody("x"))
	unknown.Kind = "podcast"
	unknownS := be.sign(t, unknown)

	good2 := be.sign(t, be.resource(t, "Good two", protocol.VisibilityPublic))

	records := []protocol.Signed{good1, tampered, foreignS, replayS, conflictS, {}, unknownS, good2}
	var lines [][]byte
	for _, s := range records {
		if s.Change == nil {
			lines = append(lines, malformed)
			continue
		}
		lines = append(lines, protocol.AppendSigned(nil, s))
	}
	hd := protocol.PushHeader{Node: "be", Epoch: "e1", FromSeq: seqOf(t, good1), ToSeq: seqOf(t, good2), HeadSeq: be.seq}
	res, code, body := be.pushRaw(t, hd, lines...)
	if res == nil {
		t.Fatalf("push: HTTP %d %s", code, body)
	}
	if res.Applied != 2 || res.AppliedSeq != hd.ToSeq || res.Truncated {
		t.Fatalf("result = %+v", res)
	}
	want := []struct {
		code protocol.Code
		line int
		text string
	}{
		{protocol.CodeBadSignature, 3, "signature"},
		{protocol.CodeNotOwner, 4, "owned by"},
		{protocol.CodeStaleVersion, 5, "replayed older version: have v2, got v1"},
		{protocol.CodeVersionConflict, 6, "v1"},
		{protocol.CodeMalformedJSON, 7, ""},
		{protocol.CodeUnknownKind, 8, "podcast"},
	}
	if len(res.Refused) != len(want) {
		t.Fatalf("refused %d records, want %d: %+v", len(res.Refused), len(want), res.Refused)
	}
	for i, w := range want {
		r := res.Refused[i]
		if r.Code != w.code || r.Line != w.line || !strings.Contains(r.Reason, w.text) {
			t.Errorf("refusal %d = %+v, want code %s line %d mentioning %q", i, r, w.code, w.line, w.text)
		}
	}

	t.Run("good records applied", func(t *testing.T) {
		items, _ := pullAll(t, fi.client, 3)
		if len(items) != 2 || !bytes.Equal(items[0].Change, good1.Change) || !bytes.Equal(items[1].Change, good2.Change) {
			t.Fatalf("feed after refusals has %d items", len(items))
		}
	})

	t.Run("refusals visible in status", func(t *testing.T) {
		st, err := th.NetworkStatus(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ns := nodeStatus(t, st, "be")
		if ns.RefusalCount != len(want) || len(ns.Refusals) != len(want) {
			t.Fatalf("status refusals %d/%d, want %d", len(ns.Refusals), ns.RefusalCount, len(want))
		}
		// Newest first.
		if ns.Refusals[0].Code != protocol.CodeUnknownKind || ns.Refusals[0].At.IsZero() {
			t.Fatalf("newest refusal = %+v", ns.Refusals[0])
		}
		own, err := be.client.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(own.Nodes) != 1 || own.Nodes[0].RefusalCount != len(want) || own.Erasures != nil {
			t.Fatalf("node's own status = %+v", own)
		}
	})

	t.Run("another node's records: whole batch forbidden when header lies", func(t *testing.T) {
		_, err := be.client.Push(t.Context(), protocol.PushHeader{Node: "fi", Epoch: "e1", FromSeq: 1, ToSeq: 1, HeadSeq: 1}, nil)
		if !errors.Is(err, protocol.ErrForbidden) {
			t.Fatalf("err = %v, want forbidden", err)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestHub_PushTruncated(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.MaxBatchChanges = 3 })
	be := th.enrolNode(t, "be")
	var ss []protocol.Signed
	for i := range 5 {
		ss = append(ss, be.sign(t, be.resource(t, "R"+itoa(int64(i)), protocol.VisibilityPublic)))
	}
	res := be.mustPush(t, ss...)
	if !res.Truncated || res.Applied != 3 || res.AppliedSeq != 3 {
		t.Fatalf("truncated push = %+v", res)
	}
	res = be.mustPush(t, ss[3:]...)
	if res.Truncated || res.Applied != 2 || res.AppliedSeq != 5 {
		t.Fatalf("rest = %+v", res)
	}

	t.Run("by bytes", func(t *testing.T) {
		th := mustOpenHub(t, func(c *Config) { c.MaxBatchBytes = 2500 })
		be := th.enrolNode(t, "be")
		var ss []protocol.Signed
		for i := range 6 {
			ss = append(ss, be.sign(t, be.resource(t, "R"+itoa(int64(i)), protocol.VisibilityPublic)))
		}
		res := be.mustPush(t, ss...)
		if !res.Truncated || res.Applied == 0 || res.Applied == 6 || res.AppliedSeq != int64(res.Applied) {
			t.Fatalf("truncated push = %+v", res)
		}
	})
}

func TestHub_PushSeqGap(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.sign(t, be.resource(t, "one", protocol.VisibilityPublic)))
	be.seq += 3 // seqs 2-4 lost
	_, err := be.push(t, be.sign(t, be.resource(t, "five", protocol.VisibilityPublic)))
	if !errors.Is(err, protocol.ErrSeqGap) || !strings.Contains(err.Error(), "applied_seq 1") {
		t.Fatalf("err = %v, want seq_gap naming applied_seq 1", err)
	}
	f, err := be.client.Changes(t.Context(), 0, 1, 0)
	if err != nil || f.You == nil || f.You.AppliedSeq != 1 {
		t.Fatalf("feed you = %+v, %v", f, err)
	}
}

func TestHub_PushNewEpoch(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	a := be.sign(t, be.resource(t, "A", protocol.VisibilityPublic))
	b := be.sign(t, be.resource(t, "B", protocol.VisibilityPublic))
	be.mustPush(t, a, b)

	// Restored from a backup taken after seq 1, with a fresh outbox: a new epoch.
	be.epoch = "e2"
	be.seq = 2
	c := be.sign(t, be.resource(t, "C", protocol.VisibilityPublic))
	if _, err := be.push(t, c); !errors.Is(err, protocol.ErrEpochMismatch) {
		t.Fatalf("new epoch not from seq 1: err = %v", err)
	}
	res, err := be.client.Push(t.Context(), protocol.PushHeader{Node: "be", Epoch: "e2", FromSeq: 1, ToSeq: 3, HeadSeq: 3}, []protocol.Signed{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if res.Epoch != "e2" || res.AppliedSeq != 3 || res.Applied != 1 || res.Duplicates != 2 {
		t.Fatalf("new epoch push = %+v", res)
	}
	var switches int
	th.db.Reader().QueryRow(`SELECT COUNT(*) FROM epochs WHERE node = 'be' AND epoch = 'e2' AND prev_epoch = 'e1' AND prev_applied_seq = 2`).Scan(&switches)
	if switches != 1 {
		t.Fatalf("epoch switch recorded %d times", switches)
	}
	st, _ := th.NetworkStatus(t.Context())
	if ns := nodeStatus(t, st, "be"); ns.Epoch != "e2" || ns.AppliedSeq != 3 {
		t.Fatalf("status = %+v", ns)
	}
}

func TestHub_PushPlainBody(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	s := be.sign(t, be.resource(t, "Plain", protocol.VisibilityPublic))
	res, code, body := be.pushRaw(t, be.header(t, []protocol.Signed{s}), protocol.AppendSigned(nil, s))
	if res == nil || res.Applied != 1 {
		t.Fatalf("plain push: %d %s", code, body)
	}
	// Bad header line.
	_, code, body = be.pushRaw(t, protocol.PushHeader{Node: "be"})
	if code != 400 || !strings.Contains(string(body), "bad_request") {
		t.Fatalf("bad header: %d %s", code, body)
	}
}

func TestHub_OpenReopenKeepsSeqs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	th := mustOpenHubAt(t, cfg)
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.signAll(t, be.resource(t, "A", protocol.VisibilityPublic), be.resource(t, "B", protocol.VisibilityPublic))...)
	if _, err := be.client.Changes(t.Context(), 2, 0, 0); err != nil {
		t.Fatal(err)
	}
	key := th.KeyID()
	th.close()

	th2 := mustOpenHubAt(t, cfg)
	if th2.HubSeq() != 2 || th2.KeyID() != key {
		t.Fatalf("reopened: hub_seq %d key %s", th2.HubSeq(), th2.KeyID())
	}
	be.hub, be.client = th2, th2.client(be.cred)
	res := be.mustPush(t, be.sign(t, be.resource(t, "C", protocol.VisibilityPublic)))
	if res.HubSeq != 3 || res.AppliedSeq != 3 {
		t.Fatalf("push after reopen = %+v", res)
	}
	st, err := th2.NetworkStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ns := nodeStatus(t, st, "be"); ns.PullCursor != 2 || ns.LastPullAt == nil {
		t.Fatalf("pull cursor after reopen = %+v", ns)
	}
}

// compressors are the push encodings a hub accepts, each as a writer over w.
var compressors = map[string]func(w io.Writer) io.WriteCloser{
	"identity": func(w io.Writer) io.WriteCloser { return nopCloser{w} },
	"gzip":     func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
	"zstd": func(w io.Writer) io.WriteCloser {
		zw, _ := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		return zw
	},
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// postPush sends body as a push of n with Content-Encoding enc.
func postPush(t *testing.T, th *testHub, n *testNode, enc string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, th.url+protocol.PathPush, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.cred)
	req.Header.Set("Content-Encoding", enc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestHub_PushEncodings(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	for _, enc := range []string{"identity", "gzip", "zstd"} {
		ss := be.signAll(t, be.resource(t, "Sent as "+enc, protocol.VisibilityPublic), be.resource(t, "Also "+enc, protocol.VisibilityPublic))
		var body bytes.Buffer
		zw := compressors[enc](&body)
		if err := protocol.EncodePush(zw, be.header(t, ss), ss); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		status, b := postPush(t, th, be, enc, body.Bytes())
		var res protocol.PushResult
		if status != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Applied != 2 || len(res.Refused) != 0 {
			t.Fatalf("%s: status %d %s", enc, status, b)
		}
	}
	status, b := postPush(t, th, be, "br", []byte("whatever"))
	if status != http.StatusBadRequest || !strings.Contains(string(b), "unsupported Content-Encoding") {
		t.Fatalf("br: status %d %s", status, b)
	}
	for _, enc := range []string{"gzip", "zstd"} {
		status, b := postPush(t, th, be, enc, []byte(`{"node":"be"}`+"\n"))
		if status != http.StatusBadRequest || !strings.Contains(string(b), "bad_request") {
			t.Fatalf("%s body that is not %s: status %d %s", enc, enc, status, b)
		}
	}
	if st, _ := th.NetworkStatus(t.Context()); nodeStatus(t, st, "be").AppliedSeq != 6 {
		t.Fatalf("applied_seq = %d, want 6", nodeStatus(t, st, "be").AppliedSeq)
	}
}

// A compressed body that inflates far past the batch limit, as one endless
// line, is cut off there with nothing applied.
func TestHub_PushCompressionBomb(t *testing.T) {
	for _, enc := range []string{"gzip", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			th := mustOpenHub(t, func(c *Config) { c.MaxBatchBytes = 1 << 20 })
			be := th.enrolNode(t, "be")
			var body bytes.Buffer
			zw := compressors[enc](&body)
			zw.Write(mustJSON(t, protocol.PushHeader{Node: "be", Epoch: "e1", FromSeq: 1, ToSeq: 1, HeadSeq: 1}))
			zw.Write([]byte("\n{\"change\":\""))
			zeros := make([]byte, 1<<20)
			for range 8 {
				zw.Write(zeros) // one line of 8 MiB: no record boundary to stop at
			}
			zw.Close()
			if body.Len() > 1<<20 {
				t.Fatalf("bomb is %d bytes compressed", body.Len())
			}
			status, b := postPush(t, th, be, enc, body.Bytes())
			// Refused outright, or cut at the limit with nothing applied.
			var res protocol.PushResult
			if status != http.StatusRequestEntityTooLarge &&
				(status != 200 || json.Unmarshal(b, &res) != nil || !res.Truncated || res.Applied != 0) {
				t.Fatalf("status %d %s", status, b)
			}
			if st, _ := th.NetworkStatus(t.Context()); nodeStatus(t, st, "be").AppliedSeq != 0 {
				t.Fatal("checkpoint moved on a refused push")
			}
		})
	}
}

// A zstd frame that asks for a window past protocol.MaxZstdWindow is
// refused: the window is memory the hub would hold for the push.
func TestHub_PushZstdWindowLimit(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	ss := be.signAll(t, be.resource(t, "Wide window", protocol.VisibilityPublic))
	var plain bytes.Buffer
	if err := protocol.EncodePush(&plain, be.header(t, ss), ss); err != nil {
		t.Fatal(err)
	}
	// A frame written by hand (RFC 8878 §3.1.1): no content size, a window
	// of 2^(10+15) = 32 MiB, and the body in one raw, last block.
	body := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 15 << 3}
	n := plain.Len()<<3 | 1
	body = append(body, byte(n), byte(n>>8), byte(n>>16))
	body = append(body, plain.Bytes()...)
	if dec, _ := zstd.NewReader(nil); dec != nil {
		// The frame is sound: only its window is too large.
		if out, err := dec.DecodeAll(body, nil); err != nil || !bytes.Equal(out, plain.Bytes()) {
			t.Fatalf("hand-made frame does not decode: %v", err)
		}
		dec.Close()
	}
	status, b := postPush(t, th, be, "zstd", body)
	if status != http.StatusBadRequest || !strings.Contains(string(b), "window") {
		t.Fatalf("status %d %s", status, b)
	}
	if st, _ := th.NetworkStatus(t.Context()); nodeStatus(t, st, "be").AppliedSeq != 0 {
		t.Fatal("checkpoint moved on a refused push")
	}
}
