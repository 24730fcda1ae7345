package workspace

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// The erasure of a person: an admin removes a member together with
// everything they wrote (node.ErasePerson), after a page that counts what
// goes, and follows each erasure until every holder has purged it.

const pathMembersErasures = PathMembers + "erasures"

// erasureRefresh bounds how long the erasures page waits for the hub's
// report before it shows what it last heard.
const erasureRefresh = 3 * time.Second

type erasePage struct {
	Member account.Member
	node.AuthoredCounts
}

type holderRow struct {
	Name        string
	Done, Total int
	Complete    bool
}

type personErasureRow struct {
	node.PersonErasure
	By       string
	Holders  []holderRow
	Complete bool
}

type erasuresPageData struct {
	Erasures []personErasureRow
	Notice   string
	// Stale is set when the hub could not be asked just now; CheckedAt
	// is then when it last answered, if ever.
	Stale     bool
	CheckedAt *time.Time
}

func (ws *Workspace) mountErasures() {
	ws.handle("GET "+pathMembersErasures, ws.showErasures, rolesMembers...)
	ws.handle("GET "+PathMembers+"{id}/erase", ws.confirmErase, rolesMembers...)
	ws.handle("POST "+PathMembers+"{id}/erase", ws.erasePerson, rolesMembers...)
}

// confirmErase says exactly what erasing the member takes, with the counts
// of what they wrote, before anything happens.
func (ws *Workspace) confirmErase(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	if me, _ := actor(r); m.ID == me.ID {
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.self.remove"), "")
		return
	}
	counts, err := ws.node.Authored(r.Context(), m.ID)
	if err != nil {
		ws.fail(w, r, "count what a member wrote", err)
		return
	}
	ws.render(w, r, http.StatusOK, "memberserase", sectionMembers, erasePage{Member: m, AuthoredCounts: counts})
}

func (ws *Workspace) erasePerson(w http.ResponseWriter, r *http.Request) {
	m, ok := ws.member(w, r)
	if !ok {
		return
	}
	me, who := actor(r)
	if m.ID == me.ID {
		ws.renderMember(w, r, http.StatusConflict, m, web.Printer(r).T("members.error.self.remove"), "")
		return
	}
	pe, err := ws.node.ErasePerson(r.Context(), m.ID, who)
	switch {
	case errors.Is(err, account.ErrNotFound):
		ws.site.NotFound(w, r)
		return
	case err != nil:
		ws.fail(w, r, "erase member", err)
		return
	}
	ws.log.Info("member erased", "member", m.ID, "by", me.ID, "erasure", pe.ID, "items", pe.Items())
	http.Redirect(w, r, pathMembersErasures+"?done=erased", http.StatusSeeOther)
}

// showErasures lists the erasures of people, newest first, each with how
// far every holder has got. It asks the hub first, but shows what it last
// heard when the hub does not answer quickly.
func (ws *Workspace) showErasures(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	page := erasuresPageData{}
	ctx, cancel := context.WithTimeout(r.Context(), erasureRefresh)
	err := ws.node.RefreshPersonErasures(ctx)
	cancel()
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		ws.log.Info("person erasure status not refreshed", "err", err)
		page.Stale = true
	}
	list, err := ws.node.PersonErasures(r.Context())
	if err != nil {
		ws.fail(w, r, "read person erasures", err)
		return
	}
	if r.URL.Query().Get("done") == "erased" {
		page.Notice = p.T("members.erasures.started")
	}
	self := ws.node.ID()
	for _, e := range list {
		row := personErasureRow{PersonErasure: e.PersonErasure, By: ws.actorName(r, e.Actor), Complete: e.Complete}
		for _, h := range e.Holders {
			name := h.Holder
			switch h.Holder {
			case self:
				name = p.T("members.erasures.holder.self", "node", self)
			case protocol.HubID:
				name = p.T("members.erasures.holder.hub")
			}
			row.Holders = append(row.Holders, holderRow{Name: name, Done: h.Done, Total: h.Total, Complete: h.Complete()})
		}
		if page.Stale && e.CheckedAt != nil && (page.CheckedAt == nil || e.CheckedAt.After(*page.CheckedAt)) {
			page.CheckedAt = e.CheckedAt
		}
		page.Erasures = append(page.Erasures, row)
	}
	ws.render(w, r, http.StatusOK, "memberserasures", sectionMembers, page)
}

// actorName names who erased someone, as the audit log does.
func (ws *Workspace) actorName(r *http.Request, actor string) string {
	p := web.Printer(r)
	if id, ok := strings.CutPrefix(actor, "member:"); ok {
		n, _ := strconv.ParseInt(id, 10, 64)
		if m, err := ws.node.Accounts().Get(r.Context(), n); err == nil {
			return m.Name
		}
		return p.T("members.audit.removed_member", "id", id)
	}
	switch actor {
	case "admin-token":
		return p.T("members.audit.actor.token")
	case "cli":
		return p.T("members.audit.actor.cli")
	}
	return actor
}
