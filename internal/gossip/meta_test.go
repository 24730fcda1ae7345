package gossip

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestMeta_Encode(t *testing.T) {
	valid := Meta{ID: "be", Role: RoleNode, Epoch: "01J0ABCDEF", Seq: 123, API: "https://bikfed.saferinternet.be", Protocol: 1}
	// fit returns valid with an API URL padded so the encoding is n bytes.
	fit := func(n int) Meta {
		m := valid
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m.API += "/" + strings.Repeat("a", n-len(b)-1)
		return m
	}
	tests := []struct {
		name    string
		meta    Meta
		wantErr string
	}{
		{"valid", valid, ""},
		{"hub without epoch", Meta{ID: "hub", Role: RoleHub, Seq: 99999, Protocol: 1}, ""},
		{"mirror at zero", Meta{ID: "mirror-1", Role: RoleMirror}, ""},
		{"exactly the cap", fit(MaxMetaSize), ""},
		{"one byte over the cap", fit(MaxMetaSize + 1), "exceeds 256 bytes"},
		{"no id", Meta{Role: RoleNode}, "id:"},
		{"bad id", Meta{ID: "BE", Role: RoleNode}, "id:"},
		{"no role", Meta{ID: "be"}, "role: required"},
		{"unknown role", Meta{ID: "be", Role: "boss"}, "role:"},
		{"negative seq", Meta{ID: "be", Role: RoleNode, Seq: -1}, "seq:"},
		{"negative protocol", Meta{ID: "be", Role: RoleNode, Protocol: -1}, "protocol:"},
		{"epoch with space", Meta{ID: "be", Role: RoleNode, Epoch: "a b"}, "epoch:"},
		{"epoch too long", Meta{ID: "be", Role: RoleNode, Epoch: strings.Repeat("e", 65)}, "epoch:"},
		{"api not http", Meta{ID: "be", Role: RoleNode, API: "ftp://example.org"}, "api:"},
		{"api relative", Meta{ID: "be", Role: RoleNode, API: "/v1"}, "api:"},
		{"api with newline", Meta{ID: "be", Role: RoleNode, API: "http://example.org/\nINFO fake"}, "api:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.meta.Encode()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Encode = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if len(b) > MaxMetaSize {
				t.Fatalf("encoded %d bytes", len(b))
			}
			got, err := DecodeMeta(b)
			if err != nil {
				t.Fatalf("DecodeMeta(%s): %v", b, err)
			}
			if got != tt.meta {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.meta)
			}
		})
	}
	if _, err := fit(MaxMetaSize + 1).Encode(); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("oversized meta: %v, want ErrMetaTooLarge", err)
	}
}

// TestMeta_Golden pins the wire form: members of different versions must
// keep reading each other's metadata.
func TestMeta_Golden(t *testing.T) {
	golden, err := os.ReadFile("testdata/meta-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	golden = bytes.TrimSpace(golden)
	m := Meta{ID: "be", Role: RoleNode, Epoch: "01J0ABCDEF", Seq: 123, API: "https://bikfed.saferinternet.be", Protocol: 1}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, golden) {
		t.Errorf("Encode = %s\nwant      %s", b, golden)
	}
	got, err := DecodeMeta(golden)
	if err != nil || got != m {
		t.Errorf("DecodeMeta(golden) = %+v, %v", got, err)
	}
}

func TestDecodeMeta(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Meta
		wantErr string
	}{
		{"minimal", `{"i":"be","r":"node"}`, Meta{ID: "be", Role: RoleNode}, ""},
		{"keys added later are ignored", `{"i":"be","r":"node","s":5,"zz":[1,2]}`, Meta{ID: "be", Role: RoleNode, Seq: 5}, ""},
		{"a role added later is accepted", `{"i":"be","r":"archive"}`, Meta{ID: "be", Role: "archive"}, ""},
		{"empty", ``, Meta{}, "empty"},
		{"too large", `{"i":"be","r":"node","a":"http://x/` + strings.Repeat("a", 600) + `"}`, Meta{}, "more than 512"},
		{"not json", `be,node`, Meta{}, "decode gossip meta"},
		{"trailing data", `{"i":"be","r":"node"}{}`, Meta{}, "decode gossip meta"},
		{"null", `null`, Meta{}, "id:"},
		{"array", `[]`, Meta{}, "decode gossip meta"},
		{"wrong type", `{"i":"be","r":"node","s":"5"}`, Meta{}, "decode gossip meta"},
		{"seq overflow", `{"i":"be","r":"node","s":99999999999999999999}`, Meta{}, "decode gossip meta"},
		{"negative seq", `{"i":"be","r":"node","s":-3}`, Meta{}, "seq:"},
		{"bad id", `{"i":"../etc","r":"node"}`, Meta{}, "id:"},
		{"role with symbols", `{"i":"be","r":"<b>"}`, Meta{}, "role:"},
		{"control character in api", `{"i":"be","r":"node","a":"http://x/\u001b[31m"}`, Meta{}, "api:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeMeta([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeMeta = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DecodeMeta = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// FuzzDecodeMeta feeds DecodeMeta what any host that reaches the gossip port
// with the key could send.
func FuzzDecodeMeta(f *testing.F) {
	if golden, err := os.ReadFile("testdata/meta-v1.json"); err == nil {
		f.Add(bytes.TrimSpace(golden))
	}
	for _, s := range []string{
		`{"i":"hub","r":"hub","s":1}`,
		`{"i":"be","r":"node","e":"x","s":9223372036854775807,"a":"http://a","p":1}`,
		`{"i":"be","r":"archive","zz":{}}`,
		`null`, ``, `{"i":"b\u00e9","r":"node"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if err := m.validate(true); err != nil {
			t.Fatalf("DecodeMeta accepted invalid %+v: %v", m, err)
		}
		enc, err := m.Encode()
		if err != nil {
			// Unknown roles, and inputs padded up to 512 bytes, decode but
			// are not ours to send.
			return
		}
		again, err := DecodeMeta(enc)
		if err != nil || again != m {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", enc, again, err, m)
		}
	})
}

func TestParseLeaveMessage(t *testing.T) {
	tests := []struct {
		in      []byte
		want    string
		wantErr bool
	}{
		{leaveMessage("be"), "be", false},
		{leaveMessage("mirror-1"), "mirror-1", false},
		{nil, "", true},
		{[]byte("L"), "", true},
		{[]byte("Xbe"), "", true},
		{leaveMessage("BE"), "", true},
		{leaveMessage(strings.Repeat("a", 17)), "", true},
		{append(leaveMessage("be"), 0), "", true},
	}
	for _, tt := range tests {
		got, err := parseLeaveMessage(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLeaveMessage(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// FuzzParseLeaveMessage feeds the user-message handler arbitrary packets.
func FuzzParseLeaveMessage(f *testing.F) {
	f.Add(leaveMessage("be"))
	f.Add([]byte{})
	f.Add([]byte("L\xff\xfe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := parseLeaveMessage(b)
		if err != nil {
			return
		}
		if !bytes.Equal(leaveMessage(name), b) {
			t.Fatalf("parseLeaveMessage(%q) = %q, which does not round-trip", b, name)
		}
	})
}
