package node

import (
	"bytes"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

func TestNode_FlaggedBy(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	ctx := t.Context()
	add := func(email, name string) account.Member {
		t.Helper()
		m, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: email, Name: name, Roles: []string{RoleStaff}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lena, tom := add("lena@example.be", "Lena Peeters"), add("tom@example.be", "Tom Maes")
	post, err := n.CreateAs(ctx, lena.ID, draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines",
		Format: "thread", Title: "Night shifts", Text: "How do you staff them?", Language: "en"}))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := n.CreateAs(ctx, lena.ID, draftOf(t, protocol.KindComment, protocol.VisibilityCommunity,
		protocol.Comment{Post: post.ID, Text: "Two people.", Language: "en"}))
	if err != nil {
		t.Fatal(err)
	}
	flag, err := n.CreateAs(ctx, tom.ID, draftOf(t, protocol.KindFlag, protocol.VisibilityCommunity,
		protocol.Flag{Target: reply.ID, Reason: "spam"}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.FlaggedBy(ctx, tom.ID, []string{post.ID, reply.ID})
	if err != nil || len(got) != 1 || !got[reply.ID] {
		t.Fatalf("Tom's flags = %v, %v; want the reply only", got, err)
	}
	if got, err := n.FlaggedBy(ctx, lena.ID, []string{post.ID, reply.ID}); err != nil || len(got) != 0 {
		t.Fatalf("Lena's flags = %v, %v; want none", got, err)
	}
	if _, err := n.DeleteAs(ctx, tom.ID, flag.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := n.FlaggedBy(ctx, tom.ID, []string{reply.ID}); err != nil || len(got) != 0 {
		t.Fatalf("Tom's flags after deleting his flag = %v, %v", got, err)
	}
}

func TestNode_CommunityAttachment(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	ctx := t.Context()
	m, _, err := n.Accounts().Add(ctx, "cli", account.NewMember{Email: "lena@example.be", Name: "Lena", Roles: []string{RoleStaff}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := n.Attach(ctx, bytes.NewReader([]byte("a poster")), "poster.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	d := draftOf(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "awareness", Format: "thread",
		Title: "Posters", Text: "See the file.", Language: "en"})
	d.Blobs = []protocol.BlobRef{ref}
	post, err := n.CreateAs(ctx, m.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	items, err := n.CommunityAttachment(ctx, ref.SHA256)
	if err != nil || len(items) != 1 || items[0] != (AttachedItem{ID: post.ID, Space: "awareness", Owner: "be"}) {
		t.Fatalf("items = %+v, %v", items, err)
	}
	files, err := n.AttachmentsOf(ctx, []string{post.ID, "be:01ARZ3NDEKTSV4RRFFQ69G5FAV"})
	if err != nil || len(files) != 1 || len(files[post.ID]) != 1 || files[post.ID][0].SHA256 != ref.SHA256 {
		t.Fatalf("attachments = %+v, %v", files, err)
	}
	if _, err := n.DeleteAs(ctx, m.ID, post.ID); err != nil {
		t.Fatal(err)
	}
	if items, err := n.CommunityAttachment(ctx, ref.SHA256); err != nil || len(items) != 0 {
		t.Fatalf("after the post is deleted: %+v, %v", items, err)
	}
}
