package protocol

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// HubID is the node id of the hub, owner of services, moderation and hub news.
const HubID = "hub"

// ValidNodeID reports whether id is a node id: 2 to 16 characters of lowercase
// letters, digits and '-', starting with a letter. National SICs use their ISO
// 3166 alpha-2 code ("be", "fi"); the hub is "hub".
func ValidNodeID(id string) error {
	if len(id) < 2 || len(id) > 16 {
		return fmt.Errorf("node id %q must be 2 to 16 characters", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '-') && i > 0:
		default:
			return fmt.Errorf("node id %q must be lowercase letters, digits and '-', starting with a letter", id)
		}
	}
	return nil
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewULID returns a ULID for t: 48 bits of milliseconds then 80 random bits,
// so ids sort by creation time and never collide across nodes.
func NewULID(t time.Time, entropy io.Reader) (string, error) {
	if entropy == nil {
		entropy = rand.Reader
	}
	var b [16]byte
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	if _, err := io.ReadFull(entropy, b[6:]); err != nil {
		return "", fmt.Errorf("read ulid entropy: %w", err)
	}
	var out [26]byte
	// 128 bits in 26 base32 digits; the first digit holds the top 3 bits.
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:]), nil
}

// NewEntityID returns a new "<owner>:<ULID>" entity id.
func NewEntityID(owner string, t time.Time) (string, error) {
	u, err := NewULID(t, nil)
	if err != nil {
		return "", err
	}
	return owner + ":" + u, nil
}

// SplitEntityID checks an entity id and returns its owner part.
func SplitEntityID(id string) (owner string, err error) {
	owner, u, ok := strings.Cut(id, ":")
	if !ok {
		return "", fmt.Errorf("entity id %q must be <owner>:<ULID>", id)
	}
	if err := ValidNodeID(owner); err != nil {
		return "", fmt.Errorf("entity id %q: %w", id, err)
	}
	if len(u) != 26 || u[0] > '7' {
		return "", fmt.Errorf("entity id %q: %q is not a ULID", id, u)
	}
	for i := 0; i < len(u); i++ {
		if !strings.ContainsRune(crockford, rune(u[i])) {
			return "", fmt.Errorf("entity id %q: %q is not a ULID", id, u)
		}
	}
	return owner, nil
}

// ValidCountry reports whether code is a country as profiles name it: an
// ISO 3166-1 alpha-2 code in lower case ("be").
func ValidCountry(code string) error {
	if len(code) != 2 || code[0] < 'a' || code[0] > 'z' || code[1] < 'a' || code[1] > 'z' {
		return fmt.Errorf("%q is not a lowercase ISO 3166 alpha-2 code", code)
	}
	return nil
}

// DefaultCountries are the countries a node speaks for unless the hub's
// registry says otherwise: a national SIC's node id is its country code, so
// that code; any other node (the hub among them), none.
func DefaultCountries(node string) []string {
	if ValidCountry(node) == nil {
		return []string{node}
	}
	return nil
}
