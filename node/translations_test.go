package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/textdiff"
	"github.com/bikfed/bikfed/protocol"
)

// storedVersions lists the versions of id whose body the node keeps: the
// past ones in resource_versions and the live current one in entities.
func storedVersions(t *testing.T, n *Node, id string) []int64 {
	t.Helper()
	rows, err := n.db.Reader().QueryContext(t.Context(), `SELECT version FROM resource_versions WHERE id = ?1
		UNION SELECT version FROM entities WHERE id = ?1 AND kind = 'resource' AND deleted = 0 AND body IS NOT NULL
		ORDER BY version`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// remoteResource is a resource body in language en unless langs say more.
func remoteResource(title, desc string, langs ...string) json.RawMessage {
	if len(langs) == 0 {
		langs = []string{"en"}
	}
	b, _ := json.Marshal(protocol.Resource{Title: title, Description: desc, Language: langs[0], Languages: langs,
		AgeMin: 10, AgeMax: 12, Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "lesson-plan"})
	return b
}

// remote authors, as owner, a change on the hub and returns it.
type remote struct {
	t   *testing.T
	hub *fakeHub
	key protocol.Key
	seq int64
	at  time.Time
}

func newRemote(t *testing.T, hub *fakeHub, owner string) *remote {
	return &remote{t: t, hub: hub, key: hub.remoteKey(t, owner), at: time.Now().UTC().Add(-time.Hour)}
}

// put writes version v of id (a new id when empty), a minute after the previous change.
func (r *remote) put(c protocol.Change) protocol.Change {
	r.t.Helper()
	r.seq++
	r.at = r.at.Add(time.Minute)
	c.Seq, c.UpdatedAt = r.seq, r.at
	if c.Kind == "" {
		c.Kind = protocol.KindResource
	}
	s := r.hub.author(r.t, r.key, c)
	got, err := protocol.ParseChange(s.Change)
	if err != nil {
		r.t.Fatal(err)
	}
	return *got
}

func translationBody(resource string, source int64, lang, title string) json.RawMessage {
	b, _ := json.Marshal(protocol.Translation{Resource: resource, SourceVersion: source, Language: lang,
		Title: title, Method: "human", Review: "reviewed"})
	return b
}

func TestNode_ResourceVersions(t *testing.T) {
	t.Run("authored", func(t *testing.T) {
		hub := newFakeHub(t)
		n := newTestNode(t, hub, "fi")
		e := mustCreate(t, n, "v1")
		if got := storedVersions(t, n, e.ID); !slices.Equal(got, []int64{1}) {
			t.Fatalf("after create: %v", got)
		}
		// A translation made from v1 keeps v1; the others go past the last three.
		if _, err := n.Create(t.Context(), Draft{Kind: protocol.KindTranslation, Visibility: protocol.VisibilityPublic,
			Body: translationBody(e.ID, 1, "fi", "Käännös")}); err != nil {
			t.Fatal(err)
		}
		for _, title := range []string{"v2", "v3", "v4", "v5", "v6"} {
			if _, err := n.Update(t.Context(), e.ID, resourceDraft(title)); err != nil {
				t.Fatal(err)
			}
		}
		if got := storedVersions(t, n, e.ID); !slices.Equal(got, []int64{1, 4, 5, 6}) {
			t.Fatalf("after 5 updates: %v, want 1 (translated) and the last three", got)
		}
		v, _, err := n.ResourceVersion(t.Context(), e.ID, 5)
		if err != nil || v.Body.Title != "v5" {
			t.Fatalf("v5 = %+v, %v", v.Body, err)
		}
		if _, _, err := n.ResourceVersion(t.Context(), e.ID, 2); !errors.Is(err, ErrVersionNotKept) {
			t.Fatalf("v2: %v, want ErrVersionNotKept", err)
		}
		// A scheduled version is replaced in place: one row, the latest body.
		later := time.Now().Add(time.Hour)
		d := resourceDraft("scheduled a")
		d.PublishAt = &later
		if _, err := n.Update(t.Context(), e.ID, d); err != nil {
			t.Fatal(err)
		}
		d.Body = resourceBody("scheduled b")
		if _, err := n.Update(t.Context(), e.ID, d); err != nil {
			t.Fatal(err)
		}
		if v, _, err := n.ResourceVersion(t.Context(), e.ID, 7); err != nil || v.Body.Title != "scheduled b" {
			t.Fatalf("v7 = %+v, %v", v.Body, err)
		}
		if _, err := n.Delete(t.Context(), e.ID, true); err != nil {
			t.Fatal(err)
		}
		if got := storedVersions(t, n, e.ID); len(got) != 0 {
			t.Fatalf("after erasure: %v", got)
		}
	})
	t.Run("pulled", func(t *testing.T) {
		hub := newFakeHub(t)
		n := newTestNode(t, hub, "fi")
		be := newRemote(t, hub, "be")
		c := be.put(protocol.Change{Version: 1, Body: remoteResource("Privacy", "For teachers.")})
		mustSync(t, n)
		c.Version, c.Body = 2, remoteResource("Privacy", "For parents.")
		be.put(c)
		mustSync(t, n)
		if got := storedVersions(t, n, c.ID); !slices.Equal(got, []int64{1, 2}) {
			t.Fatalf("after two pulls: %v", got)
		}
		v1, _, err := n.ResourceVersion(t.Context(), c.ID, 1)
		if err != nil || v1.Body.Description != "For teachers." {
			t.Fatalf("v1 = %+v, %v", v1.Body, err)
		}
		// The owner erases it; every past body goes in the pull's transaction.
		be.put(protocol.Change{ID: c.ID, Version: 3, Deleted: true, Erased: true})
		mustSync(t, n)
		if got := storedVersions(t, n, c.ID); len(got) != 0 {
			t.Fatalf("after the pulled erasure: %v", got)
		}
	})
	t.Run("deleted", func(t *testing.T) {
		hub := newFakeHub(t)
		n := newTestNode(t, hub, "fi")
		e := mustCreate(t, n, "v1")
		if _, err := n.Delete(t.Context(), e.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := storedVersions(t, n, e.ID); len(got) != 0 {
			t.Fatalf("after delete: %v", got)
		}
	})
}

// An erased resource's past bodies leave every file of the node, not only
// the table: the erasure's purge checkpoints the WAL over zeroed pages.
func TestNode_ResourceVersionsErasedFromFiles(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	const marker = "QZV-PAST-BODY-9931"
	e := mustCreate(t, n, "Story of "+marker)
	for _, title := range []string{"v2", "v3"} {
		if _, err := n.Update(t.Context(), e.ID, resourceDraft(title)); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedVersions(t, n, e.ID); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("before the erasure: %v", got)
	}
	if _, err := n.Delete(t.Context(), e.ID, true); err != nil {
		t.Fatal(err)
	}
	files := []string{"node.db", "node.db-wal"}
	waitFor(t, 10*time.Second, "the past body to leave the node's files", func() bool {
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, f))
			if err == nil && bytes.Contains(b, []byte(marker)) {
				return false
			}
		}
		return true
	})
}

