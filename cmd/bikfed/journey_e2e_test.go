package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2E_EditorJourney is the network's editorial loop in one browser,
// as its people go through it: a Belgian editor, invited, publishes a
// resource with a file; it reaches the hub's portal with its file; a
// Finnish editor finds it in her worklist and translates it; the Belgian
// editor corrects the resource; the Finnish worklist then shows the
// translation as outdated, with exactly the words that changed.
func TestE2E_EditorJourney(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", "--time-zone", "Europe/Brussels")
	fi := nw.addNode("fi", "--time-zone", "Europe/Helsinki")
	nw.startNode(be)
	nw.startNode(fi)
	beBase := "http://" + waitServing(t, be.dir, nodeAddrFile)
	fiBase := "http://" + waitServing(t, fi.dir, nodeAddrFile)
	evaLink := addMember(t, be, "eva@sic.example.be", "Eva Peeters", "editor")
	ainoLink := addMember(t, fi, "aino@sic.example.fi", "Aino Korhonen", "editor")

	file := append([]byte("%PDF-1.4\n% Sextortion: what to do\n"), bytes.Repeat([]byte("lesson plan page\n"), 200_000)...)
	filePath := filepath.Join(t.TempDir(), "sextortion-lesson.pdf")
	if err := os.WriteFile(filePath, file, 0o644); err != nil {
		t.Fatal(err)
	}

	b := startWebBrowser(t, "TestE2E_EditorJourney")
	signUp := func(link, email string) {
		t.Helper()
		b.open(link, "#password")
		b.fill(map[string]string{"#password": testPassword, "#confirm": testPassword})
		b.do("set a password", chromedp.Submit(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#email")))
		b.fill(map[string]string{"#email": email, "#password": testPassword})
		b.do("sign in", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	}

	// Eva publishes a lesson plan, with its PDF, to appear at once.
	signUp(evaLink, "eva@sic.example.be")
	b.do("open the resources", chromedp.Click(chromedp.CSS(`nav a[href="/resources/"]`)), chromedp.WaitVisible(chromedp.CSS("#found")))
	b.do("start a new resource", chromedp.Click(chromedp.CSS(`main a[href="/resources/new"]`)), chromedp.WaitVisible(chromedp.CSS("#f-title")))
	b.do("fill in the form",
		chromedp.SendKeys(chromedp.CSS("#f-title"), "Sextortion: a lesson plan for ages 12 to 15"),
		chromedp.SendKeys(chromedp.CSS("#f-description"), "How to recognise sextortion and where to find help."),
		chromedp.SetValue(chromedp.CSS("#f-language"), "nl"),
		chromedp.SetValue(chromedp.CSS("#f-age-min"), "12"), chromedp.SetValue(chromedp.CSS("#f-age-max"), "15"),
		chromedp.Click(chromedp.CSS("#f-audiences-teachers")),
		chromedp.Click(chromedp.CSS("#f-topics-cyberbullying")),
		chromedp.SetValue(chromedp.CSS("#f-type"), "lesson-plan"), chromedp.SetValue(chromedp.CSS("#f-licence"), "CC BY 4.0"),
		chromedp.SendKeys(chromedp.CSS("#f-url"), "https://www.saferinternet.example.be/sextortion"),
		chromedp.SetValue(chromedp.CSS("#f-publish-at"), "2026-01-05T08:00"),
		chromedp.SetUploadFiles(chromedp.CSS("#f-files"), []string{filePath}))
	b.do("save it", chromedp.Click(chromedp.CSS(`button[value=save]`)), chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)))
	m := resSavedID.FindStringSubmatch(strings.TrimPrefix(b.location(), beBase))
	if m == nil {
		t.Fatalf("after saving the browser is at %s", b.location())
	}
	id := m[1]
	b.check("01-resource-saved")

	// The portal shows it, and serves its file byte for byte.
	var portal string
	waitFor(t, 60*time.Second, "the resource on the hub's portal", func() error {
		code, body := httpGet(t, nw.hubURL+"/resources/"+id, "")
		if code != http.StatusOK || !strings.Contains(string(body), "Sextortion: a lesson plan for ages 12 to 15") {
			return fmt.Errorf("portal: %d", code)
		}
		portal = string(body)
		return nil
	})
	fm := regexp.MustCompile(`href="(/files/[0-9a-f]{64}/sextortion-lesson.pdf)"`).FindStringSubmatch(portal)
	if fm == nil {
		t.Fatalf("the portal page has no link to the file:\n%s", portal)
	}
	resp, err := http.Get(nw.hubURL + fm[1])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, file) {
		t.Fatalf("the portal's file: %d, %d bytes, want the %d sent", resp.StatusCode, len(got), len(file))
	}
	b.do("Eva signs out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))

	// Aino, in Finland, finds it in her worklist and translates it.
	signUp(ainoLink, "aino@sic.example.fi")
	entry := fmt.Sprintf(`//section[@aria-labelledby="todo-h"]//a[contains(., %q)]`, "Sextortion: a lesson plan")
	waitFor(t, 60*time.Second, "the lesson plan in the Finnish worklist", func() error {
		b.open(fiBase+"/translations/?to=fi", "#todo-h")
		if !strings.Contains(b.text("main"), "Sextortion: a lesson plan") {
			return fmt.Errorf("not listed yet")
		}
		return nil
	})
	b.check("02-worklist")
	b.do("open the translation form", chromedp.Click(chromedp.Search(entry)), chromedp.WaitVisible(chromedp.CSS("#title")))
	b.do("write the translation",
		chromedp.SendKeys(chromedp.CSS("#title"), "Seksuaalinen kiristys: tuntisuunnitelma 12–15-vuotiaille"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Miten tunnistaa seksuaalinen kiristys ja mistä saa apua."),
		chromedp.Click(chromedp.CSS(`input[name="method"][value="human"]`)),
		chromedp.Click(chromedp.CSS(`input[name="review"][value="reviewed"]`)),
		chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice a`)))
	b.check("03-translation-saved")
	b.do("Aino signs out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))

	// Eva corrects the lesson plan's description.
	b.open(beBase+"/signin", "#email")
	b.fill(map[string]string{"#email": "eva@sic.example.be", "#password": testPassword})
	b.do("Eva signs in again", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	b.open(beBase+"/resources/"+id, "#f-description")
	b.fill(map[string]string{"#f-description": "How to recognise sextortion, what to do at once, and where to find help."})
	b.do("save the correction", chromedp.Click(chromedp.CSS(`button[value=save]`)), chromedp.WaitVisible(chromedp.CSS(`p.notice[role=status]`)))
	b.do("Eva signs out", chromedp.Click(chromedp.CSS("form.out button")), chromedp.WaitVisible(chromedp.CSS("#email")))

	// Aino's worklist shows her translation as outdated, with the change.
	b.open(fiBase+"/signin", "#email")
	b.fill(map[string]string{"#email": "aino@sic.example.fi", "#password": testPassword})
	b.do("Aino signs in again", chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#sync-h")))
	outdated := `//section[@id="outdated"]//a[contains(., "Seksuaalinen kiristys")]`
	waitFor(t, 60*time.Second, "the translation to show as outdated", func() error {
		b.open(fiBase+"/translations/?to=fi", "#todo-h")
		if n := get(t, b.ctx, "look for the outdated entry", chromedp.Evaluate[int](
			`document.evaluate('count(`+outdated+`)', document, null, XPathResult.NUMBER_TYPE, null).numberValue`)); n == 0 {
			return fmt.Errorf("not outdated yet")
		}
		return nil
	})
	b.check("04-outdated")
	b.do("open the changes", chromedp.Click(chromedp.Search(`//section[@id="outdated"]//a[contains(@href, "#changes")]`)),
		chromedp.WaitVisible(chromedp.CSS("#changes")))
	ins := b.text("#changes ins")
	if !strings.Contains(ins, "what to do at once") {
		t.Fatalf("the diff's added words are %q, want the correction", ins)
	}
	if changes := b.text("#changes"); strings.Contains(changes, "Sextortion: a lesson plan") {
		t.Fatalf("the diff shows the unchanged title:\n%s", changes)
	}
	b.check("05-changes")
}
