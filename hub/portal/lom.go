package portal

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
)

// IEEE LOM (1484.12.1, XML binding 1484.12.3) in the Learning Resource
// Exchange application profile of European Schoolnet, the format the
// Insafe network's partners harvest learning resources in. The record is
// built from the same public row as oai_dc; vocabulary terms the LRE
// defines (roles, resource types) carry the source "LREv3.0", the rest
// "LOMv1.0". The schema is the loose binding: strict admits LOMv1.0
// vocabularies only, and the LRE's are an application profile's own.

const (
	lomPrefix    = "lom"
	lomNamespace = "http://ltsc.ieee.org/xsd/LOM"
	lomSchema    = "http://ltsc.ieee.org/xsd/lomv1.0/lomLoose.xsd"
	lomSource    = "LOMv1.0"
	lreSource    = "LREv3.0"
	// lomTopicSource names the taxonomy of classification/taxonPath: the
	// network's controlled topic vocabulary.
	lomTopicSource = "Better Internet for Kids topics"
)

// lreRoles maps audiences to the LRE's intendedEndUserRole vocabulary.
// Children and teenagers are both learners; the audiences the LRE has no
// role for (researchers, industry, policy makers) are "other".
var lreRoles = map[string]string{
	"children":      "learner",
	"teens":         "learner",
	"parents":       "parent",
	"teachers":      "teacher",
	"youth-workers": "counsellor",
	"researchers":   "other",
	"industry":      "other",
	"policy-makers": "other",
}

// lreTypes maps resource types to the LRE's learningResourceType
// vocabulary: the nearest term, "other" where it has none.
var lreTypes = map[string]string{
	"guide":       "guide",
	"handbook":    "guide",
	"tip-sheet":   "guide",
	"lesson-plan": "lesson plan",
	"game":        "educational game",
	"quiz":        "assessment",
	"video":       "video",
	"app":         "application",
	"poster":      "image",
	"infographic": "image",
	"report":      "text",
	"campaign":    "other",
	"podcast":     "audio",
	"website":     "other",
}

// lomAgeRange is educational/typicalAgeRange: "12-18", or "12" for one age.
func lomAgeRange(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// vcardText escapes a vCard 3.0 property value.
func vcardText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// lomString is one langstring: its language, or x-none when it has none.
type lomString struct{ lang, text string }

// writeLOM writes the LOM record of a public resource.
func (p *Portal) writeLOM(ctx context.Context, ow *oaiWriter, r *resourceRow, oaiID string) {
	var titles, descs []lomString
	titles = append(titles, lomString{r.Language, r.Title})
	if r.Description != "" {
		descs = append(descs, lomString{r.Language, r.Description})
	}
	if ts, err := p.translations(ctx, r); err == nil {
		best := bestTranslations(ts)
		for _, l := range translatedLangs(best, r.Language) {
			t := best[l]
			titles = append(titles, lomString{l, t.Title})
			if t.Description != "" {
				descs = append(descs, lomString{l, t.Description})
			}
		}
	}
	langstring := func(name string, ss ...lomString) {
		ow.open(name)
		for _, s := range ss {
			if s.text == "" {
				continue
			}
			ow.raw("<string")
			ow.attr("language", cmp.Or(s.lang, "x-none"))
			ow.raw(">")
			ow.text(s.text)
			ow.raw("</string>")
		}
		ow.close(name)
	}
	vocab := func(name, source, value string) {
		ow.open(name)
		ow.elem("source", source)
		ow.elem("value", value)
		ow.close(name)
	}
	self := ow.base + "/resources/" + r.ID

	ow.raw(`<lom xmlns="` + lomNamespace + `" xsi:schemaLocation="` + lomNamespace + " " + lomSchema + `">`)

	ow.open("general")
	ow.open("identifier")
	ow.elem("catalog", "URI")
	ow.elem("entry", self)
	ow.close("identifier")
	langstring("title", titles...)
	for _, l := range unionLangs(r.Language, r.Languages) {
		ow.elem("language", l)
	}
	if len(descs) > 0 {
		langstring("description", descs...)
	}
	for _, t := range r.Topics {
		langstring("keyword", lomString{"en", humanize(t)})
	}
	ow.close("general")

	ow.open("lifeCycle")
	ow.open("contribute")
	vocab("role", lomSource, "publisher")
	publisher := p.profiles(ctx).publisher(p.langs.en, r.Owner)
	ow.elem("entity", "BEGIN:VCARD\nVERSION:3.0\nFN:"+vcardText(publisher)+"\nORG:"+vcardText(publisher)+"\nEND:VCARD")
	ow.open("date")
	ow.elem("dateTime", r.Updated.UTC().Format(oaiDate))
	ow.close("date")
	ow.close("contribute")
	ow.close("lifeCycle")

	ow.open("metaMetadata")
	ow.open("identifier")
	ow.elem("catalog", "oai")
	ow.elem("entry", oaiID)
	ow.close("identifier")
	ow.elem("metadataSchema", lomSource)
	ow.elem("metadataSchema", lreSource)
	ow.close("metaMetadata")

	if r.URL != "" {
		ow.open("technical")
		ow.elem("location", r.URL)
		ow.close("technical")
	}

	ow.open("educational")
	if t, ok := lreTypes[r.Type]; ok {
		vocab("learningResourceType", lreSource, t)
	}
	var roles []string
	for _, a := range r.Audiences {
		if role, ok := lreRoles[a]; ok && !slices.Contains(roles, role) {
			roles = append(roles, role)
			vocab("intendedEndUserRole", lreSource, role)
		}
	}
	langstring("typicalAgeRange", lomString{"x-none", lomAgeRange(r.AgeMin, r.AgeMax)})
	for _, l := range unionLangs(r.Language, r.Languages) {
		ow.elem("language", l)
	}
	ow.close("educational")

	ow.open("rights")
	vocab("cost", lomSource, "no")
	if r.Licence == "" {
		vocab("copyrightAndOtherRestrictions", lomSource, "no")
	} else {
		vocab("copyrightAndOtherRestrictions", lomSource, "yes")
		if u := licenceURL(r.Licence); u != "" {
			// The LRE's convention for a Creative Commons licence: its URI
			// as a langstring in the private language x-t-cc-url.
			langstring("description", lomString{"x-t-cc-url", u})
		} else {
			langstring("description", lomString{"x-none", r.Licence})
		}
	}
	ow.close("rights")

	if len(r.Topics) > 0 {
		ow.open("classification")
		vocab("purpose", lomSource, "idea")
		ow.open("taxonPath")
		langstring("source", lomString{"en", lomTopicSource})
		for _, t := range r.Topics {
			ow.open("taxon")
			ow.elem("id", t)
			langstring("entry", lomString{"en", humanize(t)})
			ow.close("taxon")
		}
		ow.close("taxonPath")
		ow.close("classification")
	}

	ow.raw("</lom>")
}
