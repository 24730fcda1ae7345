package account

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// PasswordChange is a signed-in member's request for a new password.
type PasswordChange struct {
	MemberID int64
	Current  string
	New      string
	// KeepSession is the ID of the session the change is made from, which
	// stays signed in; every other session of the member ends.
	KeepSession string
	Address     string
}

// ChangePassword sets a member's new password after checking the current
// one, so that a browser left signed in is not enough to take the account
// over. Every other session of the member ends: whoever may have learnt the
// old password is signed out. A wrong current password counts as a failed
// sign-in for the member's email, and after too many the answer is a
// *ThrottledError without checking anything.
func (s *Store) ChangePassword(ctx context.Context, c PasswordChange) error {
	if err := s.changePassword(ctx, c); err != nil {
		return fmt.Errorf("change password of member %d: %w", c.MemberID, err)
	}
	return nil
}

func (s *Store) changePassword(ctx context.Context, c PasswordChange) error {
	now := s.now()
	var m Member
	var phc sql.NullString
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if m, err = getMember(ctx, tx, "id = ?", c.MemberID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT password_hash FROM members WHERE id = ?", m.ID).Scan(&phc)
	})
	if err != nil {
		return err
	}
	if m.Status != StatusActive {
		return ErrDisabled
	}
	acct := accountKey(m.Email)
	if d := s.throttle.wait(acct, now); d > 0 {
		return &ThrottledError{RetryAfter: d}
	}
	ok := false
	if phc.Valid && len(c.Current) <= 4*s.cfg.MaxPasswordLength {
		if ok, _, err = s.hasher.Verify(c.Current, phc.String); err != nil {
			return err
		}
	}
	if !ok {
		s.throttle.fail(acct, now, s.cfg.AccountFailures, s.cfg)
		err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
			return audit(ctx, tx, now, Event{Type: EventSignInFailed, MemberID: m.ID, Actor: memberActor(m.ID),
				Address: clip(c.Address, maxAddress), Detail: "wrong current password to change it"})
		})
		if err != nil {
			return err
		}
		return ErrWrongPassword
	}
	s.throttle.reset(acct)
	if err := s.CheckPassword(c.New, m.Email); err != nil {
		return err
	}
	newPHC, err := s.hasher.Hash(c.New)
	if err != nil {
		return err
	}
	keep, _ := hex.DecodeString(c.KeepSession)
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// The password may have been changed or reset, or the member
		// disabled, while the hashes were being computed.
		var status Status
		var stored sql.NullString
		err := tx.QueryRowContext(ctx, "SELECT status, password_hash FROM members WHERE id = ?", m.ID).Scan(&status, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != StatusActive {
			return ErrDisabled
		}
		if stored != phc {
			return ErrWrongPassword
		}
		if _, err := tx.ExecContext(ctx, "UPDATE members SET password_hash = ?, updated_at = ? WHERE id = ?",
			newPHC, ms(now), m.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE member_id = ? AND hash IS NOT ?", m.ID, keep); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventPasswordChanged, MemberID: m.ID, Actor: memberActor(m.ID),
			Address: clip(c.Address, maxAddress)})
	})
}
