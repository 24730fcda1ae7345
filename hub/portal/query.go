package portal

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bikfed/bikfed/protocol"
)

// Limits of a gallery query, so no request can ask for unbounded work.
const (
	maxQueryText   = 200 // bytes of search text kept
	maxQueryTerms  = 12  // search words used
	maxFacetValues = 10  // values per facet
	defaultPerPage = 20
	maxPerPage     = 100
	maxPage        = 500
)

// The sort orders of the gallery.
const (
	sortNewest    = "newest"
	sortOldest    = "oldest"
	sortTitle     = "title"
	sortRelevance = "relevance"
)

// Query is a validated gallery query.
type Query struct {
	Text    string
	vals    [numFacets][]string
	AgeLo   int // -1: no age filter
	AgeHi   int
	Sort    string
	Page    int
	PerPage int
	// site is the minisite whose view this is ("" for the portal); its
	// filter is not the visitor's to remove.
	site string
	// kind is the resource type of a view that shows one type (the video
	// gallery), "" for all; like site, it is implied by the path.
	kind string
	// prefer is the visitor's language, whose resources the default order
	// puts first; "" for machines (the API and feeds), which get one order.
	prefer string
}

// defaultSort is the order a query has when none is asked for: relevance
// for a search, newest first otherwise.
func (q *Query) defaultSort() string {
	if q.Text != "" {
		return sortRelevance
	}
	return sortNewest
}

func (q *Query) values(f facet) []string { return q.vals[f] }

// queryError is a query parameter the JSON API refuses.
type queryError struct{ param, msg string }

func (e *queryError) Error() string { return e.param + ": " + e.msg }

// parseQuery reads a gallery query from URL parameters. strict (the JSON
// API) refuses invalid values; otherwise (the HTML pages) they are dropped,
// so a stale link still shows a gallery.
func parseQuery(v url.Values, site string, strict bool) (*Query, error) {
	q := &Query{AgeLo: -1, AgeHi: -1, Page: 1, PerPage: defaultPerPage, site: site}
	bad := func(param, format string, args ...any) error {
		if strict {
			return &queryError{param, fmt.Sprintf(format, args...)}
		}
		return nil
	}
	text := strings.TrimSpace(strings.ToValidUTF8(v.Get("q"), " "))
	if len(text) > maxQueryText {
		text = strings.TrimSpace(truncateUTF8(text, maxQueryText))
	}
	q.Text = text
	for f, param := range facetParams {
		for _, raw := range v[param] {
			val, ok := canonicalValue(facet(f), raw)
			if !ok {
				if err := bad(param, "%q is not a known value", raw); err != nil {
					return nil, err
				}
				continue
			}
			if !slices.Contains(q.vals[f], val) {
				if len(q.vals[f]) == maxFacetValues {
					if err := bad(param, "at most %d values", maxFacetValues); err != nil {
						return nil, err
					}
					continue
				}
				q.vals[f] = append(q.vals[f], val)
			}
		}
		slices.Sort(q.vals[f])
	}
	if site != "" {
		q.vals[facetMinisite] = []string{site}
	}
	if a := v.Get("age"); a != "" {
		lo, hi, ok := parseAge(a)
		if !ok {
			if err := bad("age", "must be an age or a range such as 6-9"); err != nil {
				return nil, err
			}
		} else {
			q.AgeLo, q.AgeHi = lo, hi
		}
	}
	switch s := v.Get("sort"); s {
	case "", sortNewest, sortOldest, sortTitle, sortRelevance:
		q.Sort = s
	default:
		if err := bad("sort", "must be newest, oldest, title or relevance"); err != nil {
			return nil, err
		}
	}
	if q.Sort == "" {
		q.Sort = sortNewest
		if q.Text != "" {
			q.Sort = sortRelevance
		}
	}
	if q.Sort == sortRelevance && q.Text == "" {
		q.Sort = sortNewest
	}
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			if err := bad("page", "must be between 1 and %d", maxPage); err != nil {
				return nil, err
			}
		} else {
			q.Page = n
		}
	}
	if s := v.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPerPage {
			if err := bad("per_page", "must be between 1 and %d", maxPerPage); err != nil {
				return nil, err
			}
		} else {
			q.PerPage = n
		}
	}
	return q, nil
}

// canonicalValue checks a facet value against its vocabulary.
func canonicalValue(f facet, raw string) (string, bool) {
	switch f {
	case facetLang:
		tag, err := protocol.ParseLanguageTag(raw)
		return tag, err == nil
	case facetTopic:
		return raw, slices.Contains(protocol.Topics, raw)
	case facetType:
		return raw, slices.Contains(protocol.ResourceTypes, raw)
	case facetAudience:
		return raw, slices.Contains(protocol.Audiences, raw)
	case facetCountry:
		return raw, protocol.ValidNodeID(raw) == nil
	case facetMinisite:
		return raw, ValidMinisite(raw)
	}
	return "", false
}

