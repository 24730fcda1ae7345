package portal

import "testing"

// A row may be kept only when it was read after the last reopen: read
// before a commit, or while the indexer was committing, it may be older
// than what SQLite now holds.
func TestRowCache_Epochs(t *testing.T) {
	var c rowCache
	row := func(rid uint32) *resourceRow { return &resourceRow{RID: rid} }
	cached := func(rid uint32) bool {
		out := make([]*resourceRow, 1)
		c.get([]uint32{rid}, out)
		return out[0] != nil
	}
	out := make([]*resourceRow, 1)

	e := c.get([]uint32{1}, out)
	c.put(e, []*resourceRow{row(1)})
	if !cached(1) {
		t.Fatal("a row read while open was not kept")
	}

	before := c.get([]uint32{2}, out) // read, then the indexer commits
	c.close()
	during := c.get([]uint32{3}, out) // read from a snapshot before the commit
	if cached(1) {
		t.Fatal("a row served while the cache is closed")
	}
	c.reopen([]uint32{1})
	c.put(before, []*resourceRow{row(2)})
	c.put(during, []*resourceRow{row(3)})
	if cached(2) || cached(3) {
		t.Fatalf("a row read before the reopen was kept: 2 %v, 3 %v", cached(2), cached(3))
	}
	if cached(1) {
		t.Fatal("a row the batch rewrote is still served")
	}
	e = c.get([]uint32{4}, out)
	c.put(e, []*resourceRow{row(4)})
	if !cached(4) {
		t.Fatal("a row read after the reopen was not kept")
	}
}
