package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// webBrowser is headless Chromium driven as a person would use it, with
// axe-core to audit each page and a folder for the pages' screenshots.
type webBrowser struct {
	t     *testing.T
	ctx   context.Context
	axe   string
	shots string
}

// startWebBrowser starts Chromium for t, with any further flags in opts;
// its screenshots go to testout/<folder>/.
func startWebBrowser(t *testing.T, folder string, opts ...chromedp.ExecAllocatorOption) *webBrowser {
	t.Helper()
	chromium, axePath := browserTools(t)
	axeJS, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join("..", "..", "testout", folder)
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// The machine has no network: these flags keep Chromium from trying.
	opts = append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(chromium), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900)}, opts...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser, which lives as long as the context
	// of that call: it must not be a step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &webBrowser{t: t, ctx: ctx, axe: string(axeJS), shots: shots}
}

// do runs steps, failing the test on error.
func (b *webBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	do(b.t, b.ctx, what, steps...)
}

// text returns the visible text of the first element sel matches. Just
// after a page loads, Chromium may renumber the document's nodes under
// chromedp's query; the read is then tried again on the new ones.
func (b *webBrowser) text(sel string) string {
	b.t.Helper()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return v
		}
		if try == 3 || !strings.Contains(err.Error(), "No node with given id found") {
			b.t.Fatalf("read %s: %v", sel, err)
		}
	}
}

// location is the page's address.
func (b *webBrowser) location() string {
	b.t.Helper()
	return get(b.t, b.ctx, "read the location", chromedp.Location())
}

// open loads url and waits for sel.
func (b *webBrowser) open(url, sel string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// follow clicks the link sel and waits until the page at path (the link's
// own path) has loaded and shows sel2. Waiting for an element alone can be
// met by the page the click leaves, and a script run while the new page
// replaces it finds no context: the address and readiness are polled,
// tolerating that, before the element is awaited.
func (b *webBrowser) follow(what, sel, path, sel2 string) {
	b.t.Helper()
	b.do(what, chromedp.Click(chromedp.CSS(sel)))
	waitFor(b.t, browserStepTimeout, what, func() error {
		ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout/4)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + " " + document.readyState`))
		if err != nil {
			return err
		}
		if v != path+" complete" {
			return fmt.Errorf("at %q, want %s loaded", v, path)
		}
		return nil
	})
	b.do(what, chromedp.WaitVisible(chromedp.CSS(sel2)))
}

// fill types values into the inputs their selectors name.
func (b *webBrowser) fill(values map[string]string) {
	b.t.Helper()
	for sel, v := range values {
		sq, _ := json.Marshal(sel)
		get(b.t, b.ctx, "clear "+sel, chromedp.Evaluate[bool](`(e => { e.value = ''; return true })(document.querySelector(`+string(sq)+`))`))
		b.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
}

// check saves the page's screenshot as name.png, at the window's width and
// at a phone's, and fails the test on any WCAG 2.1 A or AA violation that
// axe-core finds.
func (b *webBrowser) check(name string) {
	b.t.Helper()
	b.audit(name)
	b.shot(name)
	b.do("narrow to a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	b.shot(name + "-phone")
	b.do("widen again", chromedp.EmulateViewport(1280, 900))
}

func (b *webBrowser) shot(name string) {
	b.t.Helper()
	// A full-page capture of a tall page can take chromium long on a busy
	// machine; the visible part is enough to look at, so a capture that
	// does not finish in time falls back to it.
	ctx, cancel := context.WithTimeout(b.ctx, 2*browserStepTimeout)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		b.t.Logf("screenshot %s: full page: %v; taking the visible part", name, err)
		png = get(b.t, b.ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *webBrowser) audit(name string) {
	b.t.Helper()
	get(b.t, b.ctx, "inject axe-core", chromedp.Evaluate[bool](b.axe+";true"))
	out := get(b.t, b.ctx, "run axe-core on "+name, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
		.then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))}))`, chromedp.EvalAwaitPromise))
	var res struct {
		Passes     int   `json:"passes"`
		Violations []any `json:"violations"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		b.t.Fatalf("axe-core on %s: %v", name, err)
	}
	if res.Passes < 10 {
		b.t.Errorf("axe-core checked only %d rules on %s: did it run?", res.Passes, name)
	}
	if len(res.Violations) > 0 {
		v, _ := json.MarshalIndent(res.Violations, "", "  ")
		b.t.Errorf("axe-core: WCAG 2.1 A/AA violations on %s:\n%s", name, v)
	}
}

// mustShow fails unless the element sel matches holds text.
func (b *webBrowser) mustShow(sel, text string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, text) {
		b.t.Fatalf("%s says %q, want %q", sel, got, text)
	}
}
