package hub

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/protocol"
)

// BulletinConfig configures the bulletin's subscriptions and sending.
type BulletinConfig struct {
	// BatchSize is how many copies are sent before each pause. Default 50.
	BatchSize int
	// BatchPause is the pause between batches, which keeps a sending
	// within what the mail server accepts. Default 5s.
	BatchPause time.Duration
	// ConfirmTTL is how long a confirmation link works; an address not
	// confirmed by then is erased. Default 7 days.
	ConfirmTTL time.Duration
	// SubscribeRate is how many subscriptions one client address may ask
	// for an hour, SubscribeBurst at once. Default 10 and 5; a rate of 0
	// sets no limit.
	SubscribeRate  float64
	SubscribeBurst int
}

// DefaultBulletinConfig returns the bulletin's default settings.
func DefaultBulletinConfig() BulletinConfig {
	return BulletinConfig{BatchSize: 50, BatchPause: 5 * time.Second, ConfirmTTL: 7 * 24 * time.Hour, SubscribeRate: 10, SubscribeBurst: 5}
}

func (c BulletinConfig) validate(bad func(field, format string, args ...any)) {
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		bad("Bulletin.BatchSize", "must be between 1 and 10000, got %d", c.BatchSize)
	}
	if c.BatchPause < 0 || c.BatchPause > time.Hour {
		bad("Bulletin.BatchPause", "must be between 0 and 1h, got %s", c.BatchPause)
	}
	if c.ConfirmTTL < time.Hour || c.ConfirmTTL > 90*24*time.Hour {
		bad("Bulletin.ConfirmTTL", "must be between 1h and 90 days, got %s", c.ConfirmTTL)
	}
	if c.SubscribeRate < 0 {
		bad("Bulletin.SubscribeRate", "must not be negative")
	}
	if c.SubscribeRate > 0 && c.SubscribeBurst < 1 {
		bad("Bulletin.SubscribeBurst", "must be at least 1 with a rate")
	}
}

// The refusals of a sending.
var (
	ErrNoMailServer   = errors.New("no mail server is configured")
	ErrAlreadySending = errors.New("this edition is already sent or being sent")
	ErrNoSubscribers  = errors.New("no subscriber has confirmed")
	// ErrNotPublishedYet refuses an edition whose day is still to come:
	// its mail would link to a page the portal does not show yet.
	ErrNotPublishedYet = errors.New("the edition does not appear on the portal yet")
)

// SendingState is where an edition's sending stands.
type SendingState string

// The states of a sending, as the console shows them.
const (
	SendingNone     SendingState = ""        // never sent
	SendingActive   SendingState = "sending" // copies waiting, the sender at work
	SendingStopped  SendingState = "stopped" // copies waiting, the sender stopped after failures
	SendingFinished SendingState = "sent"    // nothing waiting
)

// SendingProgress is an edition's sending, counted from its delivery
// records: each subscriber has at most one per edition, which is what
// keeps anyone from getting an edition twice.
type SendingProgress struct {
	Edition    string
	State      SendingState
	StartedAt  time.Time
	FinishedAt time.Time
	// Total is the copies to send: the confirmed subscribers when the
	// sending started, less those who left before their turn.
	Total, Sent, Waiting, Failed int
	// Uncertain are copies claimed but not known sent: the hub stopped
	// while speaking to the mail server. They are never sent again.
	Uncertain int
}

// AppearsLater reports whether b's publication day is still to come (in
// UTC, as the portal decides), and that day.
func (h *Hub) AppearsLater(b protocol.Bulletin) (string, bool) {
	return b.Published, b.Published > h.now().UTC().Format(time.DateOnly)
}

