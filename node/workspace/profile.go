package workspace

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// pathProfilePreview shows the portal's help page as the profile would
// make it: the saved profile on GET, the form's unsaved one on POST.
const pathProfilePreview = PathProfile + "/preview"

// Limits on the profile form's fields, those of the protocol: a phone
// number of 64 bytes, a web address of 2048, any other text of
// protocol.MaxShortField; the language list is a few codes.
const (
	maxProfileText  = protocol.MaxShortField
	maxProfileURL   = 2048
	maxProfilePhone = 64
	maxProfileLangs = 400
)

// profileField is one input of the profile form. Its name is the form
// field's and, prefixed with "profile.field.", its label's and hint's
// message ids.
type profileField struct {
	Name, Type, Autocomplete string
	Required                 bool
	// Max is the input's maxlength, in characters.
	Max int
}

// profileGroup is one fieldset of the form; Optional groups may be left
// empty, and a group once started needs its name.
type profileGroup struct {
	ID       string
	Optional bool
	Fields   []profileField
}

var profileGroups = []profileGroup{
	{ID: "centre", Fields: []profileField{
		{Name: "name", Type: "text", Autocomplete: "organization", Required: true, Max: maxProfileText},
		{Name: "website", Type: "url", Autocomplete: "url", Max: maxProfileURL},
		{Name: "languages", Type: "text", Required: true, Max: maxProfileLangs},
	}},
	{ID: "helpline", Optional: true, Fields: []profileField{
		{Name: "helpline_name", Type: "text", Max: maxProfileText},
		{Name: "helpline_phone", Type: "tel", Autocomplete: "tel", Max: maxProfilePhone},
		{Name: "helpline_chat", Type: "url", Max: maxProfileURL},
		{Name: "helpline_email", Type: "email", Autocomplete: "email", Max: maxProfileText},
		{Name: "helpline_hours", Type: "text", Max: maxProfileText},
		{Name: "helpline_url", Type: "url", Max: maxProfileURL},
	}},
	{ID: "hotline", Optional: true, Fields: []profileField{
		{Name: "hotline_name", Type: "text", Max: maxProfileText},
		{Name: "hotline_report_url", Type: "url", Max: maxProfileURL},
	}},
	{ID: "awareness", Optional: true, Fields: []profileField{
		{Name: "awareness_name", Type: "text", Max: maxProfileText},
		{Name: "awareness_url", Type: "url", Max: maxProfileURL},
	}},
	{ID: "youth", Optional: true, Fields: []profileField{
		{Name: "youth_name", Type: "text", Max: maxProfileText},
		{Name: "youth_url", Type: "url", Max: maxProfileURL},
	}},
}

// profileForm is the form's values by field name, with "country".
type profileForm map[string]string

// fieldView is one input as the template shows it.
type fieldView struct {
	profileField
	Value, Error string
}

type groupView struct {
	ID       string
	Optional bool
	Fields   []fieldView
}

// formError is one entry of the error summary, linked to its field.
type formError struct {
	Field, Message string
}

type profilePage struct {
	Country, CountryName string
	// Countries are the node's countries when it speaks for more than one,
	// to switch between their profiles.
	Countries []countryLink
	// None is set when the node may publish no profile at all.
	None    bool
	Exists  bool
	State   node.State
	Saved   bool
	Groups  []groupView
	Errors  []formError
	Form    profileForm
	Preview *protocol.Profile
	// Unsaved is set on a preview of the form rather than of the saved
	// profile.
	Unsaved bool
}

type countryLink struct {
	Code, Name, Href string
	Current          bool
}

func (ws *Workspace) mountProfile() {
	ws.handle("GET "+PathProfile, ws.showProfile, rolesContent...)
	ws.handle("POST "+PathProfile, ws.saveProfile, rolesContent...)
	ws.handle("GET "+pathProfilePreview, ws.previewSavedProfile, rolesContent...)
	ws.handle("POST "+pathProfilePreview, ws.previewProfile, rolesContent...)
}

// countries are those the node may publish a profile for: the hub's
// binding, or by default the node's id when that is a country code.
func (ws *Workspace) countries() []string {
	if c := ws.node.Identity().Countries; c != nil {
		return c
	}
	return protocol.DefaultCountries(ws.node.ID())
}

