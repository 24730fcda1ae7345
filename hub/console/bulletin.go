package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

const pathBulletin = "/console/bulletin"

// bulletinRoutes adds the bulletin's pages, for the team members who
// write the guide: coordinators and operators.
func (c *Console) bulletinRoutes() {
	m, editor := c.mux, c.requireRole(serviceEditors...)
	m.Handle("GET "+pathBulletin, editor(http.HandlerFunc(c.bulletins)))
	m.Handle("GET "+pathBulletin+"/new", editor(http.HandlerFunc(c.showNewEdition)))
	m.Handle("POST "+pathBulletin+"/new", editor(http.HandlerFunc(c.saveEdition)))
	m.Handle("POST "+pathBulletin+"/resume", editor(http.HandlerFunc(c.resumeSending)))
	m.Handle("GET "+pathBulletin+"/{edition}", editor(http.HandlerFunc(c.showEdition)))
	m.Handle("POST "+pathBulletin+"/{edition}", editor(http.HandlerFunc(c.saveEdition)))
	m.Handle("POST "+pathBulletin+"/{edition}/publish", editor(http.HandlerFunc(c.publishEdition)))
	m.Handle("GET "+pathBulletin+"/{edition}/send", editor(http.HandlerFunc(c.confirmSend)))
	m.Handle("POST "+pathBulletin+"/{edition}/send", editor(http.HandlerFunc(c.sendEdition)))
	m.Handle("GET "+pathBulletin+"/{edition}/preview", editor(http.HandlerFunc(c.previewEdition)))
	m.Handle("GET "+pathBulletin+"/{edition}/preview/{lang}", editor(http.HandlerFunc(c.previewEdition)))
}

// editionState says where an edition stands, in the reader's words.
func editionState(p *locale.Printer, s hub.EditionStatus) string {
	pr := s.Sending
	switch {
	case pr.State == hub.SendingFinished:
		return p.T("console.bulletin.state.sent", "sent", pr.Sent, "total", pr.Total)
	case pr.State == hub.SendingStopped:
		return p.T("console.bulletin.state.stopped", "sent", pr.Sent, "total", pr.Total)
	case pr.State == hub.SendingActive:
		return p.T("console.bulletin.state.sending", "sent", pr.Sent, "total", pr.Total)
	case s.Appears != "" && s.Draft:
		return p.T("console.bulletin.state.appears_draft", "day", bulletinDay(p, s.Appears))
	case s.Appears != "":
		return p.T("console.bulletin.state.appears", "day", bulletinDay(p, s.Appears))
	case s.Published && s.Draft:
		return p.T("console.bulletin.state.published_draft")
	case s.Published:
		return p.T("console.bulletin.state.published")
	}
	return p.T("console.bulletin.state.draft")
}

// bulletinDay is a publication day in the reader's words.
func bulletinDay(p *locale.Printer, day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return p.Date(t)
}

type editionRow struct {
	Edition, Title, State, Href string
}

type bulletinsPage struct {
	Editions []editionRow
	Notice   string
	// Confirmed and Pending count the subscribers.
	Confirmed, Pending int
	Readiness
}

var bulletinNotices = map[string]string{
	"saved":     "console.bulletin.done.saved",
	"published": "console.bulletin.done.published",
	"sending":   "console.bulletin.done.sending",
	"resumed":   "console.bulletin.done.resumed",
}

func (c *Console) bulletins(w http.ResponseWriter, r *http.Request) {
	list, err := c.hub.BulletinEditions(r.Context())
	if err != nil {
		c.fail(w, r, "list editions", err)
		return
	}
	subs, err := c.hub.Subscribers(r.Context())
	if err != nil {
		c.fail(w, r, "count subscribers", err)
		return
	}
	p := web.Printer(r)
	page := bulletinsPage{Confirmed: subs.Confirmed, Pending: subs.Pending, Readiness: c.readiness(p, subs)}
	if k, ok := bulletinNotices[r.URL.Query().Get("done")]; ok {
		page.Notice = p.T(k)
	}
	for _, s := range list {
		page.Editions = append(page.Editions, editionRow{Edition: s.Edition, Title: s.Title, State: editionState(p, s),
			Href: pathBulletin + "/" + s.Edition})
	}
	c.pages.RenderIn(w, r, http.StatusOK, "bulletins", "bulletin", page)
}

