package locale

import "testing"

// The integer samples of CLDR's plurals.xml (release 46) for each rule.
func TestPluralRules_CLDRSamples(t *testing.T) {
	for _, tc := range []struct {
		langs   []string
		samples map[string][]uint64
	}{
		{
			[]string{"en", "nl", "de", "fi"},
			map[string][]uint64{
				One:   {1},
				Other: {0, 2, 3, 4, 5, 16, 17, 100, 1000, 10000, 100000, 1000000},
			},
		},
		{
			[]string{"fr"},
			map[string][]uint64{
				One:   {0, 1},
				Many:  {1000000, 2000000, 3000000, 10000000},
				Other: {2, 3, 4, 5, 16, 17, 100, 1000, 10000, 100000, 1000001},
			},
		},
		{
			// pt_PT, with ca, it, lld, scn, vec.
			[]string{"pt"},
			map[string][]uint64{
				One:   {1},
				Many:  {1000000, 2000000, 3000000, 10000000},
				Other: {0, 2, 3, 4, 5, 16, 17, 100, 1000, 10000, 100000, 1000001},
			},
		},
	} {
		for _, lang := range tc.langs {
			rule, ok := pluralRules[lang]
			if !ok {
				t.Errorf("%s: no rule", lang)
				continue
			}
			for want, ns := range tc.samples {
				for _, n := range ns {
					if got := rule.category(n); got != want {
						t.Errorf("%s: %d is %q, want %q", lang, n, got, want)
					}
				}
			}
			if len(rule.categories) != len(tc.samples) {
				t.Errorf("%s: categories %v, want those of %v", lang, rule.categories, tc.samples)
			}
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]uint64{0: 0, 1: 1, -1: 1, -2: 2, -9223372036854775808: 9223372036854775808} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %d, want %d", n, got, want)
		}
	}
}
