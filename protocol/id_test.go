package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidNodeID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"be", true},
		{"hub", true},
		{"fi", true},
		{"sic-plus-ua", true},
		{"a1", true},
		{"abcdefghijklmnop", true}, // 16
		{"", false},
		{"b", false},
		{"abcdefghijklmnopq", false}, // 17
		{"BE", false},
		{"Be", false},
		{"1be", false},
		{"-be", false},
		{"b_e", false},
		{"b.e", false},
		{"b e", false},
		{"bé", false},
		{"be:x", false},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			err := ValidNodeID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidNodeID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
		})
	}
}

func TestNewULID(t *testing.T) {
	t.Run("known answer", func(t *testing.T) {
		// 2025-02-11T09:00:00Z is 1739264400000 ms; ten 0x05 bytes of entropy.
		at := time.Date(2025, 2, 11, 9, 0, 0, 0, time.UTC)
		got, err := NewULID(at, bytes.NewReader(bytes.Repeat([]byte{5}, 10)))
		if err != nil {
			t.Fatal(err)
		}
		if want := "01JKT3S6M00M2GA1850M2GA185"; got != want {
			t.Fatalf("NewULID = %q, want %q", got, want)
		}
	})
	t.Run("extremes", func(t *testing.T) {
		got, _ := NewULID(time.UnixMilli(0), bytes.NewReader(make([]byte, 10)))
		if want := strings.Repeat("0", 26); got != want {
			t.Fatalf("zero ULID = %q, want %q", got, want)
		}
		got, _ = NewULID(time.UnixMilli(1<<48-1), bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
		if want := "7" + strings.Repeat("Z", 25); got != want {
			t.Fatalf("max ULID = %q, want %q", got, want)
		}
	})
	t.Run("length and alphabet", func(t *testing.T) {
		for range 200 {
			u, err := NewULID(time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(u) != 26 {
				t.Fatalf("%q has %d characters, want 26", u, len(u))
			}
			if u[0] > '7' {
				t.Fatalf("%q: first digit above 7 overflows 128 bits", u)
			}
			for _, c := range u {
				if !strings.ContainsRune(crockford, c) {
					t.Fatalf("%q has %q, not in the Crockford alphabet", u, c)
				}
				if strings.ContainsRune("ILOU", c) {
					t.Fatalf("%q has the excluded letter %q", u, c)
				}
			}
		}
	})
	t.Run("sorts by time", func(t *testing.T) {
		base := time.Date(2025, 2, 11, 9, 0, 0, 0, time.UTC)
		prev := ""
		for i, d := range []time.Duration{0, time.Millisecond, time.Second, time.Hour, 24 * time.Hour, 10 * 365 * 24 * time.Hour} {
			// Maximal entropy first, minimal later: the time still decides.
			ent := bytes.Repeat([]byte{0xff}, 10)
			if i > 0 {
				ent = make([]byte, 10)
			}
			u, err := NewULID(base.Add(d), bytes.NewReader(ent))
			if err != nil {
				t.Fatal(err)
			}
			if prev != "" && u <= prev {
				t.Fatalf("ULID at +%v = %q does not sort after %q", d, u, prev)
			}
			prev = u
		}
	})
	t.Run("entropy failure", func(t *testing.T) {
		if _, err := NewULID(time.Now(), bytes.NewReader([]byte{1, 2, 3})); err == nil {
			t.Fatal("short entropy: want an error")
		}
	})
	t.Run("unique", func(t *testing.T) {
		at := time.Now()
		seen := map[string]bool{}
		for range 1000 {
			u, err := NewULID(at, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if seen[u] {
				t.Fatalf("duplicate ULID %q", u)
			}
			seen[u] = true
		}
	})
}

func TestNewEntityID(t *testing.T) {
	id, err := NewEntityID("be", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	owner, err := SplitEntityID(id)
	if err != nil || owner != "be" {
		t.Fatalf("SplitEntityID(%q) = %q, %v", id, owner, err)
	}
}

func TestSplitEntityID(t *testing.T) {
	tests := []struct {
		id, owner string
	}{
		{"be:01JKT3S6M00M2GA1850M2GA185", "be"},
		{"hub:01JKT3SCFGWFHY7RZ3WFHY7RZ3", "hub"},
		{"sic-plus-ua:7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "sic-plus-ua"},
		{"be:00000000000000000000000000", "be"},
		{"", ""},
		{"be", ""},
		{"be:", ""},
		{":01JKT3S6M00M2GA1850M2GA185", ""},
		{"BE:01JKT3S6M00M2GA1850M2GA185", ""},
		{"be:01jkt3s6m00m2ga1850m2ga185", ""},  // lowercase is not the canonical form
		{"be:01JKT3S6M00M2GA1850M2GA18", ""},   // 25
		{"be:01JKT3S6M00M2GA1850M2GA1855", ""}, // 27
		{"be:81JKT3S6M00M2GA1850M2GA185", ""},  // overflows 128 bits
		{"be:01JKT3S6M00M2GA1850M2GA18U", ""},  // U is not Crockford
		{"be:01JKT3S6M00M2GA1850M2GA18I", ""},
		{"be:01JKT3S6M00M2GA1850M2GA18L", ""},
		{"be:01JKT3S6M00M2GA1850M2GA18O", ""},
		{"be:01JKT3S6M00M2GA1850M2GA18-", ""},
		{"be:x:01JKT3S6M00M2GA1850M2GA185", ""},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			owner, err := SplitEntityID(tc.id)
			if tc.owner == "" {
				if err == nil {
					t.Fatalf("SplitEntityID(%q) = %q, want an error", tc.id, owner)
				}
				return
			}
			if err != nil || owner != tc.owner {
				t.Fatalf("SplitEntityID(%q) = %q, %v; want %q", tc.id, owner, err, tc.owner)
			}
		})
	}
	t.Run("error is not a protocol error", func(t *testing.T) {
		// Callers wrap it into a field error; it must not pose as a code of its own.
		_, err := SplitEntityID("nope")
		var pe *Error
		if errors.As(err, &pe) {
			t.Fatalf("got protocol error %v", pe)
		}
	})
}
