package console

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

const pathCommunity = "/console/community/"

// Limits of the community forms. A post's text is bounded by what
// internal/markup renders; the whole form by the site's form limit.
const (
	maxTags      = 10
	maxTagLen    = 64
	excerptRunes = 200
)

// postLanguages are the languages a post may be written in: the
// European Union's official languages and those of the network's other
// members, each named in itself so a writer finds their own.
var postLanguages = []struct{ Tag, Name string }{
	{"bg", "български"}, {"cs", "čeština"}, {"da", "dansk"}, {"de", "Deutsch"}, {"el", "Ελληνικά"},
	{"en", "English"}, {"es", "español"}, {"et", "eesti"}, {"fi", "suomi"}, {"fr", "français"},
	{"ga", "Gaeilge"}, {"hr", "hrvatski"}, {"hu", "magyar"}, {"is", "íslenska"}, {"it", "italiano"},
	{"lb", "Lëtzebuergesch"}, {"lt", "lietuvių"}, {"lv", "latviešu"}, {"mt", "Malti"}, {"nl", "Nederlands"},
	{"no", "norsk"}, {"pl", "polski"}, {"pt", "português"}, {"ro", "română"}, {"sk", "slovenčina"},
	{"sl", "slovenščina"}, {"sv", "svenska"},
}

func knownLanguage(tag string) bool {
	return slices.ContainsFunc(postLanguages, func(l struct{ Tag, Name string }) bool { return l.Tag == tag })
}

// canRead says whether m reads space in the console: every member of the
// team reads the Communities of Practice and the blog; the European youth
// space is for its coordinators and moderators.
func canRead(m account.Member, space string) bool {
	if !slices.Contains(hub.CommunitySpaces, space) {
		return false
	}
	if space == protocol.SpaceYouth {
		return m.HasAnyRole(hub.RoleCoordinator, hub.RoleModerator)
	}
	return true
}

// mayPublishNews says whether m may make a blog post public as news.
func mayPublishNews(m account.Member) bool {
	return m.HasAnyRole(hub.RoleCoordinator, hub.RoleOperator)
}

// spaceFor reads the space the path names, or writes the 404 page (a
// space that is not one, or not the member's).
func (c *Console) spaceFor(w http.ResponseWriter, r *http.Request) (string, bool) {
	space := r.PathValue("space")
	if !canRead(signedIn(r), space) {
		c.site.NotFound(w, r)
		return "", false
	}
	return space, true
}

// threadFor reads the thread the path names, in the space it names.
func (c *Console) threadFor(w http.ResponseWriter, r *http.Request, space string, page hub.CommentPage) (hub.Thread, bool) {
	t, err := c.hub.CommunityThread(r.Context(), r.PathValue("id"), page)
	switch {
	case errors.Is(err, hub.ErrBadCursor):
		c.site.Error(w, r, http.StatusBadRequest, "")
		return t, false
	case errors.Is(err, protocol.ErrNotFound) || err == nil && t.Space != space:
		c.site.NotFound(w, r)
		return t, false
	case err != nil:
		c.fail(w, r, "read thread", err)
		return t, false
	}
	return t, true
}

func threadPath(space, id string) string { return pathCommunity + space + "/" + id }

// spaceRow is one space on the spaces page.
type spaceRow struct {
	Space, Name, Hint string
	Threads           int
	LastActivity      string
}

type spacesPage struct{ Spaces []spaceRow }

func (c *Console) communitySpaces(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	sums, err := c.hub.CommunitySpaceSummaries(r.Context())
	if err != nil {
		c.fail(w, r, "count threads", err)
		return
	}
	var page spacesPage
	me := signedIn(r)
	for _, s := range sums {
		if !canRead(me, s.Space) {
			continue
		}
		row := spaceRow{Space: s.Space, Name: p.T("console.community.space." + s.Space), Hint: p.T("console.community.space." + s.Space + ".hint"), Threads: s.Threads}
		if !s.LastActivity.IsZero() {
			row.LastActivity = p.DateTime(s.LastActivity)
		}
		page.Spaces = append(page.Spaces, row)
	}
	c.pages.RenderIn(w, r, http.StatusOK, "community", "community", page)
}

