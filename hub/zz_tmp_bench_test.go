package hub

import (
	"context"
	"testing"
	"time"
)

func BenchmarkZZApplyNoRefs(b *testing.B) {
	th := mustOpenHub(b)
	be := th.enrolNode(b, "be")
	const size = 1000
	batches := make([]*batch, b.N)
	for i, ss := range benchBatches(b, be, b.N, size) {
		batches[i] = &batch{header: be.header(b, ss)}
		for j, s := range ss {
			it := &pushItem{line: j + 2, signed: s}
			th.verify(it, be.id)
			batches[i].items = append(batches[i].items, it)
		}
	}
	noRefs = true
	defer func() { noRefs = false }()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range b.N {
		res, err := th.applyBatch(context.Background(), batches[i])
		if err != nil || res.Applied != size {
			b.Fatalf("apply: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "changes/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*size)/1e3, "cpu-µs/change")
}
