package workspace

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestTrLimitedReader_Read(t *testing.T) {
	tests := []struct {
		name string
		size int
		over bool
	}{
		{"empty", 0, false},
		{"under the limit", 9, false},
		{"exactly the limit", 10, false},
		{"one byte over", 11, true},
		{"far over", 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &trLimitedReader{r: strings.NewReader(strings.Repeat("x", tt.size)), n: 10}
			b, err := io.ReadAll(l)
			if l.over != tt.over || errors.Is(err, errTrFileTooLarge) != tt.over {
				t.Fatalf("over %v, err %v; want over %v", l.over, err, tt.over)
			}
			if !tt.over && len(b) != tt.size {
				t.Fatalf("read %d bytes of %d", len(b), tt.size)
			}
			if len(b) > 10 {
				t.Fatalf("read %d bytes past the limit of 10", len(b))
			}
		})
	}
}

func TestTrLangName(t *testing.T) {
	for tag, want := range map[string]string{"fi": "suomi", "nl": "Nederlands", "pt-BR": "português", "x-klingon": "x-klingon"} {
		if got := trLangName(tag); got != want {
			t.Errorf("trLangName(%q) = %q, want %q", tag, got, want)
		}
	}
}