// editionForm is the form of an edition, with what was typed, the
// content it may point at, and what is wrong, by field id.
type editionForm struct {
	Action, Heading       string
	New                   bool
	Edition, Published    string
	Language              string
	Title                 string
	FocusTitle, FocusBody string
	Query                 string
	AllQuarters           bool
	Items                 []itemChoice
	QuarterLabel          string
	// QuarterEmpty says the edition's quarter has no news or resources.
	QuarterEmpty             bool
	Versions                 []editionVersion
	Languages                []langChoice
	Errors                   map[string]string
	Error                    string
	Notice                   string
	Status                   *editionStatusView
	errorOrder               []string
	selected                 []protocol.BulletinItem
	notes                    map[string]string
	from, to                 time.Time
	typedVersions, published bool
}

// itemChoice is a resource or news post offered to the edition.
type itemChoice struct {
	Value, ID, Kind, Title, Note, Date string
	Checked                            bool
}

// editionVersion is one language version in the form; the last is blank,
// for adding a language.
type editionVersion struct {
	N, Number             int
	Language, Title       string
	FocusTitle, FocusBody string
	// Notes are the version's notes, one field per chosen item, tied to
	// the item by its id: the items' order may change between the typing
	// and the saving.
	Notes         []versionNote
	Remove, Blank bool
	Languages     []langChoice
	notes         map[string]string
}

// versionNote is a version's note of one item, labelled with the item's
// title.
type versionNote struct {
	ID, Name, Label, Value string
}

// editionStatusView is the panel of a saved edition: its state, its
// previews and what can be done next.
type editionStatusView struct {
	State                        string
	Draft, Published             bool
	Sending                      hub.SendingProgress
	Started, Stopped, Finished   bool
	Previews                     []previewLink
	PreviewAction, Publish, Send string
	Resume                       string
	PreviewLanguages             []langChoice
	Subscribers                  int
	Public                       string
	Readiness
}

// Readiness says, before any click, whether an edition can be sent: the
// hub's mail server and its confirmed subscribers, and the addresses
// still waiting for their confirmation.
type Readiness struct {
	// Blocked says why nothing can be sent; empty, a sending can start.
	Blocked string
	// Waiting says how many addresses wait for their confirmation and
	// whether the hub could mail them the link.
	Waiting string
}

// CanSend reports whether a sending would reach anyone.
func (r Readiness) CanSend() bool { return r.Blocked == "" }

func (c *Console) readiness(p *locale.Printer, subs hub.SubscriberCounts) Readiness {
	var rd Readiness
	noMail := c.hub.Mailer() == nil
	switch {
	case noMail:
		rd.Blocked = p.T("console.bulletin.no_mail")
	case subs.Confirmed == 0:
		rd.Blocked = p.T("console.bulletin.no_subscribers")
	}
	switch {
	case subs.Pending > 0 && noMail:
		rd.Waiting = p.T("console.bulletin.pending.unmailed", "n", subs.Pending)
	case subs.Pending > 0:
		rd.Waiting = p.T("console.bulletin.pending.mailed", "n", subs.Pending)
	}
	return rd
}

type previewLink struct{ Lang, Name, Href string }

func (f *editionForm) HasErrors() bool { return len(f.Errors) > 0 }

// Summary lists the errors in the order of the form.
func (f *editionForm) Summary() []fieldError {
	var out []fieldError
	for _, id := range f.errorOrder {
		if msg, ok := f.Errors[id]; ok {
			out = append(out, fieldError{ID: id, Message: msg})
		}
	}
	return out
}

func (f *editionForm) fail(id, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[id]; !ok {
		f.Errors[id] = msg
	}
}

// quarter is the months an edition covers: the three ending with its
// month.
func quarter(edition string) (from, to time.Time, ok bool) {
	t, err := time.Parse("2006-01", edition)
	if err != nil {
		return from, to, false
	}
	return t.AddDate(0, -2, 0), t.AddDate(0, 1, 0), true
}

