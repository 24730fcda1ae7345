package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// erasureOf returns the erasure with hub_seq seq from the network status.
func erasureOf(tb testing.TB, th *testHub, seq int64) protocol.Erasure {
	tb.Helper()
	st, err := th.NetworkStatus(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range st.Erasures {
		if e.HubSeq == seq {
			return e
		}
	}
	tb.Fatalf("no erasure at hub_seq %d in %+v", seq, st.Erasures)
	return protocol.Erasure{}
}

func TestHub_Erasure(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	be, fi, de := th.enrolNode(t, "be"), th.enrolNode(t, "fi"), th.enrolNode(t, "de")
	r := be.resource(t, "Personal story of Jane Doe", protocol.VisibilityCommunity)
	be.mustPush(t, be.sign(t, r))
	_, fiCursor := pullAll(t, fi.client, 0)
	pullAll(t, de.client, 0)

	erase := be.next(r)
	erase.Deleted, erase.Erased, erase.Body = true, true, nil
	res := be.mustPush(t, be.sign(t, erase))

	e := erasureOf(t, th, res.HubSeq)
	if e.ID != r.ID || e.By != protocol.ErasedByOwner || e.Complete || !slices.Equal(e.Pending, []string{"de", "fi"}) {
		t.Fatalf("erasure = %+v", e)
	}

	// Pulling past the erasure says nothing about the purge: only the
	// acknowledgement does.
	_, fiCursor = pullAll(t, fi.client, fiCursor)
	if _, err := fi.client.Changes(ctx, fiCursor, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := th.completeErasures(ctx); err != nil {
		t.Fatal(err)
	}
	if e := erasureOf(t, th, res.HubSeq); e.Complete || !slices.Equal(e.Pending, []string{"de", "fi"}) {
		t.Fatalf("after fi pulled past it: %+v", e)
	}
	ack, err := fi.client.AckErasures(ctx, []int64{res.HubSeq})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ack.Acknowledged, []int64{res.HubSeq}) {
		t.Fatalf("fi's acknowledgement: %+v", ack)
	}
	if e := erasureOf(t, th, res.HubSeq); e.Complete || !slices.Equal(e.Pending, []string{"de"}) {
		t.Fatalf("after fi acknowledged: %+v", e)
	}
	// Acknowledging again is harmless.
	if _, err := fi.client.AckErasures(ctx, []int64{res.HubSeq}); err != nil {
		t.Fatal(err)
	}

	// A node enrolled after the erasure never held a copy: it is not waited
	// for, and its acknowledgement records nothing.
	nl := th.enrolNode(t, "nl")
	if ack, err := nl.client.AckErasures(ctx, []int64{res.HubSeq, res.HubSeq + 1000}); err != nil || len(ack.Acknowledged) != 0 {
		t.Fatalf("nl's acknowledgement: %+v, %v", ack, err)
	}
	// Neither is the owner, which purged before it pushed.
	if ack, err := be.client.AckErasures(ctx, []int64{res.HubSeq}); err != nil || len(ack.Acknowledged) != 0 {
		t.Fatalf("be's acknowledgement: %+v, %v", ack, err)
	}
	if e := erasureOf(t, th, res.HubSeq); e.Complete || !slices.Equal(e.Pending, []string{"de"}) {
		t.Fatalf("after nl and be: %+v", e)
	}

	if _, err := de.client.AckErasures(ctx, []int64{res.HubSeq}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		e := erasureOf(t, th, res.HubSeq)
		return e.Complete && e.DoneAt != nil && len(e.Pending) == 0
	}, "erasure completes")

	var n int
	th.db.Reader().QueryRow(`SELECT COUNT(*) FROM entities WHERE CAST(change AS TEXT) LIKE '%Jane Doe%'`).Scan(&n)
	if n != 0 {
		t.Fatal("erased text still in the entities table")
	}
}

