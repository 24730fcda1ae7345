package textdiff

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bikfed/bikfed/protocol"
)

// sides rebuilds both texts from spans.
func sides(spans []Span) (a, b string) {
	var sa, sb strings.Builder
	for _, s := range spans {
		if s.Op != Insert {
			sa.WriteString(s.Text)
		}
		if s.Op != Delete {
			sb.WriteString(s.Text)
		}
	}
	return sa.String(), sb.String()
}

// changedWords counts the word tokens inserted and deleted.
func changedWords(spans []Span) (ins, del []string) {
	for _, s := range spans {
		for _, t := range tokenize(s.Text) {
			if !isWordRune([]rune(t)[0]) {
				continue
			}
			switch s.Op {
			case Insert:
				ins = append(ins, t)
			case Delete:
				del = append(del, t)
			}
		}
	}
	return ins, del
}

func TestWords(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want []Span
	}{
		{"both empty", "", "", nil},
		{"same", "a lesson plan", "a lesson plan", []Span{{Equal, "a lesson plan"}}},
		{"from empty", "", "new text", []Span{{Insert, "new text"}}},
		{"to empty", "old text", "", []Span{{Delete, "old text"}}},
		{"one word replaced", "a lesson plan for teachers", "a lesson plan for parents",
			[]Span{{Equal, "a lesson plan for "}, {Delete, "teachers"}, {Insert, "parents"}}},
		{"word inserted", "plan for teachers", "plan for all teachers",
			[]Span{{Equal, "plan for "}, {Insert, "all "}, {Equal, "teachers"}}},
		{"word removed", "plan for all teachers", "plan for teachers",
			[]Span{{Equal, "plan for "}, {Delete, "all "}, {Equal, "teachers"}}},
		{"punctuation kept apart", "Ages 8 to 12.", "Ages 9 to 12.",
			[]Span{{Equal, "Ages "}, {Delete, "8"}, {Insert, "9"}, {Equal, " to 12."}}},
		{"accented words are whole", "Tietosuoja lapsille", "Tietosuoja nuorille",
			[]Span{{Equal, "Tietosuoja "}, {Delete, "lapsille"}, {Insert, "nuorille"}}},
		{"two places", "one two three four five", "one 2 three four 5",
			[]Span{{Equal, "one "}, {Delete, "two"}, {Insert, "2"}, {Equal, " three four "}, {Delete, "five"}, {Insert, "5"}}},
		{"all different", "alpha beta", "gamma",
			[]Span{{Delete, "alpha beta"}, {Insert, "gamma"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Words(tt.a, tt.b)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Words(%q, %q)\n got %q\nwant %q", tt.a, tt.b, got, tt.want)
			}
			if a, b := sides(got); a != tt.a || b != tt.b {
				t.Fatalf("spans rebuild %q, %q", a, b)
			}
			if Changed(got) != (tt.a != tt.b) {
				t.Fatalf("Changed = %v", Changed(got))
			}
		})
	}
}

func TestWords_Minimal(t *testing.T) {
	// Only the words that changed are marked, wherever they are in a long text.
	words := strings.Fields(strings.Repeat("the quick brown fox jumps over the lazy dog ", 40))
	a := strings.Join(words, " ")
	words[5], words[200] = "under", "cat"
	words = append(words[:100], append([]string{"very"}, words[100:]...)...)
	b := strings.Join(words, " ")
	ins, del := changedWords(Words(a, b))
	if !reflect.DeepEqual(ins, []string{"under", "very", "cat"}) || !reflect.DeepEqual(del, []string{"over", "brown"}) {
		t.Fatalf("inserted %q, deleted %q", ins, del)
	}
}

func TestWords_Limits(t *testing.T) {
	// Beyond the limits the middle is replaced whole, quickly, and correctly.
	tests := []struct {
		name string
		a, b string
	}{
		{"too many tokens", strings.Repeat("a ", MaxTokens), strings.Repeat("b ", MaxTokens)},
		{"too many edits", strings.Repeat("x y ", MaxEdits), strings.Repeat("y x ", MaxEdits)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := Words(tt.a, tt.b)
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %s", d)
			}
			if a, b := sides(got); a != tt.a || b != tt.b {
				t.Fatal("spans do not rebuild the texts")
			}
			if !Changed(got) {
				t.Fatal("no change reported")
			}
		})
	}
}