// itemView is a post or a comment as the pages show it.
type itemView struct {
	ID, Title, Author, Language string
	Updated, UpdatedISO         string
	Excerpt                     string
	Body                        template.HTML
	Unrenderable                bool // the text is too long or complex to render: shown as text
	Text                        string
	Tags                        []string
	Hidden                      bool
	HiddenReason                string
	Mine                        bool
	EditHref                    string
}

// authorWords names an author: a young person by pseudonym, anyone else by
// name and SIC.
func (c *Console) authorWords(p *locale.Printer, a protocol.Author) string {
	switch {
	case a.Pseudonym != "":
		return a.Pseudonym
	case a.SIC == protocol.HubID:
		return p.T("console.community.author.team", "name", a.Name)
	}
	return p.T("console.community.author", "name", a.Name, "sic", c.hub.NodeName(a.SIC))
}

func (c *Console) itemView(r *http.Request, it hub.CommunityItem, full bool) itemView {
	p := web.Printer(r)
	v := itemView{ID: it.ID, Author: c.authorWords(p, it.Author()), Updated: p.DateTime(it.UpdatedAt.UTC()),
		UpdatedISO: it.UpdatedAt.UTC().Format(time.RFC3339), Hidden: it.Hidden, HiddenReason: it.HiddenReason}
	if it.Post != nil {
		v.Title, v.Language, v.Tags = it.Post.Title, it.Post.Language, it.Post.Tags
	} else if it.Comment != nil {
		v.Language = it.Comment.Language
	}
	if !full {
		v.Excerpt = markup.Excerpt(it.Text(), excerptRunes)
		return v
	}
	// Rendered when shown, from the Markdown the owner signed: what is
	// stored is never HTML, and a better sanitiser applies to old posts too.
	body, err := markup.Render(it.Text())
	if err != nil {
		v.Unrenderable, v.Text = true, it.Text()
	} else {
		v.Body = body
	}
	if it.Owner == protocol.HubID {
		if author, err := c.hub.CommunityAuthor(r.Context(), it.ID); err == nil && author != 0 && author == signedIn(r).ID {
			v.Mine = true
		}
	}
	return v
}

type threadRow struct {
	itemView
	Href         string
	Comments     int
	LastActivity string
	ActivityISO  string
}

type sicChoice struct {
	ID, Name string
	Selected bool
}

type spacePage struct {
	Space, Name, Hint string
	Threads           []threadRow
	SICs              []sicChoice
	SIC               string
	Next              string
	Filtered          bool
}

// sicChoices lists the nodes and the hub, for the filter.
func (c *Console) sicChoices(r *http.Request, selected string) ([]sicChoice, error) {
	st, err := c.hub.NetworkStatus(r.Context())
	if err != nil {
		return nil, err
	}
	p := web.Printer(r)
	out := []sicChoice{{ID: protocol.HubID, Name: p.T("console.community.team"), Selected: selected == protocol.HubID}}
	for _, n := range st.Nodes {
		if n.Node == protocol.HubID {
			continue
		}
		out = append(out, sicChoice{ID: n.Node, Name: c.hub.NodeName(n.Node), Selected: selected == n.Node})
	}
	return out, nil
}

