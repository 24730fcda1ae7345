package console

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

// The moderation queue. Moderators read it and decide; coordinators, who
// answer for the network's community, read it too but do not decide.
// Operators run the hub and do not read members' words.
const pathModeration = "/console/moderation/"

// Who reads the queue, and who decides.
var (
	moderationReaders  = []string{hub.RoleModerator, hub.RoleCoordinator}
	moderationDeciders = []string{hub.RoleModerator}
)

// The audit log names a moderator's decision in words, like the team's
// own events.
func init() { auditEvents[hub.EventModerationDecision] = true }

// excerptLen is how many characters of an item the queue shows.
const excerptLen = 160

func (c *Console) mountModeration(m *http.ServeMux) {
	read := c.requireRole(moderationReaders...)
	decide := c.requireRole(moderationDeciders...)
	m.Handle("GET "+pathModeration+"{$}", read(http.HandlerFunc(c.moderationQueue)))
	m.Handle("GET "+pathModeration+"{id}", read(http.HandlerFunc(c.moderationCase)))
	m.Handle("POST "+pathModeration+"{id}", decide(http.HandlerFunc(c.moderationDecide)))
}

// modTab is one filter of the queue.
type modTab struct {
	Href, Label string
	Current     bool
}

// modRow is one item of the queue as the list shows it.
type modRow struct {
	ID, Href, Kind, Title, Excerpt string
	Lang                           string // the item's language
	Space, Owner, Author           string
	Flags, OpenFlags               int
	Reasons                        string
	Age                            string
	Youth, Hidden, Waiting         bool
	Last                           string // the latest decision, in words
	LastAt                         string
}

type modQueuePage struct {
	Tabs    []modTab
	Filter  string
	Heading string
	Rows    []modRow
	Next    string
	Empty   string
}