func TestHub_handleErasureAck(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	post := func(bearer, body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, th.url+protocol.PathErasureAck, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	tests := []struct {
		name   string
		bearer string
		body   string
		status int
		code   protocol.Code
	}{
		{"node", be.cred, `{"hub_seqs":[1]}`, 200, ""},
		{"no credential", "", `{"hub_seqs":[1]}`, 401, protocol.CodeUnauthorized},
		{"the operator holds no copy", th.AdminToken(), `{"hub_seqs":[1]}`, 403, protocol.CodeForbidden},
		{"empty", be.cred, `{"hub_seqs":[]}`, 422, protocol.CodeInvalidField},
		{"zero", be.cred, `{"hub_seqs":[0]}`, 422, protocol.CodeInvalidField},
		{"unknown member", be.cred, `{"hub_seqs":[1],"all":true}`, 400, protocol.CodeMalformedJSON},
		{"too large", be.cred, `{"hub_seqs":[1]` + strings.Repeat(" ", protocol.MaxErasureAckBytes) + `}`, 413, protocol.CodeRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.bearer, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.code != "" && !bytes.Contains(body, []byte(`"code":"`+string(tt.code)+`"`)) {
				t.Fatalf("body %s, want code %s", body, tt.code)
			}
		})
	}
}

func TestHub_EraseEntity(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	r := be.resource(t, "Class photo of Jane Doe", protocol.VisibilityPublic)
	be.mustPush(t, be.sign(t, r))
	_, fiCursor := pullAll(t, fi.client, 0)

	t.Run("a reason is required", func(t *testing.T) {
		if _, err := th.EraseEntity(ctx, r.ID, " "); !errors.Is(err, protocol.ErrInvalidField) {
			t.Fatalf("err = %v, want invalid_field", err)
		}
	})
	t.Run("no such entity", func(t *testing.T) {
		if _, err := th.EraseEntity(ctx, "be:01JKT3S6M00M2GA1850M2GA185", "GDPR request"); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("err = %v, want not_found", err)
		}
	})

	// be no longer runs its node: the coordination team erases its entity.
	code, b := doJSON(t, http.MethodPost, th.url+PathAdminErasures, th.AdminToken(),
		`{"id":"`+r.ID+`","reason":"GDPR request 4411; the SIC closed its node"}`)
	if code != 200 {
		t.Fatalf("erase: %d %s", code, b)
	}
	items, _ := pullAll(t, fi.client, fiCursor)
	if len(items) != 1 {
		t.Fatalf("fi pulled %d changes, want the erasure", len(items))
	}
	dir, err := fi.client.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := protocol.Verify(items[0].Signed, dir.Lookup())
	if err != nil {
		t.Fatalf("the hub's erasure does not verify: %v", err)
	}
	if c.ID != r.ID || c.Owner != "be" || !c.Erased || c.Version != r.Version+1 || !strings.HasPrefix(c.KeyID, "hub-") {
		t.Fatalf("erasure %s", items[0].Signed.Change)
	}
	e := erasureOf(t, th, items[0].HubSeq)
	if e.By != protocol.ErasedByHub || e.Reason != "GDPR request 4411; the SIC closed its node" || !slices.Equal(e.Pending, []string{"fi"}) {
		t.Fatalf("erasure = %+v", e)
	}
	th.index(t)
	if code, _ := get(t, th.url+"/api/v1/entities/"+r.ID, ""); code != 404 {
		t.Fatalf("erased resource still public: %d", code)
	}
	// Scripts see it in the operator's JSON status.
	if code, body := get(t, th.url+protocol.PathStatus, th.AdminToken()); code != 200 ||
		!strings.Contains(string(body), `"reason":"GDPR request 4411; the SIC closed its node","pending":["fi"]`) {
		t.Errorf("status: %d\n%s", code, body)
	}

	// Again: nothing to do.
	if seq, err := th.EraseEntity(ctx, r.ID, "again"); err != nil || seq != 0 {
		t.Fatalf("second erasure: %d, %v", seq, err)
	}
	// Only the operator may ask.
	if code, _ := doJSON(t, http.MethodPost, th.url+PathAdminErasures, fi.cred, `{"id":"`+r.ID+`","reason":"x"}`); code != 403 {
		t.Fatalf("a node erased through the admin API: %d", code)
	}

	// A node may not relay the hub's erasure of another owner's entity.
	r2 := be.resource(t, "Another", protocol.VisibilityPublic)
	be.mustPush(t, be.sign(t, r2))
	if _, err := th.EraseEntity(ctx, r2.ID, "GDPR request 4412"); err != nil {
		t.Fatal(err)
	}
	feed, _ := pullAll(t, fi.client, 0)
	relayed := feed[len(feed)-1].Signed
	fi.seq++
	h := protocol.PushHeader{Node: "fi", Epoch: fi.epoch, FromSeq: fi.seq, ToSeq: fi.seq, HeadSeq: fi.seq}
	res, err := fi.client.Push(ctx, h, []protocol.Signed{relayed})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeNotOwner {
		t.Fatalf("relayed erasure: %+v", res)
	}

	if _, err := fi.client.AckErasures(ctx, []int64{items[0].HubSeq}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return erasureOf(t, th, items[0].HubSeq).Complete }, "erasure completes")
}