func (c *Console) communitySpace(w http.ResponseWriter, r *http.Request) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return
	}
	p := web.Printer(r)
	q := r.URL.Query()
	page := spacePage{Space: space, Name: p.T("console.community.space." + space), Hint: p.T("console.community.space." + space + ".hint"), SIC: q.Get("sic")}
	sics, err := c.sicChoices(r, page.SIC)
	if err != nil {
		c.fail(w, r, "list nodes", err)
		return
	}
	page.SICs = sics
	if page.SIC != "" && !slices.ContainsFunc(sics, func(s sicChoice) bool { return s.ID == page.SIC }) {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	page.Filtered = page.SIC != ""
	l, err := c.hub.CommunityThreads(r.Context(), hub.ThreadQuery{Space: space, SIC: page.SIC, Before: q.Get("before")})
	if errors.Is(err, hub.ErrBadCursor) {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if err != nil {
		c.fail(w, r, "list threads", err)
		return
	}
	for _, s := range l.Threads {
		page.Threads = append(page.Threads, threadRow{itemView: c.itemView(r, s.Post, false), Href: threadPath(space, s.Post.ID),
			Comments: s.Comments, LastActivity: p.DateTime(s.LastActivity), ActivityISO: s.LastActivity.Format(time.RFC3339)})
	}
	if l.Next != "" {
		nq := url.Values{"before": {l.Next}}
		if page.SIC != "" {
			nq.Set("sic", page.SIC)
		}
		page.Next = pathCommunity + space + "/?" + nq.Encode()
	}
	c.pages.RenderIn(w, r, http.StatusOK, "community-space", "community", page)
}

// writeForm is the form of a post or a comment, with what was typed and
// what is wrong with it.
type writeForm struct {
	Action                string
	IsPost                bool
	Title, Text, Language string
	Tags                  string
	Languages             []langChoice
	TitleError, TextError string
	LanguageError         string
	TagsError             string
	Error                 string
}

type langChoice struct {
	Tag, Name string
	Selected  bool
}

func (f writeForm) HasErrors() bool {
	return f.TitleError != "" || f.TextError != "" || f.LanguageError != "" || f.TagsError != ""
}

func newWriteForm(action string, isPost bool, lang string) writeForm {
	f := writeForm{Action: action, IsPost: isPost, Language: lang}
	f.setLanguages()
	return f
}

func (f *writeForm) setLanguages() {
	f.Languages = f.Languages[:0]
	for _, l := range postLanguages {
		f.Languages = append(f.Languages, langChoice{Tag: l.Tag, Name: l.Name, Selected: l.Tag == f.Language})
	}
}

// readWriteForm parses and checks a post's or comment's form.
func readWriteForm(r *http.Request, action string, isPost bool) (writeForm, []string, bool) {
	if err := r.ParseForm(); err != nil {
		return writeForm{}, nil, false
	}
	p := web.Printer(r)
	f := writeForm{Action: action, IsPost: isPost, Text: r.PostForm.Get("text"), Language: r.PostForm.Get("language")}
	f.Text = strings.ReplaceAll(f.Text, "\r\n", "\n")
	if strings.TrimSpace(f.Text) == "" {
		f.TextError = p.T("console.community.error.text_missing")
	} else if _, err := markup.Render(f.Text); errors.Is(err, markup.ErrTooLong) {
		f.TextError = p.T("console.community.error.text_long", "max", markup.MaxSize)
	} else if err != nil {
		f.TextError = p.T("console.community.error.text_complex")
	}
	if !knownLanguage(f.Language) {
		f.LanguageError = p.T("console.community.error.language")
	}
	var tags []string
	if isPost {
		f.Title, f.Tags = strings.TrimSpace(r.PostForm.Get("title")), strings.TrimSpace(r.PostForm.Get("tags"))
		switch {
		case f.Title == "":
			f.TitleError = p.T("console.community.error.title_missing")
		case len(f.Title) > protocol.MaxShortField:
			f.TitleError = p.T("console.community.error.title_long", "max", protocol.MaxShortField)
		}
		for _, t := range strings.Split(f.Tags, ",") {
			if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		switch {
		case len(tags) > maxTags:
			f.TagsError = p.T("console.community.error.tags_many", "max", maxTags)
		case slices.ContainsFunc(tags, func(t string) bool { return len(t) > maxTagLen }):
			f.TagsError = p.T("console.community.error.tag_long", "max", maxTagLen)
		}
	}
	f.setLanguages()
	return f, tags, true
}

type writePage struct {
	Space, SpaceName string
	Heading          string
	Back             string
	Form             writeForm
}

func (c *Console) renderWrite(w http.ResponseWriter, r *http.Request, status int, space, heading, back string, f writeForm) {
	p := web.Printer(r)
	c.pages.RenderIn(w, r, status, "community-write", "community", writePage{Space: space, SpaceName: p.T("console.community.space." + space),
		Heading: heading, Back: back, Form: f})
}

// preferredLanguage is the console's language, which is usually the
// writer's.
func preferredLanguage(r *http.Request) string {
	if l := web.Printer(r).Lang(); knownLanguage(l) {
		return l
	}
	return "en"
}

func (c *Console) showNewPost(w http.ResponseWriter, r *http.Request) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return
	}
	c.renderWrite(w, r, http.StatusOK, space, newPostHeading(space), pathCommunity+space+"/",
		newWriteForm(pathCommunity+space+"/new", true, preferredLanguage(r)))
}

func newPostHeading(space string) string {
	if space == protocol.SpaceBlog {
		return "console.community.new.blog"
	}
	return "console.community.new.thread"
}

