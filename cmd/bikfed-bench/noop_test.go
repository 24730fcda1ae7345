package main

import "testing"

func TestPagesReported(t *testing.T) {
	stderr := "sync [####] 100%\nsqlite pages read: 48 /tmp/n/node.db\nsqlite pages read: 7 /tmp/n/other.db\nsynced\n"
	if n, err := pagesReported([]byte(stderr)); err != nil || n != 55 {
		t.Errorf("pagesReported = %d, %v; want 55", n, err)
	}
	if _, err := pagesReported([]byte("synced\n")); err == nil {
		t.Error("pagesReported found pages in output without any")
	}
}

func TestIndependent(t *testing.T) {
	for _, c := range []struct {
		small, large int64
		want         bool
	}{{48, 48, true}, {48, 82, true}, {48, 83, false}, {1042, 20092, false}} {
		if got := independent(c.small, c.large); got != c.want {
			t.Errorf("independent(%d, %d) = %v, want %v", c.small, c.large, got, c.want)
		}
	}
}
