package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func postBody(space, title, text string) json.RawMessage {
	b, _ := json.Marshal(protocol.Post{Space: space, Format: "thread", Title: title, Text: text, Language: "en", Author: "Anna"})
	return b
}

func commentBody(post, text string) json.RawMessage {
	b, _ := json.Marshal(protocol.Comment{Post: post, Text: text, Language: "en", Author: "Ben"})
	return b
}

// putPost and putComment write a remote SIC's post or comment as the hub
// serves it; the node applies it on its next sync.
func (r *remote) putPost(id string, v int64, space, title, text string) protocol.Change {
	r.t.Helper()
	return r.put(protocol.Change{ID: id, Kind: protocol.KindPost, Version: v, Visibility: protocol.VisibilityCommunity,
		Body: postBody(space, title, text)})
}

func (r *remote) putComment(id string, v int64, post, text string) protocol.Change {
	r.t.Helper()
	return r.put(protocol.Change{ID: id, Kind: protocol.KindComment, Version: v, Visibility: protocol.VisibilityCommunity,
		Body: commentBody(post, text)})
}

func mustThread(t *testing.T, n *Node, post string, member int64) Thread {
	t.Helper()
	th, err := n.CommunityThread(t.Context(), post, member, CommentPage{Limit: 100})
	if err != nil {
		t.Fatalf("CommunityThread %s: %v", post, err)
	}
	return th
}

func threadIDs(t *testing.T, n *Node, space string, member int64) []string {
	t.Helper()
	l, err := n.CommunityThreads(t.Context(), ThreadQuery{Space: space, Member: member})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range l.Threads {
		ids = append(ids, s.Post)
	}
	return ids
}

