package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// The moderation queue: what the coordination team's moderators have to
// look at, read from the aggregate. An item (a post or a comment of a SIC)
// waits when a flag arrived after its last decision, or, in the European
// youth space, when it arrived (or changed) after its last decision: every
// young person's words are looked at once. "After" is hub_seq order, the
// order the hub stored things in, so a flag that crosses a decision on the
// way opens the item again rather than being lost.

// The decisions a moderator takes in the console. "approve" belongs to
// review before publication, which the queue does not do.
const (
	DecisionHide    = "hide"
	DecisionRestore = "restore"
	DecisionDismiss = "dismiss"
)

// Decisions are the console's decisions, in the order they are offered.
var Decisions = []string{DecisionHide, DecisionRestore, DecisionDismiss}

// EventModerationDecision records a moderator's decision in the hub's
// audit log.
const EventModerationDecision account.EventType = "moderation-decision"

// Errors of Queue and Decide.
var (
	ErrUnknownDecision = errors.New("the decision is not hide, restore or dismiss")
	ErrNoReason        = errors.New("a decision needs a reason")
	ErrReasonTooLong   = fmt.Errorf("a decision's reason is longer than %d bytes", protocol.MaxModerationReason)
	ErrNotModerated    = errors.New("not a live post or comment of a SIC held by the hub")
	ErrNotHidden       = errors.New("the item is not hidden: there is nothing to restore")
	ErrNoActor         = errors.New("a decision names the moderator who takes it")
	ErrBadFilter       = errors.New("not a filter of the queue")
)

// QueueFilter chooses what the queue lists.
type QueueFilter string

const (
	// QueueWaiting is everything waiting: flagged items and European
	// youth items not looked at yet.
	QueueWaiting QueueFilter = ""
	// QueueFlagged is the items with a flag since their last decision.
	QueueFlagged QueueFilter = "flagged"
	// QueueYouth is the European youth items not looked at since they
	// arrived or changed.
	QueueYouth QueueFilter = "youth"
	// QueueDecided is the items with a decision, the latest first.
	QueueDecided QueueFilter = "decided"
)

// QueueFilters are the filters, in the order they are offered.
var QueueFilters = []QueueFilter{QueueWaiting, QueueFlagged, QueueYouth, QueueDecided}

// Paging of the queue.
const (
	DefaultQueueLimit = 50
	MaxQueueLimit     = 500
)

// QueueQuery asks for one page of the queue.
type QueueQuery struct {
	Filter QueueFilter
	// Limit is the page size: 0 is DefaultQueueLimit, more than
	// MaxQueueLimit is MaxQueueLimit.
	Limit int
	// After is the Next of the previous page; empty for the first.
	After string
}

// QueuePage is one page of the queue: waiting items oldest first, decided
// items newest decision first.
type QueuePage struct {
	Entries []QueueEntry
	// Next fetches the following page; empty on the last.
	Next string
}

// QueueEntry is one item of the queue.
type QueueEntry struct {
	Item ModItem
	// Flags are every live flag on the item, oldest first.
	Flags []FlagReport
	// OpenFlags is how many of them arrived after the last decision.
	OpenFlags int
	// Youth is set for an item of the European youth space.
	Youth bool
	// Waiting: something arrived after the last decision.
	Waiting bool
	// Since is when the item started waiting: when the first flag after
	// the last decision, or the item itself, reached the hub.
	Since time.Time
	// Last is the latest decision, nil when there is none.
	Last *ModDecision
}

// ModItem is a post or a comment as a moderator sees it.
type ModItem struct {
	ID         string
	Kind       protocol.Kind
	Owner      string
	Space      string // a comment's is its post's, when the hub holds it
	Visibility protocol.Visibility
	Title      string // a post's
	Text       string // Markdown, as written
	Language   string
	Author     protocol.Author
	Post       string // a comment's post
	Version    int64
	// Written is when the owner wrote this version; Received when the
	// hub stored it.
	Written, Received time.Time
	// Hidden is set while the decision in force is a hide, with its
	// reason.
	Hidden       bool
	HiddenReason string
}

// AuthorName is the author as people read it: the name, or the
// pseudonym.
func (it ModItem) AuthorName() string {
	if it.Author.Pseudonym != "" {
		return it.Author.Pseudonym
	}
	return it.Author.Name
}

