package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/bikfed/bikfed/internal/httplimit"
)

// ErrorData is what the error page shows.
type ErrorData struct {
	Status  int
	Title   string // message id
	Message string // message id
	When    string // for a wait: "in 3 minutes"
}

// Error writes the error page for status. message is the id of a message
// that says more than the status's own, or "" for that one.
func (s *Site) Error(w http.ResponseWriter, r *http.Request, status int, message string) {
	d := ErrorData{Status: status, Title: "error.500.title", Message: message}
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		d.Title = "error." + strconv.Itoa(status) + ".title"
	default:
		status = http.StatusInternalServerError
	}
	if d.Message == "" {
		d.Message = "error." + strconv.Itoa(status) + ".body"
	}
	s.errors.Render(w, r, status, "error", d)
}

// TooMany writes the 429 page for a client that may try again after wait,
// with a Retry-After header in whole seconds.
func (s *Site) TooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(wait)))
	s.errors.Render(w, r, http.StatusTooManyRequests, "error", ErrorData{Status: http.StatusTooManyRequests,
		Title: "error.429.title", Message: "error.429.body", When: s.printer(r).In(wait)})
}

// NotFound writes the 404 page.
func (s *Site) NotFound(w http.ResponseWriter, r *http.Request) {
	s.Error(w, r, http.StatusNotFound, "")
}
