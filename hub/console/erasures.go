package console

import (
	"net/http"

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
}

func erasureView(p *locale.Printer, e protocol.Erasure) erasureRow {
	row := erasureRow{ID: e.ID, HubSeq: e.HubSeq, At: p.DateTime(e.At.UTC()), Reason: e.Reason, Complete: e.Complete, Pending: e.Pending}
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
	c.pages.RenderIn(w, r, http.StatusOK, "erasures", "erasures", page)
}