// teamAuthor is the signed-in member as the author of what the hub
// publishes.
func teamAuthor(r *http.Request) protocol.Author {
	return protocol.Author{Name: signedIn(r).Name, SIC: protocol.HubID}
}

func (c *Console) newPost(w http.ResponseWriter, r *http.Request) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return
	}
	f, tags, ok := readWriteForm(r, pathCommunity+space+"/new", true)
	if !ok {
		c.site.Error(w, r, http.StatusBadRequest, "console.community.error.form")
		return
	}
	if f.HasErrors() {
		c.renderWrite(w, r, http.StatusUnprocessableEntity, space, newPostHeading(space), pathCommunity+space+"/", f)
		return
	}
	vis, err := protocol.SpaceVisibility(space)
	if err != nil {
		c.fail(w, r, "space visibility", err)
		return
	}
	format := "thread"
	if space == protocol.SpaceBlog {
		format = "blog"
	}
	id, err := c.hub.PublishCommunity(r.Context(), signedIn(r).ID, protocol.KindPost, vis, protocol.Post{Space: space, Format: format,
		Title: f.Title, Text: f.Text, Language: f.Language, Author: teamAuthor(r), Tags: tags})
	if err != nil && id == "" {
		c.refused(w, r, err, func(msg string) {
			f.Error = msg
			c.renderWrite(w, r, http.StatusUnprocessableEntity, space, newPostHeading(space), pathCommunity+space+"/", f)
		})
		return
	}
	if err != nil {
		c.log.Error("post published, author not recorded", "post", id, "err", err)
	}
	c.log.Info("community post published from the console", "post", id, "space", space, "member", signedIn(r).ID)
	http.Redirect(w, r, threadPath(space, id)+"?done=posted", http.StatusSeeOther)
}

// refused shows the hub's refusal of a change in words, or the 500 page
// for anything else.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, err error, show func(string)) {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code != protocol.CodeUnavailable && pe.Code != protocol.CodeConflict {
		c.log.Warn("community change refused", "code", string(pe.Code), "err", err)
		show(web.Printer(r).T("console.community.error.refused", "reason", pe.Message))
		return
	}
	if errors.As(err, &pe) {
		show(web.Printer(r).T("console.community.error.again"))
		return
	}
	c.fail(w, r, "publish", err)
}

type threadPage struct {
	Space, SpaceName string
	Post             itemView
	IsBlog           bool
	CanPublishNews   bool
	Comments         []itemView
	CommentCount     int
	Created          string
	LastActivity     string
	Next             string
	Reply            writeForm
	Notice           string
	NewsHref         string
	// News are the news items made from this blog post.
	News []newsLink
}

// newsLink is a news item made from a blog post, on the portal.
type newsLink struct{ Href, At string }

// newsLinks lists the news items made from the blog post source.
func (c *Console) newsLinks(r *http.Request, source string) ([]newsLink, error) {
	recs, err := c.hub.NewsFrom(r.Context(), source)
	if err != nil {
		return nil, err
	}
	var out []newsLink
	for _, n := range recs {
		out = append(out, newsLink{Href: "/news/" + n.News, At: web.Printer(r).DateTime(n.At)})
	}
	return out, nil
}

var threadNotices = map[string]string{
	"posted":  "console.community.done.posted",
	"replied": "console.community.done.replied",
	"edited":  "console.community.done.edited",
	"news":    "console.community.done.news",
}

func (c *Console) communityThread(w http.ResponseWriter, r *http.Request) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return
	}
	reply := newWriteForm(threadPath(space, r.PathValue("id"))+"/reply", false, preferredLanguage(r))
	page := threadPage{}
	q := r.URL.Query()
	if id, ok := threadNotices[q.Get("done")]; ok {
		page.Notice = web.Printer(r).T(id)
		if news := q.Get("news"); q.Get("done") == "news" && validID(news) {
			page.NewsHref = "/news/" + news
		}
	}
	c.renderThread(w, r, http.StatusOK, space, hub.CommentPage{After: q.Get("after")}, reply, page)
}

