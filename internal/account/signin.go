package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Credentials are what a person types to sign in, with what the server
// knows of their client.
type Credentials struct {
	Email     string
	Password  string
	Address   string // the client's IP address
	UserAgent string
}

// SignIn checks an email and password and starts a session, returning the
// cookie's token. Every failure, whether the email is unknown, the password
// wrong, or the member not yet active or disabled, returns
// ErrInvalidCredentials after the same argon2id work, so that neither the
// answer nor its timing tells whether an email has an account. After too
// many failures for an email or from an address it returns a
// *ThrottledError without checking anything.
func (s *Store) SignIn(ctx context.Context, c Credentials) (string, Session, Member, error) {
	m, phc, newPHC, err := s.verify(ctx, c)
	if err != nil {
		return "", Session{}, Member{}, err
	}
	now := s.now()
	tok, hash, err := newToken()
	if err != nil {
		return "", Session{}, Member{}, err
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.keepHash(ctx, tx, m.ID, phc, newPHC); err != nil {
			return err
		}
		if err := insertSession(ctx, tx, hash, m.ID, now, c.UserAgent, c.Address); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventSignIn, MemberID: m.ID, Actor: memberActor(m.ID),
			Address: clip(c.Address, maxAddress), Detail: "password"})
	})
	if errors.Is(err, ErrInvalidCredentials) {
		return "", Session{}, Member{}, ErrInvalidCredentials
	}
	if err != nil {
		return "", Session{}, Member{}, fmt.Errorf("sign in: %w", err)
	}
	return tok, s.newSession(hash, m.ID, now, c.UserAgent, c.Address), m, nil
}

// CheckSignIn checks an email and password as SignIn does, with the same
// answers, throttling and record of failures, but starts no session: for a
// sign-in that needs a second step (a passkey) before it opens anything.
// A correct password is not recorded as a sign-in; the session that the
// second step starts is.
func (s *Store) CheckSignIn(ctx context.Context, c Credentials) (Member, error) {
	m, phc, newPHC, err := s.verify(ctx, c)
	if err != nil {
		return Member{}, err
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		return s.keepHash(ctx, tx, m.ID, phc, newPHC)
	})
	if errors.Is(err, ErrInvalidCredentials) {
		return Member{}, ErrInvalidCredentials
	}
	if err != nil {
		return Member{}, fmt.Errorf("check sign-in: %w", err)
	}
	return m, nil
}

// keepHash checks, in the transaction that acts on a verified password,
// that the member is still active with the hash that was verified (they may
// have been disabled or given a new password meanwhile), and stores newPHC
// in its place when the hash was made with old parameters.
func (s *Store) keepHash(ctx context.Context, tx *sql.Tx, member int64, phc sql.NullString, newPHC string) error {
	var status Status
	var current sql.NullString
	err := tx.QueryRowContext(ctx, "SELECT status, password_hash FROM members WHERE id = ?", member).Scan(&status, &current)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (status != StatusActive || current != phc) {
		return ErrInvalidCredentials
	}
	if err != nil {
		return err
	}
	if newPHC != "" {
		if _, err := tx.ExecContext(ctx, "UPDATE members SET password_hash = ? WHERE id = ?", newPHC, member); err != nil {
			return err
		}
	}
	return nil
}

// verify is the password check of SignIn and CheckSignIn. It returns the
// member, the hash their password was checked against, and a new hash of
// the password when the stored one was made with other parameters.
func (s *Store) verify(ctx context.Context, c Credentials) (Member, sql.NullString, string, error) {
	none := sql.NullString{}
	now := s.now()
	acct, addr := accountKey(c.Email), addressKey(c.Address)
	if d := max(s.throttle.wait(acct, now), s.throttle.wait(addr, now)); d > 0 {
		return Member{}, none, "", &ThrottledError{RetryAfter: d}
	}

	var m Member
	var phc sql.NullString
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = getMember(ctx, tx, "email = ?", normaliseEmail(c.Email))
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT password_hash FROM members WHERE id = ?", m.ID).Scan(&phc)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Member{}, none, "", fmt.Errorf("sign in: %w", err)
	}

	var ok, rehash bool
	why := ""
	switch {
	case len(c.Password) > 4*s.cfg.MaxPasswordLength:
		// Longer than any accepted password could be in bytes: no
		// need to hash it to know, and no reason to let it cost a hash.
		why = "password too long"
	case m.ID == 0 || !phc.Valid:
		if _, _, err := s.hasher.Verify(c.Password, s.dummyHash()); err != nil {
			return Member{}, none, "", fmt.Errorf("sign in: %w", err)
		}
		why = "unknown email"
		if m.ID != 0 {
			why = "no password set"
		}
	default:
		if ok, rehash, err = s.hasher.Verify(c.Password, phc.String); err != nil {
			return Member{}, none, "", fmt.Errorf("sign in: member %d: %w", m.ID, err)
		}
		switch {
		case !ok:
			why = "wrong password"
		case m.Status != StatusActive:
			ok, why = false, "member is "+string(m.Status)
		}
	}

	if !ok {
		s.throttle.fail(acct, now, s.cfg.AccountFailures, s.cfg)
		s.throttle.fail(addr, now, s.cfg.AddressFailures, s.cfg)
		err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
			return audit(ctx, tx, now, Event{Type: EventSignInFailed, MemberID: m.ID, Actor: ActorAnonymous,
				Address: clip(c.Address, maxAddress), Detail: why})
		})
		if err != nil {
			return Member{}, none, "", fmt.Errorf("sign in: %w", err)
		}
		return Member{}, none, "", ErrInvalidCredentials
	}
	s.throttle.reset(acct)

	newPHC := ""
	if rehash {
		// The parameters have changed since this hash was made; this is
		// the only moment the password is at hand to hash it again.
		if newPHC, err = s.hasher.Hash(c.Password); err != nil {
			return Member{}, none, "", fmt.Errorf("sign in: %w", err)
		}
	}
	return m, phc, newPHC, nil
}

// dummyHash is verified against when there is no member's hash, so that an
// unknown email costs what a known one does. It is made with the Store's
// own hasher, and so with the same parameters.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, s.dummyErr = s.hasher.Hash("not anyone's password")
	})
	if s.dummyErr != nil {
		return ""
	}
	return s.dummy
}

// SignInWait returns how long sign-ins from address must wait, after too
// many failures from it, for a sign-in method other than the password that
// checks it before doing its work. It is 0 when they need not wait.
func (s *Store) SignInWait(address string) time.Duration {
	return s.throttle.wait(addressKey(address), s.now())
}

// SignInFailure is a sign-in refused by a method other than the password.
type SignInFailure struct {
	// MemberID is the member the attempt was matched to, if any.
	MemberID int64
	Address  string
	// Method names the sign-in method ("oidc"), Detail why it was refused.
	Method, Detail string
}

// FailSignIn records a refused sign-in in the audit log and counts it
// against the client's address, as a wrong password is, so that a flood of
// attempts from one address is slowed down whichever method it uses.
func (s *Store) FailSignIn(ctx context.Context, f SignInFailure) error {
	now := s.now()
	s.throttle.fail(addressKey(f.Address), now, s.cfg.AddressFailures, s.cfg)
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		detail := f.Detail
		if f.Method != "" {
			detail = f.Method + ": " + detail
		}
		return audit(ctx, tx, now, Event{Type: EventSignInFailed, MemberID: f.MemberID, Actor: ActorAnonymous,
			Address: clip(f.Address, maxAddress), Detail: clip(detail, 512)})
	})
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}
