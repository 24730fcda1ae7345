package portal_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// TestOAI_LOM: the LOM format beside oai_dc, record by record (a resource
// with translations, every field of the mapping), through every verb,
// with the same sets, deletions, tokens and errors as oai_dc.
func TestOAI_LOM(t *testing.T) {
	lint := portaltest.RequireXMLLint(t)
	t.Logf("LOM records are validated against %s", portaltest.LOMSchemaPath())
	n := startHub(t, func(c *hubConfig) {
		c.OAIAdminEmail = "oai@saferinternet.example.eu"
		c.OAIRepositoryName = "Insafe resources (test)"
	})
	be, fi := n.node("be"), n.node("fi")
	res := be.push(draft{kind: "resource", vis: "public", body: protocol.Resource{
		Title: "Cyberpesten in de klas", Description: "Een gids voor leraren & ouders.", Language: "nl", Languages: []string{"nl", "fr"},
		AgeMin: 12, AgeMax: 18, Audiences: []string{"teachers", "parents", "teens", "children", "policy-makers"},
		Topics: []string{"cyberbullying", "hate-speech"}, Type: "lesson-plan", Licence: "CC BY-NC-SA 4.0",
		URL: "https://www.saferinternet.be/cyberpesten"}})
	guide := res[0]
	fi.push(
		draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: guide, SourceVersion: 1, Language: "fi",
			Title: "Verkkokiusaaminen luokassa", Description: "Opas opettajille.", Method: "human", Review: "reviewed"}},
	)
	be.push(draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: guide, SourceVersion: 1, Language: "fr",
		Title: "Le cyberharcèlement en classe", Method: "machine", Review: "unreviewed"}})
	var drafts []draft
	for _, d := range sampledata.Synthetic("be", 230, 11) {
		drafts = append(drafts, draft{kind: d.Kind, vis: d.Visibility, body: d.Body})
	}
	synth := be.push(drafts...)
	n.waitIndexed()
	be.push(draft{id: synth[0], kind: "resource", vis: "public", deleted: true})
	n.waitIndexed()
	endpoint := n.url + "/oai"
	get := func(args string) *portaltest.Response {
		t.Helper()
		v, err := url.ParseQuery(args)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := portaltest.Get(t, lint, endpoint, v)
		return r
	}
	errCode := func(args string) string {
		t.Helper()
		if r := get(args); len(r.Errors) > 0 {
			return r.Errors[0].Code
		}
		return ""
	}

	t.Run("Identify names the configured repository and contact", func(t *testing.T) {
		r := get("verb=Identify")
		if r.Identify == nil || r.Identify.RepositoryName != "Insafe resources (test)" || r.Identify.AdminEmail != "oai@saferinternet.example.eu" {
			t.Errorf("Identify: %+v", r.Identify)
		}
	})
	t.Run("ListMetadataFormats lists both formats, for the repository and for a record", func(t *testing.T) {
		for _, args := range []string{"verb=ListMetadataFormats", "verb=ListMetadataFormats&identifier=oai:bikfed.eu:" + guide} {
			r := get(args)
			var got []string
			for _, f := range r.Formats {
				got = append(got, f.Prefix+" "+f.Schema+" "+f.Namespace)
			}
			want := []string{
				"oai_dc http://www.openarchives.org/OAI/2.0/oai_dc.xsd http://www.openarchives.org/OAI/2.0/oai_dc/",
				"lom http://ltsc.ieee.org/xsd/lomv1.0/lomLoose.xsd http://ltsc.ieee.org/xsd/LOM",
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %q, want %q", args, got, want)
			}
		}
	})
	t.Run("a resource with translations in LOM", func(t *testing.T) {
		r := get("verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:" + guide)
		if r.Record == nil || r.Record.LOM == nil {
			t.Fatal("no LOM record")
		}
		l := r.Record.LOM
		self := n.url + "/resources/" + guide
		if len(l.General.Identifier) != 1 || l.General.Identifier[0].Catalog != "URI" || l.General.Identifier[0].Entry != self {
			t.Errorf("general/identifier %+v, want the portal URL %s", l.General.Identifier, self)
		}
		for lang, want := range map[string]string{"nl": "Cyberpesten in de klas", "fi": "Verkkokiusaaminen luokassa", "fr": "Le cyberharcèlement en classe"} {
			if got := l.General.Title.Get(lang); got != want {
				t.Errorf("title in %s: %q, want %q", lang, got, want)
			}
		}
		if len(l.General.Title) != 3 {
			t.Errorf("%d titles, want one per language", len(l.General.Title))
		}
		if l.General.Description.Get("nl") != "Een gids voor leraren & ouders." || l.General.Description.Get("fi") != "Opas opettajille." || len(l.General.Description) != 2 {
			t.Errorf("description %+v: the original's and the Finnish translation's (the French has none)", l.General.Description)
		}
		if !slices.Equal(l.General.Language, []string{"nl", "fr"}) || !slices.Equal(l.Educational.Language, []string{"nl", "fr"}) {
			t.Errorf("languages %q / %q", l.General.Language, l.Educational.Language)
		}
		var kw []string
		for _, k := range l.General.Keyword {
			kw = append(kw, k.String.Get("en"))
		}
		if !slices.Equal(kw, []string{"Cyberbullying", "Hate speech"}) {
			t.Errorf("keywords %q", kw)
		}
		if len(l.Contribute) != 1 || l.Contribute[0].Role != (portaltest.LOMTerm{Source: "LOMv1.0", Value: "publisher"}) ||
			!strings.Contains(l.Contribute[0].Entity[0], "BEGIN:VCARD") || !strings.Contains(l.Contribute[0].Entity[0], "\nORG:Safer Internet Centre (Belgium)\n") ||
			len(l.Contribute[0].Date) != len("2006-01-02") {
			t.Errorf("lifeCycle/contribute %+v", l.Contribute)
		}
		if !slices.Equal(l.MetadataSchema, []string{"LOMv1.0", "LREv3.0"}) {
			t.Errorf("metadataSchema %q", l.MetadataSchema)
		}
		if !slices.Equal(l.Location, []string{"https://www.saferinternet.be/cyberpesten"}) {
			t.Errorf("technical/location %q", l.Location)
		}
		if !slices.Equal(l.Educational.LearningResourceType, []portaltest.LOMTerm{{Source: "LREv3.0", Value: "lesson plan"}}) {
			t.Errorf("learningResourceType %+v", l.Educational.LearningResourceType)
		}
		var roles []string
		for _, v := range l.Educational.IntendedEndUserRole {
			if v.Source != "LREv3.0" {
				t.Errorf("intendedEndUserRole source %q", v.Source)
			}
			roles = append(roles, v.Value)
		}
		if !slices.Equal(roles, []string{"teacher", "parent", "learner", "other"}) {
			t.Errorf("intendedEndUserRole %q, want each role once in the audiences' order", roles)
		}
		if l.Educational.TypicalAgeRange.Get("x-none") != "12-18" {
			t.Errorf("typicalAgeRange %+v", l.Educational.TypicalAgeRange)
		}
		if l.Rights.Cost.Value != "no" || l.Rights.Copyright.Value != "yes" ||
			l.Rights.Description.Get("x-t-cc-url") != "https://creativecommons.org/licenses/by-nc-sa/4.0/" {
			t.Errorf("rights %+v", l.Rights)
		}
		if len(l.Classification) != 1 || l.Classification[0].Purpose.Value != "idea" || len(l.Classification[0].TaxonPath) != 1 {
			t.Fatalf("classification %+v", l.Classification)
		}
		var taxa []string
		for _, tx := range l.Classification[0].TaxonPath[0].Taxon {
			taxa = append(taxa, tx.ID+"="+tx.Entry.Get("en"))
		}
		if !slices.Equal(taxa, []string{"cyberbullying=Cyberbullying", "hate-speech=Hate speech"}) {
			t.Errorf("taxonPath %q", taxa)
		}
	})
	t.Run("a deleted record in LOM is its header", func(t *testing.T) {
		r := get("verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:" + synth[0])
		if r.Record == nil || r.Record.Header.Status != "deleted" || r.Record.LOM != nil {
			t.Errorf("GetRecord of a deleted record: %+v", r.Record)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for args, want := range map[string]string{
			"verb=GetRecord&metadataPrefix=LOM&identifier=oai:bikfed.eu:" + guide:      "cannotDisseminateFormat",
			"verb=GetRecord&metadataPrefix=oai_lom&identifier=oai:bikfed.eu:" + guide:  "cannotDisseminateFormat",
			"verb=GetRecord&metadataPrefix=lom&identifier=oai:bikfed.eu:be:nothing":    "idDoesNotExist",
			"verb=ListRecords&metadataPrefix=lom&set=sic:zz":                           "noRecordsMatch",
			"verb=ListIdentifiers&metadataPrefix=lom&from=2030-01-02&until=2030-01-01": "badArgument",
			"verb=ListRecords&metadataPrefix=lom&metadataPrefix=oai_dc":                "badArgument",
		} {
			if got := errCode(args); got != want {
				t.Errorf("%q: %q, want %q", args, got, want)
			}
		}
	})
	t.Run("a resumption token keeps its format and cannot be moved to another", func(t *testing.T) {
		r := get("verb=ListRecords&metadataPrefix=lom")
		if r.Token == nil || r.Token.Value == "" {
			t.Fatal("no resumption token")
		}
		payload, mac, _ := strings.Cut(r.Token.Value, ".")
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatal(err)
		}
		var tok map[string]any
		if err := json.Unmarshal(raw, &tok); err != nil {
			t.Fatal(err)
		}
		if tok["p"] != "lom" {
			t.Errorf("the token's prefix is %v", tok["p"])
		}
		tok["p"] = "oai_dc"
		raw, _ = json.Marshal(tok)
		if c := errCode("verb=ListRecords&resumptionToken=" + url.QueryEscape(base64.RawURLEncoding.EncodeToString(raw)+"."+mac)); c != "badResumptionToken" {
			t.Errorf("a token moved to oai_dc: %q, want badResumptionToken", c)
		}
		next := get("verb=ListRecords&resumptionToken=" + url.QueryEscape(r.Token.Value))
		if len(next.Records) == 0 {
			t.Fatal("the second page is empty")
		}
		for _, rec := range next.Records {
			if rec.Header.Status != "deleted" && (rec.LOM == nil || len(rec.Title) > 0) {
				t.Errorf("%s on the second page is not in LOM", rec.Header.Identifier)
			}
		}
	})
	t.Run("full harvests in both formats list the same records", func(t *testing.T) {
		ids := map[string][]string{}
		for _, prefix := range []string{"oai_dc", "lom"} {
			for _, verb := range []string{"ListIdentifiers", "ListRecords"} {
				headers, recs := portaltest.HarvestRecords(t, lint, endpoint, verb, url.Values{"metadataPrefix": {prefix}})
				var list []string
				for _, h := range headers {
					list = append(list, h.Identifier+" "+h.Status)
				}
				ids[prefix+" "+verb] = list
				for _, rec := range recs {
					deleted := rec.Header.Status == "deleted"
					if prefix == "lom" && deleted != (rec.LOM == nil) {
						t.Errorf("%s: deleted %v, LOM metadata %v", rec.Header.Identifier, deleted, rec.LOM != nil)
					}
					if prefix == "lom" && !deleted && (len(rec.LOM.General.Title) == 0 || len(rec.LOM.Educational.LearningResourceType) != 1 ||
						len(rec.LOM.Educational.IntendedEndUserRole) == 0 || rec.LOM.Educational.TypicalAgeRange.Get("x-none") == "") {
						t.Errorf("%s: an incomplete LOM record %+v", rec.Header.Identifier, rec.LOM)
					}
				}
			}
		}
		want := ids["oai_dc ListIdentifiers"]
		if len(want) != 231 {
			t.Errorf("%d records, want 231 (one of them deleted)", len(want))
		}
		for k, got := range ids {
			if !slices.Equal(got, want) {
				t.Errorf("%s: %d records, oai_dc ListIdentifiers %d", k, len(got), len(want))
			}
		}
	})
	t.Run("sets select in LOM as in oai_dc", func(t *testing.T) {
		for _, set := range []string{"sic:fi", "sic:be", "type:lesson-plan", "language:nl"} {
			dc := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}, "set": {set}})
			lom := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"lom"}, "set": {set}})
			if len(dc) != len(lom) {
				t.Errorf("%s: %d in oai_dc, %d in lom", set, len(dc), len(lom))
			}
		}
	})
}
