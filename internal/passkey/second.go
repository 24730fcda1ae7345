package passkey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/bikfed/bikfed/internal/account"
)

// Required reports whether a member holding roles must confirm a password
// sign-in with a passkey, given the roles for which an admin requires one.
func Required(roles []string, required map[string]bool) bool {
	for _, r := range roles {
		if required[r] {
			return true
		}
	}
	return false
}

// StartPending records that member's password was accepted and that the
// sign-in now waits for their passkey. It returns the marker's token for a
// cookie; no session exists until FinishSecondFactor.
func (s *Service) StartPending(ctx context.Context, member int64) (string, error) {
	return s.StartPendingVia(ctx, member, "password")
}

// StartPendingVia is StartPending for a member identified by another
// method ("oidc"), which the audit log names with the passkey.
func (s *Service) StartPendingVia(ctx context.Context, member int64, method string) (string, error) {
	if method == "" || len(method) > 32 {
		return "", fmt.Errorf("start pending sign-in: bad method %q", method)
	}
	tok, hash, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM passkey_pending WHERE expires_at <= ?", ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO passkey_pending (hash, member_id, method, expires_at) VALUES (?, ?, ?, ?)",
			hash, member, method, ms(now.Add(s.cfg.PendingTTL)))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("start pending sign-in of member %d: %w", member, err)
	}
	return tok, nil
}

// Pending returns the member whose sign-in waits for a passkey under token.
func (s *Service) Pending(ctx context.Context, token string) (int64, error) {
	member, _, err := s.PendingVia(ctx, token)
	return member, err
}

// PendingVia returns the member whose sign-in waits for a passkey under
// token, and how they were identified before it.
func (s *Service) PendingVia(ctx context.Context, token string) (int64, string, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return 0, "", ErrNoPending
	}
	var member, expires int64
	var method string
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT member_id, method, expires_at FROM passkey_pending WHERE hash = ?", hash).
			Scan(&member, &method, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNoPending
	}
	if err != nil {
		return 0, "", fmt.Errorf("look up pending sign-in: %w", err)
	}
	if !s.now().Before(fromMS(expires)) {
		return 0, "", ErrNoPending
	}
	return member, method, nil
}

// CancelPending forgets a pending sign-in, for a member who gives up.
func (s *Service) CancelPending(ctx context.Context, token string) error {
	hash, ok := tokenHash(token)
	if !ok {
		return nil
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM passkey_pending WHERE hash = ?", hash)
		return err
	})
}

// BeginSecondFactor asks for one of the pending member's own passkeys.
func (s *Service) BeginSecondFactor(ctx context.Context, pending string) (*protocol.CredentialAssertion, string, error) {
	member, err := s.Pending(ctx, pending)
	if err != nil {
		return nil, "", err
	}
	var u *user
	err = s.db.ReadTx(ctx, func(tx *sql.Tx) (err error) {
		u, _, _, err = loadUser(ctx, tx, member, false)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey check of member %d: %w", member, err)
	}
	if len(u.creds) == 0 {
		return nil, "", ErrUnknownCredential
	}
	opts, sd, err := s.wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey check: %w", err)
	}
	tok, err := s.saveCeremony(ctx, kindSecond, member, sd)
	if err != nil {
		return nil, "", err
	}
	return opts, tok, nil
}

// FinishSecondFactor verifies the answer to a BeginSecondFactor ceremony
// and, if it is the pending member's passkey, ends the pending state and
// returns the member, whose session the caller then starts.
func (s *Service) FinishSecondFactor(ctx context.Context, pending, token string, body []byte) (int64, error) {
	member, err := s.Pending(ctx, pending)
	if err != nil {
		return 0, err
	}
	sd, err := s.takeCeremony(ctx, token, kindSecond, member)
	if err != nil {
		return 0, err
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return 0, refused(errors.New("answer too large"))
	}
	parsed, err := parseAssertion(body)
	if err != nil {
		return 0, err
	}
	var u *user
	var status string
	err = s.db.ReadTx(ctx, func(tx *sql.Tx) (err error) {
		u, _, status, err = loadUser(ctx, tx, member, false)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("finish passkey check of member %d: %w", member, err)
	}
	cred, err := s.wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		var unknown *protocol.ErrorUnknownCredential
		if errors.As(err, &unknown) {
			return 0, ErrUnknownCredential
		}
		return 0, refused(err)
	}
	if err := s.used(ctx, u, cred, status); err != nil {
		return 0, err
	}
	hash, _ := tokenHash(pending)
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM passkey_pending WHERE hash = ?", hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNoPending
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("end pending sign-in: %w", err)
	}
	return member, nil
}

// BeginEnrolment starts adding the first passkey of a member whose sign-in
// is pending because their role asks for a passkey they do not have yet.
// m must be the pending member; a member who already holds a passkey
// confirms with it instead (ErrHasPasskey), so that a password alone never
// adds a second one.
func (s *Service) BeginEnrolment(ctx context.Context, pending string, m account.Member) (*protocol.CredentialCreation, string, error) {
	if err := s.checkEnrolment(ctx, pending, m.ID); err != nil {
		return nil, "", err
	}
	return s.BeginRegistration(ctx, m)
}

// FinishEnrolment keeps the passkey of a BeginEnrolment ceremony and ends
// the pending sign-in, whose session the caller then starts.
func (s *Service) FinishEnrolment(ctx context.Context, pending string, m account.Member, token string, body []byte, name string) (Passkey, error) {
	if err := s.checkEnrolment(ctx, pending, m.ID); err != nil {
		// The ceremony is spent all the same.
		s.takeCeremony(ctx, token, kindRegister, m.ID)
		return Passkey{}, err
	}
	pk, err := s.FinishRegistration(ctx, m, token, body, name)
	if err != nil {
		return Passkey{}, err
	}
	hash, _ := tokenHash(pending)
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM passkey_pending WHERE hash = ?", hash)
		return err
	})
	if err != nil {
		return Passkey{}, fmt.Errorf("end pending sign-in: %w", err)
	}
	return pk, nil
}

func (s *Service) checkEnrolment(ctx context.Context, pending string, member int64) error {
	waiting, err := s.Pending(ctx, pending)
	if err != nil {
		return err
	}
	if waiting != member {
		return ErrNoPending
	}
	has, err := s.Has(ctx, member)
	if err != nil {
		return err
	}
	if has {
		return ErrHasPasskey
	}
	return nil
}
