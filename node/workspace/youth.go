package workspace

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// The youth part: the youth coordinators' queue of their young people's
// posts and comments waiting for approval, the flags on what those young
// people wrote, and, for a young person, their own items and what became
// of them. An item is shown as it would be published: its Markdown through
// internal/markup, its space and the author's pseudonym.

// Paths of the youth part.
const (
	PathYouthApprovals = "/youth/approvals"
	PathYouthMine      = "/youth/mine"
	PathYouthFlags     = "/youth/flags"
	// pathCommunity is where the community's spaces and threads are read.
	pathCommunity = "/community/"
)

const (
	sectionYouthApprovals = "youth-approvals"
	sectionYouthMine      = "youth-mine"
)

var (
	rolesYouthCoordinator = []string{node.RoleYouthCoordinator}
	rolesYouth            = []string{node.RoleYouth}
)

const (
	// youthWaitingPage is how many waiting items the queue shows at once:
	// a coordinator decides on the oldest first, and the rest follow.
	youthWaitingPage = 50
	// youthDecidedPage is how many recent decisions the queue shows.
	youthDecidedPage = 20
	// youthMinePage is how many of their latest items a young person sees.
	youthMinePage = 100
	// youthFlagsPage is how many flags the coordinators' list shows.
	youthFlagsPage = 100
	// youthExcerpt is the length of the excerpt of the post a comment answers.
	youthExcerpt = 200
	// youthFormMax bounds a decision's form: the token and a reason of at
	// most node.MaxHeldReason characters of up to four bytes each, encoded.
	youthFormMax = 64 << 10
)

func (ws *Workspace) mountYouth() {
	ws.handle("GET "+PathYouthApprovals, ws.showApprovals, rolesYouthCoordinator...)
	ws.handle("POST "+PathYouthApprovals+"/{id}/approve", ws.approveHeld, rolesYouthCoordinator...)
	ws.handle("GET "+PathYouthApprovals+"/{id}/reject", ws.rejectForm, rolesYouthCoordinator...)
	ws.handle("POST "+PathYouthApprovals+"/{id}/reject", ws.rejectHeld, rolesYouthCoordinator...)
	ws.handle("GET "+PathYouthFlags, ws.showYouthFlags, rolesYouthCoordinator...)
	ws.handle("GET "+PathYouthMine, ws.showMine, rolesYouth...)
}

// youthWaitingBadge words how many items wait, for the coordinators' menu
// entry; nothing when none do or the count fails (the page tells).
func youthWaitingBadge(n *node.Node) func(*http.Request) string {
	return func(r *http.Request) string {
		k, err := n.HeldWaitingCount(r.Context())
		if err != nil || k == 0 {
			return ""
		}
		return web.Printer(r).N("youth.nav.waiting", k)
	}
}

// youthItem is a post or comment as the youth pages show it.
type youthItem struct {
	ID        string
	Comment   bool
	SpaceName string
	Title     string
	Text      template.HTML
	Lang      string
	Pseudonym string
	// For a comment: the post it answers, with its address when it can be
	// opened.
	PostTitle, PostExcerpt, PostLang, PostHref string
	PostGone                                   bool
	CreatedAt                                  time.Time
	State                                      string
	Reason                                     string
	DecidedBy                                  string
	DecidedAt                                  *time.Time
	// Href opens the published item's thread.
	Href string
	// Own marks the viewer's own item, on which they do not decide.
	Own bool
	// Moderation is the moderators' latest word on a published item.
	Moderation *node.Decision
}

// youthBody is the part of a post's or comment's body the pages show.
type youthBody struct {
	Space    string          `json:"space"`
	Post     string          `json:"post"`
	Title    string          `json:"title"`
	Text     string          `json:"text"`
	Language string          `json:"language"`
	Author   protocol.Author `json:"author"`
}

// render gives a member's Markdown as it is published; text that the
// renderer refuses is shown as typed, escaped.
func render(src string) template.HTML {
	if h, err := markup.Render(src); err == nil {
		return h
	}
	return template.HTML("<p>" + template.HTMLEscapeString(src) + "</p>")
}

// spaceName names a youth space for the reader.
func spaceName(p *locale.Printer, space string) string {
	if protocol.IsYouthSpace(space) {
		return p.T("youth.space.europe")
	}
	if sic, ok := strings.CutPrefix(space, "youth:"); ok {
		return p.T("youth.space.national", "sic", strings.ToUpper(sic))
	}
	return space
}

