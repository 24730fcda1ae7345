package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// feedPage lays out a page as the hub writes it: n copies of a comment.
func feedPage(tb testing.TB, n int) []byte {
	s := signedGolden(tb, KindComment)
	page := []byte(`{"changes":[`)
	for i := range n {
		if i > 0 {
			page = append(page, ',')
		}
		page = AppendFeedItem(page, int64(100+i), s)
	}
	return append(page, `],"hub_seq":2000,"next":1099,"more":true,"you":{"epoch":"e1","applied_seq":45}}`...)
}

// A page as the hub writes it takes the fast path, and reads as
// encoding/json reads it; any other layout goes to encoding/json. Either
// way the members the hub sends as headers are kept.
func TestDecodeFeed(t *testing.T) {
	page := feedPage(t, 3)
	var fast Feed
	if !decodeFeedFast(page, &fast) {
		t.Fatal("the hub's layout did not take the fast path")
	}
	var slow Feed
	if err := json.Unmarshal(page, &slow); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast %+v, encoding/json %+v", fast, slow)
	}
	if len(fast.Changes) != 3 || fast.Changes[2].HubSeq != 102 || fast.You.AppliedSeq != 45 || !fast.More {
		t.Fatalf("read %+v", fast)
	}
	lineage := int64(7)
	for _, p := range [][]byte{page, bytes.ReplaceAll(page, []byte(`"next":`), []byte(`"next": `))} {
		f := Feed{Incarnation: "inc", LineageSeq: &lineage}
		if err := decodeFeed(bytes.NewReader(p), &f); err != nil {
			t.Fatal(err)
		}
		if f.Incarnation != "inc" || f.LineageSeq != &lineage || f.Next != 1099 || len(f.Changes) != 3 {
			t.Fatalf("decoded %+v", f)
		}
	}
	var f Feed
	err := decodeFeed(strings.NewReader(`{"changes":[{"hub_seq":"1"}]}`), &f)
	if err == nil || !strings.Contains(err.Error(), "json") {
		t.Fatalf("a page encoding/json refuses: %v", err)
	}
}

func BenchmarkDecodeFeed(b *testing.B) {
	page := feedPage(b, MaxFeedPage)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			var f Feed
			if err := decodeFeed(bytes.NewReader(page), &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			var f Feed
			if err := json.NewDecoder(bytes.NewReader(page)).Decode(&f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
