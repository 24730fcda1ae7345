package protocol

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// newTestClient returns a client for srv with fast retries.
func newTestClient(tb testing.TB, srv *httptest.Server) *Client {
	tb.Helper()
	cfg := DefaultClientConfig(srv.URL)
	cfg.Credential = "be.c2VjcmV0"
	cfg.RetryWait = time.Millisecond
	cfg.RetryMaxWait = 5 * time.Millisecond
	cfg.Timeout = 10 * time.Second
	return NewClient(cfg)
}

// writeError answers with the protocol's error body.
func writeError(w http.ResponseWriter, code Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(HTTPStatus(code))
	json.NewEncoder(w).Encode(ErrorResponse{Error: &Error{Code: code, Message: msg}})
}

func TestClient_Push(t *testing.T) {
	h := PushHeader{Node: "be", Epoch: "e1", FromSeq: 42, ToSeq: 44, HeadSeq: 44}
	changes := []Signed{signedGolden(t, KindResource), signRaw(testKey(t, "be"), []byte(oddChange)), signedGolden(t, KindTranslation)}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != PathPush {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer be.c2VjcmV0" {
			t.Errorf("Authorization %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != ContentTypeNDJSON {
			t.Errorf("Content-Type %q", got)
		}
		if got := r.Header.Get("Content-Encoding"); got != "zstd" {
			t.Errorf("Content-Encoding %q", got)
		}
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderMaxWindow(MaxZstdWindow))
		if err != nil {
			t.Errorf("body is not zstd: %v", err)
			return
		}
		defer zr.Close()
		p, err := NewPushReader(zr)
		if err != nil {
			t.Errorf("NewPushReader: %v", err)
			return
		}
		if p.Header() != h {
			t.Errorf("header %+v", p.Header())
		}
		recs, err := readAll(t, p)
		if err != nil || len(recs) != len(changes) {
			t.Errorf("%d records, %v", len(recs), err)
			return
		}
		for i, rec := range recs {
			if rec.Refusal != nil || !bytes.Equal(rec.Signed.Change, changes[i].Change) || !bytes.Equal(rec.Signed.Sig, changes[i].Sig) {
				t.Errorf("record %d not verbatim", i)
			}
		}
		if n == 1 {
			// The hub is restarting: the client must send the same body again.
			writeError(w, CodeUnavailable, "shutting down")
			return
		}
		json.NewEncoder(w).Encode(PushResult{Node: "be", Epoch: "e1", AppliedSeq: 44, Applied: 3, HubSeq: 1207})
	}))
	defer srv.Close()

	res, err := newTestClient(t, srv).Push(t.Context(), h, changes)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2 (one retry after 503)", calls.Load())
	}
	if res.AppliedSeq != 44 || res.Applied != 3 || res.HubSeq != 1207 {
		t.Fatalf("result %+v", res)
	}
}

func TestClient_errors(t *testing.T) {
	type call func(ctx context.Context, c *Client) error
	calls := map[string]call{
		"push": func(ctx context.Context, c *Client) error {
			_, err := c.Push(ctx, PushHeader{Node: "be", Epoch: "e", FromSeq: 1, ToSeq: 1, HeadSeq: 1}, []Signed{signedGolden(t, KindPost)})
			return err
		},
		"changes": func(ctx context.Context, c *Client) error { _, err := c.Changes(ctx, 0, 0, 0); return err },
		"keys":    func(ctx context.Context, c *Client) error { _, err := c.Keys(ctx); return err },
		"enrol": func(ctx context.Context, c *Client) error {
			_, err := c.Enrol(ctx, EnrolRequest{Node: "be", Token: "be.x"})
			return err
		},
	}
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error
		attempts int32
	}{
		{"invalid field is not retried", 422, `{"error":{"code":"invalid_field","message":"body.title: required"}}`, ErrInvalidField, 1},
		{"seq gap is not retried", 409, `{"error":{"code":"seq_gap","message":"applied_seq is 41"}}`, ErrSeqGap, 1},
		{"epoch mismatch", 409, `{"error":{"code":"epoch_mismatch","message":"hub has epoch e0"}}`, ErrEpochMismatch, 1},
		{"unauthorized", 401, `{"error":{"code":"unauthorized","message":"unknown credential"}}`, ErrUnauthorized, 1},
		{"not found without a body", 404, ``, ErrNotFound, 1},
		{"too large without a body", 413, `<html>too large</html>`, ErrBatchTooLarge, 1},
		{"unavailable is retried", 503, `{"error":{"code":"unavailable","message":"shutting down"}}`, ErrUnavailable, 3},
		{"proxy error is retried", 502, `<html>Bad Gateway</html>`, ErrUnavailable, 3},
		{"rate limit is retried", 429, `{"error":{"code":"too_many_requests","message":"slow down"}}`, ErrTooManyRequests, 3},
		{"internal is retried", 500, `{"error":{"code":"internal","message":"oops"}}`, ErrInternal, 3},
	}
	for name, do := range calls {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				var n atomic.Int32
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n.Add(1)
					io.Copy(io.Discard, r.Body)
					w.WriteHeader(tc.status)
					io.WriteString(w, tc.body)
				}))
				defer srv.Close()
				cfg := DefaultClientConfig(srv.URL)
				cfg.Retries, cfg.RetryWait, cfg.RetryMaxWait = 2, time.Millisecond, 2*time.Millisecond
				err := do(t.Context(), NewClient(cfg))
				if !errors.Is(err, tc.sentinel) {
					t.Fatalf("err %v, want %v", err, tc.sentinel)
				}
				if got := n.Load(); got != tc.attempts {
					t.Fatalf("%d attempts, want %d", got, tc.attempts)
				}
				if strings.HasPrefix(tc.body, "{") {
					var er ErrorResponse
					json.Unmarshal([]byte(tc.body), &er)
					if !strings.Contains(err.Error(), er.Error.Message) {
						t.Fatalf("error %q lost the hub's message %q", err, er.Error.Message)
					}
				}
			})
		}
	}
}