// FlagReport is one flag on an item.
type FlagReport struct {
	ID     string
	Owner  string // the flagger's node
	Reason string // one of protocol.FlagReasons
	Text   string
	Author protocol.Author
	At     time.Time // when the flagger's node wrote it
	// Open: it arrived after the item's last decision.
	Open bool
}

// FlaggerName is the flagger as people read them.
func (f FlagReport) FlaggerName() string {
	if f.Author.Pseudonym != "" {
		return f.Author.Pseudonym
	}
	return f.Author.Name
}

// ModDecision is a moderation decision.
type ModDecision struct {
	ID       string
	Target   string
	Decision string
	Reason   string
	At       time.Time
}

// ModerationCase is everything a moderator reads before deciding on one
// item.
type ModerationCase struct {
	Item ModItem
	// Thread is a comment's post; nil for a post, or when the hub does not
	// hold the post.
	Thread *ModItem
	Flags  []FlagReport
	// Decisions on the item, newest first.
	Decisions []ModDecision
	Waiting   bool
	Youth     bool
	// History is the decisions on the author's other items.
	History AuthorHistory
}

// AuthorHistory is what moderators decided about an author's other items.
// An author is their node and their name or pseudonym, as bodies give it.
type AuthorHistory struct {
	Hidden, Restored, Dismissed int
	// Recent are the latest decisions, newest first, at most
	// maxHistory.
	Recent []HistoryEntry
}

// HistoryEntry is one decision on another item of the author.
type HistoryEntry struct {
	ModDecision
	Item ModItem
}

// maxHistory bounds the author's recent decisions a case shows.
const maxHistory = 20

// lastDecision is the hub_seq of the latest live decision about the
// entity that col names, 0 when there is none.
func lastDecision(col string) string {
	return `COALESCE((SELECT MAX(d.hub_seq) FROM entities d WHERE d.ref = ` + col + ` AND d.kind = 'moderation' AND d.deleted = 0), 0)`
}

// The waiting items and the hub_seq they wait since: flagged after their
// last decision, and European youth items stored after theirs.
var (
	flaggedOpen = `SELECT f.ref AS target, MIN(f.hub_seq) AS since FROM entities f
	WHERE f.kind = 'flag' AND f.deleted = 0 AND f.ref IS NOT NULL AND f.hub_seq > ` + lastDecision("f.ref") + `
	GROUP BY f.ref`
	youthOpen = `SELECT e.id AS target, e.hub_seq AS since FROM entities e
	WHERE e.visibility = 'youth' AND e.kind IN ('post', 'comment') AND e.deleted = 0 AND e.hub_seq > ` + lastDecision("e.id")
)

