package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// TLS modes.
const (
	// TLSNone sends in the clear: only for a relay on the same machine.
	TLSNone = "none"
	// TLSStartTLS connects in the clear and upgrades with STARTTLS before
	// anything else, refusing a server that does not offer it (port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "tls"
)

// maxPasswordFile bounds what is read from the password file.
const maxPasswordFile = 4096

// Config configures SMTP. An empty Host means no mail server: the caller
// then uses a Printer.
type Config struct {
	// Host is the mail server's name or address, without port.
	Host string
	// Port is the server's port. Default 587.
	Port int
	// Username, when not empty, is sent with AUTH PLAIN, with the password
	// read from PasswordFile. Credentials are never sent in the clear: with
	// TLS "none" they are allowed only to a loopback server.
	Username string
	// PasswordFile holds the password on its first line. It should be
	// readable by its owner only; the server warns otherwise.
	PasswordFile string
	// TLS is TLSNone, TLSStartTLS or TLSImplicit. Default TLSStartTLS.
	TLS string
	// From is the sender, as an address or "Name <address>". Required.
	From string
	// HelloName is the name given in EHLO. Default "localhost", as
	// net/smtp does; a server that checks it wants the machine's public
	// name.
	HelloName string
	// Timeout bounds one whole delivery, from connecting to QUIT.
	// Default 30s.
	Timeout time.Duration
	// TLSConfig, when set, is used instead of the system's roots (a
	// private CA, tests). Its ServerName defaults to Host.
	TLSConfig *tls.Config
}

// DefaultConfig returns the defaults, not configured (Host empty).
func DefaultConfig() Config {
	return Config{
		Port:      587,
		TLS:       TLSStartTLS,
		HelloName: "localhost",
		Timeout:   30 * time.Second,
	}
}

// Configured reports whether a mail server is set.
func (c Config) Configured() bool { return c.Host != "" }

// Validate reports every field that is wrong, one error per field. A
// configuration without Host is valid: it sends nothing.
func (c Config) Validate() error {
	if !c.Configured() {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if strings.ContainsAny(c.Host, ":/ \t\r\n") {
		bad("Host", "%q must be a host name or address, without scheme or port", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("Port", "%d is not a port", c.Port)
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		bad("TLS", "%q must be %q, %q or %q", c.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if c.Username != "" {
		if err := checkValue(c.Username); err != nil {
			bad("Username", "%v", err)
		}
		if c.PasswordFile == "" {
			bad("PasswordFile", "required with a username")
		}
		if c.TLS == TLSNone && !isLoopback(c.Host) {
			bad("Username", "credentials are sent only over TLS or to a loopback server, and TLS is %q for %s", c.TLS, c.Host)
		}
	} else if c.PasswordFile != "" {
		bad("Username", "required with a password file")
	}
	if c.From == "" {
		bad("From", "required")
	} else if _, err := parseAddress(c.From); err != nil {
		bad("From", "%v", err)
	}
	if !validHelloName(c.HelloName) {
		bad("HelloName", "%q must be a host name", c.HelloName)
	}
	if c.Timeout <= 0 {
		bad("Timeout", "must be positive, is %v", c.Timeout)
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validHelloName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return net.ParseIP(s[1:len(s)-1]) != nil
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// readPassword reads the first line of path, warning when the file is open
// to its group or others, as a password another local user can read is
// everyone's.
func readPassword(log *slog.Logger, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read SMTP password: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read SMTP password: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		log.Warn("SMTP password file is readable by other users; make it 0600",
			"path", path, "mode", fmt.Sprintf("%04o", perm))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", fmt.Errorf("read SMTP password: %w", err)
	}
	if len(data) > maxPasswordFile {
		return "", fmt.Errorf("read SMTP password: %s is longer than %d bytes", path, maxPasswordFile)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("read SMTP password: %s: %w", path, ErrEmptyPassword)
	}
	return pw, nil
}
