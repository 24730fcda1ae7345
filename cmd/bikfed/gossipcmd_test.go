package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/node"
)

func TestGossipFlags(t *testing.T) {
	k1, _ := gossip.GenerateKey()
	k2, _ := gossip.GenerateKey()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "gossip.keys")
	if err := os.WriteFile(keyFile, []byte("# new key first\n"+gossip.FormatKey(k2)+"\n\n"+gossip.FormatKey(k1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	parseHub := func(args ...string) (hub.Config, error) {
		cfg := hub.DefaultConfig()
		s := newSettings("test", io.Discard)
		hubFlags(s, &cfg)
		return cfg, s.parse(args)
	}

	t.Run("hub", func(t *testing.T) {
		cfg, err := parseHub("--gossip", "--gossip-bind", "0.0.0.0", "--gossip-advertise", "hub.example.org:7000",
			"--gossip-key-file", keyFile, "--gossip-label", "bikfed-prod", "--lag-sample-interval", "30s")
		if err != nil {
			t.Fatal(err)
		}
		g := cfg.Gossip
		if !g.Enabled || g.BindAddr != "0.0.0.0" || g.BindPort != 7946 || g.AdvertiseAddr != "hub.example.org" || g.AdvertisePort != 7000 ||
			g.ClusterLabel != "bikfed-prod" || len(g.Keys) != 2 || !bytes.Equal(g.Keys[0], k2) || !bytes.Equal(g.Keys[1], k1) ||
			g.Profile != gossip.ProfileWAN || cfg.LagSampleInterval.String() != "30s" {
			t.Errorf("parsed %+v", g)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate: %v", err)
		}
	})

	t.Run("node, keys from the environment", func(t *testing.T) {
		t.Setenv("BIKFED_GOSSIP_KEYS", gossip.FormatKey(k1)+","+gossip.FormatKey(k2))
		cfg := node.DefaultConfig()
		s := newSettings("test", io.Discard)
		nodeFlags(s, &cfg)
		if err := s.parse([]string{"--gossip", "--gossip-bind", "127.0.0.1:7001", "--gossip-join", "hub.example.org:7946, 192.0.2.1",
			"--gossip-profile", "lan", "--gossip-probe-interval", "2s"}); err != nil {
			t.Fatal(err)
		}
		g := cfg.Gossip
		if g.BindAddr != "127.0.0.1" || g.BindPort != 7001 || strings.Join(g.Join, " ") != "hub.example.org:7946 192.0.2.1" ||
			len(g.Keys) != 2 || !bytes.Equal(g.Keys[0], k1) || g.Profile != gossip.ProfileLAN || g.ProbeInterval.String() != "2s" {
			t.Errorf("parsed %+v", g)
		}
	})

	t.Run("errors", func(t *testing.T) {
		secret := "c2VjcmV0LWJ1dC1ub3QtYS1rZXk="
		if _, err := parseHub("--gossip-keys", secret); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("bad key: %v (must not echo the key)", err)
		}
		if _, err := parseHub("--gossip-keys", gossip.FormatKey(k1), "--gossip-key-file", keyFile); err == nil {
			t.Error("keys and key file together accepted")
		}
		if _, err := parseHub("--gossip-bind", "127.0.0.1:99999"); err == nil {
			t.Error("bad port accepted")
		}
	})
}
