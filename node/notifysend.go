package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/protocol"
)

// The notification sender: a loop started with the node plans messages
// into notify_outbox (migration 0013) and sends them in bounded batches.
//
// Planning is one transaction per kind. Every post: the community items
// queued since the cursor become one outbox row per member who chose every
// post in the item's space, may read it and did not write it. Digests: at
// the start of each digest period, every member with a digest space gets
// one row covering what the queue received since their last one. Sending
// reads each planned row, checks again that the item is live, not hidden,
// readable and still chosen, writes the message from the live entities in
// the member's language and marks the row sent. Only the node's own
// members, by their account's address, ever receive anything, and each
// message has one recipient.

// NotifyConfig configures the community's email notifications.
type NotifyConfig struct {
	// DigestHour is the local hour (0-23) at which the daily digest goes.
	DigestHour int `json:"digest_hour"`
	// DigestEvery, when set, sends digests at this interval instead of
	// daily, for tests and for operators who try the digest out; at least
	// one second.
	DigestEvery time.Duration `json:"digest_every"`
	// TimeZone is the IANA time zone of DigestHour; empty: the system's.
	TimeZone string `json:"time_zone"`
	// Batch is the most messages sent in one round; BatchPause is the wait
	// before the next round while more are planned, so a busy day's mail
	// reaches the mail server at a pace it accepts.
	Batch      int           `json:"batch"`
	BatchPause time.Duration `json:"batch_pause"`
	// Poll is how often the sender looks for new posts and due digests.
	Poll time.Duration `json:"poll"`
}

// DefaultNotifyConfig returns the notification settings a node runs with.
func DefaultNotifyConfig() NotifyConfig {
	return NotifyConfig{DigestHour: 7, Batch: 50, BatchPause: 2 * time.Second, Poll: 5 * time.Second}
}

func (c NotifyConfig) validate(bad func(field, format string, args ...any)) {
	if c.DigestHour < 0 || c.DigestHour > 23 {
		bad("notify.digest_hour", "%d must be between 0 and 23", c.DigestHour)
	}
	if c.DigestEvery != 0 && c.DigestEvery < time.Second {
		bad("notify.digest_every", "%s must be 0 (daily) or at least 1s", c.DigestEvery)
	}
	if _, err := c.location(); err != nil {
		bad("notify.time_zone", "%q: %v", c.TimeZone, err)
	}
	if c.Batch < 1 || c.Batch > 1000 {
		bad("notify.batch", "%d must be between 1 and 1000", c.Batch)
	}
	if c.BatchPause < 0 || c.BatchPause > time.Minute {
		bad("notify.batch_pause", "%s must be between 0 and 1m", c.BatchPause)
	}
	if c.Poll < 100*time.Millisecond || c.Poll > 10*time.Minute {
		bad("notify.poll", "%s must be between 100ms and 10m", c.Poll)
	}
}

// location is the zone of DigestHour. time.LoadLocation reads "" as UTC,
// where the setting means the system's zone.
func (c NotifyConfig) location() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(c.TimeZone)
}

const (
	// notifyMaxAge: an item written longer ago than this when it is
	// planned is not mailed, so a node catching up on old content (after a
	// restore or a long outage) does not send it as news.
	notifyMaxAge = 4 * 24 * time.Hour
	// planBatch bounds the queued items one planning transaction reads.
	planBatch = 500
	// maxDigestThreads bounds the threads one digest lists; the rest are
	// counted, with a link to the community.
	maxDigestThreads = 30
	// excerptLen is an excerpt's length in characters.
	excerptLen = 280
	// maxSendAttempts: a message the mail server refuses this often is
	// given up.
	maxSendAttempts = 5
	// notifyRetention is how long sent rows are kept, so a restart never
	// plans them again, before they are pruned.
	notifyRetention = 30 * 24 * time.Hour
)

// kickNotify wakes the sender, after a member's choice changed.
func (n *Node) kickNotify() {
	select {
	case n.notifyKick <- struct{}{}:
	default:
	}
}

