package portal_test

import (
	"strings"
	"testing"
)

// TestPortal_HelpFirst: /help puts the visitor's country first, from
// their choice, their browser or the page's language, with its SIC's
// helpline and hotline when the network has one and the European numbers
// always; every other country follows, each with at least those numbers.
// A search for distress shows the same help above its results.
func TestPortal_HelpFirst(t *testing.T) {
	n := startHub(t)
	n.seedSamples()

	eu := []string{`href="tel:116111"`, `href="tel:116000"`, `href="tel:112"`, "116 111", "116 000"}
	has := func(what, body string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %s", what, w)
			}
		}
	}
	// A country in the network: its own helpline first.
	body := n.getOK("/help?country=fi")
	has("/help?country=fi", body, append([]string{`id="mine-h"`, "Your country: Finland", "helpline"}, eu...)...)
	// A country without a SIC here, from the browser's region.
	body = n.getOK("/help", "Accept-Language: en-IE")
	has("/help for en-IE", body, append([]string{"Your country: Ireland", "Ireland has no Safer Internet Centre in this network yet"}, eu...)...)
	// Nothing known: the European numbers first.
	body = n.getOK("/help")
	has("/help", body, append([]string{`id="eu-h"`}, eu...)...)
	if strings.Contains(body, `id="mine-h"`) {
		t.Error("/help without a country names one")
	}
	// Every listed country, with or without a SIC.
	for _, c := range []string{"help-at", "help-it", "help-ua", "help-is", "help-rs", "help-be"} {
		if !strings.Contains(body, `id="`+c+`"`) {
			t.Errorf("/help lacks %s", c)
		}
	}
	if got := strings.Count(body, `<details id="help-`); got != 39 {
		t.Errorf("/help lists %d other countries, want 39", got)
	}
	// A language-only browser, on its language's page.
	body = n.getOK("/it/help")
	has("/it/help", body, append([]string{`id="mine-h"`, "Italia"}, eu...)...)

	// Searches.
	for _, q := range []string{"bullying", "cyber+bullying", "Cyberbullying+help", "sextortion", "bullismo", "Cybermobbing", "%CE%95%CE%9A%CE%A6%CE%9F%CE%92%CE%99%CE%A3%CE%9C%CE%9F%CE%A3"} {
		has("/resources?q="+q, n.getOK("/resources?q="+q), append([]string{`class="callout distress"`}, eu...)...)
	}
	if body := n.getOK("/it/resources?q=bullismo"); !strings.Contains(body, `class="callout distress"`) || !strings.Contains(body, `href="/it/help?country=it"`) {
		t.Error("/it/resources?q=bullismo: no help for Italy first")
	}
	for _, q := range []string{"privacy", "online+safety+guide", ""} {
		if strings.Contains(n.getOK("/resources?q="+q), `class="callout distress"`) {
			t.Errorf("/resources?q=%s shows the distress box", q)
		}
	}
}
