package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// pipeliningMeasured records the measurement that removed pipelined pushes
// from node and hub: the benchmark can no longer take it, since the hub now
// refuses a push sent before the answer to the one before.
const pipeliningMeasured = "Pipelined pushes (a node sending its next batch before the answer to the previous one, so that the hub verified one batch while it wrote the one before) were measured against one batch at a time on this benchmark, with batch verification in place, before they were removed: " +
	"in three runs of this benchmark on its 2-core machine, each splitting the one node's pushes into four alternating runs (pipelined, one at a time, one at a time, pipelined), pipelining took 3,082 against 3,036 changes/s (+1 %, 40,000 changes), 5,843 against 4,713 (+24 %, 60,000) and 3,503 against 4,440 (−21 %, 60,000): +1 % on average, and as much as the machine's other load moved either figure (the hub had 22 to 42 % of the two cores). " +
	"Pipelining had to gain at least 15 % to be worth its complexity (a second admission path at the hub, a second meaning of `seq_gap`, resends at the node); it did not, so the node sends one push at a time and the hub refuses a push that does not continue the checkpoint."

// nodePeakTargetMiB bounds a node's peak resident set while it pulls the
// aggregate.
const nodePeakTargetMiB = 100

func (r *report) markdown() string {
	var b strings.Builder
	limit := min(r.sqlRate, r.verifyRate)
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Produced by `make bench` (`go run ./cmd/bikfed-bench -out docs/benchmarks.md`) on %s, %s.\n", r.started.UTC().Format("2006-01-02"), machine())
	fmt.Fprintf(&b, "The hub and the node are real `bikfed` processes on loopback; baselines are measured in the same run, so the ratios hold on a noisy shared machine where absolute rates do not.\n\n")

	one, two := r.applyOne, r.applyTwo
	fmt.Fprintf(&b, "## Hub apply throughput\n\n")
	fmt.Fprintf(&b, "%d signed ~1 KB resources pushed in batches of %d over HTTP (NDJSON, zstd as the node sends it): decode, validation, signature check, ownership and version checks, one SQLite transaction per batch. ", one.changes+two.changes, r.cfg.batch)
	fmt.Fprintf(&b, "First one node pushes %d changes alone, then two nodes push %d each at the same time. Each node sends one push at a time, the next once the previous one is answered, as a node does; the bodies are compressed before timing starts (the client's compression is not the hub's work). The hub's background work (the portal's indexer) competes with the pushes as it would in production. The verification baseline is the median of three passes before the pushes and three after, once the hub is idle.\n\n", one.changes, two.changes/max(two.nodes, 1))
	fmt.Fprintf(&b, "| baseline | rate |\n|---|---|\n")
	fmt.Fprintf(&b, "| raw batched SQLite inserts of the same rows (batches of %d) | %.0f rows/s |\n", r.cfg.batch, r.sqlRate)
	fmt.Fprintf(&b, "| Ed25519 verification of the same signatures on all cores (median of %d passes, %.0f–%.0f; the hypervisor took %.0f %% of the machine meanwhile) | %.0f /s |\n", len(r.verifyRates), r.verifyRates[0], r.verifyRates[len(r.verifyRates)-1], 100*r.verifyStolen, r.verifyRate)
	fmt.Fprintf(&b, "| **machine limit** (the slower of the two) | **%.0f /s** |\n\n", limit)
	fmt.Fprintf(&b, "| hub apply | one node pushing | two nodes pushing at once |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| rate | %.0f changes/s | %.0f changes/s |\n", one.rate, two.rate)
	fmt.Fprintf(&b, "| the hub's CPU | %.0f %% of %d cores | %.0f %% |\n", 100*one.hubCPU, runtime.NumCPU(), 100*two.hubCPU)
	fmt.Fprintf(&b, "| the machine's cores idle / taken by the hypervisor (steal) | %.0f %% / %.0f %% | %.0f %% / %.0f %% |\n", 100*one.idle, 100*one.stolen, 100*two.idle, 100*two.stolen)
	fmt.Fprintf(&b, "| one push of %d, sent to answered | p50 %s, p99 %s, max %s | p50 %s, p99 %s, max %s |\n", r.cfg.batch, ms(one.latency.p50), ms(one.latency.p99), ms(one.max), ms(two.latency.p50), ms(two.latency.p99), ms(two.max))
	fmt.Fprintf(&b, "| **ratio to the machine limit** (target ≥ 1.0 for one node; two nodes reported) | **%.2f** — %s | **%.2f** |\n", one.rate/limit, verdict(one.rate/limit >= 1.0), two.rate/limit)
	fmt.Fprintf(&b, "| the hub's CPU time per change (%s per signature in the baseline) | %s | %s |\n", us(r.verifyCPU), us(one.cpuPerChange), us(two.cpuPerChange))
	fmt.Fprintf(&b, "| CPU ratio: the baseline's CPU time per signature over the hub's per change | %.2f | %.2f |\n\n", r.verifyCPU.Seconds()/one.cpuPerChange.Seconds(), r.verifyCPU.Seconds()/two.cpuPerChange.Seconds())
	b.WriteString("The ratio compares rates measured seconds apart on a shared virtual machine, whose hypervisor takes a varying share of the cores (steal, above): a phase that lost much of the machine to it is not comparable with baseline passes that did not. The CPU ratio compares CPU time instead of rates, so it does not depend on how much of the machine either side got: it is the share of the hub's work per change that checking the signature alone costs.\n\n")

	fmt.Fprintf(&b, "%s\n\n", pipeliningMeasured)

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

	b.WriteString(r.noop.markdown())

	fmt.Fprintf(&b, "## Peak memory\n\nPeak resident set (`VmHWM`), read from `/proc` while each process runs (every 20 ms for the node, which exits when it is done).\n\n| process | peak RSS |\n|---|---|\n")
	fmt.Fprintf(&b, "| hub, through the whole run | %.0f MiB |\n", float64(r.hubPeakKB)/1024)
	fmt.Fprintf(&b, "| node, pulling the aggregate (target < %d MiB) | %.0f MiB — %s |\n\n", nodePeakTargetMiB, float64(r.nodePeakKB)/1024, verdict(r.nodePeakKB < nodePeakTargetMiB<<10))
	storageMarkdown(&b, r.storage)
	return strings.TrimSuffix(b.String(), "\n")
}
