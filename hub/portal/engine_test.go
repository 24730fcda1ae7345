package portal

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestEngine_Reorder checks the incrementally kept date order against a full
// sort through random puts, updates and removals, in batches small and large.
func TestEngine_Reorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := newEngine()
	e.replace(nil)
	ids := map[string]uint32{}
	next := uint32(1)
	for round := range 60 {
		batch := 1 + rng.IntN(40)
		if round%10 == 9 {
			batch = reorderSmall + 50
		}
		e.mu.Lock()
		for range batch {
			switch op := rng.IntN(10); {
			case op < 5 || len(ids) == 0: // new
				id := fmt.Sprint("be:", next)
				ids[id] = next
				e.put(next, &doc{id: id, updated: int64(rng.IntN(50)), fold: fmt.Sprint(rng.IntN(30)), ageMin: 3, ageMax: 9, values: [numFacets][]string{facetLang: {"nl"}}})
				next++
			case op < 8: // update, maybe to the same time
				for id, rid := range ids {
					e.put(rid, &doc{id: id, updated: int64(rng.IntN(50)), fold: fmt.Sprint(rng.IntN(30)), ageMin: 3, ageMax: 9})
					break
				}
			default: // remove
				for id := range ids {
					e.remove(id)
					delete(ids, id)
					break
				}
			}
		}
		e.reorderLocked()
		e.mu.Unlock()
		want := make([]uint32, 0, len(ids))
		for _, rid := range ids {
			want = append(want, rid)
		}
		slices.SortFunc(want, func(a, b uint32) int {
			if e.docs[a].updated != e.docs[b].updated {
				return int(e.docs[b].updated - e.docs[a].updated)
			}
			return int(b) - int(a)
		})
		if !slices.Equal(e.byDate, want) {
			t.Fatalf("round %d (batch %d): order\n%v\nwant\n%v", round, batch, e.byDate, want)
		}
		slices.SortFunc(want, func(a, b uint32) int {
			if e.docs[a].fold != e.docs[b].fold {
				return strings.Compare(e.docs[a].fold, e.docs[b].fold)
			}
			return int(a) - int(b)
		})
		if !slices.Equal(e.byTitle, want) {
			t.Fatalf("round %d (batch %d): title order\n%v\nwant\n%v", round, batch, e.byTitle, want)
		}
	}
}