func (c *Console) renderThread(w http.ResponseWriter, r *http.Request, status int, space string, cp hub.CommentPage, reply writeForm, page threadPage) {
	t, ok := c.threadFor(w, r, space, cp)
	if !ok {
		return
	}
	p := web.Printer(r)
	page.Space, page.SpaceName = space, p.T("console.community.space."+space)
	page.Post = c.itemView(r, t.Post, true)
	if page.Post.Mine {
		page.Post.EditHref = threadPath(space, t.Post.ID) + "/edit"
	}
	page.IsBlog = space == protocol.SpaceBlog
	if page.IsBlog {
		var err error
		if page.News, err = c.newsLinks(r, t.Post.ID); err != nil {
			c.fail(w, r, "read news", err)
			return
		}
	}
	page.CanPublishNews = page.IsBlog && mayPublishNews(signedIn(r)) && !t.Post.Hidden
	page.CommentCount = t.CommentCount
	page.Created, page.LastActivity = p.DateTime(t.Created), p.DateTime(t.LastActivity)
	for _, cm := range t.Comments {
		v := c.itemView(r, cm, true)
		if v.Mine {
			v.EditHref = threadPath(space, t.Post.ID) + "/comments/" + cm.ID + "/edit"
		}
		page.Comments = append(page.Comments, v)
	}
	if t.Next != "" {
		page.Next = threadPath(space, t.Post.ID) + "?" + url.Values{"after": {t.Next}}.Encode()
	}
	page.Reply = reply
	c.pages.RenderIn(w, r, status, "community-thread", "community", page)
}

func (c *Console) reply(w http.ResponseWriter, r *http.Request) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return
	}
	t, ok := c.threadFor(w, r, space, hub.CommentPage{Limit: 1})
	if !ok {
		return
	}
	f, _, ok := readWriteForm(r, threadPath(space, t.Post.ID)+"/reply", false)
	if !ok {
		c.site.Error(w, r, http.StatusBadRequest, "console.community.error.form")
		return
	}
	if !f.HasErrors() {
		// A comment has its post's visibility, always.
		id, err := c.hub.PublishCommunity(r.Context(), signedIn(r).ID, protocol.KindComment, t.Post.Visibility,
			protocol.Comment{Post: t.Post.ID, Text: f.Text, Language: f.Language, Author: teamAuthor(r)})
		if err == nil || id != "" {
			if err != nil {
				c.log.Error("reply published, author not recorded", "comment", id, "err", err)
			}
			c.log.Info("community reply published from the console", "comment", id, "post", t.Post.ID, "member", signedIn(r).ID)
			http.Redirect(w, r, threadPath(space, t.Post.ID)+"?done=replied#"+id, http.StatusSeeOther)
			return
		}
		shown := false
		c.refused(w, r, err, func(msg string) { f.Error, shown = msg, true })
		if !shown {
			return
		}
	}
	c.renderThread(w, r, http.StatusUnprocessableEntity, space, hub.CommentPage{}, f, threadPage{})
}

// showEdit and edit change one's own post (cid empty) or comment.
func (c *Console) showEdit(w http.ResponseWriter, r *http.Request) {
	space, it, back, ok := c.editable(w, r)
	if !ok {
		return
	}
	f := newWriteForm(r.URL.Path, it.Post != nil, "")
	f.Text = it.Text()
	if it.Post != nil {
		f.Title, f.Language, f.Tags = it.Post.Title, it.Post.Language, strings.Join(it.Post.Tags, ", ")
	} else {
		f.Language = it.Comment.Language
	}
	f.setLanguages()
	c.renderWrite(w, r, http.StatusOK, space, editHeading(it), back, f)
}

func editHeading(it hub.CommunityItem) string {
	if it.Post != nil {
		return "console.community.edit.post"
	}
	return "console.community.edit.comment"
}

// editable reads the item the path names and checks it is the member's.
func (c *Console) editable(w http.ResponseWriter, r *http.Request) (string, hub.CommunityItem, string, bool) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return "", hub.CommunityItem{}, "", false
	}
	t, ok := c.threadFor(w, r, space, hub.CommentPage{Limit: 1})
	if !ok {
		return "", hub.CommunityItem{}, "", false
	}
	it, back := t.Post, threadPath(space, t.Post.ID)
	if cid := r.PathValue("cid"); cid != "" {
		cm, _, err := c.hub.CommunityComment(r.Context(), cid)
		switch {
		case errors.Is(err, protocol.ErrNotFound) || err == nil && cm.Comment.Post != t.Post.ID:
			c.site.NotFound(w, r)
			return "", it, "", false
		case err != nil:
			c.fail(w, r, "read comment", err)
			return "", it, "", false
		}
		it, back = cm, back+"#"+cm.ID
	}
	author, err := c.hub.CommunityAuthor(r.Context(), it.ID)
	if err != nil {
		c.fail(w, r, "read author", err)
		return "", it, "", false
	}
	if it.Owner != protocol.HubID || author != signedIn(r).ID {
		c.site.Error(w, r, http.StatusForbidden, "console.community.error.not_yours")
		return "", it, "", false
	}
	return space, it, back, true
}