// ownProfile returns the node's live profile for country, if it has one.
func (ws *Workspace) ownProfile(r *http.Request, country string) (node.Entity, *protocol.Profile, bool, error) {
	after := ""
	for {
		es, err := ws.node.List(r.Context(), node.ListFilter{Kind: protocol.KindProfile, Owner: ws.node.ID(), After: after, Limit: 1000})
		if err != nil {
			return node.Entity{}, nil, false, err
		}
		for _, e := range es {
			var p protocol.Profile
			if e.Deleted || json.Unmarshal(e.Body, &p) != nil || p.Country != country {
				continue
			}
			return e, &p, true, nil
		}
		if len(es) < 1000 {
			return node.Entity{}, nil, false, nil
		}
		after = es[len(es)-1].ID
	}
}

// chosenCountry is the country a request is about: the one it names, if
// the node speaks for it, else the node's first.
func (ws *Workspace) chosenCountry(r *http.Request, asked string) string {
	cs := ws.countries()
	if slices.Contains(cs, asked) {
		return asked
	}
	if len(cs) == 0 {
		return ""
	}
	return cs[0]
}

// countryName names a country in the reader's language.
func countryName(r *http.Request, code string) string {
	region, err := language.ParseRegion(strings.ToUpper(code))
	if err != nil {
		return strings.ToUpper(code)
	}
	tag := language.English
	if p := web.Printer(r); p != nil {
		tag = language.Make(p.Tag())
	}
	if n := display.Regions(tag).Name(region); n != "" {
		return n
	}
	return strings.ToUpper(code)
}

func (ws *Workspace) newProfilePage(r *http.Request, country string) profilePage {
	page := profilePage{Country: country, CountryName: countryName(r, country)}
	if cs := ws.countries(); len(cs) > 1 {
		for _, c := range cs {
			page.Countries = append(page.Countries, countryLink{Code: c, Name: countryName(r, c),
				Href: PathProfile + "?country=" + url.QueryEscape(c), Current: c == country})
		}
	}
	return page
}

func (ws *Workspace) showProfile(w http.ResponseWriter, r *http.Request) {
	country := ws.chosenCountry(r, r.URL.Query().Get("country"))
	if country == "" {
		ws.render(w, r, http.StatusOK, "profile", sectionProfile, profilePage{None: true})
		return
	}
	e, p, ok, err := ws.ownProfile(r, country)
	if err != nil {
		ws.fail(w, r, "read profile", err)
		return
	}
	page := ws.newProfilePage(r, country)
	page.Exists, page.Saved = ok, r.URL.Query().Get("saved") == "1" && ok
	form := profileForm{"country": country}
	if ok {
		page.State = e.State
		form = formOf(p)
	}
	page.Form = form
	page.Groups = groupsOf(form, nil)
	ws.render(w, r, http.StatusOK, "profile", sectionProfile, page)
}

