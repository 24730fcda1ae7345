package portal

import (
	"slices"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// The LRE v3.0 vocabularies the mapping may use.
var (
	lreRoleTerms = []string{"author", "counsellor", "learner", "manager", "parent", "teacher", "other"}
	lreTypeTerms = []string{"application", "assessment", "audio", "educational game", "guide", "image",
		"lesson plan", "other", "presentation", "reference", "simulation", "text", "tool", "video"}
)

func TestLOM_Mappings(t *testing.T) {
	t.Run("every audience has an LRE role", func(t *testing.T) {
		for _, a := range protocol.Audiences {
			if r, ok := lreRoles[a]; !ok || !slices.Contains(lreRoleTerms, r) {
				t.Errorf("audience %s: role %q", a, r)
			}
		}
		if len(lreRoles) != len(protocol.Audiences) {
			t.Errorf("%d roles mapped for %d audiences", len(lreRoles), len(protocol.Audiences))
		}
	})
	t.Run("every resource type has an LRE learning resource type", func(t *testing.T) {
		for _, ty := range protocol.ResourceTypes {
			if r, ok := lreTypes[ty]; !ok || !slices.Contains(lreTypeTerms, r) {
				t.Errorf("type %s: %q", ty, r)
			}
		}
		if len(lreTypes) != len(protocol.ResourceTypes) {
			t.Errorf("%d types mapped for %d resource types", len(lreTypes), len(protocol.ResourceTypes))
		}
	})
	t.Run("every topic is a taxon with an English label", func(t *testing.T) {
		for _, topic := range protocol.Topics {
			if l := humanize(topic); l == "" || l == topic {
				t.Errorf("topic %s: label %q", topic, l)
			}
		}
	})
}

func TestLOM_AgeRangeAndVCard(t *testing.T) {
	if got := lomAgeRange(12, 18); got != "12-18" {
		t.Errorf("12-18: %q", got)
	}
	if got := lomAgeRange(7, 7); got != "7" {
		t.Errorf("7: %q", got)
	}
	if got := vcardText("Child Focus; helpline, hotline\\\nBE"); got != `Child Focus\; helpline\, hotline\\\nBE` {
		t.Errorf("vcardText: %q", got)
	}
}
