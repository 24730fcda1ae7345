package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), formKeyFile)
	first, err := loadOrCreateKey(path)
	if err != nil || len(first) != 32 {
		t.Fatalf("first: %d bytes, %v", len(first), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file's mode: %v %v", fi.Mode(), err)
	}
	again, err := loadOrCreateKey(path)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatal("a restart made a new key: forms open across it would be refused")
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateKey(path); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
		ok                  bool
	}{
		{"first line", "s3cret \nsecond\n", "s3cret", true},
		{"no newline", "s3cret", "s3cret", true},
		{"empty", "\nsecond", "", false},
	} {
		path := filepath.Join(dir, tc.name)
		os.WriteFile(path, []byte(tc.content), 0o600)
		got, err := readSecretFile(path)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
}
