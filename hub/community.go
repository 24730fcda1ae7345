package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// CommunitySpaces are the spaces the coordination team reads and writes in
// the console, in the order they are listed: the four Communities of
// Practice, the network's blog and the European youth space. The national
// youth spaces never reach the hub, and news is the portal's.
var CommunitySpaces = []string{"awareness", "helplines", "youth-participation", "hotlines", protocol.SpaceBlog, protocol.SpaceYouth}

// EventCommunityNews records in the audit log that a member of the team
// made a community blog post public as news.
const EventCommunityNews account.EventType = "community-news"

// Limits of the community queries.
const (
	DefaultThreadPage = 50
	MaxThreadPage     = 200
)

// SpaceSummary is one space's size and latest activity.
type SpaceSummary struct {
	Space        string
	Threads      int
	LastActivity time.Time // zero when the space is empty
}

// CommunitySpaceSummaries counts the live threads of each of
// CommunitySpaces, in that order.
func (h *Hub) CommunitySpaceSummaries(ctx context.Context) ([]SpaceSummary, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT space, COUNT(*), MAX(last_activity) FROM community_threads
		WHERE space IN (SELECT value FROM json_each(?)) GROUP BY space`, communitySpacesJSON)
	if err != nil {
		return nil, fmt.Errorf("count threads: %w", err)
	}
	defer rows.Close()
	found := map[string]SpaceSummary{}
	for rows.Next() {
		var s SpaceSummary
		var last int64
		if err := rows.Scan(&s.Space, &s.Threads, &last); err != nil {
			return nil, fmt.Errorf("count threads: %w", err)
		}
		s.LastActivity = fromMillis(last)
		found[s.Space] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count threads: %w", err)
	}
	out := make([]SpaceSummary, 0, len(CommunitySpaces))
	for _, sp := range CommunitySpaces {
		s, ok := found[sp]
		if !ok {
			s.Space = sp
		}
		out = append(out, s)
	}
	return out, nil
}

// CommunityItem is a live post or comment as the hub holds it, with the
// moderators' decision in force on it.
type CommunityItem struct {
	ID, Owner  string
	Kind       protocol.Kind
	Version    int64
	Visibility protocol.Visibility
	UpdatedAt  time.Time
	Blobs      []protocol.BlobRef
	// Post is set for a post, Comment for a comment.
	Post    *protocol.Post
	Comment *protocol.Comment
	// Hidden is set while a moderators' hide is in force, with its reason.
	Hidden       bool
	HiddenReason string
}

// Author is the item's author as its body names them.
func (it *CommunityItem) Author() protocol.Author {
	if it.Post != nil {
		return it.Post.Author
	}
	if it.Comment != nil {
		return it.Comment.Author
	}
	return protocol.Author{}
}

// Text is the item's Markdown.
func (it *CommunityItem) Text() string {
	if it.Post != nil {
		return it.Post.Text
	}
	if it.Comment != nil {
		return it.Comment.Text
	}
	return ""
}

// ThreadQuery asks for a page of a space's threads.
type ThreadQuery struct {
	Space string
	// SIC keeps only the threads this node (or "hub") started; empty: all.
	SIC string
	// Limit is the page's size: DefaultThreadPage when 0, at most
	// MaxThreadPage.
	Limit int
	// Before is the Next of the page before.
	Before string
}

// ThreadSummary is one line of a space's thread list.
type ThreadSummary struct {
	Post         CommunityItem
	Created      time.Time // when the hub first applied the post
	LastActivity time.Time
	Comments     int
}

// ThreadList is a page of threads, newest activity first.
type ThreadList struct {
	Threads []ThreadSummary
	// Next fetches the following page; empty on the last.
	Next string
}

// ErrBadCursor is a page cursor the hub did not hand out, for the
// community's pages and the moderation queue alike.
var ErrBadCursor = errors.New("invalid page cursor")

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultThreadPage
	case n > MaxThreadPage:
		return MaxThreadPage
	}
	return n
}

// CommunityThreads returns a page of q.Space's live threads, newest
// activity first. Hidden threads are included, marked: the team sees
// what its moderators hid.
func (h *Hub) CommunityThreads(ctx context.Context, q ThreadQuery) (ThreadList, error) {
	limit := pageLimit(q.Limit)
	beforeAt, beforeID := int64(1<<62), ""
	if q.Before != "" {
		at, id, ok := strings.Cut(q.Before, ".")
		n, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || id == "" {
			return ThreadList{}, ErrBadCursor
		}
		beforeAt, beforeID = n, id
	}
	where := `t.space = ?`
	args := []any{q.Space}
	if q.SIC != "" {
		where += ` AND t.owner = ?`
		args = append(args, q.SIC)
	}
	if q.Before != "" {
		where += ` AND (t.last_activity, t.post) < (?, ?)`
		args = append(args, beforeAt, beforeID)
	}
	args = append(args, limit+1)
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT t.created_at, t.last_activity, t.comment_count, e.change
		FROM community_threads t JOIN entities e ON e.id = t.post
		WHERE `+where+` ORDER BY t.last_activity DESC, t.post DESC LIMIT ?`, args...)
	if err != nil {
		return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
	}
	defer rows.Close()
	var out ThreadList
	var last []int64
	for rows.Next() {
		var created, activity int64
		var raw []byte
		var s ThreadSummary
		if err := rows.Scan(&created, &activity, &s.Comments, &raw); err != nil {
			return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
		}
		if s.Post, err = decodeItem(raw); err != nil {
			return ThreadList{}, err
		}
		s.Created, s.LastActivity = fromMillis(created), fromMillis(activity)
		out.Threads = append(out.Threads, s)
		last = append(last, activity)
	}
	if err := rows.Err(); err != nil {
		return ThreadList{}, fmt.Errorf("list threads of %s: %w", q.Space, err)
	}
	if len(out.Threads) > limit {
		out.Threads = out.Threads[:limit]
		out.Next = strconv.FormatInt(last[limit-1], 10) + "." + out.Threads[limit-1].Post.ID
	}
	for i := range out.Threads {
		if err := h.markHidden(ctx, &out.Threads[i].Post); err != nil {
			return ThreadList{}, err
		}
	}
	return out, nil
}

