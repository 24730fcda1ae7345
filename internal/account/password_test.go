package account

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestHasher_Hash(t *testing.T) {
	h := NewHasher(DefaultParams)
	phc, err := h.Hash(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("Hash = %q, not the PHC form", phc)
	}
	again, err := h.Hash(goodPassword)
	if err != nil || again == phc {
		t.Errorf("two hashes of one password are equal (%q): the salt is not fresh", phc)
	}
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		t.Fatal(err)
	}
	if p != DefaultParams || encodePHC(p, salt, key) != phc {
		t.Errorf("parsePHC round trip: %+v", p)
	}
}

func TestHasher_Verify(t *testing.T) {
	h := NewHasher(testParams)
	phc, err := h.Hash(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		hasher     *Hasher
		password   string
		ok, rehash bool
	}{
		{"right password", h, goodPassword, true, false},
		{"wrong password", h, goodPassword + "!", false, false},
		{"empty password", h, "", false, false},
		{"more memory now", NewHasher(Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}), goodPassword, true, true},
		{"more passes now", NewHasher(Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}), goodPassword, true, true},
		{"longer key now", NewHasher(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}), goodPassword, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.hasher.Verify(tt.password, phc)
			if err != nil || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v", ok, rehash, err, tt.ok, tt.rehash)
			}
		})
	}
}

func TestParsePHC(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, _, _, err := parsePHC(good); err != nil {
		t.Fatalf("parsePHC(%q): %v", good, err)
	}
	bad := map[string]string{
		"empty":             "",
		"argon2i":           "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"bcrypt":            "$2b$12$abcdefghijklmnopqrstuuJ0FdlGzqbVFnGQ1YnNMYQ2F7dM8Di.",
		"old version":       "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no version":        "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"params reordered":  "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"leading zero":      "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"zero passes":       "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"memory too large":  "$argon2id$v=19$m=2097152,t=1,p=1$" + salt + "$" + key,
		"memory under 8*p":  "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key,
		"too many passes":   "$argon2id$v=19$m=64,t=65,p=1$" + salt + "$" + key,
		"threads over 255":  "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key,
		"negative":          "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"padded salt":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"short salt":        "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key,
		"short key":         "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$a2V5",
		"url alphabet":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Replace(key, "a", "-", 1),
		"newline in salt":   "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRz\nYWx0c2FsdA$" + key,
		"extra field":       good + "$x",
		"no leading dollar": strings.TrimPrefix(good, "$"),
		"too long":          good + strings.Repeat("A", 600),
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, _, err := parsePHC(s); !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("parsePHC(%q) = %v, want ErrInvalidHash", s, err)
			}
		})
	}
}

// FuzzParsePHC checks that the parser never panics and accepts only the one
// spelling that encodePHC writes back identically.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if got := encodePHC(p, salt, key); got != s {
			t.Fatalf("parsePHC accepted %q, which encodes back as %q", s, got)
		}
		if p.Memory > maxMemory || p.Time > maxTime || p.Memory < 8*uint32(p.Threads) || p.Threads == 0 {
			t.Fatalf("parsePHC accepted out-of-range parameters %+v", p)
		}
	})
}

func TestCheckPassword(t *testing.T) {
	const email = "jane.doe@example.org"
	tests := []struct {
		password string
		min      int
		want     PasswordRule // "" for accepted
	}{
		{"password", 8, RuleCommon},
		{"Password", 8, RuleCommon},
		{"123456789", 8, RuleCommon},
		{"qwertyuiop", 8, RuleCommon},
		{"iloveyou", 8, RuleCommon},
		{"ILoveYou2025!", 8, RuleCommon},
		{"passwordpassword", 8, RuleCommon},
		{"123456789012345", 15, RuleCommon},
		{"aaaaaaaaaaaaaaaa", 15, RuleCommon},
		{"qwertyuiopasdfghjkl", 15, RuleCommon},
		{"password12345678", 15, RuleCommon},
		{"Jane.Doe-rocks-the-network", 15, RuleContainsEmail},
		{"short", 8, RuleTooShort},
		{"fourteen chars", 15, RuleTooShort},
		{"ĳĳĳĳĳĳĳĳĳĳĳĳĳĳĳ", 15, ""}, // 15 characters in 30 bytes
		{strings.Repeat("x", 257), 15, RuleTooLong},
		{goodPassword, 15, ""},
		{"mango tree under the bridge", 15, ""},
	}
	for _, tt := range tests {
		t.Run(tt.password[:min(len(tt.password), 20)], func(t *testing.T) {
			err := checkPassword(tt.password, email, tt.min, 256)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkPassword(%q) = %v, want accepted", tt.password, err)
				}
				return
			}
			var pe *PasswordError
			if !errors.As(err, &pe) || pe.Rule != tt.want || !errors.Is(err, ErrWeakPassword) {
				t.Fatalf("checkPassword(%q) = %v, want rule %s", tt.password, err, tt.want)
			}
		})
	}
}

func TestCommonPasswords(t *testing.T) {
	set := commonPasswords()
	if n := len(set); n < 1500 {
		t.Errorf("%d common passwords, want a list of some thousands", n)
	}
	if len(commonPasswordsFile) > 100<<10 {
		t.Errorf("common-passwords.txt is %d bytes, keep it under 100 KiB", len(commonPasswordsFile))
	}
	for w := range set {
		if w != strings.ToLower(w) || strings.TrimSpace(w) != w {
			t.Errorf("entry %q is not lowercase and trimmed, so it can never match", w)
		}
	}
}
