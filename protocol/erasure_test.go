package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// hubErasure is the hub's erasure of be's resource, signed with key (the
// hub's, unless a test signs it with another).
func hubErasure(tb testing.TB, key Key, owner string) Signed {
	tb.Helper()
	c := &Change{Protocol: Version, ID: owner + ":01JKT3S6M00M2GA1850M2GA185", Kind: KindResource, Owner: owner, Version: 4, Seq: 12,
		UpdatedAt: time.Date(2025, 2, 11, 9, 20, 0, 0, time.UTC), Visibility: VisibilityPublic, Deleted: true, Erased: true}
	s, err := key.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestVerify_hubErasure(t *testing.T) {
	keys := testKeys(t).Lookup()
	hub, fr := testKey(t, HubID), testKey(t, "fr")
	t.Run("the hub erases another owner's entity", func(t *testing.T) {
		c, err := Verify(hubErasure(t, hub, "be"), keys)
		if err != nil {
			t.Fatal(err)
		}
		if !c.IsHubErasure() || c.Owner != "be" {
			t.Fatalf("verified %+v", c)
		}
	})
	t.Run("another node's key may not", func(t *testing.T) {
		s := hubErasure(t, fr, "be")
		if _, err := Verify(s, keys); err == nil {
			t.Fatal("fr's key erased be's entity")
		}
	})
	t.Run("a key named hub- that is not the hub's", func(t *testing.T) {
		s := hubErasure(t, hub, "be")
		forged := signRaw(fr, s.Change) // the hub's key id, fr's signature
		if _, err := Verify(forged, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("err = %v, want bad_signature", err)
		}
	})
	edits := map[string]func(c *Change){
		"a tombstone that is not an erasure": func(c *Change) { c.Erased = false },
		"an edit of the body": func(c *Change) {
			c.Deleted, c.Erased = false, false
			c.Body = json.RawMessage(`{"title":"Hijacked","language":"en","languages":["en"],"audiences":["teachers"],"topics":["privacy"],"type":"guide"}`)
		},
		"an erasure that keeps attachments": func(c *Change) {
			c.Blobs = []BlobRef{{SHA256: strings.Repeat("a", 64), Size: 1, MediaType: "image/png", Name: "x.png"}}
		},
	}
	for name, edit := range edits {
		t.Run("the hub may not sign "+name, func(t *testing.T) {
			c := &Change{Protocol: Version, ID: "be:01JKT3S6M00M2GA1850M2GA185", Kind: KindResource, Owner: "be", Version: 4, Seq: 12,
				UpdatedAt: time.Date(2025, 2, 11, 9, 20, 0, 0, time.UTC), Visibility: VisibilityPublic, Deleted: true, Erased: true}
			edit(c)
			c.KeyID = hub.ID
			raw, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(signRaw(hub, raw), keys); err == nil {
				t.Fatalf("verified %s", raw)
			}
		})
	}
}

func TestDecodeErasureAck(t *testing.T) {
	many := make([]string, MaxErasureAcks+1)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	tests := []struct {
		name string
		body string
		want []int64
		code Code
	}{
		{"one", `{"hub_seqs":[1199]}`, []int64{1199}, ""},
		{"several, spaced", ` { "hub_seqs" : [ 3, 1, 2 ] } ` + "\n", []int64{3, 1, 2}, ""},
		{"the limit", `{"hub_seqs":[` + strings.Join(many[:MaxErasureAcks], ",") + `]}`, nil, ""},
		{"empty list", `{"hub_seqs":[]}`, nil, CodeInvalidField},
		{"missing list", `{}`, nil, CodeInvalidField},
		{"zero", `{"hub_seqs":[0]}`, nil, CodeInvalidField},
		{"negative", `{"hub_seqs":[5,-1]}`, nil, CodeInvalidField},
		{"twice", `{"hub_seqs":[5,5]}`, nil, CodeInvalidField},
		{"over the limit", `{"hub_seqs":[` + strings.Join(many, ",") + `]}`, nil, CodeInvalidField},
		{"unknown member", `{"hub_seqs":[1],"ids":["be:x"]}`, nil, CodeMalformedJSON},
		{"not numbers", `{"hub_seqs":["1"]}`, nil, CodeMalformedJSON},
		{"fraction", `{"hub_seqs":[1.5]}`, nil, CodeMalformedJSON},
		{"trailing data", `{"hub_seqs":[1]}{"hub_seqs":[2]}`, nil, CodeMalformedJSON},
		{"not an object", `[1]`, nil, CodeMalformedJSON},
		{"empty body", ``, nil, CodeMalformedJSON},
		{"too large", `{"hub_seqs":[1]` + strings.Repeat(" ", MaxErasureAckBytes) + `}`, nil, CodeRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeErasureAck(strings.NewReader(tt.body))
			if tt.code != "" {
				if ErrorCode(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && fmt.Sprint(a.HubSeqs) != fmt.Sprint(tt.want) {
				t.Fatalf("hub_seqs = %v, want %v", a.HubSeqs, tt.want)
			}
		})
	}
}

func TestValidErasureReason(t *testing.T) {
	tests := []struct {
		reason string
		ok     bool
	}{
		{"GDPR request of 2025-02-11, ticket 4411; the SIC closed its node", true},
		{"Demande RGPD — données d'un élève", true},
		{"", false},
		{"   ", false},
		{"line\nbreak", false},
		{"bell\a", false},
		{"\xff\xfe", false},
		{strings.Repeat("x", MaxErasureReason), true},
		{strings.Repeat("x", MaxErasureReason+1), false},
	}
	for _, tt := range tests {
		if err := ValidErasureReason(tt.reason); (err == nil) != tt.ok {
			t.Errorf("ValidErasureReason(%.40q) = %v, want ok %v", tt.reason, err, tt.ok)
		}
	}
}

func TestClient_AckErasures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != PathErasureAck || r.Header.Get("Authorization") != "Bearer be.Y3JlZA" {
			t.Errorf("%s %s %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		a, err := DecodeErasureAck(r.Body)
		if err != nil {
			t.Errorf("decode: %v", err)
			return
		}
		json.NewEncoder(w).Encode(ErasureAckResult{Acknowledged: a.HubSeqs[:1]})
	}))
	defer srv.Close()
	cfg := DefaultClientConfig(srv.URL)
	cfg.Credential = "be.Y3JlZA"
	res, err := NewClient(cfg).AckErasures(t.Context(), []int64{1199, 1203})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Acknowledged) != 1 || res.Acknowledged[0] != 1199 {
		t.Fatalf("result %+v", res)
	}
}

