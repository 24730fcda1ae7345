package web

import (
	"crypto/subtle"
	"mime"
	"net/http"
)

// FormField is the name of the hidden field that carries a form's token.
const FormField = "form_token"

// FormToken returns the token that the forms of a signed-in member's pages
// carry, or "" for a visitor.
func (s *Site) FormToken(r *http.Request) string {
	sess, _, ok := Session(r)
	if !ok {
		return ""
	}
	return s.formToken(sess.ID)
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// Protect refuses state-changing requests that another site could have
// made. net/http's CrossOriginProtection refuses any that a browser marks
// as coming from another origin (Sec-Fetch-Site, else Origin). Behind it,
// a signed-in member's request must also carry the token of their session:
// the FormField of an ordinary form, or, for a file upload whose body must
// stream, the same name in the query of the form's action. A visitor has no
// session for a forged request to act with; a forged sign-in is what the
// origin check and the SameSite cookie stop.
//
// Ordinary form bodies are limited to Config.MaxFormBytes.
func (s *Site) Protect(next http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSafe(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "multipart/form-data" {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxFormBytes)
		}
		want := s.FormToken(r)
		if want == "" {
			next.ServeHTTP(w, r)
			return
		}
		var got string
		if ct == "multipart/form-data" {
			got = r.URL.Query().Get(FormField)
		} else {
			if err := r.ParseForm(); err != nil {
				s.Error(w, r, http.StatusBadRequest, "")
				return
			}
			got = r.PostForm.Get(FormField)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.log.Info("form token refused", "method", r.Method, "path", r.URL.Path, "present", got != "")
			s.Error(w, r, http.StatusForbidden, "error.forged")
			return
		}
		next.ServeHTTP(w, r)
	})
	return s.cop.Handler(inner)
}
