package web

import (
	"context"
	"net/http"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
)

type ctxKey int

const (
	printerKey ctxKey = iota
	sessionKey
	endedKey
)

type signedIn struct {
	session account.Session
	member  account.Member
	token   string
}

// Printer returns the request's language, set by the Locale middleware, or
// nil outside it.
func Printer(r *http.Request) *locale.Printer {
	p, _ := r.Context().Value(printerKey).(*locale.Printer)
	return p
}

// Member returns the signed-in member, set by the Session middleware.
func Member(r *http.Request) (account.Member, bool) {
	si, ok := r.Context().Value(sessionKey).(*signedIn)
	if !ok {
		return account.Member{}, false
	}
	return si.member, true
}

// Session returns the signed-in member's session and its cookie's token.
func Session(r *http.Request) (account.Session, string, bool) {
	si, ok := r.Context().Value(sessionKey).(*signedIn)
	if !ok {
		return account.Session{}, "", false
	}
	return si.session, si.token, true
}

func withValue(r *http.Request, k ctxKey, v any) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), k, v))
}