// doJSON sends a JSON request and returns status and body.
func doJSON(tb testing.TB, method, url, bearer, body string) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// TestHub_erasureHoldersMigration: erasures open when a hub moves to explicit
// acknowledgements keep their holders, and those whose pull cursor had
// passed count as having acknowledged.
func TestHub_erasureHoldersMigration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	before := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() >= "0006" {
			continue
		}
		b, err := fs.ReadFile(migrationFS, "migrations/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		before[e.Name()] = &fstest.MapFile{Data: b}
	}
	db, err := sqlitedb.Open(t.Context(), filepath.Join(cfg.DataDir, "hub.db"), before)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Writer().Exec(`
		INSERT INTO nodes (id, name, created_at, enrolled_at, enrolled_hub_seq, pull_cursor) VALUES
			('be', 'BE', 1, 1, 0, 10), ('fi', 'FI', 1, 1, 0, 12), ('de', 'DE', 1, 1, 0, 3), ('nl', 'NL', 1, 1, 11, 11), ('pl', 'PL', 1, NULL, 0, 0);
		INSERT INTO erasures (hub_seq, id, owner, at) VALUES (10, 'be:01JKT3S6M00M2GA1850M2GA185', 'be', 1);
		INSERT INTO erasures (hub_seq, id, owner, at, done_at) VALUES (5, 'be:01JKT3S7K858N2MAHA58N2MAHA', 'be', 1, 2);`)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	th := mustOpenHubAt(t, cfg)
	// fi had pulled past it; de had not; nl enrolled after it, pl never,
	// and be erased it.
	e := erasureOf(t, th, 10)
	if e.Complete || !slices.Equal(e.Pending, []string{"de"}) || e.By != protocol.ErasedByOwner {
		t.Fatalf("open erasure after the migration: %+v", e)
	}
	if e := erasureOf(t, th, 5); !e.Complete {
		t.Fatalf("completed erasure after the migration: %+v", e)
	}
}

// TestHub_ErasurePurgesHubBlob: the hub removes an erased entity's
// attachment within seconds, not at the next collection, and while holders
// have still to acknowledge.
func TestHub_ErasurePurgesHubBlob(t *testing.T) {
	th := mustOpenHub(t, func(c *Config) { c.Blobs.GCInterval = time.Hour })
	be, _ := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	ctx := t.Context()
	store, _, err := th.blobStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	private, shared := newTestBlob(30, 1000, "jane.pdf", "application/pdf"), newTestBlob(31, 1000, "handout.pdf", "application/pdf")
	be.upload(t, shared)
	c := publishWithBlob(t, be, private, protocol.VisibilityCommunity, nil)
	c2 := be.next(c)
	c2.Blobs = []protocol.BlobRef{private.ref, shared.ref}
	other := be.resource(t, "Handout", protocol.VisibilityPublic)
	other.Blobs = []protocol.BlobRef{shared.ref}
	be.mustPush(t, be.signAll(t, c2, other)...)

	er := be.next(c2)
	er.Deleted, er.Erased, er.Body, er.Blobs = true, true, nil, nil
	res := be.mustPush(t, be.sign(t, er))
	eventually(t, 10*time.Second, func() bool {
		_, err := store.Stat(ctx, private.ref.SHA256)
		return err != nil
	}, "the hub to purge the erased attachment")
	if _, err := store.Stat(ctx, shared.ref.SHA256); err != nil {
		t.Errorf("the attachment another entity references went too: %v", err)
	}
	if code, _ := get(t, th.url+protocol.PathBlobs+private.ref.SHA256, be.cred); code != http.StatusNotFound {
		t.Errorf("GET of the erased attachment: %d", code)
	}
	if e := erasureOf(t, th, res.HubSeq); e.Complete || !slices.Equal(e.Pending, []string{"fi"}) {
		t.Errorf("erasure = %+v, want fi still to acknowledge", e)
	}
}

