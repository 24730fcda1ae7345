package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Status is where a member stands.
type Status string

const (
	// StatusInvited: added, but the invitation has not been accepted.
	StatusInvited Status = "invited"
	// StatusActive: can sign in.
	StatusActive Status = "active"
	// StatusDisabled: cannot sign in, and holds no sessions.
	StatusDisabled Status = "disabled"
)

// Member is a person who may sign in.
type Member struct {
	ID     int64
	Email  string // normalised
	Name   string
	Roles  []string // sorted
	Status Status
	// Pseudonym is a youth member's network-wide name, <sic>-<handle>;
	// empty for everyone else.
	Pseudonym   string
	HasPassword bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// HasRole reports whether m holds role.
func (m Member) HasRole(role string) bool { return slices.Contains(m.Roles, role) }

// HasAnyRole reports whether m holds at least one of roles.
func (m Member) HasAnyRole(roles ...string) bool {
	return slices.ContainsFunc(roles, m.HasRole)
}

// NewMember is what Add needs to know.
type NewMember struct {
	Email     string
	Name      string
	Roles     []string
	Pseudonym string
}

const maxNameLen = 200

// normaliseEmail trims and lowercases: two spellings of one address must not
// become two accounts, and nearly every mail system treats the local part
// case-insensitively.
func normaliseEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validEmail(s string) error {
	if len(s) > 254 {
		return fmt.Errorf("%w: longer than 254 characters", ErrInvalidEmail)
	}
	a, err := mail.ParseAddress(s)
	// A bare address only: "Name <a@b>" would parse, but is not an email.
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%w: %q", ErrInvalidEmail, s)
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || domain == "" || strings.ContainsAny(s, " \"") {
		return fmt.Errorf("%w: %q", ErrInvalidEmail, s)
	}
	return nil
}

func validName(s string) error {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > maxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrInvalidName, maxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: contains a control character", ErrInvalidName)
		}
	}
	return nil
}

// validPseudonym checks the shape <sic>-<handle>; that the prefix is the
// caller's SIC, and uniqueness across the network, are the caller's to check.
func validPseudonym(s string) error {
	ok := len(s) >= 4 && len(s) <= 64 && strings.Contains(s, "-") &&
		s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: %q is not <sic>-<handle> in lowercase letters, digits and '-'", ErrInvalidPseudonym, s)
	}
	return nil
}

func validRoleName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// checkRoles returns roles sorted and deduplicated, or ErrInvalidRole.
func (s *Store) checkRoles(roles []string) ([]string, error) {
	if len(roles) == 0 {
		return nil, fmt.Errorf("%w: a member needs at least one role", ErrInvalidRole)
	}
	for _, r := range roles {
		if !s.roles[r] {
			return nil, fmt.Errorf("%w: %q (roles here: %s)", ErrInvalidRole, r, strings.Join(s.cfg.Roles, ", "))
		}
	}
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Add creates an invited member and an invitation for them, returning the
// invitation's token: the only time it is ever seen.
func (s *Store) Add(ctx context.Context, actor string, nm NewMember) (Member, string, error) {
	email := normaliseEmail(nm.Email)
	if err := validEmail(email); err != nil {
		return Member{}, "", err
	}
	name := strings.TrimSpace(nm.Name)
	if err := validName(name); err != nil {
		return Member{}, "", err
	}
	if nm.Pseudonym != "" {
		if err := validPseudonym(nm.Pseudonym); err != nil {
			return Member{}, "", err
		}
	}
	roles, err := s.checkRoles(nm.Roles)
	if err != nil {
		return Member{}, "", err
	}
	tok, hash, err := newToken()
	if err != nil {
		return Member{}, "", err
	}
	now := s.now()
	m := Member{Email: email, Name: name, Roles: roles, Status: StatusInvited, Pseudonym: nm.Pseudonym,
		CreatedAt: fromMS(ms(now)), UpdatedAt: fromMS(ms(now))}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO members (email, name, roles, status, pseudonym, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			email, name, strings.Join(roles, " "), StatusInvited, nullString(nm.Pseudonym), ms(now), ms(now))
		if err != nil {
			return uniqueErr(err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		if err := insertToken(ctx, tx, hash, LinkInvite, m.ID, now, s.cfg.InvitationTTL); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventMemberAdded, MemberID: m.ID, Actor: actor,
			Detail: "roles " + strings.Join(roles, " ")})
	})
	if err != nil {
		return Member{}, "", fmt.Errorf("add member %s: %w", email, err)
	}
	return m, tok, nil
}

// uniqueErr turns a UNIQUE constraint failure into the sentinel that says
// which value was taken.
func uniqueErr(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		switch {
		case strings.Contains(se.Error(), "members.email"):
			return ErrEmailTaken
		case strings.Contains(se.Error(), "members.pseudonym"):
			return ErrPseudonymTaken
		}
	}
	return err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

