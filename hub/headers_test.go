package hub

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
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
	t.Run("API, sync API and status page", func(t *testing.T) {
		for _, path := range []string{"/api/v1/entities", "/api/v1/entities/be:01JKT3S6M00M2GA1850M2GA185", "/v1/keys", "/v1/status", "/healthz", "/status"} {
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

// The status page allows exactly its own stylesheet, by hash.
func TestHub_StatusPage_StyleHash(t *testing.T) {
	th := mustOpenHub(t)
	resp, err := http.Get(th.url + "/status/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q allows any inline style", csp)
	}
	page := string(body)
	i, j := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if i < 0 || j < i {
		t.Fatal("no stylesheet in the page")
	}
	sum := sha256.Sum256([]byte(page[i+len("<style>") : j]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
	}
}
