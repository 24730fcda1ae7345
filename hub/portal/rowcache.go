package portal

import "sync"

// rowCacheSize bounds the resources whose rows are kept: a few pages of
// every common listing, some 2 MB of the 1 KB rows the network publishes.
const rowCacheSize = 2048

// rowCache keeps the rows of recently listed resources, so a gallery page
// reads SQLite only for resources not listed since they last changed
// (reading 20 rows there cost more than searching and rendering together).
//
// SQLite stays the gate. The indexer closes the cache before it commits a
// batch and reopens it once the engine is in step with the commit, without
// the rows the batch rewrote or removed. While closed, every row is read
// from SQLite; the epoch, which moves at both, keeps a row read before the
// close or while closed from being stored after the reopen. So a row is served from
// memory only while it is exactly what SQLite holds.
//
// Rows are shared, never modified.
type rowCache struct {
	mu     sync.Mutex
	epoch  uint64 // bumped at each close
	closed bool
	rows   map[uint32]*resourceRow
}

// get returns the cached rows of rids (nil where not cached) and the epoch
// to put what was missing under.
func (c *rowCache) get(rids []uint32, out []*resourceRow) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.epoch
	}
	for i, rid := range rids {
		out[i] = c.rows[rid]
	}
	return c.epoch
}

// put keeps rows read from SQLite after get returned epoch, unless the
// index may have changed since.
func (c *rowCache) put(epoch uint64, rows []*resourceRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.epoch != epoch {
		return
	}
	if c.rows == nil {
		c.rows = make(map[uint32]*resourceRow, rowCacheSize)
	}
	for _, r := range rows {
		if len(c.rows) >= rowCacheSize {
			for rid := range c.rows { // an arbitrary one: map order is random
				delete(c.rows, rid)
				break
			}
		}
		c.rows[r.RID] = r
	}
}

// close stops serving and storing rows until reopen: the index is about to
// change.
func (c *rowCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.epoch++
}

// reopen serves rows again, without those of changed, whose rows were
// rewritten or removed since close. The epoch moves on here too: a row read
// while the cache was closed may come from a snapshot older than the
// commit, and must not be stored once it is open again.
func (c *rowCache) reopen(changed []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rid := range changed {
		delete(c.rows, rid)
	}
	c.closed = false
	c.epoch++
}