// notifyLoop plans and sends until ctx ends: every Poll, at once when
// kicked, and after BatchPause while a round left messages planned.
func (n *Node) notifyLoop(ctx context.Context) {
	log := n.log.With("component", "notify")
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.notifyKick:
		}
		more, err := n.notifyRound(ctx)
		wait := n.cfg.Notify.Poll
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("notifications: round failed; retrying", "err", err, "in", wait)
		case more:
			wait = n.cfg.Notify.BatchPause
		}
		t.Reset(wait)
	}
}

// notifyRound plans what is due and sends one batch; more says that
// planned messages remain.
func (n *Node) notifyRound(ctx context.Context) (more bool, err error) {
	now := n.now()
	if err := n.planPosts(ctx, now); err != nil {
		return false, err
	}
	if err := n.planDigests(ctx, now); err != nil {
		return false, err
	}
	more, err = n.sendPlanned(ctx, now)
	if err != nil {
		return more, err
	}
	if now.Sub(n.notifyPruned) > time.Hour {
		if err := n.pruneNotify(ctx, now); err != nil {
			return more, err
		}
		n.notifyPruned = now
	}
	return more, nil
}

// notifyMember is what planning needs of a member.
type notifyMember struct {
	m        account.Member
	readable []string
}

// notifyMembers returns the node's active members by id.
func (n *Node) notifyMembers(ctx context.Context) (map[int64]notifyMember, error) {
	all, err := n.accounts.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make(map[int64]notifyMember, len(all))
	for _, m := range all {
		if m.Status == account.StatusActive && m.Email != "" {
			out[m.ID] = notifyMember{m: m, readable: ReadableSpaces(m, n.ident.Node)}
		}
	}
	return out, nil
}

// queuedItem is a queued post or comment as it is now.
type queuedItem struct {
	seq       int64
	id, kind  string
	post      string
	owner     string
	createdAt time.Time
	space     string
	hidden    bool
	live      bool
}

