package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// testKey returns a fixed key for owner, the one testdata was signed with.
func testKey(tb testing.TB, owner string) Key {
	tb.Helper()
	seed := sha256.Sum256([]byte("bikfed test key " + owner))
	k, err := KeyFromSeed(owner, seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// testKeys is a key directory holding the test keys of be, fr and the hub.
func testKeys(tb testing.TB) *KeyDirectory {
	tb.Helper()
	d := &KeyDirectory{}
	for _, o := range []string{"be", "fr", HubID} {
		k := testKey(tb, o)
		d.Keys = append(d.Keys, KeyInfo{KeyID: k.ID, Owner: o, PublicKey: k.Public(), CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	return d
}

// signRaw signs change bytes as they are, the way docs/protocol.md tells other
// implementations to: Ed25519 over "bikfed-change-v1\n" followed by the bytes.
func signRaw(k Key, raw []byte) Signed {
	return Signed{Change: raw, Sig: ed25519.Sign(k.Private, append([]byte("bikfed-change-v1\n"), raw...))}
}

// signedGolden signs testdata/valid_<kind>.json with its owner's test key.
func signedGolden(tb testing.TB, kind Kind) Signed {
	tb.Helper()
	raw := golden(tb, kind)
	owner := HubID
	if !kind.HubOnly() {
		owner = "be"
	}
	return signRaw(testKey(tb, owner), raw)
}

func TestKeyID(t *testing.T) {
	k := testKey(t, "be")
	if k.ID != "be-81bcc3dfb9ba630c" {
		t.Fatalf("KeyID = %q", k.ID)
	}
	sum := sha256.Sum256(k.Public())
	if want := "be-" + strings.ToLower(base16(sum[:8])); k.ID != want {
		t.Fatalf("KeyID = %q, want %q", k.ID, want)
	}
	if _, err := KeyFromSeed("be", make([]byte, 31)); err == nil {
		t.Fatal("KeyFromSeed accepted a 31-byte seed")
	}
	g, err := GenerateKey("fi")
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != KeyID("fi", g.Public()) {
		t.Fatalf("GenerateKey id %q", g.ID)
	}
	again, _ := KeyFromSeed("fi", g.Private.Seed())
	if again.ID != g.ID || !bytes.Equal(again.Private, g.Private) {
		t.Fatal("KeyFromSeed does not rebuild the generated key")
	}
}

func base16(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestKey_Sign(t *testing.T) {
	keys := testKeys(t).Lookup()
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			c, err := ParseChange(golden(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			c.KeyID = ""
			s, err := testKey(t, c.Owner).Sign(c)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if c.KeyID != testKey(t, c.Owner).ID {
				t.Fatalf("Sign set key_id %q", c.KeyID)
			}
			// Same change, same bytes: the golden files are Sign's encoding.
			if !bytes.Equal(s.Change, golden(t, kind)) {
				t.Fatalf("signed bytes differ from golden:\n got %s\nwant %s", s.Change, golden(t, kind))
			}
			got, err := Verify(s, keys)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.ID != c.ID || got.Version != c.Version {
				t.Fatalf("Verify returned %s v%d", got.ID, got.Version)
			}
			// The signature is the documented construction.
			if !ed25519.Verify(testKey(t, c.Owner).Public(), append([]byte("bikfed-change-v1\n"), s.Change...), s.Sig) {
				t.Fatal("signature is not Ed25519 over the context string and the change bytes")
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		c, _ := ParseChange(golden(t, KindPost))
		c.Body = mutate(t, c.Body, func(b, _ map[string]any) { b["text"] = strings.Repeat("x", MaxChangeBytes) })
		_, err := testKey(t, "be").Sign(c)
		if !errors.Is(err, ErrRecordTooLarge) {
			t.Fatalf("Sign: %v, want record_too_large", err)
		}
		var pe *Error
		if errors.As(err, &pe); pe.Record != c.ID {
			t.Fatalf("error names %q, want %q", pe.Record, c.ID)
		}
	})
	t.Run("invalid body JSON", func(t *testing.T) {
		c, _ := ParseChange(golden(t, KindPost))
		c.Body = json.RawMessage(`{"title":`)
		if _, err := testKey(t, "be").Sign(c); err == nil {
			t.Fatal("Sign encoded a broken body")
		}
	})
}

func TestVerify(t *testing.T) {
	dir := testKeys(t)
	keys := dir.Lookup()
	good := signedGolden(t, KindComment)
	if _, err := Verify(good, keys); err != nil {
		t.Fatalf("golden comment: %v", err)
	}

	t.Run("every byte of the change", func(t *testing.T) {
		for i := range good.Change {
			for _, flip := range []byte{0x01, 0x20, 0x80} {
				tampered := bytes.Clone(good.Change)
				tampered[i] ^= flip
				c, err := Verify(Signed{Change: tampered, Sig: good.Sig}, keys)
				if err == nil {
					t.Fatalf("byte %d (%q) ^ %#x: verified %s", i, good.Change[i], flip, tampered)
				}
				if c != nil && ErrorCode(err) == CodeInternal {
					t.Fatalf("byte %d: error without a code: %v", i, err)
				}
			}
		}
	})
	t.Run("every byte of the signature", func(t *testing.T) {
		for i := range good.Sig {
			sig := bytes.Clone(good.Sig)
			sig[i] ^= 0x01
			if _, err := Verify(Signed{Change: good.Change, Sig: sig}, keys); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("sig byte %d: %v, want bad_signature", i, err)
			}
		}
	})

	// Changes that are still valid but differ in one field must fail on the
	// signature alone: every field is covered.
	fieldEdits := map[string]func(c, b map[string]any){
		"v":          nil, // any other version is refused before the signature
		"id":         func(c, b map[string]any) { c["id"] = "be:01JKT3SAH0K6CSK6CSK6CSK6CT" },
		"kind":       nil, // a comment body is no other kind's body
		"owner":      nil, // owner, id and key_id move together; see "key of another owner"
		"version":    func(c, b map[string]any) { c["version"] = 3 },
		"seq":        func(c, b map[string]any) { c["seq"] = 46 },
		"updated_at": func(c, b map[string]any) { c["updated_at"] = "2025-02-11T09:15:00.001Z" },
		"visibility": func(c, b map[string]any) { c["visibility"] = "youth" },
		"publish_at": func(c, b map[string]any) { c["publish_at"] = "2030-01-01T00:00:00Z" },
		"deleted":    func(c, b map[string]any) { c["deleted"] = true; delete(c, "body") },
		"erased":     func(c, b map[string]any) { c["deleted"], c["erased"] = true, true; delete(c, "body") },
		"body":       func(c, b map[string]any) { b["text"] = "Same here!" },
		"blobs": func(c, b map[string]any) {
			c["blobs"] = []any{map[string]any{"sha256": strings.Repeat("a", 64), "size": 1, "media_type": "image/png", "name": "x.png"}}
		},
		"key_id": nil, // see "wrong key"
	}
	for field, edit := range fieldEdits {
		if edit == nil {
			continue
		}
		t.Run("field "+field, func(t *testing.T) {
			raw := mutate(t, good.Change, edit)
			if _, err := ParseChange(raw); err != nil {
				t.Fatalf("edited change is invalid, so the test proves nothing: %v", err)
			}
			if _, err := Verify(Signed{Change: raw, Sig: good.Sig}, keys); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify: %v, want bad_signature", err)
			}
		})
	}
	t.Run("field order", func(t *testing.T) {
		raw := mutate(t, good.Change, func(c, b map[string]any) {}) // sorted members, same values
		if bytes.Equal(raw, good.Change) {
			t.Fatal("re-encoding kept the bytes; pick another change")
		}
		if _, err := Verify(Signed{Change: raw, Sig: good.Sig}, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("same values, other bytes: %v, want bad_signature", err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		// The directory holds another public key under be's key id.
		other := testKey(t, "fr")
		d := testKeys(t)
		for i := range d.Keys {
			if d.Keys[i].Owner == "be" {
				d.Keys[i].PublicKey = other.Public()
			}
		}
		if _, err := Verify(good, d.Lookup()); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify: %v, want bad_signature", err)
		}
		// Signed by fr's key while claiming be's.
		forged := signRaw(other, good.Change)
		if _, err := Verify(forged, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("forged: %v, want bad_signature", err)
		}
	})
	t.Run("key of another owner", func(t *testing.T) {
		// A directory entry whose owner is not the change's owner.
		d := testKeys(t)
		for i := range d.Keys {
			if d.Keys[i].Owner == "be" {
				d.Keys[i].Owner = "fr"
			}
		}
		if _, err := Verify(good, d.Lookup()); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify: %v, want bad_signature", err)
		}
	})
	t.Run("unknown key id", func(t *testing.T) {
		fresh, err := GenerateKey("be")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := ParseChange(good.Change)
		s, err := fresh.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify(s, keys)
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Verify: %v, want unknown_key", err)
		}
		if got == nil || got.ID != c.ID {
			t.Fatal("Verify did not return the change, so the refusal cannot name it")
		}
	})
	t.Run("retired key", func(t *testing.T) {
		c, _ := ParseChange(good.Change)
		// Retired by the hub's clock an hour after the change's updated_at,
		// which a node writes and may backdate: only hub_seq decides.
		retiredAt := c.UpdatedAt.Add(time.Hour)
		tests := []struct {
			name    string
			retired int64 // retired_hub_seq; 0: in use
			hubSeq  int64 // 0: not sequenced yet (a push)
			ok      bool
		}{
			{"in use, push", 0, 0, true},
			{"in use, pulled", 0, 7, true},
			{"retired, push", 100, 0, false},
			{"retired, sequenced before", 100, 99, true},
			{"retired, sequenced at", 100, 100, true},
			{"retired, sequenced after", 100, 101, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				d := testKeys(t)
				for i := range d.Keys {
					if d.Keys[i].Owner == "be" && tc.retired > 0 {
						d.Keys[i].RetiredAt, d.Keys[i].RetiredHubSeq = &retiredAt, tc.retired
					}
				}
				_, err := VerifyAt(good, d.Lookup(), tc.hubSeq)
				if tc.ok && err != nil {
					t.Fatalf("VerifyAt: %v", err)
				}
				if !tc.ok && !errors.Is(err, ErrBadSignature) {
					t.Fatalf("VerifyAt: %v, want bad_signature", err)
				}
				if tc.hubSeq == 0 {
					if _, err2 := Verify(good, d.Lookup()); (err == nil) != (err2 == nil) {
						t.Fatalf("Verify = %v, VerifyAt(0) = %v", err2, err)
					}
				}
			})
		}
	})
	t.Run("signature of another change", func(t *testing.T) {
		post := signedGolden(t, KindPost)
		if _, err := Verify(Signed{Change: good.Change, Sig: post.Sig}, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify: %v, want bad_signature", err)
		}
	})
	t.Run("signature without the context string", func(t *testing.T) {
		bare := Signed{Change: good.Change, Sig: ed25519.Sign(testKey(t, "be").Private, good.Change)}
		if _, err := Verify(bare, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify: %v, want bad_signature", err)
		}
	})
	t.Run("signature length", func(t *testing.T) {
		for _, sig := range [][]byte{nil, good.Sig[:63], append(bytes.Clone(good.Sig), 0)} {
			if _, err := Verify(Signed{Change: good.Change, Sig: sig}, keys); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%d-byte sig: %v, want bad_signature", len(sig), err)
			}
		}
	})
	t.Run("public key length", func(t *testing.T) {
		d := testKeys(t)
		for i := range d.Keys {
			d.Keys[i].PublicKey = d.Keys[i].PublicKey[:31]
		}
		if _, err := Verify(good, d.Lookup()); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify: %v, want bad_signature", err)
		}
	})
	t.Run("invalid change", func(t *testing.T) {
		raw := mutate(t, good.Change, func(c, b map[string]any) { c["visibility"] = "public" })
		s := signRaw(testKey(t, "be"), raw)
		if _, err := Verify(s, keys); !errors.Is(err, ErrInvalidField) {
			t.Fatalf("Verify: %v, want invalid_field", err)
		}
	})
}

// oddChange is a valid change whose bytes json.Marshal would never produce:
// spaces and tabs between tokens, members out of struct order, raw HTML
// characters and escapes. Verbatim transport must keep it verifiable.
const oddChange = `{ "v" : 1,	"kind":"post" , "id":"be:01JKT3S9HREHT78X3MEHT78X3M","owner":"be","version":1,"seq":44,` +
	`"updated_at":"2025-02-11T09:10:00.5+01:00","visibility":"community",` +
	`"body":{"space":"blog","format":"blog","title":"Safer Internet Day <2026> & \"you\"",` +
	`"text":"<script>alert('x')</script> \u00e9t\u00e9 \/ é \u2028","language":"fr-BE","author":{ "sic":"be", "name":"SIC Belgium"}},` +
	`"key_id":"be-81bcc3dfb9ba630c" }`

func TestSigned_verbatim(t *testing.T) {
	keys := testKeys(t).Lookup()
	s := signRaw(testKey(t, "be"), []byte(oddChange))
	if _, err := Verify(s, keys); err != nil {
		t.Fatalf("odd change does not verify: %v", err)
	}
	t.Run("AppendSigned and DecodeSigned", func(t *testing.T) {
		line := AppendSigned(nil, s)
		if !bytes.Contains(line, []byte(oddChange)) {
			t.Fatalf("AppendSigned did not write the change verbatim: %s", line)
		}
		want := `{"change":` + oddChange + `,"sig":"` + base64.StdEncoding.EncodeToString(s.Sig) + `"}`
		if string(line) != want {
			t.Fatalf("AppendSigned =\n%s\nwant\n%s", line, want)
		}
		got, err := DecodeSigned(line)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Change) != oddChange || !bytes.Equal(got.Sig, s.Sig) {
			t.Fatalf("DecodeSigned changed the bytes: %s", got.Change)
		}
		if _, err := Verify(got, keys); err != nil {
			t.Fatalf("Verify after the round trip: %v", err)
		}
	})
	t.Run("AppendFeedItem and a decoded Feed", func(t *testing.T) {
		golden := signedGolden(t, KindResource)
		page := []byte(`{"hub_seq":1207,"next":1205,"more":true,"you":{"epoch":"e1","applied_seq":44},"changes":[`)
		page = AppendFeedItem(page, 1204, s)
		page = append(page, ',')
		page = AppendFeedItem(page, 1205, golden)
		page = append(page, "]}"...)
		if !bytes.Contains(page, []byte(oddChange)) {
			t.Fatal("AppendFeedItem did not write the change verbatim")
		}
		var feed Feed
		if err := json.Unmarshal(page, &feed); err != nil {
			t.Fatalf("decode feed: %v\n%s", err, page)
		}
		if feed.HubSeq != 1207 || feed.Next != 1205 || !feed.More || feed.You == nil || feed.You.AppliedSeq != 44 || len(feed.Changes) != 2 {
			t.Fatalf("feed = %+v", feed)
		}
		for i, want := range []Signed{s, golden} {
			item := feed.Changes[i]
			if item.HubSeq != []int64{1204, 1205}[i] {
				t.Fatalf("item %d hub_seq %d", i, item.HubSeq)
			}
			if !bytes.Equal(item.Change, want.Change) || !bytes.Equal(item.Sig, want.Sig) {
				t.Fatalf("item %d changed:\n got %s\nwant %s", i, item.Change, want.Change)
			}
			if _, err := Verify(item.Signed, keys); err != nil {
				t.Fatalf("item %d: %v", i, err)
			}
		}
		// The same page through a streaming decoder, as Client.Changes reads it.
		var streamed Feed
		if err := json.NewDecoder(bytes.NewReader(page)).Decode(&streamed); err != nil {
			t.Fatal(err)
		}
		if string(streamed.Changes[0].Change) != oddChange {
			t.Fatal("streaming decode changed the bytes")
		}
	})
	t.Run("pretty-printed feed", func(t *testing.T) {
		// Whitespace around the change member is the feed's, not the change's.
		page := "{\n  \"hub_seq\": 9,\n  \"next\": 9,\n  \"more\": false,\n  \"changes\": [\n    {\n      \"hub_seq\" : 9 ,\n      \"change\" :  " +
			oddChange + "  ,\n      \"sig\": \"" + base64.StdEncoding.EncodeToString(s.Sig) + "\"\n    }\n  ]\n}\n"
		var feed Feed
		if err := json.Unmarshal([]byte(page), &feed); err != nil {
			t.Fatal(err)
		}
		if string(feed.Changes[0].Change) != oddChange {
			t.Fatalf("got %q", feed.Changes[0].Change)
		}
		if _, err := Verify(feed.Changes[0].Signed, keys); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("re-encoding breaks the signature", func(t *testing.T) {
		// Why the rule exists: encoding/json compacts and escapes what it
		// re-encodes, and the signature no longer matches.
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Signed
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(back, keys); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("re-encoded change: %v, want bad_signature", err)
		}
	})
}

func TestDecodeSigned(t *testing.T) {
	s := signedGolden(t, KindPost)
	sig := base64.StdEncoding.EncodeToString(s.Sig)
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"ok", `{"change":` + string(s.Change) + `,"sig":"` + sig + `"}`, true},
		{"members swapped", `{"sig":"` + sig + `","change":` + string(s.Change) + `}`, true},
		{"spaces", ` { "change" : ` + string(s.Change) + ` , "sig" : "` + sig + `" } `, true},
		{"empty", ``, false},
		{"not an object", `[]`, false},
		{"change missing", `{"sig":"` + sig + `"}`, false},
		{"change a string", `{"change":"x","sig":"` + sig + `"}`, false},
		{"change null", `{"change":null,"sig":"` + sig + `"}`, false},
		{"sig missing", `{"change":` + string(s.Change) + `}`, false},
		{"sig not base64", `{"change":` + string(s.Change) + `,"sig":"%%%"}`, false},
		{"unknown member", `{"change":` + string(s.Change) + `,"sig":"` + sig + `","hub_seq":3}`, false},
		{"trailing data", `{"change":` + string(s.Change) + `,"sig":"` + sig + `"}{}`, false},
		{"truncated", `{"change":` + string(s.Change) + `,"sig":"` + sig, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeSigned([]byte(tc.line))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeSigned: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (!bytes.Equal(got.Change, s.Change) || !bytes.Equal(got.Sig, s.Sig)) {
				t.Fatal("DecodeSigned did not keep the bytes")
			}
		})
	}
}

