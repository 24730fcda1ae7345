package passkey

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bikfed/bikfed/internal/account"
)

// loadUser reads a member's handle, passkeys and status. With create, a
// member without a handle gets one (registration); without, they have no
// passkey to sign in with either.
func loadUser(ctx context.Context, tx *sql.Tx, member int64, create bool) (*user, []row, string, error) {
	status, err := memberStatus(ctx, tx, member)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, "", ErrUnknownCredential
	}
	if err != nil {
		return nil, nil, "", err
	}
	u := &user{member: member}
	if create {
		u.handle, err = handleOf(ctx, tx, member)
	} else {
		err = tx.QueryRowContext(ctx, "SELECT handle FROM passkey_users WHERE member_id = ?", member).Scan(&u.handle)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, "", ErrUnknownCredential
		}
	}
	if err != nil {
		return nil, nil, "", err
	}
	rows, err := memberRows(ctx, tx, member)
	if err != nil {
		return nil, nil, "", err
	}
	u.creds = creds(rows)
	return u, rows, status, nil
}

// refused wraps a verification failure. The library's message goes into
// the log, never to the browser.
func refused(err error) error { return fmt.Errorf("%w: %w", ErrRefused, err) }

// BeginRegistration starts adding a passkey for a signed-in member. It
// returns the options for navigator.credentials.create and the ceremony's
// token for the browser's cookie. The member's own passkeys are excluded,
// so that one authenticator is not registered twice.
func (s *Service) BeginRegistration(ctx context.Context, m account.Member) (*protocol.CredentialCreation, string, error) {
	if m.Status != account.StatusActive {
		return nil, "", ErrInactive
	}
	var u *user
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, _, _, err = loadUser(ctx, tx, m.ID, true)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey registration for member %d: %w", m.ID, err)
	}
	if len(u.creds) >= s.cfg.MaxPasskeys {
		return nil, "", ErrTooMany
	}
	u.name, u.display = m.Email, m.Name
	if m.Pseudonym != "" {
		u.display = m.Pseudonym
	}
	opts, sd, err := s.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey registration: %w", err)
	}
	tok, err := s.saveCeremony(ctx, kindRegister, m.ID, sd)
	if err != nil {
		return nil, "", err
	}
	return opts, tok, nil
}

// parseCreation decodes a browser's answer to navigator.credentials.create.
func parseCreation(body []byte) (*protocol.ParsedCredentialCreationData, error) {
	p, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, refused(err)
	}
	return p, nil
}

// parseAssertion decodes a browser's answer to navigator.credentials.get.
func parseAssertion(body []byte) (*protocol.ParsedCredentialAssertionData, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, refused(err)
	}
	return p, nil
}

// FinishRegistration verifies the browser's answer (body, the JSON of the
// PublicKeyCredential) to the ceremony token names and keeps the new
// passkey under name. The ceremony is used up whatever the outcome.
func (s *Service) FinishRegistration(ctx context.Context, m account.Member, token string, body []byte, name string) (Passkey, error) {
	name, err := checkName(name)
	if err != nil {
		return Passkey{}, err
	}
	sd, err := s.takeCeremony(ctx, token, kindRegister, m.ID)
	if err != nil {
		return Passkey{}, err
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return Passkey{}, refused(errors.New("answer too large"))
	}
	parsed, err := parseCreation(body)
	if err != nil {
		return Passkey{}, err
	}
	var u *user
	var status string
	err = s.db.ReadTx(ctx, func(tx *sql.Tx) (err error) {
		u, _, status, err = loadUser(ctx, tx, m.ID, false)
		return err
	})
	if err != nil {
		return Passkey{}, fmt.Errorf("finish passkey registration for member %d: %w", m.ID, err)
	}
	if status != string(account.StatusActive) {
		return Passkey{}, ErrInactive
	}
	cred, err := s.wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return Passkey{}, refused(err)
	}
	now := s.now()
	var transports []string
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	aaguid := cred.Authenticator.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM passkeys WHERE member_id = ?", m.ID).Scan(&n); err != nil {
			return err
		}
		if n >= s.cfg.MaxPasskeys {
			return ErrTooMany
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO passkeys ("+credentialColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
			cred.ID, m.ID, name, cred.PublicKey, cred.AttestationType, cred.AttestationFormat, aaguid,
			int64(cred.Authenticator.SignCount), strings.Join(transports, " "), string(cred.Authenticator.Attachment),
			int64(cred.Flags.MsgpByte()), ms(now))
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
			// The credential id is the authenticator's; one already on
			// file (this member's or another's) is not taken over.
			return refused(errors.New("credential id already registered"))
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, account.Event{Type: EventPasskeyAdded, MemberID: m.ID,
			Actor: account.MemberActor(m.ID), Detail: name})
	})
	if err != nil {
		return Passkey{}, fmt.Errorf("keep passkey of member %d: %w", m.ID, err)
	}
	var out Passkey
	err = s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		r, err := scanRow(tx.QueryRowContext(ctx, "SELECT "+credentialColumns+" FROM passkeys WHERE id = ?", cred.ID))
		out = r.pk
		return err
	})
	if err != nil {
		return Passkey{}, fmt.Errorf("read new passkey: %w", err)
	}
	s.log.Info("passkey registered", "member", m.ID, "passkey", out.ID)
	return out, nil
}