// planPosts turns the items queued since the cursor into every-post rows.
func (n *Node) planPosts(ctx context.Context, now time.Time) error {
	if _, err := n.notifyKey(ctx); err != nil {
		return err
	}
	// Most rounds find nothing new: they take no write lock.
	var waiting bool
	if err := n.db.Reader().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM notify_queue
		WHERE seq > (SELECT post_seq FROM notify_state WHERE id = 1))`).Scan(&waiting); err != nil {
		return fmt.Errorf("plan notifications: %w", err)
	}
	if !waiting {
		return nil
	}
	members, err := n.notifyMembers(ctx)
	if err != nil {
		return err
	}
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT post_seq FROM notify_state WHERE id = 1`).Scan(&cursor); err != nil {
			return err
		}
		items, err := queuedItems(ctx, tx, cursor, -1, planBatch)
		if err != nil || len(items) == 0 {
			return err
		}
		subs := map[string][]int64{}
		rows, err := tx.QueryContext(ctx, `SELECT member_id, space FROM notify_prefs WHERE mode = 'post'`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var sp string
			if err := rows.Scan(&id, &sp); err != nil {
				rows.Close()
				return err
			}
			subs[sp] = append(subs[sp], id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		planned := 0
		for _, it := range items {
			if !it.live || it.hidden || now.Sub(it.createdAt) > notifyMaxAge {
				continue
			}
			for _, id := range subs[it.space] {
				nm, ok := members[id]
				if !ok || !slices.Contains(nm.readable, it.space) || n.authoredBy(ctx, nm.m, it.id) {
					continue
				}
				res, err := tx.ExecContext(ctx, `INSERT INTO notify_outbox (member_id, kind, ref, planned_at) VALUES (?, 'post', ?, ?)
					ON CONFLICT (member_id, kind, ref) DO NOTHING`, id, it.id, fmtTime(now))
				if err != nil {
					return err
				}
				k, _ := res.RowsAffected()
				planned += int(k)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notify_state SET post_seq = ? WHERE id = 1`, items[len(items)-1].seq); err != nil {
			return err
		}
		if planned > 0 {
			n.log.Debug("planned notifications", "component", "notify", "messages", planned, "items", len(items))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plan notifications: %w", err)
	}
	return nil
}

// queuedItems reads the items queued after from (up to to, unless to is
// negative), oldest first, at most limit (none when limit is 0), as they
// are now: a deleted item, or a comment whose post is not here, is not
// live.
func queuedItems(ctx context.Context, q rowsQuerier, from, to int64, limit int) ([]queuedItem, error) {
	if to < 0 {
		to = 1<<63 - 1
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := q.QueryContext(ctx, `SELECT q.seq, q.item, i.kind, i.post, i.owner, i.created_at, t.space,
			COALESCE(i.hidden OR t.hidden, 0), e.body
		FROM notify_queue q
		LEFT JOIN community_items i ON i.id = q.item
		LEFT JOIN community_threads t ON t.post = i.post
		LEFT JOIN entities e ON e.id = q.item AND e.deleted = 0
		WHERE q.seq > ? AND q.seq <= ? ORDER BY q.seq LIMIT ?`, from, to, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queuedItem
	for rows.Next() {
		var it queuedItem
		var kind, post, owner, created, space, body sql.NullString
		if err := rows.Scan(&it.seq, &it.id, &kind, &post, &owner, &created, &space, &it.hidden, &body); err != nil {
			return nil, err
		}
		it.live = kind.Valid && space.Valid && body.Valid
		it.kind, it.post, it.owner, it.space = kind.String, post.String, owner.String, space.String
		it.createdAt = parseTime(created.String)
		out = append(out, it)
	}
	return out, rows.Err()
}

// authoredBy reports whether m wrote item id: nobody is told of their own
// post or reply. The node knows who wrote what (AuthorOf); a name in the
// body could be another member's with the same name.
func (n *Node) authoredBy(ctx context.Context, m account.Member, id string) bool {
	who, ok, err := n.AuthorOf(ctx, id)
	if err != nil {
		n.log.Warn("notifications: author of an item", "item", id, "err", err)
		return false
	}
	return ok && who == m.ID
}

// planDigests plans a digest for every member with a digest space whose
// last digest was for an earlier period.
func (n *Node) planDigests(ctx context.Context, now time.Time) error {
	period := n.digestPeriod(now)
	// A choice made during a period waits for the next, so digests need
	// planning only when the period changes.
	if period == n.notifyPeriod {
		return nil
	}
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		head, err := queueHead(ctx, tx)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO notify_outbox (member_id, kind, ref, from_seq, to_seq, planned_at)
			SELECT m.member_id, 'digest', ?1, m.digest_seq, ?2, ?3 FROM notify_members m
			WHERE m.digest_day <> ?1 AND EXISTS (SELECT 1 FROM notify_prefs p WHERE p.member_id = m.member_id AND p.mode = 'digest')
			ON CONFLICT (member_id, kind, ref) DO NOTHING`, period, head, fmtTime(now))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n.log.Debug("planned digests", "component", "notify", "period", period, "digests", k)
		}
		_, err = tx.ExecContext(ctx, `UPDATE notify_members SET digest_seq = ?2, digest_day = ?1
			WHERE digest_day <> ?1 AND EXISTS (SELECT 1 FROM notify_prefs p WHERE p.member_id = notify_members.member_id AND p.mode = 'digest')`,
			period, head)
		return err
	})
	if err != nil {
		return fmt.Errorf("plan digests: %w", err)
	}
	n.notifyPeriod = period
	return nil
}

// notifyRow is a planned message.
type notifyRow struct {
	id, member     int64
	kind, ref      string
	fromSeq, toSeq int64
	attempts       int
}