func TestHub_ErasureIsFinal(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	erasure := func(c *protocol.Change) *protocol.Change {
		e := be.next(c)
		e.Deleted, e.Erased, e.Body = true, true, nil
		return e
	}
	revival := func(c *protocol.Change, title string) *protocol.Change {
		v := be.next(c)
		v.Deleted, v.Erased, v.Body = false, false, mustJSON(t, resourceBody(title))
		return v
	}
	refusedErased := func(t *testing.T, res *protocol.PushResult, id string) {
		t.Helper()
		if res.Applied != 0 || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeErased || res.Refused[0].ID != id {
			t.Fatalf("later version after the erasure: %+v", res)
		}
	}
	_, cursor := pullAll(t, fi.client, 0)

	t.Run("the owner's erasure", func(t *testing.T) {
		r := be.resource(t, "Personal story of Jane Doe", protocol.VisibilityPublic)
		be.mustPush(t, be.sign(t, r))
		e := erasure(r)
		be.mustPush(t, be.sign(t, e))
		_, cursor = pullAll(t, fi.client, cursor)

		refusedErased(t, be.mustPush(t, be.sign(t, revival(e, "Personal story of Jane Doe, again"))), r.ID)
		if items, _ := pullAll(t, fi.client, cursor); len(items) != 0 {
			t.Fatalf("a holder pulled %d changes after the erasure", len(items))
		}
		// A tombstone after the erasure is no less a later version.
		del := be.next(e)
		del.Erased = false
		refusedErased(t, be.mustPush(t, be.sign(t, del)), r.ID)
	})

	t.Run("in the same push as the erasure", func(t *testing.T) {
		r := be.resource(t, "Class photo of John Doe", protocol.VisibilityPublic)
		be.mustPush(t, be.sign(t, r))
		e := erasure(r)
		res := be.mustPush(t, be.signAll(t, e, revival(e, "Class photo of John Doe, again"))...)
		if res.Applied != 1 || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeErased {
			t.Fatalf("erasure and a later version in one push: %+v", res)
		}
	})

	t.Run("a re-sent erasure is a silent duplicate", func(t *testing.T) {
		lu := th.enrolNode(t, "lu")
		r := lu.resource(t, "Diary of Jane Doe", protocol.VisibilityPublic)
		e := lu.next(r)
		e.Deleted, e.Erased, e.Body = true, true, nil
		ss := lu.signAll(t, r, e)
		lu.mustPush(t, ss...)
		// Sent again in the same epoch (the answer was lost), and again in a
		// new epoch, where its seq is not known processed and the version
		// check sees the same bytes.
		if res := lu.mustPush(t, ss[1]); res.Duplicates != 1 || len(res.Refused) != 0 {
			t.Fatalf("erasure sent again: %+v", res)
		}
		lu.epoch = "01JKT3RZ9W5B4V8X2N6M0QAFIN"
		// (Version 1 under it is only older than the erasure.)
		if res := lu.mustPush(t, ss...); res.Duplicates != 1 || res.Applied != 0 || len(res.Refused) != 1 ||
			res.Refused[0].Code != protocol.CodeStaleVersion || res.Refused[0].Version != 1 {
			t.Fatalf("erasure sent again in a new epoch: %+v", res)
		}
	})

	t.Run("the coordination team's erasure", func(t *testing.T) {
		r := be.resource(t, "Address of Jane Doe", protocol.VisibilityPublic)
		be.mustPush(t, be.sign(t, r))
		if _, err := th.EraseEntity(ctx, r.ID, "GDPR request 4413"); err != nil {
			t.Fatal(err)
		}
		// be comes back and writes on top of what it had.
		v := be.next(r)
		v.Version = r.Version + 2
		refusedErased(t, be.mustPush(t, be.sign(t, v)), r.ID)
	})

	t.Run("tombstones before the erasure", func(t *testing.T) {
		// What a node pushes when it erases an entity whose earlier
		// versions it had not pushed yet: those become tombstones, and only
		// the last version is the erasure.
		r := be.resource(t, "Diary of John Doe", protocol.VisibilityPublic)
		r.Deleted, r.Body = true, nil
		del := be.next(r)
		e := erasure(del)
		if res := be.mustPush(t, be.signAll(t, r, del, e)...); res.Applied != 3 || len(res.Refused) != 0 {
			t.Fatalf("tombstones then the erasure: %+v", res)
		}
	})

	t.Run("a tombstone is not final", func(t *testing.T) {
		r := be.resource(t, "Quiz on passwords", protocol.VisibilityPublic)
		be.mustPush(t, be.sign(t, r))
		del := be.next(r)
		del.Deleted, del.Body = true, nil
		be.mustPush(t, be.sign(t, del))
		if res := be.mustPush(t, be.sign(t, revival(del, "Quiz on passwords, revised"))); res.Applied != 1 || len(res.Refused) != 0 {
			t.Fatalf("revival after a delete: %+v", res)
		}
	})
}

