package workspace

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/signin"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Paths of the workspace's parts.
const (
	PathDashboard    = "/"
	PathSignIn       = "/signin"
	PathResources    = "/resources/"
	PathTranslations = "/translations/"
	PathProfile      = "/profile"
	PathMembers      = "/members/"
	PathAccount      = "/account"
	pathStatic       = "/static/"
)

// Sections name the menu entry a page belongs to.
const (
	sectionDashboard    = "dashboard"
	sectionResources    = "resources"
	sectionTranslations = "translations"
	sectionProfile      = "profile"
	sectionMembers      = "members"
	sectionAccount      = "account"
)

// Who may open each part: editors author the SIC's content, admins manage
// its people and may also do what editors do; the profile speaks for the
// whole SIC, so both may edit it.
var (
	rolesContent = []string{node.RoleEditor, node.RoleAdmin}
	rolesMembers = []string{node.RoleAdmin}
)

// Config is how the workspace reaches its people.
type Config struct {
	// BaseURL is the workspace's address as people open it, for links in
	// emails and single sign-on; default: the node's public URL.
	BaseURL string
	// OIDC, when set, offers single sign-on with the SIC's identity
	// provider.
	OIDC *signin.OIDCConfig
	// FormKey keys the forms' tokens; keep it across restarts (at least 32
	// bytes). Without it, forms open at a restart must be sent again.
	FormKey []byte
	// Location is the time zone the workspace shows times in and reads
	// dates and times typed into its forms in; default: the system's.
	Location *time.Location
	// ClientAddr returns the client's address behind trusted proxies;
	// default: the peer's.
	ClientAddr func(*http.Request) netip.Addr
	// MaxUpload bounds one attachment sent through the workspace; default
	// and at most protocol.MaxBlobSize.
	MaxUpload int64
	// UploadDir keeps large files sent in pieces until they are whole;
	// empty: every file goes in one request.
	UploadDir string
	Log       *slog.Logger
}

// Workspace serves one node's workspace.
type Workspace struct {
	node   *node.Node
	cfg    Config
	bundle *locale.Bundle
	site   *web.Site
	signin *signin.Handler
	pages  *web.Renderer
	log    *slog.Logger
	// mux routes the pages, behind the site's middleware.
	mux *http.ServeMux
	// passkeys is the per-role passkey policy; nil without passkeys.
	passkeys    passkeyPolicy
	maxUpload   int64
	resumeLocks resumeLocks
}

