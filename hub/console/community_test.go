package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/protocol"
)

// sic is an enrolled node that pushes signed changes to the fixture's hub.
type sic struct {
	id     string
	key    protocol.Key
	client *protocol.Client
	seq    int64
}

func (f *fixture) enrol(t *testing.T, id string) *sic {
	t.Helper()
	ctx := context.Background()
	tok, err := f.hub.RegisterNode(ctx, id, "SIC "+strings.ToUpper(id))
	if err != nil {
		t.Fatal(err)
	}
	key, err := protocol.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	res, err := protocol.NewClient(protocol.DefaultClientConfig(f.srv.URL)).Enrol(ctx,
		protocol.EnrolRequest{Node: id, Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := protocol.DefaultClientConfig(f.srv.URL)
	cfg.Credential, cfg.Retries = res.Credential, 0
	return &sic{id: id, key: key, client: protocol.NewClient(cfg)}
}

// publish pushes a new entity and returns its id.
func (s *sic) publish(t *testing.T, kind protocol.Kind, vis protocol.Visibility, body any) string {
	t.Helper()
	id, err := protocol.NewEntityID(s.id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(body)
	s.seq++
	c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: kind, Owner: s.id, Version: 1, Seq: s.seq,
		UpdatedAt: time.Now().UTC(), Visibility: vis, Body: raw, KeyID: s.key.ID}
	signed, err := s.key.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.client.Push(context.Background(), protocol.PushHeader{Node: s.id, Epoch: "e1", FromSeq: s.seq, ToSeq: s.seq, HeadSeq: s.seq},
		[]protocol.Signed{signed})
	if err != nil || res.Applied != 1 {
		t.Fatalf("push: %+v %v", res, err)
	}
	return id
}

// post submits a form as role with its form token.
func (f *fixture) post(t *testing.T, role, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	form.Set("form_token", f.token(t, role))
	return f.do(t, role, "POST", path, form, "Sec-Fetch-Site", "same-origin")
}

func (f *fixture) stored(t *testing.T, id string) (protocol.Change, any) {
	t.Helper()
	tr, err := f.hub.CommunityThread(context.Background(), id, hub.CommentPage{})
	if err == nil {
		return protocol.Change{ID: tr.Post.ID, Owner: tr.Post.Owner, Visibility: tr.Post.Visibility, Version: tr.Post.Version}, tr.Post.Post
	}
	c, _, err := f.hub.CommunityComment(context.Background(), id)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return protocol.Change{ID: c.ID, Owner: c.Owner, Visibility: c.Visibility, Version: c.Version}, c.Comment
}

var threadLoc = regexp.MustCompile(`^/console/community/([a-z-]+)/(hub:[0-9A-Z]+)\?done=`)

func TestConsole_Community(t *testing.T) {
	f := newFixture(t)
	fi := f.enrol(t, "fi")
	hostile := "Look **here**.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))"
	fiPost := fi.publish(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "helplines", Format: "thread",
		Title: "Sextortion follow-up", Text: hostile, Language: "en", Author: protocol.Author{Name: "Aino", SIC: "fi"}})
	blogText := "Our **Safer Internet Day** campaign reached 40 schools.\n\n- posters\n- workshops"
	fiBlog := fi.publish(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "blog", Format: "blog",
		Title: "Safer Internet Day in Finland", Text: blogText, Language: "en", Author: protocol.Author{Name: "Aino", SIC: "fi"}})

	t.Run("who reads which space", func(t *testing.T) {
		for _, tc := range []struct {
			role, path string
			want       int
		}{
			{"", "/console/community/", http.StatusSeeOther},
			{"moderator", "/console/community/", http.StatusOK},
			{"operator", "/console/community/helplines/", http.StatusOK},
			{"coordinator", "/console/community/youth/", http.StatusOK},
			{"moderator", "/console/community/youth/", http.StatusOK},
			{"operator", "/console/community/youth/", http.StatusNotFound},
			{"coordinator", "/console/community/news/", http.StatusNotFound},
			{"coordinator", "/console/community/youth:fi/", http.StatusNotFound},
			{"coordinator", "/console/community/helplines/" + fiBlog, http.StatusNotFound},
			{"coordinator", "/console/community/blog/" + fiBlog + "/news", http.StatusOK},
			{"operator", "/console/community/blog/" + fiBlog + "/news", http.StatusOK},
			{"moderator", "/console/community/blog/" + fiBlog + "/news", http.StatusForbidden},
			{"coordinator", "/console/community/helplines/" + fiPost + "/news", http.StatusNotFound},
			{"coordinator", "/console/community/helplines/?before=nonsense", http.StatusBadRequest},
		} {
			if code, _, _ := f.do(t, tc.role, "GET", tc.path, nil); code != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.role, tc.path, code, tc.want)
			}
		}
		_, _, body := f.do(t, "operator", "GET", "/console/community/", nil)
		if !strings.Contains(body, `href="/console/community/helplines/"`) || strings.Contains(body, `href="/console/community/youth/"`) {
			t.Error("the operator's spaces are wrong")
		}
		if !regexp.MustCompile(`id="space-helplines"[\s\S]*?data-threads="1"`).MatchString(body) {
			t.Error("the spaces page does not count the helplines thread")
		}
	})

	t.Run("a node's post, sanitised", func(t *testing.T) {
		code, _, body := f.do(t, "moderator", "GET", "/console/community/helplines/"+fiPost, nil)
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		for _, bad := range []string{"<script>alert", "onerror=", `href="javascript:`} {
			if strings.Contains(body, bad) {
				t.Errorf("the page carries %q", bad)
			}
		}
		if !strings.Contains(body, "<strong>here</strong>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Error("the Markdown is not rendered, or the HTML not shown as typed")
		}
		if !strings.Contains(body, "By Aino, SIC FI") {
			t.Error("the author is not named with their SIC")
		}
		_, _, list := f.do(t, "moderator", "GET", "/console/community/helplines/?sic=fi", nil)
		if !strings.Contains(list, fiPost) {
			t.Error("the fi filter lost fi's thread")
		}
		_, _, list = f.do(t, "moderator", "GET", "/console/community/helplines/?sic=hub", nil)
		if strings.Contains(list, fiPost) {
			t.Error("the team's filter shows fi's thread")
		}
	})

	var teamPost string
	t.Run("start a thread", func(t *testing.T) {
		code, _, body := f.post(t, "coordinator", "/console/community/helplines/new", url.Values{"title": {""}, "text": {"kept text"}, "language": {"en"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "error-summary") || !strings.Contains(body, "kept text") {
			t.Fatalf("an untitled thread: status %d, errors or text missing", code)
		}
		code, hd, _ := f.post(t, "coordinator", "/console/community/helplines/new", url.Values{"title": {"A team thread"},
			"text": {"Hello *all*."}, "language": {"fr"}, "tags": {"parents, schools"}})
		m := threadLoc.FindStringSubmatch(hd.Get("Location"))
		if code != http.StatusSeeOther || m == nil || m[1] != "helplines" {
			t.Fatalf("status %d, location %q", code, hd.Get("Location"))
		}
		teamPost = m[2]
		c, stored := f.stored(t, teamPost)
		p := stored.(*protocol.Post)
		if c.Owner != "hub" || c.Visibility != protocol.VisibilityCommunity || p.Author != (protocol.Author{Name: "The coordinator", SIC: "hub"}) ||
			p.Language != "fr" || strings.Join(p.Tags, "|") != "parents|schools" || p.Format != "thread" {
			t.Fatalf("stored: %+v %+v", c, p)
		}
	})

	var reply string
	t.Run("reply and edit one's own", func(t *testing.T) {
		code, hd, _ := f.post(t, "moderator", "/console/community/helplines/"+fiPost+"/reply", url.Values{"text": {"Thanks, Aino."}, "language": {"en"}})
		loc := hd.Get("Location")
		if code != http.StatusSeeOther || !strings.Contains(loc, "#hub:") {
			t.Fatalf("reply: %d %q", code, loc)
		}
		reply = loc[strings.Index(loc, "#")+1:]
		c, body := f.stored(t, reply)
		if c.Visibility != protocol.VisibilityCommunity || body.(*protocol.Comment).Post != fiPost {
			t.Fatalf("stored reply: %+v %+v", c, body)
		}
		_, _, page := f.do(t, "coordinator", "GET", "/console/community/helplines/"+fiPost, nil)
		if !strings.Contains(page, "Thanks, Aino.") || !strings.Contains(page, "By The moderator, coordination team") {
			t.Error("the thread does not show the reply")
		}
		edit := "/console/community/helplines/" + fiPost + "/comments/" + reply + "/edit"
		if code, _, _ := f.do(t, "coordinator", "GET", edit, nil); code != http.StatusForbidden {
			t.Errorf("another member opens the edit form: %d", code)
		}
		if code, _, _ := f.post(t, "coordinator", edit, url.Values{"text": {"taken over"}, "language": {"en"}}); code != http.StatusForbidden {
			t.Errorf("another member edits: %d", code)
		}
		if code, _, _ := f.do(t, "moderator", "GET", "/console/community/helplines/"+fiPost+"/edit", nil); code != http.StatusForbidden {
			t.Errorf("the team edits fi's post: %d", code)
		}
		code, _, _ = f.post(t, "moderator", edit, url.Values{"text": {"Thanks, Aino, very useful."}, "language": {"en"}})
		if code != http.StatusSeeOther {
			t.Fatalf("edit: %d", code)
		}
		c, body = f.stored(t, reply)
		if c.Version != 2 || body.(*protocol.Comment).Text != "Thanks, Aino, very useful." {
			t.Fatalf("edited: %+v %+v", c, body)
		}
		code, _, _ = f.post(t, "coordinator", "/console/community/helplines/"+teamPost+"/edit", url.Values{"title": {"A team thread, edited"},
			"text": {"Hello *everyone*."}, "language": {"fr"}})
		if _, body := f.stored(t, teamPost); code != http.StatusSeeOther || body.(*protocol.Post).Title != "A team thread, edited" {
			t.Fatalf("edit own post: %d %+v", code, body)
		}
	})

	t.Run("hidden items are shown marked", func(t *testing.T) {
		if _, err := f.hub.Publish(context.Background(), protocol.KindModeration, protocol.VisibilityCommunity,
			protocol.Moderation{Target: fiPost, Decision: "hide", Reason: "Names a child who called."}); err != nil {
			t.Fatal(err)
		}
		_, _, page := f.do(t, "moderator", "GET", "/console/community/helplines/"+fiPost, nil)
		if !strings.Contains(page, "The moderators hid this from the centres: Names a child who called.") {
			t.Error("the hidden post is not marked with its reason")
		}
		_, _, list := f.do(t, "moderator", "GET", "/console/community/helplines/", nil)
		if !regexp.MustCompile(`id="thread-` + fiPost + `"[\s\S]*?badge bad`).MatchString(list) {
			t.Error("the thread list does not mark the hidden thread")
		}
	})

	t.Run("a blog post becomes news", func(t *testing.T) {
		path := "/console/community/blog/" + fiBlog + "/news"
		_, _, page := f.do(t, "coordinator", "GET", path, nil)
		credit := "From the blog of SIC FI in the BIK Community."
		if !strings.Contains(page, credit) || !strings.Contains(page, "Our Safer Internet Day campaign reached 40 schools.") {
			t.Fatalf("the confirmation does not show the text with its credit:\n%s", page)
		}
		if _, _, thread := f.do(t, "moderator", "GET", "/console/community/blog/"+fiBlog, nil); strings.Contains(thread, "publish-news") {
			t.Error("a moderator is offered to publish news")
		}
		code, _, page := f.post(t, "coordinator", path, url.Values{"title": {"Edited title"}, "text": {"A new text.\n\n" + credit}, "do": {"preview"}})
		if code != http.StatusOK || !strings.Contains(page, `<h3 id="preview-title">Edited title</h3>`) {
			t.Fatalf("preview: %d", code)
		}
		if n := len(f.publicNews(t)); n != 0 {
			t.Fatalf("a preview published %d news", n)
		}
		code, hd, _ := f.post(t, "coordinator", path, url.Values{"title": {"Safer Internet Day in Finland"}, "text": {"40 schools took part.\n\n" + credit}, "do": {"publish"}})
		u, _ := url.Parse(hd.Get("Location"))
		news := u.Query().Get("news")
		if code != http.StatusSeeOther || news == "" {
			t.Fatalf("publish: %d %q", code, hd.Get("Location"))
		}
		got := f.publicNews(t)
		if len(got) != 1 || got[0].ID != news || got[0].Visibility != protocol.VisibilityPublic || !strings.Contains(string(got[0].Body), credit) ||
			!strings.Contains(string(got[0].Body), `"name":"The coordinator","sic":"hub"`) {
			t.Fatalf("news: %+v", got)
		}
		if _, _, page := f.do(t, "moderator", "GET", "/console/community/blog/"+fiBlog, nil); !strings.Contains(page, `href="/news/`+news+`"`) {
			t.Error("the blog post does not link to its news")
		}
		if _, _, page := f.do(t, "coordinator", "GET", path, nil); !strings.Contains(page, `id="already"`) {
			t.Error("the confirmation does not warn that the post is already news")
		}
		evs, err := f.hub.Accounts().Audit(context.Background(), 0, 5)
		if err != nil || len(evs) == 0 || evs[0].Type != hub.EventCommunityNews || evs[0].MemberID != f.ids["coordinator"] {
			t.Fatalf("audit: %+v %v", evs, err)
		}
		_, _, audit := f.do(t, "operator", "GET", "/console/members/audit", nil)
		if !strings.Contains(audit, "community blog post published as news") {
			t.Error("the audit page does not word the event")
		}
	})
}

// publicNews lists the hub's public posts.
func (f *fixture) publicNews(t *testing.T) []protocol.Change {
	t.Helper()
	var out []protocol.Change
	req, _ := http.NewRequest("GET", f.srv.URL+protocol.PathChanges+"?since=0&limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+f.hub.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var feed protocol.Feed
	if err := json.NewDecoder(resp.Body).Decode(&feed); err != nil {
		t.Fatal(err)
	}
	for _, it := range feed.Changes {
		var c protocol.Change
		if json.Unmarshal(it.Change, &c) == nil && c.Kind == protocol.KindPost && c.Visibility == protocol.VisibilityPublic {
			out = append(out, c)
		}
	}
	return out
}

func TestConsole_CommunityForms(t *testing.T) {
	f := newFixture(t)
	fi := f.enrol(t, "fi")
	blog := fi.publish(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "blog", Format: "blog",
		Title: "A blog post", Text: "Words.", Language: "en", Author: protocol.Author{Name: "Aino", SIC: "fi"}})
	many := make([]string, 11)
	for i := range many {
		many[i] = "tag" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want []string
	}{
		{"nothing", url.Values{}, []string{"Give a title.", "Write the text.", "Choose the language"}},
		{"too long", url.Values{"title": {strings.Repeat("t", protocol.MaxShortField+1)}, "text": {strings.Repeat("x", 64<<10+1)}, "language": {"en"}},
			[]string{"The title is too long: at most 512 characters.", "The text is too long: at most 65536 bytes."}},
		{"unknown language", url.Values{"title": {"t"}, "text": {"x"}, "language": {"xx"}}, []string{"Choose the language"}},
		{"too many tags", url.Values{"title": {"t"}, "text": {"x"}, "language": {"en"}, "tags": {strings.Join(many, ",")}}, []string{"Use at most 10 tags."}},
		{"a long tag", url.Values{"title": {"t"}, "text": {"x"}, "language": {"en"}, "tags": {strings.Repeat("g", 65)}}, []string{"Each tag may have at most 64 characters."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := f.post(t, "moderator", "/console/community/awareness/new", tc.form)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q", w)
				}
			}
			if !strings.Contains(body, `id="error-summary"`) {
				t.Error("no error summary")
			}
		})
	}
	t.Run("a text far too long", func(t *testing.T) {
		code, _, body := f.post(t, "moderator", "/console/community/awareness/new", url.Values{"title": {"t"}, "text": {strings.Repeat("x", 200<<10)}, "language": {"en"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "The text is too long") {
			t.Fatalf("status %d", code)
		}
	})
	if l, _ := f.hub.CommunityThreads(context.Background(), hub.ThreadQuery{Space: "awareness"}); len(l.Threads) != 0 {
		t.Fatalf("a refused form published %d threads", len(l.Threads))
	}
	t.Run("news without a title", func(t *testing.T) {
		code, _, body := f.post(t, "coordinator", "/console/community/blog/"+blog+"/news", url.Values{"title": {" "}, "text": {"kept"}, "do": {"publish"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "Give a title.") || !strings.Contains(body, ">kept</textarea>") {
			t.Fatalf("status %d", code)
		}
		if n := len(f.publicNews(t)); n != 0 {
			t.Fatalf("%d news published", n)
		}
	})
	t.Run("a hidden blog post does not become news", func(t *testing.T) {
		if _, err := f.hub.Publish(context.Background(), protocol.KindModeration, protocol.VisibilityCommunity,
			protocol.Moderation{Target: blog, Decision: "hide", Reason: "copyright"}); err != nil {
			t.Fatal(err)
		}
		code, _, _ := f.post(t, "coordinator", "/console/community/blog/"+blog+"/news", url.Values{"title": {"t"}, "text": {"x"}, "do": {"publish"}})
		if code != http.StatusForbidden || len(f.publicNews(t)) != 0 {
			t.Fatalf("status %d", code)
		}
		if _, _, page := f.do(t, "coordinator", "GET", "/console/community/blog/"+blog, nil); strings.Contains(page, "publish-news") {
			t.Error("a hidden blog post offers to become news")
		}
	})
}

func TestConsole_CommunityPages(t *testing.T) {
	f := newFixture(t)
	fi := f.enrol(t, "fi")
	ctx := context.Background()
	var first string
	for i := range hub.DefaultThreadPage + 1 {
		id, err := f.hub.PublishCommunity(ctx, f.ids["moderator"], protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "hotlines",
			Format: "thread", Title: "Thread " + strconv.Itoa(i), Text: "x", Language: "en", Author: protocol.Author{Name: "The moderator", SIC: "hub"}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	_, _, page := f.do(t, "coordinator", "GET", "/console/community/hotlines/", nil)
	older := regexp.MustCompile(`href="(/console/community/hotlines/\?before=[^"]+)" rel="next"`).FindStringSubmatch(page)
	if strings.Contains(page, first) || older == nil {
		t.Fatal("the first page shows the oldest thread, or no link to older ones")
	}
	_, _, page = f.do(t, "coordinator", "GET", strings.ReplaceAll(older[1], "&amp;", "&"), nil)
	if !strings.Contains(page, first) || strings.Contains(page, `rel="next"`) {
		t.Fatal("the second page lacks the oldest thread or links further")
	}

	post := fi.publish(t, protocol.KindPost, protocol.VisibilityCommunity, protocol.Post{Space: "hotlines", Format: "thread",
		Title: "Many replies", Text: "x", Language: "en", Author: protocol.Author{Name: "Aino", SIC: "fi"}})
	var last, hidden string
	for i := range hub.DefaultThreadPage + 1 {
		last = fi.publish(t, protocol.KindComment, protocol.VisibilityCommunity, protocol.Comment{Post: post, Text: "reply number " + strconv.Itoa(i),
			Language: "en", Author: protocol.Author{Name: "Aino", SIC: "fi"}})
		if i == 3 {
			hidden = last
		}
	}
	if _, err := f.hub.Publish(ctx, protocol.KindModeration, protocol.VisibilityCommunity,
		protocol.Moderation{Target: hidden, Decision: "hide", Reason: "off topic"}); err != nil {
		t.Fatal(err)
	}
	_, _, page = f.do(t, "moderator", "GET", "/console/community/hotlines/"+post, nil)
	later := regexp.MustCompile(`href="(/console/community/hotlines/[^"?]+\?after=[^"]+)" rel="next"`).FindStringSubmatch(page)
	if strings.Contains(page, last) || later == nil || !strings.Contains(page, "51 replies") {
		t.Fatal("the first page of replies shows the last, or no link to later ones, or not the count")
	}
	if !regexp.MustCompile(`id="` + hidden + `"[\s\S]*?The moderators hid this from the centres: off topic`).MatchString(page) {
		t.Error("the hidden reply is not marked")
	}
	_, _, page = f.do(t, "moderator", "GET", later[1], nil)
	if !strings.Contains(page, last) {
		t.Fatal("the second page lacks the last reply")
	}
}
