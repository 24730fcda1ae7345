package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// blobFile is where a node's store keeps blob sha.
func blobFile(n *testNode, sha string) string {
	return filepath.Join(n.dir, "blobs", sha[0:2], sha[2:4], sha)
}

// holdsBlob reports whether n's blob store has the file of sha.
func holdsBlob(t *testing.T, n *testNode, sha string) bool {
	t.Helper()
	_, err := os.Stat(blobFile(n, sha))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// erasureStatus returns the hub's status of the erasure of id.
func erasureStatus(nw *network, id string) (protocol.Erasure, error) {
	st, err := nw.status()
	if err != nil {
		return protocol.Erasure{}, err
	}
	for _, e := range st.Erasures {
		if e.ID == id {
			return e, nil
		}
	}
	return protocol.Erasure{}, fmt.Errorf("no erasure of %s in the status", id)
}

// createWithAttachment has n publish a public resource with a small
// attachment through its CLI, and returns the entity id and the blob's hash.
func createWithAttachment(t *testing.T, n *testNode, title string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "consent-form.txt")
	if err := os.WriteFile(path, []byte("Consent form of a pupil, "+title), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, title), "--attach", path, "--data", n.dir)
	var ent struct {
		ID    string             `json:"id"`
		Blobs []protocol.BlobRef `json:"blobs"`
	}
	if err := json.Unmarshal([]byte(out), &ent); err != nil || len(ent.Blobs) != 1 {
		t.Fatalf("create: %v\n%s", err, out)
	}
	return ent.ID, ent.Blobs[0].SHA256
}

