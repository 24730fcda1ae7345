package signin

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

// Config says where the pages live and how they reach the outside.
type Config struct {
	// Prefix is the path the pages are mounted under, such as "/signin".
	// The site's SignIn must be Prefix and its SignOut Prefix+"/out".
	Prefix string
	// BaseURL is the site's address as people open it ("https://sic.example"),
	// for the links in emails.
	BaseURL string
	// ClientAddr returns the address of the client behind a request; the
	// server's trusted-proxy rules decide it. Default: the peer's address.
	ClientAddr func(*http.Request) netip.Addr
	// Mail sends reset links. Default: a mail.Printer on standard output,
	// for a server without a mail server.
	Mail mail.Sender
	// MailTimeout bounds the sending of one reset link.
	MailTimeout time.Duration
	// ResetRate and ResetBurst limit the reset links one client address
	// may ask for, so that the form cannot flood someone's mailbox.
	ResetRate  float64
	ResetBurst int
	// Intro is the message id of the sign-in form's first sentence, which
	// says what one signs in to; empty is the workspace's.
	Intro string
	// OIDC, when set, offers single sign-on with an OpenID Connect
	// provider next to the password.
	OIDC *OIDCConfig
	// Passkeys, when set, offers sign-in with a passkey, asks for one after
	// the password of a member whose role the passkey policy names, and
	// lists the member's passkeys on the account page. The handler's prefix
	// must lie under Prefix: the sign-in pages serve it, and add its
	// script to every page of the site.
	Passkeys *passkey.Handler
	// AccountLinks are the server's other pages about the member's own
	// account (such as their email notifications), listed on the account
	// page; Label is a message id.
	AccountLinks []web.NavItem
	Log          *slog.Logger
}

// DefaultConfig returns the node's settings.
func DefaultConfig() Config {
	return Config{Prefix: "/signin", MailTimeout: time.Minute, ResetRate: 1.0 / 60, ResetBurst: 5}
}

// Validate reports every field that is wrong.
func (c Config) Validate() error {
	var errs []error
	if web.SafeNext(c.Prefix) == "" || strings.HasSuffix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("signin: Prefix %q must be a local path without a trailing slash", c.Prefix))
	}
	if !strings.HasPrefix(c.BaseURL, "https://") && !strings.HasPrefix(c.BaseURL, "http://") {
		errs = append(errs, fmt.Errorf("signin: BaseURL %q is not an http(s) address", c.BaseURL))
	}
	if c.MailTimeout <= 0 {
		errs = append(errs, errors.New("signin: MailTimeout must be positive"))
	}
	if c.ResetRate <= 0 || c.ResetBurst <= 0 {
		errs = append(errs, errors.New("signin: ResetRate and ResetBurst must be positive"))
	}
	if c.OIDC != nil {
		if err := c.OIDC.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Passkeys != nil && !strings.HasPrefix(c.Passkeys.Prefix(), c.Prefix+"/") {
		errs = append(errs, fmt.Errorf("signin: the passkey prefix %q is not under %q", c.Passkeys.Prefix(), c.Prefix))
	}
	return errors.Join(errs...)
}

// Handler serves the sign-in pages.
type Handler struct {
	cfg    Config
	site   *web.Site
	store  *account.Store
	pages  *web.Renderer
	log    *slog.Logger
	resets *httplimit.RateLimiter
	oidc   *oidcFlow // nil without single sign-on
	// passkeys and keys are nil without passkeys.
	passkeys *passkey.Handler
	keys     *passkey.Service
	mux      *http.ServeMux
	// minLen and maxLen are the password policy's limits, for the rules
	// shown next to a new password.
	minLen, maxLen int
}

// New returns the handler of the sign-in pages of site.
func New(site *web.Site, cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sc := site.Config(); sc.SignIn != cfg.Prefix || sc.SignOut != cfg.Prefix+"/out" {
		return nil, fmt.Errorf("signin: the site signs in at %q and out at %q, not under %q", sc.SignIn, sc.SignOut, cfg.Prefix)
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = peerAddr
	}
	if cfg.Intro == "" {
		cfg.Intro = "signin.intro"
	}
	if cfg.Mail == nil {
		cfg.Mail = mail.NewPrinter(os.Stdout)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	pages, err := site.Renderer(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, site: site, store: site.Store(), pages: pages, log: log.With("component", "signin"),
		resets: httplimit.NewRateLimiter(cfg.ResetRate, cfg.ResetBurst), mux: http.NewServeMux()}
	// The empty password breaks the length rule, whose error carries
	// both limits.
	var pe *account.PasswordError
	if errors.As(h.store.CheckPassword("", ""), &pe) {
		h.minLen, h.maxLen = pe.Min, pe.Max
	}
	p := cfg.Prefix
	h.mux.HandleFunc("GET "+p, h.showSignIn)
	h.mux.HandleFunc("POST "+p, h.checkSignIn)
	h.mux.HandleFunc("POST "+p+"/out", h.signOut)
	h.mux.HandleFunc("GET "+p+"/invite", h.showInvitation)
	h.mux.HandleFunc("POST "+p+"/invite", h.acceptInvitation)
	h.mux.HandleFunc("GET "+p+"/forgot", h.showForgot)
	h.mux.HandleFunc("POST "+p+"/forgot", h.sendReset)
	h.mux.HandleFunc("GET "+p+"/reset", h.showReset)
	h.mux.HandleFunc("POST "+p+"/reset", h.resetPassword)
	if cfg.OIDC != nil {
		oc := *cfg.OIDC
		if oc.RedirectURL == "" {
			oc.RedirectURL = cfg.BaseURL + p + "/oidc/callback"
		}
		if oc.DisplayName == "" {
			oc.DisplayName = defaultDisplayName(oc.Issuer)
		}
		h.oidc = newOIDCFlow(oc)
		h.mux.HandleFunc("GET "+p+"/oidc/start", h.oidcStart)
		h.mux.HandleFunc("GET "+p+"/oidc/callback", h.oidcCallback)
	}
	if pk := cfg.Passkeys; pk != nil {
		h.passkeys, h.keys = pk, pk.Service()
		h.mux.Handle(pk.Prefix()+"/", pk)
		h.mux.HandleFunc("GET "+p+"/confirm", h.showConfirm)
		h.mux.HandleFunc("POST "+p+"/confirm", h.cancelConfirm)
		site.AddScript(pk.ScriptURL())
	}
	return h, nil
}

// ServeHTTP serves the pages under the prefix. It expects to run behind
// the site's middleware (web.Site.Wrap).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.site.NotFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (h *Handler) addr(r *http.Request) string {
	a := h.cfg.ClientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
