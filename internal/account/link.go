package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LinkKind names a kind of one-time token sent to a person: an invitation
// to set a first password, or a password reset. Both are single use and
// expire.
type LinkKind string

const (
	LinkInvite LinkKind = "invite"
	LinkReset  LinkKind = "reset"
)

func insertToken(ctx context.Context, tx *sql.Tx, hash []byte, kind LinkKind, member int64, now time.Time, ttl time.Duration) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO tokens (hash, kind, member_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hash, kind, member, ms(now), ms(now.Add(ttl)))
	return err
}

// linkState returns the member a link belongs to, or why it cannot be used.
func linkState(ctx context.Context, tx *sql.Tx, hash []byte, kind LinkKind, now time.Time) (int64, error) {
	var member, expires int64
	var used sql.NullInt64
	err := tx.QueryRowContext(ctx, "SELECT member_id, expires_at, used_at FROM tokens WHERE hash = ? AND kind = ?",
		hash, kind).Scan(&member, &expires, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, ErrTokenUnknown
	case err != nil:
		return 0, err
	case used.Valid:
		return member, ErrTokenUsed
	case ms(now) >= expires:
		return member, ErrTokenExpired
	}
	return member, nil
}

// CheckLink reports whether a link of kind can still be used, and whose it
// is, without using it or writing anything: a page that shows the form for
// a new password first says whether the link is dead. It returns
// ErrTokenUnknown, ErrTokenExpired or ErrTokenUsed for a dead link, and
// ErrDisabled for a disabled member's.
func (s *Store) CheckLink(ctx context.Context, kind LinkKind, token string) (Member, error) {
	hash, ok := parseToken(token)
	if !ok {
		return Member{}, ErrTokenUnknown
	}
	now := s.now()
	var m Member
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		id, err := linkState(ctx, tx, hash, kind, now)
		if err != nil {
			return err
		}
		if m, err = getMember(ctx, tx, "id = ?", id); err != nil {
			return err
		}
		if m.Status == StatusDisabled {
			return ErrDisabled
		}
		return nil
	})
	if err != nil {
		return Member{}, fmt.Errorf("check %s link: %w", kind, err)
	}
	return m, nil
}

// Invite makes a new invitation for a member who has not yet accepted one,
// for when the first was lost or expired. Earlier invitations stay valid
// until they expire.
func (s *Store) Invite(ctx context.Context, actor string, id int64) (string, error) {
	tok, hash, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		m, err := getMember(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		switch m.Status {
		case StatusDisabled:
			return ErrDisabled
		case StatusActive:
			return ErrActive
		}
		if err := insertToken(ctx, tx, hash, LinkInvite, id, now, s.cfg.InvitationTTL); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventInvited, MemberID: id, Actor: actor})
	})
	if err != nil {
		return "", fmt.Errorf("invite member %d: %w", id, err)
	}
	return tok, nil
}

// Accept sets the first password of the invited member the token belongs
// to and activates them. The token then no longer works, nor do the
// member's other invitations.
func (s *Store) Accept(ctx context.Context, token, password, address string) (Member, error) {
	m, err := s.useLink(ctx, token, LinkInvite, password, address)
	if err != nil {
		return Member{}, fmt.Errorf("accept invitation: %w", err)
	}
	return m, nil
}

// RequestReset makes a password reset link for the active member with
// email and returns it with the member to send it to. For any other email
// it returns an empty token and no error, after the same work, so that the
// caller shows every requester the same answer.
func (s *Store) RequestReset(ctx context.Context, email, address string) (string, Member, error) {
	email = normaliseEmail(email)
	tok, hash, err := newToken()
	if err != nil {
		return "", Member{}, err
	}
	now := s.now()
	var m Member
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = getMember(ctx, tx, "email = ?", email)
		if errors.Is(err, ErrNotFound) || err == nil && m.Status != StatusActive {
			m = Member{}
			return audit(ctx, tx, now, Event{Type: EventResetRequested, Actor: ActorAnonymous, Address: address,
				Detail: "no active member with that email"})
		}
		if err != nil {
			return err
		}
		if err := insertToken(ctx, tx, hash, LinkReset, m.ID, now, s.cfg.ResetTTL); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventResetRequested, MemberID: m.ID, Actor: ActorAnonymous, Address: address})
	})
	if err != nil {
		return "", Member{}, fmt.Errorf("request password reset: %w", err)
	}
	if m.ID == 0 {
		return "", Member{}, nil
	}
	return tok, m, nil
}

// ResetPassword sets a new password with a reset link and ends all the
// member's sessions: whoever may have held the old password is signed out.
func (s *Store) ResetPassword(ctx context.Context, token, password, address string) (Member, error) {
	m, err := s.useLink(ctx, token, LinkReset, password, address)
	if err != nil {
		return Member{}, fmt.Errorf("reset password: %w", err)
	}
	return m, nil
}

func (s *Store) useLink(ctx context.Context, token string, kind LinkKind, password, address string) (Member, error) {
	hash, ok := parseToken(token)
	if !ok {
		return Member{}, ErrTokenUnknown
	}
	// Check the link and the password before hashing, so that neither a
	// dead link nor a refused password costs an argon2id hash, and hash
	// outside the write transaction, which would otherwise hold every
	// other writer back for the length of the hash.
	now := s.now()
	var email string
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		id, err := linkState(ctx, tx, hash, kind, now)
		if err != nil {
			return err
		}
		m, err := getMember(ctx, tx, "id = ?", id)
		email = m.Email
		return err
	})
	if err != nil {
		return Member{}, err
	}
	if err := s.CheckPassword(password, email); err != nil {
		return Member{}, err
	}
	phc, err := s.hasher.Hash(password)
	if err != nil {
		return Member{}, err
	}

	var m Member
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// Checked again: another request may have used the link while
		// this one was hashing.
		id, err := linkState(ctx, tx, hash, kind, now)
		if err != nil {
			return err
		}
		if m, err = getMember(ctx, tx, "id = ?", id); err != nil {
			return err
		}
		if m.Status == StatusDisabled {
			return ErrDisabled
		}
		if _, err := tx.ExecContext(ctx, "UPDATE tokens SET used_at = ? WHERE member_id = ? AND kind = ? AND used_at IS NULL",
			ms(now), id, kind); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE members SET password_hash = ?, status = ?, updated_at = ? WHERE id = ?",
			phc, StatusActive, ms(now), id); err != nil {
			return err
		}
		ev := EventInvitationAccepted
		if kind == LinkReset {
			ev = EventPasswordReset
			if err := endSessions(ctx, tx, id); err != nil {
				return err
			}
		}
		if m, err = getMember(ctx, tx, "id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: ev, MemberID: id, Actor: memberActor(id), Address: address})
	})
	if err != nil {
		return Member{}, err
	}
	return m, nil
}