// parseAge reads "8" or "6-9".
func parseAge(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 || lo > maxAge {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > maxAge {
			return 0, 0, false
		}
	}
	return lo, hi, true
}

func ageValue(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// encode writes the query back as URL parameters in a fixed order, for
// links and cache keys. The minisite of the view is implied by the path.
func (q *Query) encode() url.Values {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	for f, param := range facetParams {
		if q.implied(facet(f)) {
			continue
		}
		for _, val := range q.vals[f] {
			v.Add(param, val)
		}
	}
	if q.AgeLo >= 0 {
		v.Set("age", ageValue(q.AgeLo, q.AgeHi))
	}
	if q.Sort != q.defaultSort() {
		v.Set("sort", q.Sort)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage != defaultPerPage {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	return v
}

// link is path with q's parameters: the same as link(path, q.encode()),
// written without building the url.Values, for the many links of a gallery.
func (q *Query) link(path string) string {
	return string(q.appendLink(make([]byte, 0, len(path)+96), path))
}

// appendLink appends q.link(path) to b.
func (q *Query) appendLink(b []byte, path string) []byte {
	b = append(b, path...)
	n := len(b)
	b = q.appendParams(append(b, '?'))
	if len(b) == n+1 {
		b = b[:n]
	}
	return b
}

// appendParams appends q.encode().Encode(): the parameters by name, each
// name's values in order.
func (q *Query) appendParams(b []byte) []byte {
	start := len(b)
	add := func(name, value string) {
		if len(b) > start {
			b = append(b, '&')
		}
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(value)...)
	}
	facetParam := func(f facet) {
		if q.implied(f) {
			return
		}
		for _, val := range q.vals[f] {
			add(facetParams[f], val)
		}
	}
	if q.AgeLo >= 0 {
		add("age", ageValue(q.AgeLo, q.AgeHi))
	}
	facetParam(facetAudience)
	facetParam(facetCountry)
	facetParam(facetLang)
	facetParam(facetMinisite)
	if q.Page > 1 {
		add("page", strconv.Itoa(q.Page))
	}
	if q.PerPage != defaultPerPage {
		add("per_page", strconv.Itoa(q.PerPage))
	}
	if q.Text != "" {
		add("q", q.Text)
	}
	if q.Sort != q.defaultSort() {
		add("sort", q.Sort)
	}
	facetParam(facetTopic)
	facetParam(facetType)
	return b
}

// toggle returns a copy of q with facet f's value toggled and the page
// reset. The copy's values of f are written in buf (q's are sorted, and so
// are they), so the gallery's many toggled links make no garbage; the copy
// is good until buf is used again.
func (q *Query) toggle(f facet, val string, buf []string) Query {
	c := *q
	c.Page = 1
	i, found := slices.BinarySearch(q.vals[f], val)
	vals := append(buf[:0], q.vals[f][:i]...)
	if found {
		i++
	} else {
		vals = append(vals, val)
	}
	c.vals[f] = append(vals, q.vals[f][i:]...)
	return c
}

func (q *Query) toggleAge(lo, hi int) *Query {
	c := *q
	c.Page = 1
	if q.AgeLo == lo && q.AgeHi == hi {
		c.AgeLo, c.AgeHi = -1, -1
	} else {
		c.AgeLo, c.AgeHi = lo, hi
	}
	return &c
}

func (q *Query) withPage(n int) *Query {
	c := *q
	c.Page = n
	return &c
}

// ofKind makes q a view of one resource type, whose filter its path
// implies: the visitor's type filters are dropped.
func (q *Query) ofKind(kind string) {
	q.kind = kind
	q.vals[facetType] = []string{kind}
}

// implied reports whether f's values come from the view's path rather than
// the visitor: the minisite of a minisite's view, the type of a type's.
func (q *Query) implied(f facet) bool {
	return f == facetMinisite && q.site != "" || f == facetType && q.kind != ""
}

// filtered reports whether the visitor chose any filter.
func (q *Query) filtered() bool {
	if q.Text != "" || q.AgeLo >= 0 {
		return true
	}
	for f, vals := range q.vals {
		if q.implied(facet(f)) {
			continue
		}
		if len(vals) > 0 {
			return true
		}
	}
	return false
}

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// searchTerms extracts the words of visitor text: runs of letters, digits
// and combining marks. Everything else (quotes, operators, parentheses,
// column filters, NEAR, ^, *) separates words, so no input is FTS5 syntax.
func searchTerms(text string) []string {
	var terms []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 && len(terms) < maxQueryTerms {
			terms = append(terms, cur.String())
		}
		cur.Reset()
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if cur.Len() < 64 {
				cur.WriteRune(r)
			}
			continue
		}
		flush()
	}
	flush()
	return terms
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
