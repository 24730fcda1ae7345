package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// feedHub answers a mirror's requests with one fixed page of the public
// selection: what a hub that was broken into, or a network path that
// tampers, could send.
type feedHub struct {
	keys  protocol.KeyDirectory
	items []protocol.MirrorFeedItem
}

func (f *feedHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case protocol.PathKeys:
		json.NewEncoder(w).Encode(f.keys)
	case protocol.PathChanges:
		var page []byte
		page = append(page, `{"changes":[`...)
		for i, it := range f.items {
			if i > 0 {
				page = append(page, ',')
			}
			page = protocol.AppendMirrorFeedItem(page, it)
		}
		page = append(page, `],"hub_seq":10,"next":10,"more":false}`...)
		w.Write(page)
	case protocol.PathMirrorBindings:
		w.Write([]byte(`{"nodes":{"be":["be"]},"subscriptions_open":false}`))
	default:
		http.NotFound(w, r)
	}
}

func signed(t *testing.T, k protocol.Key, vis protocol.Visibility, title string) (protocol.Signed, *protocol.Change) {
	t.Helper()
	id, err := protocol.NewEntityID("be", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.Resource{Title: title, Description: "For teachers.", Language: "en", Languages: []string{"en"},
		AgeMin: 10, AgeMax: 14, Audiences: []string{"teachers"}, Topics: []string{"media-literacy"}, Type: "guide"})
	c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: protocol.KindResource, Owner: "be", Version: 1, Seq: 1,
		UpdatedAt: time.Now().UTC(), Visibility: vis, Body: body}
	s, err := k.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// openMirror opens a mirror of the hub at url in a fresh directory.