func searchIDs(t *testing.T, n *Node, q CommunityQuery) []string {
	t.Helper()
	if q.Spaces == nil {
		q.Spaces = protocol.Spaces
	}
	res, err := n.SearchCommunity(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchCommunity %q: %v", q.Text, err)
	}
	var ids []string
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func TestNode_CommunityIndex(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be := newRemote(t, hub, "be")
	p1 := be.putPost("", 1, "awareness", "Phones at school", "Should schools ban phones?")
	p2 := be.putPost("", 1, "awareness", "Gaming and sleep", "Late-night gaming.")
	c1 := be.putComment("", 1, p1.ID, "Our school tried it.")
	c2 := be.putComment("", 1, p1.ID, "Ours did not.")
	mustSync(t, n)

	if got := threadIDs(t, n, "awareness", 0); !slices.Equal(got, []string{p1.ID, p2.ID}) {
		t.Fatalf("threads %v, want p1 (commented last) then p2", got)
	}
	th := mustThread(t, n, p1.ID, 0)
	if th.CommentCount != 2 || len(th.Comments) != 2 || th.Comments[0].ID != c1.ID || th.Comments[1].ID != c2.ID {
		t.Fatalf("thread: count %d comments %+v", th.CommentCount, th.Comments)
	}
	if !th.LastActivity.Equal(c2.UpdatedAt) || th.Post.Post.Title != "Phones at school" {
		t.Errorf("last activity %s, want %s; title %q", th.LastActivity, c2.UpdatedAt, th.Post.Post.Title)
	}

	t.Run("update moves the post to another space", func(t *testing.T) {
		be.putPost(p2.ID, 2, "helplines", "Gaming and sleep", "Late-night gaming, again.")
		mustSync(t, n)
		if got := threadIDs(t, n, "awareness", 0); !slices.Equal(got, []string{p1.ID}) {
			t.Errorf("awareness %v", got)
		}
		if got := threadIDs(t, n, "helplines", 0); !slices.Equal(got, []string{p2.ID}) {
			t.Errorf("helplines %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "again", Spaces: []string{"helplines"}}); !slices.Equal(got, []string{p2.ID}) {
			t.Errorf("search the new text: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "gaming", Spaces: []string{"awareness"}}); len(got) != 0 {
			t.Errorf("found in its old space: %v", got)
		}
	})
	t.Run("a comment edited bumps the activity, deleted leaves the count", func(t *testing.T) {
		ed := be.putComment(c1.ID, 2, p1.ID, "Our school tried it for a year.")
		mustSync(t, n)
		th := mustThread(t, n, p1.ID, 0)
		if th.CommentCount != 2 || !th.LastActivity.Equal(ed.UpdatedAt) || th.Comments[0].ID != c1.ID {
			t.Fatalf("after the edit: count %d activity %s (want %s), first %s", th.CommentCount, th.LastActivity, ed.UpdatedAt, th.Comments[0].ID)
		}
		be.put(protocol.Change{ID: c1.ID, Kind: protocol.KindComment, Version: 3, Visibility: protocol.VisibilityCommunity, Deleted: true})
		mustSync(t, n)
		th = mustThread(t, n, p1.ID, 0)
		if th.CommentCount != 1 || len(th.Comments) != 1 || th.Comments[0].ID != c2.ID || !th.LastActivity.Equal(c2.UpdatedAt) {
			t.Fatalf("after the delete: count %d comments %d activity %s (want %s)", th.CommentCount, len(th.Comments), th.LastActivity, c2.UpdatedAt)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "year"}); len(got) != 0 {
			t.Errorf("deleted comment found: %v", got)
		}
	})
	t.Run("a comment before its post", func(t *testing.T) {
		id, _ := protocol.NewEntityID("be", time.Now())
		early := be.putComment("", 1, id, "First!")
		mustSync(t, n)
		if _, err := n.CommunityThread(t.Context(), id, 0, CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("thread before its post: %v", err)
		}
		be.putPost(id, 1, "hotlines", "Late post", "Here.")
		mustSync(t, n)
		th := mustThread(t, n, id, 0)
		if th.CommentCount != 1 || th.Comments[0].ID != early.ID {
			t.Fatalf("count %d comments %+v", th.CommentCount, th.Comments)
		}
	})
	t.Run("a deleted post leaves lists, threads and search", func(t *testing.T) {
		be.put(protocol.Change{ID: p1.ID, Kind: protocol.KindPost, Version: 2, Visibility: protocol.VisibilityCommunity, Deleted: true})
		mustSync(t, n)
		if got := threadIDs(t, n, "awareness", 0); len(got) != 0 {
			t.Errorf("listed: %v", got)
		}
		if _, err := n.CommunityThread(t.Context(), p1.ID, 0, CommentPage{}); !errors.Is(err, protocol.ErrNotFound) {
			t.Errorf("thread of a deleted post: %v", err)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "ours"}); len(got) != 0 {
			t.Errorf("a comment of a deleted post found: %v", got)
		}
	})
	t.Run("own posts through the authoring path", func(t *testing.T) {
		e, err := n.Create(t.Context(), Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity,
			Body: postBody("youth-participation", "Our youth panel", "Meeting notes.")})
		if err != nil {
			t.Fatal(err)
		}
		if got := threadIDs(t, n, "youth-participation", 0); !slices.Equal(got, []string{e.ID}) {
			t.Fatalf("own post: %v", got)
		}
		if _, err := n.Delete(t.Context(), e.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := threadIDs(t, n, "youth-participation", 0); len(got) != 0 {
			t.Fatalf("own deleted post: %v", got)
		}
	})
}

// An erased post's text leaves the search table and every file of the node.
func TestNode_CommunityErasure(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(map[bool]string{false: "pulled", true: "own"}[own], func(t *testing.T) {
			hub := newFakeHub(t)
			n := newTestNode(t, hub, "fi")
			const marker = "Qzvwxerasedmarker"
			var id string
			if own {
				e, err := n.Create(t.Context(), Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity,
					Body: postBody("awareness", "Title "+marker, "Text "+marker)})
				if err != nil {
					t.Fatal(err)
				}
				id = e.ID
				mustSync(t, n)
			} else {
				be := newRemote(t, hub, "be")
				id = be.putPost("", 1, "awareness", "Title "+marker, "Text "+marker).ID
				mustSync(t, n)
			}
			if got := searchIDs(t, n, CommunityQuery{Text: marker}); !slices.Equal(got, []string{id}) {
				t.Fatalf("before the erasure: %v", got)
			}
			inFiles := func() bool {
				lower := []byte(strings.ToLower(marker))
				for _, f := range []string{"node.db", "node.db-wal"} {
					b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, f))
					if err == nil && (bytes.Contains(b, []byte(marker)) || bytes.Contains(b, lower)) {
						return true
					}
				}
				return false
			}
			if !inFiles() {
				t.Fatal("the marker is in no file before the erasure: the test would show nothing")
			}
			if own {
				if _, err := n.Delete(t.Context(), id, true); err != nil {
					t.Fatal(err)
				}
			} else {
				be := newRemote(t, hub, "be")
				be.put(protocol.Change{ID: id, Kind: protocol.KindPost, Version: 2, Visibility: protocol.VisibilityCommunity, Deleted: true, Erased: true})
				mustSync(t, n)
			}
			if got := searchIDs(t, n, CommunityQuery{Text: marker}); len(got) != 0 {
				t.Fatalf("after the erasure: %v", got)
			}
			if k := count(t, n.db.Reader(), `SELECT COUNT(*) FROM community_fts_content`); k != 0 {
				t.Errorf("%d rows left in the search table's content", k)
			}
			if _, err := n.db.Writer().ExecContext(t.Context(), `CREATE VIRTUAL TABLE temp.community_vocab USING fts5vocab(main, 'community_fts', 'row')`); err != nil {
				t.Fatal(err)
			}
			if k := count(t, n.db.Writer(), `SELECT COUNT(*) FROM temp.community_vocab WHERE term = lower(?)`, marker); k != 0 {
				t.Errorf("the marker is still a term of the search index")
			}
			waitFor(t, 10*time.Second, "the erased text to leave the node's files", func() bool { return !inFiles() })
		})
	}
}
