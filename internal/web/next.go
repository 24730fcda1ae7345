package web

import (
	"net/url"
	"strings"
)

// SafeNext returns next if it is a path on this site, and "" otherwise,
// so that a link to the sign-in page cannot send someone on to another
// site after they sign in. Browsers read "//host", "/\host" and a path
// with a tab or line break in it as addresses elsewhere; all are refused.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	if len(next) > 2048 || strings.ContainsAny(next, "\\\t\r\n\x00") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}
