package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

// serviceRow is an entry of the guide as the portal indexed it.
type serviceRow struct {
	ID     string
	HubSeq int64
	protocol.Service
}

// addrs are the entries' addresses under /services/, in list's order:
// an entry's slug, or its id for an entry published before the guide had
// slugs or one whose slug an earlier entry has (the protocol cannot see
// the other records, so two can share a slug; the first keeps it).
func addrs(list []*serviceRow) map[*serviceRow]string {
	byHubSeq := slices.Clone(list)
	slices.SortFunc(byHubSeq, func(a, b *serviceRow) int { return cmp.Compare(a.HubSeq, b.HubSeq) })
	out := make(map[*serviceRow]string, len(list))
	taken := map[string]bool{}
	for _, s := range byHubSeq {
		if s.Slug != "" && !taken[s.Slug] {
			taken[s.Slug] = true
			out[s] = s.Slug
		} else {
			out[s] = s.ID
		}
	}
	return out
}

// services reads the whole guide, in index order. It is a few dozen
// entries, and every page that reads it is cached, so it is read whole
// and filtered in memory rather than given columns of its own.
func (p *Portal) services(ctx context.Context) ([]*serviceRow, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT id, hub_seq, body FROM services ORDER BY hub_seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*serviceRow
	for rows.Next() {
		s := new(serviceRow)
		var body string
		if err := rows.Scan(&s.ID, &s.HubSeq, &body); err != nil {
			return nil, err
		}
		if json.Unmarshal([]byte(body), &s.Service) != nil {
			continue
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// findService is the entry at addr, and its address.
func findService(list []*serviceRow, addr string) (*serviceRow, string) {
	for s, a := range addrs(list) {
		if a == addr || s.ID == addr {
			return s, a
		}
	}
	return nil, ""
}

// ageUnknown is what an entry's age says when the guide does not know it:
// an entry of before the guide's current form with minimum_age 0.
const ageUnknown = -1

// minAge is the youngest age the entry's terms allow: 0 when they set no
// minimum, ageUnknown when the entry does not say.
func (s *serviceRow) minAge() int {
	switch {
	case s.NoMinimumAge:
		return 0
	case s.MinimumAge > 0:
		return s.MinimumAge
	}
	return ageUnknown
}

// suitableFor reports whether the guide can say the service is for a
// child of age: its terms allow that age and its PEGI and App Store
// ratings do too. An entry whose age the guide does not know is never
// suitable.
func (s *serviceRow) suitableFor(age int) bool {
	min := s.minAge()
	if min == ageUnknown || min > age || s.PEGI > age {
		return false
	}
	if n, err := strconv.Atoi(strings.TrimSuffix(s.AppStoreAge, "+")); err == nil && n > age {
		return false
	}
	return true
}

// ageText says the entry's minimum age in words: never "0".
func ageText(pr *locale.Printer, s *serviceRow) string {
	switch min := s.minAge(); min {
	case ageUnknown:
		return pr.T("portal.services.age.unknown")
	case 0:
		return pr.T("portal.services.age.none")
	default:
		return pr.T("portal.services.age.min", "age", min)
	}
}

// version is the entry's language version for the interface's language,
// nil when it has none and its own texts are shown.
func (s *serviceRow) version(ui string) *protocol.ServiceVersion {
	if len(s.Versions) == 0 || ui == s.Language {
		return nil
	}
	langs := make([]string, 0, len(s.Versions)+1)
	langs = append(langs, s.Language)
	for _, v := range s.Versions {
		langs = append(langs, v.Language)
	}
	l, ok := negotiate([]language.Tag{language.Make(ui)}, langs)
	if !ok || l == s.Language {
		return nil
	}
	for i := range s.Versions {
		if s.Versions[i].Language == l {
			return &s.Versions[i]
		}
	}
	return nil
}

// serviceText is one of the entry's texts and the language it is in.
type serviceText struct {
	Lang  string
	Items []string
}

// serviceStep is how to report or block, with the service's own page.
type serviceStep struct {
	Lang, Text, Href, HrefLang string
}

// localized is the entry's texts in the interface's language where its
// version has them, in its own language otherwise.
type localized struct {
	Description, Safety, Privacy, Parental serviceText
	Report, Block                          serviceStep
}

func localize(s *serviceRow, ui string) localized {
	v := s.version(ui)
	text := func(own, theirs string) serviceText {
		if v != nil && theirs != "" {
			return serviceText{v.Language, paragraphs(theirs)}
		}
		return serviceText{s.Language, paragraphs(own)}
	}
	list := func(own, theirs []string) serviceText {
		if v != nil && len(theirs) > 0 {
			return serviceText{v.Language, theirs}
		}
		return serviceText{s.Language, own}
	}
	step := func(ownText, ownHref, theirText, theirHref string) serviceStep {
		st := serviceStep{Lang: s.Language, Text: ownText, Href: ownHref}
		if v != nil && theirText != "" {
			st.Lang, st.Text = v.Language, theirText
		}
		if v != nil && theirHref != "" {
			st.Href, st.HrefLang = theirHref, v.Language
		}
		return st
	}
	var l localized
	if v == nil {
		v = &protocol.ServiceVersion{}
	}
	l.Description = text(s.Description, v.Description)
	l.Safety = list(s.SafetyFeatures, v.SafetyFeatures)
	l.Privacy = list(s.PrivacyFeatures, v.PrivacyFeatures)
	l.Parental = list(s.ParentalControls, v.ParentalControls)
	l.Report = step(s.HowToReport, s.ReportURL, v.HowToReport, v.ReportURL)
	l.Block = step(s.HowToBlock, s.BlockURL, v.HowToBlock, v.BlockURL)
	return l
}

// serviceQuery is a search of the guide: words, categories (any of them),
// an age the service suits, features (all of them).
type serviceQuery struct {
	Text       string
	Categories []string
	Age        int // -1: any
	Features   []string
}

// serviceAges are the ages the guide offers as links; the form offers
// every age from 3 to 17.
var serviceAges = []int{6, 9, 12, 13, 16}

const (
	minServiceAge = 3
	maxServiceAge = 17
)

func parseServiceQuery(v url.Values) serviceQuery {
	q := serviceQuery{Age: -1}
	q.Text = strings.TrimSpace(strings.ToValidUTF8(v.Get("q"), " "))
	if len(q.Text) > maxQueryText {
		q.Text = strings.TrimSpace(truncateUTF8(q.Text, maxQueryText))
	}
	for _, c := range v["category"] {
		if slices.Contains(protocol.ServiceCategories, c) && !slices.Contains(q.Categories, c) {
			q.Categories = append(q.Categories, c)
		}
	}
	slices.Sort(q.Categories)
	if n, err := atoiStrict(v.Get("age")); err == nil && n >= minServiceAge && n <= maxServiceAge {
		q.Age = n
	}
	for _, f := range v["feature"] {
		if slices.Contains(protocol.ServiceFeatures, f) && !slices.Contains(q.Features, f) {
			q.Features = append(q.Features, f)
		}
	}
	slices.Sort(q.Features)
	return q
}

// encode is the query as parameters, in one order, for links and keys.
func (q serviceQuery) encode() string {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	v["category"] = q.Categories
	if q.Age >= 0 {
		v.Set("age", strconv.Itoa(q.Age))
	}
	v["feature"] = q.Features
	return v.Encode()
}

func (q serviceQuery) link(path string) string {
	if e := q.encode(); e != "" {
		return path + "?" + e
	}
	return path
}

func (q serviceQuery) filtered() bool {
	return q.Text != "" || len(q.Categories) > 0 || q.Age >= 0 || len(q.Features) > 0
}

func toggled(list []string, v string) []string {
	if i := slices.Index(list, v); i >= 0 {
		return slices.Delete(slices.Clone(list), i, i+1)
	}
	out := append(slices.Clone(list), v)
	slices.Sort(out)
	return out
}

// matches reports whether s answers q, leaving out the filter skip names
// ("category", "age", "feature"), so a group's counts apply every other
// filter, as the gallery's do.
func (q serviceQuery) matches(s *serviceRow, ui, skip string) bool {
	if skip != "category" && len(q.Categories) > 0 && !slices.Contains(q.Categories, s.Category) {
		return false
	}
	if skip != "age" && q.Age >= 0 && !s.suitableFor(q.Age) {
		return false
	}
	if skip != "feature" {
		for _, f := range q.Features {
			if !slices.Contains(s.Features, f) {
				return false
			}
		}
	}
	return q.Text == "" || matchesText(s, ui, q.Text)
}

// matchesText reports whether every word of text is in the entry's name
// or its texts, its own or its version's for the interface's language.
func matchesText(s *serviceRow, ui, text string) bool {
	var b strings.Builder
	add := func(ss ...string) {
		for _, x := range ss {
			b.WriteString(strings.ToLower(x))
			b.WriteByte('\n')
		}
	}
	add(s.Name, s.Description, s.HowToReport, s.HowToBlock)
	add(s.SafetyFeatures...)
	add(s.PrivacyFeatures...)
	add(s.ParentalControls...)
	if v := s.version(ui); v != nil {
		add(v.Description, v.HowToReport, v.HowToBlock)
		add(v.SafetyFeatures...)
		add(v.PrivacyFeatures...)
		add(v.ParentalControls...)
	}
	hay := b.String()
	for _, w := range strings.Fields(strings.ToLower(text)) {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// serviceCard is an entry in the guide's list.
type serviceCard struct {
	Href, Name, Category, Age, Summary, Lang string
}

type servicesData struct {
	Text       string
	Categories []option
	Ages       []option
	// Hidden are the chosen values the form has no control for.
	Hidden []hiddenField
	Facets []facetView
	Clear  string
	Total  int
	Cards  []serviceCard
	// Empty says the guide itself is empty, not only the search.
	Empty bool
}

func (p *Portal) handleServices(w http.ResponseWriter, r *http.Request, q *req) {
	sq := parseServiceQuery(r.URL.Query())
	p.respond(w, r, q.key("services")+"|"+sq.encode(), func() (*response, error) {
		all, err := p.services(r.Context())
		if err != nil {
			return nil, err
		}
		col := collatorFor(q.p)
		slices.SortStableFunc(all, func(a, b *serviceRow) int { return col.CompareString(a.Name, b.Name) })
		path := q.lp + "/services"
		addr := addrs(all)
		d := servicesData{Text: sq.Text, Empty: len(all) == 0}
		for _, s := range all {
			if !sq.matches(s, q.lang, "") {
				continue
			}
			l := localize(s, q.lang)
			d.Cards = append(d.Cards, serviceCard{Href: path + "/" + addr[s], Name: s.Name,
				Category: serviceCategoryLabel(q.p, s.Category), Age: ageText(q.p, s),
				Summary: summary(strings.Join(l.Description.Items, " "), 200), Lang: l.Description.Lang})
		}
		d.Total = len(d.Cards)
		if sq.filtered() {
			d.Clear = path
		}
		d.Categories = append(d.Categories, option{"", q.p.T("portal.services.filter.any_category"), len(sq.Categories) == 0})
		for _, c := range protocol.ServiceCategories {
			d.Categories = append(d.Categories, option{c, vocabLabel(q.p, "service_category", c), len(sq.Categories) == 1 && sq.Categories[0] == c})
		}
		d.Ages = append(d.Ages, option{"", q.p.T("portal.services.filter.any_age"), sq.Age < 0})
		for a := minServiceAge; a <= maxServiceAge; a++ {
			d.Ages = append(d.Ages, option{strconv.Itoa(a), q.p.N("portal.services.filter.child_of", a), sq.Age == a})
		}
		// The form's one-choice list cannot say several categories: chosen
		// with links, they travel as they are.
		if len(sq.Categories) > 1 {
			for _, c := range sq.Categories {
				d.Hidden = append(d.Hidden, hiddenField{"category", c})
			}
			d.Categories = nil
		}
		for _, f := range sq.Features {
			d.Hidden = append(d.Hidden, hiddenField{"feature", f})
		}
		d.Facets = serviceFacets(q.p, path, sq, all, q.lang)
		title := q.p.T("portal.services.title")
		if sq.Text != "" {
			title = q.p.T("portal.services.title_search", "text", sq.Text)
		}
		v := p.newView(q, title, "services")
		v.Canonical = q.canonical(sq.link("/services"))
		v.Data = d
		return p.html("services", v, http.StatusOK)
	})
}

// serviceFacets are the guide's filters as links, each value with the
// number of entries it would show; a group with no value to offer is left
// out.
func serviceFacets(pr *locale.Printer, path string, sq serviceQuery, all []*serviceRow, ui string) []facetView {
	count := func(skip string, keep func(*serviceRow) bool) int {
		n := 0
		for _, s := range all {
			if keep(s) && sq.matches(s, ui, skip) {
				n++
			}
		}
		return n
	}
	var out []facetView
	cat := facetView{Param: "category", Title: pr.T("portal.services.category")}
	for _, c := range protocol.ServiceCategories {
		n := count("category", func(s *serviceRow) bool { return s.Category == c })
		on := slices.Contains(sq.Categories, c)
		if n == 0 && !on {
			continue
		}
		t := sq
		t.Categories = toggled(sq.Categories, c)
		cat.Values = append(cat.Values, facetValueView{Href: t.link(path), Label: vocabLabel(pr, "service_category", c), Count: n, Selected: on})
	}
	age := facetView{Param: "age", Title: pr.T("portal.services.filter.age")}
	for _, a := range serviceAges {
		n := count("age", func(s *serviceRow) bool { return s.suitableFor(a) })
		on := sq.Age == a
		if n == 0 && !on {
			continue
		}
		t := sq
		t.Age = a
		if on {
			t.Age = -1
		}
		age.Values = append(age.Values, facetValueView{Href: t.link(path), Label: pr.N("portal.services.filter.child_of", a), Count: n, Selected: on})
	}
	feat := facetView{Param: "feature", Title: pr.T("portal.services.filter.features")}
	for _, f := range protocol.ServiceFeatures {
		on := slices.Contains(sq.Features, f)
		t := sq
		t.Features = toggled(sq.Features, f)
		// Features narrow: a value counts what choosing it would show.
		n := 0
		for _, s := range all {
			if t.matches(s, ui, "") {
				n++
			}
		}
		if on {
			n = count("", func(*serviceRow) bool { return true })
		}
		if n == 0 && !on {
			continue
		}
		feat.Values = append(feat.Values, facetValueView{Href: t.link(path), Label: vocabLabel(pr, "service_feature", f), Count: n, Selected: on})
	}
	for _, f := range []facetView{cat, age, feat} {
		if len(f.Values) > 0 {
			out = append(out, f)
		}
	}
	return out
}

func serviceCategoryLabel(pr *locale.Printer, c string) string {
	if slices.Contains(protocol.ServiceCategories, c) {
		return vocabLabel(pr, "service_category", c)
	}
	// An entry of before the vocabulary keeps the words it was given.
	return c
}

// relatedResources is how many resources a service's page shows.
const relatedResources = 3

type servicePage struct {
	Name, Lang, URL, Category, Age string
	PEGI                           int
	AppStoreAge                    string
	Text                           localized
	HelpHref                       string
	Topics                         []anchor
	Cards                          []template.HTML
	More                           string
	AllHref                        string
}

func (p *Portal) handleService(w http.ResponseWriter, r *http.Request, q *req, addr string) {
	p.respond(w, r, q.key("service")+"|"+addr, func() (*response, error) {
		ctx := r.Context()
		all, err := p.services(ctx)
		if err != nil {
			return nil, err
		}
		s, at := findService(all, addr)
		if s == nil {
			v := p.errorView(q, "services")
			v.Data = q.p.T("portal.error.service")
			return p.html("error", v, http.StatusNotFound)
		}
		d := servicePage{Name: s.Name, Lang: s.Language, URL: s.URL, Category: serviceCategoryLabel(q.p, s.Category),
			Age: ageText(q.p, s), PEGI: s.PEGI, AppStoreAge: s.AppStoreAge, Text: localize(s, q.lang),
			HelpHref: q.lp + "/help", AllHref: q.lp + "/services"}
		if len(s.Topics) > 0 {
			for _, t := range s.Topics {
				d.Topics = append(d.Topics, anchor{q.lp + "/resources?topic=" + url.QueryEscape(t), vocabLabel(q.p, "topic", t)})
			}
			query, _ := parseQuery(url.Values{"topic": s.Topics, "per_page": {strconv.Itoa(relatedResources)}}, "", false)
			query.prefer = q.lang
			res, err := p.search(ctx, query)
			if err != nil {
				return nil, err
			}
			cards, err := p.cards(ctx, q, res.Items)
			if err != nil {
				return nil, err
			}
			if d.Cards, err = p.renderCards("services", cards, nil); err != nil {
				return nil, err
			}
			if res.Total > 0 {
				more, _ := parseQuery(url.Values{"topic": s.Topics}, "", false)
				d.More = more.link(q.lp + "/resources")
			}
		}
		v := p.newView(q, s.Name, "services")
		v.Description = summary(strings.Join(d.Text.Description.Items, " "), 200)
		v.Canonical = q.canonical("/services/" + at)
		v.Data = d
		return p.html("service", v, http.StatusOK)
	})
}
