package node

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestNode_SearchOwn(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	ctx := t.Context()
	day := mustCreate(t, n, "Safer Internet Day kit")
	quiz := mustCreate(t, n, "Privacy quiz 100% fun")
	gone := mustCreate(t, n, "Old leaflet")
	if _, err := n.Delete(ctx, gone.ID, false); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(48 * time.Hour)
	d := resourceDraft("Launch of the youth panel")
	d.PublishAt = &later
	sched, err := n.Create(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// Changing the first makes it the most recently changed.
	upd := resourceDraft("Safer Internet Day kit, 2027 edition")
	if _, err := n.Update(ctx, day.ID, upd); err != nil {
		t.Fatal(err)
	}

	titles := func(es []Entity) []string {
		var out []string
		for _, e := range es {
			out = append(out, titleOfBody(e))
		}
		return out
	}
	tests := []struct {
		name  string
		f     OwnFilter
		want  []string
		total int
	}{
		{"every live one", OwnFilter{Kind: protocol.KindResource},
			[]string{"Safer Internet Day kit, 2027 edition", "Launch of the youth panel", "Privacy quiz 100% fun"}, 3},
		{"text, any case", OwnFilter{Kind: protocol.KindResource, Text: "internet DAY"},
			[]string{"Safer Internet Day kit, 2027 edition"}, 1},
		{"text is not a pattern", OwnFilter{Kind: protocol.KindResource, Text: "100%"},
			[]string{"Privacy quiz 100% fun"}, 1},
		{"description", OwnFilter{Kind: protocol.KindResource, Text: "a guide"},
			[]string{"Safer Internet Day kit, 2027 edition", "Launch of the youth panel", "Privacy quiz 100% fun"}, 3},
		{"scheduled", OwnFilter{Kind: protocol.KindResource, State: StateScheduled},
			[]string{"Launch of the youth panel"}, 1},
		{"waiting", OwnFilter{Kind: protocol.KindResource, State: StatePending},
			[]string{"Safer Internet Day kit, 2027 edition", "Privacy quiz 100% fun"}, 2},
		{"sent", OwnFilter{Kind: protocol.KindResource, State: StateSynced}, nil, 0},
		{"deleted", OwnFilter{Kind: protocol.KindResource, State: StateDeleted}, []string{"Old leaflet"}, 1},
		{"page", OwnFilter{Kind: protocol.KindResource, Limit: 1, Offset: 1}, []string{"Launch of the youth panel"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := n.SearchOwn(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if g := titles(got); total != tt.total || !slices.Equal(g, tt.want) {
				t.Errorf("got %q (total %d), want %q (total %d)", g, total, tt.want, tt.total)
			}
		})
	}
	if _, _, err := n.SearchOwn(ctx, OwnFilter{Kind: protocol.KindResource, State: "lost"}); err == nil {
		t.Error("an unknown state was taken")
	}
	if sched.State != StateScheduled || quiz.State != StatePending {
		t.Errorf("states: %s, %s", sched.State, quiz.State)
	}
}

func titleOfBody(e Entity) string {
	var b protocol.Resource
	if json.Unmarshal(e.Body, &b) != nil {
		return ""
	}
	return b.Title
}
