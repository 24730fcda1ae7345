package portal

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// facet is a filterable, counted dimension of the gallery.
type facet int

const (
	facetLang facet = iota
	facetTopic
	facetType
	facetAudience
	facetCountry
	facetMinisite
	numFacets
)

// facetParams are the query parameters of the facets, in facet order.
var facetParams = [numFacets]string{"lang", "topic", "type", "audience", "country", "minisite"}

// maxAge is the highest age a resource can be for (protocol: 0 to 99).
const maxAge = 99

// ageBucket is one age facet value: resources whose range overlaps it.
type ageBucket struct {
	lo, hi int
	label  string
}

var ageBuckets = []ageBucket{{0, 5, "0–5"}, {6, 9, "6–9"}, {10, 12, "10–12"}, {13, 15, "13–15"}, {16, 18, "16–18"}, {19, maxAge, "19+"}}

// doc is what the engine keeps of one indexed resource.
type doc struct {
	id             string
	updated        int64
	ageMin, ageMax int
	fold           string // title folded for sorting
	values         [numFacets][]string
}

// engine holds the facet sets of every indexed resource in memory. The
// indexer updates it after each commit; requests read it under a read lock.
// The index's SQLite rows stay the gate: a page shows a resource only when
// its row is still there, so the engine lagging a commit behind can drop a
// result but never show one that is gone.
type engine struct {
	mu     sync.RWMutex
	ids    map[string]uint32
	docs   []*doc // by rid; nil when not indexed
	live   bitset
	facets [numFacets]map[string]bitset
	ages   [maxAge + 1]bitset

	// byDate is every live rid, newest first. The indexer keeps it in step
	// with each commit (see reorder), so no request ever sorts it.
	byDate  []uint32
	buckets []bitset // per ageBuckets, rebuilt at each commit
	// changed are the rids put or dropped since the last reorder, with the
	// update time they were sorted under (0: not in byDate).
	changed map[uint32]int64

	// byTitle is sorted on demand, once per change of the index, under its
	// own lock: few visitors sort by title, so the indexer does not pay for it.
	titleMu    sync.Mutex
	titleDirty bool
	byTitle    []uint32
}

func newEngine() *engine {
	e := &engine{ids: make(map[string]uint32), changed: make(map[uint32]int64), titleDirty: true}
	for f := range e.facets {
		e.facets[f] = make(map[string]bitset)
	}
	return e
}

// replace swaps the whole content for docs, for a reload from SQLite.
func (e *engine) replace(docs map[uint32]*doc) {
	fresh := newEngine()
	for rid, d := range docs {
		fresh.put(rid, d)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids, e.docs, e.live, e.facets, e.ages = fresh.ids, fresh.docs, fresh.live, fresh.facets, fresh.ages
	e.byDate, e.changed = nil, map[uint32]int64{}
	for rid := range fresh.changed {
		e.changed[rid] = 0
	}
	e.reorderLocked()
}

// put indexes or replaces the resource at rid. Call with mu held.
func (e *engine) put(rid uint32, d *doc) {
	if old, ok := e.ids[d.id]; ok {
		e.drop(old)
	}
	if _, seen := e.changed[rid]; !seen {
		e.changed[rid] = notSorted
	}
	for int(rid) >= len(e.docs) {
		e.docs = append(e.docs, nil)
	}
	e.docs[rid] = d
	e.ids[d.id] = rid
	e.live.set(rid)
	for f, vals := range d.values {
		for _, v := range vals {
			b := e.facets[f][v]
			b.set(rid)
			e.facets[f][v] = b
		}
	}
	for a := max(d.ageMin, 0); a <= min(d.ageMax, maxAge); a++ {
		e.ages[a].set(rid)
	}
}

// remove drops the resource id, if indexed. Call with mu held.
func (e *engine) remove(id string) {
	if rid, ok := e.ids[id]; ok {
		e.drop(rid)
		delete(e.ids, id)
	}
}

func (e *engine) drop(rid uint32) {
	d := e.docs[rid]
	if d == nil {
		return
	}
	if _, seen := e.changed[rid]; !seen {
		// Remember where it sits in byDate, to take it out.
		e.changed[rid] = d.updated
	}
	e.live.clear(rid)
	for f, vals := range d.values {
		for _, v := range vals {
			if b, ok := e.facets[f][v]; ok {
				b.clear(rid)
			}
		}
	}
	for a := max(d.ageMin, 0); a <= min(d.ageMax, maxAge); a++ {
		e.ages[a].clear(rid)
	}
	e.docs[rid] = nil
}

// notSorted marks a changed rid that was not in byDate before the change: any
// real update time, zero included, is a place in byDate.
const notSorted = math.MinInt64

// reorderSmall is the most changes reorder moves one by one; beyond it a
// full sort (about 10 ms at 100,000 resources) is cheaper.
const reorderSmall = 256

// reorder brings byDate and the age buckets in step with the puts and
// drops since the last call. The indexer calls it after each commit.
func (e *engine) reorder() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reorderLocked()
}