// nextEdition is the first quarter's last month (03, 06, 09 or 12), from
// now's quarter on, that has no edition yet.
func nextEdition(now time.Time, taken func(edition string) bool) string {
	t := time.Date(now.Year(), time.Month((int(now.Month())+2)/3*3), 1, 0, 0, 0, 0, time.UTC)
	for taken(t.Format("2006-01")) {
		t = t.AddDate(0, 3, 0)
	}
	return t.Format("2006-01")
}

func formFromBulletin(b protocol.Bulletin) editionForm {
	f := editionForm{Edition: b.Edition, Published: b.Published, Language: b.Language, Title: b.Title,
		FocusTitle: b.Focus.Title, FocusBody: b.Focus.Body, selected: b.Items, notes: map[string]string{}}
	for _, it := range b.Items {
		f.notes[it.Ref] = it.Note
	}
	for i, v := range b.Versions {
		ev := editionVersion{N: i, Language: v.Language, Title: v.Title, FocusTitle: v.Focus.Title, FocusBody: v.Focus.Body,
			notes: map[string]string{}}
		// The record keeps a version's notes in the items' order; the
		// form ties each to its item.
		for j, n := range v.Notes {
			if j < len(b.Items) {
				ev.notes[b.Items[j].Ref] = n
			}
		}
		f.Versions = append(f.Versions, ev)
	}
	return f
}

// readEditionForm parses the form into its values and the bulletin it
// asks for.
func readEditionForm(r *http.Request) (editionForm, protocol.Bulletin) {
	pf := r.PostForm
	f := editionForm{Edition: strings.TrimSpace(pf.Get("edition")), Published: strings.TrimSpace(pf.Get("published")),
		Language: pf.Get("language"), Title: strings.TrimSpace(pf.Get("title")), FocusTitle: strings.TrimSpace(pf.Get("focus_title")),
		FocusBody: text(pf, "focus_body"), Query: strings.TrimSpace(pf.Get("q")), AllQuarters: pf.Get("all") != "",
		notes: map[string]string{}, typedVersions: true}
	if len(f.Query) > 200 {
		f.Query = f.Query[:200]
	}
	b := protocol.Bulletin{Edition: f.Edition, Published: f.Published, Language: f.Language, Title: f.Title,
		Focus: protocol.BulletinArticle{Title: f.FocusTitle, Body: f.FocusBody}}
	for _, v := range pf["item"] {
		kind, ref, ok := strings.Cut(v, ":")
		if !ok || len(b.Items) > protocol.MaxBulletinItems || slices.ContainsFunc(b.Items, func(it protocol.BulletinItem) bool { return it.Ref == ref }) {
			continue
		}
		note := strings.TrimSpace(pf.Get("note-" + ref))
		f.notes[ref] = note
		b.Items = append(b.Items, protocol.BulletinItem{Kind: kind, Ref: ref, Note: note})
	}
	f.selected = b.Items
	for i := 0; i <= protocol.MaxListLen; i++ {
		k := "v" + strconv.Itoa(i) + "-"
		if _, ok := pf[k+"language"]; !ok {
			break
		}
		v := editionVersion{N: len(f.Versions), Language: pf.Get(k + "language"), Title: strings.TrimSpace(pf.Get(k + "title")),
			FocusTitle: strings.TrimSpace(pf.Get(k + "focus_title")), FocusBody: text(pf, k+"focus_body"),
			Remove: pf.Get(k+"remove") != "", notes: map[string]string{}}
		for _, it := range b.Items {
			if n := strings.TrimSpace(pf.Get(k + "note-" + it.Ref)); n != "" {
				v.notes[it.Ref] = n
			}
		}
		if v.Language == "" && v.Title == "" && v.FocusTitle == "" && v.FocusBody == "" && len(v.notes) == 0 {
			continue
		}
		f.Versions = append(f.Versions, v)
		if v.Remove {
			continue
		}
		bv := protocol.BulletinVersion{Language: v.Language, Title: v.Title, Focus: protocol.BulletinArticle{Title: v.FocusTitle, Body: v.FocusBody}}
		if len(v.notes) > 0 {
			bv.Notes = make([]string, len(b.Items))
			for j, it := range b.Items {
				bv.Notes[j] = v.notes[it.Ref]
			}
			for len(bv.Notes) > 0 && bv.Notes[len(bv.Notes)-1] == "" {
				bv.Notes = bv.Notes[:len(bv.Notes)-1]
			}
		}
		b.Versions = append(b.Versions, bv)
	}
	return f, b
}

