package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

const pathServices = "/console/services"

// serviceEditors are the roles that write the guide to online services:
// the coordination team's coordinators, and the operators who run the
// hub. Moderators judge what SICs write and do not edit the hub's guide.
var serviceEditors = []string{hub.RoleCoordinator, hub.RoleOperator}

// serviceRoutes adds the guide's pages.
func (c *Console) serviceRoutes() {
	m, editor := c.mux, c.requireRole(serviceEditors...)
	m.Handle("GET "+pathServices, editor(http.HandlerFunc(c.services)))
	m.Handle("GET "+pathServices+"/new", editor(http.HandlerFunc(c.showNewService)))
	m.Handle("POST "+pathServices+"/new", editor(http.HandlerFunc(c.saveService)))
	m.Handle("GET "+pathServices+"/{id}", editor(http.HandlerFunc(c.showService)))
	m.Handle("POST "+pathServices+"/{id}", editor(http.HandlerFunc(c.saveService)))
	m.Handle("GET "+pathServices+"/{id}/withdraw", editor(http.HandlerFunc(c.confirmWithdrawService)))
	m.Handle("POST "+pathServices+"/{id}/withdraw", editor(http.HandlerFunc(c.withdrawService)))
}

// serviceRow is one entry of the console's list of the guide.
type serviceRow struct {
	Name, Category, Age, Changed string
	Edit, Public                 string
}

type servicesPage struct {
	Services []serviceRow
	Notice   string
}

var serviceNotices = map[string]string{
	"saved":     "console.services.done.saved",
	"withdrawn": "console.services.done.withdrawn",
}

func (c *Console) services(w http.ResponseWriter, r *http.Request) {
	list, err := c.hub.Services(r.Context())
	if err != nil {
		c.fail(w, r, "list services", err)
		return
	}
	p := web.Printer(r)
	page := servicesPage{}
	if k, ok := serviceNotices[r.URL.Query().Get("done")]; ok {
		page.Notice = p.T(k)
	}
	for _, e := range list {
		page.Services = append(page.Services, serviceRow{Name: e.Service.Name, Category: categoryWords(p, e.Service.Category),
			Age: ageWords(p, e.Service), Changed: p.DateTime(e.UpdatedAt.UTC()), Edit: pathServices + "/" + url.PathEscape(e.ID),
			Public: publicServicePath(e)})
	}
	c.pages.RenderIn(w, r, http.StatusOK, "services", "services", page)
}

// publicServicePath is the entry's page on the portal: at its slug, or
// at its id when it has none.
func publicServicePath(e hub.ServiceEntry) string {
	if e.Service.Slug != "" {
		return "/services/" + e.Service.Slug
	}
	return "/services/" + url.PathEscape(e.ID)
}

// categoryWords names a category as the portal does; a category from
// before the guide's vocabulary shows as written.
func categoryWords(p *locale.Printer, cat string) string {
	if slices.Contains(protocol.ServiceCategories, cat) {
		return p.T("portal.service_category." + cat)
	}
	return cat
}

// ageWords says the entry's minimum age in the portal's words, never "0".
func ageWords(p *locale.Printer, s protocol.Service) string {
	switch {
	case s.NoMinimumAge:
		return p.T("portal.services.age.none")
	case s.MinimumAge > 0:
		return p.T("portal.services.age.min", "age", s.MinimumAge)
	}
	return p.T("portal.services.age.unknown")
}

// The age choices of the form: a minimum age, or none in the terms.
const (
	ageMinimum = "min"
	ageNone    = "none"
)

// serviceForm is the form of an entry of the guide, with what was typed
// and what is wrong with it, by field id.
type serviceForm struct {
	Action, Back, Withdraw          string
	Name, Slug, Category            string
	Description, URL                string
	Age, MinimumAge                 string
	PEGI, AppStoreAge               string
	Safety, Privacy, Parental       string
	Features, Topics                []string
	HowToReport, ReportURL          string
	HowToBlock, BlockURL            string
	Language                        string
	Versions                        []versionForm
	Errors                          map[string]string
	Error                           string
	Categories, PEGIs, AppStoreAges []choice
	FeatureChoices, TopicChoices    []choice
	Languages                       []langChoice
	Heading                         string
	errorOrder                      []string
}