// itemOf builds what the pages show of a post or comment body, looking up
// the post a comment answers.
func (ws *Workspace) itemOf(r *http.Request, kind protocol.Kind, raw json.RawMessage) (youthItem, string, error) {
	p := web.Printer(r)
	var b youthBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return youthItem{}, "", err
	}
	it := youthItem{Comment: kind == protocol.KindComment, Title: b.Title, Text: render(b.Text), Lang: b.Language,
		Pseudonym: b.Author.Pseudonym}
	if it.Pseudonym == "" {
		it.Pseudonym = b.Author.Name
	}
	space := b.Space
	if it.Comment {
		post, err := ws.node.Get(r.Context(), b.Post)
		var pb youthBody
		switch {
		case errors.Is(err, protocol.ErrNotFound):
			it.PostGone = true
		case err != nil:
			return youthItem{}, "", err
		case post.Deleted || json.Unmarshal(post.Body, &pb) != nil:
			it.PostGone = true
		default:
			space = pb.Space
			it.PostTitle, it.PostLang = pb.Title, pb.Language
			it.PostExcerpt = markup.Excerpt(pb.Text, youthExcerpt)
			it.PostHref = threadHref(space, post.ID)
		}
	}
	if space != "" {
		it.SpaceName = spaceName(p, space)
	}
	return it, space, nil
}

// heldView builds the view of a held item; names are the members' names
// by id, for who decided.
func (ws *Workspace) heldView(r *http.Request, h node.HeldItem, names map[int64]string, viewer int64) (youthItem, error) {
	it, space, err := ws.itemOf(r, h.Kind, h.Body)
	if err != nil {
		return youthItem{}, err
	}
	it.ID, it.CreatedAt, it.State, it.Reason, it.DecidedAt = h.ID, h.CreatedAt, string(h.State), h.Reason, h.DecidedAt
	it.Own = h.MemberID == viewer
	if h.DecidedBy != 0 {
		it.DecidedBy = names[h.DecidedBy]
		if it.DecidedBy == "" {
			it.DecidedBy = web.Printer(r).T("youth.removed_member")
		}
	}
	if h.State == node.HeldApproved && h.EntityID != "" && space != "" {
		if it.Comment {
			it.Href = it.PostHref
		} else {
			it.Href = threadHref(space, h.EntityID)
		}
	}
	return it, nil
}

// memberNames maps the node's members' ids to their names.
func (ws *Workspace) memberNames(r *http.Request) (map[int64]string, error) {
	ms, err := ws.node.Accounts().List(r.Context())
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(ms))
	for _, m := range ms {
		out[m.ID] = m.Name
	}
	return out, nil
}

type approvalsPage struct {
	Waiting []youthItem
	// More says more items wait than are shown.
	More    bool
	Decided []youthItem
	// Notice is a decision just made, Problem a refusal.
	Notice, Problem string
}

func (ws *Workspace) approvalsData(r *http.Request) (approvalsPage, error) {
	me, _ := web.Member(r)
	names, err := ws.memberNames(r)
	if err != nil {
		return approvalsPage{}, err
	}
	waiting, err := ws.node.HeldItems(r.Context(), node.HeldFilter{State: node.HeldWaiting, Limit: youthWaitingPage + 1})
	if err != nil {
		return approvalsPage{}, err
	}
	var page approvalsPage
	if len(waiting) > youthWaitingPage {
		waiting, page.More = waiting[:youthWaitingPage], true
	}
	for _, h := range waiting {
		it, err := ws.heldView(r, h, names, me.ID)
		if err != nil {
			return approvalsPage{}, err
		}
		page.Waiting = append(page.Waiting, it)
	}
	decided, err := ws.node.DecidedHeld(r.Context(), youthDecidedPage)
	if err != nil {
		return approvalsPage{}, err
	}
	for _, h := range decided {
		it, err := ws.heldView(r, h, names, me.ID)
		if err != nil {
			return approvalsPage{}, err
		}
		page.Decided = append(page.Decided, it)
	}
	return page, nil
}

func (ws *Workspace) showApprovals(w http.ResponseWriter, r *http.Request) {
	page, err := ws.approvalsData(r)
	if err != nil {
		ws.fail(w, r, "read the youth approvals", err)
		return
	}
	if d := r.URL.Query().Get("done"); d == "approved" || d == "rejected" {
		page.Notice = web.Printer(r).T("youth.done." + d)
	}
	ws.render(w, r, http.StatusOK, "youthapprovals", sectionYouthApprovals, page)
}

// refuseDecision shows the queue again with why a decision was refused.
func (ws *Workspace) refuseDecision(w http.ResponseWriter, r *http.Request, status int, problem string) {
	page, err := ws.approvalsData(r)
	if err != nil {
		ws.fail(w, r, "read the youth approvals", err)
		return
	}
	page.Problem = problem
	ws.render(w, r, status, "youthapprovals", sectionYouthApprovals, page)
}