// StartSending sends the live edition to every confirmed subscriber, in
// batches, in the background; its progress is BulletinSending's. An
// edition is sent once: a second start is ErrAlreadySending, and a start
// with no confirmed subscriber is ErrNoSubscribers and records nothing.
func (h *Hub) StartSending(ctx context.Context, edition string, memberID int64, address string) error {
	if h.mailer == nil {
		return ErrNoMailServer
	}
	e, err := h.BulletinByEdition(ctx, edition)
	if err != nil {
		return err
	}
	if day, later := h.AppearsLater(e.Bulletin); later {
		return fmt.Errorf("%w: it appears on %s", ErrNotPublishedYet, day)
	}
	now := h.now().UnixMilli()
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO bulletin_sendings (edition, entity, started_at) VALUES (?, ?, ?) ON CONFLICT (edition) DO NOTHING`,
			edition, e.ID, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAlreadySending
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO bulletin_deliveries (edition, subscriber, state, changed_at)
			SELECT ?, id, 'waiting', ? FROM bulletin_subscribers WHERE confirmed_at IS NOT NULL`, edition, now)
		if err != nil {
			return err
		}
		// An edition is sent once: sent to nobody, it could never reach
		// the subscribers who confirm later.
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoSubscribers
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrAlreadySending) || errors.Is(err, ErrNoSubscribers) {
			return err
		}
		return fmt.Errorf("start sending %s: %w", edition, err)
	}
	h.recordBulletin(ctx, EventBulletinSending, edition, memberID, address)
	h.kickSender()
	return nil
}

// ResumeSending wakes the sender for the sendings that have copies
// waiting, after it stopped on failures. A restarted hub resumes by
// itself.
func (h *Hub) ResumeSending() {
	h.senderStopped.Store(false)
	h.kickSender()
}

func (h *Hub) kickSender() {
	select {
	case h.sendKick <- struct{}{}:
	default:
	}
}

// BulletinSending reads the progress of edition's sending; an edition
// never sent has State SendingNone.
func (h *Hub) BulletinSending(ctx context.Context, edition string) (SendingProgress, error) {
	p := SendingProgress{Edition: edition}
	var started int64
	var finished sql.NullInt64
	err := h.db.Reader().QueryRowContext(ctx, `SELECT started_at, finished_at FROM bulletin_sendings WHERE edition = ?`, edition).Scan(&started, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read sending %s: %w", edition, err)
	}
	p.StartedAt = time.UnixMilli(started)
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT state, count(*) FROM bulletin_deliveries WHERE edition = ? GROUP BY state`, edition)
	if err != nil {
		return p, fmt.Errorf("read sending %s: %w", edition, err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return p, fmt.Errorf("read sending %s: %w", edition, err)
		}
		switch state {
		case "waiting":
			p.Waiting = n
		case "claimed":
			p.Uncertain = n
		case "sent":
			p.Sent = n
		case "failed":
			p.Failed = n
		}
		p.Total += n
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("read sending %s: %w", edition, err)
	}
	switch {
	case finished.Valid:
		p.State, p.FinishedAt = SendingFinished, time.UnixMilli(finished.Int64)
	case h.senderStopped.Load():
		p.State = SendingStopped
	default:
		p.State = SendingActive
	}
	return p, nil
}

// maxFailuresInARow stops the sender: a mail server refusing every copy
// is down or misconfigured, and going on would only mark every
// subscriber failed.
const maxFailuresInARow = 3

// runSender sends the waiting copies of every unfinished sending, batch
// by batch, until none waits; it wakes at a kick and at start, so a
// sending cut by a crash goes on by itself. Every hour, and at start, it
// also erases the subscriptions never confirmed in time, which nobody
// may be asking for any more.
func (h *Hub) runSender() {
	defer h.wg.Done()
	log := h.log.With("component", "bulletin")
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	h.purgeUnconfirmed(h.ctx, log)
	for {
		if !h.senderStopped.Load() {
			if err := h.sendWaiting(h.ctx, log); err != nil && h.ctx.Err() == nil {
				log.Error("bulletin sending", "err", err)
			}
		}
		select {
		case <-h.ctx.Done():
			return
		case <-h.sendKick:
		case <-purge.C:
			h.purgeUnconfirmed(h.ctx, log)
		}
	}
}

// purgeUnconfirmed erases the subscriptions not confirmed within
// ConfirmTTL, logging only how many.
func (h *Hub) purgeUnconfirmed(ctx context.Context, log *slog.Logger) {
	var n int64
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = deleteUnconfirmed(ctx, tx, h.now().Add(-h.cfg.Bulletin.ConfirmTTL))
		return err
	})
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("erase unconfirmed bulletin subscriptions", "err", err)
	case n > 0:
		log.Info("unconfirmed bulletin subscriptions erased", "count", n)
	}
}

// deleteUnconfirmed deletes the subscriptions asked for before and never
// confirmed.
func deleteUnconfirmed(ctx context.Context, tx *sql.Tx, before time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM bulletin_subscribers WHERE confirmed_at IS NULL AND created_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sendWaiting works through the unfinished sendings, oldest first.
func (h *Hub) sendWaiting(ctx context.Context, log *slog.Logger) error {
	for {
		var edition, entity string
		err := h.db.Reader().QueryRowContext(ctx, `SELECT edition, entity FROM bulletin_sendings WHERE finished_at IS NULL ORDER BY started_at LIMIT 1`).
			Scan(&edition, &entity)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read sendings: %w", err)
		}
		e, err := h.BulletinByEdition(ctx, edition)
		if err != nil {
			return fmt.Errorf("sending %s: %w", edition, err)
		}
		done, err := h.sendBatches(ctx, log, e)
		if err != nil || !done {
			return err
		}
		if err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE bulletin_sendings SET finished_at = ? WHERE edition = ?`, h.now().UnixMilli(), edition)
			return err
		}); err != nil {
			return fmt.Errorf("finish sending %s: %w", edition, err)
		}
		log.Info("bulletin sent", "edition", edition)
	}
}

