//go:build unix

package dirlock

import (
	"errors"
	"os"
	"syscall"
)

// flock takes an flock(2) lock, which belongs to the open file: a second
// open of the same file, even in the same process, does not get it.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrLocked
		}
		return err
	}
}
