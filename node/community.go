package node

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/bikfed/bikfed/protocol"
)

// The community's read side (docs/community.md): a space's threads with
// unread markers, a thread with its comments, and search. Migration 0008's
// triggers keep the tables these read in step with entities, so nothing here
// writes posts or comments. Which spaces a member may read is the caller's
// to decide: it passes them in; what this returns is never deleted or erased.
//
// Posts and comments the hub's moderators hid (migration 0011) are left out,
// a hidden post with its whole thread, except for the SIC that wrote them:
// a query's HiddenOf names the node whose own hidden posts and comments are
// shown, marked Hidden with the moderators' reason, so that its admins and
// authors see what was hidden and why.

// ErrInvalidCursor is a paging cursor this node did not issue.
var ErrInvalidCursor = errors.New("invalid paging cursor")

const (
	defaultCommunityLimit = 20
	maxCommunityLimit     = 100
	// maxSearchOffset bounds how deep search pages go: past it, the query
	// needs narrowing, not another page.
	maxSearchOffset = 500
	// searchWindow is how many of the most recent matches a search ranks:
	// as many as its pages go deep. Ranking reads each one's words, about
	// 10 µs a match.
	searchWindow = maxSearchOffset
	// maxSearchTerms bounds the words of a search.
	maxSearchTerms = 16
	// The snippet's match markers: private-use characters, which a body's
	// own text does not carry in practice; SnippetPart splits on them.
	snippetOpen  = "\ue000"
	snippetClose = "\ue001"
)

func communityLimit(l int) int {
	if l <= 0 {
		return defaultCommunityLimit
	}
	return min(l, maxCommunityLimit)
}

// ThreadQuery selects a page of a space's threads for CommunityThreads.
type ThreadQuery struct {
	Space string
	// Member is the account member whose unread markers are shown; 0 shows
	// every thread unread.
	Member int64
	// Limit defaults to 20 and is at most 100.
	Limit int
	// Before is the Next of the previous page; empty for the first.
	Before string
	// HiddenOf is the SIC whose hidden threads are listed, marked Hidden:
	// this node's own id for its members; empty lists none.
	HiddenOf string
}

// ThreadSummary is one line of a space's thread list.
type ThreadSummary struct {
	Post         string
	Space        string
	Owner        string
	Title        string
	Author       protocol.Author
	Language     string
	CreatedAt    time.Time
	LastActivity time.Time
	Comments     int
	// Unread: the thread has activity after the member last read it (or
	// the member never read it).
	Unread bool
	// Hidden: the moderators hid the post, for HiddenReason; only a query
	// with the post's owner as HiddenOf lists it.
	Hidden       bool
	HiddenReason string
}

// ThreadList is a page of threads; Next is empty on the last page.
type ThreadList struct {
	Threads []ThreadSummary
	Next    string
}