// recipient is a subscriber whose copy waits.
type recipient struct {
	id, created int64
	email, lang string
}

// sendBatches sends e's waiting copies; done is false when the sender
// stopped on failures or the hub is closing.
func (h *Hub) sendBatches(ctx context.Context, log *slog.Logger, e BulletinEntry) (done bool, err error) {
	edition := e.Bulletin.Edition
	mails := newBulletinMails(h, e)
	failures := 0
	for {
		batch, err := h.waitingBatch(ctx, edition)
		if err != nil {
			return false, err
		}
		if len(batch) == 0 {
			return true, nil
		}
		for _, rc := range batch {
			if ctx.Err() != nil {
				return false, nil
			}
			claimed, err := h.setDelivery(ctx, edition, rc.id, "waiting", "claimed")
			if err != nil {
				return false, err
			}
			if !claimed {
				continue
			}
			m, err := mails.message(ctx, rc)
			if err == nil {
				err = h.mailer.Send(ctx, m)
			}
			if err != nil && ctx.Err() != nil {
				// Cut while speaking to the mail server: the copy may
				// have gone, so it stays claimed, counted uncertain.
				return false, nil
			}
			state := "sent"
			if err != nil {
				state = "failed"
				failures++
				log.Warn("bulletin copy not sent", "edition", edition, "subscriber", rc.id, "err", withoutAddress(err, rc.email))
			} else {
				failures = 0
			}
			// The copy's fate is written even when the hub is closing: a
			// copy sent and left claimed would only be counted uncertain.
			if _, err := h.setDelivery(context.WithoutCancel(ctx), edition, rc.id, "claimed", state); err != nil {
				return false, err
			}
			if failures >= maxFailuresInARow {
				h.senderStopped.Store(true)
				log.Warn("bulletin sending stopped after failures in a row; resume it from the console", "edition", edition, "failures", failures)
				return false, nil
			}
		}
		if h.cfg.Bulletin.BatchPause > 0 {
			select {
			case <-ctx.Done():
				return false, nil
			case <-time.After(h.cfg.Bulletin.BatchPause):
			}
		}
	}
}

// waitingBatch reads the next batch of waiting copies with their
// subscribers.
func (h *Hub) waitingBatch(ctx context.Context, edition string) ([]recipient, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT s.id, s.created_at, s.email, s.lang FROM bulletin_deliveries d
		JOIN bulletin_subscribers s ON s.id = d.subscriber
		WHERE d.edition = ? AND d.state = 'waiting' ORDER BY d.subscriber LIMIT ?`, edition, h.cfg.Bulletin.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read waiting copies: %w", err)
	}
	defer rows.Close()
	var out []recipient
	for rows.Next() {
		var rc recipient
		if err := rows.Scan(&rc.id, &rc.created, &rc.email, &rc.lang); err != nil {
			return nil, fmt.Errorf("read waiting copies: %w", err)
		}
		out = append(out, rc)
	}
	return out, rows.Err()
}

// setDelivery moves a delivery from one state to another in its own
// committed transaction, reporting whether it was in from.
func (h *Hub) setDelivery(ctx context.Context, edition string, subscriber int64, from, to string) (bool, error) {
	var n int64
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bulletin_deliveries SET state = ?, changed_at = ? WHERE edition = ? AND subscriber = ? AND state = ?`,
			to, h.now().UnixMilli(), edition, subscriber, from)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delivery %s of %d: %w", to, subscriber, err)
	}
	return n == 1, nil
}

