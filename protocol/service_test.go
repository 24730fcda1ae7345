package protocol

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func guideService(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "valid_service_guide.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestService_validate(t *testing.T) {
	type edit = func(c, b map[string]any)
	version := func(b map[string]any) map[string]any { return b["versions"].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		old    bool // edit the record of before the guide had slugs
		edit   edit
		fields []string
	}{
		{"slug with a colon", false, func(c, b map[string]any) { b["slug"] = "hub:x" }, []string{"body.slug"}},
		{"slug upper case", false, func(c, b map[string]any) { b["slug"] = "Roblox" }, []string{"body.slug"}},
		{"slug too long", false, func(c, b map[string]any) { b["slug"] = strings.Repeat("a", MaxSlugLen+1) }, []string{"body.slug"}},
		{"category outside the vocabulary", false, func(c, b map[string]any) { b["category"] = "game platform" }, []string{"body.category"}},
		{"age not stated", false, func(c, b map[string]any) { delete(b, "no_minimum_age") }, []string{"body.minimum_age"}},
		{"minimum age and none", false, func(c, b map[string]any) { b["minimum_age"] = 13 }, []string{"body.no_minimum_age"}},
		{"minimum age 100", false, func(c, b map[string]any) { b["minimum_age"] = 100; delete(b, "no_minimum_age") }, []string{"body.minimum_age"}},
		{"PEGI 13", false, func(c, b map[string]any) { b["pegi"] = 13 }, []string{"body.pegi"}},
		{"App Store 10+", false, func(c, b map[string]any) { b["app_store_age"] = "10+" }, []string{"body.app_store_age"}},
		{"feature outside the vocabulary", false, func(c, b map[string]any) { b["features"] = []any{"parental-controls", "magic"} }, []string{"body.features[1]"}},
		{"feature repeated", false, func(c, b map[string]any) { b["features"] = []any{"time-limits", "time-limits"} }, []string{"body.features[1]"}},
		{"topic outside the vocabulary", false, func(c, b map[string]any) { b["topics"] = []any{"robots"} }, []string{"body.topics[0]"}},
		{"empty parental control", false, func(c, b map[string]any) { b["parental_controls"] = []any{" "} }, []string{"body.parental_controls[0]"}},
		{"privacy feature too long", false, func(c, b map[string]any) { b["privacy_features"] = []any{strings.Repeat("x", MaxShortField+1)} }, []string{"body.privacy_features[0]"}},
		{"too many safety features", false, func(c, b map[string]any) {
			l := make([]any, MaxListLen+1)
			for i := range l {
				l[i] = "x"
			}
			b["safety_features"] = l
		}, []string{"body.safety_features"}},
		{"report page not a URL", false, func(c, b map[string]any) { b["report_url"] = "javascript:alert(1)" }, []string{"body.report_url"}},
		{"block page not a URL", false, func(c, b map[string]any) { b["block_url"] = "help/block" }, []string{"body.block_url"}},
		{"how to block too long", false, func(c, b map[string]any) { b["how_to_block"] = strings.Repeat("x", MaxTextField+1) }, []string{"body.how_to_block"}},
		{"version in the entry's language", false, func(c, b map[string]any) { version(b)["language"] = "en" }, []string{"body.versions[0].language"}},
		{"version language not a tag", false, func(c, b map[string]any) { version(b)["language"] = "french" }, []string{"body.versions[0].language"}},
		{"version repeated", false, func(c, b map[string]any) { b["versions"] = append(b["versions"].([]any), version(b)) }, []string{"body.versions[1].language"}},
		{"version without text", false, func(c, b map[string]any) { b["versions"] = []any{map[string]any{"language": "de"}} }, []string{"body.versions[0]"}},
		{"version report page", false, func(c, b map[string]any) { version(b)["report_url"] = "ftp://x" }, []string{"body.versions[0].report_url"}},
		{"entry of the guide not public", false, func(c, b map[string]any) { c["visibility"] = "community" }, []string{"visibility"}},
		{"old record: category missing", true, func(c, b map[string]any) { delete(b, "category") }, []string{"body.category"}},
		{"old record: no_minimum_age with an age", true, func(c, b map[string]any) { b["no_minimum_age"] = true }, []string{"body.no_minimum_age"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := guideService(t)
			if tc.old {
				raw = golden(t, KindService)
			}
			_, err := ParseChange(mutate(t, raw, tc.edit))
			if ErrorCode(err) != CodeInvalidField {
				t.Fatalf("err = %v, want invalid_field", err)
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %q, want %q (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestService_validate_accepts(t *testing.T) {
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
	}{
		{"the guide's entry", func(t *testing.T) []byte { return guideService(t) }},
		{"a minimum age instead of none", func(t *testing.T) []byte {
			return mutate(t, guideService(t), func(c, b map[string]any) { b["minimum_age"] = 13; delete(b, "no_minimum_age") })
		}},
		{"only the required members", func(t *testing.T) []byte {
			return mutate(t, guideService(t), func(c, b map[string]any) {
				for _, k := range []string{"pegi", "app_store_age", "safety_features", "privacy_features", "parental_controls", "features",
					"how_to_report", "report_url", "how_to_block", "block_url", "topics", "versions", "description"} {
					delete(b, k)
				}
			})
		}},
		// Records published before the guide had slugs: free categories
		// and minimum age 0, as the hub already holds them.
		{"old record", func(t *testing.T) []byte { return golden(t, KindService) }},
		{"old record with minimum age 0 and a free category", func(t *testing.T) []byte {
			return mutate(t, golden(t, KindService), func(c, b map[string]any) { b["minimum_age"] = 0; b["category"] = "game platform" })
		}},
		{"old record without minimum age", func(t *testing.T) []byte {
			return mutate(t, golden(t, KindService), func(c, b map[string]any) { delete(b, "minimum_age") })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChange(tc.raw(t))
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeBody(c.Kind, c.Body)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := b.(*Service); !ok {
				t.Fatalf("body is %T", b)
			}
		})
	}
}

// The fast decoder and encoding/json read the entry of the guide alike,
// versions included.
func TestService_decodeFast(t *testing.T) {
	raw := guideService(t)
	c, body, ok := decodeChangeFast(raw)
	if !ok {
		t.Fatal("the fast decoder gave up on the guide's golden entry")
	}
	var want Service
	if err := json.Unmarshal(c.Body, &want); err != nil {
		t.Fatal(err)
	}
	got := body.(*Service)
	if got.Slug != "examplequest" || !got.NoMinimumAge || got.PEGI != 12 || len(got.Versions) != 1 || got.Versions[0].ReportURL != want.Versions[0].ReportURL {
		t.Fatalf("fast decoder read %+v, want %+v", got, want)
	}
}

func TestValidSlug(t *testing.T) {
	for _, s := range []string{"tiktok", "roblox", "x-2", "a"} {
		if err := ValidSlug(s); err != nil {
			t.Errorf("ValidSlug(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "-a", "a-", "a--b", "A", "a_b", "hub:1", "é"} {
		if ValidSlug(s) == nil {
			t.Errorf("ValidSlug(%q) accepted", s)
		}
	}
}
