package portal

import (
	"cmp"
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
	// facetBlocks and bucketBlocks are the block counts (see blockCounts)
	// of every facet value and age bucket, rebuilt at each commit.
	facetBlocks  [numFacets]map[string][]uint16
	bucketBlocks [][]uint16
	// byTitle is every live rid by folded title.
	byTitle []uint32
	// changed are the rids put or dropped since the last reorder, with the
	// keys they were sorted under (in: false when not in the orders).
	changed map[uint32]sortKeys
}

// sortKeys are what a rid was sorted under in byDate and byTitle.
type sortKeys struct {
	in      bool
	updated int64
	fold    string
}

func newEngine() *engine {
	e := &engine{ids: make(map[string]uint32), changed: make(map[uint32]sortKeys)}
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
	e.byDate, e.byTitle, e.changed = nil, nil, map[uint32]sortKeys{}
	for rid := range fresh.changed {
		e.changed[rid] = sortKeys{}
	}
	e.reorderLocked()
}

// put indexes or replaces the resource at rid. Call with mu held.
func (e *engine) put(rid uint32, d *doc) {
	if old, ok := e.ids[d.id]; ok {
		e.drop(old)
	}
	if int(rid) < len(e.docs) && e.docs[rid] != nil && e.docs[rid].id != d.id {
		// SQLite hands a deleted largest rowid out again: a resource taken
		// out and another added in one batch may share a rid, and the one
		// taken out must leave the orders before the other comes in.
		delete(e.ids, e.docs[rid].id)
		e.drop(rid)
	}
	if _, seen := e.changed[rid]; !seen {
		e.changed[rid] = sortKeys{} // not in the orders before
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
		// Remember where it sits in the orders, to take it out.
		e.changed[rid] = sortKeys{in: true, updated: d.updated, fold: d.fold}
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

// reorderSmall is the most changes reorder moves one by one; beyond it a
// full sort (tens of milliseconds at 100,000 resources) is cheaper.
const reorderSmall = 256

// reorderLocked brings the orders and the age buckets in step with the puts
// and drops since the last call. The indexer calls it after each commit, so
// no request ever sorts. Call with mu held.
func (e *engine) reorderLocked() {
	// keyOf is what x is sorted under now in the orders: its recorded old
	// keys while it is still to be moved, else its document's.
	keyOf := func(x uint32) sortKeys {
		if k, ok := e.changed[x]; ok {
			return k
		}
		d := e.docs[x]
		return sortKeys{in: true, updated: d.updated, fold: d.fold}
	}
	byDate := func(a uint32, ak sortKeys, b uint32, bk sortKeys) int { // newest first, then higher rid
		if c := cmp.Compare(bk.updated, ak.updated); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	}
	byTitle := func(a uint32, ak sortKeys, b uint32, bk sortKeys) int {
		if c := strings.Compare(ak.fold, bk.fold); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
	if len(e.changed) <= reorderSmall && e.byDate != nil {
		move := func(order []uint32, less func(uint32, sortKeys, uint32, sortKeys) int) []uint32 {
			for rid, old := range e.changed {
				if !old.in {
					continue
				}
				i, found := slices.BinarySearchFunc(order, rid, func(x, t uint32) int { return less(x, keyOf(x), t, old) })
				if found {
					order = slices.Delete(order, i, i+1)
				}
			}
			for rid := range e.changed {
				d := e.docs[rid]
				if d == nil || !e.live.has(rid) {
					continue
				}
				now := sortKeys{in: true, updated: d.updated, fold: d.fold}
				i, _ := slices.BinarySearchFunc(order, rid, func(x, t uint32) int {
					xd := e.docs[x]
					return less(x, sortKeys{in: true, updated: xd.updated, fold: xd.fold}, t, now)
				})
				order = slices.Insert(order, i, rid)
			}
			return order
		}
		// Removal compares against recorded keys; insertion against current
		// ones, which is right once every changed rid is out.
		e.byDate = move(e.byDate, byDate)
		e.byTitle = move(e.byTitle, byTitle)
	} else {
		type key struct {
			rid uint32
			k   sortKeys
		}
		keys := make([]key, 0, len(e.ids))
		for _, rid := range e.ids {
			d := e.docs[rid]
			keys = append(keys, key{rid, sortKeys{in: true, updated: d.updated, fold: d.fold}})
		}
		sorted := func(less func(uint32, sortKeys, uint32, sortKeys) int) []uint32 {
			slices.SortFunc(keys, func(a, b key) int { return less(a.rid, a.k, b.rid, b.k) })
			out := make([]uint32, len(keys))
			for i, k := range keys {
				out[i] = k.rid
			}
			return out
		}
		e.byDate, e.byTitle = sorted(byDate), sorted(byTitle)
	}
	clear(e.changed)
	e.buckets = make([]bitset, len(ageBuckets))
	e.bucketBlocks = make([][]uint16, len(ageBuckets))
	for i, b := range ageBuckets {
		e.buckets[i] = e.ageRange(b.lo, b.hi)
		e.bucketBlocks[i] = blockCounts(e.live, e.buckets[i])
	}
	for f := range e.facets {
		e.facetBlocks[f] = make(map[string][]uint16, len(e.facets[f]))
		for v, b := range e.facets[f] {
			e.facetBlocks[f][v] = blockCounts(e.live, b)
		}
	}
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

	// common and final are only read; they are the live set itself, not a
	// copy, unless a filter applies.
	common := e.live
	if text != nil {
		common = and(e.live, text)
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
	final := common
	if ageSel != nil || slices.ContainsFunc(sel[:], func(s bitset) bool { return s != nil }) {
		final = common.clone()
		for _, s := range sel {
			if s != nil {
				s.andInto(final)
			}
		}
		if ageSel != nil {
			ageSel.andInto(final)
		}
	}

	var h hits
	h.Total = final.count()
	finalBlocks := e.blocksOf(final)
	for f := range numFacets {
		base, blocks := final, finalBlocks
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
			blocks = e.blocksOf(base)
		}
		chosen := q.values(facet(f))
		h.Facets[f] = make([]facetCount, 0, len(e.facets[f])+len(chosen))
		for v, b := range e.facets[f] {
			n := countBlocks(base, blocks, b, e.facetBlocks[f][v])
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
	ageBase, ageBlocks := final, finalBlocks
	if ageSel != nil {
		ageBase = common.clone()
		for _, s := range sel {
			if s != nil {
				s.andInto(ageBase)
			}
		}
		ageBlocks = e.blocksOf(ageBase)
	}
	h.Ages = make([]facetCount, 0, len(ageBuckets))
	for i, b := range ageBuckets {
		n := countBlocks(ageBase, ageBlocks, e.buckets[i], e.bucketBlocks[i])
		isSel := q.AgeLo == b.lo && q.AgeHi == b.hi
		h.Ages = append(h.Ages, facetCount{Value: ageValue(b.lo, b.hi), Label: b.label, Count: n, Selected: isSel})
	}

	// In the default order, resources in the visitor's language (original
	// or translated) come first; an order the visitor chose is kept as is.
	var prefer bitset
	if q.prefer != "" && q.Sort == q.defaultSort() {
		prefer = e.facets[facetLang][q.prefer]
		if prefer == nil {
			prefer = bitset{}
		}
	}
	skip := (q.Page - 1) * q.PerPage
	// take pages through order, keeping the rids of final that are in
	// tier (or not, as tierWant says) and in prefer (or not).
	take := func(order []uint32, reverse bool, tier bitset, tierWant bool, prefer bitset, preferWant bool) {
		n := len(order)
		for i := range n {
			if len(h.RIDs) == q.PerPage {
				return
			}
			rid := order[i]
			if reverse {
				rid = order[n-1-i]
			}
			if !final.has(rid) || tier != nil && tier.has(rid) != tierWant || prefer != nil && prefer.has(rid) != preferWant {
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
	// Each order runs once, or twice when the visitor's language goes first.
	for _, want := range []bool{true, false} {
		if prefer == nil && !want {
			break
		}
		switch {
		case q.Sort == sortRelevance && ranked != nil:
			take(ranked, false, nil, false, prefer, want)
		case q.Sort == sortRelevance && tier != nil:
			take(e.byDate, false, tier, true, prefer, want)
			take(e.byDate, false, tier, false, prefer, want)
		case q.Sort == sortOldest:
			take(e.byDate, true, nil, false, prefer, want)
		case q.Sort == sortTitle:
			take(e.byTitle, false, nil, false, prefer, want)
		default:
			take(e.byDate, false, nil, false, prefer, want)
		}
	}
	return h
}

// largest are the n values of facet f with the most resources, most
// first.
func (e *engine) largest(f facet, n int) []facetCount {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]facetCount, 0, len(e.facets[f]))
	for v, b := range e.facets[f] {
		if c := and(e.live, b).count(); c > 0 {
			out = append(out, facetCount{Value: v, Count: c})
		}
	}
	slices.SortFunc(out, func(a, b facetCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return out[:min(n, len(out))]
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
