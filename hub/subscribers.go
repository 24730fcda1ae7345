package hub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/locale"
)

// The refusals of the bulletin's subscriptions, the portal's own so that
// its pages tell them apart. None of them says whether an address is
// subscribed.
var (
	ErrInvalidEmail          = portal.ErrInvalidEmail
	ErrInvalidSubscriberLang = portal.ErrInvalidSubscriberLang
	ErrInvalidBulletinLink   = portal.ErrInvalidBulletinLink
	ErrSubscribeRate         = portal.ErrSubscribeRate
	ErrSubscriptionsClosed   = portal.ErrSubscriptionsClosed
)

var _ portal.Subscriptions = (*Hub)(nil)

// MaxEmailLen bounds a subscriber's address (RFC 5321's path limit).
const MaxEmailLen = 254

// ValidEmail returns addr as the hub keeps it, trimmed and lower-cased, or
// ErrInvalidEmail: one bare address, no display name, no comments.
func ValidEmail(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > MaxEmailLen || strings.ContainsFunc(addr, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 1 || !strings.Contains(addr[at+1:], ".") || strings.HasSuffix(addr, ".") {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(addr), nil
}

// A bulletin link's token names one subscriber row (its id and when it was
// made, so that a link never reaches a later row) and what the link does.
// Confirmation links expire; unsubscribe links work as long as the row
// exists, as RFC 8058 expects of a List-Unsubscribe address.
const (
	linkVersion    = 1
	linkConfirm    = 'c'
	linkUnsub      = 'u'
	linkBodyLen    = 1 + 1 + 8 + 8 + 8
	linkMACLen     = 16
	maxLinkToken   = 128
	linkMACDomain  = "bikfed bulletin link\x00"
	linkKeyContext = "bikfed bulletin links"
)

type linkToken struct {
	purpose    byte
	subscriber int64
	created    int64 // unix ms
	expires    int64 // unix s; 0 never
}

// linkKey derives the key of the links from the hub's signing key, so it
// needs no storage of its own and survives restarts.
func (h *Hub) linkKey() []byte {
	m := hmac.New(sha256.New, h.key.Private.Seed())
	m.Write([]byte(linkKeyContext))
	return m.Sum(nil)
}

func (h *Hub) encodeLink(t linkToken) string {
	raw := make([]byte, linkBodyLen, linkBodyLen+linkMACLen)
	raw[0], raw[1] = linkVersion, t.purpose
	binary.BigEndian.PutUint64(raw[2:], uint64(t.subscriber))
	binary.BigEndian.PutUint64(raw[10:], uint64(t.created))
	binary.BigEndian.PutUint64(raw[18:], uint64(t.expires))
	raw = append(raw, linkMAC(h.linkKey(), raw)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func linkMAC(key, raw []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(linkMACDomain))
	m.Write(raw)
	return m.Sum(nil)[:linkMACLen]
}

// decodeLink reads a token of purpose that encodeLink wrote and that has
// not expired; anything else is ErrInvalidBulletinLink.
func (h *Hub) decodeLink(s string, purpose byte) (linkToken, error) {
	if len(s) > maxLinkToken {
		return linkToken{}, ErrInvalidBulletinLink
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return linkToken{}, ErrInvalidBulletinLink
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != linkBodyLen+linkMACLen {
		return linkToken{}, ErrInvalidBulletinLink
	}
	body, mac := raw[:linkBodyLen], raw[linkBodyLen:]
	if !hmac.Equal(mac, linkMAC(h.linkKey(), body)) || body[0] != linkVersion || body[1] != purpose {
		return linkToken{}, ErrInvalidBulletinLink
	}
	t := linkToken{purpose: purpose, subscriber: int64(binary.BigEndian.Uint64(body[2:])),
		created: int64(binary.BigEndian.Uint64(body[10:])), expires: int64(binary.BigEndian.Uint64(body[18:]))}
	if t.expires != 0 && h.now().Unix() > t.expires {
		return linkToken{}, ErrInvalidBulletinLink
	}
	return t, nil
}

// Open reports whether subscriptions are taken: only with a mail server,
// since an address whose confirmation cannot be mailed would wait for
// nothing and then be erased.
func (h *Hub) Open() bool { return h.mailer != nil }

// confirmResend is how long a pending address waits before another
// confirmation mail: asking again does not make the hub a mail cannon.
const confirmResend = 10 * time.Minute

// Subscribe asks for the bulletin at addr in the portal language lang; each
// client address may ask a few times an hour (BulletinConfig). A new or pending address gets
// a confirmation mail, sent in the background so the answer takes as long
// whatever the address's state; a confirmed one gets nothing. Every
// accepted request answers nil alike: the caller cannot learn whether an
// address was known.
func (h *Hub) Subscribe(r *http.Request, addr, lang string) error {
	if !h.Open() {
		return ErrSubscriptionsClosed
	}
	ctx := r.Context()
	if h.subscribeLimit != nil {
		if ok, _ := h.subscribeLimit.Allow(h.limits.proxies.ClientAddr(r)); !ok {
			return ErrSubscribeRate
		}
	}
	email, err := ValidEmail(addr)
	if err != nil {
		return err
	}
	if !h.bulletinLangs.Has(lang) {
		return ErrInvalidSubscriberLang
	}
	now := h.now()
	var send *linkToken
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// A request never confirmed is erased after the link's life, so an
		// address asked for again after that starts afresh.
		if _, err := deleteUnconfirmed(ctx, tx, now.Add(-h.cfg.Bulletin.ConfirmTTL)); err != nil {
			return err
		}
		var id, created, mailed int64
		var confirmed sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT id, created_at, confirmed_at, mailed_at FROM bulletin_subscribers WHERE email = ?`, email).
			Scan(&id, &created, &confirmed, &mailed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = now.UnixMilli()
			if err := tx.QueryRowContext(ctx, `INSERT INTO bulletin_subscribers (email, lang, created_at, mailed_at) VALUES (?, ?, ?, ?) RETURNING id`,
				email, lang, created, created).Scan(&id); err != nil {
				return err
			}
		case err != nil:
			return err
		case confirmed.Valid || now.Sub(time.UnixMilli(mailed)) < confirmResend:
			return nil
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE bulletin_subscribers SET lang = ?, mailed_at = ? WHERE id = ?`, lang, now.UnixMilli(), id); err != nil {
				return err
			}
		}
		send = &linkToken{purpose: linkConfirm, subscriber: id, created: created, expires: time.UnixMilli(created).Add(h.cfg.Bulletin.ConfirmTTL).Unix()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if send != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.sendConfirmation(email, lang, *send)
		}()
	}
	return nil
}

// sendConfirmation mails the double opt-in link. The log says which
// subscriber row, never the address.
func (h *Hub) sendConfirmation(email, lang string, t linkToken) {
	if h.mailer == nil {
		h.log.Warn("bulletin confirmation not sent: no mail server configured", "subscriber", t.subscriber)
		return
	}
	p := h.bulletinLangs.Printer(lang)
	link := h.BaseURL() + "/" + lang + "/bulletin/confirm?t=" + h.encodeLink(t)
	days := int(h.cfg.Bulletin.ConfirmTTL / (24 * time.Hour))
	m := bulletinConfirmMail(p, email, link, days)
	ctx, cancel := context.WithTimeout(h.ctx, time.Minute)
	defer cancel()
	if err := h.mailer.Send(ctx, m); err != nil {
		h.log.Warn("bulletin confirmation not sent", "subscriber", t.subscriber, "err", withoutAddress(err, email))
		return
	}
	h.log.Info("bulletin confirmation sent", "subscriber", t.subscriber)
}

// withoutAddress keeps an error that quotes the recipient out of the log
// as it is.
func withoutAddress(err error, email string) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), email, "<recipient>"), strings.ToLower(email), "<recipient>")
}

