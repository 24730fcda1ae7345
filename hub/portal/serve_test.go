package portal_test

import (
	"os"
	"os/signal"
	"testing"
)

// TestPortal_Serve serves the sample network's portal until interrupted,
// for looking at it by hand: PORTAL_SERVE=1 go test ./hub/portal -run Serve -v
func TestPortal_Serve(t *testing.T) {
	if os.Getenv("PORTAL_SERVE") == "" {
		t.Skip("set PORTAL_SERVE=1 to serve the sample portal")
	}
	n := startHub(t)
	n.seedSamples()
	t.Logf("portal at %s", n.url)
	os.WriteFile(os.Getenv("PORTAL_SERVE"), []byte(n.url), 0o644)
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	<-c
}
