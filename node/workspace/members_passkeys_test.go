package workspace

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

// fakePolicy keeps the policy in memory and records who set it.
type fakePolicy struct {
	roles []string
	actor string
	sets  int
}

func (f *fakePolicy) RequiredRoles(context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for _, r := range f.roles {
		out[r] = true
	}
	return out, nil
}

func (f *fakePolicy) SetRequiredRoles(_ context.Context, actor string, roles []string) error {
	f.roles, f.actor = slices.Clone(roles), actor
	f.sets++
	return nil
}

// policyWorkspace is a workspace with only the passkey policy's routes, a
// page that shows the members page's policy form, and a member of each of
// roles signed in; it returns the handler and each member's session
// cookie and id.
func policyWorkspace(t *testing.T, policy passkeyPolicy, roles ...string) (http.Handler, []*http.Cookie, []int64) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(ctx, db); err != nil {
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
	wc := web.DefaultConfig()
	wc.Product = "SIC"
	site, err := web.NewSite(wc, bundle, store)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := site.Renderer(templateFiles, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	ws := &Workspace{bundle: bundle, site: site, pages: pages, mux: http.NewServeMux(), passkeys: policy,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ws.mountPasskeyPolicy()
	ws.handle("GET "+PathMembers+"{$}", func(w http.ResponseWriter, r *http.Request) {
		choices, err := ws.passkeyChoices(r)
		if err != nil {
			t.Error(err)
		}
		ws.render(w, r, http.StatusOK, "members", sectionMembers, membersPage{Passkeys: choices})
	}, rolesMembers...)
	var cookies []*http.Cookie
	var ids []int64
	for i, role := range roles {
		m, tok, err := store.Add(ctx, "test", account.NewMember{Email: role + "@example.be", Name: role, Roles: []string{role}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Accept(ctx, tok, "correct horse battery staple "+string(rune('a'+i)), "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		sess, _, err := store.StartSession(ctx, m.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cookies, ids = append(cookies, store.Cookie(sess, false)), append(ids, m.ID)
	}
	return ws.Handler(), cookies, ids
}

// send makes a request with cookie; a form gets the form token of the
// members page unless it has one.
func send(t *testing.T, h http.Handler, cookie *http.Cookie, method, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if form != nil {
		if !form.Has(web.FormField) {
			page := send(t, h, cookie, "GET", PathMembers, nil).Body.String()
			if m := formTokenOf(page); m != "" {
				form.Set(web.FormField, m)
			}
		}
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func formTokenOf(page string) string {
	_, after, ok := strings.Cut(page, `name="form_token" value="`)
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(after, `"`)
	return tok
}

func TestWorkspace_setPasskeyPolicy(t *testing.T) {
	policy := &fakePolicy{roles: []string{"youth"}}
	h, cookies, ids := policyWorkspace(t, policy, node.RoleAdmin, node.RoleEditor)
	admin, editor := cookies[0], cookies[1]

	page := send(t, h, admin, "GET", PathMembers, nil)
	if page.Code != 200 || !strings.Contains(page.Body.String(), `name="passkey_role" value="youth" checked`) ||
		strings.Contains(page.Body.String(), `value="admin" checked`) || !strings.Contains(page.Body.String(), "Require a passkey to sign in for these roles") {
		t.Fatalf("the policy form: %d\n%s", page.Code, page.Body)
	}

	got := send(t, h, admin, "POST", pathMembersPasskeys, url.Values{"passkey_role": {"admin", "editor", "pilot", "admin"}})
	if got.Code != http.StatusSeeOther || got.Header().Get("Location") != PathMembers+"?done=passkeys" {
		t.Fatalf("set: %d %q", got.Code, got.Header().Get("Location"))
	}
	if strings.Join(policy.roles, " ") != "admin editor" || policy.actor != account.MemberActor(ids[0]) {
		t.Fatalf("policy %v set by %q", policy.roles, policy.actor)
	}

	for _, c := range []struct {
		name   string
		cookie *http.Cookie
		form   url.Values
		want   int
	}{
		{"an editor", editor, url.Values{}, http.StatusForbidden},
		{"no form token", admin, url.Values{web.FormField: {""}}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := policy.sets
			if got := send(t, h, c.cookie, "POST", pathMembersPasskeys, c.form); got.Code != c.want {
				t.Fatalf("%d, want %d", got.Code, c.want)
			}
			if policy.sets != before {
				t.Fatal("the policy changed")
			}
		})
	}

	none, noneCookies, _ := policyWorkspace(t, nil, node.RoleAdmin)
	if got := send(t, none, noneCookies[0], "POST", pathMembersPasskeys, url.Values{"passkey_role": {"admin"}}); got.Code != http.StatusNotFound {
		t.Fatalf("without passkeys: %d, want 404", got.Code)
	}
	if page := send(t, none, noneCookies[0], "GET", PathMembers, nil); strings.Contains(page.Body.String(), "passkey_role") {
		t.Fatal("the form is shown without passkeys")
	}
}
