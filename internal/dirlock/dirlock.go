// Package dirlock gives one process at a time the right to write a data
// directory's databases. A server holds the lock for as long as it runs; a
// one-shot command holds it while it opens the databases itself, and when it
// finds the lock held it knows a server is running and talks to it instead.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("data directory is locked by another process")

// Lock is a held lock; Unlock releases it. The kernel releases it too when the
// process dies, so a crash never leaves a stale lock behind.
type Lock struct {
	f *os.File
}

// TryLock takes the exclusive lock on the file name in dir (created 0600 if
// missing) without waiting; ErrLocked means another process holds it.
func TryLock(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Wait takes the lock, retrying until it is free or timeout has passed: a
// server starting while a one-shot command works waits for it to finish.
func Wait(dir, name string, timeout time.Duration) (*Lock, error) {
	deadline := time.Now().Add(timeout)
	for {
		l, err := TryLock(dir, name)
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Held reports whether another process holds the lock now.
func Held(dir, name string) (bool, error) {
	l, err := TryLock(dir, name)
	if errors.Is(err, ErrLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, l.Unlock()
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
