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
	c.put(newKeyHash("first").sum(), piece)
	if h, ok := c.get(newKeyHash("first").sum()); !ok || h != piece {
		t.Fatal("a piece just kept is not found")
	}
	n := fragmentBudget / (1 << 10)
	for i := range n / 4 {
		c.put(newKeyHash("k"+strconv.Itoa(i)).sum(), piece)
	}
	if _, ok := c.get(newKeyHash("first").sum()); !ok {
		t.Fatal("a piece of the old generation is not found")
	}
	for i := range n {
		c.put(newKeyHash("k"+strconv.Itoa(i)).sum(), piece)
	}
	if _, ok := c.get(newKeyHash("first").sum()); ok {
		t.Fatal("a piece survived two generations")
	}
	total := 0
	for _, g := range []map[fragKey]template.HTML{c.cur, c.old} {
		for _, h := range g {
			total += 16 + len(h)
		}
	}
	if total > fragmentBudget+len(piece)*2 {
		t.Fatalf("the cache holds %d bytes, over its budget of %d", total, fragmentBudget)
	}
}

// A piece's key changes with anything it shows, and only with that.
func TestFragmentKeys(t *testing.T) {
	facets := []facetView{{Param: "topic", Title: "Topic", Values: []facetValueView{{Href: "/resources?topic=privacy", Label: "Privacy", Count: 3}}}}
	base := facetsKey("en", "", facets).sum()
	if facetsKey("en", "", facets).sum() != base {
		t.Fatal("the same filters hash differently")
	}
	facets[0].Values[0].Count = 4
	if facetsKey("en", "", facets).sum() == base {
		t.Error("a changed count keeps the key")
	}
	facets[0].Values[0].Count = 3
	if facetsKey("fr", "", facets).sum() == base {
		t.Error("another language keeps the key")
	}
	if newKeyHash("ab", "c").sum() == newKeyHash("a", "bc").sum() {
		t.Error("parts run into each other")
	}
}
