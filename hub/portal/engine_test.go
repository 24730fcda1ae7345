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

// TestEngine_ReusedRID: SQLite gives a deleted largest rowid to the next
// insert, so one batch may put a new resource at the rid of one it removes,
// and the indexer puts before it removes.
func TestEngine_ReusedRID(t *testing.T) {
	e := newEngine()
	e.replace(nil)
	e.mu.Lock()
	e.put(1, &doc{id: "be:a", updated: 1, fold: "a"})
	e.put(2, &doc{id: "be:b", updated: 2, fold: "b"})
	e.reorderLocked()
	e.put(2, &doc{id: "be:c", updated: 3, fold: "c"})
	e.remove("be:b")
	e.reorderLocked()
	e.mu.Unlock()
	if !slices.Equal(e.byDate, []uint32{2, 1}) || !slices.Equal(e.byTitle, []uint32{1, 2}) || e.docs[2] == nil || e.docs[2].id != "be:c" {
		t.Fatalf("orders %v and %v, rid 2 holds %+v", e.byDate, e.byTitle, e.docs[2])
	}
}

// TestEngine_Counts checks every facet count of random searches against a
// count over the documents themselves, through random puts, updates and
// removals: the block counts must agree with the bits whatever the filters
// left of each block.
func TestEngine_Counts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	e := newEngine()
	e.replace(nil)
	langs, topics := []string{"nl", "fr", "fi"}, []string{"privacy", "sexting", "gaming", "scams"}
	randDoc := func(id string) *doc {
		lo := rng.IntN(20)
		d := &doc{id: id, updated: int64(rng.IntN(1000)), ageMin: lo, ageMax: lo + rng.IntN(10)}
		d.values[facetLang] = []string{langs[rng.IntN(len(langs))]}
		for _, tp := range topics {
			if rng.IntN(3) == 0 {
				d.values[facetTopic] = append(d.values[facetTopic], tp)
			}
		}
		return d
	}
	next := uint32(0)
	ids := map[string]uint32{}
	for round := range 30 {
		e.mu.Lock()
		for range 1 + rng.IntN(400) {
			switch op := rng.IntN(10); {
			case op < 6 || len(ids) == 0:
				id := fmt.Sprint("be:", next)
				ids[id] = next
				e.put(next, randDoc(id))
				next++
			case op < 8:
				for id, rid := range ids {
					e.put(rid, randDoc(id))
					break
				}
			default:
				for id := range ids {
					e.remove(id)
					delete(ids, id)
					break
				}
			}
		}
		e.reorderLocked()
		e.mu.Unlock()
		for range 20 {
			q := &Query{AgeLo: -1, AgeHi: -1, Page: 1, PerPage: 20, Sort: sortNewest}
			if rng.IntN(2) == 0 {
				q.vals[facetLang] = []string{langs[rng.IntN(len(langs))]}
			}
			if rng.IntN(3) == 0 {
				q.vals[facetTopic] = []string{topics[rng.IntN(len(topics))]}
			}
			if rng.IntN(3) == 0 {
				q.AgeLo = rng.IntN(15)
				q.AgeHi = q.AgeLo + rng.IntN(5)
			}
			var text bitset
			if rng.IntN(2) == 0 {
				text = bitset{}
				limit := next // or a shorter set than the live one
				if rng.IntN(2) == 0 {
					limit = next / 3
				}
				every := rng.IntN(3) == 0 // a word every resource has
				for rid := range limit {
					if every || rng.IntN(4) == 0 || rid < 600 && rng.IntN(20) > 0 {
						text.set(rid)
					}
				}
			}
			h := e.search(q, text, nil, nil)
			// want counts the documents matching every filter but skip's.
			want := func(skip facet, skipAge bool, f facet, v string, lo, hi int) int {
				n := 0
				for _, rid := range ids {
					d := e.docs[rid]
					if text != nil && !text.has(rid) {
						continue
					}
					ok := true
					for g := range numFacets {
						if vals := q.vals[g]; len(vals) > 0 && facet(g) != skip && !slices.ContainsFunc(d.values[g], func(x string) bool { return slices.Contains(vals, x) }) {
							ok = false
						}
					}
					if !skipAge && q.AgeLo >= 0 && (d.ageMax < q.AgeLo || d.ageMin > q.AgeHi) {
						ok = false
					}
					if f >= 0 && !slices.Contains(d.values[f], v) || lo >= 0 && (d.ageMax < lo || d.ageMin > hi) {
						ok = false
					}
					if ok {
						n++
					}
				}
				return n
			}
			if got, w := h.Total, want(-1, false, -1, "", -1, -1); got != w {
				t.Fatalf("round %d: total %d, want %d", round, got, w)
			}
			for f := range numFacets {
				for _, fc := range h.Facets[f] {
					if w := want(facet(f), false, facet(f), fc.Value, -1, -1); fc.Count != w {
						t.Fatalf("round %d %+v: facet %d %s counts %d, want %d", round, q, f, fc.Value, fc.Count, w)
					}
				}
			}
			for i, b := range ageBuckets {
				if w := want(-1, true, -1, "", b.lo, b.hi); h.Ages[i].Count != w {
					t.Fatalf("round %d %+v: age %s counts %d, want %d", round, q, b.label, h.Ages[i].Count, w)
				}
			}
		}
	}
}

// BenchmarkEngineSearch counts every facet of 100,000 resources with the
// vocabularies' sizes, without a filter and with one.
func BenchmarkEngineSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	docs := map[uint32]*doc{}
	pick := func(prefix string, n int) string { return fmt.Sprint(prefix, rng.IntN(n)) }
	for rid := range uint32(100_000) {
		d := &doc{id: fmt.Sprint("be:", rid), updated: int64(rng.IntN(1 << 30)), ageMin: rng.IntN(12), ageMax: 12 + rng.IntN(8)}
		d.values[facetLang] = []string{pick("l", 9), pick("l", 9)}
		d.values[facetTopic] = []string{pick("t", 20), pick("t", 20)}
		d.values[facetType] = []string{pick("y", 14)}
		d.values[facetAudience] = []string{pick("a", 8), pick("a", 8)}
		d.values[facetCountry] = []string{"be"}
		d.values[facetMinisite] = []string{pick("m", 3)}
		docs[rid] = d
	}
	e := newEngine()
	e.replace(docs)
	for _, c := range []struct {
		name string
		q    Query
	}{
		{"all", Query{AgeLo: -1, AgeHi: -1, Page: 1, PerPage: 20, Sort: sortNewest}},
		{"lang", Query{AgeLo: -1, AgeHi: -1, Page: 1, PerPage: 20, Sort: sortNewest, vals: [numFacets][]string{facetLang: {"l3"}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				e.search(&c.q, nil, nil, nil)
			}
		})
	}
}
