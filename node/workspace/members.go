package workspace

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/memberapi"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

// Paths of the members part, under PathMembers.
const (
	pathMembersNew   = PathMembers + "new"
	pathMembersAudit = PathMembers + "audit"
)

// Limits on the add form's fields: an email address has at most 254
// characters and a name 200 (internal/account), a handle
// memberapi.MaxHandle.
const (
	maxMemberEmail = 320
	maxMemberName  = 200
	// auditPage is how many events one page of the audit log shows.
	auditPage = 50
	// lastSignInEvents is how far back in the audit log the list looks
	// for each member's last sign-in.
	lastSignInEvents = 1000
)

type memberRow struct {
	account.Member
	LastSignIn *time.Time
	Self       bool
}

type membersPage struct {
	Members []memberRow
	Notice  string
	// Passkeys are the roles of the passkey policy form, nil where members
	// have no passkeys.
	Passkeys []roleChoice
}

// roleChoice is one role's checkbox.
type roleChoice struct {
	Role    string
	Checked bool
}

type memberForm struct {
	Email, Name, Handle string
	Roles               []roleChoice
	Prefix              string
	Errors              []formError
	// FieldErrors are the Errors by field.
	FieldErrors map[string]string
}

type invitedPage struct {
	Invitation memberapi.Invitation
	// Again is set for a new invitation of an existing member.
	Again bool
}

type memberPage struct {
	Member     account.Member
	LastSignIn *time.Time
	Self       bool
	Roles      []roleChoice
	// Problem is a refusal to show at the top, Notice a done change.
	Problem, Notice string
}

type confirmPage struct {
	Member account.Member
	Action string
}

type auditRow struct {
	At      time.Time
	Text    string
	Address string
}

type auditPageData struct {
	Events []auditRow
	// Next is the href of the next, older page, "" on the last; First
	// is set on pages after the first.
	Next  string
	First bool
}

func (ws *Workspace) mountMembers() {
	ws.handle("GET "+PathMembers+"{$}", ws.listMembers, rolesMembers...)
	ws.handle("GET "+pathMembersNew, ws.newMember, rolesMembers...)
	ws.handle("POST "+pathMembersNew, ws.addMember, rolesMembers...)
	ws.handle("GET "+pathMembersAudit, ws.showAudit, rolesMembers...)
	ws.handle("GET "+PathMembers+"{id}", ws.showMember, rolesMembers...)
	ws.handle("POST "+PathMembers+"{id}/roles", ws.setMemberRoles, rolesMembers...)
	ws.handle("POST "+PathMembers+"{id}/invite", ws.reinviteMember, rolesMembers...)
	ws.handle("GET "+PathMembers+"{id}/{action}", ws.confirmMember, rolesMembers...)
	ws.handle("POST "+PathMembers+"{id}/disable", ws.disableMember, rolesMembers...)
	ws.handle("POST "+PathMembers+"{id}/remove", ws.removeMember, rolesMembers...)
	ws.mountPasskeyPolicy()
	ws.mountErasures()
}

// actor names the signed-in admin in the audit log.
func actor(r *http.Request) (account.Member, string) {
	m, _ := web.Member(r)
	return m, account.MemberActor(m.ID)
}

// lastSignIns returns each member's newest sign-in among the audit log's
// latest events; older ones are not looked for.
func (ws *Workspace) lastSignIns(r *http.Request) (map[int64]time.Time, error) {
	evs, err := ws.node.Accounts().Audit(r.Context(), 0, lastSignInEvents)
	if err != nil {
		return nil, err
	}
	out := map[int64]time.Time{}
	for _, e := range evs {
		if _, seen := out[e.MemberID]; e.Type == account.EventSignIn && !seen {
			out[e.MemberID] = e.At
		}
	}
	return out, nil
}

func (ws *Workspace) listMembers(w http.ResponseWriter, r *http.Request) {
	me, _ := actor(r)
	ms, err := ws.node.Accounts().List(r.Context())
	if err != nil {
		ws.fail(w, r, "list members", err)
		return
	}
	last, err := ws.lastSignIns(r)
	if err != nil {
		ws.fail(w, r, "read sign-ins", err)
		return
	}
	page := membersPage{}
	if page.Passkeys, err = ws.passkeyChoices(r); err != nil {
		ws.fail(w, r, "read passkey policy", err)
		return
	}
	if d := r.URL.Query().Get("done"); d == "removed" || d == "passkeys" {
		page.Notice = web.Printer(r).T("members.done." + d)
	}
	for _, m := range ms {
		row := memberRow{Member: m, Self: m.ID == me.ID}
		if at, ok := last[m.ID]; ok {
			row.LastSignIn = &at
		}
		page.Members = append(page.Members, row)
	}
	ws.render(w, r, http.StatusOK, "members", sectionMembers, page)
}

