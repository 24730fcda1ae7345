package node

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestConfig_Validate(t *testing.T) {
	c := DefaultConfig()
	c.DataDir = "/tmp/x"
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	c.Listen = "nope"
	c.Schedules.Pull = "every minute"
	c.PushBatch = 0
	c.LongPollWait = time.Minute
	c.DataDir = ""
	err := c.Validate()
	for _, field := range []string{"listen:", "schedules.pull:", "push_batch:", "long_poll_wait:", "data_dir:"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate() = %v, want an error naming %s", err, field)
		}
	}
}

func TestInit(t *testing.T) {
	hub := newFakeHub(t)
	dir := t.TempDir()
	id, err := Init(t.Context(), dir, hub.URL(), hub.token("be"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if id.Node != "be" || id.Epoch == "" || id.KeyID != hub.keys[id.KeyID].KeyID {
		t.Fatalf("identity = %+v", id)
	}
	for _, f := range []string{keyFile, adminTokenFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, fi.Mode().Perm())
		}
	}

	t.Run("other node refused", func(t *testing.T) {
		_, err := Init(t.Context(), dir, hub.URL(), hub.token("fi"), testLogger(t))
		if err == nil || !strings.Contains(err.Error(), `belongs to node "be"`) {
			t.Fatalf("Init for another node = %v", err)
		}
	})
	t.Run("reinit starts a new epoch and keeps the key", func(t *testing.T) {
		n := openNode(t, dir)
		mustCreate(t, n, "one")
		mustCreate(t, n, "two")
		mustSync(t, n)
		mustCreate(t, n, "three") // pending at re-init
		n.Close()

		id2, err := Init(t.Context(), dir, hub.URL(), hub.token("be"), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if id2.Epoch == id.Epoch || id2.KeyID != id.KeyID {
			t.Fatalf("reinit identity = %+v, first = %+v", id2, id)
		}
		n = openNode(t, dir)
		s := mustStatus(t, n)
		if s.Epoch != id2.Epoch || s.HeadSeq != 1 || s.PushCheckpoint != 0 || s.PullCursor != 0 || s.Pending != 1 {
			t.Fatalf("status after reinit = %+v", s)
		}
		if got := outboxSeqs(t, n); !slices.Equal(got, []int64{1}) {
			t.Fatalf("outbox after reinit = %v, want [1]", got)
		}
		mustSync(t, n)
		if cp := hub.checkpoint("be"); cp.epoch != id2.Epoch || cp.applied != 1 {
			t.Fatalf("hub checkpoint = %+v", cp)
		}
		if rep, err := n.Verify(t.Context()); err != nil || !rep.Equal {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
	})
}

func TestOpen_NotInitialised(t *testing.T) {
	_, err := Open(t.Context(), testConfig(t.TempDir()), testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "node not initialised: run bikfed node init --hub URL --token T") {
		t.Fatalf("Open = %v", err)
	}
}

func TestNode_Create(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")

	t.Run("stores and signs", func(t *testing.T) {
		e := mustCreate(t, n, "Be smart online")
		if !strings.HasPrefix(e.ID, "be:") || e.Owner != "be" || e.Version != 1 || e.State != StatePending {
			t.Fatalf("created = %+v", e)
		}
		got, err := n.Get(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var r protocol.Resource
		if err := json.Unmarshal(got.Body, &r); err != nil || r.Title != "Be smart online" {
			t.Fatalf("body = %s (%v)", got.Body, err)
		}
		var change, sig []byte
		if err := n.db.Reader().QueryRow(`SELECT change, sig FROM outbox WHERE entity_id = ?`, e.ID).Scan(&change, &sig); err != nil {
			t.Fatal(err)
		}
		if _, err := protocol.Verify(protocol.Signed{Change: change, Sig: sig}, hub.lookup()); err != nil {
			t.Fatalf("outbox change does not verify: %v", err)
		}
	})

	t.Run("concurrent creates get gap-free seqs", func(t *testing.T) {
		before := len(outboxSeqs(t, n))
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for g := range 20 {
			wg.Go(func() {
				for i := range 5 {
					if _, err := n.Create(t.Context(), resourceDraft("r"+string(rune('a'+g))+string(rune('a'+i)))); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seqs := outboxSeqs(t, n)
		if len(seqs) != before+100 {
			t.Fatalf("outbox has %d rows, want %d", len(seqs), before+100)
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("outbox seq %d at position %d: not gap-free", s, i)
			}
		}
		if s := mustStatus(t, n); s.HeadSeq != int64(len(seqs)) {
			t.Fatalf("head_seq = %d, want %d", s.HeadSeq, len(seqs))
		}
	})
}

func TestNode_CreateValidation(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	tests := []struct {
		name   string
		draft  Draft
		fields []string
		code   protocol.Code
	}{
		{
			name: "bad resource fields",
			draft: Draft{Kind: protocol.KindResource, Visibility: "secret",
				Body: json.RawMessage(`{"title":"","description":"","language":"english","languages":[],"age_min":12,"age_max":8,"audiences":["children"],"topics":["nonsense"],"type":"guide"}`)},
			fields: []string{"visibility", "body.title", "body.language", "body.languages", "body.age_max", "body.topics[0]"},
			code:   protocol.CodeInvalidField,
		},
		{
			name:   "hub-only kind",
			draft:  Draft{Kind: protocol.KindService, Visibility: protocol.VisibilityPublic, Body: json.RawMessage(`{}`)},
			fields: []string{"kind"},
			code:   protocol.CodeInvalidField,
		},
		{
			name:  "unknown body field",
			draft: Draft{Kind: protocol.KindResource, Visibility: protocol.VisibilityPublic, Body: json.RawMessage(`{"titel":"x"}`)},
			code:  protocol.CodeMalformedJSON,
		},
		{
			name:  "unknown kind",
			draft: Draft{Kind: "poem", Visibility: protocol.VisibilityPublic, Body: json.RawMessage(`{}`)},
			code:  protocol.CodeUnknownKind,
		},
		{
			name:   "missing body",
			draft:  Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity},
			fields: []string{"body"},
			code:   protocol.CodeInvalidField,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := n.Create(t.Context(), tt.draft)
			if err == nil {
				t.Fatal("Create succeeded")
			}
			if got := protocol.ErrorCode(err); got != tt.code {
				var ve *protocol.ValidationError
				if !errors.As(err, &ve) || ve.Code != tt.code {
					t.Fatalf("code = %s (%v), want %s", got, err, tt.code)
				}
			}
			if len(tt.fields) > 0 {
				var ve *protocol.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %T %v, want a ValidationError", err, err)
				}
				var got []string
				for _, f := range ve.Fields {
					got = append(got, f.Field)
				}
				for _, f := range tt.fields {
					if !slices.Contains(got, f) {
						t.Errorf("fields %v lack %s", got, f)
					}
				}
			}
		})
	}
	if k := count(t, n.db.Reader(), `SELECT count(*) FROM entities`); k != 0 {
		t.Errorf("%d entities stored after invalid drafts", k)
	}
	if seqs := outboxSeqs(t, n); len(seqs) != 0 {
		t.Errorf("outbox = %v after invalid drafts", seqs)
	}
}

func TestNode_UpdateDelete(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	e := mustCreate(t, n, "first")

	u, err := n.Update(t.Context(), e.ID, Draft{Visibility: protocol.VisibilityPublic, Body: resourceBody("second")})
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 2 || u.Kind != protocol.KindResource {
		t.Fatalf("updated = %+v", u)
	}
	same, err := n.Update(t.Context(), e.ID, Draft{Visibility: protocol.VisibilityPublic, Body: resourceBody("second")})
	if err != nil || same.Version != 2 {
		t.Fatalf("identical update = %+v, %v; want no new version", same, err)
	}
	if _, err := n.Update(t.Context(), e.ID, Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityPublic, Body: resourceBody("x")}); !errors.Is(err, protocol.ErrInvalidField) {
		t.Fatalf("kind change = %v, want invalid_field", err)
	}

	t.Run("others' entities are refused", func(t *testing.T) {
		fi := hub.remoteKey(t, "fi")
		s := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("Finnish")})
		c, _ := protocol.ParseChange(s.Change)
		mustSync(t, n)
		if _, err := n.Update(t.Context(), c.ID, resourceDraft("mine now")); !errors.Is(err, protocol.ErrNotOwner) {
			t.Fatalf("Update of fi's entity = %v, want not_owner", err)
		}
		if _, err := n.Delete(t.Context(), c.ID, false); !errors.Is(err, protocol.ErrNotOwner) {
			t.Fatalf("Delete of fi's entity = %v, want not_owner", err)
		}
		if _, err := n.Update(t.Context(), "be:01ARZ3NDEKTSV4RRFFQ69G5FAV", resourceDraft("x")); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("Update of a missing entity = %v, want not_found", err)
		}
	})

	t.Run("delete keeps the body locally, erase purges it", func(t *testing.T) {
		d, err := n.Delete(t.Context(), e.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Deleted || d.Erased || d.Version != 3 || len(d.Body) == 0 {
			t.Fatalf("deleted = %+v", d)
		}
		again, err := n.Delete(t.Context(), e.ID, false)
		if err != nil || again.Version != 3 {
			t.Fatalf("second delete = %+v, %v; want a no-op", again, err)
		}
		x, err := n.Delete(t.Context(), e.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if !x.Erased || x.Version != 4 || x.Body != nil {
			t.Fatalf("erased = %+v", x)
		}
		mustSync(t, n)
		row, ok := hub.row(e.ID)
		if !ok || row.version != 4 || strings.Contains(string(row.signed.Change), "second") {
			t.Fatalf("hub row = %+v", row)
		}

		// An erasure before the first push: no pending outbox change may still
		// carry the erased text, and the seqs stay gap-free.
		e := mustCreate(t, n, "first")
		if _, err := n.Update(t.Context(), e.ID, Draft{Visibility: protocol.VisibilityPublic, Body: resourceBody("second")}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Delete(t.Context(), e.ID, true); err != nil {
			t.Fatal(err)
		}
		rows, err := n.db.Reader().Query(`SELECT change FROM outbox WHERE entity_id = ?`, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		k := 0
		for rows.Next() {
			var ch []byte
			rows.Scan(&ch)
			k++
			if strings.Contains(string(ch), "first") || strings.Contains(string(ch), "second") {
				t.Errorf("outbox change still carries erased text: %s", ch)
			}
		}
		if k != 3 {
			t.Errorf("outbox has %d changes of the entity, want 3 (seqs stay gap-free)", k)
		}
		mustSync(t, n)
		if row, ok := hub.row(e.ID); !ok || row.version != 3 || strings.Contains(string(row.signed.Change), "first") {
			t.Fatalf("hub row = %+v", row)
		}
		if s := mustStatus(t, n); len(s.Refusals) != 0 {
			t.Fatalf("refusals = %+v", s.Refusals)
		}
	})
}

func TestNode_Update_AfterErasure(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")

	t.Run("an erased entity is never written again", func(t *testing.T) {
		e := mustCreate(t, n, "Personal story of Jane Doe")
		if _, err := n.Delete(t.Context(), e.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Update(t.Context(), e.ID, resourceDraft("Personal story of Jane Doe, again")); !errors.Is(err, protocol.ErrErased) {
			t.Fatalf("Update after the erasure = %v, want erased", err)
		}
		got, err := n.Get(t.Context(), e.ID)
		if err != nil || !got.Erased || got.Version != 2 {
			t.Fatalf("entity after the refused update = %+v, %v", got, err)
		}
		var k int
		if err := n.db.Reader().QueryRow(`SELECT count(*) FROM outbox WHERE entity_id = ? AND version > 2`, e.ID).Scan(&k); err != nil || k != 0 {
			t.Fatalf("outbox holds %d versions after the erasure (%v)", k, err)
		}
		if again, err := n.Delete(t.Context(), e.ID, true); err != nil || again.Version != 2 {
			t.Fatalf("erasing again = %+v, %v; want a no-op", again, err)
		}
	})

	t.Run("a deleted entity may come back", func(t *testing.T) {
		e := mustCreate(t, n, "Quiz on passwords")
		if _, err := n.Delete(t.Context(), e.ID, false); err != nil {
			t.Fatal(err)
		}
		u, err := n.Update(t.Context(), e.ID, resourceDraft("Quiz on passwords, revised"))
		if err != nil || u.Deleted || u.Version != 3 {
			t.Fatalf("Update after a delete = %+v, %v", u, err)
		}
	})
}

func TestNode_Scheduled(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	now := time.Now()
	later, later2 := now.Add(time.Hour), now.Add(2*time.Hour)
	d := resourceDraft("embargoed until SID")
	d.PublishAt = &later2
	e2, err := n.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	d.PublishAt = &later
	e1, err := n.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if e1.State != StateScheduled || e1.Version != 1 {
		t.Fatalf("scheduled entity = %+v", e1)
	}
	if seqs := outboxSeqs(t, n); len(seqs) != 0 {
		t.Fatalf("outbox = %v, want nothing before publish_at", seqs)
	}
	mustSync(t, n)
	if _, ok := hub.row(e1.ID); ok {
		t.Fatal("scheduled entity reached the hub")
	}
	if s := mustStatus(t, n); s.Scheduled != 2 {
		t.Fatalf("scheduled = %d", s.Scheduled)
	}
	// Editing a scheduled entity replaces the unsent version.
	d.Body = resourceBody("embargoed, edited")
	e1, err = n.Update(t.Context(), e1.ID, d)
	if err != nil || e1.Version != 1 || e1.State != StateScheduled {
		t.Fatalf("edit of scheduled = %+v, %v", e1, err)
	}
	if k, err := n.PublishDue(t.Context(), now); err != nil || k != 0 {
		t.Fatalf("PublishDue(now) = %d, %v", k, err)
	}
	if k, err := n.PublishDue(t.Context(), later2.Add(time.Second)); err != nil || k != 2 {
		t.Fatalf("PublishDue(later) = %d, %v", k, err)
	}
	var ids []string
	rows, _ := n.db.Reader().Query(`SELECT entity_id FROM outbox ORDER BY seq`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if !slices.Equal(ids, []string{e1.ID, e2.ID}) {
		t.Fatalf("outbox order = %v, want publish_at order %v", ids, []string{e1.ID, e2.ID})
	}
	got, _ := n.Get(t.Context(), e1.ID)
	if got.State != StatePending || got.Version != 1 {
		t.Fatalf("published = %+v", got)
	}
	mustSync(t, n)
	if row, ok := hub.row(e1.ID); !ok || !strings.Contains(string(row.signed.Change), "edited") {
		t.Fatalf("hub row = %+v, %v", row, ok)
	}
	got, _ = n.Get(t.Context(), e1.ID)
	if got.State != StateSynced {
		t.Fatalf("after sync = %+v", got)
	}
}

func TestNode_Import(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	existing := mustCreate(t, n, "old title")

	good := func(title string) string {
		b, _ := json.Marshal(Record{Draft: resourceDraft(title)})
		return string(b)
	}
	upd, _ := json.Marshal(Record{ID: existing.ID, Draft: Draft{Visibility: protocol.VisibilityPublic, Body: resourceBody("new title")}})
	input := strings.Join([]string{
		good("one"),
		`{"kind":"resource","visibility":"public","body":{"title":""}}`,
		"",
		string(upd),
		`{"kind":"resource", broken`,
		`{"kind":"resource","visibility":"public","colour":"red","body":{}}`,
		good("two"),
		`{"id":"fi:01ARZ3NDEKTSV4RRFFQ69G5FAV","kind":"resource","visibility":"public","body":` + string(resourceBody("x")) + `}`,
	}, "\n")
	res, err := n.Import(t.Context(), strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 7 || res.Created != 2 || res.Updated != 1 || res.Failed != 4 {
		t.Fatalf("result = %+v", res)
	}
	lines := []int{}
	for _, e := range res.Errors {
		lines = append(lines, e.Line)
	}
	if !slices.Equal(lines, []int{2, 5, 6, 8}) {
		t.Fatalf("error lines = %v, errors = %+v", lines, res.Errors)
	}
	if res.Errors[0].Code != protocol.CodeInvalidField || len(res.Errors[0].Fields) == 0 {
		t.Errorf("error 0 = %+v", res.Errors[0])
	}
	if res.Errors[2].Code != protocol.CodeInvalidField || res.Errors[2].Fields[0].Field != "colour" {
		t.Errorf("error 2 = %+v", res.Errors[2])
	}
	if res.Errors[3].Code != protocol.CodeNotOwner {
		t.Errorf("error 3 = %+v", res.Errors[3])
	}
	got, _ := n.Get(t.Context(), existing.ID)
	if got.Version != 2 || !strings.Contains(string(got.Body), "new title") {
		t.Fatalf("updated by import = %+v", got)
	}

	t.Run("json array, batched", func(t *testing.T) {
		var recs []Record
		for i := range 1200 {
			recs = append(recs, Record{Draft: resourceDraft("bulk " + string(rune('a'+i%26)))})
		}
		recs[700].Visibility = "nope"
		b, _ := json.Marshal(recs)
		start := time.Now()
		res, err := n.Import(t.Context(), strings.NewReader("  \n"+string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 1199 || res.Failed != 1 || res.Errors[0].Index != 700 || res.Errors[0].Line != 0 {
			t.Fatalf("result = %+v", res)
		}
		t.Logf("imported 1200 records in %s", time.Since(start))
		seqs := outboxSeqs(t, n)
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("outbox not gap-free at %d: %d", i, s)
			}
		}
	})
}

func TestNode_Create_RefusesBidiControls(t *testing.T) {
	n := newTestNode(t, newFakeHub(t), "be")
	_, err := n.Create(t.Context(), resourceDraft("Parents guide\u202Efdp.exe"))
	if !errors.Is(err, protocol.ErrInvalidField) || !strings.Contains(err.Error(), "body.title") {
		t.Fatalf("Create with U+202E in the title: err = %v, want invalid_field on body.title", err)
	}
}