// versionNumber maps a version's index in the record to its form number.
func (f *editionForm) versionNumber(i int) int {
	n := 0
	for _, v := range f.Versions {
		if v.Remove {
			continue
		}
		if n == i {
			return v.N
		}
		n++
	}
	return -1
}

var bulletinField = regexp.MustCompile(`^body\.([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?(?:\.([a-z_]+))?`)

// bulletinErrors puts protocol's field errors next to the form's fields.
func bulletinErrors(p *locale.Printer, f *editionForm, ve *protocol.ValidationError) {
	for _, fe := range ve.Fields {
		m := bulletinField.FindStringSubmatch(fe.Field)
		if m == nil {
			f.Error = p.T("console.bulletin.error.refused", "reason", fe.Field+": "+fe.Message)
			continue
		}
		field, sub, subsub := m[1], m[3], m[4]
		switch field {
		case "focus":
			f.fail("focus_"+sub, p.T("console.bulletin.error.focus_"+sub, "max", protocol.MaxBulletinBody/1024))
		case "items":
			f.fail("items", p.T("console.bulletin.error.items", "max", protocol.MaxBulletinItems, "len", protocol.MaxBulletinNote))
		case "versions":
			i, err := strconv.Atoi(m[2])
			n := f.versionNumber(i)
			if err != nil || n < 0 {
				f.fail("versions", p.T("console.bulletin.error.versions", "max", protocol.MaxListLen))
				continue
			}
			id := fmt.Sprintf("v%d-", n)
			switch {
			case sub == "focus":
				f.fail(id+"focus_"+subsub, p.T("console.bulletin.error.focus_"+subsub, "max", protocol.MaxBulletinBody/1024))
			case sub == "language" || sub == "title" || sub == "notes":
				f.fail(id+sub, p.T("console.bulletin.error.version_"+sub, "len", protocol.MaxBulletinNote))
			default:
				f.fail(id+"language", p.T("console.bulletin.error.version_language"))
			}
		case "edition", "published", "title", "language":
			f.fail(field, p.T("console.bulletin.error."+field))
		default:
			f.Error = p.T("console.bulletin.error.refused", "reason", fe.Field+": "+fe.Message)
		}
	}
}

var editionFieldOrder = []string{"edition", "published", "language", "title", "focus_title", "focus_body", "items", "versions"}

// prepare fills the form's choices: the items offered (the chosen ones
// first, then the quarter's, or every quarter's, matching the filter),
// the languages, the blank version and the error order.
func (c *Console) prepareEdition(r *http.Request, f *editionForm) error {
	p := web.Printer(r)
	ctx := r.Context()
	for _, it := range f.selected {
		ch := itemChoice{Value: it.Kind + ":" + it.Ref, ID: itemID(it.Ref), Kind: p.T("portal.bulletin.kind." + it.Kind), Title: it.Ref,
			Note: f.notes[it.Ref], Checked: true}
		if cand, ok := c.hub.Candidate(ctx, it.Ref); ok {
			ch.Title = cand.Title
		}
		f.Items = append(f.Items, ch)
	}
	var from, to time.Time
	if q0, q1, ok := quarter(f.Edition); ok && !f.AllQuarters {
		from, to = q0, q1
		f.QuarterLabel = p.T("console.bulletin.form.quarter", "from", p.Date(q0), "to", p.Date(q1.AddDate(0, 0, -1)))
	}
	cands, err := c.hub.BulletinCandidates(ctx, from, to, f.Query)
	if err != nil {
		return err
	}
	f.QuarterEmpty = !from.IsZero() && f.Query == "" && len(cands) == 0
	for _, cand := range cands {
		if slices.ContainsFunc(f.selected, func(it protocol.BulletinItem) bool { return it.Ref == cand.Ref }) {
			continue
		}
		f.Items = append(f.Items, itemChoice{Value: cand.Kind + ":" + cand.Ref, ID: itemID(cand.Ref), Kind: p.T("portal.bulletin.kind." + cand.Kind),
			Title: cand.Title, Date: p.Date(cand.UpdatedAt.UTC())})
	}
	f.Languages = c.editionLanguages(f.Language)
	if len(f.Versions) < protocol.MaxListLen {
		f.Versions = append(f.Versions, editionVersion{N: len(f.Versions), Blank: true})
	}
	for i := range f.Versions {
		v := &f.Versions[i]
		v.Languages = c.editionLanguages(v.Language)
		v.Number = i + 1
		p := fmt.Sprintf("v%d-", v.N)
		for _, ch := range f.Items {
			if !ch.Checked {
				continue
			}
			_, ref, _ := strings.Cut(ch.Value, ":")
			v.Notes = append(v.Notes, versionNote{ID: p + ch.ID + "-note", Name: p + "note-" + ref, Label: ch.Title, Value: v.notes[ref]})
		}
	}
	f.errorOrder = slices.Clone(editionFieldOrder)
	for _, v := range f.Versions {
		for _, id := range []string{"language", "title", "focus_title", "focus_body", "notes"} {
			f.errorOrder = append(f.errorOrder, fmt.Sprintf("v%d-%s", v.N, id))
		}
	}
	return nil
}

