package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	h := func(s string) []byte { sum := sha256.Sum256([]byte(s)); return sum[:] }
	entries := []ManifestEntry{
		{"be:01JKT3S6M00M2GA1850M2GA185", 3, hex.EncodeToString(h("a"))},
		{"be:01JKT3S7K858N2MAHA58N2MAHA", 1, hex.EncodeToString(h("b"))},
		{"be:01JKT3S9HREHT78X3MEHT78X3M", 12, hex.EncodeToString(h("c"))},
	}
	digest := func(es []ManifestEntry) *Digest {
		d := NewDigest()
		for _, e := range es {
			raw, _ := hex.DecodeString(e.Hash)
			d.Add(e.ID, e.Version, raw)
		}
		return d
	}

	t.Run("format", func(t *testing.T) {
		var lines strings.Builder
		for _, e := range entries {
			lines.WriteString(e.ID + " " + itoa(e.Version) + " " + e.Hash + "\n")
		}
		sum := sha256.Sum256([]byte(lines.String()))
		d := digest(entries)
		if d.Sum() != hex.EncodeToString(sum[:]) {
			t.Fatalf("Sum = %s, want SHA-256 of\n%s", d.Sum(), lines.String())
		}
		if d.Count() != 3 {
			t.Fatalf("Count = %d", d.Count())
		}
	})
	t.Run("empty", func(t *testing.T) {
		sum := sha256.Sum256(nil)
		if d := NewDigest(); d.Sum() != hex.EncodeToString(sum[:]) || d.Count() != 0 {
			t.Fatalf("empty digest %s/%d", d.Sum(), d.Count())
		}
	})
	t.Run("equal", func(t *testing.T) {
		a, b := digest(entries), digest(entries)
		if a.Sum() != b.Sum() {
			t.Fatal("same entries, different digests")
		}
		// Sum does not consume the digest.
		if a.Sum() != b.Sum() {
			t.Fatal("second Sum differs")
		}
	})
	t.Run("order sensitive", func(t *testing.T) {
		swapped := []ManifestEntry{entries[1], entries[0], entries[2]}
		if digest(entries).Sum() == digest(swapped).Sum() {
			t.Fatal("digest ignores order")
		}
	})
	t.Run("every part counts", func(t *testing.T) {
		base := digest(entries).Sum()
		edits := map[string]func(e *ManifestEntry){
			"id":      func(e *ManifestEntry) { e.ID = "be:01JKT3S9HREHT78X3MEHT78X3N" },
			"version": func(e *ManifestEntry) { e.Version = 13 },
			"hash":    func(e *ManifestEntry) { e.Hash = hex.EncodeToString(h("d")) },
		}
		for name, edit := range edits {
			es := append([]ManifestEntry(nil), entries...)
			edit(&es[2])
			if digest(es).Sum() == base {
				t.Fatalf("digest ignores the %s", name)
			}
		}
		if digest(entries[:2]).Sum() == base {
			t.Fatal("digest ignores a missing entry")
		}
	})
	t.Run("line boundaries", func(t *testing.T) {
		// "id 1" + "2 …" must not collide with "id 12 …": the newline separates.
		a := NewDigest()
		a.Add("be:01JKT3S6M00M2GA1850M2GA185", 12, h("a"))
		b := NewDigest()
		b.Add("be:01JKT3S6M00M2GA1850M2GA185", 1, h("a"))
		if a.Sum() == b.Sum() {
			t.Fatal("versions 1 and 12 collide")
		}
	})
	t.Run("from signed changes", func(t *testing.T) {
		// What a node computes from its own rows must match what it would
		// compute from the hub's manifest entries.
		d1 := NewDigest()
		var es []ManifestEntry
		for _, k := range []Kind{KindResource, KindTranslation, KindPost} {
			s := signedGolden(t, k)
			c, _ := ParseChange(s.Change)
			sum := s.Hash()
			d1.Add(c.ID, c.Version, sum[:])
			es = append(es, ManifestEntry{ID: c.ID, Version: c.Version, Hash: hex.EncodeToString(sum[:])})
		}
		if d1.Sum() != digest(es).Sum() {
			t.Fatal("digests differ")
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAPITypes_JSON(t *testing.T) {
	at := time.Date(2025, 2, 11, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"push header", PushHeader{Node: "be", Epoch: "e1", FromSeq: 42, ToSeq: 46, HeadSeq: 50},
			`{"node":"be","epoch":"e1","from_seq":42,"to_seq":46,"head_seq":50}`},
		{"push result", PushResult{Node: "be", Epoch: "e1", AppliedSeq: 46, Applied: 4, Duplicates: 0,
			Refused: []Refusal{{Line: 3, Seq: 43, ID: "be:01JKT3S7K858N2MAHA58N2MAHA", Version: 1, Code: CodeInvalidField, Reason: "body.method: \"ai\" is not one of human, machine, post-edited"}}, HubSeq: 1207},
			`{"node":"be","epoch":"e1","applied_seq":46,"applied":4,"duplicates":0,"refused":[{"line":3,"seq":43,"id":"be:01JKT3S7K858N2MAHA58N2MAHA","version":1,"code":"invalid_field","reason":"body.method: \"ai\" is not one of human, machine, post-edited"}],"hub_seq":1207}`},
		{"refusal with time", Refusal{Seq: 43, Code: CodeStaleVersion, Reason: "r", At: at},
			`{"seq":43,"code":"stale_version","reason":"r","at":"2025-02-11T09:00:00Z"}`},
		{"empty feed", Feed{HubSeq: 10, Next: 10, Changes: []FeedItem{}}, `{"hub_seq":10,"next":10,"more":false,"changes":[]}`},
		{"manifest", Manifest{HubSeq: 9, Owners: []OwnerDigest{{Owner: "be", Count: 2, Digest: "ab"}}},
			`{"hub_seq":9,"owners":[{"owner":"be","count":2,"digest":"ab"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("\n got %s\nwant %s", b, tc.want)
			}
		})
	}
}

// TestDigest_docs pins the worked examples of docs/protocol.md: the digests of
// be's five changes in testdata/push.ndjson and of the hub's two.
func TestDigest_docs(t *testing.T) {
	d := NewDigest()
	for _, k := range []Kind{KindResource, KindTranslation, KindPost, KindComment, KindProfile} {
		s := signedGolden(t, k)
		c, err := ParseChange(s.Change)
		if err != nil {
			t.Fatal(err)
		}
		sum := s.Hash()
		d.Add(c.ID, c.Version, sum[:])
	}
	if got, want := d.Sum(), "e5ddcf0d339c091a43b610c98add20720f3b73b1b814d7a702a89c36ab947c73"; got != want || d.Count() != 5 {
		t.Fatalf("digest %s (%d), want %s (5)", got, d.Count(), want)
	}
	hub := NewDigest()
	for _, k := range []Kind{KindService, KindModeration} { // already in id order
		s := signedGolden(t, k)
		c, _ := ParseChange(s.Change)
		sum := s.Hash()
		hub.Add(c.ID, c.Version, sum[:])
	}
	if got, want := hub.Sum(), "7d44dc1cc576c1b1c1102acea4903d21ef138850206ee3aebca4d98dc5fab9f3"; got != want {
		t.Fatalf("hub digest %s, want %s", got, want)
	}
}
