package workspace

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// dashboardRefusals bounds the refusals the dashboard lists; the admin
// API's status has the rest.
const dashboardRefusals = 10

// dashboardScheduled bounds the scheduled entities listed.
const dashboardScheduled = 20

type dashboardPage struct {
	Name string
	// Content is whether the member authors the SIC's content, and so
	// sees its sync state.
	Content bool
	Status  node.Status
	// Connected is whether the last exchange with the hub in either
	// direction succeeded; Waiting, whether there has been none yet.
	Connected, Waiting bool
	Scheduled          []scheduledView
	Refusals           []refusalView
	Roles              []string
	Now                time.Time
	// Zone names the time zone of the times shown; Pseudonym is a youth
	// member's name on the network.
	Zone, Pseudonym string
}

type scheduledView struct {
	ID, Title string
	Kind      protocol.Kind
	At        time.Time
	Href      string
}

type refusalView struct {
	At time.Time
	// Reason is the plain words for the refusal's code; Detail is the
	// hub's or the verifier's own text.
	Reason, Detail string
	ID             string
	Source         string
}

func (ws *Workspace) mountDashboard() {
	ws.handle("GET "+PathDashboard+"{$}", ws.showDashboard)
}

func (ws *Workspace) showDashboard(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	page := dashboardPage{Name: m.Name, Roles: m.Roles, Now: time.Now(),
		Content: m.HasAnyRole(rolesContent...), Zone: ws.zoneName(), Pseudonym: m.Pseudonym}
	if page.Content {
		st, err := ws.node.Status(r.Context())
		if err != nil {
			ws.fail(w, r, "read status", err)
			return
		}
		page.Status = st
		page.Connected = st.LastPushError == "" && st.LastPullError == ""
		page.Waiting = page.Connected && st.LastPushAt == nil && st.LastPullAt == nil
		p := web.Printer(r)
		for _, rf := range st.Refusals[:min(len(st.Refusals), dashboardRefusals)] {
			page.Refusals = append(page.Refusals, refusalView{At: rf.At, ID: rf.ID, Source: rf.Source,
				Reason: refusalReason(p.T, rf.Code), Detail: rf.Reason})
		}
		sched, err := ws.node.List(r.Context(), node.ListFilter{Owner: ws.node.ID(), Scheduled: true, Limit: 1000})
		if err != nil {
			ws.fail(w, r, "list scheduled", err)
			return
		}
		for _, e := range sched {
			if e.PublishAt == nil {
				continue
			}
			page.Scheduled = append(page.Scheduled, scheduledView{ID: e.ID, Kind: e.Kind, Title: titleOf(e.Body),
				At: e.PublishAt.In(ws.cfg.Location), Href: editHref(e)})
		}
		slices.SortFunc(page.Scheduled, func(a, b scheduledView) int { return a.At.Compare(b.At) })
		page.Scheduled = page.Scheduled[:min(len(page.Scheduled), dashboardScheduled)]
	}
	ws.render(w, r, http.StatusOK, "dashboard", sectionDashboard, page)
}

// refusalReason words a refusal's code for an editor; a code without its
// own words gets a general sentence.
func refusalReason(t func(string, ...any) string, code protocol.Code) string {
	id := "refusal." + string(code)
	if s := t(id); s != id {
		return s
	}
	return t("refusal.other")
}

// titleOf returns a body's title, or its name for kinds that have one
// instead, or "".
func titleOf(body json.RawMessage) string {
	var b struct {
		Title string `json:"title"`
		Name  string `json:"name"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	if b.Title != "" {
		return b.Title
	}
	return b.Name
}

// editHref is where an own entity is edited in the workspace, or "" for a
// kind the workspace does not edit.
func editHref(e node.Entity) string {
	switch e.Kind {
	case protocol.KindResource:
		return PathResources + pathID(e.ID)
	case protocol.KindTranslation:
		return PathTranslations + pathID(e.ID) + "/edit"
	case protocol.KindProfile:
		return PathProfile
	case protocol.KindEvent:
		return eventHref(e.ID)
	}
	return ""
}

// pathID is an entity id as one path segment: ids hold a colon, which is
// fine in a path, and nothing that needs escaping otherwise.
func pathID(id string) string { return strings.ReplaceAll(id, "/", "%2F") }
