package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/memberapi"
)

// adminOpener returns the admin API a one-shot command acts through (the
// hub's or the node's), and what closes it.
type adminOpener func(ctx context.Context, name string, args []string, extra func(*settings)) (*adminClient, func(), error)

func (e *cmdEnv) hubMember(ctx context.Context, args []string) error {
	return e.member(ctx, "hub", args, func(ctx context.Context, name string, args []string, extra func(*settings)) (*adminClient, func(), error) {
		return e.hubAdmin(ctx, name, args, extra)
	})
}

func (e *cmdEnv) nodeMember(ctx context.Context, args []string) error {
	return e.member(ctx, "node", args, func(ctx context.Context, name string, args []string, extra func(*settings)) (*adminClient, func(), error) {
		c, _, done, err := e.nodeAdmin(ctx, name, args, extra)
		return c, done, err
	})
}

// rolesValue collects repeated --role flags; one may also list several
// separated by commas.
type rolesValue struct{ roles *[]string }

func (v rolesValue) String() string {
	if v.roles == nil {
		return ""
	}
	return strings.Join(*v.roles, ",")
}

func (v rolesValue) Set(s string) error {
	for r := range strings.SplitSeq(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			*v.roles = append(*v.roles, r)
		}
	}
	return nil
}

// member runs `bikfed hub|node member ACTION …` through the server's admin
// API.
func (e *cmdEnv) member(ctx context.Context, side string, args []string, open adminOpener) error {
	action, args := leadingArg(args)
	var arg string
	switch action {
	case "add", "roles", "disable", "remove", "invite":
		arg, args = leadingArg(args)
	case "list", "audit":
	default:
		return errUsage
	}
	var (
		name, handle string
		roles        []string
		asJSON       bool
		limit        int
		erase        bool
	)
	c, done, err := open(ctx, "member "+action, args, func(s *settings) {
		switch action {
		case "add":
			s.fs.StringVar(&name, "name", "", "the member's display name")
			if side == "node" {
				s.fs.StringVar(&handle, "handle", "", "a youth member's handle: their pseudonym on the network is <node>-<handle>")
			}
			fallthrough
		case "roles":
			s.fs.Var(rolesValue{&roles}, "role", "a role (repeat for several)")
		case "audit":
			s.fs.IntVar(&limit, "limit", 50, "how many events, newest first")
		case "remove":
			if side == "node" {
				s.fs.BoolVar(&erase, "erase", false, "also erase every post, comment and flag the member wrote, from the whole network")
			}
		}
		s.fs.BoolVar(&asJSON, "json", false, "print the admin API's JSON answer")
	})
	if err != nil {
		return err
	}
	defer done()
	idPath := func() (string, error) {
		if _, err := strconv.ParseInt(arg, 10, 64); err != nil {
			return "", fmt.Errorf("member %s: give the member's id (see bikfed %s member list)", action, side)
		}
		return memberapi.PathMembers + "/" + url.PathEscape(arg), nil
	}
	switch action {
	case "add":
		if arg == "" {
			return fmt.Errorf("member add: give the email address: bikfed %s member add EMAIL --name NAME --role ROLE", side)
		}
		var inv memberapi.Invitation
		req := memberapi.AddRequest{Email: arg, Name: name, Roles: roles, Handle: handle}
		if err := c.doJSON(ctx, "POST", memberapi.PathMembers, req, &inv); err != nil {
			return err
		}
		return e.printInvitation(inv, asJSON)
	case "invite":
		p, err := idPath()
		if err != nil {
			return err
		}
		var inv memberapi.Invitation
		if err := c.doJSON(ctx, "POST", p+"/invite", nil, &inv); err != nil {
			return err
		}
		return e.printInvitation(inv, asJSON)
	case "list":
		var l memberapi.MemberList
		if err := c.doJSON(ctx, "GET", memberapi.PathMembers, nil, &l); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(e.stdout, l)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tROLES\tPSEUDONYM\tNAME\tEMAIL")
		for _, m := range l.Members {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Status, strings.Join(m.Roles, ","), dash(m.Pseudonym), m.Name, m.Email)
		}
		return tw.Flush()
	case "roles":
		p, err := idPath()
		if err != nil {
			return err
		}
		var m memberapi.Member
		if err := c.doJSON(ctx, "PUT", p+"/roles", memberapi.RolesRequest{Roles: roles}, &m); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(e.stdout, m)
		}
		fmt.Fprintf(e.stdout, "member %d now holds: %s (their sessions have ended)\n", m.ID, strings.Join(m.Roles, ", "))
		return nil
	case "disable":
		p, err := idPath()
		if err != nil {
			return err
		}
		var m memberapi.Member
		if err := c.doJSON(ctx, "POST", p+"/disable", nil, &m); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(e.stdout, m)
		}
		fmt.Fprintf(e.stdout, "member %d disabled: signed out everywhere, their links no longer work\n", m.ID)
		return nil
	case "remove":
		p, err := idPath()
		if err != nil {
			return err
		}
		if erase {
			var res memberapi.Erasure
			if err := c.doJSON(ctx, "DELETE", p+"?erase=true", nil, &res); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, res)
			}
			fmt.Fprintf(e.stdout, "member %d removed and erasure %d started: %d posts, %d comments, %d flags and %d held items erased;"+
				" follow it on the workspace's Members > Erasures page\n", res.Member, res.ID, res.Posts, res.Comments, res.Flags, res.Held)
			return nil
		}
		if err := c.doJSON(ctx, "DELETE", p, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "member %s removed; the audit log keeps only their id\n", arg)
		return nil
	case "audit":
		var l memberapi.AuditList
		if err := c.doJSON(ctx, "GET", memberapi.PathAudit+"?limit="+strconv.Itoa(limit), nil, &l); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(e.stdout, l)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tEVENT\tMEMBER\tACTOR\tADDRESS\tDETAIL")
		for _, ev := range l.Events {
			member := "-"
			if ev.MemberID != 0 {
				member = strconv.FormatInt(ev.MemberID, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.At.Local().Format(time.DateTime), ev.Type, member, ev.Actor, dash(ev.Address), ev.Detail)
		}
		return tw.Flush()
	}
	return errUsage
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printInvitation says where the invitation went; a link not emailed is
// printed on a line of its own for the person running the command to pass
// on.
func (e *cmdEnv) printInvitation(inv memberapi.Invitation, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, inv)
	}
	m := inv.Member
	who := fmt.Sprintf("member %d (%s, %s)", m.ID, strings.Join(m.Roles, ", "), m.Email)
	if m.Pseudonym != "" {
		who = fmt.Sprintf("member %d (%s, pseudonym %s, %s)", m.ID, strings.Join(m.Roles, ", "), m.Pseudonym, m.Email)
	}
	until := inv.ExpiresAt.Local().Format(time.DateTime)
	if inv.Emailed {
		fmt.Fprintf(e.stdout, "invited %s: the invitation was emailed to %s; it works once, until %s\n", who, m.Email, until)
		return nil
	}
	if inv.MailError != "" {
		fmt.Fprintf(e.stderr, "bikfed: the invitation could not be emailed: %s\n", inv.MailError)
	}
	fmt.Fprintf(e.stdout, "invited %s; pass this link on: it works once, until %s\n%s\n", who, until, inv.Link)
	return nil
}

// mailFlags registers the SMTP settings of invitations on s.
func mailFlags(s *settings, c *mail.Config) {
	s.fs.StringVar(&c.Host, "smtp-host", c.Host, "mail server for invitations (default: none, the links are printed instead)")
	s.fs.IntVar(&c.Port, "smtp-port", c.Port, "mail server port")
	s.fs.StringVar(&c.Username, "smtp-user", c.Username, "mail server username (with --smtp-password-file)")
	s.fs.StringVar(&c.PasswordFile, "smtp-password-file", c.PasswordFile, "file whose first line is the mail server password (mode 0600)")
	s.fs.StringVar(&c.TLS, "smtp-tls", c.TLS, "mail server TLS: starttls, tls (port 465) or none (a relay on this machine only)")
	s.fs.StringVar(&c.From, "smtp-from", c.From, "sender of invitations, an address or \"Name <address>\"")
}
