package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/web.css
var styleSheet []byte

// NavItem is one entry of the main menu.
type NavItem struct {
	Href string
	// Label is the message id of the entry's text.
	Label string
	// Section marks the entry as the current page when a page is rendered
	// with the same section.
	Section string
	// Roles, when set, shows the entry only to members holding one of
	// them; the page itself must still check.
	Roles []string
	// Badge, when set, gives a short text shown next to the label, such as
	// how many items wait for the member ("3 waiting"); "" shows none. It
	// runs for every page the entry appears on, so it must be cheap.
	Badge func(r *http.Request) string
}

// Config describes one site: the node's workspace or the hub's console.
type Config struct {
	// Product is the name in the header, such as the centre's name.
	Product string
	// Home is the address the product name links to.
	Home string
	// Nav is the main menu shown to a signed-in member.
	Nav []NavItem
	// StaticPrefix is where the caller mounts StaticHandler, ending in a
	// slash ("/static/", "/console/static/").
	StaticPrefix string
	// SignIn is the sign-in page, where RequireSignIn sends visitors.
	SignIn string
	// SignOut is the address the header's sign-out form posts to.
	SignOut string
	// Secure is whether the site is served over TLS; it picks the session
	// cookie's name and flags.
	Secure bool
	// LangCookie names the cookie that remembers a chosen language; empty
	// for none.
	LangCookie string
	// FormKey keys the forms' tokens. It should survive restarts, so that
	// a form opened before one can still be sent; without it a random key
	// is made at start.
	FormKey []byte
	// MaxFormBytes bounds the body of a form that is not a file upload.
	MaxFormBytes int64
	Log          *slog.Logger
}

// DefaultConfig returns the settings that do not depend on the site.
func DefaultConfig() Config {
	return Config{Home: "/", StaticPrefix: "/static/", SignIn: "/signin", SignOut: "/signin/out",
		LangCookie: "lang", MaxFormBytes: 256 << 10}
}

// Validate reports every field that is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.Product == "" {
		errs = append(errs, errors.New("web: Product is empty"))
	}
	for name, p := range map[string]string{"Home": c.Home, "SignIn": c.SignIn, "SignOut": c.SignOut} {
		if SafeNext(p) == "" {
			errs = append(errs, fmt.Errorf("web: %s %q is not a local path", name, p))
		}
	}
	if !strings.HasPrefix(c.StaticPrefix, "/") || !strings.HasSuffix(c.StaticPrefix, "/") {
		errs = append(errs, fmt.Errorf("web: StaticPrefix %q must start and end with a slash", c.StaticPrefix))
	}
	if c.FormKey != nil && len(c.FormKey) < 32 {
		errs = append(errs, errors.New("web: FormKey is shorter than 32 bytes"))
	}
	if c.MaxFormBytes <= 0 {
		errs = append(errs, errors.New("web: MaxFormBytes must be positive"))
	}
	return errors.Join(errs...)
}

// Site holds one site's settings, its style sheet, its error pages and its
// middleware.
type Site struct {
	cfg     Config
	bundle  *locale.Bundle
	store   *account.Store
	log     *slog.Logger
	cssName string
	errors  *Renderer
	cop     *http.CrossOriginProtection
	scripts []string
}

// NewSite returns the site cfg describes, with text from bundle and
// sessions from store.
func NewSite(cfg Config, bundle *locale.Bundle, store *account.Store) (*Site, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FormKey == nil {
		cfg.FormKey = make([]byte, 32)
		rand.Read(cfg.FormKey)
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	sum := sha256.Sum256(styleSheet)
	s := &Site{cfg: cfg, bundle: bundle, store: store, log: log.With("component", "web"),
		cssName: "web." + hex.EncodeToString(sum[:6]) + ".css"}
	var err error
	if s.errors, err = s.Renderer(templateFiles, "templates/error.html"); err != nil {
		return nil, err
	}
	s.cop = http.NewCrossOriginProtection()
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Info("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		s.Error(w, r, http.StatusForbidden, "error.forged")
	}))
	return s, nil
}

// AddScript adds an external script, at a path the caller serves, to every
// page. Call it before the site serves.
func (s *Site) AddScript(src string) { s.scripts = append(s.scripts, src) }

// Config returns the site's settings.
func (s *Site) Config() Config { return s.cfg }

// Store returns the accounts the site's sessions come from.
func (s *Site) Store() *account.Store { return s.store }

// CSSURL is the style sheet's address. It names the sheet's content, so
// that browsers may keep it forever and a new sheet gets a new address.
func (s *Site) CSSURL() string { return s.cfg.StaticPrefix + s.cssName }

// StaticHandler serves the style sheet; the caller mounts it at
// Config.StaticPrefix.
func (s *Site) StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != s.CSSURL() {
			s.Error(w, r, http.StatusNotFound, "")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(styleSheet)
	})
}

// formToken binds a form to a session: an HMAC of the session's id, which
// only this server can compute and which stops working when the session
// ends.
func (s *Site) formToken(sessionID string) string {
	m := hmac.New(sha256.New, s.cfg.FormKey)
	m.Write([]byte("form\x00" + sessionID))
	return hex.EncodeToString(m.Sum(nil))
}