func TestSigned_Hash(t *testing.T) {
	s := signedGolden(t, KindResource)
	if s.Hash() != sha256.Sum256(golden(t, KindResource)) {
		t.Fatal("Hash is not SHA-256 of the change bytes")
	}
	other := s
	other.Sig = bytes.Clone(s.Sig)
	other.Sig[0] ^= 1
	if other.Hash() != s.Hash() {
		t.Fatal("Hash covers the signature; it should cover the change bytes only")
	}
}

func TestKeyDirectory_Lookup(t *testing.T) {
	d := testKeys(t)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back KeyDirectory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	look := back.Lookup()
	k, ok := look("be-81bcc3dfb9ba630c")
	if !ok || k.Owner != "be" || !bytes.Equal(k.PublicKey, testKey(t, "be").Public()) {
		t.Fatalf("lookup = %+v, %v", k, ok)
	}
	if _, ok := look("be-0000000000000000"); ok {
		t.Fatal("found a key that is not there")
	}
	if !strings.Contains(string(b), `"public_key":"`+base64.StdEncoding.EncodeToString(testKey(t, "be").Public())+`"`) {
		t.Fatalf("public key is not standard base64 on the wire: %s", b)
	}
}

func BenchmarkParseChange(b *testing.B) {
	raw := golden(b, KindResource)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseChange(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := signedGolden(b, KindResource)
	keys := testKeys(b).Lookup()
	for b.Loop() {
		if _, err := Verify(s, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSign_docs pins the test vector of docs/protocol.md.
func TestSign_docs(t *testing.T) {
	k := testKey(t, "be")
	if got := base16(k.Private.Seed()); got != "ce74d62a75e9f2cf4c5e223b8773f3a24499d21e3b3ed6a289559bcadb0d52b2" {
		t.Fatalf("seed %s", got)
	}
	if got := base64.StdEncoding.EncodeToString(k.Public()); got != "fmGCS44trGSngl4cNHsIz5ptvVBep5VP+X76nvHn0kc=" {
		t.Fatalf("public key %s", got)
	}
	s := signedGolden(t, KindComment)
	if got := base64.StdEncoding.EncodeToString(s.Sig); got != "wo3s8Dm/P47UHNBoYBBi/8je77IbJujxjRwn2UavQb2a5NT8HWCLevmogblwKm3pz67Tjdi7j7GwbWHH2V9rAg==" {
		t.Fatalf("sig %s", got)
	}
}