// decisionError answers a refused approval or rejection, or reports that
// it was none of the refusals people can act on.
func (ws *Workspace) decisionError(w http.ResponseWriter, r *http.Request, err error) bool {
	p := web.Printer(r)
	switch {
	case errors.Is(err, node.ErrHeldNotFound):
		ws.site.NotFound(w, r)
	case errors.Is(err, node.ErrOwnHeldItem):
		ws.refuseDecision(w, r, http.StatusForbidden, p.T("youth.error.own"))
	case errors.Is(err, node.ErrHeldDecided):
		ws.refuseDecision(w, r, http.StatusConflict, p.T("youth.error.decided"))
	case errors.Is(err, node.ErrNotCoordinator):
		ws.site.Error(w, r, http.StatusForbidden, "")
	case errors.As(err, new(*protocol.Error)):
		// The item passed the network's rules when it was held; what
		// changed since is the thread it belongs to.
		ws.refuseDecision(w, r, http.StatusConflict, p.T("youth.error.stale"))
	default:
		return false
	}
	return true
}

// validHeldID reports whether id has the shape of a held item's id.
func validHeldID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (ws *Workspace) approveHeld(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validHeldID(id) {
		ws.site.NotFound(w, r)
		return
	}
	me, _ := web.Member(r)
	if _, err := ws.node.ApproveHeld(r.Context(), id, me.ID); err != nil {
		if !ws.decisionError(w, r, err) {
			ws.fail(w, r, "approve a held item", err)
		}
		return
	}
	http.Redirect(w, r, PathYouthApprovals+"?done=approved", http.StatusSeeOther)
}

type rejectPage struct {
	Item   youthItem
	Reason string
	// Error is the reason's problem, if any.
	Error string
	Max   int
}

// heldForDecision returns the waiting item id for the reject form, or
// answers the request itself and returns false.
func (ws *Workspace) heldForDecision(w http.ResponseWriter, r *http.Request) (youthItem, bool) {
	id := r.PathValue("id")
	if !validHeldID(id) {
		ws.site.NotFound(w, r)
		return youthItem{}, false
	}
	h, err := ws.node.HeldItem(r.Context(), id)
	if err != nil {
		if !ws.decisionError(w, r, err) {
			ws.fail(w, r, "read a held item", err)
		}
		return youthItem{}, false
	}
	me, _ := web.Member(r)
	p := web.Printer(r)
	switch {
	case h.MemberID == me.ID:
		ws.refuseDecision(w, r, http.StatusForbidden, p.T("youth.error.own"))
		return youthItem{}, false
	case h.State != node.HeldWaiting:
		ws.refuseDecision(w, r, http.StatusConflict, p.T("youth.error.decided"))
		return youthItem{}, false
	}
	it, err := ws.heldView(r, h, nil, me.ID)
	if err != nil {
		ws.fail(w, r, "show a held item", err)
		return youthItem{}, false
	}
	return it, true
}

func (ws *Workspace) rejectForm(w http.ResponseWriter, r *http.Request) {
	it, ok := ws.heldForDecision(w, r)
	if !ok {
		return
	}
	ws.render(w, r, http.StatusOK, "youthreject", sectionYouthApprovals, rejectPage{Item: it, Max: node.MaxHeldReason})
}

func (ws *Workspace) rejectHeld(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, youthFormMax)
	if err := r.ParseForm(); err != nil {
		ws.site.Error(w, r, http.StatusRequestEntityTooLarge, "")
		return
	}
	it, ok := ws.heldForDecision(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	reason := r.PostForm.Get("reason")
	page := rejectPage{Item: it, Reason: reason, Max: node.MaxHeldReason}
	switch k := utf8.RuneCountInString(strings.TrimSpace(reason)); {
	case !utf8.ValidString(reason):
		page.Error = p.T("youth.reject.error.text")
	case k == 0:
		page.Error = p.T("youth.reject.error.required")
	case k > node.MaxHeldReason:
		page.Error = p.T("youth.reject.error.long", "max", strconv.Itoa(node.MaxHeldReason), "count", strconv.Itoa(k))
	}
	if page.Error != "" {
		ws.render(w, r, http.StatusUnprocessableEntity, "youthreject", sectionYouthApprovals, page)
		return
	}
	me, _ := web.Member(r)
	if _, err := ws.node.RejectHeld(r.Context(), it.ID, me.ID, reason); err != nil {
		if errors.Is(err, node.ErrInvalidReason) {
			page.Error = p.T("youth.reject.error.text")
			ws.render(w, r, http.StatusUnprocessableEntity, "youthreject", sectionYouthApprovals, page)
			return
		}
		if !ws.decisionError(w, r, err) {
			ws.fail(w, r, "reject a held item", err)
		}
		return
	}
	http.Redirect(w, r, PathYouthApprovals+"?done=rejected", http.StatusSeeOther)
}

