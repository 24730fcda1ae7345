package console

import (
	"net/http"
	"strings"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

// erasureRow is an erasure as the pages show it.
type erasureRow struct {
	ID       string
	HubSeq   int64
	At       string
	By       string
	Reason   string
	Complete bool
	DoneAt   string
	Pending  []string
	// Group names the erasure of a person it belongs to, if any.
	Group string
}

func erasureView(p *locale.Printer, e protocol.Erasure) erasureRow {
	row := erasureRow{ID: e.ID, HubSeq: e.HubSeq, At: p.DateTime(e.At.UTC()), Reason: e.Reason, Complete: e.Complete, Pending: e.Pending}
	if e.Group != "" {
		owner, _ := protocol.SplitEntityID(e.ID)
		row.Group = groupTitle(p, owner, e.Group)
	}
	if e.By == protocol.ErasedByHub {
		row.By = p.T("console.erasures.by.hub")
	} else {
		row.By = p.T("console.erasures.by.owner")
	}
	if e.DoneAt != nil {
		row.DoneAt = p.DateTime(e.DoneAt.UTC())
	}
	return row
}

type erasuresPage struct {
	Waiting, Done []erasureRow
	// People are the erasures of people: the groups of erasures a node
	// labelled as everything one of its members wrote.
	People []personRow
}

// personRow is one erasure of a person with each holder's progress.
type personRow struct {
	Title, At     string
	Records, Done int
	Complete      bool
	Holders       []personHolder
}

type personHolder struct {
	Node         string
	Acked, Total int
	Complete     bool
}

// groupTitle words a group's label: a node's erasure of a person is
// "person-<n>"; any other label is shown as it is.
func groupTitle(p *locale.Printer, owner, group string) string {
	if n, ok := strings.CutPrefix(group, "person-"); ok {
		return p.T("console.erasures.person", "node", owner, "id", n)
	}
	return p.T("console.erasures.group", "node", owner, "group", group)
}

func (c *Console) erasures(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	st, err := c.hub.NetworkStatus(r.Context())
	if err != nil {
		c.fail(w, r, "read network status", err)
		return
	}
	var page erasuresPage
	for _, e := range st.Erasures {
		if e.Complete {
			page.Done = append(page.Done, erasureView(p, e))
		} else {
			page.Waiting = append(page.Waiting, erasureView(p, e))
		}
	}
	groups, err := c.hub.ErasureGroups(r.Context())
	if err != nil {
		c.fail(w, r, "read erasure groups", err)
		return
	}
	for _, g := range groups {
		row := personRow{Title: groupTitle(p, g.Owner, g.Group), At: p.DateTime(g.At.UTC()), Records: g.Records, Done: g.Done, Complete: g.Complete()}
		for _, h := range g.Holders {
			row.Holders = append(row.Holders, personHolder{Node: h.Node, Acked: h.Acked, Total: h.Total, Complete: h.Acked == h.Total})
		}
		page.People = append(page.People, row)
	}
	c.pages.RenderIn(w, r, http.StatusOK, "erasures", "erasures", page)
}