// CheckBulletinLink reports whether token is a valid confirmation
// (confirm true) or unsubscribe link, without acting on it: the page a
// link opens shows a button, since mail scanners open links too.
func (h *Hub) CheckBulletinLink(token string, confirm bool) error {
	purpose := byte(linkUnsub)
	if confirm {
		purpose = linkConfirm
	}
	_, err := h.decodeLink(token, purpose)
	return err
}

// ConfirmSubscription confirms the subscription a confirmation link names.
// Confirming twice is confirming; a row gone (erased, expired) is
// ErrInvalidBulletinLink.
func (h *Hub) ConfirmSubscription(ctx context.Context, token string) error {
	t, err := h.decodeLink(token, linkConfirm)
	if err != nil {
		return err
	}
	var n int64
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bulletin_subscribers SET confirmed_at = coalesce(confirmed_at, ?) WHERE id = ? AND created_at = ?`,
			h.now().UnixMilli(), t.subscriber, t.created)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("confirm subscription: %w", err)
	}
	if n == 0 {
		return ErrInvalidBulletinLink
	}
	h.log.Info("bulletin subscription confirmed", "subscriber", t.subscriber)
	return nil
}

// Unsubscribe erases the subscriber an unsubscribe link names: the row
// goes, with the deliveries still waiting for it; the records of copies
// already sent keep only its id. Unsubscribing twice succeeds alike.
func (h *Hub) Unsubscribe(ctx context.Context, token string) error {
	t, err := h.decodeLink(token, linkUnsub)
	if err != nil {
		return err
	}
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bulletin_subscribers WHERE id = ? AND created_at = ?`, t.subscriber, t.created)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM bulletin_deliveries WHERE subscriber = ? AND state = 'waiting'`, t.subscriber)
		return err
	})
	if err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	h.log.Info("bulletin subscriber erased", "subscriber", t.subscriber)
	return nil
}

// SubscriberCounts are the bulletin's subscribers, confirmed and pending.
type SubscriberCounts struct {
	Confirmed, Pending int
}

// Subscribers counts the bulletin's subscribers.
func (h *Hub) Subscribers(ctx context.Context) (SubscriberCounts, error) {
	var c SubscriberCounts
	err := h.db.Reader().QueryRowContext(ctx, `SELECT count(confirmed_at), count(*) - count(confirmed_at) FROM bulletin_subscribers`).
		Scan(&c.Confirmed, &c.Pending)
	if err != nil {
		return c, fmt.Errorf("count subscribers: %w", err)
	}
	return c, nil
}

// bulletinBundle is the portal's interface languages, which a subscriber
// chooses among and the mails speak.
func bulletinBundle() (*locale.Bundle, error) {
	all, err := locale.Load()
	if err != nil {
		return nil, err
	}
	return all.For(locale.PortalParts()...), nil
}
