package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// treeHolds reports the first file under root that holds s, or "", plain
// or inside a compressed change.
func treeHolds(t *testing.T, root, s string) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Changes are stored compressed: look through what they hold too.
		if bytes.Contains(atrest.Reveal(b), []byte(s)) {
			found = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// createAs writes an entity as a member through the node's admin API.
func createAs(t *testing.T, a adminAPI, member string, kind protocol.Kind, body any) string {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"kind": kind, "visibility": "community", "body": body})
	code, out, err := a.do(http.MethodPost, node.PathAdminEntities+"?member="+member, raw)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create a %s as member %s on %s: %d %s %v", kind, member, a.node, code, out, err)
	}
	var e node.Entity
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// holds waits until the node's admin API serves entity id.
func holds(t *testing.T, a adminAPI, id string) {
	t.Helper()
	waitFor(t, 60*time.Second, a.node+" to hold "+id, func() error {
		code, out, err := a.do(http.MethodGet, node.PathAdminEntities+"/"+id, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, out)
		}
		return nil
	})
}

// TestE2E_PersonErasure: a be staff member writes a thread, a comment and
// a flag; a fi member replies. A be admin removes the member with erasure
// in the workspace. After sync rounds, nothing the member wrote, nor their
// name, is in any file of the hub, be or fi (databases, write-ahead logs,
// blob stores), fi's reply stays fi's, and both be's workspace and the
// hub's console show the erasure complete for every holder.
func TestE2E_PersonErasure(t *testing.T) {
	const (
		postMark    = "ERASED-POST-MARKER-4417"
		commentMark = "ERASED-COMMENT-MARKER-9021"
		flagMark    = "ERASED-FLAG-MARKER-5530"
		replyMark   = "FI-REPLY-MARKER-7765"
		name        = "Wout Erasable"
		email       = "wout.erasable@sic.example.be"
	)
	nw := newNetwork(t)
	be, fi := nw.addNode("be", fastSync...), nw.addNode("fi", fastSync...)
	nw.startNode(be)
	nw.startNode(fi)
	beBase := "http://" + waitServing(t, be.dir, nodeAddrFile)
	beAPI, fiAPI := admin(t, be), admin(t, fi)

	wout, _ := addMemberID(t, be, email, name, "staff")
	adminLink := addMember(t, be, "ada@sic.example.be", "Ada Admin", "admin")
	mikko, _ := addMemberID(t, fi, "mikko@sic.example.fi", "Mikko Virtanen", "staff")

	post := createAs(t, beAPI, wout, protocol.KindPost, protocol.Post{Space: "helplines", Format: "thread",
		Title: "Night shifts " + postMark, Text: "How do you staff the helpline at night?", Language: "en"})
	comment := createAs(t, beAPI, wout, protocol.KindComment, protocol.Comment{Post: post, Text: "We pair volunteers. " + commentMark, Language: "en"})
	holds(t, fiAPI, post)
	reply := createAs(t, fiAPI, mikko, protocol.KindComment, protocol.Comment{Post: post, Text: "Two people, always. " + replyMark, Language: "en"})
	holds(t, beAPI, reply)
	flag := createAs(t, beAPI, wout, protocol.KindFlag, protocol.Flag{Target: reply, Reason: "other", Text: "Please check " + flagMark})
	holds(t, fiAPI, comment)
	holds(t, fiAPI, flag)

	// Before the erasure every copy is there: the greps below can fail.
	for _, c := range []struct{ root, s string }{
		{nw.hubDir, postMark}, {nw.hubDir, commentMark}, {nw.hubDir, flagMark}, {nw.hubDir, name},
		{fi.dir, postMark}, {fi.dir, commentMark}, {fi.dir, flagMark}, {fi.dir, name},
		{be.dir, postMark}, {be.dir, email},
	} {
		if treeHolds(t, c.root, c.s) == "" {
			t.Fatalf("%q is in no file under %s before the erasure: the test would show nothing", c.s, c.root)
		}
	}

	b := startWebBrowser(t, t.Name())
	b.do("read English", acceptLanguage("en"))
	b.open(adminLink, "#password")
	b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
	b.do("set the password", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.fill(map[string]string{"#email": "ada@sic.example.be", "#password": testPassword})
	b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	b.open(beBase+"/members/"+wout, "main h1")
	b.mustShow("main h1", name)
	b.check("member")
	b.do("ask to erase", chromedp.Click(chromedp.CSS(`a[href="/members/`+wout+`/erase"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/members/`+wout+`/erase"]`)))
	for _, want := range []string{"1 post\n", "1 comment\n", "1 flag\n", "0 items waiting", email, "cannot be undone"} {
		b.mustShow("main .alert", want)
	}
	if got := treeHolds(t, be.dir, postMark); got == "" {
		t.Fatal("the confirmation page erased already")
	}
	b.check("erase-confirm")
	b.do("confirm", chromedp.Click(chromedp.CSS(`form[action="/members/`+wout+`/erase"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("main .notice")))
	if loc := b.location(); !strings.HasSuffix(loc, "/members/erasures?done=erased") {
		t.Fatalf("after erasing, the browser is at %s", loc)
	}
	b.mustShow("main .notice", "has been removed")
	b.mustShow("section.erasure h2", "Member "+wout)
	b.check("erasures-started")

	waitFor(t, 90*time.Second, "the workspace to show the erasure complete", func() error {
		b.open(beBase+"/members/erasures", "section.erasure")
		if got := b.text("section.erasure h2"); !strings.Contains(got, "Complete") {
			return fmt.Errorf("the erasure is %q: %s", got, b.text("section.erasure table"))
		}
		return nil
	})
	rows := b.text("section.erasure table")
	for _, want := range []string{"be (this node)", "The hub", "fi"} {
		if !strings.Contains(rows, want) {
			t.Errorf("the holders table lacks %q:\n%s", want, rows)
		}
	}
	if strings.Contains(rows, "waiting") {
		t.Errorf("a holder is still waiting on a complete erasure:\n%s", rows)
	}
	b.check("erasures-complete")

	// Nothing of what the member wrote, nor their name, is left in any
	// file of the hub or of either node.
	for _, root := range []string{nw.hubDir, be.dir, fi.dir} {
		grepTree(t, "after the erasure", root, postMark, commentMark, flagMark, name)
	}
	grepTree(t, "after the erasure", be.dir, email)
	// fi's reply is fi's: it stays, on fi and on be, as the protocol's
	// erasure of one entity leaves the entities that point at it.
	for _, a := range []adminAPI{fiAPI, beAPI} {
		code, out, err := a.do(http.MethodGet, node.PathAdminEntities+"/"+reply, nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(out), replyMark) {
			t.Errorf("%s after the erasure holds fi's reply as %d %s %v", a.node, code, out, err)
		}
	}
	code, out, err := fiAPI.do(http.MethodGet, node.PathAdminEntities+"/"+post, nil)
	if err != nil || code != http.StatusOK || !strings.Contains(string(out), `"erased":true`) {
		t.Errorf("fi holds the erased post as %d %s %v", code, out, err)
	}

	// The hub's console shows the erasure of the person, complete for
	// every holder.
	link := invitationLink(t, mustCLI(t, nil, "hub", "member", "add", "olga@example.eu", "--name", "Olga Operator", "--role", "operator", "--data", nw.hubDir))
	cb := &consoleBrowser{webBrowser: b}
	cb.acceptInvitation(link, "olga@example.eu", testPassword, "")
	b.open(nw.hubURL+"/console/erasures", "#people-h")
	people := b.text("#people-h + p + h3")
	if !strings.Contains(people, "Erasure 1 of a member of be") || !strings.Contains(people, "Complete") {
		t.Errorf("the console's erasure of a person: %q", people)
	}
	if table := b.text("#people-h ~ div table"); !strings.Contains(table, "fi") || strings.Contains(table, "waiting") {
		t.Errorf("the console's holders of the person's erasure:\n%s", table)
	}
	b.check("console-erasures")

	// The command line does the same, here for fi's member.
	out = []byte(mustCLI(t, nil, "node", "member", "remove", mikko, "--erase", "--data", fi.dir))
	if !strings.Contains(string(out), "member "+mikko+" removed and erasure 1 started: 0 posts, 1 comments") {
		t.Errorf("bikfed node member remove --erase:\n%s", out)
	}
	waitFor(t, 60*time.Second, "be to erase fi's reply", func() error {
		code, out, err := beAPI.do(http.MethodGet, node.PathAdminEntities+"/"+reply, nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(out), `"erased":true`) {
			return fmt.Errorf("%d %s %v", code, out, err)
		}
		return nil
	})
	// The purge follows the pull that applied the erasure.
	waitFor(t, 30*time.Second, "be to purge fi's reply", func() error {
		if f := treeHolds(t, be.dir, replyMark); f != "" {
			return fmt.Errorf("%s holds it", f)
		}
		return nil
	})
}
