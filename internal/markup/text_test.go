package markup

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"markup removed", "# Title\n\nSome *very* **bold** ~~old~~ `code`.", "Title\nSome very bold old code."},
		{"links keep their words", "See [the guide](https://example.org) or <https://b.example>.", "See the guide or https://b.example."},
		{"refused link keeps its words", "[click](javascript:alert(1))", "click"},
		{"image alt", "![A poster](" + blob + "p.png) here", "A poster here"},
		{"entities and escapes", "caf&eacute; \\*not\\* &amp;", "café *not* &"},
		{"raw HTML as typed", "a <b>b</b>", "a <b>b</b>"},
		{"lists and quotes", "- one\n- [x] two\n\n> three", "one\ntwo\nthree"},
		{"code block", "```\nx := 1\n```", "x := 1"},
		{"table cells", "| a | b |\n|---|---|\n| 1 | 2 |", "a\tb\n1\t2"},
		{"soft break", "one\ntwo", "one\ntwo"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.src); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	t.Run("too complex to parse gives the source", func(t *testing.T) {
		src := strings.Repeat("> ", 100) + "deep"
		if got := Text(src); got != src {
			t.Errorf("Text = %.40q…, want the source", got)
		}
	})
	t.Run("over the size limit is clipped on a rune", func(t *testing.T) {
		src := strings.Repeat("é ", MaxSize)
		got := Text(src)
		if len(got) > MaxSize || !utf8.ValidString(got) {
			t.Errorf("Text gave %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
		}
	})
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name string
		src  string
		n    int
		want string
	}{
		{"fits", "Hello *world*", 20, "Hello world"},
		{"exactly fits", "Hello world", 11, "Hello world"},
		{"cut between words", "The quick brown fox jumps", 16, "The quick brown…"},
		{"cut drops the partial word", "The quick brown fox", 12, "The quick…"},
		{"trailing punctuation dropped", "Hello, world and more", 8, "Hello…"},
		{"blocks join with spaces", "# Title\n\nFirst para.\n\n- item", 40, "Title First para. item"},
		{"runes not bytes", "Ελληνικά λόγια εδώ", 10, "Ελληνικά…"},
		{"one long word is cut", "Donaudampfschifffahrt", 6, "Donau…"},
		{"emoji kept whole", "🙂🙂🙂🙂 done", 4, "🙂🙂🙂…"},
		{"zero", "Hello", 0, ""},
		{"one", "Hello", 1, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Excerpt(tt.src, tt.n)
			if got != tt.want {
				t.Errorf("Excerpt(%q, %d) = %q, want %q", tt.src, tt.n, got, tt.want)
			}
			if utf8.RuneCountInString(got) > tt.n {
				t.Errorf("Excerpt(%q, %d) = %q is longer than %d", tt.src, tt.n, got, tt.n)
			}
		})
	}
}
