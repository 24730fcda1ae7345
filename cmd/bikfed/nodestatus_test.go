package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/node"
)

// The node's status never says "0 behind" while it has still to reconcile
// with a hub that went back in time, and says which way its clock is off.
func TestPrintNodeStatus(t *testing.T) {
	rewound := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name      string
		st        node.Status
		want, not []string
	}{
		{"in step", node.Status{PullCursor: 7, HubSeq: 7}, []string{"(0 behind)"}, []string{"reconciling", "clock"}},
		{"reconciling after a hub restore", node.Status{PullCursor: 7, HubSeq: 7, Reconciling: true, HubRewoundAt: &rewound},
			[]string{"reconciling with the hub, which went back in time"}, []string{"0 behind"}},
		{"clock 72h ahead", node.Status{ClockSkewed: true, ClockOffsetSeconds: -72 * 3600},
			[]string{"the hub's clock is 72h0m0s behind this machine's"}, nil},
		{"clock 72h behind", node.Status{ClockSkewed: true, ClockOffsetSeconds: 72 * 3600},
			[]string{"the hub's clock is 72h0m0s ahead of this machine's"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printNodeStatus(&b, tc.st)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("missing %q in\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q in\n%s", w, b.String())
				}
			}
		})
	}
}
