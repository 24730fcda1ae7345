package privfile

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRestrict(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode, want os.FileMode
	}{
		{0o644, 0o600},
		{0o640, 0o600},
		{0o604, 0o600},
		{0o600, 0o600},
		{0o400, 0o400}, // already private: left as the operator made it
	} {
		path := filepath.Join(dir, "f")
		os.Remove(path)
		if err := os.WriteFile(path, []byte("secret"), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := Restrict(path); err != nil {
			t.Fatal(err)
		}
		if got := perm(t, path); got != tc.want {
			t.Errorf("mode %04o: got %04o, want %04o", tc.mode, got, tc.want)
		}
	}
	if err := Restrict(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing file: %v", err)
	}
}

func TestEnsure(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()

	t.Run("creates empty and private", func(t *testing.T) {
		path := filepath.Join(dir, "new")
		if err := Ensure(path); err != nil {
			t.Fatal(err)
		}
		if got := perm(t, path); got != Mode {
			t.Errorf("mode %04o, want %04o", got, Mode)
		}
	})
	t.Run("keeps content, restricts mode", func(t *testing.T) {
		path := filepath.Join(dir, "old")
		if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Ensure(path); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "data" {
			t.Errorf("content = %q", b)
		}
		if got := perm(t, path); got != Mode {
			t.Errorf("mode %04o, want %04o", got, Mode)
		}
	})
}

func TestWarnIfOpen(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{
		{0o700, false},
		{0o750, true},
		{0o755, true},
		{0o701, true},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		WarnIfOpen(slog.New(slog.NewTextHandler(&buf, nil)), dir)
		if got := strings.Contains(buf.String(), "level=WARN"); got != tc.warn {
			t.Errorf("mode %04o: warned = %v, want %v: %s", tc.mode, got, tc.warn, buf.String())
		}
	}
}
