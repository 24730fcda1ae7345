package locale

import "testing"

// The integer samples of CLDR's plurals.xml for the rules of the six
// languages with catalogues today, as the loaded bundle applies them: pt
// is European Portuguese (0 is "other"), not CLDR's plain pt, which is
// Brazilian and takes French's rule (0 is "one").
func TestPluralRule_category(t *testing.T) {
	b := mustLoad(t)
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
			c := b.s.compiled[lang]
			if c == nil {
				t.Errorf("%s: not loaded", lang)
				continue
			}
			for want, ns := range tc.samples {
				for _, n := range ns {
					if got := c.rule.category(n); got != want {
						t.Errorf("%s: %d is %q, want %q", lang, n, got, want)
					}
				}
			}
			if len(c.rule.categories) != len(tc.samples) {
				t.Errorf("%s: categories %v, want those of %v", lang, c.rule.categories, tc.samples)
			}
		}
	}
}

// The table a rule keeps is what go-i18n says.
func TestPluralRule_table(t *testing.T) {
	b := mustLoad(t)
	for lang, c := range b.s.compiled {
		for n := range uint64(tableSize) {
			want, err := c.rule.ask(n)
			if err != nil {
				t.Fatal(err)
			}
			if c.rule.table[n] != want {
				t.Fatalf("%s %d: table %q, go-i18n %q", lang, n, c.rule.table[n], want)
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
