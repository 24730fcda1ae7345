package protocol

import (
	"slices"
	"strings"
	"testing"
)

func TestBulletin_validate(t *testing.T) {
	item := func(b map[string]any, i int) map[string]any { return b["items"].([]any)[i].(map[string]any) }
	version := func(b map[string]any) map[string]any { return b["versions"].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		edit   func(c, b map[string]any)
		fields []string
	}{
		{"edition not a month", func(c, b map[string]any) { b["edition"] = "2026-3" }, []string{"body.edition"}},
		{"edition outside a quarter's end", func(c, b map[string]any) { b["edition"] = "2026-04" }, []string{"body.edition"}},
		{"edition month 13", func(c, b map[string]any) { b["edition"] = "2026-13" }, []string{"body.edition"}},
		{"edition missing", func(c, b map[string]any) { delete(b, "edition") }, []string{"body.edition"}},
		{"publication date not a day", func(c, b map[string]any) { b["published"] = "2026-02-30" }, []string{"body.published"}},
		{"title missing", func(c, b map[string]any) { b["title"] = " " }, []string{"body.title"}},
		{"title with a bidi control", func(c, b map[string]any) { b["title"] = "Spring\u202e" }, []string{"body.title"}},
		{"title too long", func(c, b map[string]any) { b["title"] = strings.Repeat("x", MaxShortField+1) }, []string{"body.title"}},
		{"language not a tag", func(c, b map[string]any) { b["language"] = "english" }, []string{"body.language"}},
		{"focus without a body", func(c, b map[string]any) { b["focus"] = map[string]any{"title": "x"} }, []string{"body.focus.body"}},
		{"focus body too long", func(c, b map[string]any) {
			b["focus"] = map[string]any{"title": "x", "body": strings.Repeat("x", MaxBulletinBody+1)}
		}, []string{"body.focus.body"}},
		{"item of another kind", func(c, b map[string]any) { item(b, 0)["kind"] = "service" }, []string{"body.items[0].kind"}},
		{"item not an id", func(c, b map[string]any) { item(b, 1)["ref"] = "/resources/x" }, []string{"body.items[1].ref"}},
		{"item repeated", func(c, b map[string]any) { item(b, 1)["ref"] = item(b, 0)["ref"] }, []string{"body.items[1].ref"}},
		{"note too long", func(c, b map[string]any) { item(b, 0)["note"] = strings.Repeat("x", MaxBulletinNote+1) }, []string{"body.items[0].note"}},
		{"too many items", func(c, b map[string]any) {
			l := make([]any, MaxBulletinItems+1)
			for i := range l {
				l[i] = map[string]any{"kind": "news", "ref": "hub:01JKT3SCFGWFHY7RZ3WFHY7RZ5"}
			}
			b["items"] = l
		}, []string{"body.items"}},
		{"version in the edition's language", func(c, b map[string]any) { version(b)["language"] = "en" }, []string{"body.versions[0].language"}},
		{"version repeated", func(c, b map[string]any) { b["versions"] = append(b["versions"].([]any), version(b)) }, []string{"body.versions[1].language"}},
		{"version without a title", func(c, b map[string]any) { delete(version(b), "title") }, []string{"body.versions[0].title"}},
		{"version without its article", func(c, b map[string]any) { delete(version(b), "focus") }, []string{"body.versions[0].focus.title", "body.versions[0].focus.body"}},
		{"more notes than items", func(c, b map[string]any) { version(b)["notes"] = []any{"a", "b", "c"} }, []string{"body.versions[0].notes"}},
		{"version note too long", func(c, b map[string]any) { version(b)["notes"] = []any{"", strings.Repeat("x", MaxBulletinNote+1)} }, []string{"body.versions[0].notes[1]"}},
		{"not public", func(c, b map[string]any) { c["visibility"] = "community" }, []string{"visibility"}},
		{"owned by a node", func(c, b map[string]any) {
			c["owner"] = "be"
			c["id"] = "be:01JKT3SCFGWFHY7RZ3WFHY7RZ6"
			c["key_id"] = "be-81bcc3dfb9ba630c"
		}, []string{"kind"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChange(mutate(t, golden(t, KindBulletin), tc.edit))
			if ErrorCode(err) != CodeInvalidField {
				t.Fatalf("err = %v, want invalid_field", err)
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %q, want %q (%v)", got, tc.fields, err)
			}
		})
	}
}

func TestBulletin_Version(t *testing.T) {
	c, err := ParseChange(golden(t, KindBulletin))
	if err != nil {
		t.Fatal(err)
	}
	body, err := DecodeBody(c.Kind, c.Body)
	if err != nil {
		t.Fatal(err)
	}
	b := body.(*Bulletin)
	t.Run("a version's own notes, the edition's where it has none", func(t *testing.T) {
		title, focus, notes, ok := b.Version("fr")
		if !ok || !strings.HasPrefix(title, "Printemps") || !strings.HasPrefix(focus.Title, "Parler") {
			t.Fatalf("fr: %q %q %v", title, focus.Title, ok)
		}
		if !slices.Equal(notes, []string{"Une séquence pour les 9-12 ans.", ""}) {
			t.Fatalf("fr notes %q", notes)
		}
	})
	t.Run("a language the edition has not is its own", func(t *testing.T) {
		title, _, notes, ok := b.Version("de")
		if ok || title != b.Title || notes[0] != b.Items[0].Note {
			t.Fatalf("de: %q %v %q", title, ok, notes)
		}
	})
	if got := b.Languages(); !slices.Equal(got, []string{"en", "fr"}) {
		t.Fatalf("Languages() = %q", got)
	}
}

func TestValidEdition(t *testing.T) {
	for s, ok := range map[string]bool{"2026-03": true, "2026-12": true, "2026-09": true, "2026-01": false, "26-03": false,
		"2026-03-01": false, "1999-12": false, "2026-00": false, "": false} {
		if err := ValidEdition(s); (err == nil) != ok {
			t.Errorf("ValidEdition(%q) = %v", s, err)
		}
	}
}
