package hub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func copyDB(tb testing.TB, from, to string) {
	tb.Helper()
	for _, f := range []string{"hub.db", "hub.db-wal"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if os.IsNotExist(err) {
			os.Remove(filepath.Join(to, f))
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	os.Remove(filepath.Join(to, "hub.db-shm"))
}

// Every start of the hub is an incarnation. A node that names the one its
// cursor came from learns up to which hub_seq the hub still holds that
// history: all of it after a restart, less after a restore from an older
// copy, nothing when the copy is older than that incarnation.
func TestHub_Incarnation(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	backup := t.TempDir()

	th := mustOpenHubAt(t, cfg)
	if err := th.startIncarnation(ctx); err != nil {
		t.Fatal(err)
	}
	first := th.Incarnation()
	be := th.enrolNode(t, "be")
	be.mustPush(t, be.signAll(t, be.resource(t, "a", protocol.VisibilityPublic), be.resource(t, "b", protocol.VisibilityPublic))...)
	feed, err := be.client.ChangesAfter(ctx, protocol.FeedQuery{Since: 0})
	if err != nil || feed.Incarnation != first || feed.LineageSeq != nil || feed.HubSeq != 2 {
		t.Fatalf("feed = %+v, %v", feed, err)
	}
	th.close()
	copyDB(t, cfg.DataDir, backup)

	th = mustOpenHubAt(t, cfg) // a plain restart
	if err := th.startIncarnation(ctx); err != nil {
		t.Fatal(err)
	}
	second := th.Incarnation()
	be.client = th.client(be.cred)
	be.hub = th
	feed, err = be.client.ChangesAfter(ctx, protocol.FeedQuery{Since: 2, Incarnation: first})
	if err != nil || feed.Incarnation != second || second == first || feed.LineageSeq == nil || *feed.LineageSeq != 2 {
		t.Fatalf("after a restart: %+v, %v", feed, err)
	}
	be.mustPush(t, be.signAll(t, be.resource(t, "c", protocol.VisibilityPublic), be.resource(t, "d", protocol.VisibilityPublic))...)
	th.close()

	copyDB(t, backup, cfg.DataDir) // restored from the copy taken after the first run
	th = mustOpenHubAt(t, cfg)
	if err := th.startIncarnation(ctx); err != nil {
		t.Fatal(err)
	}
	be.client = th.client(be.cred)
	for _, tc := range []struct {
		known string
		want  int64
	}{{second, 0}, {first, 2}} {
		feed, err = be.client.ChangesAfter(ctx, protocol.FeedQuery{Since: 4, Incarnation: tc.known})
		if err != nil || feed.LineageSeq == nil || *feed.LineageSeq != tc.want || feed.HubSeq != 2 {
			t.Fatalf("after a restore, knowing %s: %+v, %v", tc.known, feed, err)
		}
	}

	if _, err := be.client.ChangesAfter(ctx, protocol.FeedQuery{Since: 4, Incarnation: strings.Repeat("a", protocol.MaxIncarnationID+1)}); !errors.Is(err, protocol.ErrBadRequest) {
		t.Fatalf("an incarnation over %d characters: %v", protocol.MaxIncarnationID, err)
	}

	// The hub's status does not call a node past its head in step.
	st, err := th.NetworkStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].PullCursor != 4 || st.Nodes[0].CursorAhead != 2 || st.Nodes[0].PullLag != 0 {
		t.Fatalf("status = %+v", st.Nodes)
	}

	// Every answer tells the hub's time.
	th.clock.Advance(72 * time.Hour)
	resp, err := http.Get(th.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ht, err := protocol.ParseHubTime(resp.Header.Get(protocol.HeaderHubTime))
	if err != nil || (ht.Sub(time.Now())-72*time.Hour).Abs() > time.Minute {
		t.Fatalf("%s = %q (%v)", protocol.HeaderHubTime, resp.Header.Get(protocol.HeaderHubTime), err)
	}
}
