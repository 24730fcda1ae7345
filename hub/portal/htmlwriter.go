package portal

import "strings"

// These append HTML with the escaping html/template would apply in each
// context, for the pages written by Go code instead of executed from a
// template (see gallery.go). Each names its context; a test renders the same
// data through the template and requires the same bytes. Markup itself is
// appended as it is.

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

// appendText appends s as element content or a quoted attribute value.
func appendText(b []byte, s string) []byte {
	for {
		i := 0
		for i < len(s) && htmlPlain[s[i]] {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			return b
		}
		b = append(b, htmlEscapes[s[i]]...)
		s = s[i+1:]
	}
}

// appendURL appends s as a whole URL attribute value (href="{{.}}"): an
// unsafe scheme is replaced, then the URL is normalised and
// attribute-escaped.
func appendURL(b []byte, s string) []byte {
	if !safeURL(s) {
		s = "#ZgotmplZ"
	}
	return appendURLPart(b, s)
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

// appendURLPart appends s as part of a URL attribute value after its start
// (href="/{{.}}/"): normalised and attribute-escaped, not filtered.
func appendURLPart(b []byte, s string) []byte {
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
		b = append(b, s[last:i]...)
		last = i + 1
		if urlBytes[c] == urlAttr {
			b = append(b, htmlEscapes[c]...)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return append(b, s[last:]...)
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