// New returns the workspace of n.
func New(n *node.Node, cfg Config) (*Workspace, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = n.PublicURL()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("component", "workspace")
	bundle, err := locale.Load()
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	// The workspace speaks only the languages it can show whole.
	bundle = bundle.For(locale.WorkspaceParts()...)
	product := n.Identity().Name
	if product == "" {
		product = n.ID()
	}
	wc := web.DefaultConfig()
	wc.Product, wc.Home = product, PathDashboard
	wc.StaticPrefix, wc.SignIn, wc.SignOut = pathStatic, PathSignIn, PathSignIn+"/out"
	wc.Secure = strings.HasPrefix(cfg.BaseURL, "https://")
	wc.FormKey, wc.Log = cfg.FormKey, log
	wc.Nav = []web.NavItem{
		{Href: PathDashboard, Label: "nav.dashboard", Section: sectionDashboard},
		{Href: PathResources, Label: "nav.resources", Section: sectionResources, Roles: rolesContent},
		{Href: PathTranslations, Label: "nav.translations", Section: sectionTranslations, Roles: rolesContent},
		{Href: PathEvents, Label: "events.nav", Section: sectionEvents, Roles: rolesContent},
		{Href: PathProfile, Label: "nav.profile", Section: sectionProfile, Roles: rolesContent},
		{Href: PathCommunity, Label: "community.nav", Section: sectionCommunity, Roles: rolesCommunity},
		{Href: PathMembers, Label: "nav.members", Section: sectionMembers, Roles: rolesMembers},
		{Href: PathYouthApprovals, Label: "youth.nav.approvals", Section: sectionYouthApprovals, Roles: rolesYouthCoordinator,
			Badge: youthWaitingBadge(n)},
		{Href: PathYouthMine, Label: "youth.nav.mine", Section: sectionYouthMine, Roles: rolesYouth},
		{Href: PathAccount, Label: "nav.account", Section: sectionAccount},
	}
	site, err := web.NewSite(wc, bundle, n.Accounts())
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	sc := signin.DefaultConfig()
	sc.Prefix, sc.BaseURL, sc.OIDC, sc.ClientAddr, sc.Log = PathSignIn, cfg.BaseURL, cfg.OIDC, cfg.ClientAddr, log
	if sc.Passkeys, err = passkeys(n, site, cfg, product, log); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if m := n.Mailer(); m != nil {
		sc.Mail = m
	}
	sc.AccountLinks = []web.NavItem{{Href: node.PathNotifications, Label: "notifications.account_link"}}
	sh, err := signin.New(site, sc)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	pages, err := site.Renderer(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	ws := &Workspace{node: n, cfg: cfg, bundle: bundle, site: site, signin: sh, pages: pages, log: log,
		mux: http.NewServeMux()}
	if sc.Passkeys != nil {
		ws.passkeys = sc.Passkeys.Service()
	}
	ws.mux.Handle(PathSignIn, sh)
	ws.mux.Handle(PathSignIn+"/", sh)
	ws.mux.Handle(PathAccount, sh.Account())
	ws.mux.Handle(pathStatic, site.StaticHandler())
	ws.mountDashboard()
	ws.mountResources()
	ws.mountTranslations()
	ws.mountEvents()
	ws.mountProfile()
	ws.mountMembers()
	ws.mountYouth()
	ws.mountNotifications()
	ws.mountCommunity()
	ws.mountCommunityFiles()
	return ws, nil
}

// passkeys returns the passkey pages of the workspace, or nil when its
// address has no host name for passkeys to be bound to.
func passkeys(n *node.Node, site *web.Site, cfg Config, product string, log *slog.Logger) (*passkey.Handler, error) {
	pc := passkey.DefaultConfig()
	pc.Log = log
	pc, ok := passkey.ForSite(pc, cfg.BaseURL, product)
	if !ok {
		log.Info("passkeys are off: the workspace's address has no host name", "base_url", cfg.BaseURL)
		return nil, nil
	}
	svc, err := n.Passkeys(pc)
	if err != nil {
		return nil, err
	}
	hc := passkey.DefaultHandlerConfig()
	hc.Prefix, hc.Home, hc.ClientAddr, hc.Log = PathSignIn+"/passkey", PathDashboard, cfg.ClientAddr, log
	hc.CookieName = node.SessionCookie(n.ID()) + "-passkey"
	return passkey.NewHandler(svc, site, hc)
}

// Handler serves the workspace.
func (ws *Workspace) Handler() http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := ws.mux.Handler(r); pattern == "" {
			ws.site.NotFound(w, r)
			return
		}
		ws.mux.ServeHTTP(w, r)
	})
	site := ws.site.Wrap(inner)
	// Unsubscribe links work without a session or a form token (see
	// unsubscribeHandler); everything else is behind the site's layers.
	unsubscribe := ws.unsubscribeHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, node.PathUnsubscribe) {
			unsubscribe.ServeHTTP(w, r)
			return
		}
		site.ServeHTTP(w, r)
	})
}

// handle registers a page for signed-in members holding one of roles (any
// member when none are named). Visitors are sent to sign in; a member
// without the role gets a refusal that changes nothing.
func (ws *Workspace) handle(pattern string, h http.HandlerFunc, roles ...string) {
	var next http.Handler = h
	if len(roles) > 0 {
		next = ws.site.RequireRole(roles...)(next)
	} else {
		next = ws.site.RequireSignIn(next)
	}
	ws.mux.Handle(pattern, next)
}

// render writes page within section's part of the menu.
func (ws *Workspace) render(w http.ResponseWriter, r *http.Request, status int, page, section string, data any) {
	ws.pages.RenderIn(w, r, status, page, section, data)
}

// fail answers a request the workspace cannot serve because of err: a
// request cancelled by its client is left alone, anything else is logged
// and shown as the error page, which tells nothing of the cause.
func (ws *Workspace) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		return
	}
	ws.log.Error(what, "path", r.URL.Path, "err", err)
	ws.site.Error(w, r, http.StatusInternalServerError, "")
}

// zoneName names the time zone the workspace shows times in: its IANA
// name ("Europe/Brussels"), or for the system's own zone, which Go calls
// "Local", its abbreviation now ("CET", "UTC").
func (ws *Workspace) zoneName() string {
	if name := ws.cfg.Location.String(); name != "Local" {
		return name
	}
	abbr, _ := time.Now().In(ws.cfg.Location).Zone()
	return abbr
}

// Site returns the web site the workspace is built on, for the parts that
// need its middleware or error pages.
func (ws *Workspace) Site() *web.Site { return ws.site }
