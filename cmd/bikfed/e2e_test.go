package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
)

// importNDJSON writes drafts as NDJSON and imports them with the node CLI.
func importDrafts(t testing.TB, n *testNode, drafts []sampledata.Draft) {
	t.Helper()
	var b strings.Builder
	for _, d := range drafts {
		line, err := json.Marshal(map[string]any{"kind": d.Kind, "visibility": d.Visibility, "publish_at": d.PublishAt, "body": d.Body})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	mustCLI(t, []byte(b.String()), "node", "import", "-", "--data", n.dir)
}

// communityPost is a Community of Practice post, which must reach the other nodes
// but never a public surface.
func communityPost(owner string) sampledata.Draft {
	body, _ := json.Marshal(map[string]any{
		"space": "helplines", "format": "thread", "language": "en", "author": map[string]any{"name": "helpline-" + owner, "sic": owner},
		"title": "Sextortion contacts rising after the holidays (" + owner + ")",
		"text":  "Our helpline saw more sextortion contacts this month; how are other helplines handling follow-up with parents?",
	})
	return sampledata.Draft{Kind: "post", Visibility: "community", Body: body}
}

func nodeStatus(t testing.TB, n *testNode) node.Status {
	t.Helper()
	out := mustCLI(t, nil, "node", "status", "--json", "--data", n.dir)
	var st node.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("node status: %v\n%s", err, out)
	}
	return st
}

// ownerCounts is how many entities of owner a node holds, from its status.
func ownerCounts(t testing.TB, n *testNode, owner string) int {
	t.Helper()
	total := 0
	for _, c := range nodeStatus(t, n).Counts {
		if c.Owner == owner {
			total += int(c.Count)
		}
	}
	return total
}

func verifyAll(nw *network) error {
	for _, id := range sortedIDs(nw.nodes) {
		if err := nw.verify(nw.nodes[id]); err != nil {
			return err
		}
	}
	return nil
}

func sortedIDs(m map[string]*testNode) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
	return ids
}

// fastSync makes the cron backstop frequent, so tests converge in seconds.
var fastSync = []string{"--push-schedule", "@every 1s", "--pull-schedule", "@every 1s", "--push-debounce", "100ms"}

func TestE2E_ThreeNodesConverge(t *testing.T) {
	nw := newNetwork(t)
	want := map[string]int{}
	for i, id := range []string{"be", "fi", "pt"} {
		n := nw.addNode(id, fastSync...)
		drafts := append(sampledata.Synthetic(id, 40+i*10, int64(i+1)), communityPost(id))
		importDrafts(t, n, drafts)
		want[id] = len(drafts)
		nw.startNode(n)
	}
	waitFor(t, 60*time.Second, "every node to verify equal with the hub", func() error { return verifyAll(nw) })
	for _, holder := range sortedIDs(nw.nodes) {
		for owner, n := range want {
			if got := ownerCounts(t, nw.nodes[holder], owner); got != n {
				t.Errorf("%s holds %d entities of %s, want %d", holder, got, owner, n)
			}
		}
	}
	st, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Entities != want["be"]+want["fi"]+want["pt"] {
		t.Errorf("hub holds %d entities, want %d", st.Entities, want["be"]+want["fi"]+want["pt"])
	}
	for _, ns := range st.Nodes {
		if ns.RefusalCount != 0 || ns.PushLag != 0 {
			t.Errorf("node %s: %d refusals, push lag %d; want none", ns.Node, ns.RefusalCount, ns.PushLag)
		}
	}
}

func TestE2E_HubKilledMidPush(t *testing.T) {
	const total = 12000
	nw := newNetwork(t)
	be := nw.addNode("be", "--push-batch", "200", "--push-schedule", "@every 1s", "--pull-schedule", "@every 1s")
	fi := nw.addNode("fi", fastSync...)
	importDrafts(t, be, sampledata.Synthetic("be", total, 42))
	nw.startNode(fi)
	nw.startNode(be)
	// Kill the hub once part, but not all, of the outbox has been applied.
	waitFor(t, 60*time.Second, "the push to be under way", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.Node == "be" && n.AppliedSeq > 0 {
				if n.AppliedSeq >= total {
					return fmt.Errorf("push already finished")
				}
				return nil
			}
		}
		return fmt.Errorf("nothing applied yet")
	})
	epoch := nodeStatus(t, be).Epoch
	nw.hub.kill()
	nw.startHub()
	waitFor(t, 120*time.Second, "be and fi to converge after the crash", func() error { return verifyAll(nw) })
	if got := nodeStatus(t, be).Epoch; got != epoch {
		t.Errorf("be started a new epoch (%s, was %s): nothing was lost, its push was only cut off", got, epoch)
	}
	st, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Entities != total {
		t.Errorf("hub holds %d entities after the crash, want exactly %d", st.Entities, total)
	}
	if got := ownerCounts(t, fi, "be"); got != total {
		t.Errorf("fi holds %d of be's entities, want %d", got, total)
	}
	m := nw.manifest()
	for _, o := range m.Owners {
		if o.Owner == "be" && o.Count != total {
			t.Errorf("hub manifest counts %d for be, want %d", o.Count, total)
		}
	}
}

