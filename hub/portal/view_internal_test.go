package portal

import (
	"testing"

	"github.com/bikfed/bikfed/internal/locale"
)

// TestHumanSize: an attachment's size in whole units of the visitor's
// language.
func TestHumanSize(t *testing.T) {
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, fr := b.Printer("en"), b.Printer("fr")
	for _, tt := range []struct {
		p    *locale.Printer
		n    int64
		want string
	}{
		{en, 365, "365 B"},
		{fr, 365, "365 o"},
		{en, 112501, "110 KB"},
		{fr, 112501, "110 Ko"},
		{fr, 40 << 20, "40 Mo"},
		{en, 1<<20 + 1<<19, "2 MB"},
	} {
		if got := humanSize(tt.p, tt.n); got != tt.want {
			t.Errorf("humanSize(%s, %d) = %q, want %q", tt.p.Lang(), tt.n, got, tt.want)
		}
	}
}
