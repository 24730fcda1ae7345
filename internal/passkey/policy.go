package passkey

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
)

// Audit events this package records in the account set's log, beside the
// sign-ins that internal/account records itself.
const (
	EventPolicyChanged  account.EventType = "passkey-policy-changed"
	EventPasskeyAdded   account.EventType = "passkey-added"
	EventPasskeyRemoved account.EventType = "passkey-removed"
)

// maxRole bounds a role name, far above the account set's own rule.
const maxRole = 64

// audit records an event in the account set's audit log, in the
// transaction that makes the change, so that neither goes without the other.
func (s *Service) audit(ctx context.Context, tx *sql.Tx, e account.Event) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO audit (at, event, member_id, actor, address, detail) VALUES (?, ?, ?, ?, ?, ?)",
		ms(s.now()), e.Type, sql.NullInt64{Int64: e.MemberID, Valid: e.MemberID != 0}, e.Actor, e.Address, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Type, err)
	}
	return nil
}

// RequiredRoles returns the roles whose members must confirm a password
// sign-in with a passkey, for Required.
func (s *Service) RequiredRoles(ctx context.Context) (map[string]bool, error) {
	out := make(map[string]bool)
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT role FROM passkey_policy")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				return err
			}
			out[r] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read passkey policy: %w", err)
	}
	return out, nil
}

// SetRequiredRoles replaces the roles whose members must confirm a password
// sign-in with a passkey, and records the change, made by actor
// (account.MemberActor, or the caller's name for itself), in the audit log.
// Which roles exist is the caller's to check; a name that no role could
// have is refused with ErrInvalidRole. Setting what is already set records
// nothing.
func (s *Service) SetRequiredRoles(ctx context.Context, actor string, roles []string) error {
	want := make([]string, 0, len(roles))
	for _, r := range roles {
		if r == "" || len(r) > maxRole || strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			return fmt.Errorf("%w: %q", ErrInvalidRole, r)
		}
		want = append(want, r)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var have []string
		rows, err := tx.QueryContext(ctx, "SELECT role FROM passkey_policy ORDER BY role")
		if err != nil {
			return err
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return err
			}
			have = append(have, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if slices.Equal(have, want) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM passkey_policy"); err != nil {
			return err
		}
		for _, r := range want {
			if _, err := tx.ExecContext(ctx, "INSERT INTO passkey_policy (role) VALUES (?)", r); err != nil {
				return err
			}
		}
		detail := "none"
		if len(want) > 0 {
			detail = strings.Join(want, ",")
		}
		return s.audit(ctx, tx, account.Event{Type: EventPolicyChanged, Actor: actor, Detail: "required for " + detail})
	})
	if err != nil {
		return fmt.Errorf("set passkey policy: %w", err)
	}
	s.log.Info("passkey policy changed", "actor", actor, "roles", want)
	return nil
}
