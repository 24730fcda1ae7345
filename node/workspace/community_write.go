package workspace

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// Writing in the community: new threads and blog posts, replies, and edits
// of one's own. The node sets the author from the session (CreateAs,
// UpdateAs); a young person's post or reply goes to their coordinators
// (Hold) instead of the network.

// The order of each form's fields, which its error
// summary follows.
var (
	postOrder  = []string{"title", "text", "language", "tags", "files", "general"}
	flagOrder  = []string{"reason", "text", "general"}
	replyOrder = []string{"text", "language", "general"}
)

// ordered returns ps in the order of fields.
func ordered(ps problems, fields []string) problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b fieldProblem) int { return slices.Index(fields, a.Field) - slices.Index(fields, b.Field) })
	return out
}

// maxTagLen bounds one tag, as the protocol does.
const maxTagLen = 64

// postInput is what a member typed into a post's or a reply's form, kept
// as typed so the form can come back with it.
type postInput struct {
	Title, Text, Language, Tags string
	// Attachments are the post's files, Remove those ticked to go.
	Attachments []protocol.BlobRef
	Remove      []string
	// Preview asks to see the text as it will show, not to send it yet.
	Preview bool
}

func postInputFrom(f url.Values) postInput {
	return postInput{Title: strings.TrimSpace(f.Get("title")), Text: strings.ReplaceAll(f.Get("text"), "\r\n", "\n"),
		Language: strings.TrimSpace(f.Get("language")), Tags: strings.TrimSpace(f.Get("tags")), Remove: f["remove"],
		Preview: f.Get("action") == "preview"}
}

// blobs are the attachments the post keeps.
func (in postInput) blobs() []protocol.BlobRef {
	return slices.DeleteFunc(slices.Clone(in.Attachments), func(b protocol.BlobRef) bool { return slices.Contains(in.Remove, b.SHA256) })
}

