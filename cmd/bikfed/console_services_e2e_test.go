package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The guide to online services written in the console, in a real browser
// against a real hub: a coordinator invited from the command line signs
// in, adds a service through the form, is told the address she typed is
// not one and fixes it without retyping anything else, and the public
// portal then shows the service's page with its minimum age. Every
// console page passes axe-core.
func TestE2E_ConsoleServices(t *testing.T) {
	nw := newNetwork(t)
	waitServing(t, nw.hubDir, hubAddrFile)
	out := mustCLI(t, nil, "hub", "member", "add", "carla@example.eu", "--name", "Carla Coordinator", "--role", "coordinator", "--data", nw.hubDir)
	b := newConsoleBrowser(t)
	b.acceptInvitation(invitationLink(t, out), "carla@example.eu", "seven purple bicycles at dawn", "")

	b.step("open the guide", chromedp.Click(chromedp.CSS(`nav a[href="/console/services"]`)), chromedp.WaitVisible(chromedp.CSS("#new-service")))
	b.check("services-empty")
	b.step("add a service", chromedp.Click(chromedp.CSS("#new-service")), chromedp.WaitVisible(chromedp.CSS("#name")))
	b.check("service-new")

	const description = "A chat app organised in servers, with text, voice and video channels."
	b.fill(map[string]string{
		"#name":              "Discord",
		"#slug":              "Discord App",
		"#url":               "https://discord.com",
		"#description":       description,
		"#minimum_age":       "13",
		"#safety_features":   "Explicit image filter\nDirect messages from friends only",
		"#how_to_report":     "Right-click the message, choose Report, and say what is wrong.",
		"#report_url":        "https://support.discord.com/hc/en-us/articles/360000291932",
		"#how_to_block":      "Open the user's profile, choose the three dots and Block.",
		"#v0-description":    "Une application de discussion organisée en serveurs.",
		"#v0-how_to_report":  "Faites un clic droit sur le message et choisissez Signaler.",
		"#parental_controls": "Family Center",
	})
	b.step("choose the kind, the age, the tools and the topics",
		chromedp.SetValue(chromedp.CSS("#category"), "community-chat"),
		chromedp.Click(chromedp.CSS("#age-min")),
		chromedp.Click(chromedp.CSS("#feature-message-controls")),
		chromedp.Click(chromedp.CSS("#feature-content-filters")),
		chromedp.Click(chromedp.CSS("#topic-grooming")),
		chromedp.SetValue(chromedp.CSS("#v0-language"), "fr"))
	b.step("save with a wrong address", chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS("#error-summary")))
	if e := b.text("#slug-error"); e == "" {
		t.Fatal("no error next to the address")
	}
	if b.value("#description") != description || b.value("#minimum_age") != "13" || b.value("#v0-language") != "fr" ||
		b.value("#category") != "community-chat" {
		t.Errorf("the refused form lost what was typed: %q %q %q %q", b.value("#description"), b.value("#minimum_age"),
			b.value("#v0-language"), b.value("#category"))
	}
	if checked := get(t, b.ctx, "read the ticked tools", chromedp.Evaluate[bool](`document.querySelector('#feature-content-filters').checked && document.querySelector('#topic-grooming').checked`)); !checked {
		t.Error("the refused form lost the ticked boxes")
	}
	b.check("service-errors")
	b.step("follow the summary to the field", chromedp.Click(chromedp.CSS(`#error-summary a[href="#slug"]`)))
	b.fill(map[string]string{"#slug": "discord"})
	b.step("save", chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.mustShow("#services", "Discord")
	b.mustShow("#services", "Minimum age 13")
	b.check("services-saved")
	b.step("open the service again", chromedp.Click(chromedp.CSS(`#services th a`)), chromedp.WaitVisible(chromedp.CSS("#v1-language")))
	if v := b.value("#v0-description"); !strings.HasPrefix(v, "Une application") {
		t.Errorf("the French version reads %q", v)
	}
	b.check("service-edit")

	waitFor(t, 60*time.Second, "the portal to show the service", func() error {
		if page := getBody(t, nw.hubURL+"/services/discord"); !strings.Contains(page, "Minimum age 13") {
			return fmt.Errorf("/services/discord does not say its age yet")
		}
		return nil
	})
	b.step("open the portal's page", chromedp.Navigate(nw.hubURL+"/services/discord"), chromedp.WaitVisible(chromedp.CSS("#age-h")))
	b.mustShow("main", "Discord")
	b.mustShow("main", "Minimum age 13")
	b.mustShow("main", "Right-click the message, choose Report")
	b.check("portal-service")
}
