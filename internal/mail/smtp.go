package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Sender delivers messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

var (
	_ Sender = (*SMTP)(nil)
	_ Sender = (*Printer)(nil)
)

// SMTP delivers through one mail server, one connection per message:
// invitations and resets are rare, and a connection held open would only
// time out between them.
type SMTP struct {
	cfg      Config
	password string
	log      *slog.Logger
}

// NewSMTP checks cfg and reads the password file once, so that a wrong
// path or an empty file stops the server at start rather than at the
// first invitation.
func NewSMTP(cfg Config, log *slog.Logger) (*SMTP, error) {
	if !cfg.Configured() {
		return nil, ErrNotConfigured
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mail config: %w", err)
	}
	log = log.With("component", "mail")
	s := &SMTP{cfg: cfg, log: log}
	if cfg.Username != "" {
		pw, err := readPassword(log, cfg.PasswordFile)
		if err != nil {
			return nil, err
		}
		s.password = pw
	}
	return s, nil
}

// Send builds m and delivers it, within the configured timeout and ctx.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, rcpt, err := Build(m, s.cfg.From)
	if err != nil {
		return fmt.Errorf("build message: %w", err)
	}
	envelopeFrom, _ := parseAddress(s.cfg.From) // checked by Validate
	if err := s.deliver(ctx, envelopeFrom.Address, rcpt, msg); err != nil {
		s.log.Warn("mail not sent", "host", s.cfg.Host, "recipients", len(rcpt), "err", withoutAddresses(err.Error(), rcpt))
		return err
	}
	s.log.Info("mail sent", "host", s.cfg.Host, "recipients", len(rcpt))
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

func (s *SMTP) deliver(ctx context.Context, from string, rcpt []string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var conn net.Conn
	var err error
	if s.cfg.TLS == TLSImplicit {
		d := &tls.Dialer{Config: s.tlsConfig()}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	// net/smtp has no context: a deadline on the connection bounds every
	// exchange, and cancelling ctx moves it to now.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	err = s.converse(conn, from, rcpt, msg)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("smtp %s: %w (%w)", addr, ctx.Err(), err)
	case !time.Now().Before(deadline):
		// The connection's deadline can fire before ctx's own timer.
		return fmt.Errorf("smtp %s: %w (%w)", addr, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("smtp %s: %w", addr, err)
}

func (s *SMTP) converse(conn net.Conn, from string, rcpt []string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		// Sending anyway when the server does not offer STARTTLS would let
		// anyone on the path strip it and read the invitation links.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return ErrNoSTARTTLS
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		// PlainAuth itself refuses to send over an unencrypted connection
		// to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.password, s.cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, r := range rcpt {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("rcpt to: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// withoutAddresses takes the recipients out of a server's answer before it
// is logged: a refusal usually quotes the address, and an address is
// personal data that belongs with the member, not in a log.
func withoutAddresses(text string, rcpt []string) string {
	for _, r := range rcpt {
		if r != "" {
			text = strings.ReplaceAll(text, r, "<recipient>")
		}
	}
	return text
}
