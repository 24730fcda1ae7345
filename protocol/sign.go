package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// signingContext prefixes every signed message so a bikfed change signature can
// never be mistaken for a signature over anything else made with the same key.
const signingContext = "bikfed-change-v1\n"

// Signed is a change as it travels: the exact bytes its owner signed and the
// signature over them. Change is never re-encoded: encoders write it verbatim.
type Signed struct {
	Change json.RawMessage `json:"change"`
	Sig    []byte          `json:"sig"`
}

// Key is an Ed25519 signing key with its id in the key directory.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// KeyID returns the directory id of owner's public key: the owner and the first
// eight bytes of the key's SHA-256, so ids are stable and say whose key it is.
func KeyID(owner string, pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return owner + "-" + hex.EncodeToString(sum[:8])
}

// GenerateKey makes a new signing key for owner.
func GenerateKey(owner string) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return Key{ID: KeyID(owner, pub), Private: priv}, nil
}

// KeyFromSeed rebuilds a key from its 32-byte seed, as stored on disk.
func KeyFromSeed(owner string, seed []byte) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("key seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return Key{ID: KeyID(owner, priv.Public().(ed25519.PublicKey)), Private: priv}, nil
}

// Public returns the public half of k.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Sign sets c.KeyID, encodes c once and signs those bytes. The returned bytes
// are the change from now on; nobody encodes c again.
func (k Key) Sign(c *Change) (Signed, error) {
	c.KeyID = k.ID
	raw, err := json.Marshal(c)
	if err != nil {
		return Signed{}, fmt.Errorf("encode change %s: %w", c.ID, err)
	}
	if len(raw) > MaxChangeBytes {
		return Signed{}, &Error{Code: CodeRecordTooLarge, Record: c.ID, Message: fmt.Sprintf("change is %d bytes, limit %d", len(raw), MaxChangeBytes)}
	}
	return Signed{Change: raw, Sig: ed25519.Sign(k.Private, signedMessage(raw))}, nil
}

// VerifySignature checks sig over raw with pub.
func VerifySignature(pub ed25519.PublicKey, raw, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	// The message is built on the stack for the usual change: every
	// verification allocating a copy of its change is garbage the
	// collector would take back from the cores verifying.
	var buf [4096]byte
	msg := buf[:0]
	if len(signingContext)+len(raw) > len(buf) {
		msg = make([]byte, 0, len(signingContext)+len(raw))
	}
	msg = append(append(msg, signingContext...), raw...)
	return ed25519.Verify(pub, msg, sig)
}

func signedMessage(raw []byte) []byte {
	msg := make([]byte, 0, len(signingContext)+len(raw))
	return append(append(msg, signingContext...), raw...)
}

// KeyLookup finds a public key by id; the hub's key directory is one.
type KeyLookup func(keyID string) (KeyInfo, bool)

// Verify parses, validates and checks the signature of s, a change that has
// no hub_seq yet (the hub verifying a push): a retired key verifies nothing
// new. It returns the parsed change even when the signature fails, so the
// refusal can name the record.
func Verify(s Signed, keys KeyLookup) (*Change, error) {
	return VerifyAt(s, keys, 0)
}

// VerifyAt is Verify for a change the hub sequenced at hubSeq (a puller
// verifying the feed; 0 is not yet sequenced). A retired key verifies only
// the changes the hub sequenced up to its retirement (KeyInfo.ValidFor), so
// every puller draws the line where the hub did, whatever the clocks say.
func VerifyAt(s Signed, keys KeyLookup, hubSeq int64) (*Change, error) {
	c, pub, err := checkKey(s, keys, hubSeq)
	if err != nil {
		return c, err
	}
	if !VerifySignature(pub, s.Change, s.Sig) {
		return c, errBadSignature()
	}
	return c, nil
}

func errBadSignature() error {
	return Errorf(CodeBadSignature, "signature does not match the change's bytes")
}

// checkKey parses s and makes every check of VerifyAt but the signature
// arithmetic, returning the key whose signature s must carry: the
// arithmetic alone is what a batch verifies together.
func checkKey(s Signed, keys KeyLookup, hubSeq int64) (*Change, ed25519.PublicKey, error) {
	c, err := ParseChange(s.Change)
	if err != nil {
		return c, nil, err
	}
	k, ok := keys(c.KeyID)
	if !ok {
		return c, nil, Errorf(CodeUnknownKey, "key %q is not in the key directory", c.KeyID)
	}
	// The hub may erase an entity of another owner (§17); no key may sign
	// anything else for an owner it does not belong to.
	if k.Owner != c.Owner && !(k.Owner == HubID && c.IsHubErasure()) {
		return c, nil, Errorf(CodeBadSignature, "key %q belongs to %q, not %q", c.KeyID, k.Owner, c.Owner)
	}
	if !k.ValidFor(hubSeq) {
		if hubSeq == 0 {
			return c, nil, Errorf(CodeBadSignature, "key %q was retired at hub_seq %d; changes signed with it after that are refused", c.KeyID, k.RetiredHubSeq)
		}
		return c, nil, Errorf(CodeBadSignature, "key %q was retired at hub_seq %d; this change has hub_seq %d", c.KeyID, k.RetiredHubSeq, hubSeq)
	}
	return c, k.PublicKey, nil
}

// Hash is the content hash of a signed change, used in manifests: SHA-256 of
// the change bytes.
func (s Signed) Hash() [32]byte { return sha256.Sum256(s.Change) }

// KeyInfo is one entry of the hub's key directory. Keys are never removed, only
// retired, so old changes stay verifiable.
type KeyInfo struct {
	KeyID     string            `json:"key_id"`
	Owner     string            `json:"owner"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	CreatedAt time.Time         `json:"created_at"`
	// RetiredAt is when the hub retired the key, by its clock: for people.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// RetiredHubSeq is the hub's head when it retired the key: the key
	// verifies the changes sequenced at or below it and none after. Zero
	// while the key is in use.
	RetiredHubSeq int64 `json:"retired_hub_seq,omitempty"`
}

// Retired reports whether the key was retired.
func (k KeyInfo) Retired() bool { return k.RetiredAt != nil || k.RetiredHubSeq > 0 }

// ValidFor reports whether the key verifies a change the hub sequenced at
// hubSeq; 0 is a change not sequenced yet, which only a key in use verifies.
// hub_seq is the rule, not a time: the hub assigns it, every holder sees the
// same one in the feed, and no node's clock enters into it.
func (k KeyInfo) ValidFor(hubSeq int64) bool {
	if !k.Retired() {
		return true
	}
	return hubSeq > 0 && hubSeq <= k.RetiredHubSeq
}

// KeyDirectory is the hub's list of every key that ever signed a change.
type KeyDirectory struct {
	Keys []KeyInfo `json:"keys"`
}

// Lookup returns a KeyLookup over the directory.
func (d *KeyDirectory) Lookup() KeyLookup {
	m := make(map[string]KeyInfo, len(d.Keys))
	for _, k := range d.Keys {
		m[k.KeyID] = k
	}
	return func(id string) (KeyInfo, bool) { k, ok := m[id]; return k, ok }
}
