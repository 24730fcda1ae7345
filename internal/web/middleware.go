package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/bikfed/bikfed/internal/account"
)

// Wrap puts next behind the site's middleware, outermost first: language,
// session, then cross-site request forgery protection.
func (s *Site) Wrap(next http.Handler) http.Handler {
	return s.Locale(s.Session(s.Protect(next)))
}

// Locale picks the request's language from ?lang=, the language cookie or
// Accept-Language, and keeps a choice made with ?lang= in the cookie.
func (s *Site) Locale(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := s.bundle.FromRequest(r, s.cfg.LangCookie)
		// The cookie keeps the language chosen, not the words of the
		// choice: ?lang=pt-BR keeps pt.
		if chosen, ok := s.bundle.Choice(r.URL.Query().Get("lang")); ok && s.cfg.LangCookie != "" {
			http.SetCookie(w, &http.Cookie{Name: s.cfg.LangCookie, Value: chosen, Path: "/", MaxAge: 365 * 24 * 3600,
				Secure: s.cfg.Secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		next.ServeHTTP(w, withValue(r, printerKey, s.bundle.Printer(lang)))
	})
}

// Session signs the request in when it carries the cookie of a live session.
// A cookie that names no live session is removed.
func (s *Site) Session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.store.CookieName(s.cfg.Secure))
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		sess, m, err := s.store.Lookup(r.Context(), c.Value)
		switch {
		case errors.Is(err, account.ErrNoSession):
			http.SetCookie(w, s.store.ClearCookie(s.cfg.Secure))
			next.ServeHTTP(w, withValue(r, endedKey, true))
		case err != nil:
			s.log.Error("look up session", "err", err)
			s.Error(w, r, http.StatusInternalServerError, "")
		default:
			next.ServeHTTP(w, withValue(r, sessionKey, &signedIn{session: sess, member: m, token: c.Value}))
		}
	})
}

// RequireSignIn sends a visitor who is not signed in to the sign-in page,
// which brings them back here afterwards.
func (s *Site) RequireSignIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := Member(r); ok {
			next.ServeHTTP(w, r)
			return
		}
		q := url.Values{}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if next := SafeNext(r.URL.RequestURI()); next != "" {
				q.Set("next", next)
			}
		}
		// A browser whose session ended (signed out elsewhere, expired,
		// disabled) is told so, rather than just shown the form.
		if ended, _ := r.Context().Value(endedKey).(bool); ended {
			q.Set("done", "ended")
		}
		to := s.cfg.SignIn
		if len(q) > 0 {
			to += "?" + q.Encode()
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// RequireRole lets through a signed-in member who holds at least one of
// roles and refuses everyone else. It includes RequireSignIn.
func (s *Site) RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m, _ := Member(r)
			if !slices.ContainsFunc(roles, m.HasRole) {
				s.Error(w, r, http.StatusForbidden, "error.role")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}
