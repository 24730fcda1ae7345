package workspace

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// The community: the spaces a member reads (node.ReadableSpaces decides
// which), their threads, a thread with its comments, search, writing and
// flags. Every read passes this node's id as HiddenOf, and the pages keep
// an item the moderators hid only for its author and the SIC's admins.

// PathCommunity is the community's part of the workspace.
const PathCommunity = "/community/"

const sectionCommunity = "community"

// rolesCommunity are the roles that read at least one space, for the menu;
// each page still asks node.ReadableSpaces.
var rolesCommunity = []string{node.RoleStaff, node.RoleEditor, node.RoleAdmin, node.RoleYouthCoordinator, node.RoleYouth}

// threadsPerPage and commentsPerPage are the pages' lengths.
const (
	threadsPerPage  = 20
	commentsPerPage = 50
	// filterRounds bounds how many of the node's pages one page of a
	// filtered list reads, so a SIC that wrote little costs a few reads.
	filterRounds = 10
	// maxCursor bounds a paging cursor from the address.
	maxCursor = 1024
)

func (ws *Workspace) mountCommunity() {
	ws.handle("GET "+PathCommunity+"{$}", ws.communityIndex)
	ws.handle("GET "+PathCommunity+"search", ws.communitySearch)
	ws.handle("GET "+PathCommunity+"{space}/{$}", ws.communitySpace)
	ws.handle("GET "+PathCommunity+"{space}/new", ws.communityNew)
	ws.handle("POST "+PathCommunity+"{space}/new", ws.communityCreate)
	ws.handle("GET "+PathCommunity+"{space}/sent", ws.communitySent)
	ws.handle("GET "+PathCommunity+"{space}/{post}", ws.communityThread)
	ws.handle("POST "+PathCommunity+"{space}/{post}", ws.communityReply)
	ws.handle("GET "+PathCommunity+"{space}/{post}/edit", ws.communityEdit)
	ws.handle("POST "+PathCommunity+"{space}/{post}/edit", ws.communityUpdate)
	ws.handle("GET "+PathCommunity+"{space}/{post}/flag", ws.communityFlagForm)
	ws.handle("POST "+PathCommunity+"{space}/{post}/flag", ws.communityFlag)
}

// spaceHref is a space's thread list; threadHref a thread.
func spaceHref(space string) string { return PathCommunity + url.PathEscape(space) + "/" }

func threadHref(space, post string) string { return spaceHref(space) + pathID(post) }

// spaceName is a space's name in the interface's language.
func (ws *Workspace) spaceName(p *locale.Printer, space string) string {
	if sic, ok := protocol.NationalYouthSIC(space); ok {
		return p.T("community.space.national", "country", ws.countryName(p, sic))
	}
	id := "community.space." + space
	if s := p.T(id); s != id {
		return s
	}
	return space
}

// countryName names the country of the SIC sic in the interface's
// language, from the countries the hub binds the node to, else its id.
func (ws *Workspace) countryName(p *locale.Printer, sic string) string {
	code := sic
	if c := ws.node.Identity().Countries; sic == ws.node.ID() && len(c) > 0 {
		code = c[0]
	}
	if r, err := language.ParseRegion(code); err == nil {
		if tag, err := language.Parse(p.Lang()); err == nil {
			if name := display.Regions(tag).Name(r); name != "" {
				return name
			}
		}
	}
	return strings.ToUpper(sic)
}

// spaceDescription is a space's one-line description.
func (ws *Workspace) spaceDescription(p *locale.Printer, space string) string {
	if _, ok := protocol.NationalYouthSIC(space); ok {
		return p.T("community.space.national.about")
	}
	return p.T("community.space." + space + ".about")
}

// viewer is the signed-in member a community page is for.
type viewer struct {
	account.Member
	spaces []string
}

func (v viewer) admin() bool { return v.HasRole(node.RoleAdmin) }

// heldForApproval: what the member writes waits for a youth coordinator.
func (v viewer) heldForApproval() bool { return node.HeldForApproval(v.Member) }

