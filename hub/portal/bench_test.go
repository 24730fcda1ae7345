package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
)

// benchNet is a hub holding n synthetic resources, indexed.
func benchNet(b *testing.B, n int) *testNet {
	net := startHub(b)
	be := net.node("be")
	var drafts []draft
	for _, d := range sampledata.Synthetic("be", n, 1) {
		drafts = append(drafts, draft{kind: d.Kind, vis: d.Visibility, body: d.Body})
		if len(drafts) == 1000 {
			be.push(drafts...)
			drafts = nil
		}
	}
	if len(drafts) > 0 {
		be.push(drafts...)
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
	defer cancel()
	if err := net.h.Portal().WaitIndexed(ctx, net.h.HubSeq()); err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d resources in %s after the last push", n, time.Since(t0))
	return net
}

// BenchmarkGallery searches and renders, every time, over an aggregate of
// synthetic resources (BENCH_RESOURCES, default 5000).
func BenchmarkGallery(b *testing.B) {
	size := 5000
	if s := os.Getenv("BENCH_RESOURCES"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	n := benchNet(b, size)
	h := n.h.Handler()
	for _, path := range []string{"/resources", "/api/v1/resources", "/api/v1/resources?q=online", "/api/v1/resources?q=online+safety",
		"/api/v1/resources?q=children&sort=relevance", "/api/v1/resources?q=priv", "/api/v1/resources?q=veiligheid&lang=nl", "/api/v1/resources?lang=fi&age=8"} {
		b.Run(path, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Cache-Control", "no-cache")
				w := httptest.NewRecorder()
				t0 := time.Now()
				h.ServeHTTP(w, req)
				times = append(times, time.Since(t0))
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
			_ = fmt.Sprint
		})
	}
}

// BenchmarkGalleryPage is the gallery's first page as the portal benchmark
// loads it: no compression, searched and rendered every time
// (BENCH_RESOURCES, default 5000).
func BenchmarkGalleryPage(b *testing.B) {
	size := 5000
	if s := os.Getenv("BENCH_RESOURCES"); s != "" {
		size, _ = strconv.Atoi(s)
	}
	h := benchNet(b, size).h.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/resources", nil)
		req.Header.Set("Cache-Control", "no-cache")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