const memberColumns = `id, email, name, roles, status, pseudonym, password_hash IS NOT NULL, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanMember(row scanner) (Member, error) {
	var m Member
	var roles string
	var pseudonym sql.NullString
	var created, updated int64
	if err := row.Scan(&m.ID, &m.Email, &m.Name, &roles, &m.Status, &pseudonym, &m.HasPassword, &created, &updated); err != nil {
		return Member{}, err
	}
	m.Roles = strings.Fields(roles)
	m.Pseudonym = pseudonym.String
	m.CreatedAt, m.UpdatedAt = fromMS(created), fromMS(updated)
	return m, nil
}

func getMember(ctx context.Context, tx *sql.Tx, where string, arg any) (Member, error) {
	m, err := scanMember(tx.QueryRowContext(ctx, "SELECT "+memberColumns+" FROM members WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	return m, err
}

// Get returns the member with id.
func (s *Store) Get(ctx context.Context, id int64) (Member, error) {
	var m Member
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) (err error) {
		m, err = getMember(ctx, tx, "id = ?", id)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("get member %d: %w", id, err)
	}
	return m, nil
}

// GetByEmail returns the member with email, in any spelling Add would have
// normalised to the same address.
func (s *Store) GetByEmail(ctx context.Context, email string) (Member, error) {
	var m Member
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) (err error) {
		m, err = getMember(ctx, tx, "email = ?", normaliseEmail(email))
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("get member by email: %w", err)
	}
	return m, nil
}

// List returns every member, ordered by email.
func (s *Store) List(ctx context.Context) ([]Member, error) {
	var ms []Member
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+memberColumns+" FROM members ORDER BY email")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMember(rows)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return ms, nil
}

// SetRoles replaces a member's roles and ends their sessions, so that no
// page opened under the old roles goes on acting with them.
func (s *Store) SetRoles(ctx context.Context, actor string, id int64, roles []string) (Member, error) {
	roles, err := s.checkRoles(roles)
	if err != nil {
		return Member{}, err
	}
	var m Member
	now := s.now()
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		old, err := getMember(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE members SET roles = ?, updated_at = ? WHERE id = ?",
			strings.Join(roles, " "), ms(now), id); err != nil {
			return err
		}
		if err := endSessions(ctx, tx, id); err != nil {
			return err
		}
		if m, err = getMember(ctx, tx, "id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventRolesChanged, MemberID: id, Actor: actor,
			Detail: "roles " + strings.Join(old.Roles, " ") + " -> " + strings.Join(roles, " ")})
	})
	if err != nil {
		return Member{}, fmt.Errorf("set roles of member %d: %w", id, err)
	}
	return m, nil
}

// Disable stops a member from signing in and ends their sessions and any
// links they have not used yet.
func (s *Store) Disable(ctx context.Context, actor string, id int64) error {
	now := s.now()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE members SET status = ?, updated_at = ? WHERE id = ?",
			StatusDisabled, ms(now), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		if err := endSessions(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM tokens WHERE member_id = ?", id); err != nil {
			return err
		}
		return audit(ctx, tx, now, Event{Type: EventMemberDisabled, MemberID: id, Actor: actor})
	})
	if err != nil {
		return fmt.Errorf("disable member %d: %w", id, err)
	}
	return nil
}

// Remove deletes a member with their sessions and links. The audit log
// keeps their id, not their name or email.
func (s *Store) Remove(ctx context.Context, actor string, id int64) error {
	now := s.now()
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM members WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return audit(ctx, tx, now, Event{Type: EventMemberRemoved, MemberID: id, Actor: actor})
	})
	if err != nil {
		return fmt.Errorf("remove member %d: %w", id, err)
	}
	return nil
}

// EraseTx deletes a member as Remove does, inside tx (a write transaction on
// the store's database, so that the erasure of what they wrote commits with
// it), and takes their personal data out of the audit log: the events about
// them keep their type, time and member number, but lose their client
// addresses and details (passkey names, sign-in failures that quoted the
// email); the events they caused lose their client addresses; any other
// event whose detail quotes their email address loses its detail. Their
// sessions, links and passkeys go with the account. The event recording the
// erasure names the member by number and carries detail, which the caller
// keeps free of personal data. The throttle forgets their email address.
func (s *Store) EraseTx(ctx context.Context, tx *sql.Tx, actor string, id int64, detail string) (Member, error) {
	if actor == "" {
		return Member{}, ErrInvalidEvent
	}
	m, err := getMember(ctx, tx, "id = ?", id)
	if err != nil {
		return Member{}, fmt.Errorf("erase member %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM members WHERE id = ?", id); err != nil {
		return Member{}, fmt.Errorf("erase member %d: %w", id, err)
	}
	scrub := []struct {
		sql  string
		args []any
	}{
		{"UPDATE audit SET address = '', detail = '' WHERE member_id = ?", []any{id}},
		{"UPDATE audit SET address = '' WHERE actor = ?", []any{memberActor(id)}},
		{"UPDATE audit SET detail = '' WHERE instr(lower(detail), ?) > 0", []any{m.Email}},
	}
	for _, q := range scrub {
		if _, err := tx.ExecContext(ctx, q.sql, q.args...); err != nil {
			return Member{}, fmt.Errorf("erase member %d from the audit log: %w", id, err)
		}
	}
	if err := audit(ctx, tx, s.now(), Event{Type: EventMemberErased, MemberID: id, Actor: actor, Detail: detail}); err != nil {
		return Member{}, err
	}
	s.throttle.reset(accountKey(m.Email))
	return m, nil
}
