package node

import (
	"bytes"
	"database/sql"
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

// postBody and commentBody are bodies written by a member of owner.
func postBody(owner, space, title, text string) json.RawMessage {
	b, _ := json.Marshal(protocol.Post{Space: space, Format: "thread", Title: title, Text: text, Language: "en",
		Author: protocol.Author{Name: "Anna", SIC: owner}})
	return b
}

func commentBody(owner, post, text string) json.RawMessage {
	b, _ := json.Marshal(protocol.Comment{Post: post, Text: text, Language: "en", Author: protocol.Author{Name: "Ben", SIC: owner}})
	return b
}

// owner is the remote's node id, which its key id starts with.
func (r *remote) owner() string { return r.key.ID[:strings.LastIndex(r.key.ID, "-")] }

// putPost and putComment write a remote SIC's post or comment as the hub
// serves it; the node applies it on its next sync.
func (r *remote) putPost(id string, v int64, space, title, text string) protocol.Change {
	r.t.Helper()
	return r.put(protocol.Change{ID: id, Kind: protocol.KindPost, Version: v, Visibility: protocol.VisibilityCommunity,
		Body: postBody(r.owner(), space, title, text)})
}

func (r *remote) putComment(id string, v int64, post, text string) protocol.Change {
	r.t.Helper()
	return r.put(protocol.Change{ID: id, Kind: protocol.KindComment, Version: v, Visibility: protocol.VisibilityCommunity,
		Body: commentBody(r.owner(), post, text)})
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
		c := be.putComment("", 1, p2.ID, "Bedtime matters.")
		mustSync(t, n)
		be.putPost(p2.ID, 3, "hotlines", "Gaming and sleep", "Late-night gaming, again.")
		mustSync(t, n)
		if got := searchIDs(t, n, CommunityQuery{Text: "bedtime", Spaces: []string{"hotlines"}}); !slices.Equal(got, []string{c.ID}) {
			t.Errorf("the comment did not move with its post: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "bedtime", Spaces: []string{"helplines"}}); len(got) != 0 {
			t.Errorf("the comment stayed in the post's old space: %v", got)
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
		if got := searchIDs(t, n, CommunityQuery{Text: "first"}); len(got) != 0 {
			t.Fatalf("a comment without its post found: %v", got)
		}
		be.putPost(id, 1, "hotlines", "Late post", "Here.")
		mustSync(t, n)
		th := mustThread(t, n, id, 0)
		if th.CommentCount != 1 || th.Comments[0].ID != early.ID {
			t.Fatalf("count %d comments %+v", th.CommentCount, th.Comments)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "first", Spaces: []string{"hotlines"}}); !slices.Equal(got, []string{early.ID}) {
			t.Fatalf("the comment once its post came: %v", got)
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
			Body: postBody(n.ID(), "youth-participation", "Our youth panel", "Meeting notes.")})
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
					Body: postBody(n.ID(), "awareness", "Title "+marker, "Text "+marker)})
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

