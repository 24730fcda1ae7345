package account

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's recommended argon2id settings (Password Storage
// Cheat Sheet): 19 MiB, two passes, one thread. Of OWASP's equivalent
// choices this is the one with the least memory, which lets a small server
// hash several sign-ins at once; it costs about 20-40 ms per hash.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on what a PHC string may ask for. A stored hash comes from our own
// database, but its parameters decide how much memory and time verifying
// costs, so they are bounded like any other input.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// Hasher hashes passwords with argon2id into PHC strings.
type Hasher struct {
	p Params
}

// NewHasher returns a Hasher that hashes with p.
func NewHasher(p Params) *Hasher { return &Hasher{p: p} }

// Hash returns password's argon2id hash with a fresh salt, as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, both in unpadded base64.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen)
	return encodePHC(h.p, salt, key), nil
}

// Verify reports whether password matches encoded and, when it does,
// whether encoded was made with other parameters than h's and should be
// replaced by a fresh Hash.
func (h *Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != h.p, nil
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC accepts exactly the form encodePHC writes, so that one hash has
// one spelling.
func parsePHC(s string) (Params, []byte, []byte, error) {
	var p Params
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrInvalidHash, why)
	}
	if len(s) > 512 {
		return bad("too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(kv[i], name)
		if !ok || digits == "" || (digits[0] == '0') {
			return bad("parameters")
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return bad("parameters")
		}
		vals[i] = v
	}
	if vals[2] > 255 || vals[1] > maxTime || vals[0] > maxMemory || vals[0] < 8*vals[2] {
		return bad("parameters out of range")
	}
	p.Memory, p.Time, p.Threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if !inAlphabet(parts[4], stdAlphabet) || !inAlphabet(parts[5], stdAlphabet) {
		return bad("base64")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return bad("salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return bad("hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// PasswordRule names the rule a refused password broke.
type PasswordRule string

const (
	RuleTooShort      PasswordRule = "too-short"
	RuleTooLong       PasswordRule = "too-long"
	RuleCommon        PasswordRule = "common"
	RuleContainsEmail PasswordRule = "contains-email"
)

// PasswordError says why a password was refused. It matches
// ErrWeakPassword.
type PasswordError struct {
	Rule     PasswordRule
	Min, Max int // the length limits, for the message
}

func (e *PasswordError) Error() string {
	switch e.Rule {
	case RuleTooShort:
		return fmt.Sprintf("password must have at least %d characters", e.Min)
	case RuleTooLong:
		return fmt.Sprintf("password must have at most %d characters", e.Max)
	case RuleCommon:
		return "password is one of the most commonly used"
	case RuleContainsEmail:
		return "password contains the email address"
	}
	return ErrWeakPassword.Error()
}

func (e *PasswordError) Is(target error) bool { return target == ErrWeakPassword }

//go:embed common-passwords.txt
var commonPasswordsFile []byte

var commonPasswords = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool, 2048)
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordsFile))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			set[line] = true
		}
	}
	return set
})

// CheckPassword applies the password policy of NIST SP 800-63B: a length
// range (counted in characters, any character allowed, no composition
// rules) and a refusal of common passwords and of passwords built from the
// member's own email address.
func (s *Store) CheckPassword(password, email string) error {
	return checkPassword(password, email, s.cfg.MinPasswordLength, s.cfg.MaxPasswordLength)
}

func checkPassword(password, email string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(password)
	if n < minLen {
		return &PasswordError{Rule: RuleTooShort, Min: minLen, Max: maxLen}
	}
	if n > maxLen {
		return &PasswordError{Rule: RuleTooLong, Min: minLen, Max: maxLen}
	}
	lower := strings.ToLower(password)
	common := commonPasswords()
	// "password2025!" is as guessable as "password": what people add to
	// meet a length is mostly digits and symbols at the end.
	stem := strings.TrimRightFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	if common[lower] || common[stem] {
		return &PasswordError{Rule: RuleCommon, Min: minLen, Max: maxLen}
	}
	// A local part of one or two letters is in too many good passwords
	// by chance to refuse them all.
	email = normaliseEmail(email)
	local, _, _ := strings.Cut(email, "@")
	if email != "" && strings.Contains(lower, email) || len(local) >= 3 && strings.Contains(lower, local) {
		return &PasswordError{Rule: RuleContainsEmail, Min: minLen, Max: maxLen}
	}
	return nil
}
