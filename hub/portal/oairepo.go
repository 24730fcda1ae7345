package portal

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Identify's answers unless the portal is configured otherwise.
const (
	DefaultRepositoryName = "Better Internet for Kids: resources of the Safer Internet Centres"
	DefaultAdminEmail     = "portal@bikfed.invalid"
)

// MaxRepositoryName bounds the OAI-PMH repository name, in characters:
// harvesters show it as a title.
const MaxRepositoryName = 200

// maxAdminEmail is the longest address SMTP carries (RFC 5321).
const maxAdminEmail = 254

// ValidateAdminEmail checks the OAI-PMH repository's contact: one bare
// address ("portal@example.eu", not "Portal <portal@example.eu>"), whose
// domain has a dot, as the OAI-PMH schema's emailType demands.
func ValidateAdminEmail(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if len(s) > maxAdminEmail {
		return fmt.Errorf("longer than %d bytes", maxAdminEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not an email address", s)
	}
	_, domain, _ := strings.Cut(s, "@")
	if i := strings.IndexByte(domain, '.'); i <= 0 || i == len(domain)-1 || strings.ContainsFunc(s, unicode.IsSpace) {
		return fmt.Errorf("%q is not an email address with a domain name", s)
	}
	return nil
}

// ValidateRepositoryName checks the OAI-PMH repository's name: not blank,
// at most MaxRepositoryName characters, one line of printable text.
func ValidateRepositoryName(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("required")
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxRepositoryName {
		return fmt.Errorf("%d characters, at most %d", n, MaxRepositoryName)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return errors.New("contains a control character or a line break")
	}
	return nil
}
