package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// A post the hub's moderators hide leaves the community threads of every
// node once it pulls the decision, except its own SIC's view, which shows it
// hidden with the reason.
func TestE2E_ModerationHidesAcrossNodes(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	nw.startNode(be)
	nw.startNode(fi)

	out := mustCLI(t, mustJSON(t, communityPost("be").Body), "node", "create", "--kind", "post", "--visibility", "community", "--file", "-", "--data", be.dir)
	var post node.Entity
	if err := json.Unmarshal([]byte(out), &post); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "fi to hold be's post", func() error {
		_, err := runCLI(t, nil, "node", "get", post.ID, "--data", fi.dir)
		return err
	})

	const reason = "Names a child who contacted the helpline."
	mod, _ := json.Marshal(protocol.Moderation{Target: post.ID, Decision: "hide", Reason: reason})
	modID := strings.TrimSpace(mustCLI(t, mod, "hub", "publish", "--kind", "moderation", "--visibility", "community", "--data", nw.hubDir))
	waitFor(t, 60*time.Second, "fi to hold the decision", func() error {
		_, err := runCLI(t, nil, "node", "get", modID, "--data", fi.dir)
		return err
	})
	fi.proc.stop()

	cfg := node.DefaultConfig()
	cfg.DataDir = fi.dir
	n, err := node.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	l, err := n.CommunityThreads(t.Context(), node.ThreadQuery{Space: "helplines"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(l.Threads, func(s node.ThreadSummary) bool { return s.Post == post.ID }) {
		t.Errorf("fi lists the hidden post: %+v", l.Threads)
	}
	// The post is in fi's index: be's own view would list it.
	l, err = n.CommunityThreads(t.Context(), node.ThreadQuery{Space: "helplines", HiddenOf: "be"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Threads) != 1 || l.Threads[0].Post != post.ID || !l.Threads[0].Hidden || l.Threads[0].HiddenReason != reason {
		t.Errorf("the author's view: %+v", l.Threads)
	}
}
