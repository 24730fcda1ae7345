package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// TestE2E_YouthPreModeration: a Portuguese young person writes in the
// European youth space in the workspace; the post stays on pt's node, on
// no other node and not on the hub, until pt's youth coordinator approves
// it; then it reaches be's young people within seconds. A be staff member
// who coordinates be's youth flags it, pt's coordinator sees the flag, a
// hub moderator hides it from the console's queue, and within a sync round
// it is gone from every node's workspace while its author sees it hidden,
// with the reason. A refused item never leaves pt, and its author reads
// the coordinator's message; the audit log words both decisions.
func TestE2E_YouthPreModeration(t *testing.T) {
	const (
		approvedTitle  = "O que fazem quando alguém vos insulta online?"
		approvedMarker = "YOUTH-APPROVED-7731"
		rejectedMarker = "YOUTH-REJECTED-4420"
		reasonMarker   = "REASON-2291"
		flagMarker     = "FLAG-TEXT-5517"
		hideReason     = "Diz o nome de uma escola. HIDE-REASON-8812"
	)
	nw := newNetwork(t)
	pt, be, fi := nw.addNode("pt", fastSync...), nw.addNode("be", fastSync...), nw.addNode("fi", fastSync...)
	nw.startNode(pt)
	nw.startNode(be)
	nw.startNode(fi)
	ptBase := "http://" + waitServing(t, pt.dir, nodeAddrFile)
	beBase := "http://" + waitServing(t, be.dir, nodeAddrFile)
	ritaLink := addMember(t, pt, "rita@jovens.example.pt", "Rita Marques", "youth")
	joanaLink := addMember(t, pt, "joana@sic.example.pt", "Joana Ferreira", "youth-coordinator")
	anaLink := addMember(t, pt, "ana@sic.example.pt", "Ana Costa", "admin")
	samLink := addMember(t, be, "sam@jongeren.example.be", "Sam Janssens", "youth")
	bartLink := addMember(t, be, "bart@sic.example.be", "Bart Peeters", "staff", "youth-coordinator")

	b := startWebBrowser(t, "TestE2E_YouthPreModeration")
	signUp := func(link, email string) {
		t.Helper()
		b.open(link+"&lang=pt", "#password")
		b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
		b.do("set a password", chromedp.Submit(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.fill(map[string]string{"#email": email, "#password": testPassword})
		b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	}
	signIn := func(base, email string) {
		t.Helper()
		b.open(base+"/signin", "#email")
		b.fill(map[string]string{"#email": email, "#password": testPassword})
		b.do("sign in as "+email, chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	}
	signOut := func(base string) {
		t.Helper()
		b.open(base+"/", "form.out button")
		b.do("sign out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))
	}
	// status is what the node answers the signed-in browser for the page
	// it shows.
	status := func() int {
		t.Helper()
		return get(t, b.ctx, "read the page's status", chromedp.Evaluate[int](`fetch(location.href).then(r => r.status)`, chromedp.EvalAwaitPromise))
	}

	// Rita writes two posts for the European youth space; pt's node holds
	// them for her coordinator.
	signUp(ritaLink, "rita@jovens.example.pt")
	write := func(title, text, shot string) {
		t.Helper()
		b.open(ptBase+"/community/youth/", "#threads-h")
		b.do("start a thread", chromedp.Click(chromedp.CSS(`main a[href="/community/youth/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-title")))
		b.fill(map[string]string{"#f-title": title})
		b.do("write", chromedp.SetValue(chromedp.CSS("#f-text"), text))
		if shot != "" {
			b.check(shot + "-form")
		}
		b.do("send", chromedp.Click(chromedp.CSS(`main form button[value=send]`)), chromedp.WaitVisible(chromedp.CSS(`main a[href="/youth/mine"]`)))
		b.mustShow("main .notice", "enviado ao seu coordenador de juventude")
		if shot != "" {
			b.check(shot + "-sent")
		}
	}
	write(approvedTitle, "Eu bloqueio e falo com alguém de **confiança**. "+approvedMarker, "01-youth-post")
	write("A minha escola", "Andamos na Escola Secundária de Exemplo. "+rejectedMarker, "")
	b.open(ptBase+"/community/youth/", "#threads-h")
	if strings.Contains(b.text("main"), approvedTitle) {
		t.Error("the held post is listed as published")
	}
	signOut(ptBase)

	// Nothing is signed, so the posts are in pt's database only.
	mustCLI(t, nil, "node", "sync", "--data", pt.dir)
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	mustCLI(t, nil, "node", "sync", "--data", fi.dir)
	for _, root := range []string{nw.hubDir, be.dir, fi.dir} {
		grepTree(t, "before approval", root, approvedMarker, rejectedMarker)
	}
	if !fileHolds(pt.dir, approvedMarker) {
		t.Fatal("the held post is not in pt's database at all")
	}

	// Joana sees both posts waiting, the menu counting them, and approves
	// the first.
	signUp(joanaLink, "joana@sic.example.pt")
	b.do("open the youth approvals", chromedp.Click(chromedp.CSS(`nav a[href="/youth/approvals"]`)), chromedp.WaitVisible(chromedp.CSS("#waiting-h")))
	b.mustShow("nav", "2 à espera")
	b.mustShow("main", "Publicação de pt-rita")
	b.mustShow("main", approvedMarker)
	if got := b.text("main strong"); got != "confiança" {
		t.Errorf("the Markdown is not rendered: first strong text %q", got)
	}
	b.check("02-approvals-waiting")
	heldID := func(marker string) string {
		t.Helper()
		return get(t, b.ctx, "find the held item with "+marker, chromedp.Evaluate[string](`[...document.querySelectorAll('#waiting-h + ol article')]
			.find(a => a.textContent.includes(`+strconv.Quote(marker)+`)).getAttribute('aria-labelledby').replace(/^item-|-h$/g, '')`))
	}
	approvedHeld, rejectedHeld := heldID(approvedMarker), heldID(rejectedMarker)
	b.do("approve the first post", chromedp.Click(chromedp.CSS(`form[action="/youth/approvals/`+approvedHeld+`/approve"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role=status]`)))
	b.mustShow(".notice", "Aprovado")

	// The second is refused: without a message first, then with one.
	b.do("open the refusal", chromedp.Click(chromedp.CSS(`a[href="/youth/approvals/`+rejectedHeld+`/reject"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-reason")))
	b.do("send no message", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#errors")))
	b.mustShow("#errors", "Escreve uma mensagem")
	b.check("03-reject-form-error")
	reason := "Obrigada, Rita! Tira o nome da tua escola e envia de novo. " + reasonMarker
	b.fill(map[string]string{"#f-reason": reason})
	b.do("refuse with a message", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role=status]`)))
	b.mustShow("#decided-h + ul", reasonMarker)
	b.mustShow("#decided-h + ul", "por Joana Ferreira")
	b.check("04-approvals-decided")
	href := get(t, b.ctx, "read the published post's address", chromedp.Evaluate[string](
		`document.querySelector('#decided-h + ul a[href^="/community/youth/"]').getAttribute('href')`))
	entityID := strings.TrimPrefix(href, "/community/youth/")
	if !strings.HasPrefix(entityID, "pt:") {
		t.Fatalf("the decided list links to %q", href)
	}
	thread := "/community/youth/" + entityID

	// Sam, a young person in Belgium, reads it on be's node within seconds.
	signUp(samLink, "sam@jongeren.example.be")
	waitFor(t, 30*time.Second, "the approved post in be's youth space", func() error {
		b.open(beBase+"/community/youth/", "#threads-h")
		if !strings.Contains(b.text("main"), approvedTitle) {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
	b.check("05-be-youth-space")
	// fi, the third node, holds it too.
	waitFor(t, 30*time.Second, "the approved post on fi", func() error {
		var err error
		withNode(t, fi.dir, func(n *node.Node) {
			_, err = n.CommunityThread(t.Context(), entityID, 0, node.CommentPage{})
		})
		return err
	})
	b.do("open the thread", chromedp.Click(chromedp.CSS(`main a[href="`+thread+`"]`)), chromedp.WaitVisible(chromedp.CSS("#post-h")))
	b.mustShow("article.community-post", approvedMarker)
	b.mustShow("article.community-post", "pt-rita")
	b.check("06-be-youth-thread")
	signOut(beBase)

	// Bart, on be's staff and its youth coordinator, flags it.
	signUp(bartLink, "bart@sic.example.be")
	b.open(beBase+thread, "#post-h")
	b.do("open the flag form", chromedp.Click(chromedp.CSS(`article.community-post a[href*="/flag?"]`)), chromedp.WaitVisible(chromedp.CSS("#f-reason")))
	b.do("choose a reason and send", chromedp.Click(chromedp.CSS(`#f-reason-personal-data`)),
		chromedp.SetValue(chromedp.CSS("#f-text"), "Diz o nome da escola? "+flagMarker),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)))
	b.mustShow("article.community-post", "Denunciou isto.")
	b.check("07-be-flagged")
	signOut(beBase)
	signIn(beBase, "sam@jongeren.example.be")

	// pt's coordinator, still signed in there, sees be's flag on her
	// young person's post.
	waitFor(t, 60*time.Second, "be's flag on pt's youth flags page", func() error {
		b.open(ptBase+"/youth/flags", "main h1")
		if !strings.Contains(b.text("main"), flagMarker) {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
	b.mustShow("main", "Bart Peeters, BE")
	b.mustShow("main", "Dados pessoais")
	b.mustShow("main", "Ainda não decidido")
	b.check("08-flags")

	// A moderator of the network finds it in the console's queue, reads
	// the flag and hides it, with a reason.
	out := mustCLI(t, nil, "hub", "member", "add", "mona@example.eu", "--name", "Mona Moderator", "--role", "moderator", "--data", nw.hubDir)
	cb := &consoleBrowser{webBrowser: b}
	cb.acceptInvitation(invitationLink(t, out), "mona@example.eu", "eleven quiet lanterns by the canal", "")
	row := fmt.Sprintf(`#queue tr[data-item=%q]`, entityID)
	waitFor(t, 60*time.Second, "the flagged youth post in the hub's queue", func() error {
		b.open(nw.hubURL+"/console/moderation/?filter=flagged", "h2")
		if n := get(t, b.ctx, "count the rows", chromedp.Evaluate[int](`document.querySelectorAll('`+row+`').length`)); n != 1 {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
	b.mustShow(row, "Personal data")
	b.check("09-queue")
	b.do("open the item", chromedp.Click(chromedp.CSS(row+" a")), chromedp.WaitVisible(chromedp.CSS("#flags")))
	b.mustShow("#item-author", "pt-rita")
	b.mustShow("#flags", "Bart Peeters")
	b.mustShow("#flags", flagMarker)
	b.mustShow("#flags", "Personal data")
	b.check("10-item")
	b.do("hide with a reason", chromedp.Click(chromedp.CSS("#decision-hide")), chromedp.SendKeys(chromedp.CSS("#reason"), hideReason),
		chromedp.Submit(chromedp.CSS("#reason")), chromedp.WaitVisible(chromedp.CSS("#decided")))
	b.mustShow("#hidden-state", hideReason)
	b.check("11-item-hidden")

	// Within a sync round it is gone from every node: from fi, the third ...
	waitFor(t, 30*time.Second, "the hidden post gone from fi's community", func() error {
		var err error
		withNode(t, fi.dir, func(n *node.Node) {
			if _, err = n.CommunityThread(t.Context(), entityID, 0, node.CommentPage{}); err == nil {
				err = fmt.Errorf("fi still shows %s", entityID)
			} else if errors.Is(err, protocol.ErrNotFound) {
				err = nil
			}
		})
		return err
	})
	// ... from Sam's workspace on be ...
	waitFor(t, 30*time.Second, "the hidden post gone from be's youth space", func() error {
		b.open(beBase+"/community/youth/", "#threads-h")
		if strings.Contains(b.text("main"), approvedTitle) {
			return fmt.Errorf("still listed")
		}
		return nil
	})
	b.open(beBase+thread, "main h1")
	if got := status(); got != http.StatusNotFound {
		t.Errorf("be's thread page for Sam: %d", got)
	}
	b.check("12-be-gone")
	// ... and from Joana's on pt, where her flags page words the decision.
	b.open(ptBase+"/community/youth/", "#threads-h")
	if strings.Contains(b.text("main"), approvedTitle) {
		t.Error("pt lists the hidden post to its coordinator")
	}
	b.open(ptBase+thread, "main h1")
	if got := status(); got != http.StatusNotFound {
		t.Errorf("pt's thread page for Joana: %d", got)
	}
	waitFor(t, 30*time.Second, "the moderators' decision on pt's youth flags page", func() error {
		b.open(ptBase+"/youth/flags", "main h1")
		if !strings.Contains(b.text("main"), hideReason) {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
	b.mustShow("main dl", "Ocultado")
	b.check("13-flags-hidden")
	signOut(ptBase)

	// Rita sees her post hidden, and why, and the coordinator's message on
	// the refused one.
	signIn(ptBase, "rita@jovens.example.pt")
	b.follow("open her posts", `nav a[href="/youth/mine"]`, "/youth/mine", "main h1")
	b.mustShow("main", "Não publicado")
	b.mustShow("main", reason)
	b.mustShow("main", "Os moderadores da rede ocultaram isto")
	b.mustShow("main", hideReason)
	if n := get(t, b.ctx, "look for a link to the hidden post", chromedp.Evaluate[int](
		`document.querySelectorAll('a[href="`+thread+`"]').length`)); n != 0 {
		t.Errorf("the hidden post is still linked %d times", n)
	}
	b.check("14-my-posts-hidden")
	b.open(ptBase+thread, "#post-h")
	b.mustShow("article.community-post", "Ocultado pelos moderadores: "+hideReason)
	b.check("15-thread-hidden-author")
	signOut(ptBase)

	// The audit log words both decisions.
	signUp(anaLink, "ana@sic.example.pt")
	b.open(ptBase+"/members/audit", "main h1")
	b.mustShow("main", "Joana Ferreira aprovou uma publicação ou um comentário de Rita Marques")
	b.mustShow("main", "Joana Ferreira não publicou uma publicação ou um comentário de Rita Marques")
	b.check("16-audit")

	// The refused post and its reason are in no file but pt's.
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	mustCLI(t, nil, "node", "sync", "--data", fi.dir)
	for _, root := range []string{nw.hubDir, be.dir, fi.dir} {
		grepTree(t, "after the decisions", root, rejectedMarker, reasonMarker)
	}
	for _, log := range []string{nw.hub.log, be.proc.log, pt.proc.log, fi.proc.log} {
		grepFile(t, "after the decisions", log, rejectedMarker, reasonMarker, approvedMarker)
	}
}

// withNode opens the node in dir in this process, as the CLI's commands do
// next to a running node, for fn.
func withNode(t *testing.T, dir string, fn func(*node.Node)) {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.DataDir = dir
	n, err := node.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	fn(n)
}

// fileHolds reports whether the node's database or its WAL holds s.
func fileHolds(dir, s string) bool {
	for _, name := range []string{"node.db", "node.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && bytes.Contains(atrest.Reveal(b), []byte(s)) {
			return true
		}
	}
	return false
}
