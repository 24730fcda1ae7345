package account

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bikfed/bikfed/internal/sqlitedb"
)

var nodeRoles = []string{"admin", "editor", "staff", "youth-coordinator", "youth"}

// testParams make a hash cost microseconds instead of tens of milliseconds.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const goodPassword = "correct horse battery staple"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingHasher counts the hashes verified, to show that a path does the
// argon2id work whose timing it must match.
type countingHasher struct {
	hasher
	verifies atomic.Int64
}

func (h *countingHasher) Verify(password, encoded string) (bool, bool, error) {
	h.verifies.Add(1)
	return h.hasher.Verify(password, encoded)
}

type fixture struct {
	*Store
	db     *sqlitedb.DB
	clock  *clock
	hasher *countingHasher
}

func newStore(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(nodeRoles...)
	for _, e := range edit {
		e(&cfg)
	}
	s, err := NewStore(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{Store: s, db: db, clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		hasher: &countingHasher{hasher: NewHasher(testParams)}}
	s.now, s.hasher = f.clock.Now, f.hasher
	return f
}

// active adds a member and accepts their invitation with goodPassword.
func (f *fixture) active(t *testing.T, email string, roles ...string) Member {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"editor"}
	}
	_, tok, err := f.Add(t.Context(), "cli", NewMember{Email: email, Name: "Test " + email, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Accept(t.Context(), tok, goodPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) signIn(t *testing.T, email string) string {
	t.Helper()
	tok, _, _, err := f.SignIn(t.Context(), Credentials{Email: email, Password: goodPassword, Address: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		t.Fatalf("SignIn %s: %v", email, err)
	}
	return tok
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"no roles", func(c *Config) { c.Roles = nil }, "Roles"},
		{"bad role", func(c *Config) { c.Roles = []string{"Admin"} }, "Roles"},
		{"duplicate role", func(c *Config) { c.Roles = []string{"admin", "admin"} }, "Roles"},
		{"zero invitation ttl", func(c *Config) { c.InvitationTTL = 0 }, "InvitationTTL"},
		{"zero reset ttl", func(c *Config) { c.ResetTTL = 0 }, "ResetTTL"},
		{"idle over absolute", func(c *Config) { c.SessionIdle = 13 * time.Hour }, "SessionIdle"},
		{"touch over idle", func(c *Config) { c.SessionTouch = 3 * time.Hour }, "SessionTouch"},
		{"cookie name", func(c *Config) { c.CookieName = "a;b" }, "CookieName"},
		{"min length below NIST", func(c *Config) { c.MinPasswordLength = 7 }, "MinPasswordLength"},
		{"max length below 64", func(c *Config) { c.MaxPasswordLength = 63 }, "MaxPasswordLength"},
		{"no account failures", func(c *Config) { c.AccountFailures = 0 }, "AccountFailures"},
		{"no address failures", func(c *Config) { c.AddressFailures = 0 }, "AddressFailures"},
		{"max under base", func(c *Config) { c.ThrottleMax = time.Millisecond }, "ThrottleMax"},
		{"zero window", func(c *Config) { c.ThrottleWindow = 0 }, "ThrottleWindow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig(nodeRoles...)
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field+":")):
				t.Fatalf("Validate = %v, want an error on %s", err, tt.field)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	own := fstest.MapFS{"0001_own.sql": &fstest.MapFile{Data: []byte("CREATE TABLE own (x);")}}
	path := filepath.Join(t.TempDir(), "db.sqlite")
	for range 2 {
		db, err := sqlitedb.Open(t.Context(), path, own)
		if err != nil {
			t.Fatal(err)
		}
		if err := Migrate(t.Context(), db); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var n int
		if err := db.Reader().QueryRowContext(t.Context(), "SELECT count(*) FROM members").Scan(&n); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

func TestStore_Add(t *testing.T) {
	f := newStore(t)
	ctx := t.Context()
	m, tok, err := f.Add(ctx, "cli", NewMember{Email: "  Ana@Example.ORG ", Name: " Ana ", Roles: []string{"staff", "editor", "staff"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "ana@example.org" || m.Name != "Ana" || strings.Join(m.Roles, ",") != "editor,staff" || m.Status != StatusInvited {
		t.Errorf("Add = %+v", m)
	}
	if _, ok := parseToken(tok); !ok {
		t.Errorf("invitation token %q does not parse", tok)
	}
	got, err := f.GetByEmail(ctx, "ANA@example.org")
	if err != nil || got.ID != m.ID || got.HasPassword {
		t.Errorf("GetByEmail = %+v, %v", got, err)
	}

	if _, _, err := f.Add(ctx, "cli", NewMember{Email: "y@example.org", Name: "Y", Roles: []string{"youth"}, Pseudonym: "be-sunny"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		nm   NewMember
		want error
	}{
		{"email taken in another case", NewMember{Email: "ANA@example.org", Name: "B", Roles: []string{"editor"}}, ErrEmailTaken},
		{"pseudonym taken", NewMember{Email: "z@example.org", Name: "Z", Roles: []string{"youth"}, Pseudonym: "be-sunny"}, ErrPseudonymTaken},
		{"bad pseudonym", NewMember{Email: "z@example.org", Name: "Z", Roles: []string{"youth"}, Pseudonym: "Sunny"}, ErrInvalidPseudonym},
		{"role of the hub", NewMember{Email: "z@example.org", Name: "Z", Roles: []string{"operator"}}, ErrInvalidRole},
		{"no role", NewMember{Email: "z@example.org", Name: "Z"}, ErrInvalidRole},
		{"no email", NewMember{Email: "", Name: "Z", Roles: []string{"editor"}}, ErrInvalidEmail},
		{"display form", NewMember{Email: "Z <z@example.org>", Name: "Z", Roles: []string{"editor"}}, ErrInvalidEmail},
		{"no name", NewMember{Email: "z@example.org", Name: " ", Roles: []string{"editor"}}, ErrInvalidName},
		{"trailing newline trimmed", NewMember{Email: "z@example.org", Name: "Z\n", Roles: []string{"editor"}}, nil},
		{"newline inside name", NewMember{Email: "w@example.org", Name: "W\nX", Roles: []string{"editor"}}, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.Add(ctx, "cli", tt.nm)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Add = %v, want %v", err, tt.want)
			}
		})
	}
	list, err := f.List(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %d members, %v; want 3", len(list), err)
	}
}

func TestStore_SetRoles(t *testing.T) {
	f := newStore(t)
	ctx := t.Context()
	m := f.active(t, "ed@example.org", "editor")
	tok := f.signIn(t, "ed@example.org")

	got, err := f.SetRoles(ctx, "member:1", m.ID, []string{"staff", "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Roles, ",") != "admin,staff" || !got.HasRole("admin") || got.HasRole("editor") {
		t.Errorf("SetRoles = %v", got.Roles)
	}
	if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after a role change = %v, want ErrNoSession", err)
	}
	if _, err := f.SetRoles(ctx, "cli", m.ID, []string{"moderator"}); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("SetRoles to a hub role = %v, want ErrInvalidRole", err)
	}
	if _, err := f.SetRoles(ctx, "cli", 999, []string{"staff"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRoles of an unknown member = %v, want ErrNotFound", err)
	}
}

func TestStore_Disable(t *testing.T) {
	f := newStore(t)
	ctx := t.Context()
	m := f.active(t, "ed@example.org")
	tok := f.signIn(t, "ed@example.org")
	if err := f.Disable(ctx, "cli", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after Disable = %v, want ErrNoSession", err)
	}
	_, _, _, err := f.SignIn(ctx, Credentials{Email: "ed@example.org", Password: goodPassword})
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("SignIn of a disabled member = %v, want ErrInvalidCredentials", err)
	}
	if err := f.Disable(ctx, "cli", 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Disable of an unknown member = %v, want ErrNotFound", err)
	}
}

func TestStore_Remove(t *testing.T) {
	f := newStore(t)
	ctx := t.Context()
	m := f.active(t, "ed@example.org")
	tok := f.signIn(t, "ed@example.org")
	if err := f.Remove(ctx, "cli", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after Remove = %v, want ErrNoSession", err)
	}
	if _, err := f.Get(ctx, m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v, want ErrNotFound", err)
	}
	var n int
	if err := f.db.Reader().QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d sessions left, %v", n, err)
	}
	if err := f.Remove(ctx, "cli", m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

func TestStore_EraseTx(t *testing.T) {
	f := newStore(t)
	ctx := t.Context()
	admin := f.active(t, "admin@example.org", "admin")
	m := f.active(t, "eva.erased@example.org")
	tok := f.signIn(t, "eva.erased@example.org")
	if _, _, _, err := f.SignIn(ctx, Credentials{Email: "eva.erased@example.org", Password: "wrong password here", Address: "198.51.100.7"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := f.FailSignIn(ctx, SignInFailure{Address: "198.51.100.8", Method: "oidc", Detail: "unknown user: eva.erased@example.org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetRoles(ctx, MemberActor(m.ID), admin.ID, []string{"admin", "editor"}); err != nil {
		t.Fatal(err)
	}
	var got Member
	err := f.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = f.EraseTx(ctx, tx, MemberActor(admin.ID), m.ID, "3 items")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.Email != m.Email {
		t.Errorf("EraseTx returned %+v, want member %d", got, m.ID)
	}
	if _, _, err := f.Lookup(ctx, tok); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after EraseTx = %v, want ErrNoSession", err)
	}
	if _, err := f.Get(ctx, m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after EraseTx = %v, want ErrNotFound", err)
	}
	evs, err := f.Audit(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	erased := false
	for _, e := range evs {
		about := e.MemberID == m.ID || e.Actor == MemberActor(m.ID)
		if strings.Contains(e.Detail, "eva.erased") {
			t.Errorf("event %s still quotes the email: %q", e.Type, e.Detail)
		}
		if about && e.Address != "" {
			t.Errorf("event %s about the erased member keeps address %q", e.Type, e.Address)
		}
		if e.MemberID == m.ID && e.Type != EventMemberErased && e.Detail != "" {
			t.Errorf("event %s about the erased member keeps detail %q", e.Type, e.Detail)
		}
		if e.Type == EventMemberErased {
			erased = e.MemberID == m.ID && e.Detail == "3 items" && e.Actor == MemberActor(admin.ID)
		}
		if e.Type == EventRolesChanged && e.MemberID == admin.ID && e.Detail == "" {
			t.Errorf("the erased member's change to another member lost its detail")
		}
	}
	if !erased {
		t.Errorf("no member-erased event for member %d in %+v", m.ID, evs)
	}
	err = f.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := f.EraseTx(ctx, tx, "cli", m.ID, "")
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("second EraseTx = %v, want ErrNotFound", err)
	}
}
