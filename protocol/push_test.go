package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// pushHeader is the header line of the test pushes.
const pushHeader = `{"node":"be","epoch":"01JKT3S6M00M2GA1850M2GA185","from_seq":42,"to_seq":46,"head_seq":50}`

// readAll reads every record of a push body, and the error that ended it.
func readAll(tb testing.TB, p *PushReader) ([]PushRecord, error) {
	tb.Helper()
	var out []PushRecord
	for range 100000 {
		rec, err := p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, rec)
	}
	tb.Fatal("Next never ended")
	return nil, nil
}

// line returns the push line of a signed change.
func line(s Signed) string { return string(AppendSigned(nil, s)) }

func TestNewPushReader(t *testing.T) {
	tests := []struct {
		name string
		body string
		code Code
	}{
		{"empty body", "", CodeBadRequest},
		{"blank header", "\n" + pushHeader + "\n", CodeMalformedJSON},
		{"not JSON", "hello\n", CodeMalformedJSON},
		{"unknown member", `{"node":"be","epoch":"e","from_seq":1,"to_seq":1,"head_seq":1,"extra":1}`, CodeMalformedJSON},
		{"trailing data", `{"node":"be","epoch":"e","from_seq":1,"to_seq":1,"head_seq":1} {}`, CodeMalformedJSON},
		{"no node", `{"epoch":"e","from_seq":1,"to_seq":1,"head_seq":1}`, CodeBadRequest},
		{"bad node", `{"node":"BE","epoch":"e","from_seq":1,"to_seq":1,"head_seq":1}`, CodeBadRequest},
		{"no epoch", `{"node":"be","from_seq":1,"to_seq":1,"head_seq":1}`, CodeBadRequest},
		{"epoch too long", `{"node":"be","epoch":"` + strings.Repeat("e", 65) + `","from_seq":1,"to_seq":1,"head_seq":1}`, CodeBadRequest},
		{"from_seq 0", `{"node":"be","epoch":"e","from_seq":0,"to_seq":1,"head_seq":1}`, CodeBadRequest},
		{"to_seq before from_seq", `{"node":"be","epoch":"e","from_seq":5,"to_seq":4,"head_seq":9}`, CodeBadRequest},
		{"head_seq before to_seq", `{"node":"be","epoch":"e","from_seq":1,"to_seq":4,"head_seq":3}`, CodeBadRequest},
		{"range too wide", fmt.Sprintf(`{"node":"be","epoch":"e","from_seq":1,"to_seq":%d,"head_seq":%d}`, 4*MaxBatchChanges+1, 4*MaxBatchChanges+1), CodeBatchTooLarge},
		{"header too long", `{"node":"be","epoch":"` + strings.Repeat("e", maxLine) + `"}` + "\n", CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPushReader(strings.NewReader(tc.body))
			if got := ErrorCode(err); err == nil || got != tc.code {
				t.Fatalf("NewPushReader: %v (code %q), want %q", err, got, tc.code)
			}
		})
	}
	t.Run("header only, no newline", func(t *testing.T) {
		p, err := NewPushReader(strings.NewReader(pushHeader))
		if err != nil {
			t.Fatal(err)
		}
		want := PushHeader{Node: "be", Epoch: "01JKT3S6M00M2GA1850M2GA185", FromSeq: 42, ToSeq: 46, HeadSeq: 50}
		if p.Header() != want {
			t.Fatalf("header %+v", p.Header())
		}
		if _, err := p.Next(); err != io.EOF {
			t.Fatalf("Next: %v, want io.EOF", err)
		}
	})
	t.Run("widest range", func(t *testing.T) {
		h := fmt.Sprintf(`{"node":"be","epoch":"e","from_seq":1,"to_seq":%d,"head_seq":%d}`, 4*MaxBatchChanges, 4*MaxBatchChanges)
		if _, err := NewPushReader(strings.NewReader(h)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPushReader_Next(t *testing.T) {
	var signed []Signed
	for _, k := range []Kind{KindResource, KindTranslation, KindPost, KindComment, KindProfile} {
		signed = append(signed, signedGolden(t, k))
	}

	t.Run("records in order", func(t *testing.T) {
		var body strings.Builder
		body.WriteString(pushHeader + "\n")
		for _, s := range signed {
			body.WriteString(line(s) + "\n")
		}
		p, err := NewPushReader(strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(signed) {
			t.Fatalf("%d records, want %d", len(recs), len(signed))
		}
		for i, r := range recs {
			if r.Refusal != nil {
				t.Fatalf("record %d refused: %+v", i, r.Refusal)
			}
			if r.Line != i+2 {
				t.Fatalf("record %d on line %d, want %d", i, r.Line, i+2)
			}
			if !bytes.Equal(r.Signed.Change, signed[i].Change) || !bytes.Equal(r.Signed.Sig, signed[i].Sig) {
				t.Fatalf("record %d changed", i)
			}
		}
	})

	t.Run("malformed line", func(t *testing.T) {
		broken := strings.Replace(line(signed[1]), `"kind":"translation"`, `"kind":translation`, 1)
		noSig := `{"change":` + string(signed[2].Change) + `}`
		body := pushHeader + "\n" + line(signed[0]) + "\n" + broken + "\n" + noSig + "\nnot json at all\n" + line(signed[3]) + "\n"
		p, err := NewPushReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 5 {
			t.Fatalf("%d records, want 5", len(recs))
		}
		want := []*Refusal{
			nil,
			{Line: 3, ID: "be:01JKT3S7K858N2MAHA58N2MAHA", Seq: 43, Code: CodeMalformedJSON},
			{Line: 4, ID: "be:01JKT3S9HREHT78X3MEHT78X3M", Seq: 44, Code: CodeMalformedJSON},
			{Line: 5, Code: CodeMalformedJSON},
			nil,
		}
		for i, r := range recs {
			w := want[i]
			if w == nil {
				if r.Refusal != nil {
					t.Fatalf("record %d refused: %+v", i, r.Refusal)
				}
				continue
			}
			got := r.Refusal
			if got == nil {
				t.Fatalf("record %d (line %d) not refused", i, r.Line)
			}
			if got.Line != w.Line || r.Line != w.Line || got.ID != w.ID || got.Seq != w.Seq || got.Code != w.Code || got.Reason == "" {
				t.Fatalf("record %d refusal %+v, want %+v", i, got, w)
			}
		}
		if n := recs[1].Refusal.Name(); n != "be:01JKT3S7K858N2MAHA58N2MAHA" {
			t.Fatalf("Name() = %q", n)
		}
		if n := recs[3].Refusal.Name(); n != "line 5" {
			t.Fatalf("Name() = %q", n)
		}
	})

	t.Run("line over the limit", func(t *testing.T) {
		c, _ := ParseChange(signed[2].Change)
		huge := `{"change":{"v":1,"id":"` + c.ID + `","seq":44,"body":{"text":"` + strings.Repeat("x", maxLine) + `"}},"sig":"AA=="}`
		body := pushHeader + "\n" + line(signed[0]) + "\n" + huge + "\n" + line(signed[3]) + "\n" + line(signed[4])
		p, err := NewPushReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 {
			t.Fatalf("%d records, want 4", len(recs))
		}
		r := recs[1].Refusal
		if r == nil || r.Code != CodeRecordTooLarge || r.Line != 3 || r.ID != c.ID || r.Seq != 44 {
			t.Fatalf("refusal %+v", r)
		}
		for _, i := range []int{0, 2, 3} {
			if recs[i].Refusal != nil {
				t.Fatalf("record %d refused: %+v", i, recs[i].Refusal)
			}
		}
		if recs[3].Line != 5 || !bytes.Equal(recs[3].Signed.Change, signed[4].Change) {
			t.Fatalf("last record line %d", recs[3].Line)
		}
	})

	t.Run("last line over the limit", func(t *testing.T) {
		body := pushHeader + "\n" + `{"change":{"seq":46,"x":"` + strings.Repeat("x", maxLine) + `"}}`
		p, _ := NewPushReader(strings.NewReader(body))
		recs, err := readAll(t, p)
		if err != nil || len(recs) != 1 || recs[0].Refusal == nil || recs[0].Refusal.Code != CodeRecordTooLarge || recs[0].Refusal.Seq != 46 {
			t.Fatalf("recs %+v, err %v", recs, err)
		}
	})

	t.Run("largest line that fits", func(t *testing.T) {
		// A change of exactly MaxChangeBytes still travels. Its text stays under
		// MaxTextField: '<' takes six bytes once escaped.
		c, _ := ParseChange(golden(t, KindPost))
		setText := func(text string) []byte {
			c.Body = mutate(t, c.Body, func(b, _ map[string]any) { b["text"] = text })
			s, err := testKey(t, "be").Sign(c)
			if err != nil {
				t.Fatal(err)
			}
			return s.Change
		}
		extra := MaxChangeBytes - len(setText("x"))
		setText(strings.Repeat("<", extra/6) + strings.Repeat("x", extra%6+1))
		s, err := testKey(t, "be").Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Change) != MaxChangeBytes {
			t.Fatalf("change is %d bytes, want %d", len(s.Change), MaxChangeBytes)
		}
		p, _ := NewPushReader(strings.NewReader(pushHeader + "\n" + line(s) + "\n"))
		recs, err := readAll(t, p)
		if err != nil || len(recs) != 1 || recs[0].Refusal != nil {
			t.Fatalf("recs %+v, err %v", recs, err)
		}
		if _, err := Verify(recs[0].Signed, testKeys(t).Lookup()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("blank lines and CRLF", func(t *testing.T) {
		body := pushHeader + "\r\n\r\n" + line(signed[0]) + "\r\n   \n\t\r\n" + line(signed[1]) + "\r\n\n\n"
		p, err := NewPushReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 {
			t.Fatalf("%d records, want 2", len(recs))
		}
		if recs[0].Line != 3 || recs[1].Line != 6 {
			t.Fatalf("lines %d, %d; want the physical lines 3, 6", recs[0].Line, recs[1].Line)
		}
		for i, r := range recs {
			if r.Refusal != nil || !bytes.Equal(r.Signed.Change, signed[i].Change) {
				t.Fatalf("record %d: %+v", i, r.Refusal)
			}
		}
	})

	t.Run("truncated by SetLimits", func(t *testing.T) {
		var body strings.Builder
		body.WriteString(pushHeader + "\n")
		for _, s := range signed {
			body.WriteString(line(s) + "\n")
		}
		lineBytes := func(n int) int64 { // header plus n records, newlines included
			total := int64(len(pushHeader) + 1)
			for _, s := range signed[:n] {
				total += int64(len(line(s)) + 1)
			}
			return total
		}
		tests := []struct {
			name       string
			maxBytes   int64
			maxChanges int
			records    int
			truncated  bool
		}{
			{"by count", 1 << 30, 3, 3, true},
			{"count exactly met", 1 << 30, 5, 5, false},
			{"by bytes", lineBytes(2) + 10, 100, 2, true},
			{"bytes exactly met", lineBytes(5), 100, 5, false},
			{"bytes one short", lineBytes(5) - 1, 100, 4, true},
			{"zero changes", 1 << 30, 0, 0, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, err := NewPushReader(strings.NewReader(body.String()))
				if err != nil {
					t.Fatal(err)
				}
				p.SetLimits(tc.maxBytes, tc.maxChanges)
				recs, err := readAll(t, p)
				if len(recs) != tc.records {
					t.Fatalf("%d records, want %d", len(recs), tc.records)
				}
				if tc.truncated != errors.Is(err, ErrTruncated) {
					t.Fatalf("err %v, truncated want %v", err, tc.truncated)
				}
				if tc.truncated && !errors.Is(err, ErrBatchTooLarge) {
					t.Fatalf("ErrTruncated is not batch_too_large: %v", err)
				}
				if !tc.truncated && err != nil {
					t.Fatal(err)
				}
				for i, r := range recs {
					if !bytes.Equal(r.Signed.Change, signed[i].Change) {
						t.Fatalf("record %d out of order", i)
					}
				}
			})
		}
	})

	t.Run("default limits", func(t *testing.T) {
		var body bytes.Buffer
		body.WriteString(pushHeader + "\n")
		for range MaxBatchChanges + 1 {
			body.WriteString(line(signed[0]) + "\n")
		}
		p, _ := NewPushReader(&body)
		recs, err := readAll(t, p)
		if !errors.Is(err, ErrTruncated) || len(recs) != MaxBatchChanges {
			t.Fatalf("%d records, %v; want %d and ErrTruncated", len(recs), err, MaxBatchChanges)
		}
	})

	t.Run("read error mid-line", func(t *testing.T) {
		// A body cut by a size limit or a broken connection must not turn the
		// record it cut into a refusal: the node would never send it again.
		full := pushHeader + "\n" + line(signed[0]) + "\n" + line(signed[1]) + "\n"
		cut := full[:len(full)-40]
		cause := errors.New("http: request body too large")
		p, err := NewPushReader(io.MultiReader(strings.NewReader(cut), iotest.ErrReader(cause)))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if len(recs) != 1 || recs[0].Refusal != nil {
			t.Fatalf("records %+v", recs)
		}
		if !errors.Is(err, cause) {
			t.Fatalf("Next: %v, want the read error", err)
		}
	})

	t.Run("read error between lines", func(t *testing.T) {
		cause := io.ErrUnexpectedEOF
		p, _ := NewPushReader(io.MultiReader(strings.NewReader(pushHeader+"\n"+line(signed[0])+"\n"), iotest.ErrReader(cause)))
		recs, err := readAll(t, p)
		if len(recs) != 1 || !errors.Is(err, cause) {
			t.Fatalf("%d records, %v", len(recs), err)
		}
	})

	t.Run("one byte at a time", func(t *testing.T) {
		var body bytes.Buffer
		body.WriteString(pushHeader + "\n")
		for _, s := range signed {
			body.WriteString(line(s) + "\n")
		}
		p, err := NewPushReader(iotest.OneByteReader(&body))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, p)
		if err != nil || len(recs) != len(signed) {
			t.Fatalf("%d records, %v", len(recs), err)
		}
	})
}

func TestEncodePush(t *testing.T) {
	h := PushHeader{Node: "be", Epoch: "01JKT3S6M00M2GA1850M2GA185", FromSeq: 1, ToSeq: 300, HeadSeq: 310}
	var changes []Signed
	odd := signRaw(testKey(t, "be"), []byte(oddChange))
	for i := range 300 {
		if i%2 == 0 {
			changes = append(changes, odd)
		} else {
			changes = append(changes, signedGolden(t, Kinds[i%5]))
		}
	}
	var body bytes.Buffer
	if err := EncodePush(&body, h, changes); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(body.Bytes(), []byte("\n")); n != len(changes)+1 {
		t.Fatalf("%d lines, want %d", n, len(changes)+1)
	}
	p, err := NewPushReader(&body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header() != h {
		t.Fatalf("header %+v, want %+v", p.Header(), h)
	}
	recs, err := readAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(changes) {
		t.Fatalf("%d records, want %d", len(recs), len(changes))
	}
	keys := testKeys(t).Lookup()
	for i, r := range recs {
		if r.Refusal != nil || r.Line != i+2 {
			t.Fatalf("record %d: line %d, %+v", i, r.Line, r.Refusal)
		}
		if !bytes.Equal(r.Signed.Change, changes[i].Change) || !bytes.Equal(r.Signed.Sig, changes[i].Sig) {
			t.Fatalf("record %d changed", i)
		}
		if _, err := Verify(r.Signed, keys); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	t.Run("write error", func(t *testing.T) {
		if err := EncodePush(errWriter{}, h, changes); err == nil {
			t.Fatal("EncodePush ignored a write error")
		}
	})
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRefusal_Name(t *testing.T) {
	tests := []struct {
		r    Refusal
		want string
	}{
		{Refusal{ID: "be:01JKT3S6M00M2GA1850M2GA185", Version: 3, Seq: 42, Line: 2}, "be:01JKT3S6M00M2GA1850M2GA185 v3"},
		{Refusal{ID: "be:01JKT3S6M00M2GA1850M2GA185", Seq: 42}, "be:01JKT3S6M00M2GA1850M2GA185"},
		{Refusal{Seq: 42, Line: 2}, "seq 42"},
		{Refusal{Line: 7}, "line 7"},
	}
	for _, tc := range tests {
		if got := tc.r.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}
