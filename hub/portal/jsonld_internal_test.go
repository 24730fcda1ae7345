package portal

import (
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestLicenceURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"},
		{"CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"},
		{"CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/"},
		{"CC BY-NC-ND 4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/"},
		{"cc by-nd 3.0", "https://creativecommons.org/licenses/by-nd/3.0/"},
		{" CC BY-NC 2.5 ", "https://creativecommons.org/licenses/by-nc/2.5/"},
		{"CC0", "https://creativecommons.org/publicdomain/zero/1.0/"},
		{"CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"},
		{"https://www.etalab.gouv.fr/licence-ouverte-open-licence/", "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"},
		{"All rights reserved", ""},
		{"CC BY 5.0", ""},
		{"CC BY-XX 4.0", ""},
		{"javascript:alert(1)", ""},
		{"", ""},
	} {
		if got := licenceURL(c.in); got != c.want {
			t.Errorf("licenceURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEducationalLevels(t *testing.T) {
	for _, c := range []struct {
		lo, hi int
		want   []string
	}{
		{3, 5, []string{"ISCED 0"}},
		{5, 6, []string{"ISCED 0", "ISCED 1"}},
		{12, 18, []string{"ISCED 2", "ISCED 3"}},
		{0, 99, []string{"ISCED 0", "ISCED 1", "ISCED 2", "ISCED 3"}},
		{19, 99, nil},
	} {
		var got []string
		for _, l := range educationalLevels(c.lo, c.hi) {
			got = append(got, l.(map[string]any)["termCode"].(string))
		}
		if len(got) != len(c.want) {
			t.Errorf("%d–%d: %v, want %v", c.lo, c.hi, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%d–%d: %v, want %v", c.lo, c.hi, got, c.want)
			}
		}
	}
}

func TestCreatedAt(t *testing.T) {
	at := time.Date(2027, 2, 9, 8, 30, 0, 123e6, time.UTC)
	id, err := protocol.NewEntityID("be", at)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := createdAt(id)
	if !ok || !got.Equal(at) {
		t.Errorf("createdAt(%s) = %v, %v; want %v", id, got, ok, at)
	}
	for _, bad := range []string{"be", "be:short", "be:01ARZ3NDEKTSV4RRFFQ69G5FAU!", "be:0IARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if _, ok := createdAt(bad); ok {
			t.Errorf("createdAt(%q) is a time", bad)
		}
	}
}
