package protocol

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestParseHubTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-02-10T09:30:00.123Z", time.Date(2026, 2, 10, 9, 30, 0, 123e6, time.UTC), true},
		{"2026-02-10T10:30:00+01:00", time.Date(2026, 2, 10, 9, 30, 0, 0, time.UTC), true},
		{"2026-02-10 09:30:00", time.Time{}, false},
		{"1970-01-01T00:00:00Z", time.Time{}, false},
		{"", time.Time{}, false},
		{string(make([]byte, 100)), time.Time{}, false},
	} {
		got, err := ParseHubTime(tc.in)
		if (err == nil) != tc.ok || tc.ok && !got.Equal(tc.want) {
			t.Errorf("ParseHubTime(%q) = %v, %v", tc.in, got, err)
		}
	}
	now := time.Date(2026, 2, 10, 9, 30, 0, 123456789, time.UTC)
	if s := FormatHubTime(now); s != "2026-02-10T09:30:00.123Z" {
		t.Errorf("FormatHubTime = %q", s)
	}
}

// The client measures the hub's clock from every answer, against its own.
func TestClient_HubClock(t *testing.T) {
	hubAhead := 72 * time.Hour
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderHubTime, FormatHubTime(time.Now().Add(hubAhead)))
		w.Header().Set(HeaderIncarnation, "inc-2")
		if r.URL.Query().Get("incarnation") == "inc-1" {
			w.Header().Set(HeaderLineageSeq, "41")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"changes":[],"hub_seq":42,"next":42,"more":false}`))
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{BaseURL: srv.URL, Timeout: 5 * time.Second, Credential: "be.x"})
	if off := c.HubClock(); !off.MeasuredAt.IsZero() {
		t.Fatalf("measured before any answer: %+v", off)
	}
	feed, err := c.ChangesAfter(t.Context(), FeedQuery{Since: 42, Incarnation: "inc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if feed.Incarnation != "inc-2" || feed.LineageSeq == nil || *feed.LineageSeq != 41 {
		t.Fatalf("feed = %+v", feed)
	}
	off := c.HubClock()
	if off.MeasuredAt.IsZero() || (off.Offset-hubAhead).Abs() > 2*time.Second {
		t.Fatalf("HubClock = %+v, want about %s", off, hubAhead)
	}
	if feed, err = c.Changes(t.Context(), 42, 0, 0); err != nil || feed.LineageSeq != nil {
		t.Fatalf("no incarnation asked: %+v, %v", feed, err)
	}
}

func TestFeed_readHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    map[string]string
		ok   bool
	}{
		{"none", nil, true},
		{"both", map[string]string{HeaderIncarnation: "abc", HeaderLineageSeq: "0"}, true},
		{"incarnation with a space", map[string]string{HeaderIncarnation: "a b"}, false},
		{"incarnation too long", map[string]string{HeaderIncarnation: string(make([]byte, 65))}, false},
		{"negative lineage", map[string]string{HeaderLineageSeq: "-1"}, false},
		{"lineage not a number", map[string]string{HeaderLineageSeq: "1e3"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			var f Feed
			if err := f.readHeaders(h); (err == nil) != tc.ok {
				t.Fatalf("readHeaders = %v", err)
			}
		})
	}
}
