package node

import (
	"context"
	"errors"
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
	"github.com/bikfed/bikfed/protocol"
)

// The roles a member of a node may hold.
const (
	RoleAdmin            = "admin"
	RoleEditor           = "editor"
	RoleStaff            = "staff"
	RoleYouthCoordinator = "youth-coordinator"
	RoleYouth            = "youth"
)

// Roles are the node's roles, in the order they are listed to people.
var Roles = []string{RoleAdmin, RoleEditor, RoleStaff, RoleYouthCoordinator, RoleYouth}

// PathInvite is where an invitation link points on the node's workspace
// (the sign-in pages' invitation form, internal/signin mounted at /signin);
// the token follows it.
const PathInvite = "/signin/invite?token="

// actorAdminToken names the admin token as the actor in the audit log.
const actorAdminToken = "admin-token"

// AccountConfig is the sign-in configuration of a node's members. Its own
// cookie name keeps a node's session apart from a hub's on the same host.
func AccountConfig() account.Config {
	c := account.DefaultConfig(Roles...)
	c.CookieName = "bikfed-node-session"
	return c
}

// SessionCookie is the name of the session cookie of node id's workspace.
func SessionCookie(id string) string { return "bikfed-node-" + id + "-session" }

// openAccounts brings the member tables of node.db up to date and opens
// them, with the mail server when one is configured. Members live in
// node.db only: nothing of them is ever a change, so nothing of them is
// pushed.
func openAccounts(ctx context.Context, db *sqlitedb.DB, id string, cfg Config, log *slog.Logger) (*account.Store, mail.Sender, error) {
	if err := account.Migrate(ctx, db); err != nil {
		return nil, nil, fmt.Errorf("migrate members: %w", err)
	}
	if err := passkey.Migrate(ctx, db); err != nil {
		return nil, nil, fmt.Errorf("migrate passkeys: %w", err)
	}
	acfg := AccountConfig()
	// Browsers keep cookies per host, whatever the port: nodes sharing a
	// host name (several on one machine, or the demo's on localhost) must
	// not overwrite each other's sessions.
	acfg.CookieName = SessionCookie(id)
	acfg.Clock = cfg.Clock
	store, err := account.NewStore(db, acfg)
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

// Accounts returns the store of the node's members.
func (n *Node) Accounts() *account.Store { return n.accounts }

// Passkeys returns the service of the members' passkeys, for the relying
// party cfg names: the workspace's host, which the node does not know.
func (n *Node) Passkeys(cfg passkey.Config) (*passkey.Service, error) {
	return passkey.New(n.db, cfg)
}

// Mailer returns the mail server's sender, nil when none is configured.
func (n *Node) Mailer() mail.Sender { return n.mailer }

// PublicURL is the base of the node's links: the configured public URL, or
// the address it listens on.
func (n *Node) PublicURL() string {
	if n.cfg.PublicURL != "" {
		return strings.TrimRight(n.cfg.PublicURL, "/")
	}
	addr := n.cfg.Listen
	if a, ok := n.listenAddr.Load().(string); ok && a != "" {
		addr = a
	}
	// A node listening on every interface is reached on loopback from its
	// own machine; a public URL says how others reach it.
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("localhost", port)
		}
	}
	return "http://" + addr
}

// InviteURL is the link that accepts the invitation with token.
func (n *Node) InviteURL(token string) string {
	return n.PublicURL() + PathInvite + url.QueryEscape(token)
}

// Members is the node's member management: what the admin API's member
// routes do, for the workspace's pages to do the same.
func (n *Node) Members() *memberapi.API {
	name := n.ident.Name
	if name == "" {
		name = n.ident.Node
	}
	api, err := memberapi.New(memberapi.Config{
		Store:           n.accounts,
		Mail:            n.mailer,
		InviteURL:       n.InviteURL,
		InvitationTTL:   AccountConfig().InvitationTTL,
		PseudonymPrefix: n.ident.Node,
		PseudonymRole:   RoleYouth,
		Site:            name,
		Actor:           actorAdminToken,
		ActorOf:         apiActor,
		Logger:          n.log,
		Erase:           n.eraseMember,
	})
	if err != nil {
		panic(err) // every field is set above
	}
	return api
}

func (n *Node) mountMembers(mux *http.ServeMux) {
	n.Members().Mount(mux, n.authAs(RoleAdmin))
}

func validPublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute http(s) URL without query", s)
	}
	return nil
}

// eraseMember is the members API's removal with erasure.
func (n *Node) eraseMember(ctx context.Context, actor string, id int64) (memberapi.Erasure, error) {
	pe, err := n.ErasePerson(ctx, id, actor)
	if errors.Is(err, ErrEraseSelf) {
		return memberapi.Erasure{}, protocol.Errorf(protocol.CodeForbidden, "a member cannot erase themselves")
	}
	if err != nil {
		return memberapi.Erasure{}, err
	}
	return memberapi.Erasure{ID: pe.ID, Member: pe.MemberID, Posts: pe.Posts, Comments: pe.Comments, Flags: pe.Flags, Held: pe.Held}, nil
}
