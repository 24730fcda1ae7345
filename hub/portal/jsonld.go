package portal

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// jsonLD is the schema.org LearningResource of a resource page, in the
// language shown, linked to its original or its translations.
func (p *Portal) jsonLD(q *req, r *resourceRow, best map[string]translationRow, chosen string, profiles *profileSet) map[string]any {
	self := q.base + q.prefix + "/resources/" + r.ID
	idFor := func(lang string) string {
		if lang == r.Language {
			return self
		}
		return self + "?lang=" + url.QueryEscape(lang)
	}
	publisher := map[string]any{"@type": "Organization", "name": profiles.publisher(q.p, r.Owner)}
	if pv := profiles.byOwner[r.Owner]; pv != nil && pv.Website != "" {
		publisher["url"] = pv.Website
	}
	audience := []any{map[string]any{
		"@type":           "PeopleAudience",
		"suggestedMinAge": r.AgeMin,
		"suggestedMaxAge": r.AgeMax,
		"suggestedAge":    map[string]any{"@type": "QuantitativeValue", "minValue": r.AgeMin, "maxValue": r.AgeMax, "unitCode": "ANN"},
	}}
	for _, a := range r.Audiences {
		audience = append(audience, map[string]any{"@type": "EducationalAudience", "educationalRole": a})
	}
	ld := map[string]any{
		"@context":             "https://schema.org",
		"@type":                "LearningResource",
		"@id":                  idFor(chosen),
		"url":                  idFor(chosen),
		"name":                 r.Title,
		"description":          r.Description,
		"inLanguage":           chosen,
		"learningResourceType": r.Type,
		"audience":             audience,
		"typicalAgeRange":      strconv.Itoa(r.AgeMin) + "-" + strconv.Itoa(r.AgeMax),
		"publisher":            publisher,
		"keywords":             strings.Join(r.Topics, ", "),
		"dateModified":         r.Updated.Format(time.RFC3339),
		"isAccessibleForFree":  true,
		"mainEntityOfPage":     idFor(chosen),
		"sameAs":               nonEmpty(r.URL),
		"license":              nonEmpty(licenceURL(r.Licence)),
	}
	if t, ok := createdAt(r.ID); ok {
		ld["datePublished"] = t.Format(time.RFC3339)
	}
	if levels := educationalLevels(r.AgeMin, r.AgeMax); levels != nil {
		ld["educationalLevel"] = levels
	}
	if t, ok := best[chosen]; ok && chosen != r.Language {
		ld["name"] = t.Title
		if t.Description != "" {
			ld["description"] = t.Description
		}
		ld["translationOfWork"] = map[string]any{"@type": "LearningResource", "@id": self, "inLanguage": r.Language, "name": r.Title}
		ld["translator"] = map[string]any{"@type": "Organization", "name": profiles.publisher(q.p, t.Owner)}
	} else {
		var langs []string
		for l := range best {
			if l != r.Language {
				langs = append(langs, l)
			}
		}
		slices.Sort(langs)
		var works []any
		for _, l := range langs {
			works = append(works, map[string]any{"@type": "LearningResource", "@id": idFor(l), "inLanguage": l, "name": best[l].Title})
		}
		if works != nil {
			ld["workTranslation"] = works
		}
	}
	for k, v := range ld {
		if v == nil {
			delete(ld, k)
		}
	}
	return ld
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// licenceURL is the address of a licence the network's resources name, as
// schema.org's license wants it: a Creative Commons licence written as
// "CC BY-NC-SA 4.0", CC0, or an address already. Anything else ("All
// rights reserved") has no address, and is "".
func licenceURL(licence string) string {
	s := strings.TrimSpace(licence)
	if u, err := url.Parse(s); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return s
	}
	f := strings.Fields(strings.ToUpper(s))
	switch {
	case len(f) == 1 && f[0] == "CC0", len(f) == 2 && f[0] == "CC0" && f[1] == "1.0":
		return "https://creativecommons.org/publicdomain/zero/1.0/"
	case len(f) == 3 && f[0] == "CC" && ccVersions[f[2]]:
		if ccKinds[f[1]] {
			return "https://creativecommons.org/licenses/" + strings.ToLower(f[1]) + "/" + f[2] + "/"
		}
	}
	return ""
}

var (
	ccKinds    = map[string]bool{"BY": true, "BY-SA": true, "BY-NC": true, "BY-ND": true, "BY-NC-SA": true, "BY-NC-ND": true}
	ccVersions = map[string]bool{"2.0": true, "2.5": true, "3.0": true, "4.0": true}
)

// iscedLevel is a level of UNESCO's International Standard Classification
// of Education (ISCED 2011) with the ages it usually spans in Europe.
type iscedLevel struct {
	lo, hi     int
	code, name string
}

var iscedLevels = []iscedLevel{
	{0, 5, "0", "Early childhood education"},
	{6, 11, "1", "Primary education"},
	{12, 14, "2", "Lower secondary education"},
	{15, 18, "3", "Upper secondary education"},
}

// iscedSet names the classification the levels are terms of.
const iscedSet = "https://uis.unesco.org/en/topic/international-standard-classification-education-isced"

// educationalLevels are the school levels whose ages meet a resource's age
// range, nil when none does (a resource for adults only).
func educationalLevels(lo, hi int) []any {
	var out []any
	for _, l := range iscedLevels {
		if lo <= l.hi && hi >= l.lo {
			out = append(out, map[string]any{"@type": "DefinedTerm", "name": l.name, "termCode": "ISCED " + l.code, "inDefinedTermSet": iscedSet})
		}
	}
	return out
}

// createdAt is when an entity's owner created it: the time in its id's
// ULID, whose first ten digits are milliseconds since the Unix epoch.
func createdAt(id string) (time.Time, bool) {
	_, u, ok := strings.Cut(id, ":")
	if !ok || len(u) != 26 {
		return time.Time{}, false
	}
	var ms int64
	for i := range 10 {
		d := strings.IndexByte(crockford, u[i])
		if d < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | int64(d)
	}
	return time.UnixMilli(ms).UTC(), true
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
