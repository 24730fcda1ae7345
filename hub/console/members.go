package console

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
)

// Limits of the member forms: an email address has at most 254
// characters; the account store refuses longer names itself.
const (
	maxEmail      = 254
	maxMemberName = 200
	auditPage     = 50
)

// memberRow is a member as the pages show them.
type memberRow struct {
	ID                  int64
	Name, Email, Status string
	Roles               []string // in words
	Invited, Disabled   bool
	Self                bool
	Created             string
	HasPassword         bool
}

func memberView(p *locale.Printer, m account.Member, me int64) memberRow {
	row := memberRow{ID: m.ID, Name: m.Name, Email: m.Email, Status: p.T("console.member.status." + string(m.Status)),
		Invited: m.Status == account.StatusInvited, Disabled: m.Status == account.StatusDisabled, Self: m.ID == me,
		Created: p.DateTime(m.CreatedAt.UTC()), HasPassword: m.HasPassword}
	for _, role := range hub.Roles {
		if m.HasRole(role) {
			row.Roles = append(row.Roles, p.T("console.role."+role))
		}
	}
	return row
}

// roleChoice is one checkbox of a roles fieldset.
type roleChoice struct {
	Value, Label, Hint string
	Checked            bool
}

func roleChoices(p *locale.Printer, chosen []string) []roleChoice {
	var out []roleChoice
	for _, role := range hub.Roles {
		out = append(out, roleChoice{Value: role, Label: p.T("console.role." + role), Hint: p.T("console.role." + role + ".hint"),
			Checked: slices.Contains(chosen, role)})
	}
	return out
}

type membersPage struct {
	Members []memberRow
	// The add form, with what was typed and what is wrong with it.
	Email, Name                       string
	Roles                             []roleChoice
	EmailError, NameError, RolesError string
	Notice                            string
}

func (p membersPage) HasErrors() bool {
	return p.EmailError != "" || p.NameError != "" || p.RolesError != ""
}

var memberNotices = map[string]string{
	"removed":  "console.members.done.removed",
	"disabled": "console.members.done.disabled",
	"roles":    "console.members.done.roles",
}

func (c *Console) members(w http.ResponseWriter, r *http.Request) {
	page := membersPage{Roles: roleChoices(web.Printer(r), nil)}
	if id, ok := memberNotices[r.URL.Query().Get("done")]; ok {
		page.Notice = web.Printer(r).T(id)
	}
	c.renderMembers(w, r, http.StatusOK, page)
}

func (c *Console) renderMembers(w http.ResponseWriter, r *http.Request, status int, page membersPage) {
	p := web.Printer(r)
	ms, err := c.hub.Accounts().List(r.Context())
	if err != nil {
		c.fail(w, r, "list members", err)
		return
	}
	me := signedIn(r).ID
	for _, m := range ms {
		page.Members = append(page.Members, memberView(p, m, me))
	}
	c.pages.RenderIn(w, r, status, "members", "members", page)
}

