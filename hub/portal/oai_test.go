package portal_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/internal/sampledata"
)

func TestOAI(t *testing.T) {
	lint := portaltest.RequireXMLLint(t)
	n := startHub(t)
	n.seedSamples()
	be := n.node("be")
	// Enough resources for several pages of every list.
	var drafts []draft
	for _, d := range sampledata.Synthetic("be", 320, 7) {
		drafts = append(drafts, draft{kind: d.Kind, vis: d.Visibility, body: d.Body})
	}
	synth := be.push(drafts...)
	n.waitIndexed() // published before they are deleted, so harvesters know them
	be.push(draft{id: synth[0], kind: "resource", vis: "public", deleted: true}, draft{id: synth[1], kind: "resource", vis: "public", deleted: true, erased: true})
	n.waitIndexed()
	endpoint := n.url + "/oai"
	get := func(args string) *portaltest.Response {
		v, err := url.ParseQuery(args)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := portaltest.Get(t, lint, endpoint, v)
		return r
	}
	errCode := func(args string) string {
		if r := get(args); len(r.Errors) > 0 {
			return r.Errors[0].Code
		}
		return ""
	}

	t.Run("every verb answers schema-valid XML", func(t *testing.T) {
		for _, args := range []string{"verb=Identify", "verb=ListMetadataFormats", "verb=ListSets",
			"verb=ListMetadataFormats&identifier=oai:bikfed.eu:" + synth[5],
			"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:" + synth[5],
			"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:" + synth[0],
			"verb=ListIdentifiers&metadataPrefix=oai_dc&set=sic:be",
			"verb=ListRecords&metadataPrefix=oai_dc&set=language:fi"} {
			if c := errCode(args); c != "" {
				t.Errorf("%s: error %s", args, c)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		for args, want := range map[string]string{
			"":                            "badVerb",
			"verb=Nope":                   "badVerb",
			"verb=Identify&verb=Identify": "badVerb",
			"verb=Identify&x=1":           "badArgument",
			"verb=ListRecords":            "badArgument",
			"verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc":                          "badArgument",
			"verb=ListRecords&metadataPrefix=marc21":                                                "cannotDisseminateFormat",
			"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:bikfed.eu:be:nothing":              "idDoesNotExist",
			"verb=GetRecord&metadataPrefix=oai_dc":                                                  "badArgument",
			"verb=ListMetadataFormats&identifier=oai:elsewhere:x":                                   "idDoesNotExist",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&from=2020-01-01&until=2020-01-02T00:00:00Z": "badArgument",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&from=yesterday":                             "badArgument",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&from=2030-01-02&until=2030-01-01":           "badArgument",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&until=2001-01-01":                           "noRecordsMatch",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&set=sic:zz":                                 "noRecordsMatch",
			"verb=ListIdentifiers&resumptionToken=garbage":                                          "badResumptionToken",
			"verb=ListIdentifiers&resumptionToken=eyJ2IjoiTGlzdFJlY29yZHMifQ":                       "badResumptionToken",
			"verb=ListIdentifiers&metadataPrefix=oai_dc&resumptionToken=x":                          "badArgument",
			"verb=ListSets&resumptionToken=x":                                                       "badResumptionToken",
		} {
			if got := errCode(args); got != want {
				t.Errorf("%q: %q, want %q", args, got, want)
			}
		}
	})
	t.Run("a full harvest sees every record once", func(t *testing.T) {
		for _, verb := range []string{"ListIdentifiers", "ListRecords"} {
			headers := portaltest.Harvest(t, lint, endpoint, verb, url.Values{"metadataPrefix": {"oai_dc"}})
			seen := map[string]bool{}
			deleted := 0
			for _, h := range headers {
				if seen[h.Identifier] {
					t.Errorf("%s: %s twice", verb, h.Identifier)
				}
				seen[h.Identifier] = true
				if h.Status == "deleted" {
					deleted++
				}
			}
			var api apiPage
			n.getJSON("/api/v1/resources?per_page=1", &api)
			if len(seen) != api.Total+deleted || deleted != 2 {
				t.Errorf("%s: %d records (%d deleted), the gallery has %d", verb, len(seen), deleted, api.Total)
			}
			for _, id := range synth[:2] {
				if !seen["oai:bikfed.eu:"+id] {
					t.Errorf("%s: deleted %s missing", verb, id)
				}
			}
		}
	})
	t.Run("an edited resumption token is refused", func(t *testing.T) {
		r := get("verb=ListIdentifiers&metadataPrefix=oai_dc&set=sic:be")
		if r.IDToken == nil || r.IDToken.Value == "" {
			t.Fatal("no resumption token")
		}
		edit := func(f func(tok map[string]any)) string {
			payload, mac, signed := strings.Cut(r.IDToken.Value, ".")
			raw, err := base64.RawURLEncoding.DecodeString(payload)
			if err != nil {
				t.Fatal(err)
			}
			var tok map[string]any
			if err := json.Unmarshal(raw, &tok); err != nil {
				t.Fatal(err)
			}
			f(tok)
			raw, _ = json.Marshal(tok)
			out := base64.RawURLEncoding.EncodeToString(raw)
			if signed {
				out += "." + mac
			}
			return out
		}
		for name, tok := range map[string]string{
			"another set": edit(func(tok map[string]any) { tok["s"] = "sic:fi" }),
			"no set":      edit(func(tok map[string]any) { delete(tok, "s") }),
			"later from":  edit(func(tok map[string]any) { tok["f"] = time.Now().UnixMilli() }),
			"no MAC":      strings.SplitN(r.IDToken.Value, ".", 2)[0],
		} {
			if c := errCode("verb=ListIdentifiers&resumptionToken=" + url.QueryEscape(tok)); c != "badResumptionToken" {
				t.Errorf("%s: error %q, want badResumptionToken", name, c)
			}
		}
		if c := errCode("verb=ListIdentifiers&resumptionToken=" + url.QueryEscape(r.IDToken.Value)); c != "" {
			t.Errorf("the token as issued: error %q", c)
		}
	})
	t.Run("a harvest in progress is not disturbed by changes", func(t *testing.T) {
		r := get("verb=ListIdentifiers&metadataPrefix=oai_dc&set=sic:be")
		if r.IDToken == nil || r.IDToken.Value == "" {
			t.Fatal("no resumption token")
		}
		first := r.Headers
		// A record already harvested changes, and one not yet harvested.
		be.push(draft{id: synth[2], kind: "resource", vis: "public", deleted: true}, draft{id: synth[300], kind: "resource", vis: "public", deleted: true})
		n.waitIndexed()
		rest := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"resumptionToken": {r.IDToken.Value}})
		seen := map[string]int{}
		for _, h := range append(first, rest...) {
			seen[h.Identifier]++
		}
		for id, c := range seen {
			if c > 1 {
				t.Errorf("%s seen %d times", id, c)
			}
		}
		if len(first)+len(rest) != r.IDToken.Size && len(first)+len(rest) != r.IDToken.Size-1 {
			t.Errorf("harvested %d, completeListSize %d", len(first)+len(rest), r.IDToken.Size)
		}
		// The next incremental harvest, from when this one started, has both changes.
		from := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z")
		inc := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}, "from": {from}})
		got := 0
		for _, h := range inc {
			if (strings.HasSuffix(h.Identifier, synth[2]) || strings.HasSuffix(h.Identifier, synth[300])) && h.Status == "deleted" {
				got++
			}
		}
		if got != 2 {
			t.Errorf("incremental harvest has %d of the 2 deletions", got)
		}
	})
	t.Run("sets and dates select", func(t *testing.T) {
		all := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}, "set": {"sic"}})
		fi := portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}, "set": {"sic:fi"}})
		if len(fi) == 0 || len(fi) >= len(all) {
			t.Errorf("sic:fi %d of sic %d", len(fi), len(all))
		}
		for _, h := range fi {
			if !strings.Contains(strings.Join(h.Sets, " "), "sic:fi") {
				t.Errorf("%s in sic:fi has sets %v", h.Identifier, h.Sets)
			}
		}
		today := time.Now().UTC().Format("2006-01-02")
		if len(portaltest.Harvest(t, lint, endpoint, "ListIdentifiers", url.Values{"metadataPrefix": {"oai_dc"}, "from": {today}, "until": {today}})) != len(all) {
			t.Error("from=until=today does not select every record")
		}
	})
}
