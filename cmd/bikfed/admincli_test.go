package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/dirlock"
)

func TestDialable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::]:8080", "127.0.0.1:8080"},
		{"0.0.0.0:9", "127.0.0.1:9"},
		{":8081", "127.0.0.1:8081"},
		{"[::1]:8080", "[::1]:8080"},
		{"hub.internal:80", "hub.internal:80"},
	}
	for _, tc := range tests {
		if got := dialable(tc.in); got != tc.want {
			t.Errorf("dialable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A server starting while a one-shot command holds the data directory waits
// for it, and removes the address an earlier run left.
func TestLockForServe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, hubAddrFile), []byte("127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, err := dirlock.TryLock(dir, hubLockFile)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(released)
		cmd.Unlock()
	}()
	l, err := lockForServe(dir, hubLockFile, hubAddrFile)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	select {
	case <-released:
	default:
		t.Fatal("the server took the lock while the command held it")
	}
	if _, err := os.Stat(filepath.Join(dir, hubAddrFile)); !os.IsNotExist(err) {
		t.Fatalf("stale address kept: %v", err)
	}
}
