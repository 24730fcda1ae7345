package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
)

// runCLIStderr runs a command and returns its standard error too.
func runCLIStderr(t testing.TB, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bikfedBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bikfed %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

func TestE2E_FirstSyncShowsProgress(t *testing.T) {
	const total = 5000
	nw := newNetwork(t)
	be := nw.addNode("be")
	importDrafts(t, be, sampledata.Synthetic("be", total, 5))
	mustCLI(t, nil, "node", "sync", "--data", be.dir)

	fi := nw.addNode("fi")
	out, errOut := runCLIStderr(t, "node", "sync", "--data", fi.dir)
	if !strings.Contains(errOut, "sync [") || !strings.Contains(errOut, "100%") {
		t.Errorf("a first sync of %d changes showed no progress bar; stderr:\n%s", total, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("pull cursor %d of %d", total, total)) {
		t.Errorf("sync summary: %s", out)
	}
	// A routine sync with nothing to do prints no bar.
	_, errOut = runCLIStderr(t, "node", "sync", "--data", fi.dir)
	if strings.Contains(errOut, "sync [") {
		t.Errorf("an idle sync drew a progress bar:\n%s", errOut)
	}
	if err := nw.verify(fi); err != nil {
		t.Fatal(err)
	}
}

func TestE2E_ScheduledPublication(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", "--publish-schedule", "@every 1s", "--push-schedule", "@every 1s", "--push-debounce", "100ms")
	publishAt := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
	body := `{"title":"Safer Internet Day 2027 classroom kit","description":"Embargoed until the day itself.","language":"nl-BE","languages":["nl-BE"],"age_min":10,"age_max":14,"audiences":["teachers"],"topics":["media-literacy"],"type":"lesson-plan","minisites":["sid"]}`
	out := mustCLI(t, []byte(body), "node", "create", "--data", be.dir, "--kind", "resource", "--publish-at", publishAt.Format(time.RFC3339), "--file", "-")
	var ent node.Entity
	if err := json.Unmarshal([]byte(out), &ent); err != nil {
		t.Fatal(err)
	}
	if ent.State != "scheduled" {
		t.Fatalf("embargoed resource is %q, want scheduled", ent.State)
	}
	nw.startNode(be)
	publicStatus := func() int {
		resp, err := http.Get(nw.hubURL + "/api/v1/entities/" + ent.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Before publish_at the resource has not left the node.
	for time.Now().Before(publishAt.Add(-time.Second)) {
		if code := publicStatus(); code != http.StatusNotFound {
			t.Fatalf("embargoed resource visible on the hub before %s (HTTP %d)", publishAt, code)
		}
		st, err := nw.status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Entities != 0 {
			t.Fatalf("hub holds %d entities before the embargo lifts", st.Entities)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, 20*time.Second, "the embargoed resource to go live", func() error {
		if code := publicStatus(); code != http.StatusOK {
			return fmt.Errorf("HTTP %d", code)
		}
		return nil
	})
	if time.Now().Before(publishAt) {
		t.Fatalf("published before its time %s", publishAt)
	}
}
