package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// trBrowser is a headless chromium with the checks every workspace page of
// the translations journey gets: a full-page screenshot and axe-core's WCAG
// 2.1 A/AA rules.
type trBrowser struct{ *webBrowser }

func newTrBrowser(t *testing.T) *trBrowser { return &trBrowser{startWebBrowser(t, t.Name())} }

// check saves a screenshot of the page as name and runs axe-core on it.
func (b *trBrowser) check(name string) {
	b.t.Helper()
	b.shot(name)
	b.audit(name)
}

// marked returns the text of the elements sel matches, without the words
// only screen readers hear.
func (b *trBrowser) marked(sel string) []string {
	b.t.Helper()
	return get(b.t, b.ctx, "read "+sel, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => {
		const c = e.cloneNode(true); c.querySelectorAll('.visually-hidden').forEach(h => h.remove()); return c.textContent })`, sel)))
}

// trEntity reads an entity from a node through the CLI.
func trEntity(t *testing.T, n *testNode, id string) (node.Entity, error) {
	out, err := runCLI(t, nil, "node", "get", id, "--data", n.dir)
	if err != nil {
		return node.Entity{}, fmt.Errorf("%v: %s", err, out)
	}
	var e node.Entity
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		return node.Entity{}, fmt.Errorf("%v: %s", err, out)
	}
	return e, nil
}

// trOwnTranslations reads a node's own translations through the CLI.
func trOwnTranslations(t *testing.T, n *testNode) []node.Entity {
	t.Helper()
	out := mustCLI(t, nil, "node", "list", "--kind", "translation", "--owner", n.id, "--data", n.dir)
	var list []node.Entity
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		e, err := trEntity(t, n, strings.Fields(line)[0])
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, e)
	}
	return list
}

// trZeros reads as endless zero bytes.
type trZeros struct{}

func (trZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// trSend posts the translation form as a browser would, multipart, with
// the form token in the action's query.
func trSend(t *testing.T, p *person, action, token string, fields map[string]string) page {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "")
	fw.Write(nil)
	mw.Close()
	u := p.base + action
	if token != "" {
		u += "?" + url.Values{"form_token": {token}}.Encode()
	}
	req, err := http.NewRequest("POST", u, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

// A SIC translates another SIC's resource: the Finnish editor finds the
// Belgian lesson plan in the worklist, translates it with a file, and sees
// the translation as outdated, with exactly the words that changed, once
// the Belgian centre corrects the plan.
func TestE2E_Translations(t *testing.T) {
	br := newTrBrowser(t)
	nw := newNetwork(t)
	be, fi := nw.addNode("be"), nw.addNode("fi")
	nw.startNode(be)
	nw.startNode(fi)
	waitServing(t, be.dir, nodeAddrFile)
	fiBase := "http://" + waitServing(t, fi.dir, nodeAddrFile)

	// The Finnish centre works in Swedish too, and its profile says so
	// first: the editor has to choose Finnish.
	mustCLI(t, mustJSON(t, protocol.Profile{Country: "fi", Name: "Finnish Safer Internet Centre", Languages: []string{"sv", "fi"}}),
		"node", "create", "--kind", "profile", "--file", "-", "--data", fi.dir)
	mustCLI(t, mustJSON(t, protocol.Profile{Country: "be", Name: "Belgian Safer Internet Centre", Languages: []string{"nl", "fr", "de"}}),
		"node", "create", "--kind", "profile", "--file", "-", "--data", be.dir)
	plan := protocol.Resource{Title: "Online privacy in the classroom", Language: "en", Languages: []string{"nl", "fr", "en"},
		Description: "A lesson plan for teachers about privacy settings on social media.",
		AgeMin:      10, AgeMax: 12, Audiences: []string{"teachers"}, Topics: []string{"privacy"}, Type: "lesson-plan"}
	srcPDF := filepath.Join(t.TempDir(), "lesson-plan.pdf")
	if err := os.WriteFile(srcPDF, []byte("%PDF-1.4\n% Online privacy in the classroom\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var src node.Entity
	if err := json.Unmarshal([]byte(mustCLI(t, mustJSON(t, plan), "node", "create", "--kind", "resource", "--attach", srcPDF,
		"--file", "-", "--data", be.dir)), &src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "fi to pull the Belgian lesson plan", func() error {
		_, err := trEntity(t, fi, src.ID)
		return err
	})
	link := addMember(t, fi, "aino@sic.example.fi", "Aino Virtanen", node.RoleEditor)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}

	// The editor accepts the invitation and signs in.
	ctx := br.ctx
	do(t, ctx, "open the invitation", chromedp.Navigate(fiBase+u.RequestURI()), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	br.check("01-invitation")
	do(t, ctx, "set a password", chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm"), testPassword), chromedp.Submit(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#email")))
	do(t, ctx, "sign in", chromedp.SendKeys(chromedp.CSS("#email"), "aino@sic.example.fi"),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword), chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/translations/"]`)))

	// The worklist opens in the centre's first language; she filters to Finnish.
	do(t, ctx, "open the worklist", chromedp.Click(chromedp.CSS(`nav a[href="/translations/"]`)), chromedp.WaitVisible(chromedp.CSS("#todo-h")))
	if sel := get(t, ctx, "read the language", chromedp.Evaluate[string](`document.querySelector('#to').value`)); sel != "sv" {
		t.Fatalf("the worklist opened for %q, want the profile's first language, sv", sel)
	}
	br.check("02-worklist-sv")
	do(t, ctx, "filter to Finnish", chromedp.SetValue(chromedp.CSS("#to"), "fi"),
		chromedp.Click(chromedp.Search(`//form[@role="search"]//button`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[@id="todo-h"][contains(., "suomi")]`)),
		chromedp.WaitVisible(chromedp.Search(`//section[@aria-labelledby="todo-h"]//a[contains(., "Online privacy in the classroom")]`)))
	if loc := br.location(); !strings.Contains(loc, "to=fi") {
		t.Fatalf("the filter went to %s; the choice belongs in the address", loc)
	}
	item := get(t, ctx, "read the worklist entry", chromedp.Text(chromedp.Search(`//section[@aria-labelledby="todo-h"]//li[.//a[contains(., "Online privacy in the classroom")]]`)))
	for _, want := range []string{"Belgian Safer Internet Centre", "Nederlands", "français", "English"} {
		if !strings.Contains(item, want) {
			t.Errorf("the worklist entry %q does not show %q", item, want)
		}
	}
	br.check("03-worklist-fi")

	// She translates it, with the translated lesson plan as a PDF.
	pdf := filepath.Join(t.TempDir(), "oppitunti.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n% Verkkoyksityisyys luokassa\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "open the translation form",
		chromedp.Click(chromedp.Search(`//section[@aria-labelledby="todo-h"]//a[contains(., "Online privacy in the classroom")]`)),
		chromedp.WaitVisible(chromedp.CSS("#title")))
	br.check("04-form")
	// The translator downloads the source's file from her own node.
	dl := get(t, ctx, "read the source file's link", chromedp.AttributeValue(chromedp.CSS(`a[download="lesson-plan.pdf"]`), "href"))
	waitFor(t, 30*time.Second, "the source's file on fi", func() error {
		got := get(t, ctx, "download the source's file", chromedp.Evaluate[string](fmt.Sprintf(
			`fetch(%q).then(r => r.ok ? r.text() : 'status ' + r.status)`, dl.Value), chromedp.EvalAwaitPromise))
		if !strings.Contains(got, "Online privacy in the classroom") {
			return fmt.Errorf("the download gave %q", got)
		}
		return nil
	})
	// A save without a title comes back with the error and nothing lost.
	do(t, ctx, "send without a title", chromedp.SendKeys(chromedp.CSS("#description"), "Tuntisuunnitelma opettajille."),
		chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert a[href="#title"]`)))
	if d := get(t, ctx, "read the description", chromedp.Evaluate[string](`document.querySelector('#description').value`)); d != "Tuntisuunnitelma opettajille." {
		t.Fatalf("the description came back as %q", d)
	}
	br.check("05-form-error")
	do(t, ctx, "write the translation",
		chromedp.SendKeys(chromedp.CSS("#title"), "Verkkoyksityisyys luokassa"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{pdf}),
		chromedp.Click(chromedp.CSS(`input[name="method"][value="human"]`)),
		chromedp.Click(chromedp.CSS(`input[name="review"][value="reviewed"]`)),
		chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice a`)))
	if loc := br.location(); !strings.Contains(loc, "saved=") || !strings.Contains(loc, "to=fi") {
		t.Fatalf("saving went to %s", loc)
	}
	if n := len(get(t, ctx, "look for the translated resource", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('section[aria-labelledby="todo-h"] a')].map(a => a.textContent).filter(s => s.includes('Online privacy'))`))); n != 0 {
		t.Fatal("the resource is still on the worklist after its translation into Finnish")
	}
	if mine := get(t, ctx, "read the centre's translations", chromedp.Text(chromedp.Search(`//section[@id="mine"]//li`))); !strings.Contains(mine, "Verkkoyksityisyys luokassa") ||
		!strings.Contains(mine, "up to date with version 1") {
		t.Fatalf("the centre's translations into Finnish show %q", mine)
	}
	br.check("06-saved")
	own := trOwnTranslations(t, fi)
	if len(own) != 1 {
		t.Fatalf("fi has %d translations, want 1", len(own))
	}
	var tr protocol.Translation
	if err := json.Unmarshal(own[0].Body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Resource != src.ID || tr.SourceVersion != 1 || tr.Language != "fi" || tr.Title != "Verkkoyksityisyys luokassa" ||
		tr.Method != "human" || tr.Review != "reviewed" || tr.Description != "Tuntisuunnitelma opettajille." {
		t.Fatalf("saved translation %+v", tr)
	}
	if len(own[0].Blobs) != 1 || own[0].Blobs[0].Name != "oppitunti.pdf" || own[0].Blobs[0].MediaType != "application/pdf" {
		t.Fatalf("saved attachments %+v", own[0].Blobs)
	}
	// It reaches the Belgian centre through the hub.
	waitFor(t, 60*time.Second, "be to pull the Finnish translation", func() error {
		_, err := trEntity(t, be, own[0].ID)
		return err
	})

	// A month later the Belgian centre corrects the plan.
	plan.Description = "A lesson plan for teachers and parents about privacy settings on social media."
	mustCLI(t, mustJSON(t, plan), "node", "update", src.ID, "--file", "-", "--data", be.dir)
	waitFor(t, 60*time.Second, "fi to pull the corrected plan", func() error {
		e, err := trEntity(t, fi, src.ID)
		if err == nil && e.Version != 2 {
			err = fmt.Errorf("fi holds v%d", e.Version)
		}
		return err
	})
	do(t, ctx, "open the worklist again", chromedp.Navigate(fiBase+"/translations/?to=fi"),
		chromedp.WaitVisible(chromedp.Search(`//section[@id="outdated"]//a[contains(., "Verkkoyksityisyys luokassa")]`)))
	entry := get(t, ctx, "read the outdated entry", chromedp.Text(chromedp.Search(`//section[@id="outdated"]//li`)))
	if !strings.Contains(entry, "version 1") || !strings.Contains(entry, "version 2") {
		t.Fatalf("the outdated entry %q does not say it was made from version 1 and the source is at 2", entry)
	}
	br.check("07-outdated")
	do(t, ctx, "open the changes", chromedp.Click(chromedp.Search(`//section[@id="outdated"]//a[contains(@href, "#changes")]`)),
		chromedp.WaitVisible(chromedp.CSS("#changes")))
	fields := br.marked("#changes dt")
	ins, del := br.marked("#changes ins"), br.marked("#changes del")
	if !slices.Equal(fields, []string{"Description"}) || !slices.Equal(ins, []string{"and parents "}) || len(del) != 0 {
		t.Fatalf("the diff shows fields %q, added %q, removed %q; want only \"and parents \" added to the description", fields, ins, del)
	}
	if spoken := get(t, ctx, "read the diff's spoken text", chromedp.TextContent(chromedp.CSS("#changes ins"))); !strings.Contains(spoken, "added") {
		t.Fatalf("the added words carry no words for screen readers: %q", spoken)
	}
	br.check("08-changes")
	do(t, ctx, "the changes on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(br.location()),
		chromedp.WaitVisible(chromedp.CSS("#changes")))
	br.check("09-changes-phone")
	do(t, ctx, "back to a wide window", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(br.location()),
		chromedp.WaitVisible(chromedp.CSS("#changes")))

	// Saving brings it up to date with the current version.
	do(t, ctx, "save the update", chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice a`)))
	if n := len(get(t, ctx, "look for outdated entries", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#outdated li')].map(l => l.textContent)`))); n != 0 {
		t.Fatalf("%d outdated entries after the update", n)
	}
	own = trOwnTranslations(t, fi)
	if len(own) != 1 {
		t.Fatalf("fi has %d translations after the update, want 1", len(own))
	}
	if err := json.Unmarshal(own[0].Body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.SourceVersion != 2 || len(own[0].Blobs) != 1 {
		t.Fatalf("after the update: source_version %d, attachments %+v", tr.SourceVersion, own[0].Blobs)
	}

	// The source changes again while she writes the Swedish version:
	// nothing is saved, and the form shows what changed meanwhile.
	do(t, ctx, "open the Swedish form", chromedp.Navigate(fiBase+"/translations/new?"+url.Values{"resource": {src.ID}, "to": {"sv"}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS("#title")), chromedp.SendKeys(chromedp.CSS("#title"), "Integritet på nätet i klassrummet"))
	plan.Title = "Online privacy in the classroom and at home"
	mustCLI(t, mustJSON(t, plan), "node", "update", src.ID, "--file", "-", "--data", be.dir)
	waitFor(t, 60*time.Second, "fi to pull the new title", func() error {
		e, err := trEntity(t, fi, src.ID)
		if err == nil && e.Version != 3 {
			err = fmt.Errorf("fi holds v%d", e.Version)
		}
		return err
	})
	do(t, ctx, "save the Swedish version", chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#changes.alert")))
	fields, ins, del = br.marked("#changes dt"), br.marked("#changes ins"), br.marked("#changes del")
	if !slices.Equal(fields, []string{"Title"}) || !slices.Equal(ins, []string{" and at home"}) || len(del) != 0 {
		t.Fatalf("the late save shows fields %q, added %q, removed %q; want only \" and at home\" added to the title", fields, ins, del)
	}
	if v := get(t, ctx, "read the title", chromedp.Evaluate[string](`document.querySelector('#title').value`)); v != "Integritet på nätet i klassrummet" {
		t.Fatalf("the title came back as %q", v)
	}
	if n := len(trOwnTranslations(t, fi)); n != 1 {
		t.Fatalf("a save against a source that moved on stored something: %d translations", n)
	}
	br.check("10-source-moved")
	do(t, ctx, "save it again", chromedp.Click(chromedp.Search(`//form[@enctype="multipart/form-data"]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice a`)))
	own = trOwnTranslations(t, fi)
	var sv protocol.Translation
	for _, e := range own {
		var x protocol.Translation
		if json.Unmarshal(e.Body, &x) == nil && x.Language == "sv" {
			sv = x
		}
	}
	if sv.SourceVersion != 3 || sv.Title != "Integritet på nätet i klassrummet" {
		t.Fatalf("the Swedish translation: %+v, want made from version 3", sv)
	}

	// On a phone: the Finnish translation is outdated again, and listed so
	// whichever language the worklist is for.
	do(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Navigate(fiBase+"/translations/?to=sv"),
		chromedp.WaitVisible(chromedp.Search(`//section[@id="outdated"]//a[contains(., "Verkkoyksityisyys luokassa")]`)))
	br.check("11-worklist-phone")
	if w := get(t, ctx, "measure the page", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth,
		...[...document.querySelectorAll('main *')].map(e => Math.ceil(e.getBoundingClientRect().right)).filter(r => r > document.documentElement.clientWidth)]`)); len(w) > 2 || w[0] > w[1] {
		t.Errorf("the worklist is wider than a phone: scroll width, client width, overflowing elements' right edges: %v", w)
	}
	do(t, ctx, "open the changes on a phone", chromedp.Click(chromedp.Search(`//section[@id="outdated"]//a[contains(@href, "#changes")]`)),
		chromedp.WaitVisible(chromedp.CSS("#changes")))
	br.check("12-changes-phone")

	// In Finnish, the editor's own language.
	do(t, ctx, "the worklist in Finnish", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(fiBase+"/translations/?to=fi&lang=fi"),
		chromedp.WaitVisible(chromedp.Search(`//h2[@id="outdated-h"][contains(., "Vanhentuneet")]`)))
	br.check("13-worklist-in-finnish")
	do(t, ctx, "the changes in Finnish", chromedp.Click(chromedp.Search(`//section[@id="outdated"]//a[contains(@href, "#changes")]`)),
		chromedp.WaitVisible(chromedp.CSS("#changes")))
	if spoken := get(t, ctx, "read the diff's spoken text", chromedp.TextContent(chromedp.CSS("#changes ins"))); !strings.Contains(spoken, "lisätty") {
		t.Errorf("the added words are not marked in Finnish: %q", spoken)
	}
	br.check("14-changes-in-finnish")

	// Forms that are not what the page gave are refused, and change nothing.
	aino := newPerson(t, fiBase)
	aino.signIn("aino@sic.example.fi", testPassword)
	newDE := "/translations/new?" + url.Values{"resource": {src.ID}, "to": {"de"}}.Encode()
	tok := formToken(aino.get(newDE).body)
	if tok == "" {
		t.Fatal("the form carries no form token")
	}
	de := map[string]string{"resource": src.ID, "version": "3", "language": "de", "title": "Datenschutz im Klassenzimmer",
		"method": "human", "review": "reviewed"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range de {
			m[a] = b
		}
		m[k] = v
		return m
	}
	refusals := []struct {
		name   string
		token  string
		fields map[string]string
		status int
		shows  string
	}{
		{"an older source version", tok, with("version", "1"), http.StatusConflict, `id="changes"`},
		{"a source version not reached", tok, with("version", "9"), http.StatusConflict, `id="changes"`},
		{"no form token", "", de, http.StatusForbidden, ""},
		{"an unknown method", tok, with("method", "ai"), http.StatusUnprocessableEntity, `href="#method"`},
		{"no title", tok, with("title", " "), http.StatusUnprocessableEntity, `href="#title"`},
		{"a web address that is not one", tok, with("url", "javascript:alert(1)"), http.StatusUnprocessableEntity, `href="#url"`},
		{"a translation as the source", tok, with("resource", own[0].ID), http.StatusNotFound, ""},
		{"a malformed language", tok, with("language", "deutsch!"), http.StatusBadRequest, ""},
	}
	for _, r := range refusals {
		got := trSend(t, aino, "/translations/new", r.token, r.fields)
		if got.status != r.status || !strings.Contains(got.body, r.shows) {
			t.Errorf("%s: %d, want %d showing %s\n%.2000s", r.name, got.status, r.status, r.shows, got.body)
		}
	}
	if n := len(trOwnTranslations(t, fi)); n != 2 {
		t.Fatalf("after the refused forms fi has %d translations, want 2", n)
	}
	if got := trSend(t, aino, "/translations/new", tok, de); got.status != http.StatusSeeOther {
		t.Fatalf("the German translation: %d\n%s", got.status, got.body)
	}
	if n := len(trOwnTranslations(t, fi)); n != 3 {
		t.Fatalf("after the German translation fi has %d translations, want 3", n)
	}
	// A file over the limit: the form comes back filled in with the
	// file's error, without the node reading the rest of the upload.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, k := range []string{"resource", "version", "language", "title", "method", "review"} {
			mw.WriteField(k, with("title", "Datenschutz, zu groß")[k])
		}
		fw, _ := mw.CreateFormFile("file", "huge.pdf")
		_, err := io.Copy(fw, io.LimitReader(trZeros{}, 100<<20+1))
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", fiBase+"/translations/new?"+url.Values{"form_token": {tok}}.Encode(), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if resp, err := aino.c.Do(req); err != nil {
		t.Errorf("an oversized file: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `href="#file"`) ||
			!strings.Contains(string(b), "Datenschutz, zu groß") {
			t.Errorf("an oversized file: %d\n%.2000s", resp.StatusCode, b)
		}
	}
	pr.Close()
	if n := len(trOwnTranslations(t, fi)); n != 3 {
		t.Fatalf("after the oversized file fi has %d translations, want 3", n)
	}

	// The edit form of another centre's entity is not there.
	if got := aino.get("/translations/" + src.ID + "/edit"); got.status != http.StatusNotFound {
		t.Errorf("editing the Belgian resource as a translation: %d", got.status)
	}
}