// editionLanguages are the languages an edition and its versions may be
// in: the portal's, which the subscribers choose among, each named in
// itself.
func (c *Console) editionLanguages(selected string) []langChoice {
	out := make([]langChoice, 0, len(c.portalLangs))
	for _, l := range c.portalLangs {
		out = append(out, langChoice{Tag: l, Name: selfName(l), Selected: l == selected})
	}
	return out
}

// selfName is a language's name in itself, as the language lists show it.
func selfName(code string) string {
	if l, ok := locale.LanguageOf(code); ok {
		return l.Name
	}
	return code
}

// itemID turns an entity id into an element id: ids hold a colon.
func itemID(ref string) string { return "item-" + strings.ReplaceAll(ref, ":", "-") }

// NoteName is the form field of an item's note.
func (i itemChoice) NoteName() string {
	_, ref, _ := strings.Cut(i.Value, ":")
	return "note-" + ref
}

func (c *Console) renderEdition(w http.ResponseWriter, r *http.Request, status int, f editionForm) {
	if err := c.prepareEdition(r, &f); err != nil {
		c.fail(w, r, "list the items an edition may point at", err)
		return
	}
	if !f.New {
		st, err := c.editionStatus(r, f.Edition)
		if err != nil {
			c.fail(w, r, "read the edition's state", err)
			return
		}
		f.Status = st
	}
	c.pages.RenderIn(w, r, status, "bulletin", "bulletin", &f)
}

