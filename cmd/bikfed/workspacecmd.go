package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // a node's time zone must not depend on the host having zoneinfo

	"github.com/bikfed/bikfed/internal/signin"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/node/workspace"
)

// workspaceSettings are the node workspace's own settings: single sign-on
// with the SIC's identity provider, and the time zone its people think in.
type workspaceSettings struct {
	oidcIssuer, oidcClientID, oidcSecretFile, oidcName string
	timeZone                                           string
}

func workspaceFlags(s *settings, w *workspaceSettings) {
	s.fs.StringVar(&w.oidcIssuer, "oidc-issuer", "", "OpenID Connect issuer URL of the centre's identity provider, for single sign-on (empty: none)")
	s.fs.StringVar(&w.oidcClientID, "oidc-client-id", "", "client id the identity provider registered the node as")
	s.fs.StringVar(&w.oidcSecretFile, "oidc-client-secret-file", "", "file whose first line is the client secret")
	s.fs.StringVar(&w.oidcName, "oidc-name", "", "the identity provider's name on the sign-in button (default: the issuer's host)")
	s.fs.StringVar(&w.timeZone, "time-zone", "", "IANA time zone the workspace shows and reads times in, such as Europe/Brussels (default: the system's)")
}

// formKeyFile keeps the key of the workspace's form tokens across restarts.
const formKeyFile = "form.key"

// attachWorkspace builds the node's workspace and has the node serve it.
// Call it once the node knows its listen address.
func attachWorkspace(n *node.Node, dataDir string, ws workspaceSettings, log *slog.Logger) error {
	cfg := workspace.Config{Log: log}
	key, err := loadOrCreateKey(filepath.Join(dataDir, formKeyFile))
	if err != nil {
		return err
	}
	cfg.FormKey = key
	if ws.timeZone != "" {
		loc, err := time.LoadLocation(ws.timeZone)
		if err != nil {
			return fmt.Errorf("time-zone: %w", err)
		}
		cfg.Location = loc
	}
	if ws.oidcIssuer != "" || ws.oidcClientID != "" || ws.oidcSecretFile != "" {
		if ws.oidcIssuer == "" || ws.oidcClientID == "" || ws.oidcSecretFile == "" {
			return errors.New("single sign-on needs oidc-issuer, oidc-client-id and oidc-client-secret-file together")
		}
		secret, err := readSecretFile(ws.oidcSecretFile)
		if err != nil {
			return fmt.Errorf("oidc-client-secret-file: %w", err)
		}
		oc := signin.DefaultOIDCConfig()
		oc.Issuer, oc.ClientID, oc.ClientSecret, oc.DisplayName = ws.oidcIssuer, ws.oidcClientID, secret, ws.oidcName
		cfg.OIDC = &oc
	}
	w, err := workspace.New(n, cfg)
	if err != nil {
		return err
	}
	n.SetWorkspace(w.Handler())
	return nil
}

// loadOrCreateKey reads a 32-byte random key from path, creating it (0600)
// on first use.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("key file %s is shorter than 32 bytes; remove it to make a new one", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(path) // made by another process meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return b, nil
}

// readSecretFile returns the first line of a secret's file.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errors.New("the file's first line is empty")
	}
	return line, nil
}