// TestE2E_ErasureAcknowledged: be erases its resource with an attachment.
// Every node purges the file when it applies the erasure, its admin API
// refuses it at once, and the hub shows the erasure complete only once every
// holder acknowledged: a stopped node keeps it incomplete until it starts,
// pulls, purges and acknowledges.
func TestE2E_ErasureAcknowledged(t *testing.T) {
	nw := newNetwork(t)
	nodes := map[string]*testNode{}
	for _, id := range []string{"be", "fi", "pt"} {
		nodes[id] = nw.addNode(id, append(fastSync, "--blob-fetch-interval", "200ms")...)
		nw.startNode(nodes[id])
	}
	be, fi, pt := nodes["be"], nodes["fi"], nodes["pt"]
	id, sha := createWithAttachment(t, be, "Class trip")
	waitForBlob(t, fi, sha, 30*time.Second)
	waitForBlob(t, pt, sha, 30*time.Second)
	fiAPI := admin(t, fi)
	if code, _, err := fiAPI.do(http.MethodGet, node.PathAdminBlobs+"/"+sha, nil); err != nil || code != http.StatusOK {
		t.Fatalf("fi serves the attachment before the erasure: %d %v", code, err)
	}

	// pt syncs only when it runs; it is stopped now.
	pt.proc.stop()
	mustCLI(t, nil, "node", "delete", id, "--erase", "--data", be.dir)
	if holdsBlob(t, be, sha) {
		t.Error("be still holds the attachment right after erasing its entity")
	}

	waitFor(t, 30*time.Second, "fi to apply the erasure", func() error {
		code, body, err := fiAPI.do(http.MethodGet, node.PathAdminEntities+"/"+id, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(string(body), `"erased":true`) {
			return fmt.Errorf("fi holds %d %s", code, body)
		}
		return nil
	})
	if code, _, err := fiAPI.do(http.MethodGet, node.PathAdminBlobs+"/"+sha, nil); err != nil || code != http.StatusNotFound {
		t.Errorf("fi's admin API right after the erasure: %d %v, want 404", code, err)
	}
	waitFor(t, 30*time.Second, "fi's acknowledgement", func() error {
		e, err := erasureStatus(nw, id)
		if err != nil {
			return err
		}
		if !slices.Equal(e.Pending, []string{"pt"}) {
			return fmt.Errorf("pending %v", e.Pending)
		}
		return nil
	})
	if holdsBlob(t, fi, sha) {
		t.Error("fi acknowledged the erasure but still holds the attachment")
	}
	if e, err := erasureStatus(nw, id); err != nil || e.Complete {
		t.Fatalf("with pt stopped: %+v, %v", e, err)
	}
	if !holdsBlob(t, pt, sha) {
		t.Fatal("pt lost the attachment while stopped: the test proves nothing")
	}

	nw.startNode(pt)
	waitFor(t, 60*time.Second, "the erasure to complete", func() error {
		e, err := erasureStatus(nw, id)
		if err != nil {
			return err
		}
		if !e.Complete {
			return fmt.Errorf("pending %v", e.Pending)
		}
		// At the moment the hub says complete, no node holds the file.
		for _, n := range nodes {
			if holdsBlob(t, n, sha) {
				t.Fatalf("the erasure is complete but %s still holds the attachment", n.id)
			}
		}
		return nil
	})
	out := mustCLI(t, nil, "hub", "status", "--data", nw.hubDir)
	if !strings.Contains(out, "erasure "+id+": complete") {
		t.Errorf("hub status:\n%s", out)
	}
}

// TestE2E_HubErase: be no longer runs its node; the coordination team erases
// its resource with bikfed hub erase. Every other node purges the
// attachment, and the hub shows the erasure complete, recorded as the
// coordination team's with its reason.
func TestE2E_HubErase(t *testing.T) {
	nw := newNetwork(t)
	nodes := map[string]*testNode{}
	for _, id := range []string{"be", "fi", "pt"} {
		nodes[id] = nw.addNode(id, append(fastSync, "--blob-fetch-interval", "200ms")...)
		nw.startNode(nodes[id])
	}
	be, fi, pt := nodes["be"], nodes["fi"], nodes["pt"]
	id, sha := createWithAttachment(t, be, "School play")
	waitForBlob(t, fi, sha, 30*time.Second)
	waitForBlob(t, pt, sha, 30*time.Second)
	waitFor(t, 30*time.Second, "the resource on the portal", func() error {
		if code, _ := httpGet(t, nw.hubURL+"/api/v1/entities/"+id, ""); code != http.StatusOK {
			return fmt.Errorf("public API: %d", code)
		}
		if code, body := httpGet(t, nw.hubURL+"/resources/"+id, ""); code != http.StatusOK || !strings.Contains(string(body), "School play") {
			return fmt.Errorf("portal page: %d", code)
		}
		return nil
	})
	fileURL := nw.hubURL + protocol.PathFiles + sha + "/consent-form.txt"
	if code, _ := httpGet(t, fileURL, ""); code != http.StatusOK {
		t.Fatalf("the attachment is not public before the erasure: %d", code)
	}
	be.proc.stop()

	const reason = "GDPR request 4411; Safer Internet Centre BE closed its node"
	if _, err := runCLI(t, nil, "hub", "erase", id, "--data", nw.hubDir); err == nil {
		t.Error("hub erase without a reason succeeded")
	}
	out := mustCLI(t, nil, "hub", "erase", id, "--reason", reason, "--data", nw.hubDir)
	if !strings.Contains(out, "erased "+id) {
		t.Errorf("hub erase printed %q", out)
	}
	waitFor(t, 60*time.Second, "the erasure to complete", func() error {
		e, err := erasureStatus(nw, id)
		if err != nil {
			return err
		}
		if e.By != protocol.ErasedByHub || e.Reason != reason {
			t.Fatalf("erasure recorded as %+v", e)
		}
		if !e.Complete {
			return fmt.Errorf("pending %v", e.Pending)
		}
		for _, n := range []*testNode{fi, pt} {
			if holdsBlob(t, n, sha) {
				t.Fatalf("the erasure is complete but %s still holds the attachment", n.id)
			}
		}
		return nil
	})
	// The public API and files answer from the portal's index, which
	// follows the erasure within moments.
	waitFor(t, 30*time.Second, "the erased resource off the public API and files", func() error {
		if code, _ := httpGet(t, nw.hubURL+"/api/v1/entities/"+id, ""); code != http.StatusNotFound {
			return fmt.Errorf("erased resource on the public API: %d", code)
		}
		if code, _ := httpGet(t, fileURL, ""); code != http.StatusNotFound {
			return fmt.Errorf("erased attachment on the portal: %d", code)
		}
		return nil
	})
	waitFor(t, 30*time.Second, "the portal to drop the resource", func() error {
		if _, body := httpGet(t, nw.hubURL+"/resources/"+id, ""); strings.Contains(string(body), "School play") {
			return errors.New("the portal still shows it")
		}
		return nil
	})
	for _, n := range []*testNode{fi, pt} {
		code, body, err := admin(t, n).do(http.MethodGet, node.PathAdminEntities+"/"+id, nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"erased":true`) || strings.Contains(string(body), "School play") {
			t.Errorf("%s holds %d %s %v", n.id, code, body, err)
		}
	}
	status := mustCLI(t, nil, "hub", "status", "--data", nw.hubDir)
	if !strings.Contains(status, "erasure "+id+" (by the coordination team: "+reason+"): complete") {
		t.Errorf("hub status:\n%s", status)
	}
	// The command went through the running hub: its log says it erased.
	b, err := os.ReadFile(filepath.Join(nw.dir, "hub.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "entity erased by the coordination team") {
		t.Error("the running hub did not erase it: hub erase opened the database beside the server")
	}
	again := mustCLI(t, nil, "hub", "erase", id, "--reason", reason, "--data", nw.hubDir)
	if !strings.Contains(again, "erased already") {
		t.Errorf("second hub erase printed %q", again)
	}
}

// TestE2E_HubEraseOffline: with no hub running, hub erase opens the hub's
// database itself (the address file the last server left is stale), and the
// server applies the erasure once it runs again.
func TestE2E_HubEraseOffline(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	nw.startNode(be)
	id, _ := createWithAttachment(t, be, "Sports day")
	waitFor(t, 30*time.Second, "the resource at the hub", func() error {
		if code, _ := httpGet(t, nw.hubURL+"/api/v1/entities/"+id, ""); code != http.StatusOK {
			return fmt.Errorf("%d", code)
		}
		return nil
	})
	be.proc.stop()
	nw.hub.stop()
	out := mustCLI(t, nil, "hub", "erase", id, "--reason", "GDPR request 4412", "--data", nw.hubDir)
	if !strings.Contains(out, "erased "+id) {
		t.Errorf("hub erase printed %q", out)
	}
	nw.startHub()
	e, err := erasureStatus(nw, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.By != protocol.ErasedByHub || e.Reason != "GDPR request 4412" {
		t.Errorf("erasure recorded as %+v", e)
	}
	if code, _ := httpGet(t, nw.hubURL+"/api/v1/entities/"+id, ""); code != http.StatusNotFound {
		t.Errorf("erased resource on the public API: %d", code)
	}
}

// TestE2E_ErasureIsFinal: be erases its resource. Its own node refuses to
// write the entity again, and a later version crafted with be's key and
// pushed with be's credential (a node whose checks were bypassed) is refused
// by name at the hub and never reaches fi, which keeps the erasure.
func TestE2E_ErasureIsFinal(t *testing.T) {
	nw := newNetwork(t)
	be, fi := nw.addNode("be", fastSync...), nw.addNode("fi", fastSync...)
	nw.startNode(be)
	nw.startNode(fi)
	dir := t.TempDir()
	id := createdID(t, mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Personal story of Jane Doe"), "--data", be.dir))
	fiAPI := admin(t, fi)
	fiHolds := func(want string) func() error {
		return func() error {
			code, body, err := fiAPI.do(http.MethodGet, node.PathAdminEntities+"/"+id, nil)
			if err != nil {
				return err
			}
			if code != http.StatusOK || !strings.Contains(string(body), want) {
				return fmt.Errorf("fi holds %d %s", code, body)
			}
			return nil
		}
	}
	waitFor(t, 30*time.Second, "fi to hold the resource", fiHolds("Personal story of Jane Doe"))
	mustCLI(t, nil, "node", "delete", id, "--erase", "--data", be.dir)
	waitFor(t, 30*time.Second, "fi to apply the erasure", fiHolds(`"erased":true`))

	body, err := json.Marshal(protocol.Resource{Title: "Personal story of Jane Doe, again", Description: "Back after its erasure.",
		Language: "en", Languages: []string{"en"}, AgeMin: 10, AgeMax: 14, Audiences: []string{"teachers"}, Topics: []string{"media-literacy"}, Type: "video"})
	if err != nil {
		t.Fatal(err)
	}
	draft, _ := json.Marshal(node.Draft{Kind: protocol.KindResource, Visibility: protocol.VisibilityPublic, Body: body})
	code, answer, err := admin(t, be).do(http.MethodPut, node.PathAdminEntities+"/"+id, draft)
	if err != nil || code != http.StatusGone || !strings.Contains(string(answer), `"code":"erased"`) {
		t.Fatalf("be's node wrote its erased entity again: %d %s %v", code, answer, err)
	}
	waitFor(t, 30*time.Second, "be's erasure at the hub", func() error {
		if st := nodeStatus(t, be); st.Pending != 0 {
			return fmt.Errorf("%d pending", st.Pending)
		}
		return nil
	})
	be.proc.stop()

	// What a node whose own checks were bypassed would push: the next
	// version and seq, signed with be's key, sent with be's credential.
	db := nodeDB(t, be)
	var cred, epoch string
	var version int64
	if err := db.QueryRow(`SELECT i.credential, s.epoch FROM identity i, sync_state s`).Scan(&cred, &epoch); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT version FROM entities WHERE id = ? AND erased`, id).Scan(&version); err != nil {
		t.Fatal(err)
	}
	db.Close()
	seed, err := os.ReadFile(filepath.Join(be.dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := protocol.KeyFromSeed("be", seed)
	if err != nil {
		t.Fatal(err)
	}
	seq := hubNode(t, nw, "be").AppliedSeq + 1
	later := protocol.Change{Protocol: protocol.Version, ID: id, Kind: protocol.KindResource, Owner: "be", Version: version + 1, Seq: seq,
		UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: body, KeyID: key.ID}
	signed, err := key.Sign(&later)
	if err != nil {
		t.Fatal(err)
	}
	before, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(protocol.PushHeader{Node: "be", Epoch: epoch, FromSeq: seq, ToSeq: seq, HeadSeq: seq})
	push := append(protocol.AppendSigned(append(hdr, '\n'), signed), '\n')
	req, _ := http.NewRequest(http.MethodPost, nw.hubURL+protocol.PathPush, bytes.NewReader(push))
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", protocol.ContentTypeNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res protocol.PushResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || res.Applied != 0 || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeErased || res.Refused[0].ID != id {
		t.Fatalf("later version after the erasure: %s %+v; want it refused as erased", resp.Status, res)
	}

	// fi pulls past the moment of the push and still holds the erasure.
	after, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	if after.HubSeq != before.HubSeq {
		t.Fatalf("the hub's head moved from %d to %d", before.HubSeq, after.HubSeq)
	}
	waitFor(t, 30*time.Second, "fi to pull up to the hub's head", func() error {
		if st := nodeStatus(t, fi); st.PullCursor < after.HubSeq {
			return fmt.Errorf("fi's cursor %d, hub's head %d", st.PullCursor, after.HubSeq)
		}
		return nil
	})
	if err := fiHolds(fmt.Sprintf(`"version":%d`, version))(); err != nil {
		t.Fatal(err)
	}
	if err := fiHolds(`"erased":true`)(); err != nil {
		t.Fatal(err)
	}
}
