package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/signin"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

// demoSignInServer serves the sign-in pages at /signin over a fresh member
// store with the node's roles, as a node's workspace does.
func demoSignInServer(t *testing.T) (*httptest.Server, *account.Store) {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "node.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store, err := account.NewStore(db, node.AccountConfig())
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wcfg := web.DefaultConfig()
	wcfg.Product = demoNames["be"]
	wcfg.Log = log
	site, err := web.NewSite(wcfg, bundle, store)
	if err != nil {
		t.Fatal(err)
	}
	scfg := signin.DefaultConfig()
	scfg.BaseURL = "http://localhost"
	scfg.Mail = mail.NewPrinter(io.Discard)
	scfg.Log = log
	h, err := signin.New(site, scfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signin", h)
	mux.Handle("/signin/", h)
	srv := httptest.NewServer(site.Wrap(mux))
	t.Cleanup(srv.Close)
	return srv, store
}

// TestDemoInvitePages shows that the demo test's check of invitation pages
// passes the sign-in pages' real form for the demo's invitations, and
// finds a link already used and a server with no sign-in pages.
func TestDemoInvitePages(t *testing.T) {
	srv, store := demoSignInServer(t)
	base := srv.URL + "/"
	invited, err := inviteDemoPeople(t.Context(), store, "be", demoPeople["be"], func(tok string) string {
		return base + strings.TrimPrefix(node.PathInvite, "/") + tok
	})
	if err != nil {
		t.Fatal(err)
	}
	var people []demoOutPerson
	for _, p := range invited {
		people = append(people, demoOutPerson{role: p.role, who: p.name, link: p.link})
	}
	if youth := invited[len(invited)-1]; youth.pseudonym != "be-pixelpanda" {
		t.Errorf("the Belgian youth member's pseudonym is %q, want be-pixelpanda", youth.pseudonym)
	}

	served, problems, err := demoInvitePages(base, "signin/invite?token=", people)
	if err != nil || !served || len(problems) != 0 {
		t.Fatalf("fresh invitations: served %v, problems %q, err %v", served, problems, err)
	}

	// The editor sets their password: their link is spent.
	tok := strings.TrimPrefix(people[1].link, base+"signin/invite?token=")
	if _, err := store.Accept(t.Context(), tok, "a long passphrase for the demo's editor", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	_, problems, err = demoInvitePages(base, "signin/invite?token=", people)
	if err != nil || len(problems) != 1 || !strings.HasPrefix(problems[0], node.RoleEditor+":") {
		t.Errorf("after the editor's link was used: problems %q, err %v; want one, the editor's", problems, err)
	}

	empty := httptest.NewServer(http.NotFoundHandler())
	defer empty.Close()
	if served, _, err := demoInvitePages(empty.URL+"/", "signin/invite?token=", people); served || err != nil {
		t.Errorf("a server without sign-in pages: served %v, err %v", served, err)
	}
}
