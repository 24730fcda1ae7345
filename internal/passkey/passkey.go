package passkey

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

var (
	// ErrNoCeremony: the ceremony token is unknown, already used, or names
	// a ceremony of another kind or another member.
	ErrNoCeremony = errors.New("no such passkey ceremony")
	// ErrCeremonyExpired: the ceremony was begun too long ago.
	ErrCeremonyExpired = errors.New("passkey ceremony has expired")
	// ErrRefused: the authenticator's answer is malformed or does not verify
	// (wrong origin, wrong relying party, wrong challenge, bad signature).
	ErrRefused = errors.New("passkey answer refused")
	// ErrUnknownCredential: no member of this server holds that passkey,
	// or not the member it had to be.
	ErrUnknownCredential = errors.New("passkey is not known")
	// ErrCloned: the passkey's signature counter did not go up, which is
	// what a copy of the authenticator's key looks like.
	ErrCloned = errors.New("passkey signature counter went backwards")
	// ErrInactive: the passkey's member may not sign in (invited or
	// disabled).
	ErrInactive = errors.New("member may not sign in")
	// ErrNotFound: the member has no passkey with that id.
	ErrNotFound = errors.New("passkey not found")
	// ErrTooMany: the member already holds Config.MaxPasskeys.
	ErrTooMany = errors.New("too many passkeys")
	// ErrInvalidName: the name given to a passkey is too long or holds a
	// control character.
	ErrInvalidName = errors.New("invalid passkey name")
	// ErrNoPending: no sign-in is waiting for a passkey under that token,
	// or it has expired.
	ErrNoPending = errors.New("no sign-in is waiting for a passkey")
	// ErrInvalidRole: a role name given for the policy is empty, too long
	// or holds a space or control character.
	ErrInvalidRole = errors.New("invalid role name")
	// ErrHasPasskey: a pending sign-in may add a first passkey only; a
	// member who holds one confirms with it.
	ErrHasPasskey = errors.New("member already has a passkey")
)

// SetName is the name under which Migrate records this package's migrations.
const SetName = "passkey"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations holds this package's schema. Its tables refer to the account
// set's members, so account.Migrate must run first.
var Migrations fs.FS = mustSub(migrationFiles, "migrations")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Migrate brings the passkey tables in db up to date.
func Migrate(ctx context.Context, db *sqlitedb.DB) error {
	return db.MigrateSet(ctx, SetName, Migrations)
}

// Config describes the relying party and the limits of the ceremonies.
type Config struct {
	// RPID is the relying party id: the site's host name, or a registrable
	// suffix of it. Passkeys are bound to it and stop working if it
	// changes.
	RPID string
	// RPDisplayName is the site's name as authenticators show it.
	RPDisplayName string
	// Origins are the site's origins as browsers see them
	// ("https://sic.example", "http://127.0.0.1:8080"); each host must be
	// RPID or under it.
	Origins []string

	// CeremonyTTL is how long a begun ceremony may wait for its answer.
	CeremonyTTL time.Duration
	// PendingTTL is how long a sign-in whose password was accepted may
	// wait for its passkey.
	PendingTTL time.Duration
	// Timeout is what the browser is asked to give the person to answer;
	// shorter than CeremonyTTL, so that a late answer finds its ceremony.
	Timeout time.Duration

	// MaxPasskeys bounds the passkeys one member may register.
	MaxPasskeys int
	// MaxBodyBytes bounds an authenticator's answer as posted.
	MaxBodyBytes int64

	Log *slog.Logger
}

// DefaultConfig returns the limits; the relying party is the caller's.
func DefaultConfig() Config {
	return Config{
		CeremonyTTL:  5 * time.Minute,
		PendingTTL:   5 * time.Minute,
		Timeout:      4 * time.Minute,
		MaxPasskeys:  20,
		MaxBodyBytes: 64 << 10,
	}
}

// Validate reports every field that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("passkey: %s: "+format, append([]any{field}, args...)...))
	}
	if err := protocol.ValidateRPID(c.RPID); err != nil || c.RPID == "" {
		bad("RPID", "%q is not a host name", c.RPID)
	}
	if strings.TrimSpace(c.RPDisplayName) == "" {
		bad("RPDisplayName", "is empty")
	}
	if len(c.Origins) == 0 {
		bad("Origins", "at least one origin is needed")
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o, c.RPID); err != nil {
			bad("Origins", "%v", err)
		}
	}
	if c.CeremonyTTL <= 0 || c.CeremonyTTL > 15*time.Minute {
		bad("CeremonyTTL", "must be positive and at most 15m, is %v", c.CeremonyTTL)
	}
	if c.PendingTTL <= 0 || c.PendingTTL > 15*time.Minute {
		bad("PendingTTL", "must be positive and at most 15m, is %v", c.PendingTTL)
	}
	if c.Timeout <= 0 || c.Timeout >= c.CeremonyTTL {
		bad("Timeout", "must be positive and shorter than CeremonyTTL %v, is %v", c.CeremonyTTL, c.Timeout)
	}
	if c.MaxPasskeys < 1 {
		bad("MaxPasskeys", "must be at least 1, is %d", c.MaxPasskeys)
	}
	if c.MaxBodyBytes < 4<<10 {
		bad("MaxBodyBytes", "must be at least 4 KiB, is %d", c.MaxBodyBytes)
	}
	return errors.Join(errs...)
}

// checkOrigin accepts a bare http(s) origin whose host is rpID or a
// subdomain of it, the only origins a browser lets use that RP ID.
func checkOrigin(o, rpID string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
	}
	host := strings.ToLower(u.Hostname())
	rpID = strings.ToLower(rpID)
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("origin %q is not on RPID %q", o, rpID)
	}
	return nil
}

// Service runs the ceremonies and keeps the passkeys. It is safe for
// concurrent use.
type Service struct {
	db  *sqlitedb.DB
	cfg Config
	wa  *webauthn.WebAuthn
	log *slog.Logger
	now func() time.Time
}

// New returns a Service over db, whose passkey tables Migrate has brought
// up to date.
func New(db *sqlitedb.DB, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	origins := make([]string, len(cfg.Origins))
	for i, o := range cfg.Origins {
		origins[i] = strings.TrimSuffix(o, "/")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPDisplayName,
		RPOrigins:     origins,
		// No attestation: bikfed trusts a passkey because its member
		// registered it while signed in, not because of its maker.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{db: db, cfg: cfg, wa: wa, log: log.With("component", "passkey"), now: time.Now}, nil
}

// Config returns the service's settings.
func (s *Service) Config() Config { return s.cfg }