func (c *Console) edit(w http.ResponseWriter, r *http.Request) {
	space, it, back, ok := c.editable(w, r)
	if !ok {
		return
	}
	f, tags, ok := readWriteForm(r, r.URL.Path, it.Post != nil)
	if !ok {
		c.site.Error(w, r, http.StatusBadRequest, "console.community.error.form")
		return
	}
	if !f.HasErrors() {
		var body any
		if it.Post != nil {
			np := *it.Post
			np.Title, np.Text, np.Language, np.Tags, np.Author = f.Title, f.Text, f.Language, tags, teamAuthor(r)
			body = np
		} else {
			nc := *it.Comment
			nc.Text, nc.Language, nc.Author = f.Text, f.Language, teamAuthor(r)
			body = nc
		}
		err := c.hub.UpdateCommunity(r.Context(), signedIn(r).ID, it.ID, body)
		if err == nil {
			c.log.Info("community item edited from the console", "id", it.ID, "member", signedIn(r).ID)
			to, frag, _ := strings.Cut(back, "#")
			if frag != "" {
				frag = "#" + frag
			}
			http.Redirect(w, r, to+"?done=edited"+frag, http.StatusSeeOther)
			return
		}
		shown := false
		c.refused(w, r, err, func(msg string) { f.Error, shown = msg, true })
		if !shown {
			return
		}
	}
	c.renderWrite(w, r, http.StatusUnprocessableEntity, space, editHeading(it), back, f)
}

// newsPage confirms what a blog post becomes on the portal.
type newsPage struct {
	Source                itemView
	Action, Back          string
	Title, Text           string
	Preview               []string // the text's paragraphs, as the portal shows them
	TitleError, TextError string
	Credit                string
	Error                 string
	PortalLanguage        string
	// Already are the news items made from this blog post before.
	Already []newsLink
}

func (p newsPage) HasErrors() bool { return p.TitleError != "" || p.TextError != "" }

// creditLine credits the SIC whose blog the news comes from, in the
// post's language when the console speaks it.
func (c *Console) creditLine(lang, owner string) string {
	pr := c.bundle.Printer(locale.Fallback)
	if c.bundle.Has(lang) {
		pr = c.bundle.Printer(lang)
	}
	name := c.hub.NodeName(owner)
	if owner == protocol.HubID {
		name = pr.T("console.community.team")
	}
	return pr.T("console.community.news.credit", "sic", name)
}

