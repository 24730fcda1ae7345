package account

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// tokenLen is the length of a token as text: 32 random bytes in unpadded
// URL-safe base64, which goes into links and cookies unescaped.
const tokenLen = 43

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh random token and the SHA-256 under which it is
// stored. The token itself is shown to its holder once and kept nowhere.
func newToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("new token: %w", err)
	}
	tok := tokenEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

// parseToken returns the stored hash of a token presented by a client, or
// false for anything newToken could not have made.
func parseToken(tok string) ([]byte, bool) {
	if len(tok) != tokenLen || !inAlphabet(tok, urlAlphabet) {
		return nil, false
	}
	if _, err := tokenEncoding.DecodeString(tok); err != nil {
		return nil, false
	}
	h := sha256.Sum256([]byte(tok))
	return h[:], true
}

const (
	urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// inAlphabet is checked before decoding because package base64 skips CR and
// LF anywhere in its input, even in strict mode, which would give one token
// many spellings.
func inAlphabet(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