// Queue returns a page of the moderation queue.
func (h *Hub) Queue(ctx context.Context, q QueueQuery) (QueuePage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueueLimit
	}
	limit = min(limit, MaxQueueLimit)
	var afterSeq int64
	var afterID string
	if q.After != "" {
		seq, id, ok := strings.Cut(q.After, "~")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || n <= 0 || !validCursorID(id) {
			return QueuePage{}, ErrBadCursor
		}
		afterSeq, afterID = n, id
	}
	var query string
	args := []any{}
	live := `t.deleted = 0 AND t.kind IN ('post', 'comment') AND t.owner != 'hub'`
	switch q.Filter {
	case QueueDecided:
		query = `SELECT d.ref, MAX(d.hub_seq) AS at FROM entities d JOIN entities t ON t.id = d.ref
			WHERE d.kind = 'moderation' AND d.deleted = 0 AND d.ref IS NOT NULL AND ` + live + `
			GROUP BY d.ref`
		if q.After != "" {
			query += ` HAVING (at, d.ref) < (?, ?)`
			args = append(args, afterSeq, afterID)
		}
		query += ` ORDER BY at DESC, d.ref DESC LIMIT ?`
	case QueueWaiting, QueueFlagged, QueueYouth:
		var parts []string
		if q.Filter != QueueYouth {
			parts = append(parts, flaggedOpen)
		}
		if q.Filter != QueueFlagged {
			parts = append(parts, youthOpen)
		}
		query = `WITH open AS (` + strings.Join(parts, "\nUNION ALL\n") + `)
			SELECT o.target, MIN(o.since) AS at FROM open o JOIN entities t ON t.id = o.target
			WHERE ` + live + ` GROUP BY o.target`
		if q.After != "" {
			query += ` HAVING (at, o.target) > (?, ?)`
			args = append(args, afterSeq, afterID)
		}
		query += ` ORDER BY at, o.target LIMIT ?`
	default:
		return QueuePage{}, fmt.Errorf("queue filter %q: %w", q.Filter, ErrBadFilter)
	}
	args = append(args, limit+1)
	type row struct {
		id  string
		seq int64
	}
	var rows []row
	err := h.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rs, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.id, &r.seq); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return rs.Err()
	})
	if err != nil {
		return QueuePage{}, fmt.Errorf("read moderation queue: %w", err)
	}
	var page QueuePage
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		page.Next = strconv.FormatInt(last.seq, 10) + "~" + last.id
	}
	r := h.db.Reader()
	for _, row := range rows {
		c, err := h.readCase(ctx, r, row.id, false)
		if errors.Is(err, ErrNotModerated) {
			continue // deleted since the list was read
		}
		if err != nil {
			return QueuePage{}, err
		}
		e := QueueEntry{Item: c.Item, Flags: c.Flags, Youth: c.Youth, Waiting: c.Waiting}
		for _, f := range c.Flags {
			if f.Open {
				e.OpenFlags++
			}
		}
		if len(c.Decisions) > 0 {
			e.Last = &c.Decisions[0]
		}
		if q.Filter != QueueDecided {
			var at int64
			if err := r.QueryRowContext(ctx, `SELECT applied_at FROM entities WHERE hub_seq = ?`, row.seq).Scan(&at); err == nil {
				e.Since = fromMillis(at)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return QueuePage{}, fmt.Errorf("read moderation queue: %w", err)
			}
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// Case returns what a moderator reads before deciding on item id: the
// item, its thread, its flags and decisions and its author's history. It
// fails with ErrNotModerated when id is not a live post or comment of a
// SIC.
func (h *Hub) Case(ctx context.Context, id string) (ModerationCase, error) {
	return h.readCase(ctx, h.db.Reader(), id, true)
}

// querier is what readCase reads through.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (h *Hub) readCase(ctx context.Context, db querier, id string, full bool) (ModerationCase, error) {
	var c ModerationCase
	item, hubSeq, ok, err := readItem(ctx, db, id)
	if err != nil {
		return c, err
	}
	if !ok || item.Owner == protocol.HubID {
		return c, fmt.Errorf("%s: %w", id, ErrNotModerated)
	}
	c.Item = item
	if item.Kind == protocol.KindComment && item.Post != "" {
		post, _, ok, err := readItem(ctx, db, item.Post)
		if err != nil {
			return c, err
		}
		if ok {
			c.Item.Space = post.Space
			c.Thread = &post
		}
	}
	c.Youth = c.Item.Visibility == protocol.VisibilityYouth
	decisions, lastSeq, err := readDecisions(ctx, db, id)
	if err != nil {
		return c, err
	}
	c.Decisions = decisions
	c.Item.Hidden, c.Item.HiddenReason = inForce(decisions)
	if c.Thread != nil {
		td, _, err := readDecisions(ctx, db, c.Thread.ID)
		if err != nil {
			return c, err
		}
		c.Thread.Hidden, c.Thread.HiddenReason = inForce(td)
	}
	if c.Flags, err = readFlags(ctx, db, id, lastSeq); err != nil {
		return c, err
	}
	for _, f := range c.Flags {
		c.Waiting = c.Waiting || f.Open
	}
	if c.Youth && hubSeq > lastSeq {
		c.Waiting = true
	}
	if full {
		if c.History, err = readHistory(ctx, db, c.Item); err != nil {
			return c, err
		}
	}
	return c, nil
}

// inForce is the hide in force among decisions (newest first): the latest
// that is not a dismiss, which leaves its item as it was, as every node
// reads them.
func inForce(decisions []ModDecision) (bool, string) {
	for _, d := range decisions {
		if d.Decision == DecisionDismiss {
			continue
		}
		if d.Decision == DecisionHide {
			return true, d.Reason
		}
		return false, ""
	}
	return false, ""
}

// readItem reads a live post or comment; ok is false when there is none.
func readItem(ctx context.Context, db querier, id string) (ModItem, int64, bool, error) {
	var raw []byte
	var seq, applied int64
	err := db.QueryRowContext(ctx, `SELECT change, hub_seq, applied_at FROM entities
		WHERE id = ? AND deleted = 0 AND kind IN ('post', 'comment')`, id).Scan(&raw, &seq, &applied)
	if errors.Is(err, sql.ErrNoRows) {
		return ModItem{}, 0, false, nil
	}
	if err != nil {
		return ModItem{}, 0, false, fmt.Errorf("read %s: %w", id, err)
	}
	it, err := decodeModItem(raw)
	if err != nil {
		return it, 0, false, fmt.Errorf("decode %s: %w", id, err)
	}
	it.Received = fromMillis(applied)
	return it, seq, true, nil
}

func decodeModItem(raw []byte) (ModItem, error) {
	var c protocol.Change
	if err := json.Unmarshal(raw, &c); err != nil {
		return ModItem{}, err
	}
	it := ModItem{ID: c.ID, Kind: c.Kind, Owner: c.Owner, Visibility: c.Visibility, Version: c.Version, Written: c.UpdatedAt.UTC()}
	switch c.Kind {
	case protocol.KindPost:
		var p protocol.Post
		if err := json.Unmarshal(c.Body, &p); err != nil {
			return it, err
		}
		it.Space, it.Title, it.Text, it.Language, it.Author = p.Space, p.Title, p.Text, p.Language, p.Author
	case protocol.KindComment:
		var m protocol.Comment
		if err := json.Unmarshal(c.Body, &m); err != nil {
			return it, err
		}
		it.Post, it.Text, it.Language, it.Author = m.Post, m.Text, m.Language, m.Author
	}
	return it, nil
}

// readDecisions reads the live decisions about id, newest first, and the
// hub_seq of the latest.
func readDecisions(ctx context.Context, db querier, id string) ([]ModDecision, int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, hub_seq, change FROM entities
		WHERE ref = ? AND kind = 'moderation' AND deleted = 0 ORDER BY hub_seq DESC`, id)
	if err != nil {
		return nil, 0, fmt.Errorf("read decisions on %s: %w", id, err)
	}
	defer rows.Close()
	var out []ModDecision
	var last int64
	for rows.Next() {
		var did string
		var seq int64
		var raw []byte
		if err := rows.Scan(&did, &seq, &raw); err != nil {
			return nil, 0, fmt.Errorf("read decisions on %s: %w", id, err)
		}
		last = max(last, seq)
		d, err := decodeDecision(raw)
		if err != nil {
			continue // validated on the way in; nothing to show otherwise
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read decisions on %s: %w", id, err)
	}
	return out, last, nil
}

func decodeDecision(raw []byte) (ModDecision, error) {
	var c struct {
		ID        string              `json:"id"`
		UpdatedAt time.Time           `json:"updated_at"`
		Body      protocol.Moderation `json:"body"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return ModDecision{}, err
	}
	return ModDecision{ID: c.ID, Target: c.Body.Target, Decision: c.Body.Decision, Reason: c.Body.Reason, At: c.UpdatedAt.UTC()}, nil
}

