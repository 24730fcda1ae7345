package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// received is what the test server saw of one session.
type received struct {
	tls      bool
	auth     string // "user:password"
	from     string
	rcpt     []string
	data     []byte
	commands []string
}

// testServer is a minimal SMTP server: enough of RFC 5321, 3207 (STARTTLS)
// and 4954 (AUTH PLAIN) to watch the client's side of a delivery.
type testServer struct {
	t        *testing.T
	ln       net.Listener
	cert     tls.Certificate
	implicit bool // TLS from the first byte
	startTLS bool // offer STARTTLS
	silent   bool // accept, then never answer
	reject   bool // refuse every recipient, quoting the address
	mu       sync.Mutex
	sessions []*received
	wg       sync.WaitGroup
}

func startServer(t *testing.T, cert tls.Certificate, configure func(*testServer)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, cert: cert}
	if configure != nil {
		configure(s)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *testServer) all() []*received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*received(nil), s.sessions...)
}

func (s *testServer) serve(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	rec := &received{}
	s.mu.Lock()
	s.sessions = append(s.sessions, rec)
	s.mu.Unlock()
	if s.silent {
		io.Copy(io.Discard, conn)
		return
	}
	if s.implicit {
		conn = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
		rec.tls = true
	}
	tc := textproto.NewConn(conn)
	reply := func(lines ...string) {
		for _, l := range lines {
			tc.PrintfLine("%s", l)
		}
	}
	reply("220 test ESMTP")
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		s.mu.Lock()
		rec.commands = append(rec.commands, line)
		s.mu.Unlock()
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"250-test greets " + arg}
			if s.startTLS && !rec.tls {
				ext = append(ext, "250-STARTTLS")
			}
			reply(append(ext, "250 AUTH PLAIN")...)
		case "STARTTLS":
			reply("220 go ahead")
			conn = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			tc = textproto.NewConn(conn)
			rec.tls = true
		case "AUTH":
			mech, b64, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(b64)
			parts := strings.Split(string(raw), "\x00")
			if mech != "PLAIN" || err != nil || len(parts) != 3 {
				reply("535 bad credentials")
				continue
			}
			rec.auth = parts[1] + ":" + parts[2]
			reply("235 ok")
		case "MAIL":
			rec.from = strings.TrimSuffix(strings.TrimPrefix(strings.Fields(arg)[0], "FROM:<"), ">")
			reply("250 ok")
		case "RCPT":
			addr := strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">")
			if s.reject {
				reply("550 5.1.1 <" + addr + ">: Recipient address rejected")
				continue
			}
			rec.rcpt = append(rec.rcpt, addr)
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := io.ReadAll(tc.DotReader())
			if err != nil {
				return
			}
			s.mu.Lock()
			rec.data = data
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("250 ok")
		}
	}
}

func testMessage() Message {
	return Message{
		To:      []string{"Anna <anna@example.be>", "piet@example.be"},
		Subject: "Uitnodiging voor de werkruimte",
		Text:    "Open https://node.example.be/i/abc\n.\n..a line with dots\n",
		Link:    "https://node.example.be/i/abc",
		Date:    fixedDate,
		ID:      "smtp-test@node.example.be",
	}
}

func writePassword(t *testing.T, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(path, []byte("s3cret pass\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSMTP_Send(t *testing.T) {
	cert, pool := testCert(t)
	for _, tc := range []struct {
		name     string
		mode     string
		auth     bool
		implicit bool
	}{
		{"none", TLSNone, false, false},
		{"none with auth on loopback", TLSNone, true, false},
		{"starttls", TLSStartTLS, true, false},
		{"tls", TLSImplicit, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, cert, func(s *testServer) {
				s.implicit = tc.implicit
				s.startTLS = !tc.implicit
			})
			cfg := DefaultConfig()
			cfg.Host, cfg.Port, cfg.TLS = "127.0.0.1", srv.port(), tc.mode
			cfg.From = "bikfed <bikfed@node.example.be>"
			cfg.HelloName = "node.example.be"
			cfg.TLSConfig = &tls.Config{RootCAs: pool}
			if tc.auth {
				cfg.Username, cfg.PasswordFile = "bikfed", writePassword(t, 0o600)
			}
			s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage()
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			want, _, err := Build(m, cfg.From)
			if err != nil {
				t.Fatal(err)
			}
			sessions := srv.all()
			if len(sessions) != 1 {
				t.Fatalf("%d sessions", len(sessions))
			}
			got := sessions[0]
			if !bytes.Equal(bytes.ReplaceAll(got.data, []byte("\n"), []byte("\r\n")), want) {
				t.Errorf("data:\n%s\nwant:\n%s", got.data, want)
			}
			if got.from != "bikfed@node.example.be" || strings.Join(got.rcpt, " ") != "anna@example.be piet@example.be" {
				t.Errorf("envelope from %q to %q", got.from, got.rcpt)
			}
			if wantTLS := tc.mode != TLSNone; got.tls != wantTLS {
				t.Errorf("tls %v, want %v", got.tls, wantTLS)
			}
			if wantAuth := map[bool]string{true: "bikfed:s3cret pass"}[tc.auth]; got.auth != wantAuth {
				t.Errorf("auth %q, want %q", got.auth, wantAuth)
			}
			if got.commands[0] != "EHLO node.example.be" {
				t.Errorf("first command %q", got.commands[0])
			}
		})
	}
}

