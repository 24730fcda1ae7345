package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// testNet is a hub serving on loopback with its portal indexing, and the
// nodes that push to it, signing like real nodes do.
type testNet struct {
	t     testing.TB
	h     *hub.Hub
	url   string
	nodes map[string]*testNode
}

type testNode struct {
	net      *testNet
	id       string
	key      protocol.Key
	client   *protocol.Client
	cred     string
	seq      int64
	versions map[string]int64
	bodies   map[string]json.RawMessage
}

type hubConfig = hub.Config

func startHub(t testing.TB, mutate ...func(*hub.Config)) *testNet {
	t.Helper()
	cfg := hub.DefaultConfig()
	cfg.DataDir = t.TempDir()
	// Crawls and harvests from one address are what the per-address rate
	// limit is for; these tests are about the pages.
	cfg.Limits.PublicRate = 0
	for _, m := range mutate {
		m(&cfg)
	}
	var log *slog.Logger
	if os.Getenv("PORTAL_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h, err := hub.Open(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		h.Close()
	})
	return &testNet{t: t, h: h, url: "http://" + ln.Addr().String(), nodes: map[string]*testNode{}}
}

func (n *testNet) node(id string) *testNode {
	n.t.Helper()
	if tn := n.nodes[id]; tn != nil {
		return tn
	}
	token, err := n.h.RegisterNode(n.t.Context(), id, "Safer Internet Centre "+strings.ToUpper(id))
	if err != nil {
		n.t.Fatal(err)
	}
	key, err := protocol.GenerateKey(id)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := protocol.DefaultClientConfig(n.url)
	plain := protocol.NewClient(cfg)
	res, err := plain.Enrol(n.t.Context(), protocol.EnrolRequest{Node: id, Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"})
	if err != nil {
		n.t.Fatal(err)
	}
	cfg.Credential = res.Credential
	tn := &testNode{net: n, id: id, key: key, client: protocol.NewClient(cfg), cred: res.Credential, versions: map[string]int64{}, bodies: map[string]json.RawMessage{}}
	n.nodes[id] = tn
	return tn
}

// draft is one change a test node makes.
type draft struct {
	id        string // empty: a new entity
	kind      protocol.Kind
	vis       protocol.Visibility
	body      any
	publishAt *time.Time
	updatedAt *time.Time // nil: now
	blobs     []protocol.BlobRef
	deleted   bool
	erased    bool
}

// push signs and pushes drafts in one batch and returns their ids.
func (tn *testNode) push(drafts ...draft) []string {
	t := tn.net.t
	t.Helper()
	now := time.Now().UTC()
	var signed []protocol.Signed
	var ids []string
	from := tn.seq + 1
	for _, d := range drafts {
		id := d.id
		if id == "" {
			var err error
			if id, err = protocol.NewEntityID(tn.id, now); err != nil {
				t.Fatal(err)
			}
		}
		tn.seq++
		tn.versions[id]++
		var raw json.RawMessage
		if !d.deleted {
			switch b := d.body.(type) {
			case json.RawMessage:
				raw = b
			default:
				var err error
				if raw, err = json.Marshal(b); err != nil {
					t.Fatal(err)
				}
			}
		}
		updated := now
		if d.updatedAt != nil {
			updated = *d.updatedAt
		}
		c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.kind, Owner: tn.id, Version: tn.versions[id],
			Seq: tn.seq, UpdatedAt: updated, Visibility: d.vis, PublishAt: d.publishAt, Deleted: d.deleted, Erased: d.erased,
			Body: raw, Blobs: d.blobs}
		s, err := tn.key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, s)
		ids = append(ids, id)
	}
	res, err := tn.client.Push(t.Context(), protocol.PushHeader{Node: tn.id, Epoch: "e1", FromSeq: from, ToSeq: tn.seq, HeadSeq: tn.seq}, signed)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refused) > 0 {
		t.Fatalf("push refused: %+v", res.Refused)
	}
	return ids
}

