package portal

import "math/bits"

// bitset is a set of resource rids. Facet counting is popcount over ANDs of
// these, which keeps search with every facet counted well under a
// millisecond at 100,000 resources, where SQL GROUP BY over the same rows
// takes tens.
type bitset []uint64

func (b *bitset) set(i uint32) {
	w := int(i >> 6)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	(*b)[w] |= 1 << (i & 63)
}

func (b bitset) clear(i uint32) {
	if w := int(i >> 6); w < len(b) {
		b[w] &^= 1 << (i & 63)
	}
}

func (b bitset) has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// andCount is |a ∩ b| without building the intersection.
func andCount(a, b bitset) int {
	n := 0
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	for i := range a {
		n += bits.OnesCount64(a[i] & b[i])
	}
	return n
}

// and returns a new a ∩ b.
func and(a, b bitset) bitset {
	m := min(len(a), len(b))
	out := make(bitset, m)
	for i := range out {
		out[i] = a[i] & b[i]
	}
	return out
}

// andInto intersects dst with b in place.
func (b bitset) andInto(dst bitset) {
	for i := range dst {
		if i < len(b) {
			dst[i] &= b[i]
		} else {
			dst[i] = 0
		}
	}
}

// or adds b to dst, growing it.
func (dst *bitset) or(b bitset) {
	if len(b) > len(*dst) {
		*dst = append(*dst, make([]uint64, len(b)-len(*dst))...)
	}
	d := *dst
	for i, w := range b {
		d[i] |= w
	}
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// Facet counts are kept per block of blockWords words as well: a search
// whose result set holds every live resource of a block (every block, with
// no filter; most, with a light one) takes the block's count instead of
// counting it again, and skips the blocks it holds nothing of (most, for a
// rare word), so only the blocks a filter cut through are counted bit by
// bit.
const blockWords = 8

// The states of a result set's block.
const (
	blockMixed = iota // some of the block's live resources
	blockEmpty        // none
	blockFull         // every one
)

// blockCounts are |live ∩ b| per block, the counts a full block takes.
func blockCounts(live, b bitset) []uint16 {
	out := make([]uint16, (len(b)+blockWords-1)/blockWords)
	for k := range out {
		lo := k * blockWords
		hi := min(lo+blockWords, len(b))
		out[k] = uint16(andCount(live[min(lo, len(live)):min(hi, len(live))], b[lo:hi]))
	}
	return out
}

// blocksOf classifies the blocks of a result set base, a subset of live.
func (e *engine) blocksOf(base bitset) []uint8 {
	out := make([]uint8, (len(base)+blockWords-1)/blockWords)
	for k := range out {
		lo := k * blockWords
		hi := min(lo+blockWords, len(base))
		empty, full := true, true
		for i := lo; i < hi; i++ {
			w := base[i]
			if w != 0 {
				empty = false
			}
			if i >= len(e.live) || w != e.live[i] {
				full = false
			}
		}
		// A block base ends in is full only if live ends there too: the
		// block's count covers all of it.
		switch {
		case full && (hi-lo == blockWords || hi == len(e.live)):
			out[k] = blockFull
		case empty:
			out[k] = blockEmpty
		}
	}
	return out
}

// countBlocks is |base ∩ b|, given base's block states and b's block counts.
func countBlocks(base bitset, states []uint8, b bitset, counts []uint16) int {
	// b has no blocks beyond its counts, so neither has base ∩ b.
	states = states[:min(len(states), len(counts))]
	counts = counts[:len(states)]
	n := 0
	for k, st := range states {
		if st == blockFull {
			n += int(counts[k])
		} else if st == blockMixed {
			lo := k * blockWords
			hi := min(lo+blockWords, len(b), len(base))
			n += andCount(base[lo:hi], b[lo:hi])
		}
	}
	return n
}
