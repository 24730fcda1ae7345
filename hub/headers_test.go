package hub

import (
	"net/http"
	"strings"
	"testing"
)

func TestHub_Handler_SecurityHeaders(t *testing.T) {
	th := mustOpenHub(t)
	get := func(t *testing.T, path string) http.Header {
		t.Helper()
		resp, err := http.Get(th.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}

	t.Run("portal pages", func(t *testing.T) {
		for _, path := range []string{"/", "/resources", "/resources?q=privacy&lang=en", "/resources/be:01JKT3S6M00M2GA1850M2GA185",
			"/directory", "/help", "/news", "/services", "/feed.atom", "/feed.json", "/oai?verb=Identify", "/sitemap.xml", "/no-such-page"} {
			hd := get(t, path)
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("%s: Content-Security-Policy %q allows inline code", path, csp)
			}
			if got := hd.Get("Referrer-Policy"); got != "strict-origin-when-cross-origin" {
				t.Errorf("%s: Referrer-Policy %q", path, got)
			}
			if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q", path, got)
			}
		}
	})
	t.Run("API and sync API", func(t *testing.T) {
		for _, path := range []string{"/api/v1/entities", "/api/v1/entities/be:01JKT3S6M00M2GA1850M2GA185", "/v1/keys", "/v1/status", "/healthz"} {
			hd := get(t, path)
			if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q", path, got)
			}
			if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: Content-Security-Policy %q does not forbid framing", path, csp)
			}
		}
	})
}
