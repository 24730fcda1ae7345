package portal

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// memSource is an aggregate held in memory, busy when told so.
type memSource struct {
	changes []Change
	busy    atomic.Bool
}

func newMemSource(tb testing.TB, n int) *memSource {
	tb.Helper()
	now := time.Now().UTC()
	src := &memSource{}
	for i, d := range sampledata.Synthetic("be", n, 7) {
		id, err := protocol.NewEntityID("be", now)
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := json.Marshal(&protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: "be", Version: 1,
			Seq: int64(i + 1), UpdatedAt: now, Visibility: d.Visibility, Body: d.Body, KeyID: "be-0123456789abcdef"})
		if err != nil {
			tb.Fatal(err)
		}
		src.changes = append(src.changes, Change{HubSeq: int64(i + 1), Raw: raw})
	}
	return src
}

func (s *memSource) Changes(_ context.Context, since int64, limit int) ([]Change, error) {
	i := sort.Search(len(s.changes), func(i int) bool { return s.changes[i].HubSeq > since })
	return s.changes[i:min(i+limit, len(s.changes))], nil
}

func (s *memSource) Entity(context.Context, string) (Change, bool, error) {
	return Change{}, false, nil
}
func (s *memSource) Subscribe() <-chan struct{} { return make(chan struct{}) }
func (s *memSource) Busy() bool                 { return s.busy.Load() }
func (s *memSource) SpeaksFor(owner, country string) bool {
	return slices.Contains(protocol.DefaultCountries(owner), country)
}

// runIndexer opens a portal over src and runs its indexer until the test ends.
func runIndexer(t *testing.T, src Source) *Portal {
	t.Helper()
	p, err := Open(t.Context(), Config{DataDir: t.TempDir()}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return p
}

// While the hub reports nodes pushing, the indexer takes a small share of
// the time, so that it does not slow the pushes; it catches up once they end.
func TestRun_GivesWayWhilePushing(t *testing.T) {
	const n = 3 * indexBatch
	// The same backlog indexed with nothing pushing, timed.
	free := newMemSource(t, n)
	start := time.Now()
	p := runIndexer(t, free)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := p.WaitIndexed(ctx, n); err != nil {
		t.Fatalf("indexing %d changes: %v", n, err)
	}
	took := time.Since(start)

	busy := newMemSource(t, n)
	busy.busy.Store(true)
	p = runIndexer(t, busy)
	time.Sleep(took)
	// The first batch starts at once; after it the indexer rests nineteen
	// times as long as the batch took, so in the time the whole backlog took
	// before it reaches the second at most.
	if got := p.IndexedSeq(); got > 2*indexBatch {
		t.Fatalf("indexed %d of %d changes while busy, in the time all of them took when not", got, n)
	}
	busy.busy.Store(false)
	if err := p.WaitIndexed(ctx, n); err != nil {
		t.Fatalf("catching up once the pushes ended: %v", err)
	}
}