func TestResources(t *testing.T) {
	base := protocol.Resource{Title: "Online privacy", Description: "A lesson plan for teachers.", Language: "nl",
		Languages: []string{"nl", "fr"}, AgeMin: 10, AgeMax: 12, Audiences: []string{"teachers"},
		Topics: []string{"privacy"}, Type: "lesson-plan", Licence: "CC BY 4.0", URL: "https://example.be/a"}
	pdf := protocol.BlobRef{SHA256: strings.Repeat("a", 64), Name: "plan.pdf"}
	pdf2 := protocol.BlobRef{SHA256: strings.Repeat("b", 64), Name: "plan.pdf"}
	tests := []struct {
		name   string
		change func(r *protocol.Resource, blobs *[]protocol.BlobRef)
		want   []Field
	}{
		{"nothing", func(*protocol.Resource, *[]protocol.BlobRef) {}, nil},
		{"description word", func(r *protocol.Resource, _ *[]protocol.BlobRef) {
			r.Description = "A lesson plan for parents."
		}, []Field{{Name: "description", Spans: []Span{{Equal, "A lesson plan for "}, {Delete, "teachers"}, {Insert, "parents"}, {Equal, "."}}}}},
		{"lists and age", func(r *protocol.Resource, _ *[]protocol.BlobRef) {
			r.Languages = []string{"nl", "de"}
			r.AgeMax = 14
			r.Topics = append(r.Topics, "cyberbullying")
		}, []Field{
			{Name: "languages", Added: []string{"de"}, Removed: []string{"fr"}},
			{Name: "age", Spans: []Span{{Equal, "10–"}, {Delete, "12"}, {Insert, "14"}}},
			{Name: "topics", Added: []string{"cyberbullying"}},
		}},
		{"attachment replaced under the same name", func(_ *protocol.Resource, b *[]protocol.BlobRef) {
			*b = []protocol.BlobRef{pdf2}
		}, []Field{{Name: "attachments", Added: []string{"plan.pdf"}, Removed: []string{"plan.pdf"}}}},
		{"type and url", func(r *protocol.Resource, _ *[]protocol.BlobRef) {
			r.Type = "guide"
			r.URL = "https://example.be/b"
		}, []Field{
			{Name: "type", Spans: []Span{{Delete, "lesson-plan"}, {Insert, "guide"}}},
			{Name: "url", Spans: []Span{{Equal, "https://example.be/"}, {Delete, "a"}, {Insert, "b"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base
			n.Languages = slicesClone(base.Languages)
			n.Topics = slicesClone(base.Topics)
			blobs := []protocol.BlobRef{pdf}
			tt.change(&n, &blobs)
			got := Resources(ResourceVersion{Body: base, Blobs: []protocol.BlobRef{pdf}}, ResourceVersion{Body: n, Blobs: blobs})
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			for _, f := range got {
				if f.List() != (f.Name == "languages" || f.Name == "topics" || f.Name == "attachments") {
					t.Fatalf("%s: List() = %v", f.Name, f.List())
				}
			}
		})
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func FuzzWords(f *testing.F) {
	f.Add("a lesson plan for teachers", "a lesson plan for parents")
	f.Add("", "x")
	f.Add("Tietosuoja lapsille.", "Tietosuoja, nuorille!")
	f.Add("\xff\xfe abc", "abc \xff")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := Words(a, b)
		if ra, rb := sides(got); ra != a || rb != b {
			t.Fatalf("spans rebuild %q, %q from %q, %q", ra, rb, a, b)
		}
		if Changed(got) != (a != b) {
			t.Fatalf("Changed = %v for %q, %q", Changed(got), a, b)
		}
		for i, s := range got {
			if s.Text == "" {
				t.Fatalf("empty span %d", i)
			}
			if i > 0 && got[i-1].Op == s.Op {
				t.Fatalf("spans %d and %d share op %s", i-1, i, s.Op)
			}
			if utf8.ValidString(a) && utf8.ValidString(b) && !utf8.ValidString(s.Text) {
				t.Fatalf("span %d splits a character: %q", i, s.Text)
			}
		}
	})
}
