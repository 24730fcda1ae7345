package portal

import (
	"html/template"
	"strings"
	"testing"
)

// FuzzHTMLWriter checks the page writer's escaping against html/template's in
// each context it is used in.
func FuzzHTMLWriter(f *testing.F) {
	for _, s := range []string{"", "plain", `<b>"q" & 'a' + b</b>`, "\x00nul", "\xff\xfe", "/resources?lang=fi&q=a+b%26c", "%zz%4",
		"javascript:alert(1)", "HTTPS://x.example/ä ö", "mailto:a@b", "a:b/c", "/x:y", "ñ🙂\u00a0\u2028"} {
		f.Add(s)
	}
	tmpl := template.Must(template.New("").Parse(`<title>{{.}}</title><p title="{{.}}">{{.}}</p><a href="{{.}}">x</a><a href="/{{.}}/">y</a>`))
	f.Fuzz(func(t *testing.T, s string) {
		var want strings.Builder
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		b := []byte("<title>")
		b = appendText(b, s)
		b = append(b, `</title><p title="`...)
		b = appendText(b, s)
		b = append(b, `">`...)
		b = appendText(b, s)
		b = append(b, `</p><a href="`...)
		b = appendURL(b, s)
		b = append(b, `">x</a><a href="/`...)
		b = appendURLPart(b, s)
		b = append(b, `/">y</a>`...)
		if got := string(b); got != want.String() {
			t.Fatalf("%q:\ngot  %s\nwant %s", s, got, want.String())
		}
	})
}