// sendPlanned sends up to Batch planned messages, oldest first. A message
// that no longer has anything to say (its item hidden or gone, the choice
// changed, an empty digest) is skipped. A refusal by the mail server ends
// the round, to be tried again at the next.
func (n *Node) sendPlanned(ctx context.Context, now time.Time) (bool, error) {
	batch := n.cfg.Notify.Batch
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT id, member_id, kind, ref, from_seq, to_seq, attempts
		FROM notify_outbox WHERE state = 'planned' ORDER BY id LIMIT ?`, batch+1)
	if err != nil {
		return false, fmt.Errorf("read planned notifications: %w", err)
	}
	var planned []notifyRow
	for rows.Next() {
		var r notifyRow
		if err := rows.Scan(&r.id, &r.member, &r.kind, &r.ref, &r.fromSeq, &r.toSeq, &r.attempts); err != nil {
			rows.Close()
			return false, fmt.Errorf("read planned notifications: %w", err)
		}
		planned = append(planned, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read planned notifications: %w", err)
	}
	more := len(planned) > batch
	if more {
		planned = planned[:batch]
	}
	for _, r := range planned {
		msg, ok, err := n.notifyMessage(ctx, r, now)
		if err != nil {
			return more, fmt.Errorf("write notification %d: %w", r.id, err)
		}
		if !ok || n.mailer == nil {
			if err := n.markOutbox(ctx, r.id, "skipped", now); err != nil {
				return more, err
			}
			continue
		}
		if err := n.mailer.Send(ctx, msg); err != nil {
			state := "planned"
			if r.attempts+1 >= maxSendAttempts {
				state = "failed"
			}
			if _, uerr := n.db.Writer().ExecContext(ctx, `UPDATE notify_outbox SET attempts = attempts + 1, state = ?,
				done_at = CASE ? WHEN 'failed' THEN ? END WHERE id = ?`, state, state, fmtTime(now), r.id); uerr != nil {
				return more, fmt.Errorf("record a failed notification: %w", uerr)
			}
			return true, fmt.Errorf("send notification %d: %w", r.id, err)
		}
		if err := n.markOutbox(ctx, r.id, "sent", now); err != nil {
			return more, err
		}
	}
	return more, nil
}

func (n *Node) markOutbox(ctx context.Context, id int64, state string, now time.Time) error {
	if _, err := n.db.Writer().ExecContext(ctx, `UPDATE notify_outbox SET state = ?, done_at = ? WHERE id = ?`,
		state, fmtTime(now), id); err != nil {
		return fmt.Errorf("record notification %d %s: %w", id, state, err)
	}
	return nil
}

// pruneNotify forgets old sent messages and the queued items every cursor
// has passed.
func (n *Node) pruneNotify(ctx context.Context, now time.Time) error {
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_outbox WHERE state <> 'planned' AND done_at < ?`,
			fmtTime(now.Add(-notifyRetention))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM notify_queue WHERE seq <= MIN(
			COALESCE((SELECT post_seq FROM notify_state WHERE id = 1), 0),
			COALESCE((SELECT MIN(m.digest_seq) FROM notify_members m
				WHERE EXISTS (SELECT 1 FROM notify_prefs p WHERE p.member_id = m.member_id AND p.mode = 'digest')), 1 << 62),
			COALESCE((SELECT MIN(from_seq) FROM notify_outbox WHERE state = 'planned' AND kind = 'digest'), 1 << 62))`)
		return err
	})
	if err != nil {
		return fmt.Errorf("prune notifications: %w", err)
	}
	return nil
}

// notifyBundle returns the message catalogues, loaded once.
func (n *Node) notifyBundle() (*locale.Bundle, error) {
	n.bundleOnce.Do(func() { n.bundle, n.bundleErr = locale.Load() })
	return n.bundle, n.bundleErr
}

// notifyMessage writes the message r plans, or returns false when there is
// nothing to send any more.
func (n *Node) notifyMessage(ctx context.Context, r notifyRow, now time.Time) (mail.Message, bool, error) {
	m, err := n.accounts.Get(ctx, r.member)
	if errors.Is(err, account.ErrNotFound) {
		return mail.Message{}, false, nil
	}
	if err != nil {
		return mail.Message{}, false, err
	}
	if m.Status != account.StatusActive || m.Email == "" {
		return mail.Message{}, false, nil
	}
	settings, err := n.NotifySettings(ctx, m)
	if err != nil {
		return mail.Message{}, false, err
	}
	bundle, err := n.notifyBundle()
	if err != nil {
		return mail.Message{}, false, err
	}
	p := bundle.Printer(settings.Lang)
	if r.kind == "digest" {
		return n.digestMessage(ctx, r, m, settings, p, now)
	}
	return n.postMessage(ctx, r, m, settings, p)
}

// mailItem is one post or reply as a message shows it.
type mailItem struct {
	Space, SpaceName string
	Post, Title      string
	Reply            bool
	Author           string
	// Heading and By say, in a digest, what is new in the thread and who
	// wrote it.
	Heading, By string
	Excerpt     string
	Link        string
}

func (n *Node) threadLink(space, post string) string {
	return n.PublicURL() + "/community/" + space + "/" + post
}

// SpaceName is a space's name in p's language.
func SpaceName(p *locale.Printer, space string) string {
	if sic, ok := protocol.NationalYouthSIC(space); ok {
		return p.T("notify.space.national", "sic", strings.ToUpper(sic))
	}
	return p.T("notify.space." + space)
}

// authorName is how a message names an author.
func authorName(p *locale.Printer, a protocol.Author) string {
	switch {
	case a.Pseudonym != "":
		return a.Pseudonym
	case a.SIC == protocol.HubID:
		return p.T("notify.author.team", "name", a.Name)
	case a.SIC != "":
		return p.T("notify.author.named", "name", a.Name, "sic", strings.ToUpper(a.SIC))
	}
	return a.Name
}

// liveItem reads a post or comment with its thread, if it is live and not
// hidden.
func (n *Node) liveItem(ctx context.Context, id string) (mailItem, protocol.Author, string, bool, error) {
	var kind, post, owner, space, body, postBody string
	err := n.db.Reader().QueryRowContext(ctx, `SELECT i.kind, i.post, i.owner, t.space, e.body, pe.body
		FROM community_items i JOIN community_threads t ON t.post = i.post
		JOIN entities e ON e.id = i.id AND e.deleted = 0 JOIN entities pe ON pe.id = i.post AND pe.deleted = 0
		WHERE i.id = ? AND i.hidden = 0 AND t.hidden = 0`, id).Scan(&kind, &post, &owner, &space, &body, &postBody)
	if errors.Is(err, sql.ErrNoRows) {
		return mailItem{}, protocol.Author{}, "", false, nil
	}
	if err != nil {
		return mailItem{}, protocol.Author{}, "", false, err
	}
	var b struct {
		Title  string          `json:"title"`
		Text   string          `json:"text"`
		Author protocol.Author `json:"author"`
	}
	var pb struct {
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return mailItem{}, protocol.Author{}, "", false, fmt.Errorf("decode %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(postBody), &pb); err != nil {
		return mailItem{}, protocol.Author{}, "", false, fmt.Errorf("decode %s: %w", post, err)
	}
	it := mailItem{Space: space, Post: post, Title: pb.Title, Reply: kind == string(protocol.KindComment),
		Excerpt: markup.Excerpt(b.Text, excerptLen), Link: n.threadLink(space, post)}
	return it, b.Author, owner, true, nil
}

// postMessage writes the message about one new post or reply.
func (n *Node) postMessage(ctx context.Context, r notifyRow, m account.Member, s NotifySettings, p *locale.Printer) (mail.Message, bool, error) {
	it, author, _, ok, err := n.liveItem(ctx, r.ref)
	if err != nil || !ok {
		return mail.Message{}, false, err
	}
	if s.Modes[it.Space] != NotifyPost || n.authoredBy(ctx, m, r.ref) {
		return mail.Message{}, false, nil
	}
	it.SpaceName, it.Author = SpaceName(p, it.Space), authorName(p, author)
	unsub, err := n.UnsubscribeLink(ctx, UnsubscribeToken{Member: m.ID, Created: m.CreatedAt.UnixMilli(), Space: it.Space})
	if err != nil {
		return mail.Message{}, false, err
	}
	subject := p.T("notify.post.subject", "space", it.SpaceName, "title", it.Title)
	lead := p.T("notify.post.lead", "author", it.Author, "space", it.SpaceName)
	if it.Reply {
		subject = p.T("notify.reply.subject", "space", it.SpaceName, "title", it.Title)
		lead = p.T("notify.reply.lead", "author", it.Author, "space", it.SpaceName, "title", it.Title)
	}
	v := mailView{
		Lang: p.Tag(), Subject: subject, Greeting: p.T("notify.greeting", "name", m.Name), Lead: lead,
		Groups: []mailGroup{{Items: []mailItem{it}}},
		Read:   p.T("notify.read"),
		Why:    p.T("notify.post.why", "space", it.SpaceName, "site", n.siteName()),
		Change: p.T("notify.change"), ChangeLink: n.PublicURL() + PathNotifications,
		Stop: p.T("notify.post.stop", "space", it.SpaceName), StopLink: unsub,
	}
	return n.buildMail(m, v)
}

// digestMessage writes a member's digest: the new threads and replies of
// their digest spaces that the queue received in the row's range.
func (n *Node) digestMessage(ctx context.Context, r notifyRow, m account.Member, s NotifySettings, p *locale.Printer, now time.Time) (mail.Message, bool, error) {
	var spaces []string
	for _, sp := range ReadableSpaces(m, n.ident.Node) {
		if s.Modes[sp] == NotifyDigest {
			spaces = append(spaces, sp)
		}
	}
	if len(spaces) == 0 {
		return mail.Message{}, false, nil
	}
	items, err := queuedItems(ctx, n.db.Reader(), r.fromSeq, r.toSeq, 0)
	if err != nil {
		return mail.Message{}, false, err
	}
	type thread struct {
		item    mailItem
		isNew   bool
		replies int
	}
	threads := map[string]*thread{}
	var order []string
	count := 0
	for _, q := range items {
		if !q.live || q.hidden || !slices.Contains(spaces, q.space) || now.Sub(q.createdAt) > notifyMaxAge+n.digestSpan() ||
			n.authoredBy(ctx, m, q.id) {
			continue
		}
		it, author, _, ok, err := n.liveItem(ctx, q.id)
		if err != nil {
			return mail.Message{}, false, err
		}
		if !ok {
			continue
		}
		count++
		th := threads[it.Post]
		if th == nil {
			th = &thread{}
			threads[it.Post] = th
			order = append(order, it.Post)
		}
		it.SpaceName, it.Author = SpaceName(p, it.Space), authorName(p, author)
		if it.Reply {
			th.replies++
			if !th.isNew {
				th.item = it
			}
		} else {
			th.isNew, th.item = true, it
		}
	}
	if count == 0 {
		return mail.Message{}, false, nil
	}
	var groups []mailGroup
	listed := 0
	for _, sp := range spaces {
		g := mailGroup{Name: SpaceName(p, sp)}
		for _, post := range order {
			th := threads[post]
			if th.item.Space != sp {
				continue
			}
			if listed == maxDigestThreads {
				break
			}
			listed++
			it := th.item
			switch {
			case th.isNew && th.replies > 0:
				it.Heading = p.N("notify.digest.new_with_replies", th.replies, "title", it.Title)
				it.By = p.T("notify.digest.started_by", "author", it.Author)
			case th.isNew:
				it.Heading = p.T("notify.digest.new", "title", it.Title)
				it.By = p.T("notify.digest.started_by", "author", it.Author)
			default:
				it.Heading = p.N("notify.digest.replies", th.replies, "title", it.Title)
				it.By = p.T("notify.digest.latest_by", "author", it.Author)
			}
			g.Items = append(g.Items, it)
		}
		if len(g.Items) > 0 {
			groups = append(groups, g)
		}
	}
	unsub, err := n.UnsubscribeLink(ctx, UnsubscribeToken{Member: m.ID, Created: m.CreatedAt.UnixMilli(), Digest: true})
	if err != nil {
		return mail.Message{}, false, err
	}
	names := make([]string, len(spaces))
	for i, sp := range spaces {
		names[i] = SpaceName(p, sp)
	}
	v := mailView{
		Lang: p.Tag(), Subject: p.N("notify.digest.subject", count, "site", n.siteName()),
		Greeting: p.T("notify.greeting", "name", m.Name), Lead: p.T("notify.digest.lead"),
		Groups: groups, Read: p.T("notify.read"),
		Why:    p.T("notify.digest.why", "spaces", strings.Join(names, ", "), "site", n.siteName()),
		Change: p.T("notify.change"), ChangeLink: n.PublicURL() + PathNotifications,
		Stop: p.T("notify.digest.stop"), StopLink: unsub,
	}
	if rest := len(order) - listed; rest > 0 {
		v.More = p.N("notify.digest.more", rest)
		v.MoreLink = n.PublicURL() + "/community/"
	}
	return n.buildMail(m, v)
}

// digestSpan is how long a digest period lasts.
func (n *Node) digestSpan() time.Duration {
	if n.cfg.Notify.DigestEvery > 0 {
		return n.cfg.Notify.DigestEvery
	}
	return 24 * time.Hour
}

// siteName is the node's name for its people: its centre's name.
func (n *Node) siteName() string {
	if n.ident.Name != "" {
		return n.ident.Name
	}
	return n.ident.Node
}

// mailView is what a message says, every word from the catalogues.
type mailView struct {
	Lang, Subject  string
	Greeting, Lead string
	Groups         []mailGroup
	Read           string
	More, MoreLink string
	Why            string
	Change         string
	ChangeLink     string
	Stop, StopLink string
}

// mailGroup is a space's part of a message; a message about one item has
// one group without a name.
type mailGroup struct {
	Name  string
	Items []mailItem
}

var mailHTML = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:sans-serif;line-height:1.5;color:#1a1a1a;max-width:40rem">
<p>{{.Greeting}}</p>
<p>{{.Lead}}</p>
{{range .Groups}}{{if .Name}}<h2 style="font-size:1.15rem;margin:1.5rem 0 .5rem">{{.Name}}</h2>{{end}}
{{range .Items}}<div style="margin:0 0 1.2rem">
<p style="margin:0"><strong><a href="{{.Link}}">{{if .Heading}}{{.Heading}}{{else}}{{.Title}}{{end}}</a></strong>{{with .By}}<br>{{.}}{{end}}</p>
{{if .Excerpt}}<p style="margin:.3rem 0">{{.Excerpt}}</p>{{end}}
</div>
{{end}}{{end}}{{if .More}}<p><a href="{{.MoreLink}}">{{.More}}</a></p>{{end}}
<hr>
<p style="font-size:.9rem;color:#444">{{.Why}}<br>
<a href="{{.ChangeLink}}">{{.Change}}</a><br>
<a href="{{.StopLink}}">{{.Stop}}</a></p>
</body></html>
`))