// bulletinMails writes an edition's copies, one per subscriber, the
// texts of each language made once.
type bulletinMails struct {
	h      *Hub
	e      BulletinEntry
	byLang map[string]*bulletinText
}

// bulletinText is an edition in one language, without the subscriber's
// link.
type bulletinText struct {
	p                 *locale.Printer
	lang              string // the edition's language the text is in
	title, focusTitle string
	focusHTML         template.HTML
	focusText         string
	items             []bulletinMailItem
}

type bulletinMailItem struct {
	Title, Note, URL string
}

func newBulletinMails(h *Hub, e BulletinEntry) *bulletinMails {
	return &bulletinMails{h: h, e: e, byLang: map[string]*bulletinText{}}
}

// text is the edition in lang when it has that language, else in its own
// (English for the editions the team writes).
func (m *bulletinMails) text(ctx context.Context, lang string) (*bulletinText, error) {
	if t := m.byLang[lang]; t != nil {
		return t, nil
	}
	b := &m.e.Bulletin
	title, focus, notes, ok := b.Version(lang)
	textLang := lang
	if !ok {
		textLang = b.Language
	}
	html, err := markup.Render(focus.Body)
	if err != nil {
		return nil, fmt.Errorf("render the focus article: %w", err)
	}
	t := &bulletinText{p: m.h.bulletinLangs.Printer(lang), lang: textLang, title: title, focusTitle: focus.Title,
		focusHTML: html, focusText: markup.Text(focus.Body)}
	base := m.h.BaseURL() + "/" + lang
	for i, it := range b.Items {
		itemTitle, ok := m.h.itemTitle(ctx, it)
		if !ok {
			continue
		}
		path := "/resources/"
		if it.Kind == "news" {
			path = "/news/"
		}
		t.items = append(t.items, bulletinMailItem{Title: itemTitle, Note: notes[i], URL: base + path + it.Ref})
	}
	m.byLang[lang] = t
	return t, nil
}

// itemTitle is the title of the public, live entity an item points at.
func (h *Hub) itemTitle(ctx context.Context, it protocol.BulletinItem) (string, bool) {
	var raw []byte
	err := h.db.Reader().QueryRowContext(ctx, `SELECT change FROM entities WHERE id = ? AND deleted = 0`, it.Ref).Scan(&raw)
	if err != nil {
		return "", false
	}
	var c struct {
		Visibility protocol.Visibility `json:"visibility"`
		Body       struct {
			Title string `json:"title"`
		} `json:"body"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Visibility != protocol.VisibilityPublic || c.Body.Title == "" {
		return "", false
	}
	return c.Body.Title, true
}

// message is the copy of rc: the edition in their language with their own
// unsubscribe link, in the body and in the RFC 8058 headers.
func (m *bulletinMails) message(ctx context.Context, rc recipient) (mail.Message, error) {
	t, err := m.text(ctx, rc.lang)
	if err != nil {
		return mail.Message{}, err
	}
	unsub := m.h.BaseURL() + "/bulletin/unsubscribe?t=" + m.h.encodeLink(linkToken{purpose: linkUnsub, subscriber: rc.id, created: rc.created})
	web := m.h.BaseURL() + "/" + rc.lang + "/bulletin/" + m.e.Bulletin.Edition
	var text strings.Builder
	fmt.Fprintf(&text, "%s\n\n%s\n\n%s\n\n", t.title, t.focusTitle, t.focusText)
	if len(t.items) > 0 {
		fmt.Fprintf(&text, "%s\n\n", t.p.T("portal.bulletin.items"))
		for _, it := range t.items {
			fmt.Fprintf(&text, "- %s\n  %s\n", it.Title, it.URL)
			if it.Note != "" {
				fmt.Fprintf(&text, "  %s\n", it.Note)
			}
		}
		text.WriteString("\n")
	}
	fmt.Fprintf(&text, "%s\n%s\n\n%s\n%s\n", t.p.T("portal.bulletin.mail.online"), web, t.p.T("portal.bulletin.mail.why"), unsub)
	var html bytes.Buffer
	err = bulletinMailHTML.Execute(&html, map[string]any{
		"Lang": rc.lang, "TextLang": t.lang, "Title": t.title, "FocusTitle": t.focusTitle, "Focus": t.focusHTML,
		"ItemsHeading": t.p.T("portal.bulletin.items"), "Items": t.items,
		"Online": t.p.T("portal.bulletin.mail.online"), "Web": web,
		"Why": t.p.T("portal.bulletin.mail.why"), "UnsubLabel": t.p.T("portal.bulletin.unsubscribe.button"), "Unsub": unsub,
	})
	if err != nil {
		return mail.Message{}, fmt.Errorf("write the mail: %w", err)
	}
	return mail.Message{
		To: []string{rc.email}, Subject: t.title, Text: text.String(), HTML: html.String(),
		Headers: []mail.Header{
			{Name: "List-Unsubscribe", Value: "<" + unsub + ">"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		},
	}, nil
}

var bulletinMailHTML = template.Must(template.New("bulletin").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:auto;padding:1em;line-height:1.5">
<div lang="{{.TextLang}}">
<h1>{{.Title}}</h1>
<h2>{{.FocusTitle}}</h2>
{{.Focus}}
</div>
{{if .Items}}<h2>{{.ItemsHeading}}</h2>
<ul>{{range .Items}}<li><a href="{{.URL}}">{{.Title}}</a>{{if .Note}}<br>{{.Note}}{{end}}</li>{{end}}</ul>{{end}}
<p><a href="{{.Web}}">{{.Online}}</a></p>
<hr>
<p>{{.Why}} <a href="{{.Unsub}}">{{.UnsubLabel}}</a></p>
</body></html>
`))

