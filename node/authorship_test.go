package node

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

func TestNode_CreateAs(t *testing.T) {
	hub := newFakeHub(t)
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
	lena := add("lena@example.be", "Lena Peeters", "", RoleStaff)
	tom := add("tom@example.be", "Tom Maes", "", RoleStaff)
	sam := add("sam@example.be", "Sam", "be-sam", RoleYouth)
	joke := add("joke@example.be", "Joke Claes", "", RoleYouthCoordinator)

	// The draft claims to be a fi member; the post speaks as Lena.
	post, err := n.CreateAs(ctx, lena.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines",
		Format: "thread", Title: "Night shifts", Text: "How do you staff them?", Language: "en", Author: protocol.Author{Name: "Mikko", SIC: "fi"}}))
	if err != nil {
		t.Fatal(err)
	}
	var body protocol.Post
	if err := json.Unmarshal(post.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Author != (protocol.Author{Name: "Lena Peeters", SIC: "be"}) {
		t.Fatalf("author = %+v, want Lena of be", body.Author)
	}
	if who, ok, err := n.AuthorOf(ctx, post.ID); err != nil || !ok || who != lena.ID {
		t.Fatalf("AuthorOf = %d %v %v, want Lena", who, ok, err)
	}

	comment := func(text string) Draft {
		return draftOf(t, protocol.KindComment, protocol.VisibilityCommunity, protocol.Comment{Post: post.ID, Text: text, Language: "en"})
	}
	reply, err := n.CreateAs(ctx, tom.ID, comment("Two people, always."))
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[int64][]string{lena.ID: {post.ID}, tom.ID: {reply.ID}, sam.ID: nil} {
		got, err := n.WrittenBy(ctx, who, []string{post.ID, reply.ID, "be-0000000000000000"})
		if err != nil || len(got) != len(want) {
			t.Fatalf("WrittenBy(%d) = %v, %v, want %v", who, got, err, want)
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("WrittenBy(%d) = %v, want %v", who, got, want)
			}
		}
	}
	if _, err := n.UpdateAs(ctx, lena.ID, reply.ID, comment("Lena rewrites Tom")); !errors.Is(err, ErrNotAuthor) {
		t.Fatalf("UpdateAs by another member = %v, want ErrNotAuthor", err)
	}
	edited, err := n.UpdateAs(ctx, tom.ID, reply.ID, comment("Two people, always, and a supervisor on call."))
	if err != nil || edited.Version != 2 {
		t.Fatalf("UpdateAs by its author = v%d, %v", edited.Version, err)
	}
	if _, err := n.DeleteAs(ctx, lena.ID, reply.ID); !errors.Is(err, ErrNotAuthor) {
		t.Fatalf("DeleteAs by another member = %v, want ErrNotAuthor", err)
	}

	// A young person does not read the staff spaces, so neither writes nor
	// flags there, and their own posts go to a coordinator first.
	if _, err := n.CreateAs(ctx, sam.ID, comment("hi")); !errors.Is(err, ErrHeldForApproval) {
		t.Fatalf("youth comment = %v, want ErrHeldForApproval", err)
	}
	flag := func(target string, vis protocol.Visibility) Draft {
		return draftOf(t, protocol.KindFlag, vis, protocol.Flag{Target: target, Reason: "personal-data", Text: "names a caller"})
	}
	if _, err := n.CreateAs(ctx, sam.ID, flag(post.ID, protocol.VisibilityCommunity)); !errors.Is(err, ErrSpaceClosed) {
		t.Fatalf("youth flag in a staff space = %v, want ErrSpaceClosed", err)
	}
	if _, err := n.CreateAs(ctx, tom.ID, flag(post.ID, protocol.VisibilityYouth)); !errors.Is(err, protocol.ErrVisibilityMismatch) {
		t.Fatalf("flag with another visibility = %v, want visibility_mismatch", err)
	}
	flagged, err := n.CreateAs(ctx, tom.ID, flag(post.ID, protocol.VisibilityCommunity))
	if err != nil {
		t.Fatal(err)
	}
	var f protocol.Flag
	if err := json.Unmarshal(flagged.Body, &f); err != nil || f.Author != (protocol.Author{Name: "Tom Maes", SIC: "be"}) || f.Target != post.ID {
		t.Fatalf("flag = %+v, %v", f, err)
	}

	// An approved youth post is its author's, and a young person flags
	// under their pseudonym.
	held, err := n.Hold(ctx, sam.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Group chats", Text: "Too many of them?", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	approved, err := n.ApproveHeld(ctx, held.ID, joke.ID)
	if err != nil {
		t.Fatal(err)
	}
	if who, ok, _ := n.AuthorOf(ctx, approved.EntityID); !ok || who != sam.ID {
		t.Fatalf("approved post's author = %d %v, want Sam", who, ok)
	}
	if _, err := n.UpdateAs(ctx, sam.ID, approved.EntityID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth",
		Format: "thread", Title: "Group chats", Text: "Edited without a coordinator", Language: "nl"})); !errors.Is(err, ErrHeldForApproval) {
		t.Fatalf("a young person's edit = %v, want ErrHeldForApproval", err)
	}
	youthFlag, err := n.CreateAs(ctx, sam.ID, flag(approved.EntityID, protocol.VisibilityYouth))
	if err != nil {
		t.Fatal(err)
	}
	f = protocol.Flag{}
	if err := json.Unmarshal(youthFlag.Body, &f); err != nil || f.Author != (protocol.Author{Pseudonym: "be-sam"}) {
		t.Fatalf("youth flag author = %+v, %v", f.Author, err)
	}
	// A flag in the national youth space stays on the node with its post.
	national, err := n.CreateAs(ctx, joke.ID, draftOf(t, protocol.KindPost, protocol.VisibilityYouth, protocol.Post{Space: "youth:be",
		Format: "thread", Title: "Ons panel", Text: "Volgende vergadering?", Language: "nl"}))
	if err != nil {
		t.Fatal(err)
	}
	localFlag, err := n.CreateAs(ctx, sam.ID, flag(national.ID, protocol.VisibilityYouth))
	if err != nil {
		t.Fatal(err)
	}
	if k := count(t, n.db.Reader(), `SELECT count(*) FROM entities WHERE id = '`+localFlag.ID+`' AND local`); k != 1 {
		t.Fatalf("a flag in the national youth space is not kept local")
	}
	ids, err := n.AuthoredBy(ctx, sam.ID)
	if err != nil || len(ids) != 3 {
		t.Fatalf("AuthoredBy(Sam) = %v, %v; want the post and two flags", ids, err)
	}
}