// CommentPage asks for a page of a thread's comments.
type CommentPage struct {
	// Limit is the page's size: DefaultThreadPage when 0, at most
	// MaxThreadPage.
	Limit int
	// After is the Next of the page before.
	After string
}

// Thread is a post with a page of its comments, in the order they were
// written.
type Thread struct {
	Post         CommunityItem
	Space        string
	Created      time.Time
	LastActivity time.Time
	CommentCount int
	Comments     []CommunityItem
	// Next fetches the following comments; empty on the last page.
	Next string
}

// CommunityThread returns the live post id and a page of its live
// comments, hidden ones included and marked. A post that is not live, or
// not in one of CommunitySpaces, is protocol.ErrNotFound.
func (h *Hub) CommunityThread(ctx context.Context, id string, page CommentPage) (Thread, error) {
	var t Thread
	var created, activity int64
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT t.space, t.created_at, t.last_activity, t.comment_count, e.change
		FROM community_threads t JOIN entities e ON e.id = t.post WHERE t.post = ?`, id).Scan(&t.Space, &created, &activity, &t.CommentCount, &raw)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !slices.Contains(CommunitySpaces, t.Space) {
		return Thread{}, protocol.Errorf(protocol.CodeNotFound, "no community post %s", id)
	}
	if err != nil {
		return Thread{}, fmt.Errorf("read thread %s: %w", id, err)
	}
	if t.Post, err = decodeItem(raw); err != nil {
		return Thread{}, err
	}
	t.Created, t.LastActivity = fromMillis(created), fromMillis(activity)
	if err := h.markHidden(ctx, &t.Post); err != nil {
		return Thread{}, err
	}
	limit := pageLimit(page.Limit)
	after := ""
	if page.After != "" {
		// A comment's id is its cursor: its ULID orders it.
		if _, err := protocol.SplitEntityID(page.After); err != nil {
			return Thread{}, ErrBadCursor
		}
		after = page.After[strings.IndexByte(page.After, ':')+1:]
	}
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT c.id, e.change FROM community_comments c JOIN entities e ON e.id = c.id
		WHERE c.post = ? AND (c.ord, c.id) > (?, ?) ORDER BY c.ord, c.id LIMIT ?`, id, after, page.After, limit+1)
	if err != nil {
		return Thread{}, fmt.Errorf("read comments of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid string
		if err := rows.Scan(&cid, &raw); err != nil {
			return Thread{}, fmt.Errorf("read comments of %s: %w", id, err)
		}
		it, err := decodeItem(raw)
		if err != nil {
			return Thread{}, err
		}
		t.Comments = append(t.Comments, it)
	}
	if err := rows.Err(); err != nil {
		return Thread{}, fmt.Errorf("read comments of %s: %w", id, err)
	}
	if len(t.Comments) > limit {
		t.Comments = t.Comments[:limit]
		t.Next = t.Comments[limit-1].ID
	}
	for i := range t.Comments {
		if err := h.markHidden(ctx, &t.Comments[i]); err != nil {
			return Thread{}, err
		}
	}
	return t, nil
}

