package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

func TestNode_Import_MatchesRefs(t *testing.T) {
	n := newTestNode(t, newFakeHub(t), "be")
	input := func(from, to int, title string) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			line, _ := json.Marshal(map[string]any{"ref": fmt.Sprintf("be-res-%d", i), "kind": "resource", "visibility": "public",
				"body": resourceBody(fmt.Sprintf("%s %d", title, i))})
			b.Write(line)
			b.WriteByte('\n')
		}
		return b.String()
	}
	run := func(t *testing.T, in string, opts ...ImportOption) ImportResult {
		t.Helper()
		res, err := n.Import(t.Context(), strings.NewReader(in), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	resources := func() int {
		return count(t, n.db.Reader(), `SELECT COUNT(*) FROM entities WHERE kind = 'resource' AND owner = 'be'`)
	}

	// An interrupted run: the context ends after the first batch commits.
	ctx, cancel := context.WithCancel(t.Context())
	var progress []int
	_, err := n.Import(ctx, strings.NewReader(input(0, 1200, "Guide")), WithProgress(func(p ImportResult) {
		progress = append(progress, p.Records)
		cancel()
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: err = %v", err)
	}
	if len(progress) != 1 || progress[0] != importBatch || resources() != importBatch {
		t.Fatalf("progress %v, %d resources, want one batch of %d", progress, resources(), importBatch)
	}

	res := run(t, input(0, 1200, "Guide"))
	if res.Created != 1200-importBatch || res.Matched != importBatch || res.Unchanged != importBatch {
		t.Errorf("re-run: %+v", res)
	}
	if res.Interrupted == nil || res.Interrupted.Records != importBatch || res.Interrupted.Created != importBatch {
		t.Errorf("re-run: interrupted = %+v, want %d records", res.Interrupted, importBatch)
	}
	if resources() != 1200 {
		t.Fatalf("%d resources after the re-run, want 1200", resources())
	}

	// A changed record with the same ref updates its entity.
	res = run(t, input(0, 10, "Revised guide"))
	if res.Updated != 10 || res.Created != 0 || res.Interrupted != nil {
		t.Errorf("revised run: %+v", res)
	}
	if resources() != 1200 {
		t.Fatalf("%d resources after the revised run", resources())
	}

	// The same ref twice in one input is one entity.
	res = run(t, input(5000, 5001, "Twin")+input(5000, 5001, "Twin"))
	if res.Created != 1 || res.Unchanged != 1 {
		t.Errorf("a ref twice in one input: %+v", res)
	}
}

func TestDecodeRecord_Ref(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		field     string // "" if accepted
	}{
		{"ref", `{"ref":"be-res-1","kind":"resource"}`, ""},
		{"ref and id", `{"ref":"be-res-1","id":"be:01JKT3S6M00M2GA1850M2GA185","kind":"resource"}`, "ref"},
		{"ref too long", `{"ref":"` + strings.Repeat("a", maxRefBytes+1) + `","kind":"resource"}`, "ref"},
		{"ref with spaces", `{"ref":" a ","kind":"resource"}`, "ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRecord([]byte(tc.raw))
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *protocol.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field {
				t.Fatalf("err = %v, want a field error on %s", err, tc.field)
			}
		})
	}
}