// CommunityThreads returns a space's live threads, the most recent activity
// first. Its cost is that of the page, however many threads the space has.
func (n *Node) CommunityThreads(ctx context.Context, q ThreadQuery) (ThreadList, error) {
	limit := communityLimit(q.Limit)
	at, post := "\uffff", "\uffff"
	if q.Before != "" {
		var err error
		if at, post, err = decodeCursor(q.Before); err != nil {
			return ThreadList{}, err
		}
	}
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT t.post, t.space, t.owner, t.created_at, t.last_activity_at,
			t.comment_count - (SELECT COUNT(*) FROM community_items h WHERE h.post = t.post AND h.hidden = 1 AND h.owner IS NOT ?5),
			e.body, r.seen_at, t.hidden, COALESCE((SELECT m.reason FROM moderation_current m WHERE m.target = t.post AND t.hidden = 1), '')
		FROM community_threads t JOIN entities e ON e.id = t.post
		LEFT JOIN community_reads r ON r.member_id = ?1 AND r.post = t.post
		WHERE t.space = ?2 AND (t.last_activity_at, t.post) < (?3, ?4) AND (t.hidden = 0 OR t.owner = ?5)
		ORDER BY t.last_activity_at DESC, t.post DESC LIMIT ?6`, q.Member, q.Space, at, post, q.HiddenOf, limit+1)
	if err != nil {
		return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
	}
	defer rows.Close()
	out := ThreadList{Threads: []ThreadSummary{}}
	for rows.Next() {
		var s ThreadSummary
		var created, last, body string
		var seen sql.NullString
		if err := rows.Scan(&s.Post, &s.Space, &s.Owner, &created, &last, &s.Comments, &body, &seen, &s.Hidden, &s.HiddenReason); err != nil {
			return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
		}
		var p protocol.Post
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			return ThreadList{}, fmt.Errorf("decode post %s: %w", s.Post, err)
		}
		s.Title, s.Author, s.Language = p.Title, p.Author, p.Language
		s.CreatedAt, s.LastActivity = parseTime(created), parseTime(last)
		s.Unread = !seen.Valid || seen.String < last
		if len(out.Threads) == limit {
			prev := out.Threads[limit-1]
			out.Next = encodeCursor(fmtTime(prev.LastActivity), prev.Post)
			break
		}
		out.Threads = append(out.Threads, s)
	}
	if err := rows.Err(); err != nil {
		return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
	}
	return out, nil
}

// CommentPage selects a page of a thread's comments.
type CommentPage struct {
	// Limit defaults to 20 and is at most 100.
	Limit int
	// After is the Next of the previous page; empty for the first.
	After string
	// HiddenOf is the SIC whose hidden post or comments are shown, marked
	// Hidden: this node's own id for its members; empty shows none.
	HiddenOf string
}

// CommunityPost is a live post as the node holds it.
type CommunityPost struct {
	ID        string
	Owner     string
	CreatedAt time.Time
	UpdatedAt time.Time
	Post      protocol.Post
	// Hidden: the moderators hid the post (and its thread) for
	// HiddenReason; shown only to a page whose HiddenOf is its owner.
	Hidden       bool
	HiddenReason string
}

// CommunityComment is a live comment as the node holds it.
type CommunityComment struct {
	ID        string
	Owner     string
	CreatedAt time.Time
	UpdatedAt time.Time
	Comment   protocol.Comment
	// Hidden: the moderators hid the comment for HiddenReason; shown only
	// to a page whose HiddenOf is its owner.
	Hidden       bool
	HiddenReason string
}

// Thread is a post with a page of its comments, oldest first.
type Thread struct {
	Post         CommunityPost
	LastActivity time.Time
	// CommentCount counts all the thread's live comments the page may
	// show, not the page's.
	CommentCount int
	Comments     []CommunityComment
	// Next is empty on the last page.
	Next string
	// SeenAt is how far the member had read (zero: never); the page marks
	// comments updated after it as new. Unread says whether any are.
	SeenAt time.Time
	Unread bool
}

// CommunityThread returns a live post and a page of its comments in the
// order they were written, with member's read state. It returns
// protocol.ErrNotFound for a post that is not live (or not a post), or
// hidden from page.HiddenOf.
func (n *Node) CommunityThread(ctx context.Context, postID string, member int64, page CommentPage) (Thread, error) {
	limit := communityLimit(page.Limit)
	at, after := "", ""
	if page.After != "" {
		var err error
		if at, after, err = decodeCursor(page.After); err != nil {
			return Thread{}, err
		}
	}
	var th Thread
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var created, updated, last, body string
		var seen sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT t.owner, t.created_at, t.updated_at, t.last_activity_at,
				t.comment_count - (SELECT COUNT(*) FROM community_items h WHERE h.post = t.post AND h.hidden = 1 AND h.owner IS NOT ?3),
				e.body, r.seen_at, t.hidden, COALESCE((SELECT m.reason FROM moderation_current m WHERE m.target = t.post AND t.hidden = 1), '')
			FROM community_threads t JOIN entities e ON e.id = t.post
			LEFT JOIN community_reads r ON r.member_id = ?1 AND r.post = t.post
			WHERE t.post = ?2 AND (t.hidden = 0 OR t.owner = ?3)`, member, postID, page.HiddenOf).Scan(
			&th.Post.Owner, &created, &updated, &last, &th.CommentCount, &body, &seen, &th.Post.Hidden, &th.Post.HiddenReason)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("thread %s: %w", postID, protocol.ErrNotFound)
		}
		if err != nil {
			return err
		}
		th.Post.ID = postID
		th.Post.CreatedAt, th.Post.UpdatedAt, th.LastActivity = parseTime(created), parseTime(updated), parseTime(last)
		if err := json.Unmarshal([]byte(body), &th.Post.Post); err != nil {
			return fmt.Errorf("decode post %s: %w", postID, err)
		}
		th.Unread = !seen.Valid || seen.String < last
		if seen.Valid {
			th.SeenAt = parseTime(seen.String)
		}
		rows, err := tx.QueryContext(ctx, `SELECT i.id, i.owner, i.created_at, i.updated_at, e.body,
				i.hidden, COALESCE((SELECT m.reason FROM moderation_current m WHERE m.target = i.id AND i.hidden = 1), '')
			FROM community_items i JOIN entities e ON e.id = i.id
			WHERE i.post = ? AND i.kind = 'comment' AND (i.created_at, i.id) > (?, ?) AND (i.hidden = 0 OR i.owner = ?)
			ORDER BY i.created_at, i.id LIMIT ?`, postID, at, after, page.HiddenOf, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		th.Comments = []CommunityComment{}
		for rows.Next() {
			var c CommunityComment
			var created, updated, body string
			if err := rows.Scan(&c.ID, &c.Owner, &created, &updated, &body, &c.Hidden, &c.HiddenReason); err != nil {
				return err
			}
			if len(th.Comments) == limit {
				prev := th.Comments[limit-1]
				th.Next = encodeCursor(fmtTime(prev.CreatedAt), prev.ID)
				break
			}
			c.CreatedAt, c.UpdatedAt = parseTime(created), parseTime(updated)
			if err := json.Unmarshal([]byte(body), &c.Comment); err != nil {
				return fmt.Errorf("decode comment %s: %w", c.ID, err)
			}
			th.Comments = append(th.Comments, c)
		}
		return rows.Err()
	})
	if err != nil {
		if errors.Is(err, protocol.ErrNotFound) {
			return Thread{}, err
		}
		return Thread{}, fmt.Errorf("read thread %s: %w", postID, err)
	}
	return th, nil
}

