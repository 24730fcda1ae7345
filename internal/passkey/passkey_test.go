package passkey

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/sqlitedb"
)

const (
	testRPID   = "sic.example"
	testOrigin = "https://sic.example"
)

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

type fixture struct {
	*Service
	accounts *account.Store
	db       *sqlitedb.DB
	clock    *clock
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.RPID, cfg.RPDisplayName, cfg.Origins = testRPID, "Test SIC", []string{testOrigin}
	return cfg
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	accounts, err := account.NewStore(db, account.DefaultConfig("admin", "editor", "youth"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(db, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{Service: s, accounts: accounts, db: db, clock: &clock{t: time.Now().UTC()}}
	s.now = f.clock.Now
	return f
}

// member adds an active member; the password is never used.
func (f *fixture) member(t testing.TB, email string) account.Member {
	t.Helper()
	_, tok, err := f.accounts.Add(t.Context(), "test", account.NewMember{Email: email, Name: "Test " + email, Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.accounts.Accept(t.Context(), tok, "correct horse battery staple", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// register runs a whole registration ceremony with a new software key.
func (f *fixture) register(t testing.TB, m account.Member) *softKey {
	t.Helper()
	opts, tok, err := f.BeginRegistration(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t, testRPID, userHandle(t, opts))
	if _, err := f.FinishRegistration(t.Context(), m, tok, k.create(t, opts, testOrigin), "laptop"); err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return k
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"loopback", func(c *Config) { c.RPID, c.Origins = "localhost", []string{"http://localhost:8080"} }, ""},
		{"subdomain origin", func(c *Config) { c.Origins = []string{"https://www.sic.example"} }, ""},
		{"no RPID", func(c *Config) { c.RPID = "" }, "RPID"},
		{"RPID with scheme", func(c *Config) { c.RPID = "https://sic.example" }, "RPID"},
		{"no display name", func(c *Config) { c.RPDisplayName = " " }, "RPDisplayName"},
		{"no origins", func(c *Config) { c.Origins = nil }, "Origins"},
		{"origin elsewhere", func(c *Config) { c.Origins = []string{"https://evil.example"} }, "not on RPID"},
		{"suffix trick", func(c *Config) { c.Origins = []string{"https://evilsic.example"} }, "not on RPID"},
		{"origin with path", func(c *Config) { c.Origins = []string{"https://sic.example/ws"} }, "not an origin"},
		{"origin ftp", func(c *Config) { c.Origins = []string{"ftp://sic.example"} }, "not an origin"},
		{"ttl zero", func(c *Config) { c.CeremonyTTL = 0 }, "CeremonyTTL"},
		{"ttl long", func(c *Config) { c.CeremonyTTL = time.Hour }, "CeremonyTTL"},
		{"pending zero", func(c *Config) { c.PendingTTL = 0 }, "PendingTTL"},
		{"timeout past ttl", func(c *Config) { c.Timeout = c.CeremonyTTL }, "Timeout"},
		{"no passkeys", func(c *Config) { c.MaxPasskeys = 0 }, "MaxPasskeys"},
		{"tiny body", func(c *Config) { c.MaxBodyBytes = 100 }, "MaxBodyBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	required := map[string]bool{"admin": true, "youth-coordinator": true}
	tests := []struct {
		name     string
		roles    []string
		required map[string]bool
		want     bool
	}{
		{"required role", []string{"admin"}, required, true},
		{"one of several", []string{"editor", "youth-coordinator"}, required, true},
		{"no required role", []string{"editor", "staff"}, required, false},
		{"no roles", nil, required, false},
		{"nothing required", []string{"admin"}, nil, false},
		{"role switched off", []string{"admin"}, map[string]bool{"admin": false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Required(tt.roles, tt.required); got != tt.want {
				t.Fatalf("Required(%v) = %v, want %v", tt.roles, got, tt.want)
			}
		})
	}
}

func TestService_Ceremonies(t *testing.T) {
	f := newFixture(t)
	m := f.member(t, "ana@sic.example")

	t.Run("register then sign in", func(t *testing.T) {
		k := f.register(t, m)
		opts, tok, err := f.BeginLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(opts.Response.AllowedCredentials) != 0 {
			t.Fatalf("a usernameless sign-in names credentials: %v", opts.Response.AllowedCredentials)
		}
		got, err := f.FinishLogin(t.Context(), tok, k.get(t, opts, testOrigin))
		if err != nil {
			t.Fatalf("FinishLogin: %v", err)
		}
		if got != m.ID {
			t.Fatalf("FinishLogin = member %d, want %d", got, m.ID)
		}
		pks, err := f.List(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(pks) != 1 || pks[0].Name != "laptop" || pks[0].LastUsedAt.IsZero() ||
			strings.Join(pks[0].Transports, " ") != "internal hybrid" {
			t.Fatalf("List = %+v", pks)
		}
	})

	t.Run("existing passkeys excluded", func(t *testing.T) {
		opts, _, err := f.BeginRegistration(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		pks, _ := f.List(t.Context(), m.ID)
		if len(opts.Response.CredentialExcludeList) != len(pks) || len(pks) == 0 {
			t.Fatalf("exclude list %v, passkeys %v", opts.Response.CredentialExcludeList, pks)
		}
		sel := opts.Response.AuthenticatorSelection
		if sel.ResidentKey != "preferred" || sel.UserVerification != "preferred" {
			t.Fatalf("authenticator selection %+v", sel)
		}
	})
}

func TestService_FinishRegistration_refusals(t *testing.T) {
	f := newFixture(t)
	m := f.member(t, "ana@sic.example")
	other := f.member(t, "bo@sic.example")

	tests := []struct {
		name string
		// answer returns the member finishing, the token and the body.
		answer func(t *testing.T) (account.Member, string, []byte)
		want   error
	}{
		{"wrong origin", func(t *testing.T) (account.Member, string, []byte) {
			opts, tok, _ := f.BeginRegistration(t.Context(), m)
			return m, tok, newKey(t, testRPID, userHandle(t, opts)).create(t, opts, "https://evil.example")
		}, ErrRefused},
		{"wrong RP ID", func(t *testing.T) (account.Member, string, []byte) {
			opts, tok, _ := f.BeginRegistration(t.Context(), m)
			return m, tok, newKey(t, "evil.example", userHandle(t, opts)).create(t, opts, testOrigin)
		}, ErrRefused},
		{"another member's ceremony", func(t *testing.T) (account.Member, string, []byte) {
			opts, tok, _ := f.BeginRegistration(t.Context(), m)
			return other, tok, newKey(t, testRPID, userHandle(t, opts)).create(t, opts, testOrigin)
		}, ErrNoCeremony},
		{"a sign-in ceremony", func(t *testing.T) (account.Member, string, []byte) {
			opts, _, _ := f.BeginRegistration(t.Context(), m)
			_, tok, _ := f.BeginLogin(t.Context())
			return m, tok, newKey(t, testRPID, userHandle(t, opts)).create(t, opts, testOrigin)
		}, ErrNoCeremony},
		{"not JSON", func(t *testing.T) (account.Member, string, []byte) {
			_, tok, _ := f.BeginRegistration(t.Context(), m)
			return m, tok, []byte("{")
		}, ErrRefused},
		{"malformed token", func(t *testing.T) (account.Member, string, []byte) {
			return m, "nope", []byte("{}")
		}, ErrNoCeremony},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who, tok, body := tt.answer(t)
			_, err := f.FinishRegistration(t.Context(), who, tok, body, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("FinishRegistration = %v, want %v", err, tt.want)
			}
		})
	}
	for _, who := range []account.Member{m, other} {
		if pks, _ := f.List(t.Context(), who.ID); len(pks) != 0 {
			t.Fatalf("refused registrations kept passkeys: %+v", pks)
		}
	}

	t.Run("same credential twice", func(t *testing.T) {
		k := f.register(t, m)
		opts, tok, _ := f.BeginRegistration(t.Context(), other)
		k.handle = userHandle(t, opts)
		_, err := f.FinishRegistration(t.Context(), other, tok, k.create(t, opts, testOrigin), "")
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("FinishRegistration = %v, want %v", err, ErrRefused)
		}
	})

	t.Run("bad name", func(t *testing.T) {
		_, err := f.FinishRegistration(t.Context(), m, "x", nil, "a\x00b")
		if !errors.Is(err, ErrInvalidName) {
			t.Fatalf("FinishRegistration = %v, want %v", err, ErrInvalidName)
		}
	})
}

func TestService_FinishLogin_refusals(t *testing.T) {
	f := newFixture(t)
	ana := f.member(t, "ana@sic.example")
	bo := f.member(t, "bo@sic.example")
	anaKey := f.register(t, ana)
	boKey := f.register(t, bo)

	begin := func(t *testing.T) (challenge []byte, tok string) {
		t.Helper()
		opts, tok, err := f.BeginLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return opts.Response.Challenge, tok
	}

	tests := []struct {
		name   string
		answer func(t *testing.T) (string, []byte)
		want   error
	}{
		{"wrong origin", func(t *testing.T) (string, []byte) {
			c, tok := begin(t)
			anaKey.count++
			return tok, anaKey.sign(t, c, "https://evil.example", anaKey.count)
		}, ErrRefused},
		{"wrong RP ID", func(t *testing.T) (string, []byte) {
			c, tok := begin(t)
			k := *anaKey
			k.rpID = "evil.example"
			anaKey.count++
			return tok, k.sign(t, c, testOrigin, anaKey.count)
		}, ErrRefused},
		{"challenge of another ceremony", func(t *testing.T) (string, []byte) {
			c, _ := begin(t)
			_, tok := begin(t)
			anaKey.count++
			return tok, anaKey.sign(t, c, testOrigin, anaKey.count)
		}, ErrRefused},
		{"unknown credential", func(t *testing.T) (string, []byte) {
			c, tok := begin(t)
			k := newKey(t, testRPID, anaKey.handle)
			return tok, k.sign(t, c, testOrigin, 1)
		}, ErrUnknownCredential},
		{"another member's credential under own handle", func(t *testing.T) (string, []byte) {
			// Bo's authenticator presents Ana's credential id with Bo's
			// user handle, signed with Bo's key.
			c, tok := begin(t)
			k := *boKey
			k.id = anaKey.id
			return tok, k.sign(t, c, testOrigin, 100)
		}, ErrUnknownCredential},
		{"forged signature", func(t *testing.T) (string, []byte) {
			// Ana's credential id and handle, but another key.
			c, tok := begin(t)
			k := newKey(t, testRPID, anaKey.handle)
			k.id = anaKey.id
			return tok, k.sign(t, c, testOrigin, 1000)
		}, ErrRefused},
		{"a registration ceremony", func(t *testing.T) (string, []byte) {
			opts, tok, _ := f.BeginRegistration(t.Context(), ana)
			anaKey.count++
			return tok, anaKey.sign(t, opts.Response.Challenge, testOrigin, anaKey.count)
		}, ErrNoCeremony},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, body := tt.answer(t)
			got, err := f.FinishLogin(t.Context(), tok, body)
			if !errors.Is(err, tt.want) || got != 0 {
				t.Fatalf("FinishLogin = %d, %v, want %v", got, err, tt.want)
			}
		})
	}

	t.Run("replayed challenge", func(t *testing.T) {
		c, tok := begin(t)
		anaKey.count++
		body := anaKey.sign(t, c, testOrigin, anaKey.count)
		if _, err := f.FinishLogin(t.Context(), tok, body); err != nil {
			t.Fatalf("first answer: %v", err)
		}
		if _, err := f.FinishLogin(t.Context(), tok, body); !errors.Is(err, ErrNoCeremony) {
			t.Fatalf("same answer again = %v, want %v", err, ErrNoCeremony)
		}
		_, tok2 := begin(t)
		if _, err := f.FinishLogin(t.Context(), tok2, body); !errors.Is(err, ErrRefused) {
			t.Fatalf("same answer to a new ceremony = %v, want %v", err, ErrRefused)
		}
	})

	t.Run("failed answer uses the ceremony up", func(t *testing.T) {
		c, tok := begin(t)
		if _, err := f.FinishLogin(t.Context(), tok, []byte("{}")); !errors.Is(err, ErrRefused) {
			t.Fatalf("empty answer = %v", err)
		}
		anaKey.count++
		if _, err := f.FinishLogin(t.Context(), tok, anaKey.sign(t, c, testOrigin, anaKey.count)); !errors.Is(err, ErrNoCeremony) {
			t.Fatalf("good answer after a bad one = %v, want %v", err, ErrNoCeremony)
		}
	})

	t.Run("sign count regression", func(t *testing.T) {
		c, tok := begin(t)
		anaKey.count += 10
		if _, err := f.FinishLogin(t.Context(), tok, anaKey.sign(t, c, testOrigin, anaKey.count)); err != nil {
			t.Fatalf("counter up: %v", err)
		}
		for _, count := range []uint32{anaKey.count, anaKey.count - 3, 0} {
			c, tok := begin(t)
			if _, err := f.FinishLogin(t.Context(), tok, anaKey.sign(t, c, testOrigin, count)); !errors.Is(err, ErrCloned) {
				t.Fatalf("counter %d after %d = %v, want %v", count, anaKey.count, err, ErrCloned)
			}
		}
		c, tok = begin(t)
		anaKey.count++
		if _, err := f.FinishLogin(t.Context(), tok, anaKey.sign(t, c, testOrigin, anaKey.count)); err != nil {
			t.Fatalf("counter up again: %v", err)
		}
	})

	t.Run("expired ceremony", func(t *testing.T) {
		c, tok := begin(t)
		f.clock.Advance(f.Config().CeremonyTTL)
		anaKey.count++
		if _, err := f.FinishLogin(t.Context(), tok, anaKey.sign(t, c, testOrigin, anaKey.count)); !errors.Is(err, ErrCeremonyExpired) {
			t.Fatalf("FinishLogin = %v, want %v", err, ErrCeremonyExpired)
		}
	})

	t.Run("disabled member", func(t *testing.T) {
		if err := f.accounts.Disable(t.Context(), "test", bo.ID); err != nil {
			t.Fatal(err)
		}
		c, tok := begin(t)
		boKey.count++
		if _, err := f.FinishLogin(t.Context(), tok, boKey.sign(t, c, testOrigin, boKey.count)); !errors.Is(err, ErrInactive) {
			t.Fatalf("FinishLogin = %v, want %v", err, ErrInactive)
		}
	})
}

// A counter of zero, which synchronised passkeys always send, is no sign of
// a copy.
func TestService_FinishLogin_zeroCounter(t *testing.T) {
	f := newFixture(t)
	m := f.member(t, "ana@sic.example")
	opts, tok, _ := f.BeginRegistration(t.Context(), m)
	k := newKey(t, testRPID, userHandle(t, opts))
	k.synced = true
	if _, err := f.FinishRegistration(t.Context(), m, tok, k.create(t, opts, testOrigin), ""); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		lo, tok, _ := f.BeginLogin(t.Context())
		if _, err := f.FinishLogin(t.Context(), tok, k.sign(t, lo.Response.Challenge, testOrigin, 0)); err != nil {
			t.Fatalf("FinishLogin: %v", err)
		}
	}
	pks, _ := f.List(t.Context(), m.ID)
	if len(pks) != 1 || !pks[0].BackupEligible || !pks[0].BackedUp {
		t.Fatalf("List = %+v", pks)
	}

	// With no counter to tell a replay, only the ceremony being used up
	// stops the same answer from signing in twice.
	lo, tok, _ := f.BeginLogin(t.Context())
	body := k.sign(t, lo.Response.Challenge, testOrigin, 0)
	if _, err := f.FinishLogin(t.Context(), tok, body); err != nil {
		t.Fatalf("FinishLogin: %v", err)
	}
	if _, err := f.FinishLogin(t.Context(), tok, body); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("the same answer again = %v, want %v", err, ErrNoCeremony)
	}
}

func TestService_ceremonyStorage(t *testing.T) {
	f := newFixture(t)
	m := f.member(t, "ana@sic.example")
	count := func() int {
		var n int
		if err := f.db.Reader().QueryRow("SELECT COUNT(*) FROM passkey_ceremonies").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	_, tok, err := f.BeginRegistration(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := f.db.Reader().QueryRow("SELECT hash FROM passkey_ceremonies").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), tok) {
		t.Fatal("the ceremony token is stored as it is")
	}
	f.BeginLogin(t.Context())
	if n := count(); n != 2 {
		t.Fatalf("%d ceremonies stored, want 2", n)
	}
	f.clock.Advance(f.Config().CeremonyTTL)
	f.BeginLogin(t.Context())
	if n := count(); n != 1 {
		t.Fatalf("%d ceremonies stored after expiry, want the new one only", n)
	}
	if _, err := f.FinishRegistration(t.Context(), m, tok, []byte("{}"), ""); !errors.Is(err, ErrNoCeremony) {
		t.Fatalf("FinishRegistration of a swept ceremony = %v, want %v", err, ErrNoCeremony)
	}
}

func TestService_RemoveRename(t *testing.T) {
	f := newFixture(t)
	ana := f.member(t, "ana@sic.example")
	bo := f.member(t, "bo@sic.example")
	f.register(t, ana)
	pks, _ := f.List(t.Context(), ana.ID)
	id := pks[0].ID

	if err := f.Rename(t.Context(), bo.ID, id, "mine"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rename by another member = %v, want %v", err, ErrNotFound)
	}
	if err := f.Remove(t.Context(), bo.ID, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove by another member = %v, want %v", err, ErrNotFound)
	}
	if err := f.Rename(t.Context(), ana.ID, id, strings.Repeat("x", 101)); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Rename too long = %v, want %v", err, ErrInvalidName)
	}
	if err := f.Rename(t.Context(), ana.ID, id, " phone "); err != nil {
		t.Fatal(err)
	}
	if pks, _ := f.List(t.Context(), ana.ID); pks[0].Name != "phone" {
		t.Fatalf("name %q after Rename", pks[0].Name)
	}
	if has, _ := f.Has(t.Context(), ana.ID); !has {
		t.Fatal("Has = false")
	}
	if err := f.Remove(t.Context(), ana.ID, id); err != nil {
		t.Fatal(err)
	}
	if has, _ := f.Has(t.Context(), ana.ID); has {
		t.Fatal("Has = true after Remove")
	}
	if err := f.Remove(t.Context(), ana.ID, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove again = %v, want %v", err, ErrNotFound)
	}
	if err := f.Remove(t.Context(), ana.ID, "not base64!"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of a malformed id = %v, want %v", err, ErrNotFound)
	}
}

func TestService_tooMany(t *testing.T) {
	f := newFixture(t)
	f.cfg.MaxPasskeys = 1
	m := f.member(t, "ana@sic.example")
	f.register(t, m)
	if _, _, err := f.BeginRegistration(t.Context(), m); !errors.Is(err, ErrTooMany) {
		t.Fatalf("BeginRegistration = %v, want %v", err, ErrTooMany)
	}
}

// A removed member's passkeys go with them.
func TestService_memberRemoved(t *testing.T) {
	f := newFixture(t)
	m := f.member(t, "ana@sic.example")
	k := f.register(t, m)
	if err := f.accounts.Remove(t.Context(), "test", m.ID); err != nil {
		t.Fatal(err)
	}
	opts, tok, _ := f.BeginLogin(t.Context())
	if _, err := f.FinishLogin(t.Context(), tok, k.get(t, opts, testOrigin)); !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("FinishLogin = %v, want %v", err, ErrUnknownCredential)
	}
}

