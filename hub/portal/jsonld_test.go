package portal_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/protocol"
)

var ldScript = regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`)

// pageJSONLD is the JSON-LD of the page at path.
func pageJSONLD(t *testing.T, n *testNet, path string) map[string]any {
	t.Helper()
	body := n.getOK(path)
	m := ldScript.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("GET %s: no JSON-LD", path)
	}
	var ld map[string]any
	if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
		t.Fatalf("GET %s: JSON-LD: %v\n%s", path, err, m[1])
	}
	return ld
}

// TestPortal_ResourceJSONLD checks resource pages' JSON-LD against
// schema.org's published vocabulary: every property belongs to its node's
// type, and every value is of a type in the property's range.
func TestPortal_ResourceJSONLD(t *testing.T) {
	vocab := portaltest.RequireVocabulary(t)
	n := startHub(t)
	be, fi := n.node("be"), n.node("fi")
	translated := resourceBody("Cyberpesten in de klas", "nl", []string{"nl", "fr"}, 10, 14, "guide", []string{"cyberbullying"})
	machine := resourceBody("Sexting: conseils aux parents", "fr", []string{"fr"}, 13, 17, "tip-sheet", []string{"sexting", "privacy"})
	machine.Licence = "All rights reserved"
	attached := resourceBody("Tietosuoja nuorille", "fi", []string{"fi", "sv"}, 12, 18, "lesson-plan", []string{"privacy"})
	attached.Licence = "CC BY-NC-SA 4.0"
	pdf := fi.upload([]byte("%PDF-1.4 a lesson plan"), "tietosuoja.pdf", "application/pdf")
	res := be.push(
		draft{kind: "resource", vis: "public", body: translated},
		draft{kind: "resource", vis: "public", body: machine},
	)
	tr := fi.push(
		draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: res[0], SourceVersion: 1, Language: "fi",
			Title: "Verkkokiusaaminen luokassa", Description: "Opas opettajille.", Method: "human", Review: "reviewed"}},
		draft{kind: "translation", vis: "public", body: protocol.Translation{Resource: res[1], SourceVersion: 1, Language: "en",
			Title: "Sexting: advice for parents", Description: "Tips.", Method: "machine", Review: "unreviewed"}},
		draft{kind: "resource", vis: "public", body: attached, blobs: []protocol.BlobRef{pdf}},
	)
	n.waitIndexed()
	if body := n.getOK("/resources/" + tr[2]); !strings.Contains(body, "tietosuoja.pdf") {
		t.Fatal("the resource with attachments shows none")
	}

	for _, c := range []struct {
		name, path, lang, ages, licence string
		levels                          []string
	}{
		{"with translations", "/resources/" + res[0], "nl", "10-14", "https://creativecommons.org/licenses/by/4.0/", []string{"ISCED 1", "ISCED 2"}},
		{"a translation", "/resources/" + res[0] + "?lang=fi", "fi", "10-14", "https://creativecommons.org/licenses/by/4.0/", []string{"ISCED 1", "ISCED 2"}},
		{"machine-translated", "/resources/" + res[1] + "?lang=en", "en", "13-17", "", []string{"ISCED 2", "ISCED 3"}},
		{"with attachments", "/resources/" + tr[2], "fi", "12-18", "https://creativecommons.org/licenses/by-nc-sa/4.0/", []string{"ISCED 2", "ISCED 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ld := pageJSONLD(t, n, c.path)
			for _, p := range vocab.Check(ld) {
				t.Error(p)
			}
			if ld["@type"] != "LearningResource" || ld["inLanguage"] != c.lang || ld["typicalAgeRange"] != c.ages {
				t.Errorf("@type %v, inLanguage %v, typicalAgeRange %v; want LearningResource, %s, %s", ld["@type"], ld["inLanguage"], ld["typicalAgeRange"], c.lang, c.ages)
			}
			if lic, _ := ld["license"].(string); lic != c.licence {
				t.Errorf("license %v, want %q", ld["license"], c.licence)
			}
			if d, _ := ld["datePublished"].(string); !strings.HasPrefix(d, "20") {
				t.Errorf("datePublished %v", ld["datePublished"])
			}
			var codes []string
			levels, _ := ld["educationalLevel"].([]any)
			for _, l := range levels {
				if m, ok := l.(map[string]any); ok {
					codes = append(codes, m["termCode"].(string))
				}
			}
			if !slices.Equal(codes, c.levels) {
				t.Errorf("educationalLevel %v, want %v", codes, c.levels)
			}
		})
	}

	t.Run("the check finds what schema.org does not have", func(t *testing.T) {
		bad := map[string]any{"@type": "LearningResource", "availableLanguage": []any{"nl"}, "license": "CC BY 4.0",
			"datePublished": "last week", "typicalAgeRange": "10-14", "audience": map[string]any{"@type": "Organization", "name": "x"}}
		got := strings.Join(vocab.Check(bad), "\n")
		for _, want := range []string{"availableLanguage is not a property of LearningResource", "$.license: CC BY 4.0 fits none", "$.datePublished: last week fits none", "$.audience: map"} {
			if !strings.Contains(got, want) {
				t.Errorf("check missed %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "typicalAgeRange") {
			t.Errorf("check refused typicalAgeRange:\n%s", got)
		}
	})
}
