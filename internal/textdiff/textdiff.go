// Package textdiff compares texts word by word, and resources field by field,
// for people who keep a translation in step with its source: they need to
// see exactly which words of the source changed since they translated it.
//
// The texts come from the network, so the work is bounded: the common prefix
// and suffix are set aside first (cheap, and the usual case of a small edit
// in a long text leaves little in between), then Myers' O(ND) algorithm runs
// on what remains only while it stays within MaxTokens tokens and MaxEdits
// edits. Beyond either limit the middle is reported as replaced whole, which
// is still correct, only coarser.
package textdiff

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Op is what happened to a span of text.
type Op int8

const (
	// Equal text is in both versions.
	Equal Op = iota
	// Insert text is only in the new version.
	Insert
	// Delete text is only in the old version.
	Delete
)

// String names the op as templates and tests show it.
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	default:
		return "equal"
	}
}

// Span is a run of text with one Op. Adjacent spans never share an Op.
type Span struct {
	Op   Op
	Text string
}

// Limits bound the work of a diff.
const (
	// MaxTokens is the most tokens (words and the spaces between them) of
	// both texts together, after the common prefix and suffix, that are
	// compared word by word.
	MaxTokens = 20000
	// MaxEdits is the most inserted and deleted tokens the comparison looks
	// for before it gives up and reports the middle as replaced.
	MaxEdits = 500
)

// Words returns the spans that turn a into b, word by word: a word is a run
// of letters, digits and marks, any other character (a space run, a
// punctuation mark) is a token of its own, so "cat." to "cats." changes one
// word and keeps the full stop. Concatenating the Equal and Delete spans
// gives a; the Equal and Insert spans give b.
func Words(a, b string) []Span {
	if a == b {
		if a == "" {
			return nil
		}
		return []Span{{Equal, a}}
	}
	ta, tb := tokenize(a), tokenize(b)
	p := 0
	for p < len(ta) && p < len(tb) && ta[p] == tb[p] {
		p++
	}
	s := 0
	for s < len(ta)-p && s < len(tb)-p && ta[len(ta)-1-s] == tb[len(tb)-1-s] {
		s++
	}
	var out spans
	out.add(Equal, ta[:p])
	ma, mb := ta[p:len(ta)-s], tb[p:len(tb)-s]
	if len(ma)+len(mb) > MaxTokens {
		out.add(Delete, ma)
		out.add(Insert, mb)
	} else {
		myers(&out, ma, mb)
	}
	out.add(Equal, ta[len(ta)-s:])
	return out.list
}

// Changed reports whether spans contain any insertion or deletion.
func Changed(spans []Span) bool {
	for _, s := range spans {
		if s.Op != Equal {
			return true
		}
	}
	return false
}

// spans builds a span list, merging runs of the same Op.
type spans struct{ list []Span }

func (s *spans) add(op Op, toks []string) {
	if len(toks) == 0 {
		return
	}
	text := strings.Join(toks, "")
	if n := len(s.list); n > 0 && s.list[n-1].Op == op {
		s.list[n-1].Text += text
		return
	}
	// A deletion is shown before the insertion that replaces it.
	if n := len(s.list); op == Delete && n > 0 && s.list[n-1].Op == Insert {
		ins := s.list[n-1]
		if n > 1 && s.list[n-2].Op == Delete {
			s.list[n-2].Text += text
			return
		}
		s.list[n-1] = Span{Delete, text}
		s.list = append(s.list, ins)
		return
	}
	s.list = append(s.list, Span{op, text})
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// tokenize splits s into words, runs of white space, and single other
// characters. Invalid UTF-8 bytes are tokens of their own, kept as they are.
func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		j := i + w
		switch {
		case r == utf8.RuneError && w == 1:
		case isWordRune(r):
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if (r2 == utf8.RuneError && w2 == 1) || !isWordRune(r2) {
					break
				}
				j += w2
			}
		case unicode.IsSpace(r):
			for j < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsSpace(r2) {
					break
				}
				j += w2
			}
		}
		toks = append(toks, s[i:j])
		i = j
	}
	return toks
}

// myers appends the edit script from a to b, found with Myers' greedy
// algorithm keeping one frontier per edit distance for the backtrack
// (memory O(D²), bounded by MaxEdits). Past MaxEdits it reports a replaced
// by b.
func myers(out *spans, a, b []string) {
	if len(a) == 0 || len(b) == 0 {
		out.add(Delete, a)
		out.add(Insert, b)
		return
	}
	// Compare integers, not strings.
	ids := map[string]int32{}
	intern := func(toks []string) []int32 {
		r := make([]int32, len(toks))
		for i, t := range toks {
			id, ok := ids[t]
			if !ok {
				id = int32(len(ids))
				ids[t] = id
			}
			r[i] = id
		}
		return r
	}
	x, y := intern(a), intern(b)
	n, m := len(x), len(y)
	maxD := min(n+m, MaxEdits)
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		// Keep only the diagonals reachable at d: -d..d.
		snap := make([]int, 2*d+1)
		copy(snap, v[off-d:off+d+1])
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var i int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				i = v[off+k+1]
			} else {
				i = v[off+k-1] + 1
			}
			j := i - k
			for i < n && j < m && x[i] == y[j] {
				i++
				j++
			}
			v[off+k] = i
			if i >= n && j >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		out.add(Delete, a)
		out.add(Insert, b)
		return
	}
	// Backtrack from (n, m) through the frontiers, collecting steps in
	// reverse.
	type step struct {
		op   Op
		i, j int // start of the token in a (delete, equal) or b (insert)
	}
	var steps []step
	i, j := n, m
	for d := found; d > 0; d-- {
		// trace[d] is v as it was before iteration d, the frontier after
		// d-1, for diagonals -d..d.
		prev := trace[d]
		k := i - j
		var pk int
		get := func(k int) int { return prev[k+d] }
		if k == -d || (k != d && get(k-1) < get(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		pi := get(pk)
		pj := pi - pk
		// Snake from the step's end back to (i, j).
		var si, sj int
		if pk == k+1 {
			si, sj = pi, pj+1 // an insertion of b[pj]
		} else {
			si, sj = pi+1, pj // a deletion of a[pi]
		}
		for i > si && j > sj {
			i--
			j--
			steps = append(steps, step{Equal, i, j})
		}
		if pk == k+1 {
			steps = append(steps, step{Insert, pi, pj})
		} else {
			steps = append(steps, step{Delete, pi, pj})
		}
		i, j = pi, pj
	}
	for i > 0 && j > 0 {
		i--
		j--
		steps = append(steps, step{Equal, i, j})
	}
	for k := len(steps) - 1; k >= 0; k-- {
		s := steps[k]
		switch s.op {
		case Equal, Delete:
			out.add(s.op, a[s.i:s.i+1])
		case Insert:
			out.add(s.op, b[s.j:s.j+1])
		}
	}
}
