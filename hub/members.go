package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/memberapi"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/sqlitedb"
)

// The roles a member of the coordination team may hold.
const (
	RoleOperator    = "operator"
	RoleCoordinator = "coordinator"
	RoleModerator   = "moderator"
)

// Roles are the hub's roles, in the order they are listed to people.
var Roles = []string{RoleOperator, RoleCoordinator, RoleModerator}

// PathConsoleInvite is where an invitation link points on the hub's
// console (the sign-in pages' invitation form, internal/signin mounted at
// /console/signin); the token follows it.
const PathConsoleInvite = "/console/signin/invite?token="

// actorOperatorToken names the operator token as the actor in the audit log.
const actorOperatorToken = "operator-token"

// AccountConfig is the sign-in configuration of the coordination team. Its
// own cookie name keeps a hub session apart from a node's on the same host.
func AccountConfig() account.Config {
	c := account.DefaultConfig(Roles...)
	c.CookieName = "bikfed-hub-session"
	return c
}

// openAccounts brings the member tables of hub.db up to date and opens
// them, with the mail server when one is configured.
func openAccounts(ctx context.Context, db *sqlitedb.DB, cfg Config, log *slog.Logger) (*account.Store, mail.Sender, error) {
	if err := account.Migrate(ctx, db); err != nil {
		return nil, nil, fmt.Errorf("migrate members: %w", err)
	}
	if err := passkey.Migrate(ctx, db); err != nil {
		return nil, nil, fmt.Errorf("migrate passkeys: %w", err)
	}
	store, err := account.NewStore(db, AccountConfig())
	if err != nil {
		return nil, nil, err
	}
	if !cfg.Mail.Configured() {
		return store, nil, nil
	}
	sender, err := mail.NewSMTP(cfg.Mail, log)
	if err != nil {
		return nil, nil, err
	}
	return store, sender, nil
}

// Accounts returns the store of the coordination team's members.
func (h *Hub) Accounts() *account.Store { return h.accounts }

// Passkeys returns the service of the team's passkeys, for the relying
// party cfg names.
func (h *Hub) Passkeys(cfg passkey.Config) (*passkey.Service, error) {
	return passkey.New(h.db, cfg)
}

// Mailer returns the mail server's sender, nil when none is configured.
func (h *Hub) Mailer() mail.Sender { return h.mailer }

// BaseURL is the base of the hub's links: the configured public URL, or the
// address it listens on.
func (h *Hub) BaseURL() string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/")
	}
	addr := h.cfg.Listen
	if a, ok := h.listenAddr.Load().(string); ok && a != "" {
		addr = a
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("localhost", port)
		}
	}
	return "http://" + addr
}

// InviteURL is the link that accepts the invitation with token.
func (h *Hub) InviteURL(token string) string {
	return h.BaseURL() + PathConsoleInvite + url.QueryEscape(token)
}

// Members returns the member management the admin API serves, for the
// console to invite through.
func (h *Hub) Members() *memberapi.API {
	api, err := memberapi.New(memberapi.Config{
		Store:         h.accounts,
		Mail:          h.mailer,
		InviteURL:     h.InviteURL,
		InvitationTTL: AccountConfig().InvitationTTL,
		Site:          "the BIK coordination team",
		Actor:         actorOperatorToken,
		Logger:        h.log,
	})
	if err != nil {
		panic(err) // every field is set above
	}
	return api
}

func (h *Hub) mountMembers(mux *http.ServeMux) {
	h.Members().Mount(mux, h.operator)
}
