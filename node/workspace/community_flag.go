package workspace

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// Flags: a member tells the moderators that a post or a comment, not
// their own, breaks the rules. The flag is this node's own change with its
// target's visibility, authored by the member (CreateAs).

type flagPage struct {
	SpaceName, SpaceHref, Href, Action string
	Title, Author                      string
	Reasons                            []reasonChoice
	Reason, Text                       string
	Problems                           problems
	Max                                int
}

type reasonChoice struct {
	ID, Value, Label, About string
	Checked                 bool
}

// flagTarget returns the post or comment of the thread ?item= names, when
// the member may flag it: not their own.
func (ws *Workspace) flagTarget(w http.ResponseWriter, r *http.Request) (viewer, string, node.Thread, node.Entity, bool) {
	v, space, th, ok := ws.openThread(w, r)
	if !ok {
		return v, "", node.Thread{}, node.Entity{}, false
	}
	e, ok := ws.threadItem(w, r, th)
	if !ok {
		return v, "", node.Thread{}, node.Entity{}, false
	}
	who, found, err := ws.node.AuthorOf(r.Context(), e.ID)
	if err != nil {
		ws.fail(w, r, "author of", err)
		return v, "", node.Thread{}, node.Entity{}, false
	}
	if found && who == v.ID {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.own_flag")
		return v, "", node.Thread{}, node.Entity{}, false
	}
	return v, space, th, e, true
}

func (ws *Workspace) flagView(r *http.Request, space string, th node.Thread, e node.Entity, reason, text string, ps problems) flagPage {
	p := web.Printer(r)
	href := threadHref(space, th.Post.ID)
	pg := flagPage{SpaceName: ws.spaceName(p, space), SpaceHref: spaceHref(space), Href: href + "#" + anchorID(e.ID),
		Action: href + "/flag?" + url.Values{"item": {e.ID}}.Encode(), Title: th.Post.Post.Title,
		Reason: reason, Text: text, Problems: ordered(ps, flagOrder), Max: protocol.MaxFlagText}
	var author protocol.Author
	if e.Kind == protocol.KindPost {
		author = th.Post.Post.Author
	} else {
		var c protocol.Comment
		_ = json.Unmarshal(e.Body, &c)
		author = c.Author
	}
	pg.Author = authorLabel(author)
	for i, reason := range protocol.FlagReasons {
		id := "f-reason-" + reason
		if i == 0 {
			id = "f-reason" // where the error summary leads
		}
		pg.Reasons = append(pg.Reasons, reasonChoice{ID: id, Value: reason,
			Label: p.T("community.flag.reason." + reason), About: p.T("community.flag.reason." + reason + ".about"),
			Checked: reason == pg.Reason})
	}
	return pg
}

// communityFlagForm asks why the member flags an item.
func (ws *Workspace) communityFlagForm(w http.ResponseWriter, r *http.Request) {
	_, space, th, e, ok := ws.flagTarget(w, r)
	if !ok {
		return
	}
	ws.render(w, r, http.StatusOK, "community_flag", sectionCommunity, ws.flagView(r, space, th, e, "", "", nil))
}

// communityFlag sends a flag and goes back to the thread, which thanks
// the member and shows the item as flagged.
func (ws *Workspace) communityFlag(w http.ResponseWriter, r *http.Request) {
	v, space, th, e, ok := ws.flagTarget(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	reason := r.PostForm.Get("reason")
	text := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("text"), "\r\n", "\n"))
	var ps problems
	if !slices.Contains(protocol.FlagReasons, reason) {
		ps.add("reason", p.T("community.flag.error.reason"))
		reason = ""
	}
	switch {
	case len(text) > protocol.MaxFlagText || !utf8.ValidString(text):
		ps.add("text", p.T("community.flag.error.text_long", "max", strconv.Itoa(protocol.MaxFlagText)))
	case reason == "other" && text == "":
		ps.add("text", p.T("community.flag.error.text"))
	}
	again := func(ps problems) {
		ws.render(w, r, http.StatusUnprocessableEntity, "community_flag", sectionCommunity,
			ws.flagView(r, space, th, e, reason, text, ps))
	}
	if len(ps) > 0 {
		again(ps)
		return
	}
	body, err := json.Marshal(protocol.Flag{Target: e.ID, Reason: reason, Text: text})
	if err != nil {
		ws.fail(w, r, "flag", err)
		return
	}
	f, err := ws.node.CreateAs(r.Context(), v.ID, node.Draft{Kind: protocol.KindFlag, Visibility: e.Visibility, Body: body})
	if err != nil {
		if ps, ok := refusal(p, err); ok {
			again(ps)
			return
		}
		ws.writeFailed(w, r, "flag", err)
		return
	}
	ws.log.Info("community item flagged", "flag", f.ID, "target", e.ID, "member", v.ID)
	http.Redirect(w, r, threadHref(space, th.Post.ID)+"?flagged=1#"+anchorID(e.ID), http.StatusSeeOther)
}
