package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub/portal"
)

// TestPortal_Headers: pages forbid scripts and framing and keep referrers
// to the origin; the JSON API and the feeds may be read from any origin,
// preflight included, and the pages may not.
func TestPortal_Headers(t *testing.T) {
	n := startHub(t)
	n.seedSamples()
	for _, path := range []string{"/", "/resources", "/help", "/sid/", "/no-such-page"} {
		resp, _ := n.get(path, "Origin: https://example.org")
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'none'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q allows inline code", path, csp)
		}
		if got := h.Get("Referrer-Policy"); got != "strict-origin-when-cross-origin" {
			t.Errorf("%s: Referrer-Policy %q", path, got)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s: a page allows cross-origin reads (%q)", path, got)
		}
	}
	for _, path := range []string{"/api/v1/resources", "/feed.atom", "/feed.rss", "/feed.json", "/sid/feed.json"} {
		resp, _ := n.get(path, "Origin: https://example.org")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want *", path, got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q", path, got)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, n.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://example.org")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "if-none-match")
		pre, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pre.Body.Close()
		if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "GET") ||
			!strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "if-none-match") {
			t.Errorf("%s: preflight %s %v", path, pre.Status, pre.Header)
		}
	}
	// A preflight for a page is refused like any other method.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, n.url+"/resources", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS /resources: %s, Access-Control-Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestValidateOrigin: a media origin goes into the pages'
// Content-Security-Policy, so anything but a bare origin is refused.
func TestValidateOrigin(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"https://store.example.org", true},
		{"http://127.0.0.1:9000", true},
		{"https://store.example.org/", false},
		{"https://store.example.org/bucket", false},
		{"ftp://store.example.org", false},
		{"store.example.org", false},
		{"https://a.example.org 'unsafe-inline'", false},
		{"https://a.example.org;script-src", false},
		{"https://user@a.example.org", false},
		{"", false},
	} {
		if err := portal.ValidateOrigin(tt.in); (err == nil) != tt.ok {
			t.Errorf("ValidateOrigin(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
