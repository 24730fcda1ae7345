package gossip

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/hashicorp/memberlist"
)

// KeySize is the size of keys made by GenerateKey: AES-256.
const KeySize = 32

// GenerateKey returns a new random gossip key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate gossip key: %w", err)
	}
	return k, nil
}

// FormatKey returns k in the form ParseKey reads: standard base64, as
// serf and consul print their keys.
func FormatKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// ParseKey decodes a base64 gossip key (standard or URL alphabet, padded
// or not) and checks its size.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	var k []byte
	var err error
	if strings.ContainsAny(s, "-_") {
		k, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		k, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("parse gossip key: not base64: %w", err)
	}
	if err := memberlist.ValidateKey(k); err != nil {
		return nil, fmt.Errorf("parse gossip key: %d bytes, must be 16, 24 or 32", len(k))
	}
	return k, nil
}

// Rotating the key of a running cluster takes three rounds, each finished on
// every member before the next starts: AddKey(new) so that everyone can read
// it, UseKey(new) so that everyone writes with it, RemoveKey(old). A member
// that misses a round keeps working as long as the rounds before it reached
// it; one that was down throughout needs the new key in its configuration.

// AddKey installs k for decryption. Installing a key already there is a no-op.
func (g *Gossip) AddKey(k []byte) error {
	if err := g.checkKeyring(k); err != nil {
		return fmt.Errorf("add gossip key: %w", err)
	}
	if err := g.keyring.AddKey(k); err != nil {
		return fmt.Errorf("add gossip key: %w", err)
	}
	g.log.Info("gossip key added", "keys", len(g.keyring.GetKeys()))
	return nil
}

// UseKey makes the installed key k the one that encrypts.
func (g *Gossip) UseKey(k []byte) error {
	if err := g.checkKeyring(k); err != nil {
		return fmt.Errorf("use gossip key: %w", err)
	}
	if err := g.keyring.UseKey(k); err != nil {
		return fmt.Errorf("use gossip key: %w", err)
	}
	g.log.Info("gossip primary key changed")
	return nil
}

// RemoveKey uninstalls k. The primary key cannot be removed; removing a key
// that is not installed is a no-op.
func (g *Gossip) RemoveKey(k []byte) error {
	if err := g.checkKeyring(k); err != nil {
		return fmt.Errorf("remove gossip key: %w", err)
	}
	if err := g.keyring.RemoveKey(k); err != nil {
		return fmt.Errorf("remove gossip key: %w", err)
	}
	g.log.Info("gossip key removed", "keys", len(g.keyring.GetKeys()))
	return nil
}

func (g *Gossip) checkKeyring(k []byte) error {
	if g.keyring == nil {
		return ErrInsecure
	}
	return memberlist.ValidateKey(k)
}
