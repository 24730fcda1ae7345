package node

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// Email notifications of the community (docs/community.md, "Notifications
// and digests"). Each member chooses, per space they may read, none, every
// post, or the daily digest; the node mails its own members only, one
// message per recipient, through its mail server. This file holds the
// choices and the unsubscribe links; notifysend.go plans and sends.

// NotifyMode is what a member receives from one space.
type NotifyMode string

const (
	// NotifyNone: no email; every space starts so.
	NotifyNone NotifyMode = "none"
	// NotifyPost: one email for every new post and reply.
	NotifyPost NotifyMode = "post"
	// NotifyDigest: the space's new threads and replies in the daily digest.
	NotifyDigest NotifyMode = "digest"
)

// NotifyModes are the choices, in the order they are offered.
var NotifyModes = []NotifyMode{NotifyNone, NotifyPost, NotifyDigest}

var (
	// ErrNotReadable: a choice for a space the member may not read.
	ErrNotReadable = errors.New("space not readable by this member")
	// ErrInvalidNotifyMode: a choice that is not one of NotifyModes.
	ErrInvalidNotifyMode = errors.New("invalid notification choice")
	// ErrInvalidLanguage: an email language that is not a language code.
	ErrInvalidLanguage = errors.New("invalid language")
	// ErrInvalidUnsubscribe: an unsubscribe link this node did not sign,
	// or one whose member is gone.
	ErrInvalidUnsubscribe = errors.New("invalid unsubscribe link")
)

// NotifySettings are a member's email choices.
type NotifySettings struct {
	// Lang is the language of their emails; empty until they chose.
	Lang string
	// Modes has one entry per space the member may read.
	Modes map[string]NotifyMode
}

// NotifyConfig returns the notification settings the node runs with, for
// the pages that say when digests come.
func (n *Node) NotifyConfig() NotifyConfig { return n.cfg.Notify }

// NotifyEnabled reports whether the node has a mail server to send
// notifications with; without one, choices are kept and nothing is sent.
func (n *Node) NotifyEnabled() bool { return n.mailer != nil }

// NotifySettings returns member's choices for the spaces they may read.
func (n *Node) NotifySettings(ctx context.Context, member account.Member) (NotifySettings, error) {
	s := NotifySettings{Modes: map[string]NotifyMode{}}
	for _, sp := range ReadableSpaces(member, n.ident.Node) {
		s.Modes[sp] = NotifyNone
	}
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT lang FROM notify_members WHERE member_id = ?`, member.ID).Scan(&s.Lang)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT space, mode FROM notify_prefs WHERE member_id = ?`, member.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sp, mode string
			if err := rows.Scan(&sp, &mode); err != nil {
				return err
			}
			if _, ok := s.Modes[sp]; ok {
				s.Modes[sp] = NotifyMode(mode)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return NotifySettings{}, fmt.Errorf("read notification settings of member %d: %w", member.ID, err)
	}
	return s, nil
}

// validLang accepts a BCP 47-shaped language code: the caller knows which
// languages it has catalogues for.
func validLang(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// SetNotifySettings replaces member's choices with s: a space s leaves out
// becomes none. A member who starts a digest gets their first one at the
// next digest time, with what arrives from now on.
func (n *Node) SetNotifySettings(ctx context.Context, member account.Member, s NotifySettings) error {
	if !validLang(s.Lang) {
		return fmt.Errorf("%w: %q", ErrInvalidLanguage, s.Lang)
	}
	readable := ReadableSpaces(member, n.ident.Node)
	for sp, mode := range s.Modes {
		if !slices.Contains(readable, sp) {
			return fmt.Errorf("%w: %q", ErrNotReadable, sp)
		}
		if !slices.Contains(NotifyModes, mode) {
			return fmt.Errorf("%w: %q for %s", ErrInvalidNotifyMode, mode, sp)
		}
	}
	if _, err := n.notifyKey(ctx); err != nil {
		return err
	}
	now := n.now()
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var hadDigest bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM notify_prefs WHERE member_id = ? AND mode = 'digest')`,
			member.ID).Scan(&hadDigest); err != nil {
			return err
		}
		head, err := queueHead(ctx, tx)
		if err != nil {
			return err
		}
		// A new digest starts with what arrives from now on, and comes at
		// the start of the next period, not at once.
		if _, err := tx.ExecContext(ctx, `INSERT INTO notify_members (member_id, lang, digest_seq, digest_day) VALUES (?, ?, ?, ?)
			ON CONFLICT (member_id) DO UPDATE SET lang = excluded.lang`, member.ID, s.Lang, head, n.digestPeriod(now)); err != nil {
			return err
		}
		startsDigest := !hadDigest && slices.ContainsFunc(readable, func(sp string) bool { return s.Modes[sp] == NotifyDigest })
		if startsDigest {
			if _, err := tx.ExecContext(ctx, `UPDATE notify_members SET digest_seq = ?, digest_day = ? WHERE member_id = ?`,
				head, n.digestPeriod(now), member.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM notify_prefs WHERE member_id = ?`, member.ID); err != nil {
			return err
		}
		for _, sp := range readable {
			mode := s.Modes[sp]
			if mode == "" || mode == NotifyNone {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notify_prefs (member_id, space, mode, updated_at) VALUES (?, ?, ?, ?)`,
				member.ID, sp, string(mode), fmtTime(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save notification settings of member %d: %w", member.ID, err)
	}
	n.kickNotify()
	return nil
}

// queueHead is the last number the queue gave out, 0 when none.
func queueHead(ctx context.Context, tx *sql.Tx) (int64, error) {
	var head int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notify_queue'), 0)`).Scan(&head)
	if err != nil {
		return 0, fmt.Errorf("read the notification queue's head: %w", err)
	}
	return head, nil
}

