package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) markdown() string {
	var b strings.Builder
	limit := min(r.sqlRate, r.verifyRate)
	ratio := r.applyRate / limit
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Produced by `make bench` (`go run ./cmd/bikfed-bench -out docs/benchmarks.md`) on %s, %s.\n", r.started.UTC().Format("2006-01-02"), machine())
	fmt.Fprintf(&b, "The hub and the node are real `bikfed` processes on loopback; baselines are measured in the same run, so the ratios hold on a noisy shared machine where absolute rates do not.\n\n")

	fmt.Fprintf(&b, "## Hub apply throughput\n\n")
	fmt.Fprintf(&b, "%d signed ~1 KB resources pushed in batches of %d over HTTP (NDJSON, zstd as the node sends it): decode, validation, signature check, ownership and version checks, one SQLite transaction per batch. ", r.cfg.entities, r.cfg.batch)
	fmt.Fprintf(&b, "The bodies are compressed before timing starts (the client's compression is not the hub's work) and pushed one after the other, so the hub's background work (the portal's indexer) competes with them; the verification baseline is the median of three passes before the pushes and three after, once the hub is idle.\n\n")
	fmt.Fprintf(&b, "| measure | rate |\n|---|---|\n")
	fmt.Fprintf(&b, "| baseline: raw batched SQLite inserts of the same rows (batches of %d) | %.0f rows/s |\n", r.cfg.batch, r.sqlRate)
	fmt.Fprintf(&b, "| baseline: Ed25519 verification of the same signatures on all cores (median of %d passes, %.0f–%.0f) | %.0f /s |\n", len(r.verifyRates), r.verifyRates[0], r.verifyRates[len(r.verifyRates)-1], r.verifyRate)
	fmt.Fprintf(&b, "| machine limit (the slower of the two) | %.0f /s |\n", limit)
	fmt.Fprintf(&b, "| hub apply | %.0f changes/s |\n", r.applyRate)
	fmt.Fprintf(&b, "| the hub's CPU while pushes were applied | %.0f %% of %d cores |\n", 100*r.applyCPU, runtime.NumCPU())
	fmt.Fprintf(&b, "| one push of %d, answered | p50 %s, p99 %s, max %s |\n", r.cfg.batch, ms(r.pushLatency.p50), ms(r.pushLatency.p99), ms(r.pushMax))
	fmt.Fprintf(&b, "| **ratio** (target ≥ 0.5) | **%.2f** — %s |\n\n", ratio, verdict(ratio >= 0.5))

	fmt.Fprintf(&b, "## A new node pulls the aggregate\n\n")
	fmt.Fprintf(&b, "`bikfed node sync` on a freshly enrolled node, against the hub holding %d entities: every change fetched, verified and stored.\n\n", r.cfg.entities)
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| wall time, process start to exit (target < 30 s) | %.1f s — %s |\n", r.pullSeconds, verdict(r.pullSeconds < 30))
	fmt.Fprintf(&b, "| rate | %.0f changes/s |\n", float64(r.cfg.entities)/r.pullSeconds)
	fmt.Fprintf(&b, "| `bikfed verify` afterwards | %s |\n\n", map[bool]string{true: "equal", false: "**differences**"}[r.pullVerified])

	fmt.Fprintf(&b, "## A sync round when nothing changed\n\n")
	fmt.Fprintf(&b, "%d rounds each. On the wire: one changes request with nothing newer than the cursor (the outbox is empty, so no push is sent); bytes are counted on the TCP connection, both directions, after a warm-up round.\n\n", r.cfg.rounds)
	fmt.Fprintf(&b, "| aggregate | p50 | p99 | bytes per round |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d entities, changes request | %s | %s | %.0f |\n", r.smallSize, ms(r.idleSmall.p50), ms(r.idleSmall.p99), r.idleSmall.bytes)
	fmt.Fprintf(&b, "| %d entities, changes request | %s | %s | %.0f |\n", r.cfg.entities, ms(r.idleLarge.p50), ms(r.idleLarge.p99), r.idleLarge.bytes)
	fmt.Fprintf(&b, "| %d entities, the node's whole round (`SyncOnce`) | %s | %s | |\n\n", r.cfg.entities, ms(r.nodeIdle.p50), ms(r.nodeIdle.p99))
	ok := r.nodeIdle.p50 < 5*time.Millisecond && r.idleLarge.bytes < 2048
	fmt.Fprintf(&b, "Target: under 5 ms and under 2 KB, independent of the aggregate's size — %s.\n\n", verdict(ok))

	fmt.Fprintf(&b, "## Peak memory\n\nPeak resident set (`VmHWM`), read from `/proc` while each process runs (every 20 ms for the node, which exits when it is done).\n\n| process | peak RSS |\n|---|---|\n")
	fmt.Fprintf(&b, "| hub, through the whole run | %.0f MiB |\n", float64(r.hubPeakKB)/1024)
	fmt.Fprintf(&b, "| node, pulling the aggregate | %.0f MiB |\n", float64(r.nodePeakKB)/1024)
	return b.String()
}