func TestE2E_NodeOfflineCatchesUp(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	importDrafts(t, be, sampledata.Synthetic("be", 5, 1))
	importDrafts(t, fi, sampledata.Synthetic("fi", 5, 2))
	nw.startNode(be)
	nw.startNode(fi)
	waitFor(t, 60*time.Second, "first convergence", func() error { return verifyAll(nw) })

	fi.proc.stop()
	// While fi is offline both sides publish.
	importDrafts(t, be, sampledata.Synthetic("be", 7, 3))
	importDrafts(t, fi, sampledata.Synthetic("fi", 9, 4))
	waitFor(t, 30*time.Second, "be's new content to reach the hub", func() error { return nw.verify(be) })
	if st := nodeStatus(t, fi); st.Pending != 9 {
		t.Errorf("offline fi has %d pending changes, want 9", st.Pending)
	}
	nw.startNode(fi)
	waitFor(t, 60*time.Second, "fi to catch up both ways", func() error { return verifyAll(nw) })
	if got := ownerCounts(t, fi, "be"); got != 12 {
		t.Errorf("fi holds %d of be's entities, want 12", got)
	}
	if got := ownerCounts(t, be, "fi"); got != 14 {
		t.Errorf("be holds %d of fi's entities, want 14", got)
	}
}

func TestE2E_NodeDatabaseLost(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	importDrafts(t, be, append(sampledata.Synthetic("be", 30, 7), communityPost("be")))
	importDrafts(t, fi, sampledata.Synthetic("fi", 10, 8))
	nw.startNode(be)
	nw.startNode(fi)
	waitFor(t, 60*time.Second, "first convergence", func() error { return verifyAll(nw) })
	before := mustCLI(t, nil, "node", "list", "--data", be.dir, "--owner", "be", "--limit", "1000")

	be.proc.stop()
	for _, f := range []string{"node.db", "node.db-wal", "node.db-shm"} {
		os.Remove(filepath.Join(be.dir, f))
	}
	mustCLI(t, nil, "node", "init", "--data", be.dir, "--hub", nw.hubURL, "--token", nw.register("be"))
	nw.startNode(be)
	waitFor(t, 60*time.Second, "be to re-adopt its content", func() error { return verifyAll(nw) })
	after := mustCLI(t, nil, "node", "list", "--data", be.dir, "--owner", "be", "--limit", "1000")
	if ids(before) != ids(after) {
		t.Fatalf("be's own entities differ after recovery:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := ownerCounts(t, be, "fi"); got != 10 {
		t.Errorf("recovered be holds %d of fi's entities, want 10", got)
	}
	// The recovered node owns its content again: an update goes out with the next version.
	// A resource's: be also owns a community post, whose id may sort first.
	id := firstID(mustCLI(t, nil, "node", "list", "--data", be.dir, "--owner", "be", "--kind", "resource", "--limit", "1000"), "be:")
	body := `{"title":"Updated after recovery","description":"A guide kept safe by the hub while the node was rebuilt.","language":"en","languages":["en"],"age_min":9,"age_max":12,"audiences":["children"],"topics":["privacy"],"type":"guide"}`
	out := mustCLI(t, []byte(body), "node", "update", id, "--data", be.dir, "--kind", "resource", "--file", "-")
	var ent node.Entity
	if err := json.Unmarshal([]byte(out), &ent); err != nil {
		t.Fatal(err)
	}
	if ent.Version < 2 {
		t.Errorf("update after recovery has version %d, want it past the adopted version", ent.Version)
	}
	waitFor(t, 60*time.Second, "the update to reach fi", func() error {
		out, err := runCLI(t, nil, "node", "get", id, "--data", fi.dir)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "Updated after recovery") {
			return fmt.Errorf("fi still has the old version")
		}
		return nil
	})
	if st := nodeStatus(t, be); len(st.Refusals) != 0 {
		t.Errorf("recovered be has refusals: %+v", st.Refusals)
	}
}

// ids extracts the sorted entity ids of a node list output.
func ids(list string) string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.Contains(f[0], ":") {
			out = append(out, f[0])
		}
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return strings.Join(out, "\n")
}

func firstID(list, prefix string) string {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			return f[0]
		}
	}
	return ""
}