// notifyKey returns the key that signs unsubscribe links, made at random
// the first time and kept in the database, so links stay valid across
// restarts and a new node key.
func (n *Node) notifyKey(ctx context.Context) ([]byte, error) {
	n.notifyKeyMu.Lock()
	defer n.notifyKeyMu.Unlock()
	if n.notifyKeyBytes != nil {
		return n.notifyKeyBytes, nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	var key []byte
	_, err := n.db.Writer().ExecContext(ctx, `INSERT INTO notify_state (id, post_seq, key)
		VALUES (1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notify_queue'), 0), ?)
		ON CONFLICT (id) DO NOTHING`, fresh)
	if err == nil {
		err = n.db.Writer().QueryRowContext(ctx, `SELECT key FROM notify_state WHERE id = 1`).Scan(&key)
	}
	if err != nil {
		return nil, fmt.Errorf("notification key: %w", err)
	}
	n.notifyKeyBytes = key
	return key, nil
}

// UnsubscribeToken is what an unsubscribe link says: whose choice it
// changes (the member, and when their account was made, so that a link
// never reaches a later account that reuses the id) and which: every post
// of Space, or the whole digest.
type UnsubscribeToken struct {
	Member  int64
	Created int64 // the account's creation, unix milliseconds
	Digest  bool
	Space   string
}

const (
	tokenVersion = 1
	tokenMACLen  = 16
	// maxTokenLen bounds a link's token before it is decoded.
	maxTokenLen    = 256
	tokenFixedLen  = 1 + 8 + 8 + 1
	tokenMaxSpace  = 80
	purposeDigest  = 'd'
	purposeEvery   = 'p'
	tokenMACDomain = "bikfed unsubscribe\x00"
)

// encodeToken writes t, signed with key, as a link-safe string.
func encodeToken(key []byte, t UnsubscribeToken) string {
	raw := make([]byte, tokenFixedLen, tokenFixedLen+len(t.Space)+tokenMACLen)
	raw[0] = tokenVersion
	binary.BigEndian.PutUint64(raw[1:], uint64(t.Member))
	binary.BigEndian.PutUint64(raw[9:], uint64(t.Created))
	raw[17] = purposeEvery
	if t.Digest {
		raw[17] = purposeDigest
	}
	raw = append(raw, t.Space...)
	raw = append(raw, tokenMAC(key, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func tokenMAC(key, raw []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tokenMACDomain))
	m.Write(raw)
	return m.Sum(nil)[:tokenMACLen]
}

// decodeToken reads a token encodeToken wrote with key; anything else,
// including a token altered in any bit, is ErrInvalidUnsubscribe.
func decodeToken(key []byte, s string) (UnsubscribeToken, error) {
	if len(s) > maxTokenLen {
		return UnsubscribeToken{}, ErrInvalidUnsubscribe
	}
	// The decoder skips line breaks even in strict mode, which would let
	// many spellings of one link pass; only the alphabet itself is a token.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return UnsubscribeToken{}, ErrInvalidUnsubscribe
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) < tokenFixedLen+tokenMACLen || len(raw) > tokenFixedLen+tokenMaxSpace+tokenMACLen {
		return UnsubscribeToken{}, ErrInvalidUnsubscribe
	}
	body, mac := raw[:len(raw)-tokenMACLen], raw[len(raw)-tokenMACLen:]
	if !hmac.Equal(mac, tokenMAC(key, body)) || body[0] != tokenVersion {
		return UnsubscribeToken{}, ErrInvalidUnsubscribe
	}
	t := UnsubscribeToken{
		Member:  int64(binary.BigEndian.Uint64(body[1:])),
		Created: int64(binary.BigEndian.Uint64(body[9:])),
		Space:   string(body[tokenFixedLen:]),
	}
	switch body[17] {
	case purposeDigest:
		t.Digest = true
		if t.Space != "" {
			return UnsubscribeToken{}, ErrInvalidUnsubscribe
		}
	case purposeEvery:
		if _, err := protocol.SpaceVisibility(t.Space); err != nil {
			return UnsubscribeToken{}, ErrInvalidUnsubscribe
		}
	default:
		return UnsubscribeToken{}, ErrInvalidUnsubscribe
	}
	return t, nil
}

// UnsubscribeLink is the address of the page that stops what t names, for
// a message's List-Unsubscribe header and its body.
func (n *Node) UnsubscribeLink(ctx context.Context, t UnsubscribeToken) (string, error) {
	key, err := n.notifyKey(ctx)
	if err != nil {
		return "", err
	}
	return n.PublicURL() + PathUnsubscribe + encodeToken(key, t), nil
}

// PathUnsubscribe is where unsubscribe links point on the node's workspace;
// the token follows it.
const PathUnsubscribe = "/unsubscribe/"

// PathNotifications is the workspace page where a member makes their
// choices.
const PathNotifications = "/account/notifications"

// Unsubscription is what an unsubscribe link stops, for its confirmation
// page: the member, and the spaces whose emails stop (those still on).
type Unsubscription struct {
	Member account.Member
	Digest bool
	Spaces []string
}

// CheckUnsubscribe reads an unsubscribe link's token without changing
// anything: a link is opened by mail scanners and previews, so only a POST
// acts (Unsubscribe).
func (n *Node) CheckUnsubscribe(ctx context.Context, token string) (Unsubscription, error) {
	t, m, err := n.unsubscribeMember(ctx, token)
	if err != nil {
		return Unsubscription{}, err
	}
	u := Unsubscription{Member: m, Digest: t.Digest}
	u.Spaces, err = n.unsubscribeSpaces(ctx, n.db.Reader(), t)
	if err != nil {
		return Unsubscription{}, fmt.Errorf("check unsubscribe link: %w", err)
	}
	return u, nil
}

// Unsubscribe stops what an unsubscribe link names: every post of its
// space, or the whole digest, which become none. It needs no sign-in (the
// signed token is the authority) and may be repeated; it returns the
// spaces it changed.
func (n *Node) Unsubscribe(ctx context.Context, token string) (Unsubscription, error) {
	t, m, err := n.unsubscribeMember(ctx, token)
	if err != nil {
		return Unsubscription{}, err
	}
	u := Unsubscription{Member: m, Digest: t.Digest}
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		if u.Spaces, err = n.unsubscribeSpaces(ctx, tx, t); err != nil {
			return err
		}
		if t.Digest {
			_, err = tx.ExecContext(ctx, `DELETE FROM notify_prefs WHERE member_id = ? AND mode = 'digest'`, m.ID)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM notify_prefs WHERE member_id = ? AND space = ? AND mode = 'post'`, m.ID, t.Space)
		}
		return err
	})
	if err != nil {
		return Unsubscription{}, fmt.Errorf("unsubscribe: %w", err)
	}
	n.log.Info("member unsubscribed by link", "component", "notify", "member", m.ID, "digest", t.Digest, "space", t.Space)
	return u, nil
}

// rowsQuerier is a pool or a transaction, for reads of several rows.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// unsubscribeSpaces lists the spaces whose emails t would stop.
func (n *Node) unsubscribeSpaces(ctx context.Context, q rowsQuerier, t UnsubscribeToken) ([]string, error) {
	mode, space := "digest", "%"
	if !t.Digest {
		mode, space = "post", t.Space
	}
	rows, err := q.QueryContext(ctx, `SELECT space FROM notify_prefs WHERE member_id = ? AND mode = ? AND space LIKE ? ORDER BY space`,
		t.Member, mode, space)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sp string
		if err := rows.Scan(&sp); err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// unsubscribeMember checks token and finds its member, who must still be
// the account the link was made for.
func (n *Node) unsubscribeMember(ctx context.Context, token string) (UnsubscribeToken, account.Member, error) {
	key, err := n.notifyKey(ctx)
	if err != nil {
		return UnsubscribeToken{}, account.Member{}, err
	}
	t, err := decodeToken(key, strings.TrimSpace(token))
	if err != nil {
		return UnsubscribeToken{}, account.Member{}, err
	}
	m, err := n.accounts.Get(ctx, t.Member)
	if errors.Is(err, account.ErrNotFound) {
		return UnsubscribeToken{}, account.Member{}, ErrInvalidUnsubscribe
	}
	if err != nil {
		return UnsubscribeToken{}, account.Member{}, fmt.Errorf("unsubscribe: %w", err)
	}
	if m.CreatedAt.UnixMilli() != t.Created {
		return UnsubscribeToken{}, account.Member{}, ErrInvalidUnsubscribe
	}
	return t, m, nil
}

// digestPeriod names the digest period that contains t: with DigestEvery
// set, its number since the epoch; otherwise the local day whose digest
// hour began it, so the period changes at the digest hour.
func (n *Node) digestPeriod(t time.Time) string {
	c := n.cfg.Notify
	if c.DigestEvery > 0 {
		return fmt.Sprintf("e%d", t.UnixNano()/int64(c.DigestEvery))
	}
	return digestDay(t, n.notifyLoc, c.DigestHour)
}

// digestDay is the local date of the last digest hour at or before t.
func digestDay(t time.Time, loc *time.Location, hour int) string {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), lt.Day(), hour, 0, 0, 0, loc)
	if lt.Before(start) {
		start = time.Date(lt.Year(), lt.Month(), lt.Day()-1, hour, 0, 0, 0, loc)
	}
	return start.Format(time.DateOnly)
}