// MarkThreadRead records that member has read postID up to seen, the
// thread's LastActivity as the member was shown it (so a comment that came
// in meanwhile stays unread); zero seen means up to its activity now. A
// mark never moves back. It returns protocol.ErrNotFound for a post that is
// not live.
func (n *Node) MarkThreadRead(ctx context.Context, member int64, postID string, seen time.Time) error {
	var at any
	if !seen.IsZero() {
		at = fmtTime(seen)
	}
	res, err := n.db.Writer().ExecContext(ctx, `INSERT INTO community_reads (member_id, post, seen_at)
		SELECT ?, post, COALESCE(?, last_activity_at) FROM community_threads WHERE post = ?
		ON CONFLICT (member_id, post) DO UPDATE SET seen_at = excluded.seen_at WHERE excluded.seen_at > seen_at`, member, at, postID)
	if err != nil {
		return fmt.Errorf("mark thread %s read: %w", postID, err)
	}
	if k, _ := res.RowsAffected(); k > 0 {
		return nil
	}
	// Nothing changed: the mark was there already, which writes nothing
	// (a write would make every reader drop its cache), or the thread is
	// not.
	var one int
	err = n.db.Reader().QueryRowContext(ctx, `SELECT 1 FROM community_threads WHERE post = ?`, postID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("mark thread %s read: %w", postID, protocol.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark thread %s read: %w", postID, err)
	}
	return nil
}

// ForgetMemberReads deletes a removed member's read markers.
func (n *Node) ForgetMemberReads(ctx context.Context, member int64) error {
	if _, err := n.db.Writer().ExecContext(ctx, `DELETE FROM community_reads WHERE member_id = ?`, member); err != nil {
		return fmt.Errorf("forget read markers of member %d: %w", member, err)
	}
	return nil
}

// CommunityQuery is a community search.
type CommunityQuery struct {
	// Text is what the person typed; any text is safe (see ftsQuery).
	Text string
	// Spaces are the spaces searched: those the member may read. None
	// finds nothing.
	Spaces []string
	// SIC keeps only posts and comments that node owns; empty: every SIC.
	SIC string
	// Limit defaults to 20 and is at most 100.
	Limit int
	// After is the Next of the previous page; empty for the first.
	After string
	// HiddenOf is the SIC whose hidden posts and comments are found,
	// marked Hidden: this node's own id for its members; empty finds none.
	HiddenOf string
}

// SnippetPart is a piece of a hit's snippet; Match marks the searched words.
type SnippetPart struct {
	Text  string
	Match bool
}

// CommunityHit is a post or a comment that matches a search.
type CommunityHit struct {
	ID    string
	Kind  protocol.Kind
	Post  string
	Space string
	Owner string
	// Title is the thread's: the post's, or the commented post's.
	Title     string
	CreatedAt time.Time
	Snippet   []SnippetPart
	// Hidden: the moderators hid the item or its post, for HiddenReason.
	Hidden       bool
	HiddenReason string
}

// SearchResults is a page of hits; Next is empty on the last page.
type SearchResults struct {
	Hits []CommunityHit
	Next string
}

// SearchCommunity finds live posts and comments in q.Spaces whose title or
// text has every word of q.Text, the best match first (bm25, a title
// weighing more than a text) and the most recently stored first among
// equals.
func (n *Node) SearchCommunity(ctx context.Context, q CommunityQuery) (SearchResults, error) {
	out := SearchResults{Hits: []CommunityHit{}}
	match := ftsQuery(q.Text)
	spaces := slices.DeleteFunc(slices.Clone(q.Spaces), func(s string) bool { return s == "" })
	if match == "" || len(spaces) == 0 {
		return out, nil
	}
	limit := communityLimit(q.Limit)
	offset := 0
	if q.After != "" {
		kind, v, err := decodeCursor(q.After)
		if err != nil {
			return out, err
		}
		if offset, err = strconv.Atoi(v); err != nil || kind != "o" || offset < 0 {
			return out, ErrInvalidCursor
		}
	}
	if offset >= maxSearchOffset {
		return out, nil
	}
	terms := searchTerms(match)
	match = communityMatch(match, spaces, q.SIC)
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		// A word in most posts matches a large part of the community, and
		// ranking must score every match before the best are known; so the
		// ranking runs over the most recent searchWindow matches, which the
		// index finds newest first at little cost, with their words to
		// rank them by (communityrank.go). The hidden are excluded from
		// the few hidden rows up: a hidden post's row is hidden itself,
		// and its thread's comments are found through the thread index.
		rows, err := tx.QueryContext(ctx, `SELECT rowid, title, text FROM community_fts
			WHERE community_fts MATCH ?1
				AND rowid NOT IN (SELECT h.n FROM community_items h WHERE h.hidden = 1 AND h.owner IS NOT ?2)
				AND rowid NOT IN (SELECT h.n FROM community_items h WHERE h.kind = 'comment' AND h.post IN
					(SELECT ht.post FROM community_threads ht WHERE ht.hidden = 1 AND ht.owner IS NOT ?2))
			ORDER BY rowid DESC LIMIT ?3`, match, q.HiddenOf, searchWindow)
		if err != nil {
			return err
		}
		var docs []searchDoc
		for rows.Next() {
			var d searchDoc
			if err := rows.Scan(&d.n, &d.title, &d.text); err != nil {
				rows.Close()
				return err
			}
			docs = append(docs, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if offset >= len(docs) {
			return nil
		}
		total, avg, err := ftsAverages(ctx, tx)
		if err != nil {
			return err
		}
		df, err := n.docFreqs(ctx, tx, terms, total)
		if err != nil {
			return err
		}
		rankDocs(docs, terms, df, total, avg)
		page := docs[offset:min(len(docs), offset+limit+1)]
		// Only the page's few rows are looked up.
		st, err := tx.PrepareContext(ctx, `SELECT i.id, i.kind, i.post, t.space, i.owner, i.created_at, json_extract(pe.body, '$.title'),
				i.hidden OR t.hidden, COALESCE((SELECT m.reason FROM moderation_current m
					WHERE m.decision = 'hide' AND m.target IN (i.id, i.post) ORDER BY m.target = i.id DESC LIMIT 1), '')
			FROM community_items i
			JOIN community_threads t ON t.post = i.post
			JOIN entities pe ON pe.id = i.post
			WHERE i.n = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for k, d := range page {
			if k == limit {
				if offset+limit < maxSearchOffset {
					out.Next = encodeCursor("o", strconv.Itoa(offset+limit))
				}
				break
			}
			var h CommunityHit
			var kind, created string
			var title sql.NullString
			err := st.QueryRowContext(ctx, d.n).Scan(&h.ID, &kind, &h.Post, &h.Space, &h.Owner, &created, &title, &h.Hidden, &h.HiddenReason)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			h.Kind, h.Title, h.CreatedAt = protocol.Kind(kind), title.String, parseTime(created)
			// Spaces the protocol does not name are not excluded by the
			// query; the protocol refuses them, and they are dropped here.
			if !slices.Contains(spaces, h.Space) {
				continue
			}
			// The text's snippet, unless only the title matched.
			snippet, ok := snippetOf(d.text, terms)
			if inTitle, ok2 := snippetOf(d.title, terms); !ok && ok2 && h.Kind == protocol.KindPost {
				snippet = inTitle
			}
			h.Snippet = splitSnippet(snippet)
			out.Hits = append(out.Hits, h)
		}
		return nil
	})
	if err != nil {
		return SearchResults{Hits: []CommunityHit{}}, fmt.Errorf("search the community: %w", err)
	}
	return out, nil
}

// ftsQuery turns what a person typed into an FTS5 query that cannot fail
// to parse nor mean more than "all these words": it keeps the words, as the
// search table's tokenizer sees them (runs of letters, digits and marks),
// each quoted as a plain string, so quotes, *, ^, :, -, parentheses and
// NEAR, AND, OR, NOT are words or separators, never operators.
func ftsQuery(text string) string {
	if len(text) > maxSearchText {
		text = text[:maxSearchText]
	}
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) || r == unicode.ReplacementChar
	})
	if len(words) > maxSearchTerms {
		words = words[:maxSearchTerms]
	}
	for i, w := range words {
		words[i] = `"` + w + `"`
	}
	return strings.Join(words, " ")
}

// communityMatch restricts a query of ftsQuery's to the title and text
// columns, the spaces and, unless empty, one SIC, all as tokens of the index
// (see migration 0008). Spaces are filtered by excluding the others: each
// space's token is in a large part of the index, and FTS5 checks a NOT for
// the matches alone, where an AND with an OR of spaces walks their lists.
// The space none is that of comments whose post is not live.
func communityMatch(words string, spaces []string, sic string) string {
	q := "({title text}: (" + words + "))"
	if sic != "" {
		q = "(" + q + ` AND sic: "` + hex.EncodeToString([]byte(sic)) + `")`
	}
	if len(spaces) == 1 {
		return "(" + q + ` AND space: "` + hex.EncodeToString([]byte(spaces[0])) + `")`
	}
	excluded := []string{`"none"`}
	for _, s := range protocol.Spaces {
		if !slices.Contains(spaces, s) {
			excluded = append(excluded, `"`+hex.EncodeToString([]byte(s))+`"`)
		}
	}
	return q + " NOT space: (" + strings.Join(excluded, " OR ") + ")"
}

// splitSnippet cuts a snippet at its match markers.
func splitSnippet(s string) []SnippetPart {
	var parts []SnippetPart
	for s != "" {
		i := strings.Index(s, snippetOpen)
		if i < 0 {
			parts = append(parts, SnippetPart{Text: s})
			break
		}
		if i > 0 {
			parts = append(parts, SnippetPart{Text: s[:i]})
		}
		s = s[i+len(snippetOpen):]
		j := strings.Index(s, snippetClose)
		if j < 0 {
			j = len(s)
		}
		if j > 0 {
			parts = append(parts, SnippetPart{Text: s[:j], Match: true})
		}
		s = strings.TrimPrefix(s[j:], snippetClose)
	}
	return parts
}

// encodeCursor and decodeCursor make an opaque page cursor of two strings.
func encodeCursor(a, b string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(a + "\n" + b))
}

func decodeCursor(c string) (string, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", ErrInvalidCursor
	}
	a, b, ok := strings.Cut(string(raw), "\n")
	if !ok {
		return "", "", ErrInvalidCursor
	}
	return a, b, nil
}
