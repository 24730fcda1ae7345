package portal

import (
	"strconv"
	"strings"
)

// htmlWriter builds a page with the escaping html/template would apply in
// each context, for the pages written by Go code instead of executed from a
// template (see gallery.go). Every method names its context; a test renders
// the same data through the template and requires the same bytes.
type htmlWriter struct{ b []byte }

// raw writes markup as it is.
func (w *htmlWriter) raw(s string) { w.b = append(w.b, s...) }

// text writes s as element content or a quoted attribute value: html/template's
// htmlEscaper, attrEscaper and rcdataEscaper agree on plain strings.
func (w *htmlWriter) text(s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		w.b = append(w.b, s[last:i]...)
		w.b = append(w.b, repl...)
		last = i + 1
	}
	w.b = append(w.b, s[last:]...)
}

// int writes a number as element content.
func (w *htmlWriter) int(n int) { w.b = strconv.AppendInt(w.b, int64(n), 10) }

// url writes s as a whole URL attribute value (href="{{.}}"): an unsafe
// scheme is replaced, then the URL is normalised and attribute-escaped.
func (w *htmlWriter) url(s string) {
	if !safeURL(s) {
		s = "#ZgotmplZ"
	}
	w.urlPart(s)
}

// urlPart writes s as part of a URL attribute value after its start
// (href="/{{.}}/"): normalised and attribute-escaped, not filtered.
func (w *htmlWriter) urlPart(s string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '&':
			w.b = append(w.b, "&amp;"...)
		case c == '+':
			w.b = append(w.b, "&#43;"...)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$*,/:;=?@[]-._~", c) >= 0,
			c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			w.b = append(w.b, c)
		default:
			w.b = append(w.b, '%', hex[c>>4], hex[c&15])
		}
	}
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// safeURL is html/template's test of a URL's scheme.
func safeURL(s string) bool {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "mailto")
	}
	return true
}
