package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/protocol"
)

// BulletinDraft is an edition being composed in the console.
type BulletinDraft struct {
	Bulletin  protocol.Bulletin
	UpdatedAt time.Time
}

// SaveBulletinDraft keeps b as the draft of its edition. A draft need not
// be complete; its edition must be valid, since it is its key.
func (h *Hub) SaveBulletinDraft(ctx context.Context, b protocol.Bulletin, memberID int64) error {
	if err := protocol.ValidEdition(b.Edition); err != nil {
		return err
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("save draft: %w", err)
	}
	if len(raw) > protocol.MaxChangeBytes {
		return fmt.Errorf("save draft: %d bytes, limit %d", len(raw), protocol.MaxChangeBytes)
	}
	return h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO bulletin_drafts (edition, body, updated_at, member_id) VALUES (?, ?, ?, ?)
			ON CONFLICT (edition) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, member_id = excluded.member_id`,
			b.Edition, string(raw), h.now().UnixMilli(), memberID)
		return err
	})
}

// BulletinDraftOf reads the draft of edition, false when there is none.
func (h *Hub) BulletinDraftOf(ctx context.Context, edition string) (BulletinDraft, bool, error) {
	var d BulletinDraft
	var body string
	var at int64
	err := h.db.Reader().QueryRowContext(ctx, `SELECT body, updated_at FROM bulletin_drafts WHERE edition = ?`, edition).Scan(&body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("read draft %s: %w", edition, err)
	}
	if err := json.Unmarshal([]byte(body), &d.Bulletin); err != nil {
		return d, false, fmt.Errorf("decode draft %s: %w", edition, err)
	}
	d.UpdatedAt = time.UnixMilli(at)
	return d, true, nil
}

// PublishBulletinDraft signs the draft of edition as the edition's
// bulletin change (its first version or a new one) and removes the draft.
func (h *Hub) PublishBulletinDraft(ctx context.Context, edition string, memberID int64, address string) (string, error) {
	d, ok, err := h.BulletinDraftOf(ctx, edition)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", protocol.Errorf(protocol.CodeNotFound, "no draft of %s", edition)
	}
	id, err := h.SaveBulletin(ctx, d.Bulletin, memberID, address)
	if err != nil {
		return "", err
	}
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM bulletin_drafts WHERE edition = ? AND updated_at = ?`, edition, d.UpdatedAt.UnixMilli())
		return err
	})
	if err != nil {
		return id, fmt.Errorf("remove the published draft %s: %w", edition, err)
	}
	return id, nil
}

// EditionStatus is an edition as the console lists it.
type EditionStatus struct {
	Edition, Title string
	// Draft says changes wait in a draft; Published that the edition is
	// public.
	Draft, Published bool
	// Appears is the published edition's day when it is still to come:
	// the portal shows an edition from its publication day on.
	Appears string
	Sending SendingProgress
}

// BulletinEditions lists every edition, drafted or published, newest
// first, with its sending.
func (h *Hub) BulletinEditions(ctx context.Context) ([]EditionStatus, error) {
	byEdition := map[string]*EditionStatus{}
	var order []string
	get := func(e string) *EditionStatus {
		if s := byEdition[e]; s != nil {
			return s
		}
		byEdition[e] = &EditionStatus{Edition: e}
		order = append(order, e)
		return byEdition[e]
	}
	live, err := h.Bulletins(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range live {
		s := get(e.Bulletin.Edition)
		s.Published, s.Title = true, e.Bulletin.Title
		if day, later := h.AppearsLater(e.Bulletin); later {
			s.Appears = day
		}
	}
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT edition, json_extract(body, '$.title') FROM bulletin_drafts`)
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e string
		var title sql.NullString
		if err := rows.Scan(&e, &title); err != nil {
			return nil, fmt.Errorf("list drafts: %w", err)
		}
		s := get(e)
		s.Draft = true
		if s.Title == "" {
			s.Title = title.String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	out := make([]EditionStatus, 0, len(order))
	for _, e := range order {
		s := byEdition[e]
		if s.Sending, err = h.BulletinSending(ctx, e); err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b EditionStatus) int { return strings.Compare(b.Edition, a.Edition) })
	return out, nil
}

// BulletinCandidate is a public resource or news post an edition may
// point at.
type BulletinCandidate struct {
	Kind, Ref, Title, Owner string
	UpdatedAt               time.Time
}

// MaxCandidates bounds the list the console offers at once.
const MaxCandidates = 200

// BulletinCandidates lists the live public resources and news posts last
// changed in [from, to) (zero times: any), whose title holds text
// (case-insensitive), newest first.
func (h *Hub) BulletinCandidates(ctx context.Context, from, to time.Time, text string) ([]BulletinCandidate, error) {
	q := `SELECT kind, id, owner, json_extract(change, '$.body.title'), applied_at FROM entities
		WHERE deleted = 0 AND visibility = 'public' AND (kind = 'resource' OR (kind = 'post' AND json_extract(change, '$.body.space') = 'news'))`
	var args []any
	if !from.IsZero() {
		q += ` AND applied_at >= ?`
		args = append(args, from.UnixMilli())
	}
	if !to.IsZero() {
		q += ` AND applied_at < ?`
		args = append(args, to.UnixMilli())
	}
	if text = strings.TrimSpace(text); text != "" {
		q += ` AND instr(lower(json_extract(change, '$.body.title')), lower(?)) > 0`
		args = append(args, text)
	}
	q += ` ORDER BY applied_at DESC LIMIT ?`
	args = append(args, MaxCandidates)
	rows, err := h.db.Reader().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list candidates: %w", err)
	}
	defer rows.Close()
	var out []BulletinCandidate
	for rows.Next() {
		var c BulletinCandidate
		var title sql.NullString
		var at int64
		if err := rows.Scan(&c.Kind, &c.Ref, &c.Owner, &title, &at); err != nil {
			return nil, fmt.Errorf("list candidates: %w", err)
		}
		if c.Kind == string(protocol.KindPost) {
			c.Kind = "news"
		}
		c.Title, c.UpdatedAt = title.String, time.UnixMilli(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Candidate reads one item's title and kind, false when the entity is not
// a live public resource or news post.
func (h *Hub) Candidate(ctx context.Context, ref string) (BulletinCandidate, bool) {
	it := protocol.BulletinItem{Ref: ref}
	title, ok := h.itemTitle(ctx, it)
	if !ok {
		return BulletinCandidate{}, false
	}
	var kind, owner string
	if h.db.Reader().QueryRowContext(ctx, `SELECT kind, owner FROM entities WHERE id = ?`, ref).Scan(&kind, &owner) != nil {
		return BulletinCandidate{}, false
	}
	if kind == string(protocol.KindPost) {
		kind = "news"
	}
	return BulletinCandidate{Kind: kind, Ref: ref, Title: title, Owner: owner}, true
}

// PreviewBulletin is b's mail as a subscriber choosing lang would get it,
// with a link that unsubscribes no one.
func (h *Hub) PreviewBulletin(ctx context.Context, b protocol.Bulletin, lang string) (mail.Message, error) {
	if !h.bulletinLangs.Has(lang) {
		return mail.Message{}, ErrInvalidSubscriberLang
	}
	m := newBulletinMails(h, BulletinEntry{Bulletin: b})
	return m.message(ctx, recipient{email: "preview@example.invalid", lang: lang})
}