func TestClient_Changes(t *testing.T) {
	odd := signRaw(testKey(t, "be"), []byte(oddChange))
	res := signedGolden(t, KindResource)
	// A page as the hub writes it: by hand, change bytes verbatim.
	page := `{"hub_seq":1210,"next":1205,"more":true,"you":{"epoch":"e1","applied_seq":44},"changes":[` +
		`{"hub_seq":1204,"change":` + oddChange + `,"sig":"` + base64.StdEncoding.EncodeToString(odd.Sig) + `"},` +
		string(AppendFeedItem(nil, 1205, res)) + `]}`

	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != PathChanges {
					t.Errorf("%s %s", r.Method, r.URL.Path)
				}
				q := r.URL.Query()
				if q.Get("since") != "1203" || q.Get("limit") != "2" || q.Has("wait") {
					t.Errorf("query %q", r.URL.RawQuery)
				}
				if got := r.Header.Get("Authorization"); got != "Bearer be.c2VjcmV0" {
					t.Errorf("Authorization %q", got)
				}
				w.Header().Set("Content-Type", "application/json")
				if gz {
					if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
						t.Errorf("client does not accept gzip")
					}
					w.Header().Set("Content-Encoding", "gzip")
					zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
					io.WriteString(zw, page)
					zw.Close()
					return
				}
				io.WriteString(w, page)
			}))
			defer srv.Close()
			feed, err := newTestClient(t, srv).Changes(t.Context(), 1203, 2, 0)
			if err != nil {
				t.Fatal(err)
			}
			if feed.HubSeq != 1210 || feed.Next != 1205 || !feed.More || feed.You == nil || *feed.You != (Checkpoint{Epoch: "e1", AppliedSeq: 44}) {
				t.Fatalf("feed %+v", feed)
			}
			if len(feed.Changes) != 2 || feed.Changes[0].HubSeq != 1204 || feed.Changes[1].HubSeq != 1205 {
				t.Fatalf("changes %+v", feed.Changes)
			}
			if string(feed.Changes[0].Change) != oddChange || !bytes.Equal(feed.Changes[1].Change, res.Change) {
				t.Fatal("change bytes not verbatim")
			}
			keys := testKeys(t).Lookup()
			for i, item := range feed.Changes {
				if _, err := Verify(item.Signed, keys); err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
			}
		})
	}

	t.Run("retries then succeeds", func(t *testing.T) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				writeError(w, CodeUnavailable, "restarting")
				return
			}
			io.WriteString(w, page)
		}))
		defer srv.Close()
		feed, err := newTestClient(t, srv).Changes(t.Context(), 1203, 0, 0)
		if err != nil || len(feed.Changes) != 2 || n.Load() != 3 {
			t.Fatalf("%d calls, %v", n.Load(), err)
		}
	})

	t.Run("broken feed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, page[:len(page)/2])
		}))
		defer srv.Close()
		if _, err := newTestClient(t, srv).Changes(t.Context(), 0, 0, 0); err == nil {
			t.Fatal("a truncated feed decoded")
		}
	})
}