// editionStatus is the panel of a saved edition.
func (c *Console) editionStatus(r *http.Request, edition string) (*editionStatusView, error) {
	ctx := r.Context()
	p := web.Printer(r)
	list, err := c.hub.BulletinEditions(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(list, func(s hub.EditionStatus) bool { return s.Edition == edition })
	if i < 0 {
		return nil, nil
	}
	s := list[i]
	subs, err := c.hub.Subscribers(ctx)
	if err != nil {
		return nil, err
	}
	base := pathBulletin + "/" + edition
	v := &editionStatusView{State: editionState(p, s), Draft: s.Draft, Published: s.Published, Sending: s.Sending,
		Started: s.Sending.State != hub.SendingNone, Stopped: s.Sending.State == hub.SendingStopped,
		Finished: s.Sending.State == hub.SendingFinished, PreviewAction: base + "/preview", Subscribers: subs.Confirmed,
		Readiness: c.readiness(p, subs)}
	if s.Draft {
		v.Publish = base + "/publish"
	}
	if s.Published && !s.Draft && !v.Started && v.CanSend() {
		v.Send = base + "/send"
	}
	if s.Published {
		v.Public = "/bulletin/" + edition
	}
	if v.Stopped {
		v.Resume = pathBulletin + "/resume"
	}
	b, ok, err := c.editionBody(r, edition)
	if err != nil || !ok {
		return v, err
	}
	for _, l := range b.Languages() {
		v.Previews = append(v.Previews, previewLink{Lang: l, Name: selfName(l), Href: base + "/preview/" + l})
	}
	v.PreviewLanguages = c.editionLanguages("")
	return v, nil
}

// editionBody is the edition as the console shows it: its draft, else
// the published record.
func (c *Console) editionBody(r *http.Request, edition string) (protocol.Bulletin, bool, error) {
	d, ok, err := c.hub.BulletinDraftOf(r.Context(), edition)
	if err != nil || ok {
		return d.Bulletin, ok, err
	}
	e, err := c.hub.BulletinByEdition(r.Context(), edition)
	if errors.Is(err, protocol.ErrNotFound) {
		return protocol.Bulletin{}, false, nil
	}
	return e.Bulletin, err == nil, err
}

func (c *Console) showNewEdition(w http.ResponseWriter, r *http.Request) {
	list, err := c.hub.BulletinEditions(r.Context())
	if err != nil {
		c.fail(w, r, "list editions", err)
		return
	}
	taken := func(e string) bool {
		return slices.ContainsFunc(list, func(s hub.EditionStatus) bool { return s.Edition == e })
	}
	f := editionForm{Action: pathBulletin + "/new", Heading: "console.bulletin.new", New: true, Edition: nextEdition(time.Now(), taken),
		Language: "en"}
	c.renderEdition(w, r, http.StatusOK, f)
}

func (c *Console) showEdition(w http.ResponseWriter, r *http.Request) {
	edition := r.PathValue("edition")
	b, ok, err := c.editionBody(r, edition)
	if err != nil {
		c.fail(w, r, "read edition", err)
		return
	}
	if !ok {
		c.site.NotFound(w, r)
		return
	}
	f := formFromBulletin(b)
	f.Action, f.Heading = r.URL.Path, "console.bulletin.edit"
	if k, ok := bulletinNotices[r.URL.Query().Get("done")]; ok {
		f.Notice = web.Printer(r).T(k)
	}
	c.renderEdition(w, r, http.StatusOK, f)
}

// saveEdition saves the form as the edition's draft, or, with the filter
// button, shows it again with the items the filter finds.
func (c *Console) saveEdition(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusRequestEntityTooLarge, "console.services.error.form")
		return
	}
	p := web.Printer(r)
	f, b := readEditionForm(r)
	f.Action, f.Heading = r.URL.Path, "console.bulletin.edit"
	old := r.PathValue("edition")
	if old == "" {
		f.Heading, f.New = "console.bulletin.new", true
	}
	switch r.PostForm.Get("action") {
	case "all":
		f.AllQuarters = true
		fallthrough
	case "filter":
		c.renderEdition(w, r, http.StatusOK, f)
		return
	}
	var ve *protocol.ValidationError
	if err := c.hub.CheckBulletin(b); errors.As(err, &ve) {
		bulletinErrors(p, &f, ve)
	} else if err != nil {
		c.fail(w, r, "check bulletin", err)
		return
	}
	if old != "" && b.Edition != old {
		f.fail("edition", p.T("console.bulletin.error.edition_fixed", "edition", old))
	}
	if f.New && !f.HasErrors() {
		if _, taken, err := c.editionBody(r, b.Edition); err != nil {
			c.fail(w, r, "read edition", err)
			return
		} else if taken {
			f.fail("edition", p.T("console.bulletin.error.edition_taken"))
		}
	}
	if f.HasErrors() || f.Error != "" {
		f.New = f.New || old == ""
		c.renderEdition(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	if err := c.hub.SaveBulletinDraft(r.Context(), b, signedIn(r).ID); err != nil {
		c.fail(w, r, "save draft", err)
		return
	}
	http.Redirect(w, r, pathBulletin+"/"+b.Edition+"?done=saved", http.StatusSeeOther)
}

func (c *Console) publishEdition(w http.ResponseWriter, r *http.Request) {
	edition := r.PathValue("edition")
	_, err := c.hub.PublishBulletinDraft(r.Context(), edition, signedIn(r).ID, c.hub.ClientAddr(r).String())
	switch {
	case errors.Is(err, protocol.ErrNotFound):
		c.site.NotFound(w, r)
	case err != nil:
		c.fail(w, r, "publish edition", err)
	default:
		http.Redirect(w, r, pathBulletin+"?done=published", http.StatusSeeOther)
	}
}

type sendPage struct {
	Edition, Title, Action, Back string
	Subscribers                  int
	Error                        string
	Readiness
}

func (c *Console) confirmSend(w http.ResponseWriter, r *http.Request) {
	c.renderSend(w, r, http.StatusOK, "")
}

func (c *Console) renderSend(w http.ResponseWriter, r *http.Request, status int, msg string) {
	edition := r.PathValue("edition")
	e, err := c.hub.BulletinByEdition(r.Context(), edition)
	if errors.Is(err, protocol.ErrNotFound) {
		c.site.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, "read edition", err)
		return
	}
	subs, err := c.hub.Subscribers(r.Context())
	if err != nil {
		c.fail(w, r, "count subscribers", err)
		return
	}
	p := web.Printer(r)
	// An edition whose day is to come is said so before any click.
	day, future := c.hub.AppearsLater(e.Bulletin)
	if future && msg == "" {
		msg = p.T("console.bulletin.error.not_yet", "day", bulletinDay(p, day))
	}
	page := sendPage{Edition: edition, Title: e.Bulletin.Title, Back: pathBulletin + "/" + edition, Subscribers: subs.Confirmed, Error: msg,
		Readiness: c.readiness(p, subs)}
	if page.CanSend() && !future {
		page.Action = r.URL.Path
	}
	c.pages.RenderIn(w, r, status, "bulletin-send", "bulletin", page)
}