func TestNode_Translatable(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be, nl := newRemote(t, hub, "be"), newRemote(t, hub, "nl")
	future := time.Now().Add(24 * time.Hour).UTC()
	plan := be.put(protocol.Change{Version: 1, Body: remoteResource("Online privacy", "A lesson plan for teachers.", "nl", "fr")})
	be.put(protocol.Change{Version: 1, Body: remoteResource("Already Finnish", "x", "nl", "fi")})
	be.put(protocol.Change{Version: 1, Body: remoteResource("Regional Finnish", "x", "fi-FI")})
	translated := be.put(protocol.Change{Version: 1, Body: remoteResource("Translated by nl", "x", "nl")})
	nl.put(protocol.Change{Kind: protocol.KindTranslation, Version: 1, Body: translationBody(translated.ID, 1, "fi", "Käännetty")})
	be.put(protocol.Change{Version: 1, Visibility: protocol.VisibilityCommunity, Body: remoteResource("Members only", "x", "nl")})
	be.put(protocol.Change{Version: 1, PublishAt: &future, Body: remoteResource("Embargoed", "x", "nl")})
	gone := be.put(protocol.Change{Version: 1, Body: remoteResource("Deleted", "x", "nl")})
	be.put(protocol.Change{ID: gone.ID, Version: 2, Deleted: true})
	game := be.put(protocol.Change{Version: 1, Body: remoteResource("Quiz night", "Privacy questions for teens.", "de")})
	// Its translation into fi was deleted: it is on the list again.
	dropped := nl.put(protocol.Change{Kind: protocol.KindTranslation, Version: 1, Body: translationBody(game.ID, 1, "fi", "Tietovisa")})
	nl.put(protocol.Change{Kind: protocol.KindTranslation, ID: dropped.ID, Version: 2, Deleted: true})
	mustSync(t, n)
	own := mustCreate(t, n, "Own guide")

	ids := func(p TranslatablePage) []string {
		var out []string
		for _, r := range p.Resources {
			out = append(out, r.Body.Title)
		}
		return out
	}
	tests := []struct {
		name string
		f    WorklistFilter
		want []string
	}{
		{"into fi", WorklistFilter{Language: "fi"}, []string{"Own guide", "Quiz night", "Online privacy"}},
		{"into nl", WorklistFilter{Language: "nl"}, []string{"Own guide", "Quiz night", "Regional Finnish"}},
		{"query ignores case", WorklistFilter{Language: "fi", Query: "PRIVACY"}, []string{"Quiz night", "Online privacy"}},
		{"every word", WorklistFilter{Language: "fi", Query: "privacy teachers"}, []string{"Online privacy"}},
		{"no match", WorklistFilter{Language: "fi", Query: "grooming"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := n.Translatable(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if p.Next != "" {
				t.Fatalf("Next = %q on a single page", p.Next)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []string
		f := WorklistFilter{Language: "fi", Limit: 2}
		for range 3 {
			p, err := n.Translatable(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(p)...)
			if p.Next == "" {
				break
			}
			f.After = p.Next
		}
		if !slices.Equal(got, []string{"Own guide", "Quiz night", "Online privacy"}) {
			t.Fatalf("paged: %q", got)
		}
	})
	t.Run("source", func(t *testing.T) {
		s, err := n.TranslationSource(t.Context(), plan.ID)
		if err != nil || s.Version != 1 || s.Owner != "be" || s.Body.Title != "Online privacy" {
			t.Fatalf("TranslationSource = %+v, %v", s, err)
		}
		if _, err := n.TranslationSource(t.Context(), gone.ID); !errors.Is(err, ErrNotTranslatable) {
			t.Fatalf("deleted source: %v", err)
		}
		if _, err := n.TranslationSource(t.Context(), dropped.ID); !errors.Is(err, ErrNotTranslatable) {
			t.Fatalf("a translation as source: %v", err)
		}
		if s, err := n.TranslationSource(t.Context(), own.ID); err != nil || s.Version != 1 {
			t.Fatalf("own resource: %+v, %v", s, err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, f := range []WorklistFilter{
			{Language: ""}, {Language: "finnish"}, {Language: "fi", Query: strings.Repeat("x", MaxWorklistQuery+1)},
			{Language: "fi", After: "nonsense"},
		} {
			if _, err := n.Translatable(t.Context(), f); err == nil {
				t.Errorf("%+v: no error", f)
			}
		}
	})
}

func TestNode_OutdatedTranslations(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be := newRemote(t, hub, "be")
	plan := be.put(protocol.Change{Version: 1, Body: remoteResource("Online privacy", "A lesson plan for teachers.", "nl")})
	other := be.put(protocol.Change{Version: 1, Body: remoteResource("Quiz", "x", "nl")})
	mustSync(t, n)
	mk := func(resource string, lang string) Entity {
		e, err := n.Create(t.Context(), Draft{Kind: protocol.KindTranslation, Visibility: protocol.VisibilityPublic,
			Body: translationBody(resource, 1, lang, "Käännös")})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	fi := mk(plan.ID, "fi")
	mk(other.ID, "fi")
	sv := mk(plan.ID, "sv")

	list, more, err := n.OutdatedTranslations(t.Context(), OutdatedFilter{})
	if err != nil || len(list) != 0 || more {
		t.Fatalf("before any change: %+v, %v, %v", list, more, err)
	}
	plan.Version, plan.Body = 2, remoteResource("Online privacy", "A lesson plan for parents and teachers.", "nl")
	be.put(plan)
	mustSync(t, n)

	tests := []struct {
		name string
		f    OutdatedFilter
		want []string
		more bool
	}{
		{"all", OutdatedFilter{}, []string{fi.ID, sv.ID}, false},
		{"fi", OutdatedFilter{Language: "fi"}, []string{fi.ID}, false},
		{"de", OutdatedFilter{Language: "de"}, nil, false},
		{"first page", OutdatedFilter{Limit: 1}, []string{fi.ID}, true},
		{"second page", OutdatedFilter{Limit: 1, Offset: 1}, []string{sv.ID}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, more, err := n.OutdatedTranslations(t.Context(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range list {
				got = append(got, o.ID)
				if !o.Outdated() || o.Source.Version != 2 || o.Translation.SourceVersion != 1 {
					t.Errorf("%s: outdated %v, source v%d, made from v%d", o.ID, o.Outdated(), o.Source.Version, o.Translation.SourceVersion)
				}
			}
			if !slices.Equal(got, tt.want) || more != tt.more {
				t.Fatalf("got %v more %v, want %v more %v", got, more, tt.want, tt.more)
			}
		})
	}

	t.Run("diff", func(t *testing.T) {
		o, err := n.GetTranslation(t.Context(), fi.ID)
		if err != nil || !o.Outdated() {
			t.Fatalf("GetTranslation = %+v, %v", o, err)
		}
		d, err := n.SourceDiff(t.Context(), plan.ID, o.Translation.SourceVersion, o.Source.Version)
		if err != nil {
			t.Fatal(err)
		}
		want := []textdiff.Field{{Name: "description", Spans: []textdiff.Span{
			{Op: textdiff.Equal, Text: "A lesson plan for "}, {Op: textdiff.Insert, Text: "parents and "}, {Op: textdiff.Equal, Text: "teachers."}}}}
		if !reflect.DeepEqual(d.Fields, want) || d.From != 1 || d.To != 2 {
			t.Fatalf("diff = %+v", d)
		}
	})

	t.Run("own translations", func(t *testing.T) {
		list, more, err := n.OwnTranslations(t.Context(), OutdatedFilter{Language: "fi"})
		if err != nil || more || len(list) != 2 {
			t.Fatalf("OwnTranslations(fi) = %d, %v, %v", len(list), more, err)
		}
		got := map[string]bool{}
		for _, o := range list {
			got[o.Translation.Resource] = o.Outdated()
		}
		if !reflect.DeepEqual(got, map[string]bool{plan.ID: true, other.ID: false}) {
			t.Fatalf("outdated by resource: %v", got)
		}
		all, _, err := n.OwnTranslations(t.Context(), OutdatedFilter{})
		if err != nil || len(all) != 3 {
			t.Fatalf("OwnTranslations() = %d, %v", len(all), err)
		}
		page, more, err := n.OwnTranslations(t.Context(), OutdatedFilter{Limit: 2})
		if err != nil || len(page) != 2 || !more {
			t.Fatalf("first page of 2: %d, %v, %v", len(page), more, err)
		}
	})

	t.Run("brought up to date", func(t *testing.T) {
		if _, err := n.Update(t.Context(), fi.ID, Draft{Visibility: protocol.VisibilityPublic,
			Body: translationBody(plan.ID, 2, "fi", "Käännös")}); err != nil {
			t.Fatal(err)
		}
		list, _, err := n.OutdatedTranslations(t.Context(), OutdatedFilter{Language: "fi"})
		if err != nil || len(list) != 0 {
			t.Fatalf("after update: %+v, %v", list, err)
		}
		o, err := n.GetTranslation(t.Context(), fi.ID)
		if err != nil || o.Outdated() {
			t.Fatalf("GetTranslation = %+v, %v", o, err)
		}
	})

	t.Run("source deleted", func(t *testing.T) {
		be.put(protocol.Change{ID: other.ID, Version: 2, Deleted: true})
		mustSync(t, n)
		list, _, err := n.OwnTranslations(t.Context(), OutdatedFilter{Language: "fi"})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list {
			if o.Translation.Resource == other.ID && (!o.SourceDeleted || o.Outdated()) {
				t.Fatalf("translation of a deleted resource: deleted %v, outdated %v", o.SourceDeleted, o.Outdated())
			}
		}
		if out, _, err := n.OutdatedTranslations(t.Context(), OutdatedFilter{}); err != nil || len(out) != 1 {
			t.Fatalf("outdated after the delete: %d, %v", len(out), err)
		}
	})

	t.Run("not own", func(t *testing.T) {
		if _, err := n.GetTranslation(t.Context(), plan.ID); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("a resource as translation: %v", err)
		}
	})
}

func TestNode_ProfileLanguages(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	if got, err := n.ProfileLanguages(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("without a profile: %v, %v", got, err)
	}
	body, _ := json.Marshal(protocol.Profile{Country: "fi", Name: "Finnish Safer Internet Centre", Languages: []string{"fi", "sv"}})
	if _, err := n.Create(t.Context(), Draft{Kind: protocol.KindProfile, Visibility: protocol.VisibilityPublic, Body: body}); err != nil {
		t.Fatal(err)
	}
	if got, err := n.ProfileLanguages(t.Context()); err != nil || !slices.Equal(got, []string{"fi", "sv"}) {
		t.Fatalf("ProfileLanguages = %v, %v", got, err)
	}
	names, err := n.SICNames(t.Context(), []string{"fi", "be", "fi"})
	if err != nil || !reflect.DeepEqual(names, map[string]string{"fi": "Finnish Safer Internet Centre"}) {
		t.Fatalf("SICNames = %v, %v", names, err)
	}
}