// A refused recipient is in the error the caller gets, but not in the log.
func TestSMTP_Send_refusedRecipient(t *testing.T) {
	cert, _ := testCert(t)
	srv := startServer(t, cert, func(s *testServer) { s.reject = true })
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.TLS = "127.0.0.1", srv.port(), TLSNone
	cfg.From = "bikfed@node.example.be"
	var logs bytes.Buffer
	s, err := NewSMTP(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(t.Context(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "anna@example.be") {
		t.Fatalf("Send = %v, want the server's refusal", err)
	}
	if !strings.Contains(logs.String(), "mail not sent") || !strings.Contains(logs.String(), "Recipient address rejected") {
		t.Fatalf("the failure is not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "@example.be") {
		t.Fatalf("the log holds a recipient's address: %s", logs.String())
	}
}

// A server (or someone on the path) that does not offer STARTTLS gets
// nothing: not the credentials, not the message.
func TestSMTP_Send_noSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	srv := startServer(t, cert, nil)
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.From = "127.0.0.1", srv.port(), "bikfed@node.example.be"
	cfg.Username, cfg.PasswordFile = "bikfed", writePassword(t, 0o600)
	cfg.TLSConfig = &tls.Config{RootCAs: pool}
	s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), testMessage()); !errors.Is(err, ErrNoSTARTTLS) {
		t.Fatalf("error %v, want %v", err, ErrNoSTARTTLS)
	}
	for _, c := range srv.all()[0].commands {
		if !strings.HasPrefix(c, "EHLO") && c != "QUIT" {
			t.Errorf("server got %q", c)
		}
	}
}

func TestSMTP_Send_untrustedCertificate(t *testing.T) {
	cert, _ := testCert(t)
	srv := startServer(t, cert, func(s *testServer) { s.startTLS = true })
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.From = "127.0.0.1", srv.port(), "bikfed@node.example.be"
	cfg.Username, cfg.PasswordFile = "bikfed", writePassword(t, 0o600)
	s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var certErr *tls.CertificateVerificationError
	if err := s.Send(t.Context(), testMessage()); !errors.As(err, &certErr) {
		t.Fatalf("error %v, want a certificate error", err)
	}
	if a := srv.all()[0].auth; a != "" {
		t.Errorf("credentials sent: %q", a)
	}
}

