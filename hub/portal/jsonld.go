package portal

import (
	"net/url"
	"slices"
	"strings"
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
		"typicalAgeRange":      ages(r.AgeMin, r.AgeMax),
		"publisher":            publisher,
		"keywords":             strings.Join(r.Topics, ", "),
		"dateModified":         r.Updated.Format("2006-01-02T15:04:05Z07:00"),
		"availableLanguage":    r.Languages,
		"isAccessibleForFree":  true,
		"educationalUse":       r.Audiences,
		"mainEntityOfPage":     idFor(chosen),
		"sameAs":               nonEmpty(r.URL),
		"license":              nonEmpty(r.Licence),
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