func (c *Console) moderationQueue(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	q := r.URL.Query()
	filter := hub.QueueFilter(q.Get("filter"))
	if !slices.Contains(hub.QueueFilters, filter) {
		c.site.NotFound(w, r)
		return
	}
	after := q.Get("after")
	if len(after) > 200 {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	res, err := c.hub.Queue(r.Context(), hub.QueueQuery{Filter: filter, After: after})
	if errors.Is(err, hub.ErrBadCursor) {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if err != nil {
		c.fail(w, r, "read the moderation queue", err)
		return
	}
	page := modQueuePage{Filter: string(filter), Heading: p.T(filterLabel(filter)), Empty: p.T("console.moderation.empty." + filterName(filter))}
	for _, f := range hub.QueueFilters {
		page.Tabs = append(page.Tabs, modTab{Href: queueHref(f, ""), Label: p.T(filterLabel(f)), Current: f == filter})
	}
	now := time.Now()
	for _, e := range res.Entries {
		page.Rows = append(page.Rows, queueRow(p, e, now))
	}
	if res.Next != "" {
		page.Next = queueHref(filter, res.Next)
	}
	c.pages.RenderIn(w, r, http.StatusOK, "moderation", "moderation", page)
}

func filterName(f hub.QueueFilter) string {
	if f == hub.QueueWaiting {
		return "waiting"
	}
	return string(f)
}

func filterLabel(f hub.QueueFilter) string { return "console.moderation.filter." + filterName(f) }

func queueHref(f hub.QueueFilter, after string) string {
	v := url.Values{}
	if f != hub.QueueWaiting {
		v.Set("filter", string(f))
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return pathModeration
	}
	return pathModeration + "?" + v.Encode()
}

func itemHref(id string) string { return pathModeration + url.PathEscape(id) }

func queueRow(p *locale.Printer, e hub.QueueEntry, now time.Time) modRow {
	it := e.Item
	row := modRow{ID: it.ID, Href: itemHref(it.ID), Kind: p.T("console.moderation.kind." + string(it.Kind)), Title: it.Title,
		Excerpt: markup.Excerpt(it.Text, excerptLen), Lang: it.Language, Space: spaceName(p, it.Space), Owner: it.Owner, Author: it.AuthorName(),
		Flags: len(e.Flags), OpenFlags: e.OpenFlags, Youth: e.Youth, Hidden: it.Hidden, Waiting: e.Waiting}
	var reasons []string
	for _, f := range e.Flags {
		if w := p.T("console.moderation.reason." + f.Reason); !slices.Contains(reasons, w) {
			reasons = append(reasons, w)
		}
	}
	row.Reasons = strings.Join(reasons, ", ")
	if !e.Since.IsZero() {
		row.Age = p.Ago(now.Sub(e.Since))
	}
	if e.Last != nil {
		row.Last = p.T("console.moderation.decided." + e.Last.Decision)
		row.LastAt = p.DateTime(e.Last.At)
	}
	return row
}

// spaceName is a space in words; an unknown one shows as it is.
func spaceName(p *locale.Printer, space string) string {
	if space == "" {
		return p.T("console.moderation.space.unknown")
	}
	if slices.Contains(protocol.Spaces, space) {
		return p.T("console.moderation.space." + space)
	}
	return space
}

// modItemView is a post or comment as the case page shows it.
type modItemView struct {
	ID, Href, Kind, Title, Lang   string
	HTML                          template.HTML
	Author, Owner, Space          string
	Written, Received             string
	Hidden                        bool
	HiddenReason                  string
	Unrenderable                  bool
	Pseudonym                     bool
	Version                       int64
	Excerpt, DecisionAt, Decision string // in the author's history
	DecisionReason                string
}

func modItemViewOf(p *locale.Printer, it hub.ModItem) modItemView {
	v := modItemView{ID: it.ID, Href: itemHref(it.ID), Kind: p.T("console.moderation.kind." + string(it.Kind)), Title: it.Title,
		Lang: it.Language, Author: it.AuthorName(), Owner: it.Owner, Space: spaceName(p, it.Space),
		Written: p.DateTime(it.Written), Received: p.DateTime(it.Received), Hidden: it.Hidden, HiddenReason: it.HiddenReason,
		Pseudonym: it.Author.Pseudonym != "", Version: it.Version, Excerpt: markup.Excerpt(it.Text, excerptLen)}
	html, err := markup.Render(it.Text)
	if err != nil {
		// Nodes render before they sign; a text that fails here is shown
		// as words rather than lost.
		v.Unrenderable = true
	}
	v.HTML = html
	return v
}

type modFlagView struct {
	Flagger, Owner, Reason, Text, At string
	Open                             bool
}

type modDecisionView struct {
	Decision, Reason, At string
}

type modCasePage struct {
	Item      modItemView
	Thread    *modItemView
	Flags     []modFlagView
	OpenFlags int
	Decisions []modDecisionView
	Waiting   bool
	Youth     bool
	History   struct {
		Hidden, Restored, Dismissed int
		Recent                      []modItemView
	}
	Decide  bool // the reader may decide
	Notice  string
	Choices []modChoice
	// The form: what was chosen and typed, and what is wrong with it.
	Decision, Reason           string
	DecisionError, ReasonError string
	Error                      string
	MaxReason                  int
}

func (p modCasePage) HasErrors() bool { return p.DecisionError != "" || p.ReasonError != "" }

type modChoice struct {
	Value, Label, Hint string
	Checked            bool
}

func (c *Console) moderationCase(w http.ResponseWriter, r *http.Request) {
	page := modCasePage{}
	if d := r.URL.Query().Get("done"); slices.Contains(hub.Decisions, d) {
		page.Notice = web.Printer(r).T("console.moderation.done." + d)
	}
	c.renderCase(w, r, http.StatusOK, page)
}

// renderCase shows the item the path names, with page's form state.
func (c *Console) renderCase(w http.ResponseWriter, r *http.Request, status int, page modCasePage) {
	p := web.Printer(r)
	cs, err := c.hub.Case(r.Context(), r.PathValue("id"))
	if errors.Is(err, hub.ErrNotModerated) {
		c.site.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, "read a moderation case", err)
		return
	}
	page.Item = modItemViewOf(p, cs.Item)
	if cs.Thread != nil {
		t := modItemViewOf(p, *cs.Thread)
		page.Thread = &t
	}
	for _, f := range cs.Flags {
		page.Flags = append(page.Flags, modFlagView{Flagger: f.FlaggerName(), Owner: f.Owner,
			Reason: p.T("console.moderation.reason." + f.Reason), Text: f.Text, At: p.DateTime(f.At), Open: f.Open})
		if f.Open {
			page.OpenFlags++
		}
	}
	for _, d := range cs.Decisions {
		page.Decisions = append(page.Decisions, modDecisionView{Decision: p.T("console.moderation.decided." + d.Decision), Reason: d.Reason, At: p.DateTime(d.At)})
	}
	page.Waiting, page.Youth = cs.Waiting, cs.Youth
	page.History.Hidden, page.History.Restored, page.History.Dismissed = cs.History.Hidden, cs.History.Restored, cs.History.Dismissed
	for _, h := range cs.History.Recent {
		v := modItemViewOf(p, h.Item)
		v.HTML = "" // the list shows excerpts
		v.Decision, v.DecisionReason, v.DecisionAt = p.T("console.moderation.decided."+h.Decision), h.Reason, p.DateTime(h.At)
		page.History.Recent = append(page.History.Recent, v)
	}
	page.Decide = slices.ContainsFunc(moderationDeciders, signedIn(r).HasRole)
	page.MaxReason = protocol.MaxModerationReason
	for _, d := range hub.Decisions {
		if d == hub.DecisionRestore && !cs.Item.Hidden {
			continue // nothing to restore
		}
		page.Choices = append(page.Choices, modChoice{Value: d, Label: p.T("console.moderation.decision." + d),
			Hint: p.T("console.moderation.decide." + d + ".hint"), Checked: page.Decision == d})
	}
	c.pages.RenderIn(w, r, status, "moderation-item", "moderation", page)
}

// moderationDecide takes a moderator's decision on the item the path names.
func (c *Console) moderationDecide(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	id := r.PathValue("id")
	page := modCasePage{Decision: r.PostForm.Get("decision"), Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	if !slices.Contains(hub.Decisions, page.Decision) {
		page.Decision = ""
		page.DecisionError = p.T("console.moderation.error.decision")
	}
	switch {
	case page.Reason == "":
		page.ReasonError = p.T("console.moderation.error.reason")
	case len(page.Reason) > protocol.MaxModerationReason || !utf8.ValidString(page.Reason):
		page.ReasonError = p.N("console.moderation.error.reason_long", protocol.MaxModerationReason)
		if !utf8.ValidString(page.Reason) {
			page.Reason = strings.ToValidUTF8(page.Reason, "")
		}
	}
	if page.HasErrors() {
		c.renderCase(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	did, err := c.hub.Decide(r.Context(), hub.Decision{Target: id, Decision: page.Decision, Reason: page.Reason, Actor: actor(r)})
	switch {
	case err == nil:
	case did != "":
		// Published, not audited: the hub has logged it; the decision
		// stands.
		c.log.Error("a moderation decision is not in the audit log", "decision", did, "err", err)
	case errors.Is(err, hub.ErrNotModerated):
		c.site.NotFound(w, r)
		return
	case errors.Is(err, hub.ErrNotHidden):
		page.DecisionError = p.T("console.moderation.error.not_hidden")
		c.renderCase(w, r, http.StatusConflict, page)
		return
	default:
		var pe *protocol.Error
		if errors.As(err, &pe) && (pe.Code == protocol.CodeConflict || pe.Code == protocol.CodeUnavailable) {
			page.Error = p.T("console.moderation.error.again")
			c.renderCase(w, r, http.StatusServiceUnavailable, page)
			return
		}
		c.fail(w, r, "publish a moderation decision", err)
		return
	}
	c.log.Info("moderation decision from the console", "target", id, "decision", page.Decision, "member", signedIn(r).ID)
	http.Redirect(w, r, itemHref(id)+"?done="+page.Decision, http.StatusSeeOther)
}