// buildMail writes v as text and HTML to m, with RFC 8058's one-click
// unsubscription.
func (n *Node) buildMail(m account.Member, v mailView) (mail.Message, bool, error) {
	var t strings.Builder
	t.WriteString(v.Greeting + "\n\n" + v.Lead + "\n")
	for _, g := range v.Groups {
		if g.Name != "" {
			t.WriteString("\n" + g.Name + "\n" + strings.Repeat("=", len([]rune(g.Name))) + "\n")
		}
		for _, it := range g.Items {
			t.WriteString("\n")
			if it.Heading != "" {
				t.WriteString(it.Heading + "\n" + it.By + "\n")
			} else {
				t.WriteString(it.Title + "\n")
			}
			if it.Excerpt != "" {
				t.WriteString(it.Excerpt + "\n")
			}
			t.WriteString(v.Read + ": " + it.Link + "\n")
		}
	}
	if v.More != "" {
		t.WriteString("\n" + v.More + ": " + v.MoreLink + "\n")
	}
	t.WriteString("\n-- \n" + v.Why + "\n" + v.Change + ": " + v.ChangeLink + "\n" + v.Stop + ": " + v.StopLink + "\n")
	var h bytes.Buffer
	if err := mailHTML.Execute(&h, v); err != nil {
		return mail.Message{}, false, fmt.Errorf("write message: %w", err)
	}
	return mail.Message{
		To:      []string{m.Email},
		Subject: v.Subject,
		Text:    t.String(),
		HTML:    h.String(),
		Headers: []mail.Header{
			{Name: "List-Unsubscribe", Value: "<" + v.StopLink + ">"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
			{Name: "Auto-Submitted", Value: "auto-generated"},
		},
	}, true, nil
}