func (e *engine) reorderLocked() {
	e.titleMu.Lock()
	e.titleDirty = true
	e.titleMu.Unlock()
	before := func(a, b uint32) int { // newest first, then higher rid first
		if c := cmp.Compare(e.docs[b].updated, e.docs[a].updated); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	}
	if len(e.changed) <= reorderSmall && e.byDate != nil {
		for rid, oldUpdated := range e.changed {
			if oldUpdated == notSorted {
				continue
			}
			// Take the rid out from where its old time sorted it.
			i, found := slices.BinarySearchFunc(e.byDate, rid, func(x, target uint32) int {
				xu := e.sortTime(x, rid, oldUpdated)
				if c := cmp.Compare(oldUpdated, xu); c != 0 {
					return c
				}
				return cmp.Compare(target, x)
			})
			if found {
				e.byDate = slices.Delete(e.byDate, i, i+1)
			}
		}
		for rid := range e.changed {
			if e.docs[rid] == nil || !e.live.has(rid) {
				continue
			}
			i, _ := slices.BinarySearchFunc(e.byDate, rid, before)
			e.byDate = slices.Insert(e.byDate, i, rid)
		}
	} else {
		type key struct {
			updated int64
			rid     uint32
		}
		keys := make([]key, 0, len(e.ids))
		for _, rid := range e.ids {
			keys = append(keys, key{e.docs[rid].updated, rid})
		}
		slices.SortFunc(keys, func(a, b key) int {
			if c := cmp.Compare(b.updated, a.updated); c != 0 {
				return c
			}
			return cmp.Compare(b.rid, a.rid)
		})
		e.byDate = make([]uint32, len(keys))
		for i, k := range keys {
			e.byDate[i] = k.rid
		}
	}
	clear(e.changed)
	e.buckets = make([]bitset, len(ageBuckets))
	for i, b := range ageBuckets {
		e.buckets[i] = e.ageRange(b.lo, b.hi)
	}
}

// sortTime is the update time x was sorted under in byDate: for the rid
// being moved, its old time; for the others still to be moved in this
// reorder, theirs (recorded in changed); else the current one.
func (e *engine) sortTime(x, moving uint32, movingOld int64) int64 {
	if x == moving {
		return movingOld
	}
	if old, ok := e.changed[x]; ok && old != notSorted {
		return old
	}
	if int(x) < len(e.docs) && e.docs[x] != nil {
		return e.docs[x].updated
	}
	return 0
}

// titleOrder returns every live rid by title, sorting once per change of
// the index. Call with mu held for reading.
func (e *engine) titleOrder() []uint32 {
	e.titleMu.Lock()
	defer e.titleMu.Unlock()
	if !e.titleDirty {
		return e.byTitle
	}
	type key struct {
		fold string
		rid  uint32
	}
	keys := make([]key, 0, len(e.ids))
	for _, rid := range e.ids {
		keys = append(keys, key{e.docs[rid].fold, rid})
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.fold, b.fold); c != 0 {
			return c
		}
		return cmp.Compare(a.rid, b.rid)
	})
	e.byTitle = make([]uint32, len(keys))
	for i, k := range keys {
		e.byTitle[i] = k.rid
	}
	e.titleDirty = false
	return e.byTitle
}

// ageRange is the set of resources whose age range overlaps [lo, hi].
func (e *engine) ageRange(lo, hi int) bitset {
	out := bitset{} // not nil: an empty range still filters
	for a := max(lo, 0); a <= min(hi, maxAge); a++ {
		out.or(e.ages[a])
	}
	return out
}

// facetCount is one value of a facet with the number of results it would
// give.
type facetCount struct {
	Value    string `json:"value"`
	Label    string `json:"label"`
	Count    int    `json:"count"`
	Selected bool   `json:"selected"`
}