// BeginLogin starts a usernameless sign-in: the browser offers whichever
// of this site's passkeys its authenticators hold. It returns the options
// for navigator.credentials.get and the ceremony's token.
func (s *Service) BeginLogin(ctx context.Context) (*protocol.CredentialAssertion, string, error) {
	opts, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, "", fmt.Errorf("begin passkey sign-in: %w", err)
	}
	tok, err := s.saveCeremony(ctx, kindLogin, 0, sd)
	if err != nil {
		return nil, "", err
	}
	return opts, tok, nil
}

// FinishLogin verifies the browser's answer to a BeginLogin ceremony and
// returns the member whose passkey signed it. The caller then starts their
// session. The ceremony is used up whatever the outcome.
func (s *Service) FinishLogin(ctx context.Context, token string, body []byte) (int64, error) {
	sd, err := s.takeCeremony(ctx, token, kindLogin, 0)
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
	var member int64
	var u *user
	var status string
	err = s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT member_id FROM passkeys WHERE id = ?", parsed.RawID).Scan(&member)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUnknownCredential
		}
		if err != nil {
			return err
		}
		u, _, status, err = loadUser(ctx, tx, member, false)
		return err
	})
	if errors.Is(err, ErrUnknownCredential) {
		return 0, ErrUnknownCredential
	}
	if err != nil {
		return 0, fmt.Errorf("finish passkey sign-in: %w", err)
	}
	// The user handle the authenticator returns must be the one of the
	// member the credential is on file for: the library checks it against
	// the user found here, so a passkey cannot speak for another member.
	lookup := func(rawID, handle []byte) (webauthn.User, error) {
		if !bytes.Equal(handle, u.handle) {
			return nil, ErrUnknownCredential
		}
		return u, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(lookup, sd, parsed)
	if err != nil {
		if errors.Is(err, ErrUnknownCredential) {
			return 0, ErrUnknownCredential
		}
		return 0, refused(err)
	}
	if err := s.used(ctx, u, cred, status); err != nil {
		return 0, err
	}
	return member, nil
}

// used records a verified sign-in with cred, or refuses it. The stored
// counter must still be the one the verification compared against, so
// that of two answers racing with one counter value only one gets in.
func (s *Service) used(ctx context.Context, u *user, cred *webauthn.Credential, status string) error {
	if cred.Authenticator.CloneWarning {
		s.log.Warn("passkey signature counter went backwards", "member", u.member)
		return ErrCloned
	}
	if status != string(account.StatusActive) {
		return ErrInactive
	}
	var old uint32
	for _, c := range u.creds {
		if bytes.Equal(c.ID, cred.ID) {
			old = c.Authenticator.SignCount
		}
	}
	now := s.now()
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			"UPDATE passkeys SET sign_count = ?, flags = ?, last_used_at = ? WHERE id = ? AND member_id = ? AND sign_count = ?",
			int64(cred.Authenticator.SignCount), int64(cred.Flags.MsgpByte()), ms(now), cred.ID, u.member, int64(old))
		if err != nil {
			return fmt.Errorf("record passkey use: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrCloned
		}
		return nil
	})
}
