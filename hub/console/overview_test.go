package console

import (
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

func TestAttention(t *testing.T) {
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := bundle.Printer("en")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	for _, tc := range []struct {
		name string
		node protocol.NodeStatus
		want []string
	}{
		{"in step", protocol.NodeStatus{Node: "be", Name: "SIC BE", Enrolled: true, Live: "alive"}, nil},
		{"silent", protocol.NodeStatus{Node: "be", Name: "SIC BE", Enrolled: true, Live: "silent", LastSuccessAt: ago(3 * time.Hour)},
			[]string{"SIC BE has gone silent: last in touch 3 hours ago."}},
		{"not answering over gossip", protocol.NodeStatus{Node: "be", Enrolled: true, Live: "dead"},
			[]string{"be has gone silent."}},
		{"never in touch", protocol.NodeStatus{Node: "be", Name: "SIC BE", Enrolled: true, Live: "never"},
			[]string{"SIC BE has enrolled but never been in touch since."}},
		{"not enrolled", protocol.NodeStatus{Node: "be", Name: "SIC BE", Live: "never"},
			[]string{"SIC BE is registered but has not enrolled yet: its centre still has to use its enrolment token."}},
		{"suspended", protocol.NodeStatus{Node: "be", Name: "SIC BE", Enrolled: true, Suspended: true, Live: "silent"},
			[]string{"SIC BE is suspended: the hub refuses everything it sends and asks."}},
		{"removed", protocol.NodeStatus{Node: "be", Name: "SIC BE", Removed: true, Live: "silent", RefusalCount: 3}, nil},
		{"behind, ahead and refused", protocol.NodeStatus{Node: "be", Name: "SIC BE", Enrolled: true, Live: "alive",
			PullLag: 40, PullLagSeconds: 2 * 3600, CursorAhead: 1, RefusalCount: 2},
			[]string{
				"SIC BE claims 1 change more than the hub has: the hub may have been restored from an older copy.",
				"SIC BE is behind: the oldest change it has not fetched is 2 hours old.",
				"The hub refused 2 records from SIC BE: the centre needs to fix them.",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := attention(p, tc.node, nodeView(p, tc.node, now))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("attention:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestNodeView(t *testing.T) {
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	pushed := now.Add(-5 * time.Minute)
	n := protocol.NodeStatus{Node: "fi", Name: "SIC FI", Enrolled: true, Live: "alive", LiveSource: "http", LiveSince: &pushed,
		LastPushAt: &pushed, PullLag: 3, PullLagSeconds: 90, PushLag: 1, CursorAhead: 0}
	for lang, want := range map[string][]string{
		"en": {"in touch", "last contact 5 minutes ago", "5 minutes ago", "2 minutes (3 changes)", "1 change"},
		"fi": {"yhteydessä", "viimeisin yhteys", "3 muutosta"},
		"fr": {"en contact", "dernier contact", "3 modifications", "1 modification"},
	} {
		row := nodeView(bundle.Printer(lang), n, now)
		got := strings.Join([]string{row.LiveText, row.LiveDetail, row.LastPush, row.PullLag, row.PushLag}, " | ")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", lang, got, w)
			}
		}
		if row.LiveClass != "ok" || row.LastPull != "" {
			t.Errorf("%s: class %q, last pull %q", lang, row.LiveClass, row.LastPull)
		}
	}
	ahead := nodeView(bundle.Printer("en"), protocol.NodeStatus{Node: "pt", CursorAhead: 2}, now)
	if ahead.Ahead != "2 changes ahead of the hub" {
		t.Errorf("ahead: %q", ahead.Ahead)
	}
}

func TestPlainRefusal(t *testing.T) {
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range bundle.Languages() {
		p := bundle.Printer(lang)
		for code := range refusalCodes {
			if got := plainRefusal(p, code); strings.HasPrefix(got, "console.") {
				t.Errorf("%s: no words for %s", lang, code)
			}
		}
		if got := plainRefusal(p, protocol.CodeInternal); got != p.T("console.refusal.other") {
			t.Errorf("%s: an unexplained code gets %q", lang, got)
		}
	}
}

func TestAxisSeconds(t *testing.T) {
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang string
		v    float64
		want string
	}{
		{"en", 0, "0 s"}, {"en", 0.25, "0.25 s"}, {"en", 45, "45 s"}, {"en", 600, "10 min"}, {"en", 12600, "3.5 h"},
		{"de", 0.25, "0,25 s"}, {"nl", 12600, "3,5 u"},
	} {
		if got := axisSeconds(bundle.Printer(tc.lang), tc.v); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.lang, tc.v, got, tc.want)
		}
	}
}
