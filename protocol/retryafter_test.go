package protocol

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestClient_RetryAfter(t *testing.T) {
	var calls atomic.Int32
	var first atomic.Int64
	var waited atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"too_many_requests","message":"slow down"}}`))
			return
		}
		waited.Store(time.Now().UnixNano() - first.Load())
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()
	cfg := DefaultClientConfig(srv.URL)
	cfg.Retries, cfg.RetryWait, cfg.RetryMaxWait = 2, 10*time.Millisecond, 5*time.Second
	if _, err := NewClient(cfg).Keys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(waited.Load()); calls.Load() != 2 || d < 900*time.Millisecond {
		t.Fatalf("%d calls, retried after %s; want the second after the 1s Retry-After", calls.Load(), d)
	}
}
