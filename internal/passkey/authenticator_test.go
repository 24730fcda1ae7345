package passkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
)

// softKey is one credential of the software authenticator: an ECDSA P-256
// key, the user handle it was created for, and its signature counter.
type softKey struct {
	id     []byte
	key    *ecdsa.PrivateKey
	handle []byte
	rpID   string
	count  uint32
	// synced marks a passkey that may be and is backed up (BE and BS).
	synced bool
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

var b64 = base64.RawURLEncoding

func (k *softKey) flags() byte {
	f := byte(flagUP | flagUV)
	if k.synced {
		f |= flagBE | flagBS
	}
	return f
}

func clientData(t testing.TB, typ string, challenge []byte, origin string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": b64.EncodeToString(challenge),
		"origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authData lays out rpIdHash, flags and the counter, then attested
// credential data when there is some.
func authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// newKey makes a credential as an authenticator would for create().
func newKey(t testing.TB, rpID string, handle []byte) *softKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{id: id, key: key, handle: handle, rpID: rpID}
}

func (k *softKey) coseKey(t testing.TB) []byte {
	t.Helper()
	pub, err := k.key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	// kty EC2, alg ES256, crv P-256, x, y.
	b, err := enc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// create answers navigator.credentials.create with a "none" attestation,
// as the JSON the browser posts (PublicKeyCredential.toJSON).
func (k *softKey) create(t testing.TB, opts *protocol.CredentialCreation, origin string) []byte {
	t.Helper()
	cdj := clientData(t, "webauthn.create", opts.Response.Challenge, origin)
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(attested, k.id...)
	attested = append(attested, k.coseKey(t)...)
	ad := authData(k.rpID, k.flags()|flagAT, k.count, attested)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// get answers navigator.credentials.get: it counts up, then signs
// authenticatorData || SHA-256(clientDataJSON).
func (k *softKey) get(t testing.TB, opts *protocol.CredentialAssertion, origin string) []byte {
	t.Helper()
	k.count++
	return k.sign(t, opts.Response.Challenge, origin, k.count)
}

func (k *softKey) sign(t testing.TB, challenge []byte, origin string, count uint32) []byte {
	t.Helper()
	cdj := clientData(t, "webauthn.get", challenge, origin)
	ad := authData(k.rpID, k.flags(), count, nil)
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cdj),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(k.handle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// userHandle reads the user handle the relying party sent in create().
func userHandle(t testing.TB, opts *protocol.CredentialCreation) []byte {
	t.Helper()
	switch id := opts.Response.User.ID.(type) {
	case protocol.URLEncodedBase64:
		return id
	case []byte:
		return id
	case string: // as decoded from the JSON a browser gets
		b, err := b64.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	default:
		t.Fatalf("user id of type %T", id)
		return nil
	}
}
