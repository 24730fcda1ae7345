package node

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/memberapi"
	"github.com/bikfed/bikfed/protocol"
)

func TestNode_ErasePerson(t *testing.T) {
	hub := newFakeHub(t)
	hub.erasureHolders = []string{"fi"}
	n := newTestNode(t, hub, "be")
	ctx := t.Context()
	add := func(email, name, pseudonym string, roles ...string) account.Member {
		t.Helper()
		m, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: email, Name: name, Roles: roles, Pseudonym: pseudonym})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	admin := add("ada@example.be", "Ada Admin", "", RoleAdmin)
	eva := add("eva.erased@example.be", "Eva Erased", "", RoleStaff, RoleYouthCoordinator)
	tom := add("tom@example.be", "Tom Maes", "", RoleStaff)
	sam := add("sam@example.be", "Sam", "be-sam", RoleYouth)
	joke := add("joke@example.be", "Joke Claes", "", RoleYouthCoordinator)

	const marker = "evamarker"
	post, err := n.CreateAs(ctx, eva.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines",
		Format: "thread", Title: "Night shifts " + marker + "post", Text: "How do you staff them?", Language: "en"}))
	if err != nil {
		t.Fatal(err)
	}
	comment := func(member int64, post, text string, vis protocol.Visibility) Entity {
		t.Helper()
		e, err := n.CreateAs(ctx, member, draftOf(t, protocol.KindComment, vis, protocol.Comment{Post: post, Text: text, Language: "en"}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tomsReply := comment(tom.ID, post.ID, "Two people, always.", protocol.VisibilityCommunity)
	comment(eva.ID, post.ID, "Thanks "+marker+"comment", protocol.VisibilityCommunity)
	if _, err := n.CreateAs(ctx, eva.ID, draftOf(t, protocol.KindFlag, protocol.VisibilityCommunity,
		protocol.Flag{Target: tomsReply.ID, Reason: "other", Text: "Flag " + marker + "flag"})); err != nil {
		t.Fatal(err)
	}
	// A post in the national youth space stays on the node: its erasure has
	// no holder but this node.
	local, err := n.CreateAs(ctx, eva.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth:be",
		Format: "thread", Title: "Local " + marker + "local", Text: "Only here", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	deleted := comment(eva.ID, post.ID, "Deleted "+marker+"deleted", protocol.VisibilityCommunity)
	if _, err := n.DeleteAs(ctx, eva.ID, deleted.ID); err != nil {
		t.Fatal(err)
	}
	// Sam's waiting item is Sam's: erasing Eva leaves it.
	samsItem, err := n.Hold(ctx, sam.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Sam asks", Text: "Hello", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.MarkThreadRead(ctx, eva.ID, post.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Accounts().SetRoles(ctx, account.MemberActor(admin.ID), eva.ID, []string{RoleStaff, RoleYouthCoordinator}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, n)

	got, err := n.Authored(ctx, eva.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (AuthoredCounts{Posts: 2, Comments: 2, Flags: 1}); got != want {
		t.Fatalf("Authored = %+v, want %+v", got, want)
	}

	for _, m := range []string{marker + "post", marker + "comment", marker + "flag", marker + "local", "Eva Erased"} {
		if fileWith(t, n, m) == "" {
			t.Fatalf("%q is in no file before the erasure: the test would show nothing", m)
		}
	}
	if _, err := n.ErasePerson(ctx, eva.ID, account.MemberActor(eva.ID)); !errors.Is(err, ErrEraseSelf) {
		t.Fatalf("erasing oneself = %v, want ErrEraseSelf", err)
	}
	pe, err := n.ErasePerson(ctx, eva.ID, account.MemberActor(admin.ID))
	if err != nil {
		t.Fatal(err)
	}
	if pe.Posts != 2 || pe.Comments != 2 || pe.Flags != 1 || pe.Held != 0 || pe.MemberID != eva.ID {
		t.Fatalf("person erasure = %+v", pe)
	}
	if _, err := n.ErasePerson(ctx, eva.ID, account.MemberActor(admin.ID)); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("erasing again = %v, want account.ErrNotFound", err)
	}

	// The account and everything of hers are gone from the node.
	if _, err := n.Accounts().Get(ctx, eva.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("the account is still there: %v", err)
	}
	for _, q := range []string{
		`SELECT count(*) FROM authorship WHERE member_id = ?`,
		`SELECT count(*) FROM community_reads WHERE member_id = ?`,
		`SELECT count(*) FROM held_items WHERE member_id = ?`,
	} {
		if k := count(t, n.db.Reader(), q, eva.ID); k != 0 {
			t.Errorf("%s: %d rows", q, k)
		}
	}
	if k := count(t, n.db.Reader(), `SELECT count(*) FROM entities WHERE erased = 1 AND id IN (SELECT entity_id FROM person_erasure_items)`); k != 5 {
		t.Errorf("%d entities erased, want 5", k)
	}
	if e, err := n.Get(ctx, tomsReply.ID); err != nil || e.Deleted {
		t.Errorf("Tom's reply: %+v, %v; another member's item must stay", e, err)
	}
	if h, err := n.HeldItem(ctx, samsItem.ID); err != nil || h.State != "waiting" {
		t.Errorf("Sam's held item: %+v, %v", h, err)
	}
	evs, err := n.Accounts().Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	erased := false
	for _, e := range evs {
		if e.Type == account.EventMemberErased && e.MemberID == eva.ID {
			erased = e.Detail == "2 posts, 2 comments, 1 flags, 0 held items"
		}
		if strings.Contains(e.Detail, "eva.erased") || strings.Contains(e.Detail, "Eva Erased") {
			t.Errorf("audit event %s still names her: %q", e.Type, e.Detail)
		}
	}
	if !erased {
		t.Error("no member-erased event with the counts")
	}
	waitFor(t, 10*time.Second, "the erasures purged and pushed", func() bool {
		mustSync(t, n)
		return count(t, n.db.Reader(), `SELECT count(*) FROM erasure_purges`) == 0
	})
	for _, m := range []string{marker, "eva.erased@example.be", "Eva Erased"} {
		if f := fileWith(t, n, m); f != "" {
			t.Errorf("%s still holds %q", f, m)
		}
	}

	// Progress: the node purged everything; fi has not acknowledged any
	// of the shared erasures yet, so the hub has completed none.
	if err := n.RefreshPersonErasures(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := n.PersonErasures(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("PersonErasures = %+v, %v", list, err)
	}
	p := list[0]
	want := []HolderProgress{{Holder: "be", Done: 5, Total: 5}, {Holder: protocol.HubID, Done: 0, Total: 4}, {Holder: "fi", Done: 0, Total: 4}}
	if p.Complete || p.CheckedAt == nil || p.CompleteAt != nil || !equalHolders(p.Holders, want) {
		t.Fatalf("progress = %+v, want holders %+v and not complete", p, want)
	}
	for _, id := range []string{post.ID, local.ID} {
		if g, shared := hub.groups[id], id != local.ID; shared != (g == pe.Group()) {
			t.Errorf("the hub's group of %s = %q", id, g)
		}
	}
	var seqs []int64
	for _, id := range []string{post.ID} {
		row, _ := hub.row(id)
		seqs = append(seqs, row.hubSeq)
	}
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT hub_seq FROM person_erasure_items WHERE local = 0 AND entity_id != ?`, post.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		seqs = append(seqs, s)
	}
	rows.Close()
	hub.mu.Lock()
	hub.acks["fi"] = append(hub.acks["fi"], seqs...)
	hub.mu.Unlock()
	if err := n.RefreshPersonErasures(ctx); err != nil {
		t.Fatal(err)
	}
	list, err = n.PersonErasures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p = list[0]
	want[1].Done, want[2].Done = 4, 4
	if !p.Complete || p.CompleteAt == nil || !equalHolders(p.Holders, want) {
		t.Fatalf("after fi acknowledged: %+v", p)
	}

	// A young member's held items, waiting or rejected, go with them.
	rejected, err := n.Hold(ctx, sam.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Sam again " + marker + "rejected", Text: "Hello", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.RejectHeld(ctx, rejected.ID, joke.ID, "Not for this space"); err != nil {
		t.Fatal(err)
	}
	approved, err := n.Hold(ctx, sam.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Sam approved " + marker + "approved", Text: "Hello", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	if approved, err = n.ApproveHeld(ctx, approved.ID, joke.ID); err != nil {
		t.Fatal(err)
	}
	if fileWith(t, n, marker+"rejected") == "" {
		t.Fatal("the rejected item is in no file before the erasure")
	}
	pe, err = n.ErasePerson(ctx, sam.ID, "admin-token")
	if err != nil {
		t.Fatal(err)
	}
	if pe.Held != 2 || pe.Posts != 1 || pe.Items() != 1 {
		t.Fatalf("Sam's erasure = %+v, want 2 held items and the approved post", pe)
	}
	if e, err := n.Get(ctx, approved.EntityID); err != nil || !e.Erased {
		t.Errorf("Sam's approved post: %+v, %v", e, err)
	}
	if k := count(t, n.db.Reader(), `SELECT count(*) FROM held_items`); k != 0 {
		t.Errorf("%d held items left", k)
	}
	if f := fileWith(t, n, marker+"rejected"); f != "" {
		t.Errorf("%s still holds the rejected item", f)
	}
	if err := n.RefreshPersonErasures(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err = n.PersonErasures(ctx); err != nil || len(list) != 2 || list[0].ID != pe.ID || list[0].Complete {
		t.Fatalf("Sam's erasure waits for fi: %+v, %v", list, err)
	}

	// Tom was removed without erasure; his reply can still be erased by
	// his number.
	if err := n.Accounts().Remove(ctx, "cli", tom.ID); err != nil {
		t.Fatal(err)
	}
	pe, err = n.ErasePerson(ctx, tom.ID, "admin-token")
	if err != nil || pe.Comments != 1 {
		t.Fatalf("erasing removed Tom: %+v, %v", pe, err)
	}
	if e, err := n.Get(ctx, tomsReply.ID); err != nil || !e.Erased {
		t.Errorf("Tom's reply: %+v, %v", e, err)
	}
	if _, err := n.ErasePerson(ctx, tom.ID, "admin-token"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("erasing Tom again = %v, want account.ErrNotFound", err)
	}
}

func equalHolders(a, b []HolderProgress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fileWith returns the name of the node's database file (main or WAL) that
// holds s in any case, or "".
func fileWith(t *testing.T, n *Node, s string) string {
	t.Helper()
	for _, f := range []string{"node.db", "node.db-wal"} {
		b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, f))
		if err == nil && bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(s))) {
			return f
		}
	}
	return ""
}

func TestAdmin_WriteAsMemberAndErase(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	c := adminClient{t: t, base: srv.URL, token: n.adminToken}
	ctx := t.Context()
	lena, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: "lena@example.be", Name: "Lena Peeters", Roles: []string{RoleStaff}})
	if err != nil {
		t.Fatal(err)
	}
	sam, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: "sam@example.be", Name: "Sam", Roles: []string{RoleYouth}, Pseudonym: "be-sam"})
	if err != nil {
		t.Fatal(err)
	}
	post := `{"kind":"post","visibility":"community","body":{"space":"helplines","format":"thread","title":"Night shifts","text":"How?","language":"en"}}`
	var e Entity
	if code := c.do("POST", PathAdminEntities+"?member="+strconv.FormatInt(lena.ID, 10), strings.NewReader(post), &e); code != 201 {
		t.Fatalf("create as Lena: status %d", code)
	}
	if who, ok, _ := n.AuthorOf(ctx, e.ID); !ok || who != lena.ID || !bytes.Contains(e.Body, []byte(`"Lena Peeters"`)) {
		t.Fatalf("author of %s = %d %v, body %s", e.ID, who, ok, e.Body)
	}
	for _, tt := range []struct {
		member string
		code   protocol.Code
	}{
		{strconv.FormatInt(sam.ID, 10), protocol.CodeForbidden},
		{"999", protocol.CodeNotFound},
		{"x", protocol.CodeBadRequest},
	} {
		var eb errorBody
		c.do("POST", PathAdminEntities+"?member="+tt.member, strings.NewReader(post), &eb)
		if eb.Error.Code != tt.code {
			t.Errorf("member=%s: %+v, want %s", tt.member, eb, tt.code)
		}
	}
	var res memberapi.Erasure
	if code := c.do("DELETE", memberapi.PathMembers+"/"+strconv.FormatInt(lena.ID, 10)+"?erase=true", nil, &res); code != 200 {
		t.Fatalf("erase Lena: status %d", code)
	}
	if res.Member != lena.ID || res.Posts != 1 || res.ID == 0 {
		t.Fatalf("erasure = %+v", res)
	}
	if got, err := n.Get(ctx, e.ID); err != nil || !got.Erased {
		t.Fatalf("Lena's post after the erasure: %+v, %v", got, err)
	}
}
