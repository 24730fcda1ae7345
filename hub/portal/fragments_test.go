package portal

import (
	"html/template"
	"strconv"
	"strings"
	"testing"
)

// TestFragmentCache_generations: a kept piece is found until two
// generations' worth of pieces came after it, and the cache never holds
// much more than its budget.
func TestFragmentCache_generations(t *testing.T) {
	var c fragmentCache
	piece := template.HTML(strings.Repeat("x", 1<<10))
	c.put("first", piece)
	if h, ok := c.get("first"); !ok || h != piece {
		t.Fatal("a piece just kept is not found")
	}
	n := fragmentBudget / (1 << 10)
	for i := range n / 4 {
		c.put("k"+strconv.Itoa(i), piece)
	}
	if _, ok := c.get("first"); !ok {
		t.Fatal("a piece of the old generation is not found")
	}
	for i := range n {
		c.put("k"+strconv.Itoa(i), piece)
	}
	if _, ok := c.get("first"); ok {
		t.Fatal("a piece survived two generations")
	}
	total := 0
	for _, g := range []map[string]template.HTML{c.cur, c.old} {
		for k, h := range g {
			total += len(k) + len(h)
		}
	}
	if total > fragmentBudget+len(piece)*2 {
		t.Fatalf("the cache holds %d bytes, over its budget of %d", total, fragmentBudget)
	}
}
