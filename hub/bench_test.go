package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// benchBatches signs count batches of size ~1 KB changes.
func benchBatches(tb testing.TB, n *testNode, count, size int) [][]protocol.Signed {
	desc := strings.Repeat("Practical advice for parents and teachers. ", 16)
	out := make([][]protocol.Signed, count)
	for i := range out {
		for range size {
			c := n.resource(tb, "Resource", protocol.VisibilityPublic)
			b := resourceBody("Resource")
			b.Description = desc
			c.Body = mustJSON(tb, b)
			out[i] = append(out[i], n.sign(tb, c))
		}
	}
	return out
}

// BenchmarkHub_Push measures apply throughput through the real HTTP API:
// changes/s is the figure to compare with raw SQLite inserts and Ed25519
// verification on all cores.
func BenchmarkHub_Push(b *testing.B) {
	th := mustOpenHub(b)
	be := th.enrolNode(b, "be")
	const size = 1000
	batches := benchBatches(b, be, b.N, size)
	// Headers are the node's bookkeeping, not the hub's work: outside the timer.
	headers := make([]protocol.PushHeader, b.N)
	for i := range headers {
		headers[i] = be.header(b, batches[i])
	}
	b.SetBytes(int64(len(batches[0][0].Change)) * size)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range b.N {
		res, err := be.client.Push(context.Background(), headers[i], batches[i])
		if err != nil || res.Applied != size {
			b.Fatalf("push: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "changes/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*size)/1e3, "cpu-µs/change")
}

// BenchmarkHub_PushEncoded is BenchmarkHub_Push with the bodies encoded and
// compressed before the timer starts: what remains is the hub's work (and
// HTTP on loopback). idle-% is the share of the cores' time the Go scheduler
// found nothing to run, which the machine's other load does not change.
func BenchmarkHub_PushEncoded(b *testing.B) {
	th := mustOpenHub(b)
	be := th.enrolNode(b, "be")
	const size = 1000
	bodies := make([][]byte, b.N)
	for i, batch := range benchBatches(b, be, b.N, size) {
		var buf bytes.Buffer
		if err := protocol.CompressPush(&buf, be.header(b, batch), batch); err != nil {
			b.Fatal(err)
		}
		bodies[i] = buf.Bytes()
	}
	hc := &http.Client{}
	idle0 := idleCPU()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range b.N {
		req, _ := http.NewRequest(http.MethodPost, th.url+protocol.PathPush, bytes.NewReader(bodies[i]))
		req.Header.Set("Authorization", "Bearer "+be.cred)
		req.Header.Set("Content-Encoding", protocol.PushEncoding)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var res protocol.PushResult
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || res.Applied != size {
			b.Fatalf("push: %s %+v %v", resp.Status, res, err)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	idle, total := idleCPU().sub(idle0)
	b.ReportMetric(float64(b.N*size)/elapsed.Seconds(), "changes/s")
	b.ReportMetric(float64(cpu)/float64(b.N*size)/1e3, "cpu-µs/change")
	b.ReportMetric(100*idle/total, "idle-%")
}

// goCPU is the Go scheduler's account of the process's CPU time: idle (no
// goroutine to run, or only idle GC work) and total (GOMAXPROCS × wall time).
type goCPU struct{ idle, total float64 }

// idleCPU reads goCPU after a GC: the runtime updates it only then.
func idleCPU() goCPU {
	runtime.GC()
	s := []metrics.Sample{{Name: "/cpu/classes/idle:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	return goCPU{idle: s[0].Value.Float64() + s[1].Value.Float64(), total: s[2].Value.Float64()}
}

func (c goCPU) sub(before goCPU) (idle, total float64) {
	return c.idle - before.idle, c.total - before.total
}

// BenchmarkHub_Apply measures the write transaction alone, on records verified
// beforehand: in a push it runs beside verification, on what is left of the
// cores.
func BenchmarkHub_Apply(b *testing.B) {
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

// cpuTime is the process's user+system CPU time in ns: on a shared machine
// it is steadier than wall time.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkHub_Feed measures streaming the aggregate to a new node.
func BenchmarkHub_Feed(b *testing.B) {
	th := mustOpenHub(b)
	be := th.enrolNode(b, "be")
	for _, batch := range benchBatches(b, be, 20, 1000) {
		be.mustPush(b, batch...)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		items, _ := pullAll(b, be.client, 0)
		if len(items) != 20000 {
			b.Fatalf("%d items", len(items))
		}
	}
	b.ReportMetric(float64(b.N*20000)/time.Since(start).Seconds(), "changes/s")
}

// BenchmarkBaseline_Verify is the Ed25519 verify rate on all cores.
func BenchmarkBaseline_Verify(b *testing.B) {
	key := newKey(b, "be")
	n := &testNode{id: "be", key: key}
	batch := benchBatches(b, n, 1, 1000)[0]
	pub := key.Public()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	per := (b.N*1000)/runtime.GOMAXPROCS(0) + 1
	for w := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				s := batch[(i+w)%len(batch)]
				protocol.VerifySignature(pub, s.Change, s.Sig)
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*runtime.GOMAXPROCS(0))/time.Since(start).Seconds(), "verifies/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(per*runtime.GOMAXPROCS(0))/1e3, "cpu-µs/verify")
}

// BenchmarkBaseline_Insert is the raw batched insert rate of the same rows
// into a bare table, one transaction per 1,000.
func BenchmarkBaseline_Insert(b *testing.B) {
	th := mustOpenHub(b)
	n := &testNode{id: "be", key: newKey(b, "be")}
	batch := benchBatches(b, n, 1, 1000)[0]
	ctx := context.Background()
	if _, err := th.db.Writer().ExecContext(ctx, `CREATE TABLE raw (id INTEGER PRIMARY KEY, change BLOB, sig BLOB)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		tx, _ := th.db.Writer().BeginTx(ctx, nil)
		stmt, _ := tx.PrepareContext(ctx, `INSERT INTO raw (change, sig) VALUES (?, ?)`)
		for _, s := range batch {
			if _, err := stmt.ExecContext(ctx, []byte(s.Change), s.Sig); err != nil {
				b.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "rows/s")
	_ = bytes.MinRead
}