// CommunityComment returns a live comment on a post of CommunitySpaces,
// with the post's space; protocol.ErrNotFound otherwise.
func (h *Hub) CommunityComment(ctx context.Context, id string) (CommunityItem, string, error) {
	var raw []byte
	var space string
	err := h.db.Reader().QueryRowContext(ctx, `SELECT e.change, t.space FROM community_comments c
		JOIN entities e ON e.id = c.id JOIN community_threads t ON t.post = c.post WHERE c.id = ?`, id).Scan(&raw, &space)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !slices.Contains(CommunitySpaces, space) {
		return CommunityItem{}, "", protocol.Errorf(protocol.CodeNotFound, "no community comment %s", id)
	}
	if err != nil {
		return CommunityItem{}, "", fmt.Errorf("read comment %s: %w", id, err)
	}
	it, err := decodeItem(raw)
	if err != nil {
		return CommunityItem{}, "", err
	}
	return it, space, h.markHidden(ctx, &it)
}

func decodeItem(raw []byte) (CommunityItem, error) {
	var c protocol.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		return CommunityItem{}, fmt.Errorf("decode stored change: %w", err)
	}
	it := CommunityItem{ID: c.ID, Owner: c.Owner, Kind: c.Kind, Version: c.Version, Visibility: c.Visibility, UpdatedAt: c.UpdatedAt, Blobs: c.Blobs}
	body, err := protocol.DecodeBody(c.Kind, c.Body)
	if err != nil {
		return CommunityItem{}, fmt.Errorf("decode body of %s: %w", c.ID, err)
	}
	switch b := body.(type) {
	case *protocol.Post:
		it.Post = b
	case *protocol.Comment:
		it.Comment = b
	default:
		return CommunityItem{}, fmt.Errorf("%s is a %s, not a post or a comment", c.ID, c.Kind)
	}
	return it, nil
}

// markHidden sets the decision in force on it: the latest live decision
// (by its updated_at, then version) other than a dismiss, as the nodes
// apply them (docs/community.md, Moderation).
func (h *Hub) markHidden(ctx context.Context, it *CommunityItem) error {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT change FROM entities WHERE ref = ? AND kind = 'moderation' AND deleted = 0`, it.ID)
	if err != nil {
		return fmt.Errorf("read decisions on %s: %w", it.ID, err)
	}
	defer rows.Close()
	var best *protocol.Change
	var bestBody protocol.Moderation
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return fmt.Errorf("read decisions on %s: %w", it.ID, err)
		}
		var c protocol.Change
		var m protocol.Moderation
		if json.Unmarshal(raw, &c) != nil || json.Unmarshal(c.Body, &m) != nil || m.Target != it.ID || m.Decision == "dismiss" {
			continue
		}
		if best == nil || c.UpdatedAt.After(best.UpdatedAt) || c.UpdatedAt.Equal(best.UpdatedAt) && c.Version > best.Version {
			best, bestBody = &c, m
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read decisions on %s: %w", it.ID, err)
	}
	it.Hidden = best != nil && bestBody.Decision == "hide"
	it.HiddenReason = ""
	if it.Hidden {
		it.HiddenReason = bestBody.Reason
	}
	return nil
}

// NodeName is the name a node was registered with, or its id.
func (h *Hub) NodeName(id string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.nodes[id]; ok && n.name != "" {
		return n.name
	}
	return id
}

// NewsFromBlog is a community blog post made public as hub news.
type NewsFromBlog struct {
	// Source is the blog post's id.
	Source string
	// Title, Text and Language are the news item's, as the coordinator
	// confirmed them (the text already crediting the SIC).
	Title, Text, Language string
	// Author is the coordinator who publishes.
	Author protocol.Author
	// MemberID and Address name the coordinator in the audit log.
	MemberID int64
	Address  string
}

// PublishNewsFromBlog publishes a new hub-owned public post in the news
// space from a live community blog post, and records who did it in the
// audit log. It is the only way the community's words reach the portal:
// the blog post itself stays as it was.
func (h *Hub) PublishNewsFromBlog(ctx context.Context, n NewsFromBlog) (string, error) {
	t, err := h.CommunityThread(ctx, n.Source, CommentPage{Limit: 1})
	if err != nil {
		return "", fmt.Errorf("news from %s: %w", n.Source, err)
	}
	if t.Space != protocol.SpaceBlog {
		return "", protocol.Errorf(protocol.CodeInvalidSpace, "%s is in %s: only blog posts become news", n.Source, t.Space)
	}
	if t.Post.Hidden {
		return "", protocol.Errorf(protocol.CodeForbidden, "%s is hidden by the moderators", n.Source)
	}
	author := n.Author
	author.SIC, author.Pseudonym = protocol.HubID, ""
	id, err := h.Publish(ctx, protocol.KindPost, protocol.VisibilityPublic, protocol.Post{Space: protocol.SpaceNews, Format: "blog",
		Title: n.Title, Text: n.Text, Language: n.Language, Author: author})
	if err != nil {
		return "", err
	}
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO community_news (news, source, member_id, created_at) VALUES (?, ?, ?, ?)`,
			id, n.Source, n.MemberID, toMillis(h.now())); err != nil {
			return err
		}
		return h.accounts.RecordTx(ctx, tx, account.Event{Type: EventCommunityNews, MemberID: n.MemberID,
			Actor: account.MemberActor(n.MemberID), Address: n.Address, Detail: "news " + id + " from " + n.Source + " by " + t.Post.Owner})
	})
	if err != nil {
		// The news is out; losing its audit line must not hide that.
		h.log.Error("record the news in the audit log", "news", id, "source", n.Source, "err", err)
	}
	h.log.Info("community blog post published as news", "news", id, "source", n.Source, "member", n.MemberID)
	return id, nil
}

