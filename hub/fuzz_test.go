package hub

import (
	"bytes"
	"context"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// FuzzPushBody feeds arbitrary bytes through the push read path: header
// parsing, line decoding and per-record verification must never panic, and
// every record read is either verified or refused.
func FuzzPushBody(f *testing.F) {
	key, _ := protocol.GenerateKey("be")
	n := &testNode{id: "be", key: key, epoch: "e1"}
	var good bytes.Buffer
	ss := n.signAll(f, n.resource(f, "seed", protocol.VisibilityPublic), n.resource(f, "seed 2", protocol.VisibilityCommunity))
	protocol.EncodePush(&good, n.header(f, ss), ss)
	f.Add(good.Bytes())
	f.Add([]byte(`{"node":"be","epoch":"e1","from_seq":1,"to_seq":2,"head_seq":2}` + "\n{\"change\":{},\"sig\":\"AA==\"}\n{"))
	f.Add([]byte(`{"node":"be","epoch":"e1","from_seq":1,"to_seq":1,"head_seq":1}` + "\n\n\n[1,2]\n\"x\"\nnull"))
	f.Add([]byte("{}"))
	f.Add([]byte(""))
	// One hub for every input: opening SQLite per input would make fuzzing crawl.
	th := mustOpenHub(f)
	th.enrolWithKey(f, "be", key, "e1")
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := th.readPush(context.Background(), bytes.NewReader(body), "be")
		if err != nil {
			return
		}
		defer th.finish(b.ticket)
		b.wait()
		for _, it := range b.items {
			if it.refusal == nil && (it.change == nil || it.change.Owner != "be") {
				t.Fatalf("record on line %d neither verified nor refused", it.line)
			}
		}
	})
}

// FuzzPushCompressed feeds arbitrary bytes as gzip and zstd push bodies:
// inflating must never panic or run past its limit, and a body that does
// inflate goes through the same read path as FuzzPushBody.
func FuzzPushCompressed(f *testing.F) {
	key, _ := protocol.GenerateKey("be")
	n := &testNode{id: "be", key: key, epoch: "e1"}
	ss := n.signAll(f, n.resource(f, "seed", protocol.VisibilityPublic))
	for _, enc := range []string{"gzip", "zstd"} {
		var body bytes.Buffer
		zw := compressors[enc](&body)
		protocol.EncodePush(zw, n.header(f, ss), ss)
		zw.Close()
		f.Add(enc == "zstd", body.Bytes())
		f.Add(enc == "zstd", body.Bytes()[:body.Len()/2])
	}
	f.Add(true, []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x01, 0x00, 0x00})
	th := mustOpenHub(f, func(c *Config) { c.MaxBatchBytes = 1 << 20 })
	th.enrolWithKey(f, "be", key, "e1")
	f.Fuzz(func(t *testing.T, zstd bool, body []byte) {
		enc := "gzip"
		if zstd {
			enc = "zstd"
		}
		r, release, err := th.pushBody(enc, bytes.NewReader(body))
		if err != nil {
			return
		}
		defer release()
		b, err := th.readPush(context.Background(), r, "be")
		if err != nil {
			return
		}
		defer th.finish(b.ticket)
		b.wait()
		if len(b.items) > th.cfg.MaxBatchChanges {
			t.Fatalf("%d records read, limit %d", len(b.items), th.cfg.MaxBatchChanges)
		}
	})
}

// FuzzSplitToken checks the credential parser used on every authenticated
// request.
func FuzzSplitToken(f *testing.F) {
	f.Add("be.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(".")
	f.Add("hub..x")
	f.Fuzz(func(t *testing.T, tok string) {
		node, secret, ok := splitToken(tok)
		if ok && (protocol.ValidNodeID(node) != nil || node+"."+secret != tok) {
			t.Fatalf("splitToken(%q) = %q, %q", tok, node, secret)
		}
	})
}

// FuzzAuthenticate checks that no Authorization header other than the real
// credentials authenticates.
func FuzzAuthenticate(f *testing.F) {
	f.Add("Bearer be.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("Bearer ")
	f.Add("basic x")
	th := mustOpenHub(f)
	be := th.enrolNode(f, "be")
	f.Fuzz(func(t *testing.T, authz string) {
		p, err := th.authenticate(authz)
		if err == nil && authz != "Bearer "+be.cred && authz != "Bearer "+th.AdminToken() {
			t.Fatalf("%q authenticated as %+v", authz, p)
		}
	})
}

// FuzzParseQueries checks the feed's query parser.
func FuzzParseQueries(f *testing.F) {
	f.Add("0", "100", "30s")
	f.Add("-1", "x", "1e400")
	f.Fuzz(func(t *testing.T, since, limit, wait string) {
		if _, l, w, err := parseFeedQuery(since, limit, wait); err == nil && (l < 1 || l > protocol.MaxFeedPage || w < 0) {
			t.Fatalf("feed query accepted limit %d wait %s", l, w)
		}
	})
}