func roleChoices(checked []string) []roleChoice {
	out := make([]roleChoice, 0, len(node.Roles))
	for _, role := range node.Roles {
		out = append(out, roleChoice{Role: role, Checked: slices.Contains(checked, role)})
	}
	return out
}

func (ws *Workspace) memberForm() memberForm {
	prefix, _ := ws.node.Members().PseudonymPrefix()
	return memberForm{Roles: roleChoices(nil), Prefix: prefix}
}

func (ws *Workspace) newMember(w http.ResponseWriter, r *http.Request) {
	ws.render(w, r, http.StatusOK, "membersnew", sectionMembers, ws.memberForm())
}

// formRoles returns the known roles ticked in the form.
func formRoles(r *http.Request) []string {
	var out []string
	for _, role := range r.PostForm["role"] {
		if slices.Contains(node.Roles, role) && !slices.Contains(out, role) {
			out = append(out, role)
		}
	}
	return out
}

// addMember invites a member and shows the invitation, or the form again
// with what was typed and why it was refused.
func (ws *Workspace) addMember(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	_, who := actor(r)
	p := web.Printer(r)
	form := ws.memberForm()
	form.Email = strings.TrimSpace(r.PostForm.Get("email"))
	form.Name = strings.TrimSpace(r.PostForm.Get("name"))
	form.Handle = strings.TrimSpace(r.PostForm.Get("handle"))
	roles := formRoles(r)
	form.Roles = roleChoices(roles)
	errs := map[string]string{}
	switch {
	case form.Email == "":
		errs["email"] = p.T("members.error.email.missing")
	case len(form.Email) > maxMemberEmail:
		errs["email"] = p.T("members.error.email")
	}
	switch {
	case form.Name == "":
		errs["name"] = p.T("members.error.name.missing")
	case utf8.RuneCountInString(form.Name) > maxMemberName:
		errs["name"] = p.T("members.error.name.long", "max", maxMemberName)
	}
	if len(roles) == 0 {
		errs["roles"] = p.T("members.error.roles")
	}
	if len(form.Handle) > 4*memberapi.MaxHandle {
		errs["handle"] = p.T("members.error.handle.invalid", "max", memberapi.MaxHandle)
	}
	if len(errs) == 0 {
		inv, err := ws.node.Members().Add(r.Context(), who, memberapi.AddRequest{
			Email: form.Email, Name: form.Name, Roles: roles, Handle: form.Handle})
		if err == nil {
			ws.render(w, r, http.StatusOK, "membersinvited", sectionMembers, invitedPage{Invitation: inv})
			return
		}
		field, msg := addRefusal(p, form.Prefix, err)
		if field == "" {
			// The store's error may quote the email, which stays out of the
			// log.
			msg := err.Error()
			for _, e := range []string{form.Email, strings.ToLower(form.Email)} {
				msg = strings.ReplaceAll(msg, e, "<email>")
			}
			ws.log.Error("add member", "err", msg)
			ws.site.Error(w, r, http.StatusInternalServerError, "")
			return
		}
		errs[field] = msg
	}
	form.FieldErrors = errs
	for _, f := range []string{"email", "name", "roles", "handle"} {
		if m, ok := errs[f]; ok {
			form.Errors = append(form.Errors, formError{Field: f, Message: m})
		}
	}
	ws.render(w, r, http.StatusUnprocessableEntity, "membersnew", sectionMembers, form)
}

// addRefusal words a refusal of Add for the field it is about, or returns
// "" for an error that is no refusal.
func addRefusal(p *locale.Printer, prefix string, err error) (field, msg string) {
	switch {
	case errors.Is(err, account.ErrEmailTaken):
		return "email", p.T("members.error.email.taken")
	case errors.Is(err, account.ErrInvalidEmail):
		return "email", p.T("members.error.email")
	case errors.Is(err, account.ErrInvalidName):
		return "name", p.T("members.error.name")
	case errors.Is(err, account.ErrInvalidRole):
		return "roles", p.T("members.error.roles")
	case errors.Is(err, memberapi.ErrHandleRequired):
		return "handle", p.T("members.error.handle.required", "prefix", prefix)
	case errors.Is(err, memberapi.ErrHandleNotAllowed):
		return "handle", p.T("members.error.handle.not_allowed")
	case errors.Is(err, memberapi.ErrHandleInvalid), errors.Is(err, account.ErrInvalidPseudonym):
		return "handle", p.T("members.error.handle.invalid", "max", memberapi.MaxHandle)
	case errors.Is(err, account.ErrPseudonymTaken):
		return "handle", p.T("members.error.handle.taken")
	}
	return "", ""
}