// chosenRoles reads a roles fieldset, keeping only the hub's roles.
func chosenRoles(r *http.Request) []string {
	var out []string
	for _, v := range r.PostForm["roles"] {
		if slices.Contains(hub.Roles, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

type invitationPage struct {
	Member    memberRow
	Link      string
	Emailed   bool
	MailError bool
	Expires   string
}

// addMember adds a member and shows their invitation link, or says it was
// emailed.
func (c *Console) addMember(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	roles := chosenRoles(r)
	page := membersPage{Email: strings.TrimSpace(r.PostForm.Get("email")), Name: strings.TrimSpace(r.PostForm.Get("name")),
		Roles: roleChoices(p, roles)}
	switch {
	case page.Email == "":
		page.EmailError = p.T("console.members.error.email_missing")
	case len(page.Email) > maxEmail || !strings.Contains(page.Email, "@"):
		page.EmailError = p.T("console.members.error.email")
	}
	switch {
	case page.Name == "":
		page.NameError = p.T("console.members.error.name_missing")
	case len(page.Name) > maxMemberName:
		page.NameError = p.N("console.members.error.name_long", maxMemberName)
	}
	if len(roles) == 0 {
		page.RolesError = p.T("console.members.error.roles")
	}
	if !page.HasErrors() {
		m, tok, err := c.hub.Accounts().Add(r.Context(), actor(r), account.NewMember{Email: page.Email, Name: page.Name, Roles: roles})
		switch {
		case err == nil:
			c.log.Info("member added from the console", "member", m.ID, "by", signedIn(r).ID)
			c.showInvitation(w, r, m, tok)
			return
		case errors.Is(err, account.ErrEmailTaken):
			page.EmailError = p.T("console.members.error.email_taken")
		case errors.Is(err, account.ErrInvalidEmail):
			page.EmailError = p.T("console.members.error.email")
		case errors.Is(err, account.ErrInvalidName):
			page.NameError = p.T("console.members.error.name")
		case errors.Is(err, account.ErrInvalidRole):
			page.RolesError = p.T("console.members.error.roles")
		default:
			c.fail(w, r, "add member", err)
			return
		}
	}
	c.renderMembers(w, r, http.StatusUnprocessableEntity, page)
}

// showInvitation emails the invitation, or shows its link when the hub has
// no mail server or sending failed.
func (c *Console) showInvitation(w http.ResponseWriter, r *http.Request, m account.Member, tok string) {
	p := web.Printer(r)
	inv := c.hub.Members().Deliver(r.Context(), m, tok)
	c.pages.RenderIn(w, r, http.StatusOK, "invitation", "members", invitationPage{Member: memberView(p, m, signedIn(r).ID),
		Link: inv.Link, Emailed: inv.Emailed, MailError: inv.MailError != "", Expires: p.DateTime(inv.ExpiresAt.UTC())})
}

// memberFor reads the member the path names, or writes the 404 page.
func (c *Console) memberFor(w http.ResponseWriter, r *http.Request) (account.Member, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		c.site.NotFound(w, r)
		return account.Member{}, false
	}
	m, err := c.hub.Accounts().Get(r.Context(), id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		c.site.NotFound(w, r)
		return m, false
	case err != nil:
		c.fail(w, r, "read member", err)
		return m, false
	}
	return m, true
}

type memberPage struct {
	Member     memberRow
	Roles      []roleChoice
	RolesError string
	Notice     string
	Error      string
}

func (c *Console) member(w http.ResponseWriter, r *http.Request) {
	m, ok := c.memberFor(w, r)
	if !ok {
		return
	}
	page := memberPage{}
	if r.URL.Query().Get("done") == "roles" {
		page.Notice = web.Printer(r).T("console.members.done.roles")
	}
	c.renderMember(w, r, http.StatusOK, m, page)
}

func (c *Console) renderMember(w http.ResponseWriter, r *http.Request, status int, m account.Member, page memberPage) {
	p := web.Printer(r)
	page.Member = memberView(p, m, signedIn(r).ID)
	if page.Roles == nil {
		page.Roles = roleChoices(p, m.Roles)
	}
	c.pages.RenderIn(w, r, status, "member", "members", page)
}

// setRoles replaces a member's roles. An operator may not take the
// operator role from themselves: the hub would be left without anyone to
// give it back.
func (c *Console) setRoles(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	m, ok := c.memberFor(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	roles := chosenRoles(r)
	page := memberPage{Roles: roleChoices(p, roles)}
	switch {
	case len(roles) == 0:
		page.RolesError = p.T("console.members.error.roles")
	case m.ID == signedIn(r).ID && !slices.Contains(roles, hub.RoleOperator):
		page.RolesError = p.T("console.members.error.self_operator")
	}
	if page.RolesError != "" {
		c.renderMember(w, r, http.StatusUnprocessableEntity, m, page)
		return
	}
	if _, err := c.hub.Accounts().SetRoles(r.Context(), actor(r), m.ID, roles); err != nil {
		c.fail(w, r, "set roles", err)
		return
	}
	c.log.Info("member roles changed from the console", "member", m.ID, "roles", strings.Join(roles, " "), "by", signedIn(r).ID)
	http.Redirect(w, r, pathMembers+strconv.FormatInt(m.ID, 10)+"?done=roles", http.StatusSeeOther)
}

// inviteAgain makes a new invitation for a member who has not accepted
// theirs.
func (c *Console) inviteAgain(w http.ResponseWriter, r *http.Request) {
	m, ok := c.memberFor(w, r)
	if !ok {
		return
	}
	tok, err := c.hub.Accounts().Invite(r.Context(), actor(r), m.ID)
	switch {
	case errors.Is(err, account.ErrActive), errors.Is(err, account.ErrDisabled):
		c.renderMember(w, r, http.StatusConflict, m, memberPage{Error: web.Printer(r).T("console.members.error.not_invited")})
		return
	case err != nil:
		c.fail(w, r, "invite member", err)
		return
	}
	c.log.Info("member invited again from the console", "member", m.ID, "by", signedIn(r).ID)
	c.showInvitation(w, r, m, tok)
}

// memberActions are the actions on a member that ask first.
var memberActions = map[string]bool{"disable": true, "remove": true}

type confirmMemberPage struct {
	Member memberRow
	Action string
	Error  string
}

func (c *Console) memberActionFor(w http.ResponseWriter, r *http.Request) (account.Member, string, bool) {
	action := r.PathValue("action")
	if !memberActions[action] {
		c.site.NotFound(w, r)
		return account.Member{}, "", false
	}
	m, ok := c.memberFor(w, r)
	return m, action, ok
}

func (c *Console) confirmMemberAction(w http.ResponseWriter, r *http.Request) {
	m, action, ok := c.memberActionFor(w, r)
	if !ok {
		return
	}
	c.renderConfirmMember(w, r, http.StatusOK, m, action)
}

func (c *Console) renderConfirmMember(w http.ResponseWriter, r *http.Request, status int, m account.Member, action string) {
	page := confirmMemberPage{Member: memberView(web.Printer(r), m, signedIn(r).ID), Action: action}
	if page.Member.Self {
		page.Error = web.Printer(r).T("console.members.error.self")
		if status == http.StatusOK {
			status = http.StatusConflict
		}
	}
	c.pages.RenderIn(w, r, status, "confirm-member", "members", page)
}

// memberAction disables or removes a member; no one does either to
// themselves here.
func (c *Console) memberAction(w http.ResponseWriter, r *http.Request) {
	m, action, ok := c.memberActionFor(w, r)
	if !ok {
		return
	}
	if m.ID == signedIn(r).ID {
		c.renderConfirmMember(w, r, http.StatusConflict, m, action)
		return
	}
	var err error
	done := "removed"
	if action == "disable" {
		err, done = c.hub.Accounts().Disable(r.Context(), actor(r), m.ID), "disabled"
	} else {
		err = c.hub.Accounts().Remove(r.Context(), actor(r), m.ID)
	}
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		c.fail(w, r, action+" member", err)
		return
	}
	c.log.Info("member "+done+" from the console", "member", m.ID, "by", signedIn(r).ID)
	http.Redirect(w, r, pathMembers+"?done="+done, http.StatusSeeOther)
}

type auditRow struct {
	At, Event, Member, Actor, Address, Detail string
	MemberID                                  int64
	MemberLink                                bool
}

type auditPageData struct {
	Events []auditRow
	Older  string
}

// auditEvents are the audit events that have words; others show their
// type.
var auditEvents = map[account.EventType]bool{
	account.EventSignIn: true, account.EventSignInFailed: true, account.EventSignOut: true,
	account.EventSignOutEverywhere: true, account.EventMemberAdded: true, account.EventInvited: true,
	account.EventInvitationAccepted: true, account.EventRolesChanged: true, account.EventMemberDisabled: true,
	account.EventMemberRemoved: true, account.EventResetRequested: true, account.EventPasswordReset: true,
	account.EventPasswordChanged: true, hub.EventCommunityNews: true,
	hub.EventServiceSaved: true, hub.EventServiceWithdrawn: true,
	hub.EventBulletinPublished: true, hub.EventBulletinSending: true,
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			c.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		before = n
	}
	store := c.hub.Accounts()
	evs, err := store.Audit(r.Context(), before, auditPage)
	if err != nil {
		c.fail(w, r, "read audit log", err)
		return
	}
	ms, err := store.List(r.Context())
	if err != nil {
		c.fail(w, r, "list members", err)
		return
	}
	names := make(map[int64]string, len(ms))
	for _, m := range ms {
		names[m.ID] = m.Name
	}
	var page auditPageData
	for _, e := range evs {
		row := auditRow{At: p.DateTime(e.At.UTC().Truncate(time.Second)), Address: e.Address, Detail: e.Detail, MemberID: e.MemberID}
		if auditEvents[e.Type] {
			row.Event = p.T("console.audit.event." + string(e.Type))
		} else {
			row.Event = string(e.Type)
		}
		if e.MemberID != 0 {
			if n, ok := names[e.MemberID]; ok {
				row.Member, row.MemberLink = n, true
			} else {
				row.Member = p.T("console.audit.gone", "id", e.MemberID)
			}
		}
		row.Actor = actorWords(p, e.Actor, names)
		page.Events = append(page.Events, row)
	}
	if len(evs) == auditPage {
		page.Older = pathAudit + "?before=" + strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	c.pages.RenderIn(w, r, http.StatusOK, "audit", "members", page)
}

// actorWords names who caused an event.
func actorWords(p *locale.Printer, actor string, names map[int64]string) string {
	if id, ok := strings.CutPrefix(actor, "member:"); ok {
		n, _ := strconv.ParseInt(id, 10, 64)
		if name, ok := names[n]; ok {
			return name
		}
		return p.T("console.audit.gone", "id", id)
	}
	switch actor {
	case account.ActorAnonymous:
		return p.T("console.audit.actor.anonymous")
	case "operator-token":
		return p.T("console.audit.actor.token")
	}
	return actor
}
