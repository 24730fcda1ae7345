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

// htmlEscapes are html/template's replacements in element content and
// quoted attribute values (htmlEscaper, attrEscaper and rcdataEscaper agree
// on plain strings); "" where a byte stays as it is.
var htmlEscapes = [256]string{0: "\uFFFD", '"': "&#34;", '&': "&amp;", '\'': "&#39;", '+': "&#43;", '<': "&lt;", '>': "&gt;"}

// htmlPlain marks the bytes htmlEscapes leaves as they are.
var htmlPlain = func() (t [256]bool) {
	for c, repl := range htmlEscapes {
		t[c] = repl == ""
	}
	return t
}()

// text writes s as element content or a quoted attribute value.
func (w *htmlWriter) text(s string) {
	for {
		i := 0
		for i < len(s) && htmlPlain[s[i]] {
			i++
		}
		w.b = append(w.b, s[:i]...)
		if i == len(s) {
			return
		}
		w.b = append(w.b, htmlEscapes[s[i]]...)
		s = s[i+1:]
	}
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

// urlBytes classifies bytes for html/template's URL normaliser followed by
// its attribute escaper: kept, escaped for the attribute, or percent-encoded.
var urlBytes = func() (t [256]byte) {
	for c := range t {
		t[c] = urlEncode
	}
	for _, c := range []byte("!#$*,/:;=?@[]-._~abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
		t[c] = urlKeep
	}
	t['&'], t['+'], t['%'] = urlAttr, urlAttr, urlPercent
	return t
}()

const (
	urlEncode = iota
	urlKeep
	urlAttr    // kept by the normaliser, escaped for the attribute
	urlPercent // kept when it starts an escape
)

// urlPart writes s as part of a URL attribute value after its start
// (href="/{{.}}/"): normalised and attribute-escaped, not filtered.
func (w *htmlWriter) urlPart(s string) {
	const hex = "0123456789abcdef"
	last := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch urlBytes[c] {
		case urlKeep:
			continue
		case urlPercent:
			if i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				continue
			}
		}
		w.b = append(w.b, s[last:i]...)
		last = i + 1
		switch urlBytes[c] {
		case urlAttr:
			w.b = append(w.b, htmlEscapes[c]...)
		default:
			w.b = append(w.b, '%', hex[c>>4], hex[c&15])
		}
	}
	w.b = append(w.b, s[last:]...)
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