// member reads the member the path names, answering 404 itself.
func (ws *Workspace) member(w http.ResponseWriter, r *http.Request) (account.Member, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		ws.site.NotFound(w, r)
		return account.Member{}, false
	}
	m, err := ws.node.Accounts().Get(r.Context(), id)
	switch {
	case errors.Is(err, account.ErrNotFound):
		ws.site.NotFound(w, r)
		return account.Member{}, false
	case err != nil:
		ws.fail(w, r, "read member", err)
		return account.Member{}, false
	}
	return m, true
}

func memberHref(id int64) string { return PathMembers + strconv.FormatInt(id, 10) }

func (ws *Workspace) showMember(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	notice := ""
	if d := r.URL.Query().Get("done"); d == "roles" || d == "disabled" {
		notice = web.Printer(r).T("members.done." + d)
	}
	ws.renderMember(w, r, http.StatusOK, m, "", notice)
}

func (ws *Workspace) renderMember(w http.ResponseWriter, r *http.Request, status int, m account.Member, problem, notice string) {
	me, _ := actor(r)
	page := memberPage{Member: m, Self: m.ID == me.ID, Roles: roleChoices(m.Roles), Problem: problem, Notice: notice}
	last, err := ws.lastSignIns(r)
	if err != nil {
		ws.fail(w, r, "read sign-ins", err)
		return
	}
	if at, ok := last[m.ID]; ok {
		page.LastSignIn = &at
	}
	ws.render(w, r, status, "membersmember", sectionMembers, page)
}

// lastActiveAdmin reports whether m is the only active admin.
func (ws *Workspace) lastActiveAdmin(r *http.Request, m account.Member) (bool, error) {
	if m.Status != account.StatusActive || !m.HasRole(node.RoleAdmin) {
		return false, nil
	}
	ms, err := ws.node.Accounts().List(r.Context())
	if err != nil {
		return false, err
	}
	for _, o := range ms {
		if o.ID != m.ID && o.Status == account.StatusActive && o.HasRole(node.RoleAdmin) {
			return false, nil
		}
	}
	return true, nil
}

// setMemberRoles replaces a member's roles, which signs them out
// everywhere. The last active admin may not take away their own admin
// role: nobody would be left to manage the members.
func (ws *Workspace) setMemberRoles(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	me, who := actor(r)
	p := web.Printer(r)
	roles := formRoles(r)
	if len(roles) == 0 {
		ws.renderMember(w, r, http.StatusUnprocessableEntity, m, p.T("members.error.roles"), "")
		return
	}
	if m.ID == me.ID && !slices.Contains(roles, node.RoleAdmin) {
		last, err := ws.lastActiveAdmin(r, m)
		if err != nil {
			ws.fail(w, r, "count admins", err)
			return
		}
		if last {
			ws.renderMember(w, r, http.StatusConflict, m, p.T("members.error.last_admin"), "")
			return
		}
	}
	_, err := ws.node.Members().SetRoles(r.Context(), who, m.ID, roles)
	switch {
	case errors.Is(err, memberapi.ErrNoPseudonym):
		ws.renderMember(w, r, http.StatusUnprocessableEntity, m, p.T("members.error.no_pseudonym"), "")
		return
	case errors.Is(err, account.ErrNotFound):
		ws.site.NotFound(w, r)
		return
	case err != nil:
		ws.fail(w, r, "set roles", err)
		return
	}
	// Their own change ended their own session too: the sign-in page
	// says so.
	http.Redirect(w, r, memberHref(m.ID)+"?done=roles", http.StatusSeeOther)
}

func (ws *Workspace) reinviteMember(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	_, who := actor(r)
	inv, err := ws.node.Members().Reinvite(r.Context(), who, m.ID)
	switch {
	case errors.Is(err, account.ErrActive), errors.Is(err, account.ErrDisabled):
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.not_invited"), "")
		return
	case errors.Is(err, account.ErrNotFound):
		ws.site.NotFound(w, r)
		return
	case err != nil:
		ws.fail(w, r, "invite again", err)
		return
	}
	ws.render(w, r, http.StatusOK, "membersinvited", sectionMembers, invitedPage{Invitation: inv, Again: true})
}

// confirmMember asks before disabling or removing a member.
func (ws *Workspace) confirmMember(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "disable" && action != "remove" {
		ws.site.NotFound(w, r)
		return
	}
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	if me, _ := actor(r); m.ID == me.ID {
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.self."+action), "")
		return
	}
	ws.render(w, r, http.StatusOK, "membersconfirm", sectionMembers, confirmPage{Member: m, Action: action})
}

