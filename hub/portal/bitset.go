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

// andCount is |a ∩ b| without building the intersection. It is most of a
// search's time (every facet value of the page, over the whole index), so
// it counts four words at a time into separate sums.
func andCount(a, b bitset) int {
	m := min(len(a), len(b))
	a, b = a[:m], b[:m]
	var n0, n1, n2, n3 int
	i := 0
	for ; i+4 <= m; i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		n0 += bits.OnesCount64(x[0] & y[0])
		n1 += bits.OnesCount64(x[1] & y[1])
		n2 += bits.OnesCount64(x[2] & y[2])
		n3 += bits.OnesCount64(x[3] & y[3])
	}
	for ; i < m; i++ {
		n0 += bits.OnesCount64(a[i] & b[i])
	}
	return n0 + n1 + n2 + n3
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
