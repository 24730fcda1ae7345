package console

import (
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/signin"
	"github.com/bikfed/bikfed/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Where the console's pages live.
const (
	Prefix       = "/console/"
	pathSignIn   = "/console/signin"
	pathAccount  = "/console/account"
	pathStatic   = "/console/static/"
	pathNodes    = "/console/nodes/"
	pathErasures = "/console/erasures"
	pathMembers  = "/console/members/"
	pathAudit    = "/console/members/audit"
)

// Config says how the console presents itself.
type Config struct {
	// Product is the name in every page's header.
	Product string
	// Mail sends password reset links; nil uses the hub's mail server, or
	// without one prints them to standard output.
	Mail mail.Sender
	Log  *slog.Logger
}

// DefaultConfig returns the console's usual settings.
func DefaultConfig() Config {
	return Config{Product: "BIK network console"}
}

// Validate reports what is wrong.
func (c Config) Validate() error {
	if c.Product == "" {
		return errors.New("console: Product is empty")
	}
	return nil
}

// Console is the hub's console, an http.Handler for everything under
// /console/.
type Console struct {
	hub   *hub.Hub
	site  *web.Site
	pages *web.Renderer
	log   *slog.Logger
	mux   *http.ServeMux
	root  http.Handler
	// bundle gives the credit line of news in the news item's language.
	bundle *locale.Bundle
	// portalLangs are the portal's interface languages, which the
	// bulletin's subscribers choose among: its previews are in them.
	portalLangs []string
}

// New builds the console of h.
func New(h *hub.Hub, cfg Config) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "console")
	bundle, err := locale.Load()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	portalLangs := bundle.For(locale.PortalParts()...).Languages()
	// The console speaks only the languages it can show whole.
	bundle = bundle.For(locale.ConsoleParts()...)
	key, err := h.ConsoleFormKey()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	wc := web.DefaultConfig()
	wc.Product = cfg.Product
	wc.Home = Prefix
	wc.StaticPrefix = pathStatic
	wc.SignIn = pathSignIn
	wc.SignOut = pathSignIn + "/out"
	wc.Secure = h.Secure()
	wc.LangCookie = "console_lang"
	wc.FormKey = key
	wc.Log = log
	wc.Nav = []web.NavItem{
		{Href: Prefix, Label: "console.nav.overview", Section: "overview"},
		{Href: pathCommunity, Label: "console.community.nav", Section: "community"},
		{Href: pathErasures, Label: "console.nav.erasures", Section: "erasures", Roles: []string{hub.RoleOperator, hub.RoleCoordinator}},
		{Href: pathModeration, Label: "console.moderation.nav", Section: "moderation", Roles: moderationReaders},
		{Href: pathServices, Label: "console.services.nav", Section: "services", Roles: serviceEditors},
		{Href: pathBulletin, Label: "console.bulletin.nav", Section: "bulletin", Roles: serviceEditors},
		{Href: pathMembers, Label: "console.nav.members", Section: "members", Roles: []string{hub.RoleOperator}},
		{Href: pathAccount, Label: "nav.account", Section: "account"},
	}
	site, err := web.NewSite(wc, bundle, h.Accounts())
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	pages, err := site.Renderer(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	sender := cfg.Mail
	if sender == nil {
		sender = h.Mailer()
	}
	sc := signin.DefaultConfig()
	sc.Prefix = pathSignIn
	sc.Intro = "console.signin.intro"
	sc.BaseURL = h.BaseURL()
	sc.ClientAddr = h.ClientAddr
	sc.Mail = sender
	sc.Log = log
	if pc, ok := passkey.ForSite(passkey.DefaultConfig(), sc.BaseURL, cfg.Product); ok {
		pc.Log = log
		svc, err := h.Passkeys(pc)
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		hc := passkey.DefaultHandlerConfig()
		hc.Prefix, hc.Home, hc.CookieName, hc.ClientAddr, hc.Log = pathSignIn+"/passkey", Prefix, "bikfed-hub-passkey", h.ClientAddr, log
		if sc.Passkeys, err = passkey.NewHandler(svc, site, hc); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	} else {
		log.Info("passkeys are off: the hub's address has no host name", "base_url", sc.BaseURL)
	}
	si, err := signin.New(site, sc)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c := &Console{hub: h, site: site, pages: pages, log: log, mux: http.NewServeMux(), bundle: bundle, portalLangs: portalLangs}
	operator := c.requireRole(hub.RoleOperator)
	m := c.mux
	m.Handle(pathStatic, site.StaticHandler())
	m.Handle(pathSignIn, si)
	m.Handle(pathSignIn+"/", si)
	m.Handle(pathAccount, si.Account())
	m.Handle("GET "+Prefix+"{$}", site.RequireSignIn(http.HandlerFunc(c.overview)))
	m.Handle("GET "+pathNodes+"new", operator(http.HandlerFunc(c.showRegister)))
	m.Handle("POST "+pathNodes+"new", operator(http.HandlerFunc(c.register)))
	m.Handle("GET "+pathNodes+"{id}", site.RequireSignIn(http.HandlerFunc(c.node)))
	m.Handle("GET "+pathNodes+"{id}/{action}", operator(http.HandlerFunc(c.confirmNodeAction)))
	m.Handle("POST "+pathNodes+"{id}/{action}", operator(http.HandlerFunc(c.nodeAction)))
	m.Handle("GET "+pathErasures, c.requireRole(hub.RoleOperator, hub.RoleCoordinator)(http.HandlerFunc(c.erasures)))
	m.Handle("GET "+pathMembers+"{$}", operator(http.HandlerFunc(c.members)))
	m.Handle("POST "+pathMembers+"{$}", operator(http.HandlerFunc(c.addMember)))
	m.Handle("GET "+pathAudit, operator(http.HandlerFunc(c.audit)))
	m.Handle("GET "+pathMembers+"{id}", operator(http.HandlerFunc(c.member)))
	m.Handle("POST "+pathMembers+"{id}/roles", operator(http.HandlerFunc(c.setRoles)))
	m.Handle("POST "+pathMembers+"{id}/invite", operator(http.HandlerFunc(c.inviteAgain)))
	m.Handle("GET "+pathMembers+"{id}/{action}", operator(http.HandlerFunc(c.confirmMemberAction)))
	m.Handle("POST "+pathMembers+"{id}/{action}", operator(http.HandlerFunc(c.memberAction)))
	c.communityRoutes()
	c.mountModeration(m)
	c.serviceRoutes()
	c.bulletinRoutes()
	c.root = site.Wrap(http.HandlerFunc(c.route))
	return c, nil
}

// ServeHTTP serves the console's pages.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.root.ServeHTTP(w, r) }

// route gives an address no page answers the console's own 404 page,
// rather than the mux's plain text.
func (c *Console) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.site.NotFound(w, r)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// requireRole lets through members holding one of roles; anyone else
// signed in gets a 403 page that says the page is not for their role.
func (c *Console) requireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return c.site.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m, _ := web.Member(r)
			if !slices.ContainsFunc(roles, m.HasRole) {
				c.log.Info("page refused to the member's role", "member", m.ID, "method", r.Method, "path", r.URL.Path)
				c.site.Error(w, r, http.StatusForbidden, "console.error.role")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// signedIn returns the signed-in member; the routes make sure there is one.
func signedIn(r *http.Request) account.Member {
	m, _ := web.Member(r)
	return m
}

// actor names the signed-in member in the audit log.
func actor(r *http.Request) string { return account.MemberActor(signedIn(r).ID) }

// fail logs an unexpected error and shows the 500 page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error(what, "err", err)
	c.site.Error(w, r, http.StatusInternalServerError, "")
}
