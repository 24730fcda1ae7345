package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/sqlitedb"
)

const password = "correct horse battery staple"

type fixture struct {
	site   *Site
	store  *account.Store
	mux    *http.ServeMux
	cookie *http.Cookie
}

var testPages = fstest.MapFS{
	"pages/home.html": {Data: []byte(`{{define "title"}}{{t "dashboard.title"}}{{end}}` +
		`{{define "content"}}<h1>{{t "dashboard.title"}}</h1>` +
		`<form method="post" action="/act"><input type="hidden" name="{{.FormField}}" value="{{.FormToken}}"><button>{{t "button.save"}}</button></form>{{end}}`)},
}

// newFixture serves a site with a home page for anyone, an editors' page
// and a form, and signs an editor in.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := sqlitedb.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := account.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store, err := account.NewStore(db, account.DefaultConfig("admin", "editor"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Product = "Safer Internet Centre"
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Nav = []NavItem{{Href: "/", Label: "nav.dashboard", Section: "dashboard"},
		{Href: "/queue", Label: "nav.members", Badge: func(*http.Request) string { return "3 waiting" }},
		{Href: "/quiet", Label: "nav.account", Badge: func(*http.Request) string { return "" }}}
	site, err := NewSite(cfg, bundle, store)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := site.Renderer(testPages, "pages/*.html")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{site: site, store: store, mux: http.NewServeMux()}
	f.mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.RenderIn(w, r, http.StatusOK, "home", "dashboard", nil)
	}))
	f.mux.Handle("GET /admin", site.RequireRole("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("members"))
	})))
	f.mux.Handle("POST /act", site.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("done"))
	})))
	f.mux.Handle("/static/", site.StaticHandler())

	m, tok, err := store.Add(t.Context(), "test", account.NewMember{Email: "ed@example.org", Name: "Ed", Roles: []string{"editor"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Accept(t.Context(), tok, password, ""); err != nil {
		t.Fatal(err)
	}
	stok, _, err := store.StartSession(t.Context(), m.ID, "test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.cookie = store.Cookie(stok, false)
	return f
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.site.Wrap(f.mux).ServeHTTP(w, r)
	return w
}

// formToken reads the token the home page's form carries.
func (f *fixture) formToken(t *testing.T) string {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(f.cookie)
	body := f.do(r).Body.String()
	_, after, ok := strings.Cut(body, `name="`+FormField+`" value="`)
	if !ok {
		t.Fatalf("no form token in %s", body)
	}
	tok, _, _ := strings.Cut(after, `"`)
	if tok == "" {
		t.Fatal("empty form token")
	}
	return tok
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/resources/?q=a", "/resources/?q=a"},
		{"/", "/"},
		{"", ""},
		{"https://evil.example/", ""},
		{"//evil.example/", ""},
		{"/\\evil.example/", ""},
		{"/\t/evil.example/", ""},
		{"javascript:alert(1)", ""},
		{"resources", ""},
		{"/a\r\nLocation: x", ""},
	} {
		if got := SafeNext(tc.in); got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderer_Headers(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(f.cookie)
	r.Header.Set("Accept-Language", "nl-BE,nl;q=0.9,en;q=0.5")
	w := f.do(r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Content-Language":       "nl",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	body := w.Body.String()
	for _, want := range []string{`<html lang="nl">`, `<a class="skip" href="#main">`, `<main id="main"`,
		`aria-current="page">Overzicht</a>`, "Uitloggen", `href="` + f.site.CSSURL() + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(body, "<h1") != 1 {
		t.Errorf("page has %d h1", strings.Count(body, "<h1"))
	}
}

func TestRenderer_NavBadge(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(f.cookie)
	r.Header.Set("Accept-Language", "en")
	body := f.do(r).Body.String()
	if !strings.Contains(body, `<a href="/queue">Members <span class="badge">3 waiting</span></a>`) {
		t.Errorf("the entry with a badge: %s", body)
	}
	if !strings.Contains(body, `<a href="/quiet">Account</a>`) {
		t.Errorf("an empty badge is shown: %s", body)
	}
}

func TestSite_StaticHandler(t *testing.T) {
	f := newFixture(t)
	w := f.do(httptest.NewRequest("GET", f.site.CSSURL(), nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("style sheet: %d %v", w.Code, w.Header())
	}
	if w := f.do(httptest.NewRequest("GET", "/static/web.0000.css", nil)); w.Code != http.StatusNotFound {
		t.Errorf("stale style sheet: %d, want 404", w.Code)
	}
}

func TestSite_RequireSignIn(t *testing.T) {
	f := newFixture(t)
	w := f.do(httptest.NewRequest("GET", "/admin?x=1", nil))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", w.Code)
	}
	if got, want := w.Header().Get("Location"), "/signin?next="+url.QueryEscape("/admin?x=1"); got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
}

func TestSite_RequireRole(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/admin", nil)
	r.AddCookie(f.cookie)
	w := f.do(r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("editor on an admin page: %d, want 403", w.Code)
	}
	if !strings.Contains(w.Body.String(), "Your role does not give access") {
		t.Errorf("403 page without its message: %s", w.Body)
	}
}

func TestSite_Protect(t *testing.T) {
	f := newFixture(t)
	good := f.formToken(t)
	for _, tc := range []struct {
		name    string
		token   string
		headers map[string]string
		want    int
	}{
		{"same origin with token", good, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"no browser headers with token", good, nil, http.StatusOK},
		{"cross-site", good, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"foreign origin", good, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"missing token", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"wrong token", strings.Repeat("0", len(good)), map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			if tc.token != "" {
				form.Set(FormField, tc.token)
			}
			r := httptest.NewRequest("POST", "http://node.example/act", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			r.AddCookie(f.cookie)
			w := f.do(r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want == http.StatusForbidden && !strings.Contains(w.Body.String(), "sent from another site") {
				t.Errorf("refusal without its message: %s", w.Body)
			}
		})
	}
}

func TestSite_TooMany(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "fr")
	w := httptest.NewRecorder()
	f.site.Locale(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.site.TooMany(w, r, 90_000_000_000)
	})).ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "90" {
		t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "Réessayez dans 2 minutes") {
		t.Errorf("429 page without the wait in French: %s", w.Body)
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/a?b=c#d", "//x", "/\\x", "https://x/", "/%2F%2Fx", "/\t/x", "/@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeNext(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("SafeNext(%q) = %q: changed instead of refused", s, got)
		}
		u, err := url.Parse(got)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/") ||
			strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("SafeNext let %q through", got)
		}
		// What a browser resolves it to against this site stays on it.
		base, _ := url.Parse("https://sic.example/x/")
		if r := base.ResolveReference(u); r.Host != "sic.example" {
			t.Fatalf("SafeNext(%q) leads to %s", s, r)
		}
	})
}

// The language chooser names each language in itself, from CLDR, and a
// choice is kept as the language it names.
func TestSite_Locale(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		query, cookie, lang string
	}{
		{"?lang=pt-BR", "pt", `<html lang="pt-PT">`},
		{"?lang=fr", "fr", `<html lang="fr">`},
		{"?lang=sv", "sv", `<html lang="sv">`},
		{"?lang=ja", "", `<html lang="nl">`}, // not offered: Accept-Language decides
		{"", "", `<html lang="nl">`},
	} {
		r := httptest.NewRequest("GET", "/"+tc.query, nil)
		r.AddCookie(f.cookie)
		r.Header.Set("Accept-Language", "nl-BE")
		w := f.do(r)
		body := w.Body.String()
		if !strings.Contains(body, tc.lang) {
			t.Errorf("%s: page lacks %s", tc.query, tc.lang)
		}
		var got string
		for _, c := range w.Result().Cookies() {
			if c.Name == "lang" {
				got = c.Value
			}
		}
		if got != tc.cookie {
			t.Errorf("%s: cookie %q, want %q", tc.query, got, tc.cookie)
		}
		for _, name := range []string{">English<", ">Nederlands<", ">français<", ">português<", ">suomi<", ">Deutsch<"} {
			if !strings.Contains(body, name) {
				t.Errorf("%s: chooser lacks %s", tc.query, name)
			}
		}
	}
}
