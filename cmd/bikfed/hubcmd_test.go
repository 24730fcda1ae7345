package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/hub/portal"
)

// TestHubFlags_OAI: the OAI-PMH repository's contact and name come from a
// flag, the environment or the config file, default to the portal's, and
// are validated.
func TestHubFlags_OAI(t *testing.T) {
	parse := func(args ...string) (hub.Config, error) {
		cfg := hub.DefaultConfig()
		s := newSettings("test", io.Discard)
		hubFlags(s, &cfg)
		if err := s.parse(args); err != nil {
			return cfg, err
		}
		return cfg, cfg.Validate()
	}
	t.Run("defaults", func(t *testing.T) {
		cfg, err := parse("--data", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OAIAdminEmail != portal.DefaultAdminEmail || cfg.OAIRepositoryName != portal.DefaultRepositoryName {
			t.Errorf("defaults %q, %q", cfg.OAIAdminEmail, cfg.OAIRepositoryName)
		}
	})
	t.Run("flags", func(t *testing.T) {
		cfg, err := parse("--data", t.TempDir(), "--oai-admin-email", "oai@bik.example.eu", "--oai-repository-name", "BIK resources")
		if err != nil || cfg.OAIAdminEmail != "oai@bik.example.eu" || cfg.OAIRepositoryName != "BIK resources" {
			t.Errorf("%q, %q, %v", cfg.OAIAdminEmail, cfg.OAIRepositoryName, err)
		}
	})
	t.Run("environment and file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "hub.json")
		if err := os.WriteFile(file, []byte(`{"oai-repository-name": "From the file", "oai-admin-email": "file@bik.example.eu"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("BIKFED_OAI_ADMIN_EMAIL", "env@bik.example.eu")
		cfg, err := parse("--data", t.TempDir(), "--config", file)
		if err != nil || cfg.OAIAdminEmail != "env@bik.example.eu" || cfg.OAIRepositoryName != "From the file" {
			t.Errorf("%q, %q, %v", cfg.OAIAdminEmail, cfg.OAIRepositoryName, err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, args := range [][]string{
			{"--oai-admin-email", "not an address"},
			{"--oai-admin-email", ""},
			{"--oai-repository-name", ""},
			{"--oai-repository-name", strings.Repeat("n", portal.MaxRepositoryName+1)},
		} {
			_, err := parse(append([]string{"--data", t.TempDir()}, args...)...)
			if err == nil || !strings.Contains(err.Error(), "OAI") {
				t.Errorf("%q: %v, want an OAI field error", args, err)
			}
		}
	})
}
