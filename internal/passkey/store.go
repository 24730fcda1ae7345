package passkey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/bikfed/bikfed/internal/account"
)

// Passkey is a registered passkey as its member sees it.
type Passkey struct {
	// ID is the credential id in unpadded base64url, as the browser
	// names it.
	ID       string
	MemberID int64
	Name     string
	// AAGUID names the authenticator's model, all zeros when it does not
	// say.
	AAGUID     string
	Transports []string
	// BackupEligible and BackedUp say whether the passkey may be, and is,
	// synchronised beyond one device.
	BackupEligible bool
	BackedUp       bool
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero until first used
}

const maxPasskeyName = 100

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxPasskeyName {
		return "", fmt.Errorf("%w: at most %d characters", ErrInvalidName, maxPasskeyName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: contains a control character", ErrInvalidName)
		}
	}
	return name, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

var tokenEncoding = base64.RawURLEncoding.Strict()

// tokenLen is 32 random bytes in unpadded base64url.
const tokenLen = 43

// newToken returns a random token for a cookie and the SHA-256 kept in its
// place, so that a copy of the database holds no live token.
func newToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	tok := tokenEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

// tokenHash returns the stored hash of a client's token, or false for
// anything newToken could not have made.
func tokenHash(tok string) ([]byte, bool) {
	if len(tok) != tokenLen {
		return nil, false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		// Checked before decoding: package base64 skips CR and LF.
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return nil, false
		}
	}
	if _, err := tokenEncoding.DecodeString(tok); err != nil {
		return nil, false
	}
	h := sha256.Sum256([]byte(tok))
	return h[:], true
}

// kind is what a ceremony is for; a ceremony of one kind cannot finish
// another.
type kind string

const (
	kindRegister kind = "register"
	kindLogin    kind = "login"
	kindSecond   kind = "second"
)

// saveCeremony keeps a begun ceremony and sweeps the expired ones, which
// are never finished by a browser that gave up.
func (s *Service) saveCeremony(ctx context.Context, k kind, member int64, sd *webauthn.SessionData) (string, error) {
	tok, hash, err := newToken()
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(sd)
	if err != nil {
		return "", fmt.Errorf("encode ceremony: %w", err)
	}
	now := s.now()
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM passkey_ceremonies WHERE expires_at <= ?", ms(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			"INSERT INTO passkey_ceremonies (hash, kind, member_id, data, expires_at) VALUES (?, ?, ?, ?, ?)",
			hash, k, sql.NullInt64{Int64: member, Valid: member != 0}, data, ms(now.Add(s.cfg.CeremonyTTL)))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("save %s ceremony: %w", k, err)
	}
	return tok, nil
}

// takeCeremony deletes and returns the ceremony a token names, so that its
// challenge is answered at most once, whatever the answer. member is the
// member a register or second-factor ceremony must belong to, 0 for login.
func (s *Service) takeCeremony(ctx context.Context, tok string, k kind, member int64) (webauthn.SessionData, error) {
	hash, ok := tokenHash(tok)
	if !ok {
		return webauthn.SessionData{}, ErrNoCeremony
	}
	now := s.now()
	var data []byte
	var owner sql.NullInt64
	var expires int64
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			"DELETE FROM passkey_ceremonies WHERE hash = ? AND kind = ? RETURNING member_id, data, expires_at",
			hash, k).Scan(&owner, &data, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoCeremony
		}
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoCeremony) {
			return webauthn.SessionData{}, err
		}
		return webauthn.SessionData{}, fmt.Errorf("take %s ceremony: %w", k, err)
	}
	if owner.Int64 != member {
		return webauthn.SessionData{}, ErrNoCeremony
	}
	if !now.Before(fromMS(expires)) {
		return webauthn.SessionData{}, ErrCeremonyExpired
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(data, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("decode %s ceremony: %w", k, err)
	}
	return sd, nil
}

// user is a member as go-webauthn sees them.
type user struct {
	member  int64
	handle  []byte
	name    string
	display string
	creds   []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.display }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// handleOf returns a member's user handle, made on first use.