func TestSMTP_Send_timeout(t *testing.T) {
	cert, _ := testCert(t)
	srv := startServer(t, cert, func(s *testServer) { s.silent = true })
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.TLS, cfg.From = "127.0.0.1", srv.port(), TLSNone, "bikfed@node.example.be"

	t.Run("timeout", func(t *testing.T) {
		cfg := cfg
		cfg.Timeout = 200 * time.Millisecond
		s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Send(t.Context(), testMessage())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		if err := s.Send(ctx, testMessage()); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want %v", err, context.Canceled)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestSMTP_Send_badMessage(t *testing.T) {
	cert, _ := testCert(t)
	srv := startServer(t, cert, nil)
	cfg := DefaultConfig()
	cfg.Host, cfg.Port, cfg.TLS, cfg.From = "127.0.0.1", srv.port(), TLSNone, "bikfed@node.example.be"
	s, err := NewSMTP(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Subject = "Hi\r\nBcc: eve@example.com"
	if err := s.Send(t.Context(), m); !errors.Is(err, ErrHeaderInjection) {
		t.Fatalf("error %v, want %v", err, ErrHeaderInjection)
	}
	if n := len(srv.all()); n != 0 {
		t.Errorf("%d connections to the server", n)
	}
}

func TestNewSMTP(t *testing.T) {
	base := DefaultConfig()
	base.Host, base.From, base.Username = "smtp.example.be", "bikfed@node.example.be", "bikfed"

	t.Run("not configured", func(t *testing.T) {
		if _, err := NewSMTP(DefaultConfig(), slog.New(slog.DiscardHandler)); !errors.Is(err, ErrNotConfigured) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("warns about an open password file", func(t *testing.T) {
		for _, tc := range []struct {
			mode os.FileMode
			warn bool
		}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}} {
			cfg := base
			cfg.PasswordFile = writePassword(t, tc.mode)
			var logs bytes.Buffer
			s, err := NewSMTP(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if s.password != "s3cret pass" {
				t.Errorf("password %q", s.password)
			}
			if got := strings.Contains(logs.String(), "readable by other users"); got != tc.warn {
				t.Errorf("mode %04o: warned %v, want %v: %s", tc.mode, got, tc.warn, logs.String())
			}
		}
	})
	t.Run("missing password file", func(t *testing.T) {
		cfg := base
		cfg.PasswordFile = filepath.Join(t.TempDir(), "nope")
		if _, err := NewSMTP(cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("empty password file", func(t *testing.T) {
		cfg := base
		cfg.PasswordFile = filepath.Join(t.TempDir(), "empty")
		os.WriteFile(cfg.PasswordFile, []byte("\n"), 0o600)
		if _, err := NewSMTP(cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrEmptyPassword) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		cfg := base
		cfg.Port = 0
		if _, err := NewSMTP(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "Port") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestConfig_Validate(t *testing.T) {
	ok := DefaultConfig()
	ok.Host, ok.From = "smtp.example.be", "Child Focus <bikfed@node.example.be>"
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string // field named in the error; "" for valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"not configured", func(c *Config) { *c = DefaultConfig() }, ""},
		{"with credentials", func(c *Config) { c.Username, c.PasswordFile = "u", "/run/secrets/smtp" }, ""},
		{"host with port", func(c *Config) { c.Host = "smtp.example.be:25" }, "Host"},
		{"host with scheme", func(c *Config) { c.Host = "smtp://smtp.example.be" }, "Host"},
		{"port", func(c *Config) { c.Port = 70000 }, "Port"},
		{"tls mode", func(c *Config) { c.TLS = "ssl" }, "TLS"},
		{"no from", func(c *Config) { c.From = "" }, "From"},
		{"bad from", func(c *Config) { c.From = "bikfed" }, "From"},
		{"from injection", func(c *Config) { c.From = "a@b.c\r\nBcc: e@x.y" }, "From"},
		{"username injection", func(c *Config) { c.Username, c.PasswordFile = "u\r\nx", "/p" }, "Username"},
		{"username without file", func(c *Config) { c.Username = "u" }, "PasswordFile"},
		{"file without username", func(c *Config) { c.PasswordFile = "/p" }, "Username"},
		{"credentials in the clear", func(c *Config) { c.Username, c.PasswordFile, c.TLS = "u", "/p", TLSNone }, "Username"},
		{"credentials in the clear to loopback", func(c *Config) {
			c.Host, c.Username, c.PasswordFile, c.TLS = "127.0.0.1", "u", "/p", TLSNone
		}, ""},
		{"hello name", func(c *Config) { c.HelloName = "a b" }, "HelloName"},
		{"hello literal", func(c *Config) { c.HelloName = "[192.0.2.1]" }, ""},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want+":") {
				t.Fatalf("error %v, want one about %s", err, tc.want)
			}
		})
	}
}

func TestPrinter_Send(t *testing.T) {
	var out bytes.Buffer
	p := NewPrinter(&out)
	if err := p.Send(t.Context(), testMessage()); err != nil {
		t.Fatal(err)
	}
	want := "To: Anna <anna@example.be>, piet@example.be\nSubject: Uitnodiging voor de werkruimte\nLink: https://node.example.be/i/abc\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}

	out.Reset()
	m := testMessage()
	m.Link = ""
	if err := p.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n\nOpen https://node.example.be/i/abc\n") {
		t.Errorf("text not printed: %q", out.String())
	}

	out.Reset()
	m.Subject = "x\r\nTo: eve@example.com"
	if err := p.Send(t.Context(), m); !errors.Is(err, ErrHeaderInjection) {
		t.Errorf("error %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q", out.String())
	}
}
