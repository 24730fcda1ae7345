package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// robloxReport is the sample guide's link to Roblox's own page on reporting.
const robloxReport = "https://en.help.roblox.com/hc/en-us/articles/203312410-How-to-Report-Rule-Violations-and-Block-a-User"

// TestE2E_PortalServices: a French visitor searches the guide to online
// services, opens Roblox's page from the list, finds its report link and
// follows the link to the portal's help.
func TestE2E_PortalServices(t *testing.T) {
	nw, _ := newSamplePortal(t)
	hub := nw.hubURL
	b := startVisitor(t, "fr")
	leak := newEnglishLeak(t, "fr")
	// Go's client asks for no language: the English page shows the check
	// has English phrases of the guide to find.
	if found := leak.in(getBody(t, hub+"/services/roblox")); len(found) < 8 {
		t.Fatalf("the check finds only %d English phrases on the English service page: it would prove nothing", len(found))
	}
	noEnglish := func(page string) {
		t.Helper()
		if found := leak.in(get(t, b.ctx, "read the interface text", chromedp.Evaluate[string](interfaceText))); len(found) > 0 {
			t.Errorf("%s shows English interface text:\n\t%s", page, strings.Join(found, "\n\t"))
		}
	}

	b.open(hub+"/services", ".cards .card")
	if loc := b.location(); loc != hub+"/fr/services" {
		t.Errorf("/services for a French browser landed on %s", loc)
	}
	b.mustShow("#results-h", "6 services")
	noEnglish("/fr/services")
	b.check("fr-services")
	fitsPhone(t, b, "/fr/services", "fr-services")

	// A filter is a link: games, then the form narrows by words.
	b.do("choose the games", chromedp.Click(`aside.facets a[href="/fr/services?category=game"]`),
		chromedp.WaitVisible(`aside.facets a.on[aria-current="true"]`))
	if loc := b.location(); loc != hub+"/fr/services?category=game" {
		t.Errorf("the games filter led to %s", loc)
	}
	b.mustShow("#results-h", "1 service")
	b.open(hub+"/fr/services", "#q")
	b.fill(map[string]string{"#q": "roblox"})
	// Only a filtered guide offers to clear its filters: the results of the
	// search have loaded when it does.
	b.do("search", chromedp.Click(`form.search button[type=submit]`), chromedp.WaitVisible(`aside.facets p a[href="/fr/services"]`))
	if loc := b.location(); !strings.HasPrefix(loc, hub+"/fr/services?") || !strings.Contains(loc, "q=roblox") {
		t.Errorf("the search went to %s", loc)
	}
	b.mustShow("#results-h", "1 service")
	b.check("fr-services-roblox")

	b.do("open Roblox's page", chromedp.Click(`.cards a[href="/fr/services/roblox"]`), chromedp.WaitVisible(`#report-link`))
	if loc := b.location(); loc != hub+"/fr/services/roblox" {
		t.Errorf("the card led to %s", loc)
	}
	b.mustShow("#age-h + dl", "Pas d’âge minimum")
	if got := get(t, b.ctx, "read the description's language", chromedp.Evaluate[string](`document.querySelector('article .desc').lang`)); got != "fr" {
		t.Errorf("the French version's description is marked lang=%q", got)
	}
	noEnglish("/fr/services/roblox")
	b.check("fr-service-roblox")
	fitsPhone(t, b, "/fr/services/roblox", "fr-service-roblox")

	// An outside site cannot load here: the report link is checked as what
	// a person activates, a real link, on screen, at least 44 px high and
	// the topmost element where it is drawn, to Roblox's own page.
	link := get(t, b.ctx, "inspect the report link", chromedp.Evaluate[map[string]any](`(() => {
		const a = document.querySelector('#report-link');
		a.scrollIntoView({block: 'center', behavior: 'instant'});
		const r = a.getBoundingClientRect();
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return {tag: a.tagName, href: a.href, height: r.height, focusable: a.tabIndex >= 0,
			topmost: top === a || a.contains(top), text: a.innerText};
	})()`))
	if link["tag"] != "A" || link["href"] != robloxReport {
		t.Errorf("the report link is <%v href=%v>, want <A href=%s>", link["tag"], link["href"], robloxReport)
	}
	if h, _ := link["height"].(float64); h < 44 || link["focusable"] != true || link["topmost"] != true {
		t.Errorf("the report link cannot be activated as it should: %v", link)
	}
	if !strings.Contains(link["text"].(string), "Roblox") {
		t.Errorf("the report link says %q", link["text"])
	}

	b.do("follow the help link", chromedp.Click(`#help-link`), chromedp.WaitVisible(`#mine-h, #eu-h`))
	if loc := b.location(); loc != hub+"/fr/help" {
		t.Errorf("the help link led to %s, want %s/fr/help", loc, hub)
	}
	mustEUNumbers(t, b, "main", "/fr/help")
}