func (ws *Workspace) disableMember(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	me, who := actor(r)
	if m.ID == me.ID {
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.self.disable"), "")
		return
	}
	if err := ws.node.Accounts().Disable(r.Context(), who, m.ID); err != nil {
		if errors.Is(err, account.ErrNotFound) {
			ws.site.NotFound(w, r)
			return
		}
		ws.fail(w, r, "disable member", err)
		return
	}
	ws.log.Info("member disabled", "member", m.ID, "by", me.ID)
	http.Redirect(w, r, memberHref(m.ID)+"?done=disabled", http.StatusSeeOther)
}

func (ws *Workspace) removeMember(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	me, who := actor(r)
	if m.ID == me.ID {
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.self.remove"), "")
		return
	}
	if err := ws.node.Accounts().Remove(r.Context(), who, m.ID); err != nil {
		if errors.Is(err, account.ErrNotFound) {
			ws.site.NotFound(w, r)
			return
		}
		ws.fail(w, r, "remove member", err)
		return
	}
	ws.log.Info("member removed", "member", m.ID, "by", me.ID)
	http.Redirect(w, r, PathMembers+"?done=removed", http.StatusSeeOther)
}

// showAudit lists the audit log, newest first, a page at a time, in
// plain words.
func (ws *Workspace) showAudit(w http.ResponseWriter, r *http.Request) {
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			ws.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		before = n
	}
	evs, err := ws.node.Accounts().Audit(r.Context(), before, auditPage)
	if err != nil {
		ws.fail(w, r, "read audit log", err)
		return
	}
	ms, err := ws.node.Accounts().List(r.Context())
	if err != nil {
		ws.fail(w, r, "list members", err)
		return
	}
	names := make(map[int64]string, len(ms))
	for _, m := range ms {
		names[m.ID] = m.Name
	}
	p := web.Printer(r)
	page := auditPageData{First: before != 0}
	for _, e := range evs {
		page.Events = append(page.Events, auditRow{At: e.At, Text: auditText(p, names, e), Address: e.Address})
	}
	if len(evs) == auditPage {
		page.Next = pathMembersAudit + "?before=" + strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	ws.render(w, r, http.StatusOK, "membersaudit", sectionMembers, page)
}

// auditText words one event: who did what to whom.
func auditText(p *locale.Printer, names map[int64]string, e account.Event) string {
	member := func(id int64) string {
		switch {
		case id == 0:
			return p.T("members.audit.nobody")
		case names[id] != "":
			return names[id]
		}
		return p.T("members.audit.removed_member", "id", strconv.FormatInt(id, 10))
	}
	var who string
	switch {
	case strings.HasPrefix(e.Actor, "member:"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(e.Actor, "member:"), 10, 64)
		who = member(id)
	case e.Actor == account.ActorAnonymous:
		who = p.T("members.audit.actor.anonymous")
	case e.Actor == "admin-token":
		who = p.T("members.audit.actor.token")
	case e.Actor == "cli":
		who = p.T("members.audit.actor.cli")
	default:
		who = e.Actor
	}
	roles := func(s string) string {
		var out []string
		for _, r := range strings.Fields(s) {
			out = append(out, roleName(p, r))
		}
		if len(out) == 0 {
			return p.T("members.audit.no_roles")
		}
		return strings.Join(out, ", ")
	}
	args := []any{"actor", who, "member", member(e.MemberID)}
	switch e.Type {
	case account.EventRolesChanged:
		from, to, _ := strings.Cut(strings.TrimPrefix(e.Detail, "roles "), " -> ")
		args = append(args, "from", roles(from), "to", roles(to))
	case account.EventMemberAdded:
		args = append(args, "roles", roles(strings.TrimPrefix(e.Detail, "roles ")))
	case passkey.EventPolicyChanged:
		list := strings.TrimPrefix(e.Detail, "required for ")
		if list == "none" {
			list = ""
		}
		args = append(args, "roles", roles(strings.ReplaceAll(list, ",", " ")))
	case account.EventSignIn:
		if m := "members.audit.method." + e.Detail; p.T(m) != m {
			args = append(args, "method", p.T(m))
		} else {
			args = append(args, "method", e.Detail)
		}
	case account.EventSignInFailed:
		args = append(args, "why", e.Detail)
		if e.MemberID == 0 {
			return p.T("members.audit.sign-in-failed.unknown", args...)
		}
	}
	id := "members.audit." + string(e.Type)
	s := p.T(id, args...)
	if s == id {
		s = p.T("members.audit.other", append(args, "event", string(e.Type))...)
	}
	return capitalise(s)
}

// capitalise starts a sentence with a capital letter, as one that begins
// with an actor's description ("a script with …") would not.
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// roleName is a role's name in the reader's language.
func roleName(p *locale.Printer, role string) string {
	id := "members.role." + role
	if s := p.T(id); s != id {
		return s
	}
	return role
}
