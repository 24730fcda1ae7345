package portal

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/markup"
	"github.com/bikfed/bikfed/protocol"
)

// The refusals of a subscription, which the hub's Subscriptions return.
// None says whether an address is subscribed.
var (
	ErrInvalidEmail          = errors.New("not an email address")
	ErrInvalidSubscriberLang = errors.New("not a language of the portal")
	ErrInvalidBulletinLink   = errors.New("the link is not valid or has expired")
	ErrSubscribeRate         = errors.New("too many subscriptions from this address")
	ErrSubscriptionsClosed   = errors.New("subscription by email is not open: no mail server")
)

// Subscriptions are the bulletin's subscribers. They are personal data
// and live in the hub's own database: the portal's index never holds an
// address, it only passes the visitor's requests on.
type Subscriptions interface {
	// Open reports whether the hub can mail the confirmation links: a
	// hub without a mail server takes no address it could never confirm.
	Open() bool
	// Subscribe asks for the bulletin at email in lang and mails a
	// confirmation link; it answers alike for any valid address.
	Subscribe(r *http.Request, email, lang string) error
	// CheckBulletinLink reports whether token is a confirmation (confirm
	// true) or an unsubscribe link that works, without acting on it.
	CheckBulletinLink(token string, confirm bool) error
	ConfirmSubscription(ctx context.Context, token string) error
	// Unsubscribe erases the subscriber the token names.
	Unsubscribe(ctx context.Context, token string) error
}

// SetSubscriptions gives the portal the bulletin's subscribers; without
// them the bulletin's pages have no subscription form. Call it before the
// portal serves.
func (p *Portal) SetSubscriptions(s Subscriptions) { p.subs = s }

// maxSubscribeForm bounds a subscription or link form's body: an address,
// a language, a token and the one-click marker.
const maxSubscribeForm = 2048

// bulletinRow is an edition as the portal indexed it.
type bulletinRow struct {
	ID      string
	Updated int64
	protocol.Bulletin
}

// bulletinDay is today as an edition's publication day: an edition shows
// from its day on. The pages that list editions key their cache with it,
// since an edition appears without the index changing.
func (p *Portal) bulletinDay() string { return p.now().UTC().Format(time.DateOnly) }

