package main

import (
	"strings"
	"testing"
)

// A summary keeps the functions with the most time of their own and the
// steps the process went through, with their cumulative time.
func TestSummariseTop(t *testing.T) {
	top := `File: bikfed
Type: cpu
Duration: 6.01s, Total samples = 2.61s (43.39%)
Showing nodes accounting for 2.12s, 81.23% of 2.61s total
      flat  flat%   sum%        cum   cum%
     0.60s 22.99% 22.99%      0.60s 22.99%  internal/runtime/syscall/linux.Syscall6
     0.21s  8.05% 39.85%      0.21s  8.05%  runtime.memmove
     0.23s  8.81% 31.80%      0.23s  8.81%  runtime.asyncPreempt
     0.12s  4.60% 44.44%      0.12s  4.60%  github.com/oasisprotocol/curve25519-voi/curve.vecMul_AVX2
         0     0% 81.23%      0.99s 37.93%  github.com/bikfed/bikfed/node.(*Node).applyPage
         0     0% 81.23%      0.43s 16.48%  github.com/bikfed/bikfed/protocol.(*Client).ChangesAfter
         0     0% 81.23%      0.40s 15.33%  github.com/bikfed/bikfed/protocol.VerifyBatchAt
`
	p, err := summariseTop("node B", top)
	if err != nil {
		t.Fatal(err)
	}
	if p.total != "Duration: 6.01s, Total samples = 2.61s (43.39%)" {
		t.Errorf("total = %q", p.total)
	}
	want := []string{
		"`internal/runtime/syscall/linux.Syscall6` — 23.0 % of its own",
		"`runtime.asyncPreempt` — 8.8 % of its own",
		"`runtime.memmove` — 8.1 % of its own",
		"fetching feed pages (HTTP, gzip, JSON) (`protocol.(*Client).ChangesAfter`) — 0.43s, 16.5 %",
		"verifying signatures, in Ed25519 batches (`protocol.VerifyBatchAt`) — 0.40s, 15.3 %",
		"applying pulled pages (`node.(*Node).applyPage`) — 0.99s, 37.9 %",
	}
	if got := strings.Join(p.top, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("summary:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if _, err := summariseTop("empty", "File: bikfed\n"); err == nil {
		t.Error("an empty profile was summarised")
	}
}