// seedSamples pushes the sample content of the demo's nodes and the hub.
func (n *testNet) seedSamples() map[string]string {
	n.t.Helper()
	ids := map[string]string{}
	for _, id := range sampledata.Nodes() {
		drafts, err := sampledata.Drafts(id)
		if err != nil {
			n.t.Fatal(err)
		}
		tn := n.node(id)
		for _, d := range drafts {
			if d.PublishAt != nil && d.PublishAt.After(time.Now()) {
				continue // a node keeps embargoed content until it is due
			}
			body, err := sampledata.Resolve(d.Body, ids)
			if err != nil {
				n.t.Fatal(err)
			}
			got := tn.push(draft{kind: d.Kind, vis: d.Visibility, body: body})
			ids[d.Ref] = got[0]
		}
	}
	drafts, err := sampledata.Drafts(protocol.HubID)
	if err != nil {
		n.t.Fatal(err)
	}
	for _, d := range drafts {
		id, err := n.h.Publish(n.t.Context(), d.Kind, d.Visibility, d.Body)
		if err != nil {
			n.t.Fatal(err)
		}
		ids[d.Ref] = id
	}
	n.waitIndexed()
	return ids
}

// waitIndexed waits until the portal reflects everything committed.
func (n *testNet) waitIndexed() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(n.t.Context(), 30*time.Second)
	defer cancel()
	if err := n.h.Portal().WaitIndexed(ctx, n.h.HubSeq()); err != nil {
		n.t.Fatalf("portal did not catch up with hub_seq %d (at %d): %v", n.h.HubSeq(), n.h.Portal().IndexedSeq(), err)
	}
}

// get fetches path from the hub; headers are "Name: value" strings.
func (n *testNet) get(path string, headers ...string) (*http.Response, string) {
	n.t.Helper()
	req, err := http.NewRequestWithContext(n.t.Context(), "GET", n.url+path, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatal(err)
	}
	return resp, string(b)
}

// getNoFollow fetches path without following a redirect.
func (n *testNet) getNoFollow(path string, headers ...string) *http.Response {
	n.t.Helper()
	req, err := http.NewRequestWithContext(n.t.Context(), "GET", n.url+path, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (n *testNet) getOK(path string, headers ...string) string {
	n.t.Helper()
	resp, body := n.get(path, headers...)
	if resp.StatusCode != 200 {
		n.t.Fatalf("GET %s: %s\n%.2000s", path, resp.Status, body)
	}
	return body
}

func (n *testNet) getJSON(path string, v any) {
	n.t.Helper()
	if err := json.Unmarshal([]byte(n.getOK(path)), v); err != nil {
		n.t.Fatalf("GET %s: %v", path, err)
	}
}

func resourceBody(title, lang string, langs []string, ageMin, ageMax int, typ string, topics []string, minisites ...string) protocol.Resource {
	return protocol.Resource{Title: title, Description: "About " + title + ".", Language: lang, Languages: langs,
		AgeMin: ageMin, AgeMax: ageMax, Audiences: []string{"parents"}, Topics: topics, Type: typ,
		Licence: "CC BY 4.0", URL: "https://example.org/" + fmt.Sprint(len(title)), Minisites: minisites}
}

func lookXMLLint() (string, error) { return exec.LookPath("xmllint") }

// upload puts an attachment on the hub, as a node does before the change
// that references it.
func (tn *testNode) upload(content []byte, name, mediaType string) protocol.BlobRef {
	t := tn.net.t
	t.Helper()
	sum := sha256.Sum256(content)
	ref := protocol.BlobRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(content)), MediaType: mediaType, Name: name}
	req, err := http.NewRequestWithContext(t.Context(), "PUT", tn.net.url+protocol.PathBlobs+ref.SHA256+"?size="+fmt.Sprint(ref.Size), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tn.cred)
	req.Header.Set("Content-Type", mediaType)
	req.Header.Set(protocol.HeaderBlobName, url.PathEscape(name))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("upload %s: %s %s", name, resp.Status, b)
	}
	return ref
}