// bulletins reads every edition published by today, newest first; of two
// records of one edition the first published keeps the address.
func (p *Portal) bulletins(ctx context.Context, today string) ([]*bulletinRow, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id, updated_at, body FROM bulletins ORDER BY edition DESC, hub_seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*bulletinRow
	seen := map[string]bool{}
	for rows.Next() {
		b := new(bulletinRow)
		var body string
		if err := rows.Scan(&b.ID, &b.Updated, &body); err != nil {
			return nil, err
		}
		if json.Unmarshal([]byte(body), &b.Bulletin) != nil || seen[b.Edition] {
			continue
		}
		seen[b.Edition] = true
		if b.Published > today {
			continue
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// bulletinForm is the subscription form's data. A closed form is the
// notice that shows in its place when the hub cannot mail.
type bulletinForm struct {
	Closed bool
	Action string
	Langs  []langLink
	Email  string
	Error  string
}

func (p *Portal) subscribeForm(q *req) *bulletinForm {
	if p.subs == nil {
		return nil
	}
	if !p.subs.Open() {
		return &bulletinForm{Closed: true}
	}
	f := &bulletinForm{Action: q.lp + "/bulletin/subscribe"}
	for _, l := range p.langs.list {
		f.Langs = append(f.Langs, langLink{Lang: l, Name: languageName(l), Current: l == q.lang})
	}
	return f
}

type bulletinArchive struct {
	Editions []bulletinSummary
	Form     *bulletinForm
}

type bulletinSummary struct {
	Href, Title, Lang, Date, ISO, Edition string
}

func (p *Portal) handleBulletins(w http.ResponseWriter, r *http.Request, q *req) {
	today := p.bulletinDay()
	p.respond(w, r, q.key("bulletins")+"|"+today, func() (*response, error) {
		all, err := p.bulletins(r.Context(), today)
		if err != nil {
			return nil, err
		}
		d := bulletinArchive{Form: p.subscribeForm(q)}
		for _, b := range all {
			title, _, _, ok := b.Version(q.lang)
			lang := q.lang
			if !ok {
				lang = b.Language
			}
			d.Editions = append(d.Editions, bulletinSummary{Href: q.lp + "/bulletin/" + b.Edition, Title: title, Lang: lang,
				Date: bulletinDate(q.p, b.Published), ISO: b.Published, Edition: b.Edition})
		}
		v := p.newView(q, q.p.T("portal.bulletin.title"), "bulletin")
		v.Canonical = q.canonical("/bulletin")
		v.Data = d
		return p.html("bulletins", v, http.StatusOK)
	})
}

// bulletinDate is a publication day in the interface's words.
func bulletinDate(pr *locale.Printer, day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return pr.Date(t)
}

type bulletinPage struct {
	Lang, Title, FocusTitle, Date, ISO string
	Focus                              template.HTML
	Items                              []bulletinCard
	// Others are the edition's other languages, each a link.
	Others []langLink
	Form   *bulletinForm
}

type bulletinCard struct {
	Href, Title, Summary, Lang, Kind, Note, NoteLang string
}

func (p *Portal) handleBulletin(w http.ResponseWriter, r *http.Request, q *req, edition string) {
	today := p.bulletinDay()
	p.respond(w, r, q.key("bulletin")+"|"+edition+"|"+today, func() (*response, error) {
		ctx := r.Context()
		all, err := p.bulletins(ctx, today)
		if err != nil {
			return nil, err
		}
		var b *bulletinRow
		for _, x := range all {
			if x.Edition == edition {
				b = x
			}
		}
		if b == nil {
			v := p.errorView(q, "bulletin")
			v.Data = q.p.T("portal.bulletin.missing")
			return p.html("error", v, http.StatusNotFound)
		}
		title, focus, notes, ok := b.Version(q.lang)
		lang := q.lang
		if !ok {
			lang = b.Language
		}
		body, err := markup.Render(focus.Body)
		if err != nil {
			body = template.HTML(template.HTMLEscapeString(focus.Body))
		}
		d := bulletinPage{Lang: lang, Title: title, FocusTitle: focus.Title, Focus: body, Date: bulletinDate(q.p, b.Published),
			ISO: b.Published, Form: p.subscribeForm(q)}
		for _, l := range b.Languages() {
			if l != lang && p.langs.set[l] {
				d.Others = append(d.Others, langLink{Lang: l, Name: languageName(l), Href: "/" + l + "/bulletin/" + b.Edition})
			}
		}
		for i, it := range b.Items {
			c, ok := p.bulletinCard(ctx, q, it)
			if !ok {
				continue
			}
			c.Note, c.NoteLang = notes[i], lang
			d.Items = append(d.Items, c)
		}
		v := p.newView(q, title, "bulletin")
		v.Canonical = q.canonical("/bulletin/" + b.Edition)
		v.Description = markup.Excerpt(focus.Body, 200)
		v.Data = d
		return p.html("bulletin", v, http.StatusOK)
	})
}

// bulletinCard is an item as a card, in the visitor's language when the
// resource has a translation in it; an item the portal does not hold as
// public is left out.
func (p *Portal) bulletinCard(ctx context.Context, q *req, it protocol.BulletinItem) (bulletinCard, bool) {
	c := bulletinCard{Kind: q.p.T("portal.bulletin.kind." + it.Kind)}
	switch it.Kind {
	case "resource":
		err := p.db.Reader().QueryRowContext(ctx, `SELECT title, description, language FROM resources WHERE id = ?`, it.Ref).
			Scan(&c.Title, &c.Summary, &c.Lang)
		if err != nil {
			return c, false
		}
		var t, d string
		if p.db.Reader().QueryRowContext(ctx, `SELECT title, description FROM translations WHERE resource = ? AND language = ? LIMIT 1`,
			it.Ref, q.lang).Scan(&t, &d) == nil {
			c.Title, c.Summary, c.Lang = t, d, q.lang
		}
		c.Href = q.lp + "/resources/" + it.Ref
	case "news":
		var body string
		if p.db.Reader().QueryRowContext(ctx, `SELECT body FROM news WHERE id = ?`, it.Ref).Scan(&body) != nil {
			return c, false
		}
		var post protocol.Post
		if json.Unmarshal([]byte(body), &post) != nil {
			return c, false
		}
		c.Title, c.Summary, c.Lang = post.Title, post.Text, post.Language
		c.Href = q.lp + "/news/" + it.Ref
	default:
		return c, false
	}
	c.Summary = summary(c.Summary, 200)
	return c, true
}

// bulletinMessage is a page of the subscription's steps: a message, and
// a form with one button when the step takes a POST.
type bulletinMessage struct {
	Text   []string
	Action string
	Token  string
	Button string
	Form   *bulletinForm
	// Back links to the bulletin's archive.
	Back string
}

// handleBulletinStep serves the GET of a subscription step: the page
// saying to check the inbox, and the pages behind the links of the mails,
// each a button and nothing done (mail scanners open links).
func (p *Portal) handleBulletinStep(w http.ResponseWriter, r *http.Request, q *req, step string) {
	if p.subs == nil {
		p.notFound(w, r, q, http.StatusNotFound)
		return
	}
	token := r.URL.Query().Get("t")
	switch step {
	case "subscribe":
		// The page saying to check the inbox is the answer of the form's
		// POST; opened by itself it would speak of no address.
		http.Redirect(w, r, q.lp+"/bulletin", http.StatusSeeOther)
	case "confirm", "unsubscribe":
		if err := p.subs.CheckBulletinLink(token, step == "confirm"); err != nil {
			p.bulletinStep(w, r, q, http.StatusBadRequest, "portal.bulletin.link_title", bulletinMessage{Text: []string{q.p.T("portal.bulletin.link_text")},
				Form: p.subscribeForm(q)})
			return
		}
		p.bulletinStep(w, r, q, http.StatusOK, "portal.bulletin."+step+".title", bulletinMessage{Text: []string{q.p.T("portal.bulletin." + step + ".text")},
			Action: q.lp + "/bulletin/" + step, Token: token, Button: q.p.T("portal.bulletin." + step + ".button")})
	default:
		p.notFound(w, r, q, http.StatusNotFound)
	}
}

// handleBulletinPost serves the subscription's POSTs. The unsubscribe
// link's POST also comes from mail providers acting on RFC 8058's
// List-Unsubscribe-Post, with the token in the address and no browser
// headers; cross-origin browser requests are refused before this.
func (p *Portal) handleBulletinPost(w http.ResponseWriter, r *http.Request, q *req, step string) {
	if p.subs == nil {
		p.notFound(w, r, q, http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSubscribeForm)
	if err := r.ParseForm(); err != nil {
		p.bulletinStep(w, r, q, http.StatusBadRequest, "portal.bulletin.invalid_title", bulletinMessage{Text: []string{q.p.T("portal.bulletin.invalid_text")},
			Form: p.subscribeForm(q)})
		return
	}
	token := r.PostForm.Get("t")
	if token == "" {
		token = r.URL.Query().Get("t")
	}
	switch step {
	case "subscribe":
		email, lang := r.PostForm.Get("email"), r.PostForm.Get("lang")
		err := p.subs.Subscribe(r, email, lang)
		switch {
		case errors.Is(err, ErrSubscriptionsClosed):
			p.bulletinStep(w, r, q, http.StatusServiceUnavailable, "portal.bulletin.subscribe.title", bulletinMessage{Form: p.subscribeForm(q)})
		case err == nil:
			// The answer itself, not a redirect, so that it can repeat
			// the address without putting it in an address bar or a log.
			p.bulletinStep(w, r, q, http.StatusOK, "portal.bulletin.check_title", bulletinMessage{
				Text: []string{q.p.T("portal.bulletin.check_text"), q.p.T("portal.bulletin.check_address", "email", strings.TrimSpace(email))},
				Back: q.lp + "/bulletin"})
		case errors.Is(err, ErrSubscribeRate):
			p.bulletinStep(w, r, q, http.StatusTooManyRequests, "portal.bulletin.rate_title", bulletinMessage{Text: []string{q.p.T("portal.bulletin.rate_text")}})
		case errors.Is(err, ErrInvalidEmail), errors.Is(err, ErrInvalidSubscriberLang):
			f := p.subscribeForm(q)
			if len(email) <= 254 {
				f.Email = email
			}
			f.Error = q.p.T("portal.bulletin.invalid_text")
			p.bulletinStep(w, r, q, http.StatusBadRequest, "portal.bulletin.invalid_title", bulletinMessage{Form: f})
		default:
			p.serverError(w, r, err)
		}
	case "confirm", "unsubscribe":
		var err error
		if step == "confirm" {
			err = p.subs.ConfirmSubscription(r.Context(), token)
		} else {
			err = p.subs.Unsubscribe(r.Context(), token)
		}
		switch {
		case err == nil:
			p.bulletinStep(w, r, q, http.StatusOK, "portal.bulletin."+step+".done_title", bulletinMessage{Text: []string{q.p.T("portal.bulletin." + step + ".done_text")}})
		case errors.Is(err, ErrInvalidBulletinLink):
			p.bulletinStep(w, r, q, http.StatusBadRequest, "portal.bulletin.link_title", bulletinMessage{Text: []string{q.p.T("portal.bulletin.link_text")},
				Form: p.subscribeForm(q)})
		default:
			p.serverError(w, r, err)
		}
	default:
		p.notFound(w, r, q, http.StatusNotFound)
	}
}

// bulletinStep writes a page of the subscription's steps. It is never
// cached and never sent as a referrer: its address may hold a link's
// token. Its language chooser leads to each language's archive, not to
// the token's address.
func (p *Portal) bulletinStep(w http.ResponseWriter, r *http.Request, q *req, status int, titleID string, m bulletinMessage) {
	v := p.errorView(q, "bulletin")
	v.Title = q.p.T(titleID)
	for i := range v.Langs {
		v.Langs[i].Href = "/" + v.Langs[i].Lang + "/bulletin"
	}
	v.Data = m
	res, err := p.html("bulletinstep", v, status)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	p.write(w, r, res)
}

// bulletinPath splits a path under /bulletin/ into an edition or a step.
func bulletinPath(path string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(path, "/bulletin/")
	return rest, ok && rest != ""
}

// isBulletinStep reports the steps of a subscription, which are not
// editions.
func isBulletinStep(s string) bool { return s == "subscribe" || s == "confirm" || s == "unsubscribe" }