// versionForm is one language version in the form; the last one of the
// form is blank, for adding a language.
type versionForm struct {
	N, Number                 int
	Language                  string
	Description               string
	Safety, Privacy, Parental string
	HowToReport, ReportURL    string
	HowToBlock, BlockURL      string
	Remove                    bool
	Blank                     bool
	Languages                 []langChoice
}

// choice is an option of a select or a checkbox.
type choice struct {
	Value, Label string
	Selected     bool
}

// fieldError is an error of the summary, linked to its field.
type fieldError struct{ ID, Message string }

func (f *serviceForm) HasErrors() bool { return len(f.Errors) > 0 }

// Summary lists the errors in the order of the form.
func (f *serviceForm) Summary() []fieldError {
	var out []fieldError
	for _, id := range f.errorOrder {
		if msg, ok := f.Errors[id]; ok && !slices.ContainsFunc(out, func(e fieldError) bool { return e.ID == id }) {
			out = append(out, fieldError{ID: id, Message: msg})
		}
	}
	return out
}

func (f *serviceForm) fail(id, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[id]; !ok {
		f.Errors[id] = msg
	}
}

// has says whether v is among the chosen terms of list.
func (f *serviceForm) has(list []string, v string) bool { return slices.Contains(list, v) }

// formFromService fills the form with a stored entry.
func formFromService(s protocol.Service) serviceForm {
	f := serviceForm{Name: s.Name, Slug: s.Slug, Category: s.Category, Description: s.Description, URL: s.URL,
		AppStoreAge: s.AppStoreAge, Safety: lines(s.SafetyFeatures), Privacy: lines(s.PrivacyFeatures),
		Parental: lines(s.ParentalControls), Features: s.Features, Topics: s.Topics, HowToReport: s.HowToReport,
		ReportURL: s.ReportURL, HowToBlock: s.HowToBlock, BlockURL: s.BlockURL, Language: s.Language}
	switch {
	case s.NoMinimumAge:
		f.Age = ageNone
	case s.MinimumAge > 0:
		f.Age, f.MinimumAge = ageMinimum, strconv.Itoa(s.MinimumAge)
	}
	if s.PEGI != 0 {
		f.PEGI = strconv.Itoa(s.PEGI)
	}
	for i, v := range s.Versions {
		f.Versions = append(f.Versions, versionForm{N: i, Language: v.Language, Description: v.Description,
			Safety: lines(v.SafetyFeatures), Privacy: lines(v.PrivacyFeatures), Parental: lines(v.ParentalControls),
			HowToReport: v.HowToReport, ReportURL: v.ReportURL, HowToBlock: v.HowToBlock, BlockURL: v.BlockURL})
	}
	return f
}

func lines(list []string) string { return strings.Join(list, "\n") }

// splitLines reads a list typed one entry a line, leaving out blank lines.
func splitLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// text reads a multi-line field with the browser's line ends made plain.
func text(form url.Values, name string) string {
	return strings.TrimSpace(strings.ReplaceAll(form.Get(name), "\r\n", "\n"))
}

