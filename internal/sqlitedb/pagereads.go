package sqlitedb

import (
	"context"
	"database/sql"
	"maps"
	"os"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// PageReadsEnv names an environment variable for diagnosis: set to any
// non-empty value when a database is opened, it makes that database count
// the pages its connections read from the file, added up by PagesRead once
// the database is closed. It exists to show that a command's work does not
// grow with the size of the data it holds, which timings on a shared machine
// cannot.
//
// The count is SQLite's page cache misses (SQLITE_DBSTATUS_CACHE_MISS),
// summed over the connections of the three pools. Pages read through a
// memory mapping are not cache misses, so a counted database maps nothing:
// the figure is the same whatever the operating system has cached.
const PageReadsEnv = "BIKFED_DEBUG_PAGE_READS"

var pageReads struct {
	sync.Mutex
	byPath map[string]int64
}

func countPageReads() bool { return os.Getenv(PageReadsEnv) != "" }

// PagesRead returns, for every database closed so far that counted its page
// reads (see PageReadsEnv), the pages read, by the path Open was given. A
// path opened more than once is the sum of its openings.
func PagesRead() map[string]int64 {
	pageReads.Lock()
	defer pageReads.Unlock()
	return maps.Clone(pageReads.byPath)
}

// tallyPageReads adds up the cache misses of every idle connection of the
// pools, which at Close is all of them. database/sql hands out idle
// connections before it opens new ones, so taking as many as are idle takes
// exactly those; they are held together so none is handed out twice.
// database/sql only closes a connection early when it fails, and what such a
// connection read is lost: the count is a floor, not an estimate.
func (db *DB) tallyPageReads() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var total int64
	for _, pool := range []*sql.DB{db.writer, db.reader, db.checkpointer} {
		if pool == nil {
			continue
		}
		var held []*sql.Conn
		for range pool.Stats().Idle {
			c, err := pool.Conn(ctx)
			if err != nil {
				break
			}
			held = append(held, c)
			c.Raw(func(dc any) error {
				if st, ok := dc.(sqlite.DBStatus); ok {
					if n, _, err := st.Status(sqlite.DBStatusCacheMiss, false); err == nil {
						total += int64(n)
					}
				}
				return nil
			})
		}
		for _, c := range held {
			c.Close()
		}
	}
	pageReads.Lock()
	defer pageReads.Unlock()
	if pageReads.byPath == nil {
		pageReads.byPath = make(map[string]int64)
	}
	pageReads.byPath[db.path] += total
}