func handleOf(ctx context.Context, tx *sql.Tx, member int64) ([]byte, error) {
	var h []byte
	err := tx.QueryRowContext(ctx, "SELECT handle FROM passkey_users WHERE member_id = ?", member).Scan(&h)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	h = make([]byte, 32)
	if _, err := rand.Read(h); err != nil {
		return nil, err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO passkey_users (member_id, handle) VALUES (?, ?)", member, h)
	return h, err
}

const credentialColumns = `id, member_id, name, public_key, attestation_type, attestation_format, aaguid,
	sign_count, transports, attachment, flags, created_at, last_used_at`

type row struct {
	cred webauthn.Credential
	pk   Passkey
}

type scanner interface{ Scan(dest ...any) error }

func scanRow(sc scanner) (row, error) {
	var r row
	var transports, attachment string
	var flags, count, created int64
	var used sql.NullInt64
	c := &r.cred
	if err := sc.Scan(&c.ID, &r.pk.MemberID, &r.pk.Name, &c.PublicKey, &c.AttestationType, &c.AttestationFormat,
		&c.Authenticator.AAGUID, &count, &transports, &attachment, &flags, &created, &used); err != nil {
		return row{}, err
	}
	c.Authenticator.SignCount = uint32(count)
	c.Authenticator.Attachment = protocol.AuthenticatorAttachment(attachment)
	c.Flags = webauthn.CredentialFlagsFromMsgpByte(byte(flags))
	for _, t := range strings.Fields(transports) {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
		r.pk.Transports = append(r.pk.Transports, t)
	}
	r.pk.ID = base64.RawURLEncoding.EncodeToString(c.ID)
	r.pk.AAGUID = formatAAGUID(c.Authenticator.AAGUID)
	r.pk.BackupEligible, r.pk.BackedUp = c.Flags.BackupEligible, c.Flags.BackupState
	r.pk.CreatedAt = fromMS(created)
	if used.Valid {
		r.pk.LastUsedAt = fromMS(used.Int64)
	}
	return r, nil
}

func formatAAGUID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	const hex = "0123456789abcdef"
	var sb strings.Builder
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			sb.WriteByte('-')
		}
		sb.WriteByte(hex[x>>4])
		sb.WriteByte(hex[x&15])
	}
	return sb.String()
}

func memberRows(ctx context.Context, tx *sql.Tx, member int64) ([]row, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+credentialColumns+" FROM passkeys WHERE member_id = ? ORDER BY created_at, id", member)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func creds(rows []row) []webauthn.Credential {
	out := make([]webauthn.Credential, len(rows))
	for i, r := range rows {
		out[i] = r.cred
	}
	return out
}

// memberStatus is the member's account status, read from the account
// set's table so that a disabled member's passkeys stop working at once.
func memberStatus(ctx context.Context, tx *sql.Tx, member int64) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, "SELECT status FROM members WHERE id = ?", member).Scan(&status)
	return status, err
}

// List returns a member's passkeys, oldest first.
func (s *Service) List(ctx context.Context, member int64) ([]Passkey, error) {
	var out []Passkey
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := memberRows(ctx, tx, member)
		for _, r := range rows {
			out = append(out, r.pk)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list passkeys of member %d: %w", member, err)
	}
	return out, nil
}

// Has reports whether a member holds at least one passkey.
func (s *Service) Has(ctx context.Context, member int64) (bool, error) {
	var n int
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM passkeys WHERE member_id = ?", member).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("count passkeys of member %d: %w", member, err)
	}
	return n > 0, nil
}

func decodeID(id string) ([]byte, bool) {
	if id == "" || len(id) > 1400 || strings.ContainsAny(id, "\r\n=") {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return b, err == nil
}

// Remove deletes one of a member's passkeys. A passkey of another member is
// not found.
func (s *Service) Remove(ctx context.Context, member int64, id string) error {
	raw, ok := decodeID(id)
	if !ok {
		return ErrNotFound
	}
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, "DELETE FROM passkeys WHERE id = ? AND member_id = ? RETURNING name", raw, member).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, account.Event{Type: EventPasskeyRemoved, MemberID: member,
			Actor: account.MemberActor(member), Detail: name})
	})
	if err != nil {
		return fmt.Errorf("remove passkey of member %d: %w", member, err)
	}
	return nil
}

// RemoveAll deletes every passkey of a member, for an admin (actor) when
// they are lost or stolen, and returns how many there were. Removing none
// is not an error and records nothing.
func (s *Service) RemoveAll(ctx context.Context, actor string, member int64) (int, error) {
	var n int64
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM passkeys WHERE member_id = ?", member)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.audit(ctx, tx, account.Event{Type: EventPasskeyRemoved, MemberID: member, Actor: actor,
			Detail: fmt.Sprintf("all %d", n)})
	})
	if err != nil {
		return 0, fmt.Errorf("remove passkeys of member %d: %w", member, err)
	}
	if n > 0 {
		s.log.Info("passkeys removed", "member", member, "count", n, "actor", actor)
	}
	return int(n), nil
}

// Rename gives one of a member's passkeys a new name.
func (s *Service) Rename(ctx context.Context, member int64, id, name string) error {
	raw, ok := decodeID(id)
	if !ok {
		return ErrNotFound
	}
	name, err := checkName(name)
	if err != nil {
		return err
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE passkeys SET name = ? WHERE id = ? AND member_id = ?", name, raw, member)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rename passkey of member %d: %w", member, err)
	}
	return nil
}