func openMirror(t *testing.T, url string) *Mirror {
	t.Helper()
	dir := t.TempDir()
	id, _ := json.Marshal(Identity{Hub: url, Name: "eu1", Credential: "mirror:eu1.secret"})
	if err := os.WriteFile(filepath.Join(dir, IdentityFile), id, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	m, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMirror_RefusesWhatItMustNotHold: of a page with a valid public
// change, a tampered one, a validly signed community one and a withdrawal,
// the mirror keeps the public change and the withdrawal only.
func TestMirror_RefusesWhatItMustNotHold(t *testing.T) {
	k, err := protocol.GenerateKey("be")
	if err != nil {
		t.Fatal(err)
	}
	good, goodC := signed(t, k, protocol.VisibilityPublic, "Be smart online")
	bad, badC := signed(t, k, protocol.VisibilityPublic, "Tampered")
	bad.Change = []byte(strings.Replace(string(bad.Change), "Tampered", "Tampared", 1))
	staff, staffC := signed(t, k, protocol.VisibilityCommunity, "Helpline staff rota")
	fh := &feedHub{
		keys: protocol.KeyDirectory{Keys: []protocol.KeyInfo{{KeyID: k.ID, Owner: "be", PublicKey: k.Public(), CreatedAt: time.Now()}}},
		items: []protocol.MirrorFeedItem{
			{HubSeq: 3, Signed: good, AppliedAt: 1},
			{HubSeq: 4, Signed: bad, AppliedAt: 2},
			{HubSeq: 5, Signed: staff, AppliedAt: 3},
			{HubSeq: 6, Withdrawn: "be:01JKT3SAH0K6CSK6CSK6CSK6CS", Erased: true, AppliedAt: 4},
		},
	}
	srv := httptest.NewServer(fh)
	defer srv.Close()
	m := openMirror(t, srv.URL)
	if _, err := m.PullOnce(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	rows, err := m.db.Reader().Query(`SELECT id, change IS NULL FROM entities ORDER BY hub_seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var id string
		var withdrawn bool
		if err := rows.Scan(&id, &withdrawn); err != nil {
			t.Fatal(err)
		}
		got[id] = withdrawn
	}
	if len(got) != 2 || got[goodC.ID] || !got["be:01JKT3SAH0K6CSK6CSK6CSK6CS"] {
		t.Errorf("stored %v; want %s and the withdrawal", got, goodC.ID)
	}
	if _, ok := got[badC.ID]; ok {
		t.Error("a tampered change was stored")
	}
	if _, ok := got[staffC.ID]; ok {
		t.Error("a community change was stored")
	}
	if m.Cursor() != 10 {
		t.Errorf("cursor %d, want the page's next, 10", m.Cursor())
	}
	var acks int
	m.db.Reader().QueryRow(`SELECT COUNT(*) FROM acks`).Scan(&acks)
	if acks != 1 {
		t.Errorf("%d erasures to acknowledge, want 1", acks)
	}
}

// FuzzCheckItem feeds the mirror's item check arbitrary feed items: it
// never panics, and whatever it accepts is a withdrawal of a valid id or a
// public change.
func FuzzCheckItem(f *testing.F) {
	k, _ := protocol.KeyFromSeed("be", make([]byte, 32))
	lookup := (&protocol.KeyDirectory{Keys: []protocol.KeyInfo{{KeyID: k.ID, Owner: "be", PublicKey: k.Public()}}}).Lookup()
	f.Add([]byte(`{"hub_seq":1,"withdrawn":"be:01JKT3SAH0K6CSK6CSK6CSK6CS","erased":true,"applied_at":1}`))
	f.Add([]byte(`{"hub_seq":2,"change":{"v":1},"sig":"AAAA","applied_at":2}`))
	f.Add([]byte(`{"hub_seq":3,"withdrawn":"../../etc","applied_at":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var it protocol.MirrorFeedItem
		if json.Unmarshal(data, &it) != nil {
			return
		}
		if checkItem(it, lookup) != nil {
			return
		}
		if it.Withdrawn != "" {
			if _, err := protocol.SplitEntityID(it.Withdrawn); err != nil {
				t.Fatalf("accepted the withdrawal of %q", it.Withdrawn)
			}
			return
		}
		c, err := protocol.ParseChange(it.Change)
		if err != nil || !c.Public() {
			t.Fatalf("accepted %s: %v", it.Change, err)
		}
	})
}

// TestMirror_HubRestored: a hub whose head is behind the mirror's cursor
// was restored from a backup. The mirror stops with ErrHubRestored and,
// opened again, starts its copy afresh.
func TestMirror_HubRestored(t *testing.T) {
	k, err := protocol.GenerateKey("be")
	if err != nil {
		t.Fatal(err)
	}
	good, _ := signed(t, k, protocol.VisibilityPublic, "Be smart online")
	fh := &feedHub{keys: protocol.KeyDirectory{Keys: []protocol.KeyInfo{{KeyID: k.ID, Owner: "be", PublicKey: k.Public(), CreatedAt: time.Now()}}},
		items: []protocol.MirrorFeedItem{{HubSeq: 3, Signed: good, AppliedAt: 1}}}
	srv := httptest.NewServer(fh)
	defer srv.Close()
	m := openMirror(t, srv.URL)
	ctx := context.Background()
	if _, err := m.PullOnce(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.db.Writer().Exec(`UPDATE state SET value = 20 WHERE key = 'cursor'`); err != nil {
		t.Fatal(err)
	}
	m.cursor.Store(20)
	if _, err := m.PullOnce(ctx, 0); !errors.Is(err, ErrHubRestored) {
		t.Fatalf("pull from a hub at 10 with the cursor at 20: %v, want ErrHubRestored", err)
	}
	m.Close()
	again, err := Open(ctx, m.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var n int
	again.db.Reader().QueryRow(`SELECT COUNT(*) FROM entities`).Scan(&n)
	if again.Cursor() != 0 || n != 0 {
		t.Errorf("after the rebuild: cursor %d, %d entities; want a fresh copy", again.Cursor(), n)
	}
	if _, err := again.PullOnce(ctx, 0); err != nil || again.Cursor() != 10 {
		t.Errorf("the rebuilt mirror pulls: %v, cursor %d", err, again.Cursor())
	}
}
