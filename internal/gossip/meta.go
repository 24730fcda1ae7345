package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/hashicorp/memberlist"

	"github.com/bikfed/bikfed/protocol"
)

// Member roles.
const (
	RoleHub    = "hub"
	RoleNode   = "node"
	RoleMirror = "mirror"
)

// MaxMetaSize caps an encoded Meta. Memberlist allows 512 bytes
// (memberlist.MetaMaxSize) but meta rides in every alive message and in
// every push/pull state exchange, so staying at half leaves room for the
// message headers of a full UDP packet and for fields a later version adds.
const MaxMetaSize = 256

// maxEpochLen matches the limit protocol.PushReader puts on a push header's epoch.
const maxEpochLen = 64

// Meta is what a member tells the others about itself. All of it is a hint:
// a receiver may use it to act sooner (pull now, expect a push), never as the
// source of truth.
type Meta struct {
	// ID is the member's node id: "hub", a SIC's node id ("be"), or a
	// mirror's id. Same syntax as protocol.ValidNodeID.
	ID string
	// Role is RoleHub, RoleNode or RoleMirror. Decoding accepts other short
	// roles so that a later version can add one; consumers ignore what they
	// do not know.
	Role string
	// Epoch is the member's current outbox epoch (nodes); empty for the hub.
	Epoch string
	// Seq is the member's progress counter: a node's latest outbox seq, the
	// hub's hub_seq, a mirror's pull cursor.
	Seq int64
	// API is the member's HTTP API base URL, if it serves one.
	API string
	// Protocol is the sync protocol version the member speaks
	// (protocol.Version).
	Protocol int
}

// wireMeta is Meta as it travels: JSON with one-letter keys, zero values
// omitted. JSON rather than a binary form so that it stays readable in
// debugging output and so that decoders ignore keys added later.
type wireMeta struct {
	ID       string `json:"i"`
	Role     string `json:"r"`
	Epoch    string `json:"e,omitempty"`
	Seq      int64  `json:"s,omitempty"`
	API      string `json:"a,omitempty"`
	Protocol int    `json:"p,omitempty"`
}

// Validate reports whether m can be sent: every field well formed and Role
// one of the roles this version knows.
func (m Meta) Validate() error { return m.validate(false) }

// validate checks m; anyRole accepts roles this version does not know, for
// metadata received from newer members.
func (m Meta) validate(anyRole bool) error {
	var errs []error
	if err := protocol.ValidNodeID(m.ID); err != nil {
		errs = append(errs, fmt.Errorf("id: %w", err))
	}
	if err := validRole(m.Role, anyRole); err != nil {
		errs = append(errs, fmt.Errorf("role: %w", err))
	}
	if len(m.Epoch) > maxEpochLen || !printable(m.Epoch) {
		errs = append(errs, fmt.Errorf("epoch: must be at most %d printable ASCII characters", maxEpochLen))
	}
	if m.Seq < 0 {
		errs = append(errs, fmt.Errorf("seq: negative (%d)", m.Seq))
	}
	if m.API != "" {
		// Consumers show the address to operators and may dial it, so it must
		// be a plain absolute http(s) URL and nothing that could smuggle
		// control characters into a log line or a status page.
		u, err := url.Parse(m.API)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !printable(m.API) {
			errs = append(errs, fmt.Errorf("api: %q is not an absolute http(s) URL", m.API))
		}
	}
	if m.Protocol < 0 {
		errs = append(errs, fmt.Errorf("protocol: negative (%d)", m.Protocol))
	}
	return errors.Join(errs...)
}

// Encode returns the compact wire form of m. It refuses an invalid Meta and
// one whose encoding exceeds MaxMetaSize (wrapping ErrMetaTooLarge).
func (m Meta) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode gossip meta: %w", err)
	}
	b, err := json.Marshal(wireMeta(m))
	if err != nil {
		return nil, fmt.Errorf("encode gossip meta: %w", err)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("encode gossip meta: %w: %d bytes (is the API URL too long?)", ErrMetaTooLarge, len(b))
	}
	return b, nil
}

// DecodeMeta parses metadata received from another member. The input comes
// from the network, so it is bounded and fully validated; anything a later
// version adds as new keys is ignored.
func DecodeMeta(b []byte) (Meta, error) {
	if len(b) == 0 {
		return Meta{}, errors.New("decode gossip meta: empty")
	}
	// A peer could in principle be running a version with a larger cap, but
	// never beyond what memberlist itself lets through.
	if len(b) > memberlist.MetaMaxSize {
		return Meta{}, fmt.Errorf("decode gossip meta: %d bytes, more than %d", len(b), memberlist.MetaMaxSize)
	}
	var w wireMeta
	if err := json.Unmarshal(b, &w); err != nil {
		return Meta{}, fmt.Errorf("decode gossip meta: %w", err)
	}
	m := Meta(w)
	if err := m.validate(true); err != nil {
		return Meta{}, fmt.Errorf("decode gossip meta: %w", err)
	}
	return m, nil
}

func validRole(r string, anyRole bool) error {
	switch r {
	case RoleHub, RoleNode, RoleMirror:
		return nil
	case "":
		return errors.New("required")
	}
	if !anyRole {
		return fmt.Errorf("%q is not %s, %s or %s", r, RoleHub, RoleNode, RoleMirror)
	}
	if len(r) > 16 {
		return fmt.Errorf("%q is longer than 16 characters", r)
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c < 'a' || c > 'z' {
			return fmt.Errorf("%q must be lowercase letters", r)
		}
	}
	return nil
}

// printable reports whether s is printable ASCII without spaces.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