// portalParagraphs splits a text as the portal's news page does.
func portalParagraphs(s string) []string {
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (c *Console) newsSource(w http.ResponseWriter, r *http.Request) (hub.Thread, bool) {
	space, ok := c.spaceFor(w, r)
	if !ok {
		return hub.Thread{}, false
	}
	if space != protocol.SpaceBlog {
		c.site.NotFound(w, r)
		return hub.Thread{}, false
	}
	t, ok := c.threadFor(w, r, space, hub.CommentPage{Limit: 1})
	if !ok {
		return t, false
	}
	if t.Post.Hidden {
		c.site.Error(w, r, http.StatusForbidden, "console.community.error.hidden_news")
		return t, false
	}
	return t, true
}

func (c *Console) showNews(w http.ResponseWriter, r *http.Request) {
	t, ok := c.newsSource(w, r)
	if !ok {
		return
	}
	// The portal shows news as plain paragraphs: the Markdown becomes its
	// words, and the credit closes the text.
	credit := c.creditLine(t.Post.Post.Language, t.Post.Owner)
	text := strings.Join(strings.Split(markup.Text(t.Post.Post.Text), "\n"), "\n\n") + "\n\n" + credit
	c.renderNews(w, r, http.StatusOK, t, newsPage{Title: t.Post.Post.Title, Text: text, Credit: credit})
}

func (c *Console) renderNews(w http.ResponseWriter, r *http.Request, status int, t hub.Thread, page newsPage) {
	page.Source = c.itemView(r, t.Post, false)
	page.Action = threadPath(protocol.SpaceBlog, t.Post.ID) + "/news"
	page.Back = threadPath(protocol.SpaceBlog, t.Post.ID)
	page.Preview = portalParagraphs(page.Text)
	page.PortalLanguage = t.Post.Post.Language
	var err error
	if page.Already, err = c.newsLinks(r, t.Post.ID); err != nil {
		c.fail(w, r, "read news", err)
		return
	}
	c.pages.RenderIn(w, r, status, "community-news", "community", page)
}

func (c *Console) publishNews(w http.ResponseWriter, r *http.Request) {
	t, ok := c.newsSource(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "console.community.error.form")
		return
	}
	p := web.Printer(r)
	page := newsPage{Title: strings.TrimSpace(r.PostForm.Get("title")), Text: strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("text"), "\r\n", "\n")),
		Credit: c.creditLine(t.Post.Post.Language, t.Post.Owner)}
	switch {
	case page.Title == "":
		page.TitleError = p.T("console.community.error.title_missing")
	case len(page.Title) > protocol.MaxShortField:
		page.TitleError = p.T("console.community.error.title_long", "max", protocol.MaxShortField)
	}
	switch {
	case page.Text == "":
		page.TextError = p.T("console.community.error.text_missing")
	case len(page.Text) > protocol.MaxTextField:
		page.TextError = p.T("console.community.error.text_long", "max", protocol.MaxTextField)
	}
	if page.HasErrors() || r.PostForm.Get("do") != "publish" {
		status := http.StatusOK
		if page.HasErrors() {
			status = http.StatusUnprocessableEntity
		}
		c.renderNews(w, r, status, t, page)
		return
	}
	m := signedIn(r)
	id, err := c.hub.PublishNewsFromBlog(r.Context(), hub.NewsFromBlog{Source: t.Post.ID, Title: page.Title, Text: page.Text,
		Language: t.Post.Post.Language, Author: protocol.Author{Name: m.Name}, MemberID: m.ID, Address: c.hub.ClientAddr(r).String()})
	if err != nil {
		c.refused(w, r, err, func(msg string) {
			page.Error = msg
			c.renderNews(w, r, http.StatusUnprocessableEntity, t, page)
		})
		return
	}
	http.Redirect(w, r, threadPath(protocol.SpaceBlog, t.Post.ID)+"?"+url.Values{"done": {"news"}, "news": {id}}.Encode(), http.StatusSeeOther)
}

func validID(id string) bool {
	_, err := protocol.SplitEntityID(id)
	return err == nil
}

// communityRoutes adds the community's pages. Every member of the team
// reads and writes the spaces their roles open (canRead); making a blog
// post public is the coordinators' and operators'.
func (c *Console) communityRoutes() {
	m, in := c.mux, c.site.RequireSignIn
	news := c.requireRole(hub.RoleCoordinator, hub.RoleOperator)
	m.Handle("GET "+pathCommunity+"{$}", in(http.HandlerFunc(c.communitySpaces)))
	m.Handle("GET "+pathCommunity+"{space}/{$}", in(http.HandlerFunc(c.communitySpace)))
	m.Handle("GET "+pathCommunity+"{space}/new", in(http.HandlerFunc(c.showNewPost)))
	m.Handle("POST "+pathCommunity+"{space}/new", in(http.HandlerFunc(c.newPost)))
	m.Handle("GET "+pathCommunity+"{space}/{id}", in(http.HandlerFunc(c.communityThread)))
	m.Handle("POST "+pathCommunity+"{space}/{id}/reply", in(http.HandlerFunc(c.reply)))
	m.Handle("GET "+pathCommunity+"{space}/{id}/edit", in(http.HandlerFunc(c.showEdit)))
	m.Handle("POST "+pathCommunity+"{space}/{id}/edit", in(http.HandlerFunc(c.edit)))
	m.Handle("GET "+pathCommunity+"{space}/{id}/comments/{cid}/edit", in(http.HandlerFunc(c.showEdit)))
	m.Handle("POST "+pathCommunity+"{space}/{id}/comments/{cid}/edit", in(http.HandlerFunc(c.edit)))
	m.Handle("GET "+pathCommunity+"{space}/{id}/news", news(http.HandlerFunc(c.showNews)))
	m.Handle("POST "+pathCommunity+"{space}/{id}/news", news(http.HandlerFunc(c.publishNews)))
}