func TestClient_Changes_longPoll(t *testing.T) {
	// The hub holds the request for most of the wait; the client's own
	// timeout is shorter than the wait and must not cut the long-poll short.
	const wait, hold = 600 * time.Millisecond, 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Has("wait") {
			if d, err := time.ParseDuration(q.Get("wait")); err != nil || d != wait {
				t.Errorf("wait %q, want %v", q.Get("wait"), wait)
			}
		}
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, `{"hub_seq":5,"next":5,"more":false,"changes":[]}`)
	}))
	defer srv.Close()
	cfg := DefaultClientConfig(srv.URL)
	cfg.Timeout = 150 * time.Millisecond
	cfg.Retries = 0
	c := NewClient(cfg)
	feed, err := c.Changes(t.Context(), 5, 0, wait)
	if err != nil {
		t.Fatalf("long-poll: %v", err)
	}
	if feed.Next != 5 || len(feed.Changes) != 0 {
		t.Fatalf("feed %+v", feed)
	}
	// Without a wait the timeout applies as configured.
	_, err = c.Changes(t.Context(), 5, 0, 0)
	if err == nil {
		t.Fatal("a request slower than the timeout succeeded")
	}
}

func TestClient_Enrol(t *testing.T) {
	k := testKey(t, "be")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != PathEnrol || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("enrolment sent a credential")
		}
		var req EnrolRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Errorf("decode: %v", err)
		}
		if req.Node != "be" || req.KeyID != k.ID || !bytes.Equal(req.PublicKey, k.Public()) || req.Token != "be.dG9rZW4" || req.Epoch != "e1" {
			t.Errorf("request %+v", req)
		}
		json.NewEncoder(w).Encode(EnrolResponse{Node: "be", Name: "Safer Internet Centre Belgium", Credential: "be.Y3JlZA", Protocol: 1, HubSeq: 1207})
	}))
	defer srv.Close()
	cfg := DefaultClientConfig(srv.URL)
	res, err := NewClient(cfg).Enrol(t.Context(), EnrolRequest{Node: "be", Token: "be.dG9rZW4", KeyID: k.ID, PublicKey: k.Public(), Epoch: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Credential != "be.Y3JlZA" || res.Protocol != Version || res.HubSeq != 1207 {
		t.Fatalf("response %+v", res)
	}
}

func TestClient_Manifest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathManifest:
			m := Manifest{HubSeq: 9, Owners: []OwnerDigest{{Owner: "be", Count: 1, Digest: "d"}}}
			if o := r.URL.Query().Get("owner"); o != "" {
				m.Entries = []ManifestEntry{{ID: o + ":01JKT3S6M00M2GA1850M2GA185", Version: 3, Hash: "h"}}
			}
			json.NewEncoder(w).Encode(m)
		case PathKeys:
			json.NewEncoder(w).Encode(testKeys(t))
		case PathStatus:
			json.NewEncoder(w).Encode(NetworkStatus{HubSeq: 9, Nodes: []NodeStatus{{Node: "be", AppliedSeq: 44}}})
		default:
			writeError(w, CodeNotFound, r.URL.Path)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv)
	m, err := c.Manifest(t.Context(), "")
	if err != nil || len(m.Owners) != 1 || m.Entries != nil {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	m, err = c.Manifest(t.Context(), "be")
	if err != nil || len(m.Entries) != 1 || m.Entries[0].ID != "be:01JKT3S6M00M2GA1850M2GA185" {
		t.Fatalf("manifest of be %+v, %v", m, err)
	}
	d, err := c.Keys(t.Context())
	if err != nil || len(d.Keys) != 3 {
		t.Fatalf("keys %+v, %v", d, err)
	}
	if _, err := Verify(signedGolden(t, KindPost), d.Lookup()); err != nil {
		t.Fatalf("verify with fetched directory: %v", err)
	}
	st, err := c.Status(t.Context())
	if err != nil || len(st.Nodes) != 1 || st.Nodes[0].AppliedSeq != 44 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if c.BaseURL() != srv.URL {
		t.Fatalf("BaseURL %q", c.BaseURL())
	}
}

func TestClient_canceled(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeError(w, CodeUnavailable, "down")
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := newTestClient(t, srv).Keys(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n.Load() > 1 {
		t.Fatalf("%d attempts after cancel", n.Load())
	}
}

func TestClient_successBody(t *testing.T) {
	// The hub's answers are JSON whatever their Content-Type says; a success
	// that is not the expected JSON is an error, never an empty result.
	for _, tc := range []struct {
		name, contentType, body string
		ok                      bool
	}{
		{"json", "application/json", `{"node":"be","applied_seq":44}`, true},
		{"no content type", "", `{"node":"be","applied_seq":44}`, true},
		{"text/plain", "text/plain", `{"node":"be","applied_seq":44}`, true},
		{"captive portal", "text/html", `<html>Sign in to the hotel Wi-Fi</html>`, false},
		{"empty", "application/json", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header()["Content-Type"] = []string{tc.contentType}
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			res, err := newTestClient(t, srv).Push(t.Context(), PushHeader{Node: "be", Epoch: "e", FromSeq: 44, ToSeq: 44, HeadSeq: 44}, nil)
			if tc.ok != (err == nil) {
				t.Fatalf("Push: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && res.AppliedSeq != 44 {
				t.Fatalf("result %+v", res)
			}
		})
	}
}