// readServiceForm parses the form into the form's values and the entry it
// asks for; errors found before protocol's validation are in the form.
func readServiceForm(r *http.Request) (serviceForm, protocol.Service) {
	p := web.Printer(r)
	pf := r.PostForm
	f := serviceForm{Name: strings.TrimSpace(pf.Get("name")), Slug: strings.TrimSpace(pf.Get("slug")),
		Category: pf.Get("category"), Description: text(pf, "description"), URL: strings.TrimSpace(pf.Get("url")),
		Age: pf.Get("age"), MinimumAge: strings.TrimSpace(pf.Get("minimum_age")), PEGI: pf.Get("pegi"),
		AppStoreAge: pf.Get("app_store_age"), Safety: text(pf, "safety_features"), Privacy: text(pf, "privacy_features"),
		Parental: text(pf, "parental_controls"), Features: pf["features"], Topics: pf["topics"],
		HowToReport: text(pf, "how_to_report"), ReportURL: strings.TrimSpace(pf.Get("report_url")),
		HowToBlock: text(pf, "how_to_block"), BlockURL: strings.TrimSpace(pf.Get("block_url")), Language: pf.Get("language")}
	s := protocol.Service{Name: f.Name, Slug: f.Slug, Category: f.Category, Description: f.Description, URL: f.URL,
		AppStoreAge: f.AppStoreAge, SafetyFeatures: splitLines(f.Safety), PrivacyFeatures: splitLines(f.Privacy),
		ParentalControls: splitLines(f.Parental), Features: f.Features, Topics: f.Topics, HowToReport: f.HowToReport,
		ReportURL: f.ReportURL, HowToBlock: f.HowToBlock, BlockURL: f.BlockURL, Language: f.Language}
	if f.Slug == "" {
		f.fail("slug", p.T("console.services.error.slug"))
	}
	switch f.Age {
	case ageNone:
		s.NoMinimumAge = true
	case ageMinimum:
		n, err := strconv.Atoi(f.MinimumAge)
		if err != nil || n < 1 || n > 99 {
			f.fail("minimum_age", p.T("console.services.error.minimum_age"))
		} else {
			s.MinimumAge = n
		}
	default:
		f.fail("age", p.T("console.services.error.age"))
	}
	if f.PEGI != "" {
		n, err := strconv.Atoi(f.PEGI)
		if err != nil {
			f.fail("pegi", p.T("console.services.error.pegi"))
		}
		s.PEGI = n
	}
	// The versions: as many as the form sent, up to what the record holds
	// and the blank one for adding a language.
	for i := 0; i <= protocol.MaxListLen; i++ {
		k := "v" + strconv.Itoa(i) + "-"
		if _, ok := pf[k+"language"]; !ok {
			break
		}
		v := versionForm{N: len(f.Versions), Language: pf.Get(k + "language"), Description: text(pf, k+"description"),
			Safety: text(pf, k+"safety_features"), Privacy: text(pf, k+"privacy_features"), Parental: text(pf, k+"parental_controls"),
			HowToReport: text(pf, k+"how_to_report"), ReportURL: strings.TrimSpace(pf.Get(k + "report_url")),
			HowToBlock: text(pf, k+"how_to_block"), BlockURL: strings.TrimSpace(pf.Get(k + "block_url")), Remove: pf.Get(k+"remove") != ""}
		empty := v.Language == "" && v.Description == "" && v.Safety == "" && v.Privacy == "" && v.Parental == "" &&
			v.HowToReport == "" && v.ReportURL == "" && v.HowToBlock == "" && v.BlockURL == ""
		if empty {
			continue
		}
		f.Versions = append(f.Versions, v)
		if v.Remove {
			continue
		}
		if v.Language == "" {
			f.fail(fmt.Sprintf("v%d-language", v.N), p.T("console.services.error.version_language"))
		}
		s.Versions = append(s.Versions, protocol.ServiceVersion{Language: v.Language, Description: v.Description,
			SafetyFeatures: splitLines(v.Safety), PrivacyFeatures: splitLines(v.Privacy), ParentalControls: splitLines(v.Parental),
			HowToReport: v.HowToReport, ReportURL: v.ReportURL, HowToBlock: v.HowToBlock, BlockURL: v.BlockURL})
	}
	return f, s
}