func TestNode_CommunityUnread(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be := newRemote(t, hub, "be")
	p1 := be.putPost("", 1, "awareness", "One", "x")
	p2 := be.putPost("", 1, "awareness", "Two", "y")
	mustSync(t, n)
	const anna, ben = 7, 8
	unread := func(member int64) map[string]bool {
		t.Helper()
		l, err := n.CommunityThreads(t.Context(), ThreadQuery{Space: "awareness", Member: member})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, s := range l.Threads {
			m[s.Post] = s.Unread
		}
		return m
	}
	if u := unread(anna); !u[p1.ID] || !u[p2.ID] {
		t.Fatalf("never read: %v", u)
	}
	shown := mustThread(t, n, p1.ID, anna)
	if !shown.Unread || !shown.SeenAt.IsZero() {
		t.Fatalf("thread never read: unread %v seen %s", shown.Unread, shown.SeenAt)
	}
	// A comment arrives after Anna was shown the thread and before she
	// marks it read: marked up to what she saw, it stays unread.
	c := be.putComment("", 1, p1.ID, "New")
	mustSync(t, n)
	if err := n.MarkThreadRead(t.Context(), anna, p1.ID, shown.LastActivity); err != nil {
		t.Fatal(err)
	}
	if u := unread(anna); !u[p1.ID] {
		t.Fatalf("a comment Anna was not shown counts as read: %v", u)
	}
	th := mustThread(t, n, p1.ID, anna)
	if !th.SeenAt.Equal(shown.LastActivity) || !th.Unread {
		t.Fatalf("seen %s want %s, unread %v", th.SeenAt, shown.LastActivity, th.Unread)
	}
	if err := n.MarkThreadRead(t.Context(), anna, p1.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if u := unread(anna); u[p1.ID] || !u[p2.ID] {
		t.Fatalf("after reading p1: %v", u)
	}
	// A mark never moves back.
	if err := n.MarkThreadRead(t.Context(), anna, p1.ID, shown.LastActivity); err != nil {
		t.Fatal(err)
	}
	if u := unread(anna); u[p1.ID] {
		t.Fatal("an older mark made p1 unread again")
	}
	if u := unread(ben); !u[p1.ID] {
		t.Fatal("Anna's mark counts for Ben")
	}
	be.putComment("", 1, p1.ID, "Newer")
	mustSync(t, n)
	if u := unread(anna); !u[p1.ID] {
		t.Fatalf("new activity after %s not unread", c.UpdatedAt)
	}
	if err := n.MarkThreadRead(t.Context(), anna, "be:01ARZ3NDEKTSV4RRFFQ69G5FAV", time.Time{}); !errors.Is(err, protocol.ErrNotFound) {
		t.Errorf("mark an unknown thread: %v", err)
	}
	if err := n.MarkThreadRead(t.Context(), ben, p2.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := n.ForgetMemberReads(t.Context(), anna); err != nil {
		t.Fatal(err)
	}
	if k := count(t, n.db.Reader(), `SELECT COUNT(*) FROM community_reads WHERE member_id = ?`, anna); k != 0 {
		t.Errorf("%d of Anna's marks left", k)
	}
	if k := count(t, n.db.Reader(), `SELECT COUNT(*) FROM community_reads WHERE member_id = ?`, ben); k != 1 {
		t.Errorf("Ben's marks: %d, want 1", k)
	}
	be.put(protocol.Change{ID: p2.ID, Kind: protocol.KindPost, Version: 2, Visibility: protocol.VisibilityCommunity, Deleted: true})
	mustSync(t, n)
	if k := count(t, n.db.Reader(), `SELECT COUNT(*) FROM community_reads`); k != 0 {
		t.Errorf("%d marks of a deleted thread left", k)
	}
}

func TestNode_CommunitySearch(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be, nl := newRemote(t, hub, "be"), newRemote(t, hub, "nl")
	inTitle := be.putPost("", 1, "awareness", "Cyberbullying at school", "How teachers respond.")
	inText := be.putPost("", 1, "awareness", "Playground", "Some cyberbullying starts in class.")
	helpline := nl.putPost("", 1, "helplines", "Calls about cyberbullying", "Counting calls.")
	comment := nl.putComment("", 1, inText.ID, "Cyberbullying by chat too.")
	youth := be.put(protocol.Change{Kind: protocol.KindPost, Version: 1, Visibility: protocol.VisibilityYouth,
		Body: postBody("be", "youth", "Youth on cyberbullying", "Our view.")})
	mustSync(t, n)

	t.Run("ranking and filters", func(t *testing.T) {
		got := searchIDs(t, n, CommunityQuery{Text: "Cyberbullying", Spaces: []string{"awareness"}})
		if len(got) != 3 || got[0] != inTitle.ID || !slices.Contains(got, inText.ID) || !slices.Contains(got, comment.ID) {
			t.Errorf("awareness: %v; want the title match first, then the text and the comment", got)
		}
		got = searchIDs(t, n, CommunityQuery{Text: "cyberbullying", Spaces: []string{"awareness", "helplines"}, SIC: "nl"})
		if !slices.Equal(got, []string{helpline.ID, comment.ID}) && !slices.Equal(got, []string{comment.ID, helpline.ID}) {
			t.Errorf("nl only: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "cyberbullying", Spaces: []string{""}}); len(got) != 0 {
			t.Errorf("no readable space: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "cyberbullying", Spaces: []string{"youth"}}); !slices.Equal(got, []string{youth.ID}) {
			t.Errorf("youth: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "school teachers"}); !slices.Equal(got, []string{inTitle.ID}) {
			t.Errorf("every word: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "CYBERBÜLLYING class"}); !slices.Equal(got, []string{inText.ID}) {
			t.Errorf("case and diacritics: %v", got)
		}
	})
	t.Run("hit", func(t *testing.T) {
		res, err := n.SearchCommunity(t.Context(), CommunityQuery{Text: "chat", Spaces: []string{"awareness"}})
		if err != nil || len(res.Hits) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		h := res.Hits[0]
		if h.Kind != protocol.KindComment || h.Post != inText.ID || h.Title != "Playground" || h.Space != "awareness" || h.Owner != "nl" {
			t.Errorf("hit %+v", h)
		}
		want := []SnippetPart{{Text: "Cyberbullying by "}, {Text: "chat", Match: true}, {Text: " too."}}
		if !slices.Equal(h.Snippet, want) {
			t.Errorf("snippet %+v, want %+v", h.Snippet, want)
		}
	})
	t.Run("paging", func(t *testing.T) {
		var all []string
		q := CommunityQuery{Text: "cyberbullying", Spaces: protocol.Spaces, Limit: 2}
		for range 5 {
			res, err := n.SearchCommunity(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Hits {
				all = append(all, h.ID)
			}
			if res.Next == "" {
				break
			}
			q.After = res.Next
		}
		slices.Sort(all)
		want := []string{inTitle.ID, inText.ID, helpline.ID, comment.ID, youth.ID}
		slices.Sort(want)
		if !slices.Equal(all, want) {
			t.Errorf("pages %v, want %v", all, want)
		}
		if _, err := n.SearchCommunity(t.Context(), CommunityQuery{Text: "x", Spaces: protocol.Spaces, After: "!!"}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("bad cursor: %v", err)
		}
	})
	t.Run("syntax is text", func(t *testing.T) {
		for _, text := range []string{`"`, `"cyberbullying`, `cyber*`, `NEAR(cyberbullying school)`, `-cyberbullying`,
			`cyberbullying NOT school`, `title:school`, `^school`, `(`, `AND`, `OR OR`, `{title}: x`, `'; DROP TABLE entities; --`,
			"\x00", strings.Repeat("a ", 500), "\xff\xfe", `*`, `""`, `+`} {
			if _, err := n.SearchCommunity(t.Context(), CommunityQuery{Text: text, Spaces: protocol.Spaces}); err != nil {
				t.Errorf("%q: %v", text, err)
			}
		}
		// Operators are words: NOT does not exclude, a colon names no column.
		if got := searchIDs(t, n, CommunityQuery{Text: "cyberbullying NOT school", Spaces: []string{"awareness"}}); len(got) != 0 {
			t.Errorf("NOT acted as an operator: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "teachers:respond"}); !slices.Equal(got, []string{inTitle.ID}) {
			t.Errorf("teachers:respond: %v", got)
		}
		if got := searchIDs(t, n, CommunityQuery{Text: "cyber*"}); len(got) != 0 {
			t.Errorf("* acted as a prefix: %v", got)
		}
	})
}

func TestNode_CommunityPaging(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "fi")
	be := newRemote(t, hub, "be")
	var posts []string
	for i := range 7 {
		posts = append(posts, be.putPost("", 1, "hotlines", "Post "+string(rune('A'+i)), "x").ID)
	}
	var comments []string
	for i := range 5 {
		comments = append(comments, be.putComment("", 1, posts[0], "Comment "+string(rune('a'+i))).ID)
	}
	mustSync(t, n)
	// posts[0] has the latest activity, then the others newest first.
	rest := slices.Clone(posts[1:])
	slices.Reverse(rest)
	want := append([]string{posts[0]}, rest...)
	var got []string
	q := ThreadQuery{Space: "hotlines", Limit: 3}
	for {
		l, err := n.CommunityThreads(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l.Threads {
			got = append(got, s.Post)
		}
		if l.Next == "" {
			break
		}
		q.Before = l.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("threads %v, want %v", got, want)
	}
	got = nil
	page := CommentPage{Limit: 2}
	for {
		th, err := n.CommunityThread(t.Context(), posts[0], 0, page)
		if err != nil {
			t.Fatal(err)
		}
		if th.CommentCount != 5 {
			t.Fatalf("count %d", th.CommentCount)
		}
		for _, c := range th.Comments {
			got = append(got, c.ID)
		}
		if th.Next == "" {
			break
		}
		page.After = th.Next
	}
	if !slices.Equal(got, comments) {
		t.Errorf("comments %v, want %v", got, comments)
	}
	if _, err := n.CommunityThreads(t.Context(), ThreadQuery{Space: "hotlines", Before: "%%"}); !errors.Is(err, ErrInvalidCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestFTSQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"school phones", `"school" "phones"`},
		{`"NEAR(a b)" -c*`, `"NEAR" "a" "b" "c"`},
		{"title:x ^y", `"title" "x" "y"`},
		{"l'école", `"l" "école"`},
		{"émoji 🙂 ok", `"émoji" "ok"`},
	} {
		if got := ftsQuery(tc.in); got != tc.want {
			t.Errorf("ftsQuery(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzFTSQuery(f *testing.F) {
	for _, s := range []string{`"`, `a*`, `NEAR(a b, 2)`, `-a`, `a OR b`, `{title text}: x`, "\xff", `a"b`} {
		f.Add(s)
	}
	// The search table as migration 0008 makes it, alone in memory: the
	// fuzzer runs many inputs a second.
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE community_fts USING fts5 (title, text, tokenize = 'unicode61 remove_diacritics 2');
		INSERT INTO community_fts (title, text) VALUES ('a title', 'NEAR the text, "quoted" * - ^')`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		q := ftsQuery(text)
		if q == "" {
			return
		}
		if strings.Count(q, `"`)%2 != 0 {
			t.Fatalf("unbalanced quotes in %s", q)
		}
		rows, err := db.Query(`SELECT rowid, snippet(community_fts, -1, '[', ']', '…', 16) FROM community_fts WHERE community_fts MATCH ? ORDER BY bm25(community_fts)`, q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			t.Fatalf("%q (%s): %v", text, q, err)
		}
	})
}