// bulletinConfirmMail is the double opt-in mail of a new subscription.
func bulletinConfirmMail(p *locale.Printer, email, link string, days int) mail.Message {
	text := p.T("portal.bulletin.mail.confirm_text", "link", link, "days", days) + "\n"
	return mail.Message{To: []string{email}, Subject: p.T("portal.bulletin.mail.confirm_subject"), Text: text, Link: link}
}

// bulletinRoutes are the operator's admin API of the bulletin, for
// scripts: start an edition's sending, read its progress, resume.
func (h *Hub) bulletinRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/bulletins/{edition}/send", h.operator(func(w http.ResponseWriter, r *http.Request) {
		edition := r.PathValue("edition")
		if err := protocol.ValidEdition(edition); err != nil {
			h.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "%v", err))
			return
		}
		switch err := h.StartSending(r.Context(), edition, 0, "admin API"); {
		case errors.Is(err, ErrAlreadySending):
			h.writeError(w, r, protocol.Errorf(protocol.CodeConflict, "%s: %v", edition, err))
			return
		case errors.Is(err, ErrNoMailServer):
			h.writeError(w, r, protocol.Errorf(protocol.CodeUnavailable, "%v", err))
			return
		case errors.Is(err, ErrNoSubscribers):
			h.writeError(w, r, protocol.Errorf(protocol.CodeConflict, "%s: %v", edition, err))
			return
		case err != nil:
			h.writeError(w, r, err)
			return
		}
		h.writeSending(w, r, edition, http.StatusAccepted)
	}))
	mux.HandleFunc("GET /admin/v1/bulletins/{edition}/sending", h.operator(func(w http.ResponseWriter, r *http.Request) {
		h.writeSending(w, r, r.PathValue("edition"), http.StatusOK)
	}))
	mux.HandleFunc("POST /admin/v1/bulletins/resume", h.operator(func(w http.ResponseWriter, r *http.Request) {
		h.ResumeSending()
		w.WriteHeader(http.StatusNoContent)
	}))
}

// sendingJSON is a sending's progress in the admin API.
type sendingJSON struct {
	Edition   string       `json:"edition"`
	State     SendingState `json:"state"`
	Total     int          `json:"total"`
	Sent      int          `json:"sent"`
	Waiting   int          `json:"waiting"`
	Failed    int          `json:"failed"`
	Uncertain int          `json:"uncertain"`
}

func (h *Hub) writeSending(w http.ResponseWriter, r *http.Request, edition string, status int) {
	p, err := h.BulletinSending(r.Context(), edition)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, status, sendingJSON{Edition: p.Edition, State: p.State, Total: p.Total, Sent: p.Sent, Waiting: p.Waiting,
		Failed: p.Failed, Uncertain: p.Uncertain})
}
