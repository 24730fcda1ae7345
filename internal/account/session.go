package account

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Session is one signed-in browser.
type Session struct {
	// ID names the session on an account page. It is the hex SHA-256 of the
	// cookie's token, from which the token cannot be recovered.
	ID         string
	MemberID   int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end; the session ends sooner if it goes
	// unused for the idle time.
	ExpiresAt time.Time
	UserAgent string
	Address   string
}

// Limits on what a session records about its client, which sends both.
const (
	maxUserAgent = 512
	maxAddress   = 64
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func insertSession(ctx context.Context, tx *sql.Tx, hash []byte, member int64, now time.Time, userAgent, address string) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO sessions (hash, member_id, created_at, last_seen_at, user_agent, address) VALUES (?, ?, ?, ?, ?, ?)",
		hash, member, ms(now), ms(now), clip(userAgent, maxUserAgent), clip(address, maxAddress))
	return err
}

func endSessions(ctx context.Context, tx *sql.Tx, member int64) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE member_id = ?", member)
	return err
}

// StartSession signs an active member in, for a sign-in method that has
// already proved who they are, and returns the cookie's token.
func (s *Store) StartSession(ctx context.Context, member int64, userAgent, address string) (string, Session, error) {
	return s.StartSessionVia(ctx, member, "", userAgent, address)
}

// StartSessionVia is StartSession for a sign-in method named in the audit
// log ("oidc"), which also forgives the member's earlier failed sign-ins as
// a correct password does.
func (s *Store) StartSessionVia(ctx context.Context, member int64, method, userAgent, address string) (string, Session, error) {
	tok, hash, err := newToken()
	if err != nil {
		return "", Session{}, err
	}
	now := s.now()
	var email string
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		m, err := getMember(ctx, tx, "id = ?", member)
		if err != nil {
			return err
		}
		if m.Status != StatusActive {
			return ErrDisabled
		}
		if err := insertSession(ctx, tx, hash, member, now, userAgent, address); err != nil {
			return err
		}
		email = m.Email
		return audit(ctx, tx, now, Event{Type: EventSignIn, MemberID: member, Actor: memberActor(member),
			Address: clip(address, maxAddress), Detail: method})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("start session for member %d: %w", member, err)
	}
	if method != "" {
		s.throttle.reset(accountKey(email))
	}
	return tok, s.newSession(hash, member, now, userAgent, address), nil
}

func (s *Store) newSession(hash []byte, member int64, now time.Time, userAgent, address string) Session {
	now = fromMS(ms(now))
	return Session{ID: hex.EncodeToString(hash), MemberID: member, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.cfg.SessionAbsolute), UserAgent: clip(userAgent, maxUserAgent), Address: clip(address, maxAddress)}
}

func (s *Store) live(sess Session, now time.Time) bool {
	return now.Before(sess.ExpiresAt) && now.Sub(sess.LastSeenAt) < s.cfg.SessionIdle
}

const sessionColumns = "hash, member_id, created_at, last_seen_at, user_agent, address"

func (s *Store) scanSession(row scanner) (Session, error) {
	var sess Session
	var hash []byte
	var created, seen int64
	if err := row.Scan(&hash, &sess.MemberID, &created, &seen, &sess.UserAgent, &sess.Address); err != nil {
		return Session{}, err
	}
	sess.ID = hex.EncodeToString(hash)
	sess.CreatedAt, sess.LastSeenAt = fromMS(created), fromMS(seen)
	sess.ExpiresAt = sess.CreatedAt.Add(s.cfg.SessionAbsolute)
	return sess, nil
}

