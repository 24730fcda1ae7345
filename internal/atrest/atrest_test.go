package atrest

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
	"github.com/klauspost/compress/zstd"
	_ "modernc.org/sqlite"
)

func signedResources(t testing.TB, n int) [][]byte {
	t.Helper()
	key, err := protocol.GenerateKey("be")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var out [][]byte
	for i, d := range sampledata.Synthetic("be", n, 2026) {
		id, err := protocol.NewEntityID("be", now)
		if err != nil {
			t.Fatal(err)
		}
		s, err := key.Sign(&protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: "be", Version: 1,
			Seq: int64(i + 1), UpdatedAt: now, Visibility: d.Visibility, Body: d.Body})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(s.Change))
	}
	return out
}

func TestRoundTripAndRatio(t *testing.T) {
	var raw, stored int
	for _, c := range signedResources(t, 200) {
		z, err := Compress(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(z, magic) {
			t.Fatalf("a %d-byte change was left uncompressed", len(c))
		}
		back, err := Decompress(z)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, c) {
			t.Fatal("decompressed bytes differ from the signed bytes")
		}
		raw += len(c)
		stored += len(z)
	}
	ratio := float64(stored) / float64(raw)
	t.Logf("%d bytes stored for %d signed (%.2f)", stored, raw, ratio)
	// The dictionary is what makes short changes compress: without it zstd
	// keeps about two thirds of a 1 KB change.
	if ratio > 0.5 {
		t.Fatalf("stored/signed = %.2f, want at most 0.5", ratio)
	}
}

func TestRawValuesPassThrough(t *testing.T) {
	for _, v := range [][]byte{nil, {}, []byte(`{"v":1}`), []byte("x")} {
		z, err := Compress(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decompress(z)
		if err != nil || !bytes.Equal(back, v) {
			t.Fatalf("%q: got %q, %v", v, back, err)
		}
	}
	// Rows written before compression read back as they are.
	if b, err := Decompress([]byte(`{"id":"be:1"}`)); err != nil || string(b) != `{"id":"be:1"}` {
		t.Fatalf("raw row: %q, %v", b, err)
	}
	if _, err := Compress(append(bytes.Clone(magic), 'x')); err == nil {
		t.Fatal("a value that looks like a frame was accepted")
	}
	if _, err := Compress(make([]byte, MaxSize+1)); err == nil {
		t.Fatal("a value above MaxSize was accepted")
	}
}

func TestFramesBeyondLimitRefused(t *testing.T) {
	big := bytes.Repeat([]byte("a"), MaxSize+1)
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress(e.EncodeAll(big, nil)); err == nil {
		t.Fatal("a frame larger than MaxSize was decoded")
	}
	// A frame that does not say how big it is may hold maxUnsized bytes.
	for _, n := range []int{maxUnsized, maxUnsized + 1, 4096} {
		frame := unsizedFrame(bytes.Repeat([]byte("a"), n))
		var h zstd.Header
		if err := h.Decode(frame); err != nil || h.HasFCS {
			t.Fatalf("test frame declares its size (%v)", err)
		}
		if _, err := Decompress(frame); (err == nil) != (n <= maxUnsized) {
			t.Fatalf("unsized frame of %d bytes: err %v", n, err)
		}
	}
	// Short values are compressed too, in frames without a size.
	short := []byte(`{"v":1,"id":"be:01J0000000000000000000000","kind":"resource","deleted":true,"erased":true}`)
	z, err := Compress(short)
	if err != nil || len(z) >= len(short) {
		t.Fatalf("short value: %d bytes stored for %d (%v)", len(z), len(short), err)
	}
	if back, err := Decompress(z); err != nil || !bytes.Equal(back, short) {
		t.Fatalf("short value: %q, %v", back, err)
	}
	z, err = Compress(signedResources(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decompress(z[:len(z)-3]); err == nil {
		t.Fatal("a truncated frame was decoded")
	}
}

func TestSQLFunctions(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := signedResources(t, 1)[0]
	if _, err := db.Exec(`CREATE TABLE t (z BLOB, change BLOB GENERATED ALWAYS AS (atrest_decompress(z)) VIRTUAL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t (z) VALUES (atrest_compress(?)), (NULL)`, c); err != nil {
		t.Fatal(err)
	}
	var z, back []byte
	if err := db.QueryRow(`SELECT z, change FROM t WHERE z IS NOT NULL`).Scan(&z, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, c) || len(z) >= len(c) {
		t.Fatalf("stored %d bytes for %d, read back equal: %v", len(z), len(c), bytes.Equal(back, c))
	}
	var sum []byte
	if err := db.QueryRow(`SELECT atrest_sha256(z) FROM t WHERE z IS NOT NULL`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(c); !bytes.Equal(sum, h[:]) {
		t.Fatal("atrest_sha256 is not the SHA-256 of the stored bytes")
	}
	var null sql.NullString
	if err := db.QueryRow(`SELECT change FROM t WHERE z IS NULL`).Scan(&null); err != nil || null.Valid {
		t.Fatalf("NULL stored: %v, %v", null, err)
	}
	if _, err := db.Exec(`SELECT atrest_decompress(?)`, append(bytes.Clone(magic), 1, 2, 3)); err == nil {
		t.Fatal("a broken frame read without an error")
	}
}

// unsizedFrame is a zstd frame holding b in one raw block, with an 8 KiB
// window and no content size.
func unsizedFrame(b []byte) []byte {
	h := 1 | len(b)<<3 // last block, raw
	out := append(bytes.Clone(magic), 0x00, 3<<3, byte(h), byte(h>>8), byte(h>>16))
	return append(out, b...)
}

func TestReveal(t *testing.T) {
	c := signedResources(t, 2)
	z0, _ := Compress(c[0])
	z1, _ := Compress(c[1])
	marker := []byte(`"title":`)
	if bytes.Contains(z0, marker) {
		t.Fatal("the marker shows in the compressed bytes: the test shows nothing")
	}
	// A frame cut short, then a whole one, amid other bytes.
	file := append(append(append([]byte("page header"), z1[:len(z1)/2]...), 0, 0, 0), z0...)
	got := Reveal(file)
	if !bytes.Contains(got, c[0]) || !bytes.HasPrefix(got, file) {
		t.Fatal("a whole frame after a cut one is not revealed")
	}
}
