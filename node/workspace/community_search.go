package workspace

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// Community search: only in the spaces the member reads, by space and by
// SIC, with the matched words marked.

// maxSearchInput bounds what the search box takes.
const maxSearchInput = 200

type searchPage struct {
	Query, Space, SIC string
	Spaces, SICs      []choice
	Hits              []hitView
	Searched          bool
	Next, First       string
}

type hitView struct {
	Href, Title, SpaceName, Owner string
	Comment                       bool
	Created                       time.Time
	Snippet                       []node.SnippetPart
	Hidden                        bool
	HiddenReason                  string
}

func (ws *Workspace) communitySearch(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	v := ws.viewerOf(r)
	if len(v.spaces) == 0 {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
		return
	}
	q := r.URL.Query()
	page := searchPage{Query: strings.TrimSpace(q.Get("q")), Space: q.Get("space"), SIC: strings.TrimSpace(q.Get("sic"))}
	after := q.Get("after")
	if len(page.Query) > maxSearchInput {
		page.Query = page.Query[:maxSearchInput]
	}
	if page.Space != "" && !ws.knownSpace(page.Space) || page.SIC != "" && !validSIC(page.SIC) || !validCursor(after) {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if page.Space != "" && !slices.Contains(v.spaces, page.Space) {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
		return
	}
	page.Spaces = append(page.Spaces, choice{Value: "", Label: p.T("community.search.space.all"), Checked: page.Space == ""})
	for _, s := range v.spaces {
		page.Spaces = append(page.Spaces, choice{Value: s, Label: ws.spaceName(p, s), Checked: s == page.Space})
	}
	page.SICs = ws.sicChoices(p, page.SIC)
	if page.Query != "" {
		page.Searched = true
		spaces := v.spaces
		if page.Space != "" {
			spaces = []string{page.Space}
		}
		res, err := ws.node.SearchCommunity(r.Context(), node.CommunityQuery{Text: page.Query, Spaces: spaces, SIC: page.SIC,
			After: after, HiddenOf: ws.node.ID()})
		if errors.Is(err, node.ErrInvalidCursor) {
			ws.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		if err != nil {
			ws.fail(w, r, "search the community", err)
			return
		}
		for _, h := range res.Hits {
			show, err := ws.mayShow(r.Context(), v, h.ID, h.Hidden)
			if err != nil {
				ws.fail(w, r, "search the community", err)
				return
			}
			if !show {
				continue
			}
			href := threadHref(h.Space, h.Post)
			if h.Kind == protocol.KindComment {
				href += "#" + anchorID(h.ID)
			}
			page.Hits = append(page.Hits, hitView{Href: href, Title: h.Title, SpaceName: ws.spaceName(p, h.Space),
				Owner: strings.ToUpper(h.Owner), Comment: h.Kind == protocol.KindComment, Created: h.CreatedAt.In(ws.cfg.Location),
				Snippet: h.Snippet, Hidden: h.Hidden, HiddenReason: h.HiddenReason})
		}
		link := func(after string) string {
			vals := url.Values{"q": {page.Query}}
			if page.Space != "" {
				vals.Set("space", page.Space)
			}
			if page.SIC != "" {
				vals.Set("sic", page.SIC)
			}
			if after != "" {
				vals.Set("after", after)
			}
			return PathCommunity + "search?" + vals.Encode()
		}
		if res.Next != "" {
			page.Next = link(res.Next)
		}
		if after != "" {
			page.First = link("")
		}
	}
	ws.render(w, r, http.StatusOK, "community_search", sectionCommunity, page)
}
