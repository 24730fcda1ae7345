package account

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

var (
	// ErrNotFound: no member with that id or email.
	ErrNotFound = errors.New("member not found")
	// ErrEmailTaken: another member already has that email.
	ErrEmailTaken = errors.New("email already belongs to a member")
	// ErrPseudonymTaken: another member already has that pseudonym.
	ErrPseudonymTaken = errors.New("pseudonym already belongs to a member")
	// ErrInvalidEmail: the address is not one a message could be sent to.
	ErrInvalidEmail = errors.New("invalid email address")
	// ErrInvalidName: the display name is empty or too long.
	ErrInvalidName = errors.New("invalid display name")
	// ErrInvalidPseudonym: not of the form <sic>-<handle>.
	ErrInvalidPseudonym = errors.New("invalid pseudonym")
	// ErrInvalidRole: a role outside the server's role set, or none at all.
	ErrInvalidRole = errors.New("invalid role")
	// ErrDisabled: the member is disabled.
	ErrDisabled = errors.New("member is disabled")
	// ErrActive: the member has already accepted an invitation.
	ErrActive = errors.New("member is already active")
	// ErrWeakPassword: the password breaks the password policy. The error
	// is a *PasswordError that says which rule.
	ErrWeakPassword = errors.New("password does not meet the policy")
	// ErrTokenUnknown: no such invitation or reset link. Also returned for a
	// malformed token, so a guess learns nothing from the error.
	ErrTokenUnknown = errors.New("link is not known")
	// ErrTokenExpired: the link was valid once but its time has passed.
	ErrTokenExpired = errors.New("link has expired")
	// ErrTokenUsed: the link has already been used.
	ErrTokenUsed = errors.New("link has already been used")
	// ErrInvalidCredentials: wrong email or password, or an account that
	// cannot sign in; which one is deliberately not said.
	ErrInvalidCredentials = errors.New("wrong email or password")
	// ErrWrongPassword: the current password given to change it is wrong.
	ErrWrongPassword = errors.New("current password is wrong")
	// ErrThrottled: too many failed sign-ins. The error is a
	// *ThrottledError that says when to try again.
	ErrThrottled = errors.New("too many failed sign-ins")
	// ErrNoSession: the session token is unknown, expired or ended.
	ErrNoSession = errors.New("no such session")
	// ErrInvalidHash: a stored password hash is not a PHC string this
	// package can verify.
	ErrInvalidHash = errors.New("invalid password hash")
)

// SetName is the name under which Migrate records this package's migrations
// in a database.
const SetName = "account"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations holds this package's schema as numbered SQL files, numbered
// independently of the database they are applied to.
var Migrations fs.FS = mustSub(migrationFiles, "migrations")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Migrate brings the account tables in db up to date.
func Migrate(ctx context.Context, db *sqlitedb.DB) error {
	return db.MigrateSet(ctx, SetName, Migrations)
}

// Config holds the durations and limits of sign-in. The zero value is not
// usable; start from DefaultConfig.
type Config struct {
	// Roles is the set of roles a member may hold on this server.
	Roles []string

	// InvitationTTL is how long an invitation link stays valid.
	InvitationTTL time.Duration
	// ResetTTL is how long a password reset link stays valid.
	ResetTTL time.Duration

	// SessionIdle ends a session not used for this long.
	SessionIdle time.Duration
	// SessionAbsolute ends a session this long after sign-in, used or not.
	SessionAbsolute time.Duration
	// CookieName names the session cookie (CookieName adds the __Host-
	// prefix over TLS). Browsers share cookies between the ports of one
	// host, so servers on one host need different names.
	CookieName string
	// SessionTouch is how stale a session's last-seen time may get before
	// a lookup writes it, so that most requests only read.
	SessionTouch time.Duration

	// MinPasswordLength and MaxPasswordLength count characters (Unicode
	// code points), not bytes.
	MinPasswordLength int
	MaxPasswordLength int

	// AccountFailures and AddressFailures are the failed sign-ins allowed,
	// per email and per client address, before each further failure locks
	// that email or address out for ThrottleBase, doubling up to
	// ThrottleMax. An address gets more: many people may share one.
	AccountFailures int
	AddressFailures int
	ThrottleBase    time.Duration
	ThrottleMax     time.Duration
	// ThrottleWindow forgets the failures of an email or address that has
	// had none for this long.
	ThrottleWindow time.Duration
	// Clock is the time sessions and links are dated and checked by;
	// default time.Now.
	Clock func() time.Time
}

