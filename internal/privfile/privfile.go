package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// Mode is the permission of every private file.
const Mode fs.FileMode = 0o600

// Restrict sets path's permission to Mode if it grants anything to the group
// or to others. A missing file is not an error: there is nothing to expose.
func Restrict(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, Mode); err != nil {
		return fmt.Errorf("restrict %s: %w", path, err)
	}
	return nil
}

// Ensure creates path empty with Mode if it does not exist, never changing
// an existing file's content, and restricts it otherwise.
func Ensure(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, Mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return Restrict(path)
}

// OpenToOthers reports whether dir grants any permission to its group or to
// others, and the mode it has.
func OpenToOthers(dir string) (bool, fs.FileMode, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return false, 0, fmt.Errorf("check %s: %w", dir, err)
	}
	return fi.Mode().Perm()&0o077 != 0, fi.Mode().Perm(), nil
}

// WarnIfOpen logs a warning when dir is open to other users. Files in it are
// kept 0600 all the same, but a listing shows what the service holds, and a
// file another program writes there would not be private.
func WarnIfOpen(log *slog.Logger, dir string) {
	open, mode, err := OpenToOthers(dir)
	if err != nil {
		log.Warn("cannot check the data directory's permissions", "dir", dir, "err", err)
		return
	}
	if open {
		log.Warn("the data directory is open to other users: chmod 700 it", "dir", dir, "mode", fmt.Sprintf("%04o", mode))
	}
}