// versionIndex maps the index of a version in the record to its form
// number: removed versions are in the form but not in the record.
func versionIndex(f *serviceForm, i int) int {
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

var protocolField = regexp.MustCompile(`^body\.([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?`)

// protocolErrors puts protocol's field errors next to the form's fields,
// each in the reader's words.
func protocolErrors(p *locale.Printer, f *serviceForm, ve *protocol.ValidationError) {
	for _, fe := range ve.Fields {
		m := protocolField.FindStringSubmatch(fe.Field)
		if m == nil {
			f.Error = p.T("console.services.error.refused", "reason", fe.Field+": "+fe.Message)
			continue
		}
		field, sub := m[1], m[3]
		if field == "versions" {
			i, err := strconv.Atoi(m[2])
			n := versionIndex(f, i)
			if err != nil || n < 0 {
				f.fail("versions", p.T("console.services.error.versions", "max", protocol.MaxListLen))
				continue
			}
			id := fmt.Sprintf("v%d-", n)
			switch sub {
			case "":
				f.fail(id+"description", p.T("console.services.error.version_empty"))
			case "language":
				f.fail(id+"language", p.T("console.services.error.version_language"))
			default:
				f.fail(id+sub, fieldMessage(p, sub))
			}
			continue
		}
		if field == "no_minimum_age" {
			field = "minimum_age"
		}
		f.fail(field, fieldMessage(p, field))
	}
}

// fieldMessage says what a field of the record needs.
func fieldMessage(p *locale.Printer, field string) string {
	switch field {
	case "description", "how_to_report", "how_to_block":
		return p.T("console.services.error.text", "max", protocol.MaxTextField/1024)
	case "report_url", "block_url":
		return p.T("console.services.error.link")
	case "safety_features", "privacy_features", "parental_controls":
		return p.T("console.services.error.list", "max", protocol.MaxListLen, "len", protocol.MaxShortField)
	case "name", "slug", "category", "url", "minimum_age", "pegi", "app_store_age", "features", "topics", "language":
		return p.T("console.services.error." + field)
	}
	return p.T("console.services.error.refused", "reason", field)
}

// serviceFieldOrder is the order of the form's fields, for the summary.
var serviceFieldOrder = []string{"name", "slug", "category", "description", "url", "age", "minimum_age", "pegi", "app_store_age",
	"safety_features", "privacy_features", "parental_controls", "features", "how_to_report", "report_url", "how_to_block",
	"block_url", "topics", "language", "versions"}

var versionFieldOrder = []string{"language", "description", "safety_features", "privacy_features", "parental_controls",
	"how_to_report", "report_url", "how_to_block", "block_url"}

// prepare fills the form's choices, its blank version and its error order.
func (c *Console) prepare(r *http.Request, f *serviceForm) {
	p := web.Printer(r)
	f.Categories = f.Categories[:0]
	for _, cat := range protocol.ServiceCategories {
		f.Categories = append(f.Categories, choice{Value: cat, Label: p.T("portal.service_category." + cat), Selected: cat == f.Category})
	}
	f.PEGIs = f.PEGIs[:0]
	for _, n := range protocol.PEGIRatings {
		v := strconv.Itoa(n)
		f.PEGIs = append(f.PEGIs, choice{Value: v, Label: "PEGI " + v, Selected: v == f.PEGI})
	}
	f.AppStoreAges = f.AppStoreAges[:0]
	for _, a := range protocol.AppStoreAges {
		f.AppStoreAges = append(f.AppStoreAges, choice{Value: a, Label: a, Selected: a == f.AppStoreAge})
	}
	f.FeatureChoices = f.FeatureChoices[:0]
	for _, ft := range protocol.ServiceFeatures {
		f.FeatureChoices = append(f.FeatureChoices, choice{Value: ft, Label: p.T("portal.service_feature." + ft), Selected: f.has(f.Features, ft)})
	}
	f.TopicChoices = f.TopicChoices[:0]
	for _, t := range protocol.Topics {
		f.TopicChoices = append(f.TopicChoices, choice{Value: t, Label: p.T("portal.topic." + t), Selected: f.has(f.Topics, t)})
	}
	f.Languages = languageChoices(f.Language)
	if len(f.Versions) < protocol.MaxListLen {
		f.Versions = append(f.Versions, versionForm{N: len(f.Versions), Blank: true})
	}
	for i := range f.Versions {
		f.Versions[i].Languages = languageChoices(f.Versions[i].Language)
		f.Versions[i].Number = i + 1
	}
	f.errorOrder = slices.Clone(serviceFieldOrder)
	for _, v := range f.Versions {
		for _, id := range versionFieldOrder {
			f.errorOrder = append(f.errorOrder, fmt.Sprintf("v%d-%s", v.N, id))
		}
	}
}

func languageChoices(selected string) []langChoice {
	out := make([]langChoice, 0, len(postLanguages))
	for _, l := range postLanguages {
		out = append(out, langChoice{Tag: l.Tag, Name: l.Name, Selected: l.Tag == selected})
	}
	return out
}

func (c *Console) renderService(w http.ResponseWriter, r *http.Request, status int, f serviceForm) {
	c.prepare(r, &f)
	c.pages.RenderIn(w, r, status, "service", "services", &f)
}

func (c *Console) showNewService(w http.ResponseWriter, r *http.Request) {
	f := serviceForm{Action: pathServices + "/new", Back: pathServices, Heading: "console.services.new", Language: preferredLanguage(r)}
	c.renderService(w, r, http.StatusOK, f)
}

// entryFor reads the entry the path names, or answers 404.
func (c *Console) entryFor(w http.ResponseWriter, r *http.Request) (hub.ServiceEntry, bool) {
	e, err := c.hub.Service(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, protocol.ErrNotFound):
		c.site.NotFound(w, r)
		return e, false
	case err != nil:
		c.fail(w, r, "read service", err)
		return e, false
	}
	return e, true
}

