package node

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzImport feeds arbitrary input to the import decoder: it must never
// panic, must count every record it reports, and must never hand on a record
// together with an error.
func FuzzImport(f *testing.F) {
	rec, _ := json.Marshal(Record{Draft: resourceDraft("seed")})
	f.Add(rec)
	f.Add(append(append(rec, '\n'), rec...))
	f.Add([]byte("[" + string(rec) + "," + string(rec) + "]"))
	f.Add([]byte("\xef\xbb\xbf  [ ]"))
	f.Add([]byte("[{\"kind\":"))
	f.Add([]byte("{}\n\n{\"id\":\"be:01ARZ3NDEKTSV4RRFFQ69G5FAV\"}\n{"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		seen := 0
		_, err := decodeRecords(bytes.NewReader(data), func(pos recordPos, rec Record, err error) error {
			if pos.index != seen {
				t.Fatalf("record index %d, want %d", pos.index, seen)
			}
			seen++
			if err != nil && (rec.ID != "" || rec.Kind != "" || rec.Body != nil) {
				t.Fatalf("record %d has both data and error %v", pos.index, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("decodeRecords over a bytes.Reader failed: %v", err)
		}
	})
}

// FuzzDecodeRecord checks the draft decoder used by the admin API: it never
// panics, and a record it accepts survives a round trip.
func FuzzDecodeRecord(f *testing.F) {
	rec, _ := json.Marshal(Record{ID: "be:01ARZ3NDEKTSV4RRFFQ69G5FAV", Draft: resourceDraft("seed")})
	f.Add(rec)
	f.Add([]byte(`{"kind":"post","visibility":"community","publish_at":"2027-02-09T08:00:00Z","body":{}}`))
	f.Add([]byte(`{"publish_at":"tomorrow"}`))
	f.Add([]byte(`{"blobs":[{"sha256":1}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeRecord(b); err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
	})
}
