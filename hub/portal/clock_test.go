package portal_test

import (
	"strings"
	"testing"
	"time"
)

// A node whose clock (or whose author) dates a change in 2099 must not pin
// it at the top of every list the portal orders by recency.
func TestPortal_FutureUpdatedAtIsClamped(t *testing.T) {
	n := startHub(t)
	be := n.node("be")
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	future := be.push(draft{kind: "resource", vis: "public", updatedAt: &y2099,
		body: resourceBody("Pinned guide from the future", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})})[0]
	before := time.Now()
	fresh := be.push(draft{kind: "resource", vis: "public",
		body: resourceBody("Fresh guide", "en", []string{"en"}, 8, 12, "guide", []string{"privacy"})})[0]
	n.waitIndexed()

	var api struct {
		Resources []struct {
			ID        string    `json:"id"`
			UpdatedAt time.Time `json:"updated_at"`
		} `json:"resources"`
	}
	n.getJSON("/api/v1/resources?sort=newest", &api)
	if len(api.Resources) != 2 || api.Resources[0].ID != fresh || api.Resources[1].ID != future {
		t.Fatalf("newest first: %+v, want %s then %s", api.Resources, fresh, future)
	}
	if got := api.Resources[1].UpdatedAt; got.After(before) {
		t.Errorf("the 2099 resource is dated %s, want its receipt, before %s", got, before)
	}

	for _, path := range []string{"/feed.atom", "/feed.rss", "/feed.json", "/sitemaps/resources-1.xml"} {
		body := n.getOK(path)
		if strings.Contains(body, "2099") {
			t.Errorf("%s shows 2099", path)
		}
		if path != "/sitemaps/resources-1.xml" {
			if i, j := strings.Index(body, fresh), strings.Index(body, future); i < 0 || j < 0 || i > j {
				t.Errorf("%s: the fresh resource (at %d) does not come before the 2099 one (at %d)", path, i, j)
			}
		}
	}
	for _, path := range []string{"/", "/resources", "/news", "/resources/" + future} {
		if body := n.getOK(path); strings.Contains(body, "2099") {
			t.Errorf("%s shows 2099", path)
		}
	}
	oai := n.getOK("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc")
	if strings.Contains(oai, "<datestamp>2099") {
		t.Error("an OAI-PMH datestamp is in 2099")
	}
}