func FuzzDecodeErasureAck(f *testing.F) {
	f.Add([]byte(`{"hub_seqs":[1199,1203]}`))
	f.Add([]byte(`{"hub_seqs":[1,1]}`))
	f.Add([]byte(`{"hub_seqs":[9223372036854775807]}`))
	f.Add([]byte(`{"hub_seqs":[1e3]}`))
	f.Add([]byte(`{"hub_seqs":null}`))
	f.Add([]byte(`{"HUB_SEQS":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeErasureAck(bytes.NewReader(body))
		if err != nil {
			if ErrorCode(err) == CodeInternal {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		if len(body) > MaxErasureAckBytes || len(a.HubSeqs) == 0 || len(a.HubSeqs) > MaxErasureAcks {
			t.Fatalf("accepted %d bytes with %d hub_seqs", len(body), len(a.HubSeqs))
		}
		seen := map[int64]bool{}
		for _, s := range a.HubSeqs {
			if s < 1 || seen[s] {
				t.Fatalf("accepted hub_seqs %v", a.HubSeqs)
			}
			seen[s] = true
		}
	})
}

func TestDecodeErasureStatus(t *testing.T) {
	many := make([]string, MaxErasureStatusIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"be:%026d"`, i)
	}
	tests := []struct {
		name  string
		body  string
		group string
		ids   int
		code  Code
	}{
		{"one", `{"ids":["be:01JKT3S9HREHT78X3MEHT78X3M"]}`, "", 1, ""},
		{"with a group", `{"group":"person-3","ids":["be:01JKT3S9HREHT78X3MEHT78X3M","be:01JKT3S9HREHT78X3MEHT78X3N"]}`, "person-3", 2, ""},
		{"the limit", `{"ids":[` + strings.Join(many[:MaxErasureStatusIDs], ",") + `]}`, "", MaxErasureStatusIDs, ""},
		{"over the limit", `{"ids":[` + strings.Join(many, ",") + `]}`, "", 0, CodeInvalidField},
		{"no ids", `{"ids":[]}`, "", 0, CodeInvalidField},
		{"missing ids", `{"group":"person-3"}`, "", 0, CodeInvalidField},
		{"not an entity id", `{"ids":["nothing"]}`, "", 0, CodeInvalidField},
		{"twice", `{"ids":["be:01JKT3S9HREHT78X3MEHT78X3M","be:01JKT3S9HREHT78X3MEHT78X3M"]}`, "", 0, CodeInvalidField},
		{"group with capitals", `{"group":"Eva Peeters","ids":["be:01JKT3S9HREHT78X3MEHT78X3M"]}`, "", 0, CodeInvalidField},
		{"group too long", `{"group":"` + strings.Repeat("a", MaxErasureGroup+1) + `","ids":["be:01JKT3S9HREHT78X3MEHT78X3M"]}`, "", 0, CodeInvalidField},
		{"unknown member", `{"ids":["be:01JKT3S9HREHT78X3MEHT78X3M"],"name":"x"}`, "", 0, CodeMalformedJSON},
		{"trailing data", `{"ids":["be:01JKT3S9HREHT78X3MEHT78X3M"]} {}`, "", 0, CodeMalformedJSON},
		{"too large", `{"ids":["` + strings.Repeat("a", MaxErasureStatusBytes) + `"]}`, "", 0, CodeRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := DecodeErasureStatus(strings.NewReader(tt.body))
			if tt.code != "" {
				if ErrorCode(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Group != tt.group || len(q.IDs) != tt.ids {
				t.Fatalf("got group %q and %d ids, want %q and %d", q.Group, len(q.IDs), tt.group, tt.ids)
			}
		})
	}
}

func FuzzDecodeErasureStatus(f *testing.F) {
	f.Add([]byte(`{"group":"person-3","ids":["be:01JKT3S9HREHT78X3MEHT78X3M"]}`))
	f.Add([]byte(`{"ids":["be:x","be:x"]}`))
	f.Add([]byte(`{"group":"A","ids":[]}`))
	f.Add([]byte(`{"ids":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := DecodeErasureStatus(bytes.NewReader(body))
		if err != nil {
			if ErrorCode(err) == CodeInternal {
				t.Fatalf("error without a protocol code: %v", err)
			}
			return
		}
		if len(body) > MaxErasureStatusBytes || len(q.IDs) == 0 || len(q.IDs) > MaxErasureStatusIDs || len(q.Group) > MaxErasureGroup {
			t.Fatalf("accepted %d bytes with %d ids and group %q", len(body), len(q.IDs), q.Group)
		}
		seen := map[string]bool{}
		for _, id := range q.IDs {
			if _, err := SplitEntityID(id); err != nil || seen[id] {
				t.Fatalf("accepted ids %v", q.IDs)
			}
			seen[id] = true
		}
	})
}