func TestService_SecondFactor(t *testing.T) {
	f := newFixture(t)
	ana := f.member(t, "ana@sic.example")
	bo := f.member(t, "bo@sic.example")
	anaKey := f.register(t, ana)
	boKey := f.register(t, bo)

	t.Run("own passkey", func(t *testing.T) {
		pending, err := f.StartPending(t.Context(), ana.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Pending(t.Context(), pending); err != nil || got != ana.ID {
			t.Fatalf("Pending = %d, %v", got, err)
		}
		opts, tok, err := f.BeginSecondFactor(t.Context(), pending)
		if err != nil {
			t.Fatal(err)
		}
		if len(opts.Response.AllowedCredentials) != 1 {
			t.Fatalf("allowed credentials %v, want Ana's one", opts.Response.AllowedCredentials)
		}
		got, err := f.FinishSecondFactor(t.Context(), pending, tok, anaKey.get(t, opts, testOrigin))
		if err != nil || got != ana.ID {
			t.Fatalf("FinishSecondFactor = %d, %v", got, err)
		}
		if _, err := f.Pending(t.Context(), pending); !errors.Is(err, ErrNoPending) {
			t.Fatalf("Pending after success = %v, want %v", err, ErrNoPending)
		}
	})

	t.Run("another member's passkey", func(t *testing.T) {
		pending, _ := f.StartPending(t.Context(), ana.ID)
		opts, tok, err := f.BeginSecondFactor(t.Context(), pending)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.FinishSecondFactor(t.Context(), pending, tok, boKey.get(t, opts, testOrigin))
		if err == nil || got != 0 {
			t.Fatalf("FinishSecondFactor with Bo's passkey = %d, %v", got, err)
		}
		if _, err := f.Pending(t.Context(), pending); err != nil {
			t.Fatalf("a refused passkey ended the pending sign-in: %v", err)
		}
	})

	t.Run("a sign-in ceremony", func(t *testing.T) {
		pending, _ := f.StartPending(t.Context(), ana.ID)
		opts, tok, _ := f.BeginLogin(t.Context())
		if _, err := f.FinishSecondFactor(t.Context(), pending, tok, anaKey.get(t, opts, testOrigin)); !errors.Is(err, ErrNoCeremony) {
			t.Fatalf("FinishSecondFactor = %v, want %v", err, ErrNoCeremony)
		}
	})

	t.Run("another pending sign-in's ceremony", func(t *testing.T) {
		anaPending, _ := f.StartPending(t.Context(), ana.ID)
		boPending, _ := f.StartPending(t.Context(), bo.ID)
		opts, tok, _ := f.BeginSecondFactor(t.Context(), anaPending)
		if _, err := f.FinishSecondFactor(t.Context(), boPending, tok, anaKey.get(t, opts, testOrigin)); !errors.Is(err, ErrNoCeremony) {
			t.Fatalf("FinishSecondFactor = %v, want %v", err, ErrNoCeremony)
		}
	})

	t.Run("expired", func(t *testing.T) {
		pending, _ := f.StartPending(t.Context(), ana.ID)
		f.clock.Advance(f.Config().PendingTTL)
		if _, _, err := f.BeginSecondFactor(t.Context(), pending); !errors.Is(err, ErrNoPending) {
			t.Fatalf("BeginSecondFactor = %v, want %v", err, ErrNoPending)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		pending, _ := f.StartPending(t.Context(), ana.ID)
		if err := f.CancelPending(t.Context(), pending); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Pending(t.Context(), pending); !errors.Is(err, ErrNoPending) {
			t.Fatalf("Pending = %v, want %v", err, ErrNoPending)
		}
	})

	t.Run("no passkey", func(t *testing.T) {
		cy := f.member(t, "cy@sic.example")
		pending, _ := f.StartPending(t.Context(), cy.ID)
		if _, _, err := f.BeginSecondFactor(t.Context(), pending); !errors.Is(err, ErrUnknownCredential) {
			t.Fatalf("BeginSecondFactor = %v, want %v", err, ErrUnknownCredential)
		}
	})
}

func TestForSite(t *testing.T) {
	for _, tc := range []struct {
		base, rpid, origin string
		ok                 bool
	}{
		{"https://sic-be.example", "sic-be.example", "https://sic-be.example", true},
		{"https://sic-be.example:8443/", "sic-be.example", "https://sic-be.example:8443", true},
		{"http://localhost:8081", "localhost", "http://localhost:8081", true},
		{"http://127.0.0.1:8081", "", "", false},
		{"http://[::1]:8081", "", "", false},
		{"ftp://sic.example", "", "", false},
		{"not a url", "", "", false},
	} {
		got, ok := ForSite(DefaultConfig(), tc.base, "SIC")
		if ok != tc.ok || ok && (got.RPID != tc.rpid || len(got.Origins) != 1 || got.Origins[0] != tc.origin) {
			t.Errorf("%s: %v %q %v, want %v %q %q", tc.base, ok, got.RPID, got.Origins, tc.ok, tc.rpid, tc.origin)
		}
	}
}
