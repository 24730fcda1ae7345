package account

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func TestParseToken(t *testing.T) {
	tok, hash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := parseToken(tok)
	if !ok || !bytes.Equal(got, hash) {
		t.Fatalf("parseToken(newToken()) = %x, %v; want %x", got, ok, hash)
	}
	for _, bad := range []string{"", "x", tok[:42], tok + "A", tok[:42] + "=", tok[:42] + "+", tok[:42] + "/", tok[:41] + "\x00A", tok[:20] + "\r\n" + tok[20:41]} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	tok, _, err := newToken()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseToken(s)
		if !ok {
			return
		}
		if len(s) != tokenLen {
			t.Fatalf("parseToken accepted %d characters", len(s))
		}
		b, err := tokenEncoding.DecodeString(s)
		if err != nil || tokenEncoding.EncodeToString(b) != s {
			t.Fatalf("parseToken accepted %q, not the canonical encoding of 32 bytes", s)
		}
		if want := sha256.Sum256([]byte(s)); !bytes.Equal(h, want[:]) {
			t.Fatalf("parseToken hash differs from SHA-256 of the token")
		}
	})
}