func (in postInput) tags() []string {
	var out []string
	for _, t := range strings.Split(in.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// checkPost words what is wrong with in, field by field, before the node sees
// it; withTitle for a post.
func checkPost(p *locale.Printer, in postInput, withTitle bool) problems {
	var ps problems
	if withTitle {
		switch {
		case in.Title == "":
			ps.add("title", p.T("community.error.title"))
		case len(in.Title) > protocol.MaxShortField || !utf8.ValidString(in.Title):
			ps.add("title", p.T("community.error.title_long", "max", strconv.Itoa(protocol.MaxShortField)))
		}
	}
	switch _, err := markup.Render(in.Text); {
	case strings.TrimSpace(in.Text) == "":
		ps.add("text", p.T("community.error.text"))
	case len(in.Text) > protocol.MaxTextField || errors.Is(err, markup.ErrTooLong):
		ps.add("text", p.T("community.error.text_long", "max", humanBytes(protocol.MaxTextField),
			"size", humanBytes(int64(len(in.Text)))))
	case errors.Is(err, markup.ErrTooComplex):
		ps.add("text", p.T("community.error.text_complex"))
	case !utf8.ValidString(in.Text):
		ps.add("text", p.T("community.error.text"))
	}
	if _, err := protocol.ParseLanguageTag(in.Language); err != nil || !slices.Contains(resourceLanguages, in.Language) {
		ps.add("language", p.T("community.error.language"))
	}
	if withTitle {
		tags := in.tags()
		switch {
		case len(tags) > protocol.MaxListLen:
			ps.add("tags", p.T("community.error.tags_many", "max", strconv.Itoa(protocol.MaxListLen)))
		case slices.ContainsFunc(tags, func(t string) bool { return len(t) > maxTagLen }):
			ps.add("tags", p.T("community.error.tags_long", "max", strconv.Itoa(maxTagLen)))
		}
	}
	return ps
}

// refusal words the node's refusal of a text: field by field for a
// validation error, else as a whole. ok is false for an error that is no
// refusal.
func refusal(p *locale.Printer, err error) (problems, bool) {
	var ps problems
	var ve *protocol.ValidationError
	var pe *protocol.Error
	switch {
	case errors.As(err, &ve) && len(ve.Fields) > 0:
		for _, f := range ve.Fields {
			field := strings.TrimPrefix(f.Field, "body.")
			switch field {
			case "title", "text", "language", "tags":
				ps.add(field, p.T("community.error."+field))
			default:
				ps.add("general", p.T("community.error.general"))
			}
		}
	case errors.As(err, &ve) || errors.As(err, &pe):
		ps.add("general", p.T("community.error.general"))
	default:
		return nil, false
	}
	// Every form has the text; not every one a title.
	for i := range ps {
		if ps[i].Field == "general" {
			ps[i].Anchor = "f-text"
		}
	}
	return ps, true
}

type postFormPage struct {
	Space, SpaceName, SpaceHref string
	Action, Cancel              string
	// Kind is "post" or "comment"; Edit is an edit of one's own.
	Kind       string
	Blog, Edit bool
	Held       bool
	In         postInput
	Problems   problems
	Languages  []choice
	MaxText    string
	// Files: the form takes attachments; Attachments are those it has.
	Files       bool
	Attachments []attachmentView
	MaxUpload   string
	// Preview is the text as it will show, when the member asked for it.
	Preview template.HTML
}

func (ws *Workspace) postForm(r *http.Request, v viewer, space, kind, action, cancel string, in postInput, ps problems) postFormPage {
	p := web.Printer(r)
	sep := "?"
	if strings.Contains(action, "?") {
		sep = "&"
	}
	pg := postFormPage{Space: space, SpaceName: ws.spaceName(p, space), SpaceHref: spaceHref(space),
		Action: action + sep + web.FormField + "=" + url.QueryEscape(ws.site.FormToken(r)),
		Cancel: cancel, Kind: kind, Blog: space == protocol.SpaceBlog, Held: v.heldForApproval(), In: in,
		Problems: ordered(ps, postOrder), Languages: languageChoices(p, "", []string{in.Language}),
		MaxText: humanBytes(protocol.MaxTextField), MaxUpload: humanBytes(ws.maxUpload)}
	// A young person's text is held, and held items carry no files.
	pg.Files = kind == "post" && !pg.Held
	for _, b := range in.Attachments {
		pg.Attachments = append(pg.Attachments, attachmentView{Value: refValue(b), SHA: b.SHA256, Name: b.Name,
			Type: b.MediaType, Size: humanBytes(b.Size), Href: fileHref(b), Remove: slices.Contains(in.Remove, b.SHA256)})
	}
	return pg
}

// readPostForm reads a post's form, with the files it carries streamed
// into the blob store; current are the attachments the post has. A form
// that cannot be read is answered here, and ok is false.
func (ws *Workspace) readPostForm(w http.ResponseWriter, r *http.Request, v viewer, current []protocol.BlobRef) (postInput, problems, bool) {
	p := web.Printer(r)
	ws.allowTransfer(w)
	r.Body = http.MaxBytesReader(w, r.Body, int64(protocol.MaxBlobsPerItem)*(ws.maxUpload+overflowDrain)+maxFormText)
	vals, ups, err := ws.readResourceForm(r)
	if err != nil {
		if r.Context().Err() == nil {
			ws.log.Info("community form refused", "err", err)
			ws.site.Error(w, r, http.StatusBadRequest, "")
		}
		return postInput{}, nil, false
	}
	in := postInputFrom(vals)
	in.Attachments = ws.keptAttachments(r, vals, current)
	var ps problems
	for _, u := range ups {
		switch {
		case u.err != "":
			ps.add("files", u.err)
		case !slices.ContainsFunc(in.Attachments, func(b protocol.BlobRef) bool { return b.SHA256 == u.ref.SHA256 }):
			in.Attachments = append(in.Attachments, u.ref)
		}
	}
	switch {
	case v.heldForApproval() && len(in.Attachments) > 0:
		ps.add("files", p.T("community.error.files_held"))
	case len(in.blobs()) > protocol.MaxBlobsPerItem:
		ps.add("files", p.T("community.error.files_many", "max", strconv.Itoa(protocol.MaxBlobsPerItem)))
	}
	return in, ps, true
}

// previewPost adds to a checked form its text as the thread will show it.
func (ws *Workspace) previewPost(r *http.Request, pg postFormPage) postFormPage {
	html, err := markup.Render(pg.In.Text)
	if err != nil {
		ws.log.Warn("preview of a checked text failed", "err", err)
		return pg
	}
	pg.Preview = html
	return pg
}

// communityNew is the form of a new thread, or of a blog post in the blog.
func (ws *Workspace) communityNew(w http.ResponseWriter, r *http.Request) {
	v, space, ok := ws.openSpace(w, r)
	if !ok {
		return
	}
	in := postInput{Language: defaultLanguage(web.Printer(r))}
	ws.render(w, r, http.StatusOK, "community_form", sectionCommunity,
		ws.postForm(r, v, space, "post", spaceHref(space)+"new", spaceHref(space), in, nil))
}

// postDraft is the draft of a post; the node sets its author.
func postDraft(space string, in postInput) (node.Draft, error) {
	vis, err := protocol.SpaceVisibility(space)
	if err != nil {
		return node.Draft{}, err
	}
	format := "thread"
	if space == protocol.SpaceBlog {
		format = "blog"
	}
	body, err := json.Marshal(protocol.Post{Space: space, Format: format, Title: in.Title, Text: in.Text,
		Language: in.Language, Tags: in.tags()})
	if err != nil {
		return node.Draft{}, err
	}
	return node.Draft{Kind: protocol.KindPost, Visibility: vis, Body: body, Blobs: in.blobs()}, nil
}

// communityCreate takes a new thread or blog post.
func (ws *Workspace) communityCreate(w http.ResponseWriter, r *http.Request) {
	v, space, ok := ws.openSpace(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	in, ps, ok := ws.readPostForm(w, r, v, nil)
	if !ok {
		return
	}
	action := spaceHref(space) + "new"
	again := func(ps problems) {
		ws.render(w, r, http.StatusUnprocessableEntity, "community_form", sectionCommunity,
			ws.postForm(r, v, space, "post", action, spaceHref(space), in, ps))
	}
	if ps = append(checkPost(p, in, true), ps...); len(ps) > 0 {
		again(ps)
		return
	}
	if in.Preview {
		ws.render(w, r, http.StatusOK, "community_form", sectionCommunity,
			ws.previewPost(r, ws.postForm(r, v, space, "post", action, spaceHref(space), in, nil)))
		return
	}
	d, err := postDraft(space, in)
	if err != nil {
		ws.fail(w, r, "new post", err)
		return
	}
	ws.write(w, r, v, space, d, "", again)
}

// write sends a new post or comment: a young person's to their
// coordinators, anyone else's to the network. again shows the form with
// the node's refusal.
func (ws *Workspace) write(w http.ResponseWriter, r *http.Request, v viewer, space string, d node.Draft, post string, again func(problems)) {
	p := web.Printer(r)
	if v.heldForApproval() {
		if _, err := ws.node.Hold(r.Context(), v.ID, d); err != nil {
			if ps, ok := refusal(p, err); ok {
				again(ps)
				return
			}
			ws.writeFailed(w, r, "hold", err)
			return
		}
		ws.log.Info("community item held for approval", "member", v.ID, "space", space, "kind", d.Kind)
		http.Redirect(w, r, spaceHref(space)+"sent", http.StatusSeeOther)
		return
	}
	e, err := ws.node.CreateAs(r.Context(), v.ID, d)
	if err != nil {
		if ps, ok := refusal(p, err); ok {
			again(ps)
			return
		}
		ws.writeFailed(w, r, "write", err)
		return
	}
	ws.log.Info("community item written", "id", e.ID, "member", v.ID, "space", space, "kind", d.Kind)
	if post == "" {
		http.Redirect(w, r, threadHref(space, e.ID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, threadHref(space, post)+"#"+anchorID(e.ID), http.StatusSeeOther)
}

// writeFailed answers a write the node refused for who or where, not what.
func (ws *Workspace) writeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, node.ErrSpaceClosed), errors.Is(err, node.ErrNotAuthor), errors.Is(err, node.ErrNotYouth),
		errors.Is(err, node.ErrHeldForApproval):
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
	case errors.Is(err, protocol.ErrNotFound):
		ws.site.NotFound(w, r)
	default:
		ws.fail(w, r, what, err)
	}
}

// anchorID is the element id of an item on its thread's page.
func anchorID(id string) string {
	return "i-" + strings.NewReplacer(":", "-", "/", "-").Replace(id)
}

// communityReply takes a reply at the foot of a thread.
func (ws *Workspace) communityReply(w http.ResponseWriter, r *http.Request) {
	v, space, th, ok := ws.openThread(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	in := postInputFrom(r.PostForm)
	reply := replyInput{Text: in.Text, Language: in.Language}
	again := func(ps problems) {
		page, err := ws.threadView(r, v, space, th, reply, ps)
		if err != nil {
			ws.fail(w, r, "show thread", err)
			return
		}
		ws.render(w, r, http.StatusUnprocessableEntity, "community_thread", sectionCommunity, page)
	}
	if th.Post.Hidden {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.closed")
		return
	}
	if ps := checkPost(p, in, false); len(ps) > 0 {
		again(ps)
		return
	}
	vis, err := protocol.SpaceVisibility(space)
	if err != nil {
		ws.site.NotFound(w, r)
		return
	}
	body, err := json.Marshal(protocol.Comment{Post: th.Post.ID, Text: in.Text, Language: in.Language})
	if err != nil {
		ws.fail(w, r, "reply", err)
		return
	}
	ws.write(w, r, v, space, node.Draft{Kind: protocol.KindComment, Visibility: vis, Body: body}, th.Post.ID, again)
}

// communitySent tells a young person where their text went.
func (ws *Workspace) communitySent(w http.ResponseWriter, r *http.Request) {
	_, space, ok := ws.openSpace(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	ws.render(w, r, http.StatusOK, "community_sent", sectionCommunity, struct {
		SpaceName, SpaceHref, Mine string
	}{ws.spaceName(p, space), spaceHref(space), PathYouthMine})
}

// ownItem returns the post or comment of the thread the address names
// that the member wrote and may edit; anything else is refused.
func (ws *Workspace) ownItem(w http.ResponseWriter, r *http.Request) (viewer, string, string, node.Entity, bool) {
	v, space, th, ok := ws.openThread(w, r)
	if !ok {
		return v, "", "", node.Entity{}, false
	}
	e, ok := ws.threadItem(w, r, th)
	if !ok {
		return v, "", "", node.Entity{}, false
	}
	who, found, err := ws.node.AuthorOf(r.Context(), e.ID)
	if err != nil {
		ws.fail(w, r, "author of", err)
		return v, "", "", node.Entity{}, false
	}
	// A young person's edit would skip the coordinators: they write anew.
	if !found || who != v.ID || v.heldForApproval() {
		ws.site.Error(w, r, http.StatusForbidden, "community.error.not_yours")
		return v, "", "", node.Entity{}, false
	}
	return v, space, th.Post.ID, e, true
}

// threadItem returns the live post or comment ?item= names in th.
func (ws *Workspace) threadItem(w http.ResponseWriter, r *http.Request, th node.Thread) (node.Entity, bool) {
	id := r.URL.Query().Get("item")
	if _, err := protocol.SplitEntityID(id); err != nil {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	e, err := ws.node.Get(r.Context(), id)
	if errors.Is(err, protocol.ErrNotFound) {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	if err != nil {
		ws.fail(w, r, "read item", err)
		return node.Entity{}, false
	}
	if e.Deleted {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	// A reply the moderators hid is there only for those who see it.
	hidden, err := ws.node.ItemHidden(r.Context(), e.ID)
	if errors.Is(err, protocol.ErrNotFound) {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	if err != nil {
		ws.fail(w, r, "read item", err)
		return node.Entity{}, false
	}
	show, err := ws.mayShow(r.Context(), ws.viewerOf(r), e.ID, hidden)
	if err != nil {
		ws.fail(w, r, "read item", err)
		return node.Entity{}, false
	}
	if !show {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	switch e.Kind {
	case protocol.KindPost:
		if e.ID == th.Post.ID {
			return e, true
		}
	case protocol.KindComment:
		var c protocol.Comment
		if json.Unmarshal(e.Body, &c) == nil && c.Post == th.Post.ID {
			return e, true
		}
	}
	ws.site.NotFound(w, r)
	return node.Entity{}, false
}

func editInput(e node.Entity) postInput {
	if e.Kind == protocol.KindPost {
		var b protocol.Post
		_ = json.Unmarshal(e.Body, &b)
		return postInput{Title: b.Title, Text: b.Text, Language: b.Language, Tags: strings.Join(b.Tags, ", "),
			Attachments: slices.Clone(e.Blobs)}
	}
	var c protocol.Comment
	_ = json.Unmarshal(e.Body, &c)
	return postInput{Text: c.Text, Language: c.Language}
}

func editAction(space, post, id string) string {
	return threadHref(space, post) + "/edit?" + url.Values{"item": {id}}.Encode()
}

// communityEdit is the form of an edit of one's own post or comment.
func (ws *Workspace) communityEdit(w http.ResponseWriter, r *http.Request) {
	v, space, post, e, ok := ws.ownItem(w, r)
	if !ok {
		return
	}
	pg := ws.postForm(r, v, space, string(e.Kind), editAction(space, post, e.ID), threadHref(space, post), editInput(e), nil)
	pg.Edit = true
	ws.render(w, r, http.StatusOK, "community_form", sectionCommunity, pg)
}

// communityUpdate saves an edit of one's own post or comment.
func (ws *Workspace) communityUpdate(w http.ResponseWriter, r *http.Request) {
	v, space, post, e, ok := ws.ownItem(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	isPost := e.Kind == protocol.KindPost
	in, ps, ok := ws.readPostForm(w, r, v, e.Blobs)
	if !ok {
		return
	}
	again := func(ps problems) {
		pg := ws.postForm(r, v, space, string(e.Kind), editAction(space, post, e.ID), threadHref(space, post), in, ps)
		pg.Edit = true
		ws.render(w, r, http.StatusUnprocessableEntity, "community_form", sectionCommunity, pg)
	}
	if ps = append(checkPost(p, in, isPost), ps...); len(ps) > 0 {
		again(ps)
		return
	}
	if in.Preview {
		pg := ws.postForm(r, v, space, string(e.Kind), editAction(space, post, e.ID), threadHref(space, post), in, nil)
		pg.Edit = true
		ws.render(w, r, http.StatusOK, "community_form", sectionCommunity, ws.previewPost(r, pg))
		return
	}
	var d node.Draft
	var err error
	if isPost {
		d, err = postDraft(space, in)
	} else {
		var body []byte
		body, err = json.Marshal(protocol.Comment{Post: post, Text: in.Text, Language: in.Language})
		d = node.Draft{Kind: protocol.KindComment, Visibility: e.Visibility, Body: body, Blobs: e.Blobs}
	}
	if err != nil {
		ws.fail(w, r, "edit", err)
		return
	}
	if _, err := ws.node.UpdateAs(r.Context(), v.ID, e.ID, d); err != nil {
		if ps, ok := refusal(p, err); ok {
			again(ps)
			return
		}
		ws.writeFailed(w, r, "edit", err)
		return
	}
	ws.log.Info("community item edited", "id", e.ID, "member", v.ID)
	http.Redirect(w, r, threadHref(space, post)+"#"+anchorID(e.ID), http.StatusSeeOther)
}
