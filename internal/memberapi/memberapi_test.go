package memberapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// recorder is a mail.Sender that keeps what it is given, or fails.
type recorder struct {
	mu   sync.Mutex
	msgs []mail.Message
	err  error
}

func (r *recorder) Send(ctx context.Context, m mail.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

type fixture struct {
	srv   *httptest.Server
	logs  *bytes.Buffer
	api   *API
	store *account.Store
}

func newFixture(t testing.TB, sender mail.Sender) *fixture {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store, err := account.NewStore(db, account.DefaultConfig("editor", "youth"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	api, err := New(Config{
		Store: store, Mail: sender, InvitationTTL: 7 * 24 * time.Hour,
		InviteURL:       func(tok string) string { return "https://sic.example/invite/" + tok },
		PseudonymPrefix: "be", PseudonymRole: "youth", Site: "SIC Belgium", Actor: "test",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, func(h http.HandlerFunc) http.HandlerFunc { return h })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, logs: logs, api: api, store: store}
}

func (f *fixture) add(t *testing.T, req AddRequest) (int, Invitation) {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(f.srv.URL+PathMembers, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inv Invitation
	json.NewDecoder(resp.Body).Decode(&inv)
	return resp.StatusCode, inv
}

func TestAPI_Add_Mail(t *testing.T) {
	const email, name = "kid@example.be", "Robin Janssens"

	t.Run("emailed: the link goes to the member only", func(t *testing.T) {
		rec := &recorder{}
		f := newFixture(t, rec)
		code, inv := f.add(t, AddRequest{Email: email, Name: name, Roles: []string{"youth"}, Handle: "robin"})
		if code != 201 || !inv.Emailed || inv.Link != "" || inv.Member.Pseudonym != "be-robin" {
			t.Fatalf("add: %d %+v", code, inv)
		}
		if len(rec.msgs) != 1 {
			t.Fatalf("sent %d messages", len(rec.msgs))
		}
		m := rec.msgs[0]
		if m.To[0] != email || !strings.HasPrefix(m.Link, "https://sic.example/invite/") || !strings.Contains(m.Text, m.Link) ||
			!strings.Contains(m.Subject, "SIC Belgium") || !strings.Contains(m.Text, "7 days") {
			t.Fatalf("message %+v", m)
		}
		if _, _, err := mail.Build(m, "sic@example.be"); err != nil {
			t.Fatalf("the invitation is not a valid message: %v", err)
		}
		if strings.Contains(f.logs.String(), email) || strings.Contains(f.logs.String(), name) {
			t.Fatalf("the log names the member:\n%s", f.logs)
		}
	})

	t.Run("mail fails: the link goes to the caller, the log keeps no address", func(t *testing.T) {
		rec := &recorder{err: errors.New("550 <" + email + ">: mailbox unavailable")}
		f := newFixture(t, rec)
		code, inv := f.add(t, AddRequest{Email: email, Name: name, Roles: []string{"youth"}, Handle: "robin"})
		if code != 201 || inv.Emailed || !strings.HasPrefix(inv.Link, "https://sic.example/invite/") || inv.MailError == "" {
			t.Fatalf("add: %d %+v", code, inv)
		}
		if !strings.Contains(f.logs.String(), "invitation not emailed") {
			t.Fatalf("the failure is not logged:\n%s", f.logs)
		}
		if strings.Contains(f.logs.String(), email) || strings.Contains(f.logs.String(), name) {
			t.Fatalf("the log names the member:\n%s", f.logs)
		}
	})

	t.Run("no mail server: the link goes to the caller", func(t *testing.T) {
		f := newFixture(t, nil)
		code, inv := f.add(t, AddRequest{Email: email, Name: name, Roles: []string{"editor"}})
		if code != 201 || inv.Emailed || inv.Link == "" || inv.MailError != "" {
			t.Fatalf("add: %d %+v", code, inv)
		}
	})
}

func TestValidHandle(t *testing.T) {
	for _, c := range []struct {
		h  string
		ok bool
	}{
		{"robin", true}, {"r", true}, {"robin-2", true}, {strings.Repeat("a", MaxHandle), true},
		{"", false}, {"-robin", false}, {"robin-", false}, {"ro--bin", false}, {"Robin", false},
		{"ro bin", false}, {"röbin", false}, {strings.Repeat("a", MaxHandle+1), false},
	} {
		if err := validHandle(c.h); (err == nil) != c.ok {
			t.Errorf("validHandle(%q) = %v, want ok=%v", c.h, err, c.ok)
		}
	}
}

// FuzzAdd feeds arbitrary bodies to POST /admin/v1/members: the answer is
// a status, never a panic or a 5xx.
func FuzzAdd(f *testing.F) {
	f.Add([]byte(`{"email":"a@b.example","name":"A","roles":["editor"]}`))
	f.Add([]byte(`{"email":"k@b.example","name":"K","roles":["youth"],"handle":"k"}`))
	f.Add([]byte(`{"email":1}`))
	f.Add([]byte(`{"email":"a@b.example","name":"A","roles":["editor"]} {}`))
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := http.Post(fx.srv.URL+PathMembers, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q\n%s", resp.StatusCode, body, fx.logs)
		}
	})
}

// TestAPI_Add refuses a handle that does not fit the roles with the
// sentinel a caller words itself, and the store's refusals wrapped.
func TestAPI_Add(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	if _, err := f.api.Add(ctx, "member:9", AddRequest{Email: "a@example.be", Name: "A", Roles: []string{"editor"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		req  AddRequest
		want error
	}{
		{"youth without a handle", AddRequest{Email: "k@example.be", Name: "K", Roles: []string{"youth"}}, ErrHandleRequired},
		{"editor with a handle", AddRequest{Email: "e@example.be", Name: "E", Roles: []string{"editor"}, Handle: "e"}, ErrHandleNotAllowed},
		{"bad handle", AddRequest{Email: "k@example.be", Name: "K", Roles: []string{"youth"}, Handle: "K!"}, ErrHandleInvalid},
		{"email taken", AddRequest{Email: "A@example.be", Name: "A2", Roles: []string{"editor"}}, account.ErrEmailTaken},
		{"unknown role", AddRequest{Email: "x@example.be", Name: "X", Roles: []string{"pilot"}}, account.ErrInvalidRole},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.api.Add(ctx, "member:9", c.req)
			if !errors.Is(err, c.want) {
				t.Fatalf("Add: %v, want %v", err, c.want)
			}
			if errors.Is(c.want, ErrHandleRequired) && protocol.ErrorCode(err) != protocol.CodeInvalidField {
				t.Fatalf("code %s, want %s", protocol.ErrorCode(err), protocol.CodeInvalidField)
			}
		})
	}
	inv, err := f.api.Add(ctx, "member:9", AddRequest{Email: "k@example.be", Name: "K", Roles: []string{"youth"}, Handle: "kim"})
	if err != nil || inv.Member.Pseudonym != "be-kim" || inv.Link == "" || inv.Emailed {
		t.Fatalf("Add youth: %+v, %v", inv, err)
	}
	evs, err := f.store.Audit(ctx, 0, 10)
	if err != nil || len(evs) == 0 || evs[0].Actor != "member:9" {
		t.Fatalf("audit: %+v, %v; want the caller's actor", evs, err)
	}
}

// TestAPI_SetRoles_Reinvite are the Go calls behind PUT …/roles and POST
// …/invite, with the caller as the audit actor.
func TestAPI_SetRoles_Reinvite(t *testing.T) {
	rec := &recorder{}
	f := newFixture(t, rec)
	ctx := t.Context()
	inv, err := f.api.Add(ctx, "member:1", AddRequest{Email: "e@example.be", Name: "E", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	id := inv.Member.ID
	if _, err := f.api.SetRoles(ctx, "member:1", id, []string{"youth"}); !errors.Is(err, ErrNoPseudonym) {
		t.Fatalf("youth role for a member without a pseudonym: %v", err)
	}
	m, err := f.api.SetRoles(ctx, "member:1", id, []string{"editor"})
	if err != nil || len(m.Roles) != 1 {
		t.Fatalf("SetRoles: %+v, %v", m, err)
	}
	again, err := f.api.Reinvite(ctx, "member:1", id)
	if err != nil || !again.Emailed || again.Link != "" || len(rec.msgs) != 2 {
		t.Fatalf("Reinvite: %+v, %v, %d messages", again, err, len(rec.msgs))
	}
	if _, err := f.api.Reinvite(ctx, "member:1", id+100); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Reinvite of nobody: %v", err)
	}
	evs, _ := f.store.Audit(ctx, 0, 1)
	if len(evs) != 1 || evs[0].Type != account.EventInvited || evs[0].Actor != "member:1" {
		t.Fatalf("audit %+v", evs)
	}
	if got := f.api.Pseudonym("kim"); got != "be-kim" {
		t.Fatalf("Pseudonym: %q", got)
	}
}