// Lookup returns the live session a cookie's token names and its member, as
// they are now: a role changed since sign-in shows at once. It returns
// ErrNoSession for anything else, including a member disabled since. Most
// lookups only read; the last-seen time is written once per SessionTouch.
func (s *Store) Lookup(ctx context.Context, token string) (Session, Member, error) {
	hash, ok := parseToken(token)
	if !ok {
		return Session{}, Member{}, ErrNoSession
	}
	now := s.now()
	var sess Session
	var m Member
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		sess, err = s.scanSession(tx.QueryRowContext(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE hash = ?", hash))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		m, err = getMember(ctx, tx, "id = ?", sess.MemberID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoSession) {
			return Session{}, Member{}, ErrNoSession
		}
		return Session{}, Member{}, fmt.Errorf("look up session: %w", err)
	}
	if m.Status != StatusActive || !s.live(sess, now) {
		return Session{}, Member{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= s.cfg.SessionTouch {
		err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE hash = ?", ms(now), hash)
			return err
		})
		if err != nil {
			return Session{}, Member{}, fmt.Errorf("touch session: %w", err)
		}
		sess.LastSeenAt = fromMS(ms(now))
	}
	return sess, m, nil
}

// SignOut ends the session a token names. Ending an unknown or already
// ended session is not an error: the outcome the caller wants holds.
func (s *Store) SignOut(ctx context.Context, token, address string) error {
	hash, ok := parseToken(token)
	if !ok {
		return nil
	}
	now := s.now()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var member int64
		err := tx.QueryRowContext(ctx, "DELETE FROM sessions WHERE hash = ? RETURNING member_id", hash).Scan(&member)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventSignOut, MemberID: member, Actor: memberActor(member), Address: address})
	})
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// SignOutEverywhere ends all of a member's sessions.
func (s *Store) SignOutEverywhere(ctx context.Context, actor string, member int64, address string) error {
	now := s.now()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := endSessions(ctx, tx, member); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventSignOutEverywhere, MemberID: member, Actor: actor, Address: address})
	})
	if err != nil {
		return fmt.Errorf("sign out member %d everywhere: %w", member, err)
	}
	return nil
}

// Sessions lists a member's live sessions, most recently used first.
func (s *Store) Sessions(ctx context.Context, member int64) ([]Session, error) {
	now := s.now()
	var out []Session
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx,
			"SELECT "+sessionColumns+" FROM sessions WHERE member_id = ? ORDER BY last_seen_at DESC, created_at DESC", member)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sess, err := s.scanSession(rows)
			if err != nil {
				return err
			}
			if s.live(sess, now) {
				out = append(out, sess)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions of member %d: %w", member, err)
	}
	return out, nil
}

// PruneSessions deletes the sessions that have expired, which Lookup refuses
// but leaves in place so that reads stay reads. It returns how many.
func (s *Store) PruneSessions(ctx context.Context) (int64, error) {
	now := s.now()
	var n int64
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE created_at <= ? OR last_seen_at <= ?",
			ms(now.Add(-s.cfg.SessionAbsolute)), ms(now.Add(-s.cfg.SessionIdle)))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

// CookieName is the session cookie's name: Config.CookieName, with the
// __Host- prefix when secure, which makes browsers refuse the cookie unless
// it is Secure, host-only and for the whole site, so that no sibling
// subdomain or plain-HTTP page can plant or overwrite it.
func (s *Store) CookieName(secure bool) string {
	if secure {
		return "__Host-" + s.cfg.CookieName
	}
	return s.cfg.CookieName
}

// Cookie returns the session cookie carrying token. secure is whether the
// site is served over TLS. The cookie lives no longer than the session's
// absolute expiry; HttpOnly keeps it from scripts, and SameSite=Lax keeps
// other sites' forms from sending it.
func (s *Store) Cookie(token string, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     s.CookieName(secure),
		Value:    token,
		Path:     "/",
		MaxAge:   int(s.cfg.SessionAbsolute / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie returns a cookie that removes the session cookie, for sign-out.
func (s *Store) ClearCookie(secure bool) *http.Cookie {
	c := s.Cookie("", secure)
	c.MaxAge = -1
	return c
}