func (c *Console) showService(w http.ResponseWriter, r *http.Request) {
	e, ok := c.entryFor(w, r)
	if !ok {
		return
	}
	f := formFromService(e.Service)
	f.Action, f.Back, f.Heading = r.URL.Path, pathServices, "console.services.edit"
	f.Withdraw = r.URL.Path + "/withdraw"
	c.renderService(w, r, http.StatusOK, f)
}

// saveService creates (at /new) or edits an entry from the form.
func (c *Console) saveService(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id != "" {
		if _, ok := c.entryFor(w, r); !ok {
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusRequestEntityTooLarge, "console.services.error.form")
		return
	}
	p := web.Printer(r)
	f, s := readServiceForm(r)
	f.Action, f.Back, f.Heading = r.URL.Path, pathServices, "console.services.new"
	if id != "" {
		f.Heading, f.Withdraw = "console.services.edit", r.URL.Path+"/withdraw"
	}
	var ve *protocol.ValidationError
	if err := c.hub.CheckService(s); errors.As(err, &ve) {
		protocolErrors(p, &f, ve)
	} else if err != nil {
		c.fail(w, r, "check service", err)
		return
	}
	if f.HasErrors() || f.Error != "" {
		c.renderService(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	m := signedIn(r)
	_, err := c.hub.SaveService(r.Context(), hub.ServiceSave{ID: id, Service: s, MemberID: m.ID, Address: c.hub.ClientAddr(r).String()})
	switch {
	case err == nil:
		http.Redirect(w, r, pathServices+"?done=saved", http.StatusSeeOther)
		return
	case errors.Is(err, hub.ErrSlugTaken):
		f.fail("slug", p.T("console.services.error.slug_taken"))
	case errors.As(err, &ve):
		protocolErrors(p, &f, ve)
	default:
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			c.fail(w, r, "save service", err)
			return
		}
		c.log.Warn("service refused", "code", string(pe.Code), "err", err)
		if pe.Code == protocol.CodeUnavailable || pe.Code == protocol.CodeConflict {
			f.Error = p.T("console.community.error.again")
		} else {
			f.Error = p.T("console.services.error.refused", "reason", pe.Message)
		}
	}
	c.renderService(w, r, http.StatusUnprocessableEntity, f)
}

type withdrawPage struct {
	Name, Action, Back string
}

func (c *Console) confirmWithdrawService(w http.ResponseWriter, r *http.Request) {
	e, ok := c.entryFor(w, r)
	if !ok {
		return
	}
	c.pages.RenderIn(w, r, http.StatusOK, "service-withdraw", "services",
		withdrawPage{Name: e.Service.Name, Action: r.URL.Path, Back: pathServices + "/" + url.PathEscape(e.ID)})
}

func (c *Console) withdrawService(w http.ResponseWriter, r *http.Request) {
	e, ok := c.entryFor(w, r)
	if !ok {
		return
	}
	m := signedIn(r)
	if err := c.hub.WithdrawService(r.Context(), e.ID, m.ID, c.hub.ClientAddr(r).String()); err != nil {
		c.fail(w, r, "withdraw service", err)
		return
	}
	http.Redirect(w, r, pathServices+"?done=withdrawn", http.StatusSeeOther)
}