type minePage struct {
	Items []youthItem
	// More says there are older items than those shown.
	More bool
}

func (ws *Workspace) showMine(w http.ResponseWriter, r *http.Request) {
	me, _ := web.Member(r)
	// Oldest first from the node, shown newest first: read them all (a
	// young person writes far fewer than the node's limit) and keep the
	// latest.
	held, err := ws.node.HeldItems(r.Context(), node.HeldFilter{Member: me.ID, Limit: 1000})
	if err != nil {
		ws.fail(w, r, "read a member's held items", err)
		return
	}
	var page minePage
	if len(held) > youthMinePage {
		held, page.More = held[len(held)-youthMinePage:], true
	}
	var published []string
	for _, h := range held {
		if h.EntityID != "" {
			published = append(published, h.EntityID)
		}
	}
	decisions, err := ws.node.ModerationOf(r.Context(), published)
	if err != nil {
		ws.fail(w, r, "read moderation decisions", err)
		return
	}
	for i := len(held) - 1; i >= 0; i-- {
		h := held[i]
		it, err := ws.heldView(r, h, nil, me.ID)
		if err != nil {
			ws.fail(w, r, "show a held item", err)
			return
		}
		// Only a hide changes what the author sees: a dismiss or a restore
		// leaves the item published.
		if d, ok := decisions[h.EntityID]; ok && d.Decision == "hide" {
			it.Moderation = &d
			it.Href = ""
		}
		page.Items = append(page.Items, it)
	}
	ws.render(w, r, http.StatusOK, "youthmine", sectionYouthMine, page)
}

type flagRow struct {
	Item youthItem
	// Gone says the flagged item is no longer on the node.
	Gone   bool
	Reason string
	Text   string
	By     string
	At     time.Time
	// Decision words the moderators' latest word, with its reason.
	Decision       string
	DecisionReason string
	DecidedAt      *time.Time
}

type flagsPage struct {
	Flags []flagRow
}

func (ws *Workspace) showYouthFlags(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	flags, err := ws.node.YouthFlags(r.Context(), node.YouthFlagQuery{Limit: youthFlagsPage})
	if err != nil {
		ws.fail(w, r, "read youth flags", err)
		return
	}
	var owners []string
	for _, f := range flags {
		owners = append(owners, f.Owner)
	}
	sics, err := ws.node.SICNames(r.Context(), owners)
	if err != nil {
		ws.fail(w, r, "read SIC names", err)
		return
	}
	var page flagsPage
	for _, f := range flags {
		row := flagRow{Reason: flagReason(p, f.Reason), Text: f.Text, At: f.At}
		switch a := f.Author; {
		case a.Pseudonym != "":
			row.By = a.Pseudonym
		default:
			sic := sics[a.SIC]
			switch {
			case sic != "":
			case a.SIC == ws.node.ID() && ws.node.Identity().Name != "":
				sic = ws.node.Identity().Name
			default:
				sic = strings.ToUpper(a.SIC)
			}
			row.By = p.T("youth.flags.by", "name", a.Name, "sic", sic)
		}
		if d := f.Decision; d != nil {
			row.Decision, row.DecisionReason, row.DecidedAt = decisionWords(p, d.Decision), d.Reason, &d.At
		} else {
			row.Decision = p.T("youth.flags.decision.none")
		}
		target, err := ws.node.Get(r.Context(), f.Target)
		switch {
		case errors.Is(err, protocol.ErrNotFound):
			row.Gone = true
		case err != nil:
			ws.fail(w, r, "read a flagged item", err)
			return
		case target.Deleted:
			row.Gone = true
		default:
			it, space, err := ws.itemOf(r, target.Kind, target.Body)
			if err != nil {
				ws.fail(w, r, "show a flagged item", err)
				return
			}
			it.ID = target.ID
			if it.Comment {
				it.Href = it.PostHref
			} else if space != "" {
				it.Href = threadHref(space, target.ID)
			}
			row.Item = it
		}
		page.Flags = append(page.Flags, row)
	}
	ws.render(w, r, http.StatusOK, "youthflags", sectionYouthApprovals, page)
}

// flagReason words a flag's reason, or gives it as sent when it is not one
// the workspace knows.
func flagReason(p *locale.Printer, reason string) string {
	id := "youth.flags.reason." + reason
	if s := p.T(id); s != id {
		return s
	}
	return reason
}

func decisionWords(p *locale.Printer, decision string) string {
	id := "youth.flags.decision." + decision
	if s := p.T(id); s != id {
		return s
	}
	return decision
}