// hits is what a search found: the page of rids in order and the counts.
type hits struct {
	Total  int
	RIDs   []uint32
	Facets [numFacets][]facetCount
	Ages   []facetCount
}

// search filters, counts and pages. text is the full-text match set (nil: no
// text query); ranked, when not nil, is the relevance order of text's hits.
// Facet counts are disjunctive: a facet's counts apply every filter but its
// own, so a visitor sees what choosing another value would give.
// tier, when not nil and ranked is, puts its members first (title matches
// before description matches), each part newest first.
func (e *engine) search(q *Query, text bitset, ranked []uint32, tier bitset) hits {
	e.mu.RLock()
	defer e.mu.RUnlock()

	common := e.live.clone()
	if text != nil {
		text.andInto(common)
	}
	var ageSel bitset
	if q.AgeLo >= 0 {
		ageSel = e.ageRange(q.AgeLo, q.AgeHi)
	}
	// sel[f] is the union of the values chosen for facet f, nil if none.
	var sel [numFacets]bitset
	for f := range sel {
		vals := q.values(facet(f))
		if len(vals) == 0 {
			continue
		}
		u := bitset{}
		for _, v := range vals {
			u.or(e.facets[f][v])
		}
		sel[f] = u
	}
	final := common.clone()
	for _, s := range sel {
		if s != nil {
			s.andInto(final)
		}
	}
	if ageSel != nil {
		ageSel.andInto(final)
	}

	var h hits
	h.Total = final.count()
	for f := range numFacets {
		base := final
		if sel[f] != nil {
			base = common.clone()
			for g, s := range sel {
				if facet(g) != f && s != nil {
					s.andInto(base)
				}
			}
			if ageSel != nil {
				ageSel.andInto(base)
			}
		}
		chosen := q.values(facet(f))
		for v, b := range e.facets[f] {
			n := andCount(base, b)
			isSel := slices.Contains(chosen, v)
			if n > 0 || isSel {
				h.Facets[f] = append(h.Facets[f], facetCount{Value: v, Count: n, Selected: isSel})
			}
		}
		for _, v := range chosen {
			if _, ok := e.facets[f][v]; !ok {
				h.Facets[f] = append(h.Facets[f], facetCount{Value: v, Selected: true})
			}
		}
		slices.SortFunc(h.Facets[f], func(a, b facetCount) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		})
	}
	ageBase := final
	if ageSel != nil {
		ageBase = common.clone()
		for _, s := range sel {
			if s != nil {
				s.andInto(ageBase)
			}
		}
	}
	for i, b := range ageBuckets {
		n := andCount(ageBase, e.buckets[i])
		isSel := q.AgeLo == b.lo && q.AgeHi == b.hi
		h.Ages = append(h.Ages, facetCount{Value: ageValue(b.lo, b.hi), Label: b.label, Count: n, Selected: isSel})
	}

	skip := (q.Page - 1) * q.PerPage
	take := func(order []uint32, reverse bool, in bitset, want bool) {
		n := len(order)
		for i := range n {
			if len(h.RIDs) == q.PerPage {
				return
			}
			rid := order[i]
			if reverse {
				rid = order[n-1-i]
			}
			if !final.has(rid) || in != nil && in.has(rid) != want {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			h.RIDs = append(h.RIDs, rid)
			if len(h.RIDs) == q.PerPage {
				return
			}
		}
	}
	switch {
	case q.Sort == sortRelevance && ranked != nil:
		take(ranked, false, nil, false)
	case q.Sort == sortRelevance && tier != nil:
		take(e.byDate, false, tier, true)
		take(e.byDate, false, tier, false)
	case q.Sort == sortOldest:
		take(e.byDate, true, nil, false)
	case q.Sort == sortTitle:
		take(e.titleOrder(), false, nil, false)
	default:
		take(e.byDate, false, nil, false)
	}
	return h
}

// rid returns the rid of an indexed resource.
func (e *engine) rid(id string) (uint32, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	rid, ok := e.ids[id]
	return rid, ok
}

// size is the number of indexed resources.
func (e *engine) size() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.ids)
}

// updatedAt returns the rid's update time, for feeds.
func (e *engine) updatedAt(rid uint32) time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if int(rid) < len(e.docs) && e.docs[rid] != nil {
		return time.UnixMilli(e.docs[rid].updated).UTC()
	}
	return time.Time{}
}