func (c *Console) sendEdition(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	err := c.hub.StartSending(r.Context(), r.PathValue("edition"), signedIn(r).ID, c.hub.ClientAddr(r).String())
	switch {
	case err == nil:
		http.Redirect(w, r, pathBulletin+"/"+r.PathValue("edition")+"?done=sending", http.StatusSeeOther)
	case errors.Is(err, hub.ErrAlreadySending):
		c.renderSend(w, r, http.StatusConflict, p.T("console.bulletin.error.already_sent"))
	case errors.Is(err, hub.ErrNoMailServer):
		c.renderSend(w, r, http.StatusServiceUnavailable, p.T("console.bulletin.error.no_mail"))
	case errors.Is(err, hub.ErrNoSubscribers):
		c.renderSend(w, r, http.StatusConflict, p.T("console.bulletin.no_subscribers"))
	case errors.Is(err, hub.ErrNotPublishedYet):
		c.renderSend(w, r, http.StatusConflict, "")
	case errors.Is(err, protocol.ErrNotFound):
		c.site.NotFound(w, r)
	default:
		c.fail(w, r, "start sending", err)
	}
}

func (c *Console) resumeSending(w http.ResponseWriter, r *http.Request) {
	c.hub.ResumeSending()
	c.log.Info("bulletin sending resumed from the console", "member", signedIn(r).ID)
	http.Redirect(w, r, pathBulletin+"?done=resumed", http.StatusSeeOther)
}

// previewEdition shows the edition's mail in one of the portal's
// languages, as a subscriber who chose it would get it.
func (c *Console) previewEdition(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if l := r.URL.Query().Get("lang"); l != "" {
		lang = l
	}
	b, ok, err := c.editionBody(r, r.PathValue("edition"))
	if err != nil {
		c.fail(w, r, "read edition", err)
		return
	}
	if !ok {
		c.site.NotFound(w, r)
		return
	}
	m, err := c.hub.PreviewBulletin(r.Context(), b, lang)
	if errors.Is(err, hub.ErrInvalidSubscriberLang) {
		c.site.NotFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, "preview edition", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The mail as it is: no script, its links not followed from here by
	// anything but a click.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, withBackLink(m.HTML, web.Printer(r), pathBulletin+"/"+b.Edition, b.Edition))
}

// withBackLink puts, above the mail, a link back to the edition in the
// console: the preview is the mail's page alone, with nothing of the
// console around it.
func withBackLink(html string, p *locale.Printer, href, edition string) string {
	i := strings.Index(html, "<body")
	j := -1
	if i >= 0 {
		j = strings.IndexByte(html[i:], '>')
	}
	link := `<p lang="` + template.HTMLEscapeString(p.Tag()) + `" style="font-family:sans-serif;padding:.5em 1em;background:#eee"><a href="` +
		template.HTMLEscapeString(href) + `">` + template.HTMLEscapeString(p.T("console.bulletin.preview.back", "edition", edition)) + `</a></p>`
	if j < 0 {
		return link + html
	}
	at := i + j + 1
	return html[:at] + link + html[at:]
}
