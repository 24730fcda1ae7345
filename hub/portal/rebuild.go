package portal

import (
	"context"
	"fmt"
	"time"
)

// An index built from nothing — a new hub or mirror, a deleted portal.db, a
// migration that empties the index to fill it anew — has the whole
// aggregate to catch up with. Until it has, the indexer works in large
// transactions, without resting between them, and with a larger writer page
// cache: ids go into the indexes at random places, and the pages of those
// indexes then stay cached instead of being read again for each insert. It
// notes the ids it has indexed (Portal.built): one that comes for the first
// time has nothing in the index to delete before it is written.
//
// Nothing about it needs undoing after a crash: every transaction commits
// the cursor with the rows it indexed, so a process that dies mid-way
// restarts from the last commit, and a portal.db deleted mid-way is built
// from nothing again.

const (
	// rebuildBatch is how many changes one transaction takes while the index
	// is built from nothing and the source is quiet: each commit brings the
	// in-memory engine in step (a sort of every resource), so fewer, larger
	// transactions do less of that work for the same aggregate.
	rebuildBatch = 10000
	// rebuildCacheKiB is the writer's page cache while building; afterwards
	// it is SQLite's default again (defaultCacheKiB).
	rebuildCacheKiB = 16 << 10
	defaultCacheKiB = 2000
)

// startRebuild puts the indexer in its building mode.
func (p *Portal) startRebuild(ctx context.Context) {
	p.rebuildFrom = time.Now()
	p.built = make(map[string]struct{})
	p.rebuilding.Store(true)
	p.setWriterCache(ctx, rebuildCacheKiB)
}

// endRebuild ends the building mode, once the indexer has caught up with
// the source.
func (p *Portal) endRebuild(ctx context.Context) {
	if !p.rebuilding.CompareAndSwap(true, false) {
		return
	}
	p.built = nil
	p.setWriterCache(ctx, defaultCacheKiB)
	p.log.Info("portal index built", "resources", p.eng.size(), "indexed_seq", p.cursor.Load(),
		"took", time.Since(p.rebuildFrom).Round(time.Millisecond))
}

// setWriterCache sets the page cache of the writer's one connection. A
// failure only costs speed.
func (p *Portal) setWriterCache(ctx context.Context, kib int) {
	if _, err := p.db.Writer().ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = %d", -kib)); err != nil {
		p.log.Warn("set the index writer's page cache", "err", err)
	}
}
