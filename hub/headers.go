package hub

import "net/http"

// withBaseHeaders gives every answer of the hub the headers that are right
// for all of them: no content-type sniffing (an attachment or a JSON body
// is never run as a page) and no framing. The portal, the console and
// attachments set stricter policies of their own over these.
func withBaseHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