func TestHub_ErasureStatus(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	r := be.resource(t, "A story of one person", protocol.VisibilityCommunity)
	kept := be.resource(t, "Another story", protocol.VisibilityCommunity)
	be.mustPush(t, be.sign(t, r), be.sign(t, kept))
	pullAll(t, fi.client, 0)
	erase := be.next(r)
	erase.Deleted, erase.Erased, erase.Body = true, true, nil
	res := be.mustPush(t, be.sign(t, erase))
	unpushed := "be:01JKT3S9HREHT78X3MEHT78X3M"

	st, err := be.client.ErasureStatus(ctx, protocol.ErasureStatusRequest{Group: "person-1", IDs: []string{r.ID, kept.ID, unpushed}})
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.ErasureState{
		{ID: r.ID, HubSeq: res.HubSeq, Holders: []protocol.HolderState{{Node: "fi"}}},
		{ID: kept.ID, Holders: []protocol.HolderState{}},
		{ID: unpushed, Holders: []protocol.HolderState{}},
	}
	if fmt.Sprint(st.Erasures) != fmt.Sprint(want) {
		t.Fatalf("status = %+v, want %+v", st.Erasures, want)
	}
	if e := erasureOf(t, th, res.HubSeq); e.Group != "person-1" {
		t.Errorf("the console's erasure has group %q, want person-1", e.Group)
	}

	groups, err := th.ErasureGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Owner != "be" || groups[0].Group != "person-1" || groups[0].Records != 1 || groups[0].Complete() ||
		fmt.Sprint(groups[0].Holders) != fmt.Sprint([]GroupHolder{{Node: "fi", Acked: 0, Total: 1}}) {
		t.Fatalf("groups = %+v", groups)
	}
	if _, err := fi.client.AckErasures(ctx, []int64{res.HubSeq}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		groups, err := th.ErasureGroups(ctx)
		return err == nil && len(groups) == 1 && groups[0].Complete() && groups[0].Holders[0].Acked == 1
	}, "the group completes")
	eventually(t, 10*time.Second, func() bool {
		st, err := be.client.ErasureStatus(ctx, protocol.ErasureStatusRequest{IDs: []string{r.ID}})
		return err == nil && st.Erasures[0].Complete && len(st.Erasures[0].Holders) == 1 && st.Erasures[0].Holders[0].Acked
	}, "the status shows fi's acknowledgement and completion")

	// A node asks only about its own erasures, and only nodes ask.
	if _, err := fi.client.ErasureStatus(ctx, protocol.ErasureStatusRequest{IDs: []string{r.ID}}); protocol.ErrorCode(err) != protocol.CodeNotOwner {
		t.Errorf("fi asking about be's erasure: %v, want %s", err, protocol.CodeNotOwner)
	}
	req, _ := http.NewRequest(http.MethodPost, th.url+protocol.PathErasureStatus, strings.NewReader(`{"ids":["`+r.ID+`"]}`))
	req.Header.Set("Authorization", "Bearer "+th.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the operator asking: status %d, want 403", resp.StatusCode)
	}
	if _, err := be.client.ErasureStatus(ctx, protocol.ErasureStatusRequest{Group: "Eva Peeters", IDs: []string{r.ID}}); protocol.ErrorCode(err) != protocol.CodeInvalidField {
		t.Errorf("a group with a name in it: %v, want %s", err, protocol.CodeInvalidField)
	}
}