// readFlags reads the live flags on id, oldest first; those after
// lastDecision are open.
func readFlags(ctx context.Context, db querier, id string, lastDecision int64) ([]FlagReport, error) {
	rows, err := db.QueryContext(ctx, `SELECT hub_seq, change FROM entities
		WHERE ref = ? AND kind = 'flag' AND deleted = 0 ORDER BY hub_seq`, id)
	if err != nil {
		return nil, fmt.Errorf("read flags on %s: %w", id, err)
	}
	defer rows.Close()
	var out []FlagReport
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			return nil, fmt.Errorf("read flags on %s: %w", id, err)
		}
		var c struct {
			ID        string        `json:"id"`
			Owner     string        `json:"owner"`
			UpdatedAt time.Time     `json:"updated_at"`
			Body      protocol.Flag `json:"body"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			continue
		}
		out = append(out, FlagReport{ID: c.ID, Owner: c.Owner, Reason: c.Body.Reason, Text: c.Body.Text, Author: c.Body.Author,
			At: c.UpdatedAt.UTC(), Open: seq > lastDecision})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read flags on %s: %w", id, err)
	}
	return out, nil
}

// readHistory reads the decisions on the other items of it's author. The
// decisions are few beside the posts, so they are read by the owner's id
// range and their targets' authors compared.
func readHistory(ctx context.Context, db querier, it ModItem) (AuthorHistory, error) {
	var h AuthorHistory
	field, who := "$.body.author.name", it.Author.Name
	if it.Author.Pseudonym != "" {
		field, who = "$.body.author.pseudonym", it.Author.Pseudonym
	}
	if who == "" {
		return h, nil
	}
	// Ids are "<owner>:<ULID>": ';' follows ':' in byte order.
	rows, err := db.QueryContext(ctx, `SELECT d.change, t.change, t.applied_at FROM entities d JOIN entities t ON t.id = d.ref
		WHERE d.kind = 'moderation' AND d.deleted = 0 AND d.ref >= ? AND d.ref < ? AND d.ref != ?
			AND t.deleted = 0 AND t.kind IN ('post', 'comment') AND json_extract(CAST(t.change AS TEXT), ?) = ?
		ORDER BY d.hub_seq DESC`, it.Owner+":", it.Owner+";", it.ID, field, who)
	if err != nil {
		return h, fmt.Errorf("read history of %s: %w", it.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var draw, traw []byte
		var applied int64
		if err := rows.Scan(&draw, &traw, &applied); err != nil {
			return h, fmt.Errorf("read history of %s: %w", it.ID, err)
		}
		d, err := decodeDecision(draw)
		if err != nil {
			continue
		}
		switch d.Decision {
		case DecisionHide:
			h.Hidden++
		case DecisionRestore:
			h.Restored++
		case DecisionDismiss:
			h.Dismissed++
		}
		if len(h.Recent) < maxHistory {
			target, err := decodeModItem(traw)
			if err != nil {
				continue
			}
			target.Received = fromMillis(applied)
			h.Recent = append(h.Recent, HistoryEntry{ModDecision: d, Item: target})
		}
	}
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("read history of %s: %w", it.ID, err)
	}
	return h, nil
}

// Decision is a moderator's decision on one item.
type Decision struct {
	Target   string
	Decision string // one of Decisions
	Reason   string
	// Actor names the moderator in the audit log
	// (account.MemberActor).
	Actor string
}

// Decide publishes a moderation decision: a hub-owned moderation entity
// with the item's visibility, which every node applies when it pulls it.
// Every decision needs a reason, which the author's SIC is shown for a
// hide; a restore needs a hidden item. The decision is recorded in the
// audit log with its moderator. It returns the decision's entity id.
func (h *Hub) Decide(ctx context.Context, d Decision) (string, error) {
	if d.Actor == "" {
		return "", ErrNoActor
	}
	switch d.Decision {
	case DecisionHide, DecisionRestore, DecisionDismiss:
	default:
		return "", fmt.Errorf("%q: %w", d.Decision, ErrUnknownDecision)
	}
	d.Reason = strings.TrimSpace(d.Reason)
	switch {
	case d.Reason == "":
		return "", ErrNoReason
	case len(d.Reason) > protocol.MaxModerationReason:
		return "", ErrReasonTooLong
	case !utf8.ValidString(d.Reason):
		return "", fmt.Errorf("reason: %w", ErrNoReason)
	}
	r := h.db.Reader()
	item, _, ok, err := readItem(ctx, r, d.Target)
	if err != nil {
		return "", err
	}
	// Public content is never moderated: what the public portal and its
	// mirrors show must not depend on a record only members may read.
	if !ok || item.Owner == protocol.HubID || item.Visibility == protocol.VisibilityPublic {
		return "", fmt.Errorf("%s: %w", d.Target, ErrNotModerated)
	}
	if d.Decision == DecisionRestore {
		decisions, _, err := readDecisions(ctx, r, d.Target)
		if err != nil {
			return "", err
		}
		if hidden, _ := inForce(decisions); !hidden {
			return "", fmt.Errorf("%s: %w", d.Target, ErrNotHidden)
		}
	}
	id, err := h.Publish(ctx, protocol.KindModeration, item.Visibility,
		protocol.Moderation{Target: d.Target, Decision: d.Decision, Reason: d.Reason})
	if err != nil {
		return "", err
	}
	// The decision is out: an audit record that fails is logged, and
	// reported, but cannot take it back.
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		return h.accounts.RecordTx(ctx, tx, account.Event{Type: EventModerationDecision, Actor: d.Actor,
			Detail: d.Decision + " " + d.Target + " (" + id + ")"})
	})
	if err != nil {
		h.log.Error("record a moderation decision in the audit log", "decision", id, "err", err)
		return id, fmt.Errorf("record decision %s: %w", id, err)
	}
	h.log.Info("moderation decision", "decision", id, "target", d.Target, "action", d.Decision, "actor", d.Actor)
	return id, nil
}

// validCursorID checks the id part of a cursor: an entity id.
func validCursorID(id string) bool {
	_, err := protocol.SplitEntityID(id)
	return err == nil
}