func (ws *Workspace) viewerOf(r *http.Request) viewer {
	m, _ := web.Member(r)
	return viewer{Member: m, spaces: node.ReadableSpaces(m, ws.node.ID())}
}

// openSpace returns the member and the space the address names: an
// address that is no space of this node is not found, a space the member
// may not read is refused.
func (ws *Workspace) openSpace(w http.ResponseWriter, r *http.Request) (viewer, string, bool) {
	v := ws.viewerOf(r)
	space := r.PathValue("space")
	if !ws.knownSpace(space) {
		ws.site.NotFound(w, r)
		return v, "", false
	}
	if !slices.Contains(v.spaces, space) {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
		return v, "", false
	}
	return v, space, true
}

// knownSpace: space is a space of the workspace on this node: the list's,
// but news, and this node's own national youth space.
func (ws *Workspace) knownSpace(space string) bool {
	if space == protocol.SpaceNews {
		return false
	}
	if sic, ok := protocol.NationalYouthSIC(space); ok {
		return sic == ws.node.ID()
	}
	return slices.Contains(protocol.Spaces, space)
}

// mayShow says whether the member sees an item the moderators hid: its
// author and the SIC's admins do, marked, and nobody else.
func (ws *Workspace) mayShow(ctx context.Context, v viewer, id string, hidden bool) (bool, error) {
	if !hidden || v.admin() {
		return true, nil
	}
	who, ok, err := ws.node.AuthorOf(ctx, id)
	if err != nil {
		return false, err
	}
	return ok && who == v.ID, nil
}

// authorLabel names an author as the pages show them: a name with the SIC,
// or a pseudonym.
func authorLabel(a protocol.Author) string {
	if a.Pseudonym != "" {
		return a.Pseudonym
	}
	if a.SIC == "" {
		return a.Name
	}
	return a.Name + " (" + strings.ToUpper(a.SIC) + ")"
}