// saveProfile creates or updates the profile from the form, or shows the
// form again with what was typed and why it was refused. A form sent
// back from the preview with do=edit is only shown again.
func (ws *Workspace) saveProfile(w http.ResponseWriter, r *http.Request) {
	form, ok := ws.readProfileForm(r)
	if !ok {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	page := ws.newProfilePage(r, form["country"])
	e, _, exists, err := ws.ownProfile(r, form["country"])
	if err != nil {
		ws.fail(w, r, "read profile", err)
		return
	}
	page.Exists, page.State, page.Form = exists, e.State, form
	t := web.Printer(r).T
	if r.PostForm.Get("do") == "edit" {
		page.Groups = groupsOf(form, nil)
		ws.render(w, r, http.StatusOK, "profile", sectionProfile, page)
		return
	}
	body, errs := buildProfile(form, t)
	if len(errs) == 0 {
		raw, _ := json.Marshal(body)
		d := node.Draft{Kind: protocol.KindProfile, Visibility: protocol.VisibilityPublic, Body: raw}
		if exists {
			_, err = ws.node.Update(r.Context(), e.ID, d)
		} else {
			_, err = ws.node.Create(r.Context(), d)
		}
		if err == nil {
			http.Redirect(w, r, PathProfile+"?saved=1&country="+url.QueryEscape(form["country"]), http.StatusSeeOther)
			return
		}
		if errs = refusedProfile(err, t); errs == nil {
			ws.fail(w, r, "save profile", err)
			return
		}
	}
	page.Errors = summary(errs)
	page.Groups = groupsOf(form, errs)
	ws.render(w, r, http.StatusUnprocessableEntity, "profile", sectionProfile, page)
}

func (ws *Workspace) previewSavedProfile(w http.ResponseWriter, r *http.Request) {
	country := ws.chosenCountry(r, r.URL.Query().Get("country"))
	if country == "" {
		http.Redirect(w, r, PathProfile, http.StatusSeeOther)
		return
	}
	_, p, ok, err := ws.ownProfile(r, country)
	if err != nil {
		ws.fail(w, r, "read profile", err)
		return
	}
	page := ws.newProfilePage(r, country)
	page.Exists, page.Preview = ok, p
	page.Form = profileForm{"country": country}
	if ok {
		page.Form = formOf(p)
	}
	ws.render(w, r, http.StatusOK, "profilepreview", sectionProfile, page)
}

// previewProfile shows the unsaved form as the portal would; a form the
// protocol would refuse is shown again with its errors instead.
func (ws *Workspace) previewProfile(w http.ResponseWriter, r *http.Request) {
	form, ok := ws.readProfileForm(r)
	if !ok {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	page := ws.newProfilePage(r, form["country"])
	e, _, exists, err := ws.ownProfile(r, form["country"])
	if err != nil {
		ws.fail(w, r, "read profile", err)
		return
	}
	page.Exists, page.State, page.Form = exists, e.State, form
	body, errs := buildProfile(form, web.Printer(r).T)
	if len(errs) > 0 {
		page.Errors = summary(errs)
		page.Groups = groupsOf(form, errs)
		ws.render(w, r, http.StatusUnprocessableEntity, "profile", sectionProfile, page)
		return
	}
	page.Preview, page.Unsaved = body, true
	ws.render(w, r, http.StatusOK, "profilepreview", sectionProfile, page)
}

// readProfileForm reads the form's fields, trimmed; a value longer than
// its field allows is kept whole, so the person sees it and the error. The
// country must be one the node speaks for.
func (ws *Workspace) readProfileForm(r *http.Request) (profileForm, bool) {
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	country := r.PostForm.Get("country")
	if !slices.Contains(ws.countries(), country) {
		return nil, false
	}
	form := profileForm{"country": country}
	for _, g := range profileGroups {
		for _, f := range g.Fields {
			form[f.Name] = strings.TrimSpace(r.PostForm.Get(f.Name))
		}
	}
	return form, true
}

// formOf fills the form from a saved profile.
func formOf(p *protocol.Profile) profileForm {
	f := profileForm{"country": p.Country, "name": p.Name, "website": p.Website,
		"languages": strings.Join(p.Languages, ", ")}
	if a := p.Awareness; a != nil {
		f["awareness_name"], f["awareness_url"] = a.Name, a.URL
	}
	if h := p.Helpline; h != nil {
		f["helpline_name"], f["helpline_phone"], f["helpline_chat"] = h.Name, h.Phone, h.Chat
		f["helpline_email"], f["helpline_hours"], f["helpline_url"] = h.Email, h.Hours, h.URL
	}
	if h := p.Hotline; h != nil {
		f["hotline_name"], f["hotline_report_url"] = h.Name, h.ReportURL
	}
	if y := p.YouthPanel; y != nil {
		f["youth_name"], f["youth_url"] = y.Name, y.URL
	}
	return f
}

func groupsOf(form profileForm, errs map[string]string) []groupView {
	out := make([]groupView, 0, len(profileGroups))
	for _, g := range profileGroups {
		gv := groupView{ID: g.ID, Optional: g.Optional}
		for _, f := range g.Fields {
			gv.Fields = append(gv.Fields, fieldView{profileField: f, Value: form[f.Name], Error: errs[f.Name]})
		}
		out = append(out, gv)
	}
	return out
}

// summary lists the errors in the form's order.
func summary(errs map[string]string) []formError {
	var out []formError
	for _, g := range profileGroups {
		for _, f := range g.Fields {
			if m, ok := errs[f.Name]; ok {
				out = append(out, formError{Field: f.Name, Message: m})
			}
		}
	}
	return out
}

// buildProfile checks the form in plain words, field by field, and makes
// the profile's body from it. Its checks are the protocol's, so what
// passes here the node and the hub accept.
func buildProfile(form profileForm, t func(string, ...any) string) (*protocol.Profile, map[string]string) {
	errs := map[string]string{}
	set := func(field, id string, args ...any) {
		if _, ok := errs[field]; !ok {
			errs[field] = t(id, args...)
		}
	}
	text := func(field string, max int) string {
		v := form[field]
		switch {
		case !utf8.ValidString(v):
			set(field, "profile.error.text")
		case len(v) > max:
			set(field, "profile.error.long", "max", max)
		default:
			if _, bidi := protocol.BidiControl(v); bidi {
				set(field, "profile.error.text")
			}
			for _, r := range v {
				if r < 0x20 || r == 0x7f {
					set(field, "profile.error.text")
					break
				}
			}
		}
		return v
	}
	link := func(field string) string {
		v := text(field, maxProfileURL)
		if v == "" {
			return ""
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			set(field, "profile.error.url")
		}
		return v
	}
	p := &protocol.Profile{Country: form["country"], Name: text("name", maxProfileText), Website: link("website")}
	if p.Name == "" {
		set("name", "profile.error.name")
	}
	langs := text("languages", maxProfileLangs)
	for _, l := range strings.FieldsFunc(langs, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		canon, err := protocol.ParseLanguageTag(l)
		if err != nil {
			set("languages", "profile.error.language", "code", l)
			continue
		}
		if !slices.Contains(p.Languages, canon) {
			p.Languages = append(p.Languages, canon)
		}
	}
	switch {
	case len(p.Languages) == 0:
		set("languages", "profile.error.languages")
	case len(p.Languages) > protocol.MaxListLen:
		set("languages", "profile.error.languages.many", "max", protocol.MaxListLen)
	}

	// An optional part left wholly empty is left out; one started needs
	// its name.
	started := func(fields ...string) bool {
		return slices.ContainsFunc(fields, func(f string) bool { return form[f] != "" })
	}
	named := func(field string) string {
		v := text(field, maxProfileText)
		if v == "" {
			set(field, "profile.error.part_name")
		}
		return v
	}
	if started("helpline_name", "helpline_phone", "helpline_chat", "helpline_email", "helpline_hours", "helpline_url") {
		h := &protocol.Helpline{Name: named("helpline_name"), Phone: text("helpline_phone", maxProfilePhone),
			Chat: link("helpline_chat"), Email: text("helpline_email", maxProfileText),
			Hours: text("helpline_hours", maxProfileText), URL: link("helpline_url")}
		if h.Phone != "" && !validPhone(h.Phone) {
			set("helpline_phone", "profile.error.phone")
		}
		if h.Email != "" {
			if a, err := mail.ParseAddress(h.Email); err != nil || a.Address != h.Email {
				set("helpline_email", "profile.error.email")
			}
		}
		if h.Phone == "" && h.Chat == "" && h.Email == "" && h.URL == "" {
			set("helpline_phone", "profile.error.helpline_contact")
		}
		p.Helpline = h
	}
	if started("hotline_name", "hotline_report_url") {
		h := &protocol.Hotline{Name: named("hotline_name"), ReportURL: link("hotline_report_url")}
		if h.ReportURL == "" {
			set("hotline_report_url", "profile.error.report_url")
		}
		p.Hotline = h
	}
	if started("awareness_name", "awareness_url") {
		p.Awareness = &protocol.Awareness{Name: named("awareness_name"), URL: link("awareness_url")}
	}
	if started("youth_name", "youth_url") {
		p.YouthPanel = &protocol.YouthPanel{Name: named("youth_name"), URL: link("youth_url")}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// validPhone accepts what a person dials: digits, spaces, dots, dashes,
// brackets and a leading +, with at least three digits.
func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		case r == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 3
}

// profileFieldOf maps a field of the protocol's validation to the form's.
var profileFieldOf = map[string]string{
	"body.name": "name", "body.website": "website", "body.languages": "languages",
	"body.awareness.name": "awareness_name", "body.awareness.url": "awareness_url",
	"body.helpline": "helpline_phone", "body.helpline.name": "helpline_name", "body.helpline.phone": "helpline_phone",
	"body.helpline.chat": "helpline_chat", "body.helpline.email": "helpline_email",
	"body.helpline.hours": "helpline_hours", "body.helpline.url": "helpline_url",
	"body.hotline.name": "hotline_name", "body.hotline.report_url": "hotline_report_url",
	"body.youth_panel.name": "youth_name", "body.youth_panel.url": "youth_url",
}

// refusedProfile words the node's refusal of a profile per field, or
// returns nil for an error that is no refusal of the profile.
func refusedProfile(err error, t func(string, ...any) string) map[string]string {
	var ve *protocol.ValidationError
	if errors.As(err, &ve) {
		errs := map[string]string{}
		for _, f := range ve.Fields {
			field := profileFieldOf[f.Field]
			if field == "" {
				if strings.HasPrefix(f.Field, "body.languages") {
					field = "languages"
				} else {
					field = "name"
				}
			}
			if _, ok := errs[field]; !ok {
				errs[field] = t("profile.error.refused", "detail", f.Message)
			}
		}
		return errs
	}
	switch protocol.ErrorCode(err) {
	case protocol.CodeCountryNotAllowed:
		return map[string]string{"name": t("profile.error.country_not_allowed")}
	case protocol.CodeCountryTaken:
		return map[string]string{"name": t("profile.error.country_taken")}
	}
	return nil
}
