package dirlock

import (
	"errors"
	"testing"
	"time"
)

func TestTryLock(t *testing.T) {
	dir := t.TempDir()
	l, err := TryLock(dir, "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("held", func(t *testing.T) {
		if _, err := TryLock(dir, "x.lock"); !errors.Is(err, ErrLocked) {
			t.Fatalf("second lock: %v, want ErrLocked", err)
		}
		if held, err := Held(dir, "x.lock"); err != nil || !held {
			t.Fatalf("Held = %v, %v; want true", held, err)
		}
		if _, err := Wait(dir, "x.lock", 200*time.Millisecond); !errors.Is(err, ErrLocked) {
			t.Fatalf("Wait: %v, want ErrLocked", err)
		}
	})
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	t.Run("released", func(t *testing.T) {
		if held, err := Held(dir, "x.lock"); err != nil || held {
			t.Fatalf("Held = %v, %v; want false", held, err)
		}
		l2, err := TryLock(dir, "x.lock")
		if err != nil {
			t.Fatal(err)
		}
		l2.Unlock()
	})
}