// validCursor: a cursor from the address is of the node's alphabet and
// length, before the node reads it.
func validCursor(c string) bool {
	if len(c) > maxCursor {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// validSIC: the SIC filter names a node or the hub.
func validSIC(sic string) bool {
	return sic == protocol.HubID || protocol.ValidNodeID(sic) == nil
}

type communityIndexPage struct {
	Spaces []spaceView
}

type spaceView struct {
	Href, Name, About string
	Threads           int
	More              bool
	Latest            time.Time
	Unread            int
}

// communityIndex lists the spaces the member reads, with each one's most
// recent activity from the first page of its threads.
func (ws *Workspace) communityIndex(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	v := ws.viewerOf(r)
	if len(v.spaces) == 0 {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
		return
	}
	page := communityIndexPage{}
	for _, s := range v.spaces {
		sv := spaceView{Href: spaceHref(s), Name: ws.spaceName(p, s), About: ws.spaceDescription(p, s)}
		list, err := ws.node.CommunityThreads(r.Context(), node.ThreadQuery{Space: s, Member: v.ID, Limit: threadsPerPage,
			HiddenOf: ws.node.ID()})
		if err != nil {
			ws.fail(w, r, "list threads", err)
			return
		}
		for _, t := range list.Threads {
			if t.Hidden {
				continue
			}
			sv.Threads++
			if t.Unread {
				sv.Unread++
			}
			if t.LastActivity.After(sv.Latest) {
				sv.Latest = t.LastActivity.In(ws.cfg.Location)
			}
		}
		sv.More = list.Next != ""
		page.Spaces = append(page.Spaces, sv)
	}
	ws.render(w, r, http.StatusOK, "community", sectionCommunity, page)
}

type communitySpacePage struct {
	Space, Name, About, Href string
	NewHref                  string
	Blog                     bool
	SIC                      string
	SICs                     []choice
	Threads                  []threadRow
	Next                     string
	First                    string
	Filtered                 bool
	SearchHref               string
}

type threadRow struct {
	Href, Title, Author, Lang string
	Comments                  int
	LastActivity              time.Time
	Unread, Hidden            bool
	HiddenReason              string
}

// communitySpace lists a space's threads, the most recent activity first.
func (ws *Workspace) communitySpace(w http.ResponseWriter, r *http.Request) {
	v, space, ok := ws.openSpace(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	q := r.URL.Query()
	before, sic := q.Get("before"), strings.TrimSpace(q.Get("sic"))
	if !validCursor(before) || sic != "" && !validSIC(sic) {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	page := communitySpacePage{Space: space, Name: ws.spaceName(p, space), About: ws.spaceDescription(p, space),
		Href: spaceHref(space), NewHref: spaceHref(space) + "new", Blog: space == protocol.SpaceBlog, SIC: sic,
		Filtered: sic != "" || before != "", SearchHref: PathCommunity + "search?space=" + url.QueryEscape(space)}
	rows, next, err := ws.threadPage(r.Context(), v, space, sic, before)
	if errors.Is(err, node.ErrInvalidCursor) {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if err != nil {
		ws.fail(w, r, "list threads", err)
		return
	}
	for _, t := range rows {
		row := threadRow{Href: threadHref(space, t.Post), Title: t.Title, Author: authorLabel(t.Author), Lang: t.Language,
			Comments: t.Comments, LastActivity: t.LastActivity.In(ws.cfg.Location), Unread: t.Unread, Hidden: t.Hidden,
			HiddenReason: t.HiddenReason}
		page.Threads = append(page.Threads, row)
	}
	if next != "" {
		vals := url.Values{"before": {next}}
		if sic != "" {
			vals.Set("sic", sic)
		}
		page.Next = page.Href + "?" + vals.Encode()
	}
	if before != "" {
		page.First = page.Href
		if sic != "" {
			page.First += "?sic=" + url.QueryEscape(sic)
		}
	}
	page.SICs = ws.sicChoices(p, sic)
	ws.render(w, r, http.StatusOK, "community_space", sectionCommunity, page)
}

// threadPage reads one page of a space's threads the member may see, of
// one SIC when sic is set. Pages of the node are read whole, so the next
// cursor is the node's own; a filter reads up to filterRounds of them.
func (ws *Workspace) threadPage(ctx context.Context, v viewer, space, sic, before string) ([]node.ThreadSummary, string, error) {
	var out []node.ThreadSummary
	cursor := before
	for round := 0; round < filterRounds; round++ {
		list, err := ws.node.CommunityThreads(ctx, node.ThreadQuery{Space: space, Member: v.ID,
			Limit: threadsPerPage - len(out), Before: cursor, HiddenOf: ws.node.ID()})
		if err != nil {
			return nil, "", err
		}
		for _, t := range list.Threads {
			if sic != "" && t.Owner != sic {
				continue
			}
			show, err := ws.mayShow(ctx, v, t.Post, t.Hidden)
			if err != nil {
				return nil, "", err
			}
			if show {
				out = append(out, t)
			}
		}
		cursor = list.Next
		if cursor == "" || len(out) >= threadsPerPage {
			break
		}
	}
	return out, cursor, nil
}

// sicChoices are the SICs a filter offers: this node, the hub and any
// typed in.
func (ws *Workspace) sicChoices(p *locale.Printer, picked string) []choice {
	out := []choice{{Value: "", Label: p.T("community.filter.sic.all"), Checked: picked == ""}}
	ids := []string{ws.node.ID()}
	for _, s := range ws.node.Identity().Countries {
		if !slices.Contains(ids, s) && protocol.ValidNodeID(s) == nil {
			ids = append(ids, s)
		}
	}
	for _, s := range knownSICs {
		if !slices.Contains(ids, s) {
			ids = append(ids, s)
		}
	}
	if picked != "" && !slices.Contains(ids, picked) && picked != protocol.HubID {
		ids = append(ids, picked)
	}
	for _, s := range ids {
		out = append(out, choice{Value: s, Label: strings.ToUpper(s) + " – " + ws.countryName(p, s), Checked: picked == s})
	}
	out = append(out, choice{Value: protocol.HubID, Label: p.T("community.filter.sic.hub"), Checked: picked == protocol.HubID})
	return out
}

// knownSICs are the network's centres by their usual node ids, the
// countries of the Insafe network, offered in the filters.
var knownSICs = []string{
	"at", "be", "bg", "cy", "cz", "de", "dk", "ee", "es", "fi", "fr", "gr", "hr", "hu", "ie", "is", "it",
	"lt", "lu", "lv", "mt", "nl", "no", "pl", "pt", "ro", "se", "si", "sk",
}

type threadPage struct {
	Space, SpaceName, SpaceHref string
	Href, Action, FlagBase      string
	Post                        itemView
	Blog                        bool
	Comments                    []itemView
	CommentCount                int
	Next, First                 string
	Reply                       replyInput
	Problems                    problems
	Languages                   []choice
	Held                        bool
	MayReply                    bool
	// Thanks: the member has just flagged an item.
	Thanks bool
}

// itemView is a post or a comment as the thread page shows it.
type itemView struct {
	ID, Anchor, Title  string
	Author, Lang       string
	HTML               template.HTML
	Unrenderable       bool
	Created, Updated   time.Time
	Edited, New        bool
	Hidden             bool
	HiddenReason       string
	EditHref, FlagHref string
	Flagged            bool
	Tags               []string
	Files              []fileLink
}

// fileLink is an attachment as the thread page lists it; Markdown is how
// its author shows an image in the text.
type fileLink struct {
	Href, Name, Type, Size, Markdown string
}

type replyInput struct {
	Text, Language string
}

// openThread reads the thread the address names, as the member may see it:
// an id that is no live post of the space, or a post hidden from the
// member, is not found; a bad cursor is a bad request.
func (ws *Workspace) openThread(w http.ResponseWriter, r *http.Request) (viewer, string, node.Thread, bool) {
	v, space, ok := ws.openSpace(w, r)
	if !ok {
		return v, "", node.Thread{}, false
	}
	id := r.PathValue("post")
	if _, err := protocol.SplitEntityID(id); err != nil {
		ws.site.NotFound(w, r)
		return v, "", node.Thread{}, false
	}
	after := r.URL.Query().Get("after")
	if !validCursor(after) {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return v, "", node.Thread{}, false
	}
	th, err := ws.node.CommunityThread(r.Context(), id, v.ID, node.CommentPage{Limit: commentsPerPage, After: after,
		HiddenOf: ws.node.ID()})
	switch {
	case errors.Is(err, protocol.ErrNotFound):
		ws.site.NotFound(w, r)
		return v, "", node.Thread{}, false
	case errors.Is(err, node.ErrInvalidCursor):
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return v, "", node.Thread{}, false
	case err != nil:
		ws.fail(w, r, "read thread", err)
		return v, "", node.Thread{}, false
	}
	if th.Post.Post.Space != space {
		ws.site.NotFound(w, r)
		return v, "", node.Thread{}, false
	}
	show, err := ws.mayShow(r.Context(), v, th.Post.ID, th.Post.Hidden)
	if err != nil {
		ws.fail(w, r, "read thread", err)
		return v, "", node.Thread{}, false
	}
	if !show {
		ws.site.NotFound(w, r)
		return v, "", node.Thread{}, false
	}
	kept := th.Comments[:0]
	for _, c := range th.Comments {
		show, err := ws.mayShow(r.Context(), v, c.ID, c.Hidden)
		if err != nil {
			ws.fail(w, r, "read thread", err)
			return v, "", node.Thread{}, false
		}
		if show {
			kept = append(kept, c)
		}
	}
	th.Comments = kept
	return v, space, th, true
}

// communityThread shows a thread and marks it read up to what it shows.
func (ws *Workspace) communityThread(w http.ResponseWriter, r *http.Request) {
	v, space, th, ok := ws.openThread(w, r)
	if !ok {
		return
	}
	in := replyInput{Language: defaultLanguage(web.Printer(r))}
	page, err := ws.threadView(r, v, space, th, in, nil)
	if err != nil {
		ws.fail(w, r, "show thread", err)
		return
	}
	ws.render(w, r, http.StatusOK, "community_thread", sectionCommunity, page)
	if err := ws.node.MarkThreadRead(r.Context(), v.ID, th.Post.ID, th.LastActivity); err != nil && !errors.Is(err, protocol.ErrNotFound) {
		ws.log.Warn("mark thread read", "post", th.Post.ID, "err", err)
	}
}

func (ws *Workspace) threadView(r *http.Request, v viewer, space string, th node.Thread, in replyInput, ps problems) (threadPage, error) {
	p := web.Printer(r)
	href := threadHref(space, th.Post.ID)
	page := threadPage{Space: space, SpaceName: ws.spaceName(p, space), SpaceHref: spaceHref(space), Href: href,
		Action: href, Blog: th.Post.Post.Format == "blog", CommentCount: th.CommentCount, Reply: in, Problems: ordered(ps, replyOrder),
		Languages: languageChoices(p, "", []string{in.Language}), Held: v.heldForApproval(), MayReply: !th.Post.Hidden,
		Thanks: r.URL.Query().Get("flagged") == "1"}
	ids := []string{th.Post.ID}
	for _, c := range th.Comments {
		ids = append(ids, c.ID)
	}
	flagged, err := ws.node.FlaggedBy(r.Context(), v.ID, ids)
	if err != nil {
		return threadPage{}, err
	}
	files, err := ws.node.AttachmentsOf(r.Context(), ids)
	if err != nil {
		return threadPage{}, err
	}
	written, err := ws.node.WrittenBy(r.Context(), v.ID, ids)
	if err != nil {
		return threadPage{}, err
	}
	item := func(id, text string, created, updated time.Time, hidden bool, reason string) (itemView, error) {
		iv := itemView{ID: id, Anchor: anchorID(id), Created: created.In(ws.cfg.Location), Updated: updated.In(ws.cfg.Location),
			Edited: updated.Sub(created) > time.Minute, Hidden: hidden, HiddenReason: reason, Flagged: flagged[id]}
		html, err := markup.Render(text)
		if err != nil {
			iv.Unrenderable = true
		}
		iv.HTML = html
		mine := written[id]
		vals := url.Values{"item": {id}}
		if mine && !v.heldForApproval() {
			iv.EditHref = href + "/edit?" + vals.Encode()
		}
		if !mine {
			iv.FlagHref = href + "/flag?" + vals.Encode()
		}
		for _, b := range files[id] {
			fl := fileLink{Href: fileHref(b), Name: b.Name, Type: b.MediaType, Size: humanBytes(b.Size)}
			if mine && strings.HasPrefix(b.MediaType, "image/") {
				fl.Markdown = "![" + strings.NewReplacer("[", "", "]", "").Replace(b.Name) + "](" + fl.Href + ")"
			}
			iv.Files = append(iv.Files, fl)
		}
		return iv, nil
	}
	pp := th.Post.Post
	post, err := item(th.Post.ID, pp.Text, th.Post.CreatedAt, th.Post.UpdatedAt, th.Post.Hidden, th.Post.HiddenReason)
	if err != nil {
		return threadPage{}, err
	}
	post.Title, post.Author, post.Lang, post.Tags = pp.Title, authorLabel(pp.Author), pp.Language, pp.Tags
	page.Post = post
	for _, c := range th.Comments {
		iv, err := item(c.ID, c.Comment.Text, c.CreatedAt, c.UpdatedAt, c.Hidden, c.HiddenReason)
		if err != nil {
			return threadPage{}, err
		}
		iv.Author, iv.Lang = authorLabel(c.Comment.Author), c.Comment.Language
		iv.New = th.SeenAt.IsZero() || c.UpdatedAt.After(th.SeenAt)
		page.Comments = append(page.Comments, iv)
	}
	if th.Next != "" {
		page.Next = href + "?after=" + url.QueryEscape(th.Next)
	}
	if r.URL.Query().Get("after") != "" {
		page.First = href
	}
	return page, nil
}

// defaultLanguage is the language a new text is in unless the member says
// otherwise: the interface's.
func defaultLanguage(p *locale.Printer) string {
	if l := p.Lang(); slices.Contains(resourceLanguages, l) {
		return l
	}
	return "en"
}
