package portal_test

import (
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub/portal"
)

func TestValidateAdminEmail(t *testing.T) {
	for in, ok := range map[string]bool{
		"portal@bikfed.invalid":                 true,
		"oai@betterinternetforkids.eu":          true,
		"first.last+oai@sic.example.be":         true,
		"":                                      false,
		"portal":                                false,
		"portal@localhost":                      false,
		"Portal <portal@bikfed.eu>":             false,
		"portal@bikfed.eu, other@bikfed.eu":     false,
		"portal@bikfed.":                        false,
		"por tal@bikfed.eu":                     false,
		strings.Repeat("a", 250) + "@bikfed.eu": false,
	} {
		if err := portal.ValidateAdminEmail(in); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", in, err, ok)
		}
	}
}

func TestValidateRepositoryName(t *testing.T) {
	for in, ok := range map[string]bool{
		portal.DefaultRepositoryName:                    true,
		"Insafe – ressources pédagogiques":              true,
		strings.Repeat("é", portal.MaxRepositoryName):   true,
		strings.Repeat("é", portal.MaxRepositoryName+1): false,
		"":           false,
		"   ":        false,
		"two\nlines": false,
		"a\x00b":     false,
		"bad \xff":   false,
	} {
		if err := portal.ValidateRepositoryName(in); (err == nil) != ok {
			t.Errorf("%q: %v, want ok %v", in, err, ok)
		}
	}
}