// DefaultConfig returns the settings for roles.
func DefaultConfig(roles ...string) Config {
	return Config{
		Roles:             roles,
		InvitationTTL:     7 * 24 * time.Hour,
		ResetTTL:          time.Hour,
		SessionIdle:       2 * time.Hour,
		SessionAbsolute:   12 * time.Hour,
		SessionTouch:      time.Minute,
		CookieName:        "bikfed-session",
		MinPasswordLength: 15,
		MaxPasswordLength: 256,
		AccountFailures:   5,
		AddressFailures:   20,
		ThrottleBase:      time.Second,
		ThrottleMax:       15 * time.Minute,
		ThrottleWindow:    time.Hour,
	}
}

// Validate reports every field that is out of range.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Roles) == 0 {
		bad("Roles", "at least one role is needed")
	}
	seen := make(map[string]bool)
	for _, r := range c.Roles {
		if !validRoleName(r) {
			bad("Roles", "%q is not a role name (lowercase letters, digits and '-')", r)
		}
		if seen[r] {
			bad("Roles", "%q is listed twice", r)
		}
		seen[r] = true
	}
	positive := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "must be positive, is %v", d)
		}
	}
	positive("InvitationTTL", c.InvitationTTL)
	positive("ResetTTL", c.ResetTTL)
	positive("SessionIdle", c.SessionIdle)
	positive("SessionAbsolute", c.SessionAbsolute)
	positive("SessionTouch", c.SessionTouch)
	positive("ThrottleBase", c.ThrottleBase)
	positive("ThrottleWindow", c.ThrottleWindow)
	if !validCookieName(c.CookieName) {
		bad("CookieName", "%q must be 1 to 64 letters, digits, '-' or '_'", c.CookieName)
	}
	if c.SessionIdle > c.SessionAbsolute {
		bad("SessionIdle", "%v is longer than SessionAbsolute %v", c.SessionIdle, c.SessionAbsolute)
	}
	if c.SessionTouch >= c.SessionIdle {
		bad("SessionTouch", "%v must be shorter than SessionIdle %v", c.SessionTouch, c.SessionIdle)
	}
	// NIST SP 800-63B: at least 8 characters, and at least 64 allowed so
	// that passphrases fit.
	if c.MinPasswordLength < 8 {
		bad("MinPasswordLength", "must be at least 8, is %d", c.MinPasswordLength)
	}
	if c.MaxPasswordLength < 64 || c.MaxPasswordLength > 1024 {
		bad("MaxPasswordLength", "must be between 64 and 1024, is %d", c.MaxPasswordLength)
	}
	if c.AccountFailures < 1 {
		bad("AccountFailures", "must be at least 1, is %d", c.AccountFailures)
	}
	if c.AddressFailures < 1 {
		bad("AddressFailures", "must be at least 1, is %d", c.AddressFailures)
	}
	if c.ThrottleMax < c.ThrottleBase {
		bad("ThrottleMax", "%v is shorter than ThrottleBase %v", c.ThrottleMax, c.ThrottleBase)
	}
	return errors.Join(errs...)
}

func validCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// Store keeps the accounts in one database. It is safe for concurrent use.
type Store struct {
	db       *sqlitedb.DB
	cfg      Config
	roles    map[string]bool
	hasher   hasher
	throttle *throttle
	now      func() time.Time

	dummyOnce sync.Once
	dummy     string // a hash to verify against when there is no member's
	dummyErr  error
}

// hasher is the password hashing the Store uses; tests replace it.
type hasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (ok, rehash bool, err error)
}

// NewStore returns a Store over db, whose account tables Migrate has
// brought up to date.
func NewStore(db *sqlitedb.DB, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("account config: %w", err)
	}
	roles := make(map[string]bool, len(cfg.Roles))
	for _, r := range cfg.Roles {
		roles[r] = true
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	return &Store{
		db:       db,
		cfg:      cfg,
		roles:    roles,
		hasher:   NewHasher(DefaultParams),
		throttle: newThrottle(),
		now:      now,
	}, nil
}

// ms is how times are stored: unix milliseconds, like the rest of bikfed.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