// communitySpacesJSON is CommunitySpaces for json_each.
var communitySpacesJSON = func() string {
	b, _ := json.Marshal(CommunitySpaces)
	return string(b)
}()

// ErrNotAuthor refuses an edit by a member who did not write the item.
var ErrNotAuthor = errors.New("community: only its author edits a post or a comment")

// PublishCommunity publishes a hub-owned post or comment written by the
// member of the coordination team memberID, and remembers that it is
// theirs to edit.
func (h *Hub) PublishCommunity(ctx context.Context, memberID int64, kind protocol.Kind, vis protocol.Visibility, body any) (string, error) {
	id, err := h.Publish(ctx, kind, vis, body)
	if err != nil {
		return "", err
	}
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_authors (entity, member_id) VALUES (?, ?)`, id, memberID)
		return err
	})
	if err != nil {
		return id, fmt.Errorf("record the author of %s: %w", id, err)
	}
	return id, nil
}

// CommunityAuthor is the member of the team who wrote the hub-owned item
// id in the console, or 0.
func (h *Hub) CommunityAuthor(ctx context.Context, id string) (int64, error) {
	var m int64
	err := h.db.Reader().QueryRowContext(ctx, `SELECT member_id FROM console_authors WHERE entity = ?`, id).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the author of %s: %w", id, err)
	}
	return m, nil
}

// UpdateCommunity writes a new version of a hub-owned post or comment with
// body, for the member who wrote it; anyone else gets ErrNotAuthor.
func (h *Hub) UpdateCommunity(ctx context.Context, memberID int64, id string, body any) error {
	author, err := h.CommunityAuthor(ctx, id)
	if err != nil {
		return err
	}
	if author == 0 || author != memberID {
		return ErrNotAuthor
	}
	return h.UpdateEntity(ctx, id, "", body)
}

// NewsRecord is a news item the team made from a blog post.
type NewsRecord struct {
	News     string
	MemberID int64
	At       time.Time
}

// NewsFrom lists the news items made from the blog post source, oldest
// first.
func (h *Hub) NewsFrom(ctx context.Context, source string) ([]NewsRecord, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT news, member_id, created_at FROM community_news WHERE source = ? ORDER BY created_at, news`, source)
	if err != nil {
		return nil, fmt.Errorf("news from %s: %w", source, err)
	}
	defer rows.Close()
	var out []NewsRecord
	for rows.Next() {
		var r NewsRecord
		var at int64
		if err := rows.Scan(&r.News, &r.MemberID, &at); err != nil {
			return nil, fmt.Errorf("news from %s: %w", source, err)
		}
		r.At = fromMillis(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
