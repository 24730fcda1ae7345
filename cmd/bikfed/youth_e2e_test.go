package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// TestE2E_YouthPreModeration: what a Portuguese young person writes for
// the European youth space stays on pt's node until pt's youth coordinator
// approves it in the workspace; then it reaches be within seconds. A
// refused item never leaves pt, and its author reads the coordinator's
// message. The audit log words both decisions; when a be coordinator
// flags the published post, pt's coordinator sees the flag, and when the
// hub's moderators hide it, both the coordinator and Rita read why.
func TestE2E_YouthPreModeration(t *testing.T) {
	const (
		approvedMarker = "YOUTH-APPROVED-7731"
		rejectedMarker = "YOUTH-REJECTED-4420"
		reasonMarker   = "REASON-2291"
		flagMarker     = "FLAG-TEXT-5517"
	)
	nw := newNetwork(t)
	pt, be := nw.addNode("pt", fastSync...), nw.addNode("be", fastSync...)
	ritaID, ritaLink := addMemberID(t, pt, "rita@jovens.example.pt", "Rita Marques", "youth")
	joanaLink := addMember(t, pt, "joana@sic.example.pt", "Joana Ferreira", "youth-coordinator")
	anaLink := addMember(t, pt, "ana@sic.example.pt", "Ana Costa", "admin")
	bartID, _ := addMemberID(t, be, "bart@sic.example.be", "Bart Peeters", "youth-coordinator")

	// Rita writes two posts; the pt node holds them. Nothing is signed,
	// so they are in pt's database only.
	approvedHeld := holdPost(t, pt.dir, ritaID, "O que fazem quando alguém vos insulta online?",
		"Eu bloqueio e falo com alguém de **confiança**. "+approvedMarker)
	rejectedHeld := holdPost(t, pt.dir, ritaID, "A minha escola",
		"Andamos na Escola Secundária de Exemplo. "+rejectedMarker)

	nw.startNode(pt)
	nw.startNode(be)
	ptBase := "http://" + waitServing(t, pt.dir, nodeAddrFile)
	mustCLI(t, nil, "node", "sync", "--data", pt.dir)
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	for _, root := range []string{nw.hubDir, be.dir} {
		grepTree(t, "before approval", root, approvedMarker, rejectedMarker)
	}
	if !fileHolds(pt.dir, approvedMarker) {
		t.Fatal("the held post is not in pt's database at all")
	}

	b := startWebBrowser(t, "TestE2E_YouthPreModeration")
	signUp := func(link, email string) {
		t.Helper()
		// The members were added before the node chose its port: their
		// links name the default address.
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		b.open(ptBase+u.Path+"?"+u.RawQuery+"&lang=pt", "#password")
		b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
		b.do("set a password", chromedp.Submit(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.fill(map[string]string{"#email": email, "#password": testPassword})
		b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	}
	signOut := func() {
		t.Helper()
		b.do("sign out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))
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
	b.check("01-approvals-waiting")
	b.do("approve the first post", chromedp.Click(chromedp.CSS(`form[action="/youth/approvals/`+approvedHeld+`/approve"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role=status]`)))
	b.mustShow(".notice", "Aprovado")

	// The second is refused: without a message first, then with one.
	b.do("open the refusal", chromedp.Click(chromedp.CSS(`a[href="/youth/approvals/`+rejectedHeld+`/reject"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-reason")))
	b.do("send no message", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#errors")))
	b.mustShow("#errors", "Escreve uma mensagem")
	b.check("02-reject-form-error")
	reason := "Obrigada, Rita! Tira o nome da tua escola e envia de novo. " + reasonMarker
	b.fill(map[string]string{"#f-reason": reason})
	b.do("refuse with a message", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice[role=status]`)))
	b.mustShow("#decided-h + ul", reasonMarker)
	b.mustShow("#decided-h + ul", "por Joana Ferreira")
	b.check("03-approvals-decided")

	// The approved post reaches be within seconds; the refused one never
	// leaves pt.
	href := get(t, b.ctx, "read the published post's address", chromedp.Evaluate[string](
		`document.querySelector('#decided-h + ul a[href^="/community/youth/"]').getAttribute('href')`))
	entityID := strings.TrimPrefix(href, "/community/youth/")
	if !strings.HasPrefix(entityID, "pt:") {
		t.Fatalf("the decided list links to %q", href)
	}
	signOut()
	waitFor(t, 30*time.Second, "the approved post on be", func() error {
		out, err := runCLI(t, nil, "node", "get", entityID, "--data", be.dir)
		if err != nil {
			return err
		}
		if !strings.Contains(out, approvedMarker) || !strings.Contains(out, "pt-rita") {
			return fmt.Errorf("be's copy of %s: %s", entityID, out)
		}
		return nil
	})

	// Rita reads what became of each post.
	signUp(ritaLink, "rita@jovens.example.pt")
	b.do("open her posts", chromedp.Click(chromedp.CSS(`nav a[href="/youth/mine"]`)), chromedp.WaitVisible(chromedp.CSS("main h1")))
	b.mustShow("main", "Não publicado")
	b.mustShow("main", reason)
	b.mustShow("main", "Publicado")
	if n := get(t, b.ctx, "look for the link to the thread", chromedp.Evaluate[int](
		`document.querySelectorAll('a[href="/community/youth/`+entityID+`"]').length`)); n != 1 {
		t.Errorf("%d links to the published post's thread, want 1", n)
	}
	b.check("04-my-posts")
	signOut()

	// The audit log words both decisions.
	signUp(anaLink, "ana@sic.example.pt")
	b.open(ptBase+"/members/audit", "main h1")
	b.mustShow("main", "Joana Ferreira aprovou uma publicação ou um comentário de Rita Marques")
	b.mustShow("main", "Joana Ferreira não publicou uma publicação ou um comentário de Rita Marques")
	b.check("05-audit")
	signOut()

	// A be coordinator flags the post on be; pt's coordinator sees it.
	flagAs(t, be.dir, bartID, protocol.Flag{Target: entityID, Reason: "personal-data", Text: "Diz o nome da escola? " + flagMarker})
	b.open(ptBase+"/signin", "#email")
	b.fill(map[string]string{"#email": "joana@sic.example.pt", "#password": testPassword})
	b.do("Joana signs in again", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
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
	b.check("06-flags")

	// The hub's moderators hide the post: the coordinator reads the
	// decision next to the flag, and Rita sees her post hidden, and why.
	const hideReason = "Diz o nome de uma escola. HIDE-REASON-8812"
	mod, _ := json.Marshal(protocol.Moderation{Target: entityID, Decision: "hide", Reason: hideReason})
	mustCLI(t, mod, "hub", "publish", "--kind", "moderation", "--visibility", "youth", "--data", nw.hubDir)
	waitFor(t, 60*time.Second, "the moderators' decision on pt's youth flags page", func() error {
		b.open(ptBase+"/youth/flags", "main h1")
		if !strings.Contains(b.text("main"), hideReason) {
			return fmt.Errorf("not there yet")
		}
		return nil
	})
	b.mustShow("main dl", "Ocultado")
	b.check("07-flags-hidden")
	signOut()
	b.open(ptBase+"/signin", "#email")
	b.fill(map[string]string{"#email": "rita@jovens.example.pt", "#password": testPassword})
	b.do("Rita signs in again", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("form.out button")))
	b.open(ptBase+"/youth/mine", "main h1")
	b.mustShow("main", "Os moderadores da rede ocultaram isto")
	b.mustShow("main", hideReason)
	if n := get(t, b.ctx, "look for a link to the hidden post", chromedp.Evaluate[int](
		`document.querySelectorAll('a[href="/community/youth/`+entityID+`"]').length`)); n != 0 {
		t.Errorf("the hidden post is still linked %d times", n)
	}
	b.check("08-my-posts-hidden")

	// The refused post and its reason are in no file but pt's.
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	for _, root := range []string{nw.hubDir, be.dir} {
		grepTree(t, "after the decisions", root, rejectedMarker, reasonMarker)
	}
	for _, log := range []string{nw.hub.log, be.proc.log, pt.proc.log} {
		grepFile(t, "after the decisions", log, rejectedMarker, reasonMarker, approvedMarker)
	}
}

// holdPost holds a young person's post in the European youth space on
// the node in dir, as the node's writing pages do, and returns the held
// item's id.
func holdPost(t *testing.T, dir, member, title, text string) string {
	t.Helper()
	id, err := strconv.ParseInt(member, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.Post{Space: protocol.SpaceYouth, Format: "thread", Title: title, Text: text, Language: "pt"})
	var held string
	withNode(t, dir, func(n *node.Node) {
		h, err := n.Hold(t.Context(), id, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		held = h.ID
	})
	return held
}

// flagAs writes a flag as member on the node in dir, as the node's pages
// do for a signed-in member; the running node pushes it.
func flagAs(t *testing.T, dir, member string, f protocol.Flag) {
	t.Helper()
	id, err := strconv.ParseInt(member, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(f)
	withNode(t, dir, func(n *node.Node) {
		if _, err := n.CreateAs(t.Context(), id, node.Draft{Kind: protocol.KindFlag, Visibility: protocol.VisibilityYouth, Body: body}); err != nil {
			t.Fatal(err)
		}
	})
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
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
