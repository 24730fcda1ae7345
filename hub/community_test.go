package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func postBody(owner, space, title string) protocol.Post {
	return protocol.Post{Space: space, Format: "thread", Title: title, Text: "About " + title, Language: "en",
		Author: protocol.Author{Name: "Staff of " + owner, SIC: owner}}
}

func commentBody(owner, post, text string) protocol.Comment {
	return protocol.Comment{Post: post, Text: text, Language: "en", Author: protocol.Author{Name: "Staff of " + owner, SIC: owner}}
}

func threadIDs(l ThreadList) []string {
	var out []string
	for _, s := range l.Threads {
		out = append(out, s.Post.ID)
	}
	return out
}

func TestHub_CommunityThreads(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")

	p1 := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("be", "helplines", "first"))
	time.Sleep(2 * time.Millisecond) // distinct ULIDs and times, in order
	p2 := fi.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("fi", "helplines", "second"))
	p3 := fi.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("fi", "hotlines", "elsewhere"))
	be.mustPush(t, be.sign(t, p1))
	fi.mustPush(t, fi.signAll(t, p2, p3)...)

	l, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(threadIDs(l), " "); got != p2.ID+" "+p1.ID {
		t.Fatalf("newest first: got %s, want %s %s", got, p2.ID, p1.ID)
	}
	if l.Threads[0].Post.Post.Title != "second" || l.Threads[0].Post.Author().SIC != "fi" {
		t.Errorf("thread summary: %+v", l.Threads[0].Post)
	}

	t.Run("a comment moves its thread up and counts", func(t *testing.T) {
		c1 := fi.newChange(t, protocol.KindComment, protocol.VisibilityCommunity, commentBody("fi", p1.ID, "a reply"))
		fi.mustPush(t, fi.sign(t, c1))
		l, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines"})
		if err != nil {
			t.Fatal(err)
		}
		if l.Threads[0].Post.ID != p1.ID || l.Threads[0].Comments != 1 {
			t.Fatalf("after a reply: %v, %d comments", threadIDs(l), l.Threads[0].Comments)
		}
		tomb := fi.next(c1)
		tomb.Deleted, tomb.Body = true, nil
		fi.mustPush(t, fi.sign(t, tomb))
		l, _ = th.CommunityThreads(ctx, ThreadQuery{Space: "helplines"})
		if l.Threads[0].Post.ID != p2.ID || l.Threads[1].Comments != 0 {
			t.Fatalf("a deleted comment still counts: %v, %d comments", threadIDs(l), l.Threads[1].Comments)
		}
	})

	t.Run("filter by SIC", func(t *testing.T) {
		l, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines", SIC: "be"})
		if err != nil {
			t.Fatal(err)
		}
		if got := threadIDs(l); len(got) != 1 || got[0] != p1.ID {
			t.Fatalf("be's helplines threads: %v", got)
		}
	})

	t.Run("pages", func(t *testing.T) {
		l, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Threads) != 1 || l.Next == "" {
			t.Fatalf("first page: %v next %q", threadIDs(l), l.Next)
		}
		l2, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines", Limit: 1, Before: l.Next})
		if err != nil {
			t.Fatal(err)
		}
		if len(l2.Threads) != 1 || l2.Next != "" || l2.Threads[0].Post.ID == l.Threads[0].Post.ID {
			t.Fatalf("second page: %v next %q", threadIDs(l2), l2.Next)
		}
		if _, err := th.CommunityThreads(ctx, ThreadQuery{Space: "helplines", Before: "nonsense"}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})

	t.Run("spaces", func(t *testing.T) {
		ss, err := th.CommunitySpaceSummaries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, s := range ss {
			got[s.Space] = s.Threads
		}
		if len(ss) != len(CommunitySpaces) || got["helplines"] != 2 || got["hotlines"] != 1 || got["blog"] != 0 {
			t.Fatalf("summaries: %+v", ss)
		}
	})

	t.Run("a hidden post is marked with the reason", func(t *testing.T) {
		if _, err := th.Publish(ctx, protocol.KindModeration, protocol.VisibilityCommunity,
			protocol.Moderation{Target: p2.ID, Decision: "hide", Reason: "names a child"}); err != nil {
			t.Fatal(err)
		}
		tr, err := th.CommunityThread(ctx, p2.ID, CommentPage{})
		if err != nil {
			t.Fatal(err)
		}
		if !tr.Post.Hidden || tr.Post.HiddenReason != "names a child" {
			t.Fatalf("hidden: %v %q", tr.Post.Hidden, tr.Post.HiddenReason)
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := th.Publish(ctx, protocol.KindModeration, protocol.VisibilityCommunity,
			protocol.Moderation{Target: p2.ID, Decision: "dismiss"}); err != nil {
			t.Fatal(err)
		}
		if tr, _ = th.CommunityThread(ctx, p2.ID, CommentPage{}); !tr.Post.Hidden {
			t.Fatal("a dismiss lifted the hide")
		}
		if _, err := th.Publish(ctx, protocol.KindModeration, protocol.VisibilityCommunity,
			protocol.Moderation{Target: p2.ID, Decision: "restore", Reason: "anonymised"}); err != nil {
			t.Fatal(err)
		}
		if tr, _ = th.CommunityThread(ctx, p2.ID, CommentPage{}); tr.Post.Hidden {
			t.Fatal("a restore left it hidden")
		}
	})

	t.Run("an erased post leaves its thread", func(t *testing.T) {
		erase := fi.next(p3)
		erase.Deleted, erase.Erased, erase.Body = true, true, nil
		fi.mustPush(t, fi.sign(t, erase))
		l, err := th.CommunityThreads(ctx, ThreadQuery{Space: "hotlines"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Threads) != 0 {
			t.Fatalf("erased thread listed: %v", threadIDs(l))
		}
		if _, err := th.CommunityThread(ctx, p3.ID, CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("erased thread read: %v", err)
		}
	})
}

func TestHub_CommunityThread(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be, fi := th.enrolNode(t, "be"), th.enrolNode(t, "fi")
	p := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("be", "awareness", "a thread"))
	be.mustPush(t, be.sign(t, p))
	var ids []string
	for i, n := range []*testNode{fi, be, fi} {
		time.Sleep(2 * time.Millisecond)
		c := n.newChange(t, protocol.KindComment, protocol.VisibilityCommunity, commentBody(n.id, p.ID, "reply "+string(rune('a'+i))))
		n.mustPush(t, n.sign(t, c))
		ids = append(ids, c.ID)
	}
	tr, err := th.CommunityThread(ctx, p.ID, CommentPage{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Space != "awareness" || tr.CommentCount != 3 || len(tr.Comments) != 2 || tr.Next == "" {
		t.Fatalf("first page: space %s, %d comments, %d shown, next %q", tr.Space, tr.CommentCount, len(tr.Comments), tr.Next)
	}
	if tr.Comments[0].ID != ids[0] || tr.Comments[1].ID != ids[1] || tr.Comments[0].Comment.Text != "reply a" {
		t.Fatalf("not in the order written: %s %s", tr.Comments[0].ID, tr.Comments[1].ID)
	}
	tr, err = th.CommunityThread(ctx, p.ID, CommentPage{Limit: 2, After: tr.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Comments) != 1 || tr.Comments[0].ID != ids[2] || tr.Next != "" {
		t.Fatalf("second page: %+v next %q", tr.Comments, tr.Next)
	}
	c, space, err := th.CommunityComment(ctx, ids[1])
	if err != nil || space != "awareness" || c.Comment.Post != p.ID {
		t.Fatalf("comment: %+v %s %v", c, space, err)
	}
	if _, err := th.CommunityThread(ctx, ids[0], CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("a comment read as a thread: %v", err)
	}
	news, err := th.Publish(ctx, protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: "news", Format: "blog",
		Title: "news", Text: "public", Language: "en", Author: protocol.Author{Name: "Team", SIC: "hub"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.CommunityThread(ctx, news, CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("news read as a community thread: %v", err)
	}
}

func TestHub_PublishNewsFromBlog(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be := th.enrolNode(t, "be")
	blog := postBody("be", "blog", "Our campaign")
	blog.Format = "blog"
	bp := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, blog)
	thread := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("be", "helplines", "not a blog"))
	be.mustPush(t, be.signAll(t, bp, thread)...)

	n := NewsFromBlog{Source: bp.ID, Title: "Our campaign", Text: "About it.\n\nFrom SIC BE's blog.", Language: "en",
		Author: protocol.Author{Name: "Carla", SIC: "be"}, MemberID: 7, Address: "192.0.2.1"}
	if _, err := th.PublishNewsFromBlog(ctx, NewsFromBlog{Source: thread.ID, Title: "x", Text: "y", Language: "en",
		Author: protocol.Author{Name: "Carla"}, MemberID: 7}); !errors.Is(err, protocol.ErrInvalidSpace) {
		t.Fatalf("a helplines thread became news: %v", err)
	}
	id, err := th.PublishNewsFromBlog(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	c, err := th.storedChange(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protocol.DecodeBody(c.Kind, c.Body)
	p := body.(*protocol.Post)
	if c.Owner != "hub" || c.Visibility != protocol.VisibilityPublic || p.Space != "news" || p.Author.SIC != "hub" || p.Author.Name != "Carla" || p.Text != n.Text {
		t.Fatalf("news: %+v %+v", c, p)
	}
	src, err := th.storedChange(ctx, bp.ID)
	if err != nil || src.Visibility != protocol.VisibilityCommunity || src.Version != 1 {
		t.Fatalf("the blog post changed: %+v %v", src, err)
	}
	recs, err := th.NewsFrom(ctx, bp.ID)
	if err != nil || len(recs) != 1 || recs[0].News != id || recs[0].MemberID != 7 {
		t.Fatalf("news records: %+v %v", recs, err)
	}
	evs, err := th.Accounts().Audit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Type != EventCommunityNews || evs[0].MemberID != 7 || !strings.Contains(evs[0].Detail, id) || !strings.Contains(evs[0].Detail, bp.ID) {
		t.Fatalf("audit: %+v", evs)
	}
}

// The migration fills the thread tables from what a hub already held.
func TestHub_CommunityMigrationBackfill(t *testing.T) {
	th := mustOpenHub(t)
	ctx := context.Background()
	be := th.enrolNode(t, "be")
	p := be.newChange(t, protocol.KindPost, protocol.VisibilityCommunity, postBody("be", "hotlines", "old"))
	c := be.newChange(t, protocol.KindComment, protocol.VisibilityCommunity, commentBody("be", p.ID, "old reply"))
	be.mustPush(t, be.signAll(t, p, c)...)
	want, err := th.CommunityThreads(ctx, ThreadQuery{Space: "hotlines"})
	if err != nil || len(want.Threads) != 1 {
		t.Fatalf("before: %+v %v", want, err)
	}
	sqlText, err := migrationFS.ReadFile("migrations/0009_community.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, backfill, ok := strings.Cut(string(sqlText), "-- What the hub held before this migration.")
	backfill, _, _ = strings.Cut(backfill, "-- console_authors")
	if !ok {
		t.Fatal("the migration has no backfill")
	}
	if _, err := th.db.Writer().ExecContext(ctx, `DELETE FROM community_threads; DELETE FROM community_comments;`+backfill); err != nil {
		t.Fatal(err)
	}
	got, err := th.CommunityThreads(ctx, ThreadQuery{Space: "hotlines"})
	if err != nil || len(got.Threads) != 1 || got.Threads[0].Comments != 1 || !got.Threads[0].LastActivity.Equal(want.Threads[0].LastActivity) {
		t.Fatalf("after the backfill: %+v %v, want %+v", got, err, want)
	}
}
