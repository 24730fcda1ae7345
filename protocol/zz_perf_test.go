package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func perfSigned(tb testing.TB) (Signed, []byte) {
	c, err := ParseChange(golden(tb, KindResource))
	if err != nil {
		tb.Fatal(err)
	}
	var r Resource
	json.Unmarshal(c.Body, &r)
	r.Description = strings.Repeat("Practical advice for parents and teachers. ", 18)
	c.Body, _ = json.Marshal(r)
	c.Blobs = nil
	raw, _ := json.Marshal(c)
	s := signRaw(testKey(tb, "be"), raw)
	return s, AppendSigned(nil, s)
}

func BenchmarkPerf_DecodeSignedLine(b *testing.B) {
	_, line := perfSigned(b)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		var s Signed
		if err := decodeSignedLine(line, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_ParseChange(b *testing.B) {
	s, _ := perfSigned(b)
	b.SetBytes(int64(len(s.Change)))
	for b.Loop() {
		if _, err := ParseChange(s.Change); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_Verify(b *testing.B) {
	s, _ := perfSigned(b)
	keys := fuzzKeys(b)
	for b.Loop() {
		if _, err := Verify(s, keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_VerifySignature(b *testing.B) {
	s, _ := perfSigned(b)
	pub := testKey(b, "be").Public()
	for b.Loop() {
		if !VerifySignature(pub, s.Change, s.Sig) {
			b.Fatal("bad")
		}
	}
}

func BenchmarkPerf_JSONValid(b *testing.B) {
	s, _ := perfSigned(b)
	b.SetBytes(int64(len(s.Change)))
	for b.Loop() {
		if !json.Valid(s.Change) {
			b.Fatal("bad")
		}
	}
}

func BenchmarkPerf_Strict(b *testing.B) {
	s, _ := perfSigned(b)
	b.SetBytes(int64(len(s.Change)))
	for b.Loop() {
		if err := checkStrictJSON(s.Change); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_UnmarshalEnvelope(b *testing.B) {
	s, _ := perfSigned(b)
	b.SetBytes(int64(len(s.Change)))
	for b.Loop() {
		var c Change
		if err := json.Unmarshal(s.Change, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_DecoderEnvelope(b *testing.B) {
	s, _ := perfSigned(b)
	b.SetBytes(int64(len(s.Change)))
	for b.Loop() {
		var c Change
		dec := json.NewDecoder(bytes.NewReader(s.Change))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_DecodeBody(b *testing.B) {
	s, _ := perfSigned(b)
	c, _ := ParseChange(s.Change)
	b.SetBytes(int64(len(c.Body)))
	for b.Loop() {
		if _, err := DecodeBody(c.Kind, c.Body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_UnmarshalBody(b *testing.B) {
	s, _ := perfSigned(b)
	c, _ := ParseChange(s.Change)
	b.SetBytes(int64(len(c.Body)))
	for b.Loop() {
		var r Resource
		if err := json.Unmarshal(c.Body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPerf_Validate(b *testing.B) {
	s, _ := perfSigned(b)
	c, _ := ParseChange(s.Change)
	for b.Loop() {
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
