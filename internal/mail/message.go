package mail

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	ErrHeaderInjection = errors.New("line break in a header value")
	ErrInvalidHeader   = errors.New("invalid header")
	ErrInvalidAddress  = errors.New("invalid address")
	ErrNoRecipients    = errors.New("no recipients")
	ErrInvalidText     = errors.New("invalid text")
	ErrTooLarge        = errors.New("message too large")
	ErrEmptyPassword   = errors.New("empty password")
	ErrNoSTARTTLS      = errors.New("server does not offer STARTTLS")
	ErrNotConfigured   = errors.New("no mail server configured")
)

// Limits of what a Message may hold. Invitations and resets are a few
// lines; the limits keep a mistake from sending a megabyte to someone.
const (
	maxRecipients = 50
	maxSubject    = 250 // characters
	maxBody       = 1 << 20
	maxLine       = 998 // RFC 5322 2.1.1, without CRLF
)

// Header is an extra header field, such as List-Unsubscribe.
type Header struct {
	Name, Value string
}

// Message is one email to write.
type Message struct {
	// From overrides the configured sender's header address; the envelope
	// sender stays the configured one.
	From string
	// To are the recipients, each an address or "Name <address>".
	To []string
	// Subject is any UTF-8 text on one line.
	Subject string
	// Text is the plain-text body, required.
	Text string
	// HTML, when not empty, is an alternative to Text for mail programs
	// that show HTML; Text stays for the others.
	HTML string
	// Link is the one address the message asks the reader to open (an
	// invitation, a reset). It must also appear in Text; a Printer shows
	// only this.
	Link string
	// Headers are added as given, after the standard ones. They may not
	// replace a standard header (From, To, Subject, Date, Message-ID,
	// MIME-Version, Content-*), and their values must be ASCII.
	Headers []Header

	// Date and ID default to the time of sending and a random id at the
	// sender's domain.
	Date time.Time
	ID   string
}

// reserved are the headers Build writes itself.
var reserved = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "date": true,
	"message-id": true, "mime-version": true, "sender": true, "reply-to": true,
	"return-path": true,
}

// parseAddress parses one address, refusing line breaks first, as net/mail
// would otherwise read some of them as folding.
func parseAddress(s string) (*mail.Address, error) {
	if err := checkValue(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidAddress, err)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInvalidAddress, s, err)
	}
	// A non-ASCII address needs SMTPUTF8 from every server on the way;
	// names may be anything, as they are encoded.
	for i := 0; i < len(a.Address); i++ {
		if c := a.Address[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return nil, fmt.Errorf("%w: %q: only ASCII addresses are supported", ErrInvalidAddress, a.Address)
		}
	}
	if len(a.Address) > 254 {
		return nil, fmt.Errorf("%w: %q is longer than 254", ErrInvalidAddress, a.Address)
	}
	return a, nil
}

// checkValue refuses line breaks, other control characters and invalid
// UTF-8 in a header value.
func checkValue(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return ErrHeaderInjection
	}
	if !utf8.ValidString(s) {
		return ErrInvalidText
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Errorf("%w: control character %U", ErrInvalidHeader, r)
		}
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > 76 {
		return fmt.Errorf("%w: name %q", ErrInvalidHeader, name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			if c == '\r' || c == '\n' {
				return ErrHeaderInjection
			}
			return fmt.Errorf("%w: name %q", ErrInvalidHeader, name)
		}
	}
	l := strings.ToLower(name)
	if reserved[l] || strings.HasPrefix(l, "content-") {
		return fmt.Errorf("%w: %s is written by the sender", ErrInvalidHeader, name)
	}
	return nil
}

// Build writes m as an RFC 5322 message with CRLF line ends, from the
// address from (the configured sender, used unless m.From is set). It also
// returns the recipients' bare addresses for the SMTP envelope.
func Build(m Message, from string) ([]byte, []string, error) {
	if m.From != "" {
		from = m.From
	}
	fromAddr, err := parseAddress(from)
	if err != nil {
		return nil, nil, fmt.Errorf("from: %w", err)
	}
	if len(m.To) == 0 {
		return nil, nil, ErrNoRecipients
	}
	if len(m.To) > maxRecipients {
		return nil, nil, fmt.Errorf("%w: %d recipients, at most %d", ErrTooLarge, len(m.To), maxRecipients)
	}
	to := make([]string, len(m.To))
	rcpt := make([]string, len(m.To))
	for i, s := range m.To {
		a, err := parseAddress(s)
		if err != nil {
			return nil, nil, fmt.Errorf("to: %w", err)
		}
		to[i], rcpt[i] = a.String(), a.Address
	}
	if err := checkValue(m.Subject); err != nil {
		return nil, nil, fmt.Errorf("subject: %w", err)
	}
	if utf8.RuneCountInString(m.Subject) > maxSubject {
		return nil, nil, fmt.Errorf("subject: %w: more than %d characters", ErrTooLarge, maxSubject)
	}
	if err := checkValue(m.Link); err != nil {
		return nil, nil, fmt.Errorf("link: %w", err)
	}
	if m.Text == "" {
		return nil, nil, fmt.Errorf("text: %w: empty", ErrInvalidText)
	}
	// A Printer shows only the link and SMTP only the text: a link missing
	// from the text would reach one kind of reader and not the other.
	if m.Link != "" && !strings.Contains(m.Text, m.Link) {
		return nil, nil, fmt.Errorf("link: %w: not in the text", ErrInvalidText)
	}
	for _, part := range []struct{ name, body string }{{"text", m.Text}, {"html", m.HTML}} {
		if !utf8.ValidString(part.body) {
			return nil, nil, fmt.Errorf("%s: %w", part.name, ErrInvalidText)
		}
		if len(part.body) > maxBody {
			return nil, nil, fmt.Errorf("%s: %w: more than %d bytes", part.name, ErrTooLarge, maxBody)
		}
	}
	for _, h := range m.Headers {
		if err := checkName(h.Name); err != nil {
			return nil, nil, fmt.Errorf("header %q: %w", h.Name, err)
		}
		if err := checkValue(h.Value); err != nil {
			return nil, nil, fmt.Errorf("header %s: %w", h.Name, err)
		}
		for i := 0; i < len(h.Value); i++ {
			if h.Value[i] >= 0x80 {
				return nil, nil, fmt.Errorf("header %s: %w: value is not ASCII", h.Name, ErrInvalidHeader)
			}
		}
		if len(h.Name)+2+len(h.Value) > maxLine {
			return nil, nil, fmt.Errorf("header %s: %w: longer than %d", h.Name, ErrTooLarge, maxLine)
		}
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := m.ID
	if id == "" {
		id = newID(fromAddr.Address)
	} else if err := checkValue(id); err != nil || strings.ContainsAny(id, " <>\t") || !strings.Contains(id, "@") {
		return nil, nil, fmt.Errorf("message id: %w: %q", ErrInvalidHeader, id)
	}

	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", fromAddr.String())
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", encodeSubject(m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+id+">")
	header("MIME-Version", "1.0")
	for _, h := range m.Headers {
		b.WriteString(fold(h.Name+": "+h.Value) + "\r\n")
	}
	if m.HTML == "" {
		writePart(&b, "text/plain", m.Text)
		return b.Bytes(), rcpt, nil
	}
	// A boundary with "=_" never occurs in quoted-printable text, where
	// "=" is always followed by two hex digits or a line end.
	sum := sha256.Sum256([]byte(m.Text + "\x00" + m.HTML))
	boundary := "=_" + hex.EncodeToString(sum[:12])
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		writePart(&b, p.typ, p.body)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), rcpt, nil
}

// writePart writes the content headers, a blank line and the body in
// quoted-printable, which keeps lines short and 7-bit whatever the text.
func writePart(b *bytes.Buffer, typ, body string) {
	b.WriteString("Content-Type: " + typ + "; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	w := quotedprintable.NewWriter(b)
	w.Write([]byte(strings.ReplaceAll(body, "\r\n", "\n")))
	w.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

// encodeSubject leaves a short ASCII subject as it is and writes any other
// as RFC 2047 Q-encoded words short enough that every line, the first
// behind "Subject: ", stays within 78 characters. A reader drops the
// folding white space between two encoded words, so the subject reads back
// exactly.
func encodeSubject(s string) string {
	const maxWord = 78 - len("Subject: ")
	const overhead = len("=?utf-8?q?") + len("?=")
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii && len(s) <= maxWord && !strings.Contains(s, "=?") {
		return s
	}
	var words []string
	var word strings.Builder
	for _, r := range s {
		enc := qEncodeRune(r)
		if overhead+word.Len()+len(enc) > maxWord {
			words = append(words, "=?utf-8?q?"+word.String()+"?=")
			word.Reset()
		}
		word.WriteString(enc)
	}
	if word.Len() > 0 || len(words) == 0 {
		words = append(words, "=?utf-8?q?"+word.String()+"?=")
	}
	return strings.Join(words, "\r\n ")
}

// qEncodeRune writes r as RFC 2047 "Q" text, keeping to the characters
// allowed in an encoded word inside unstructured text.
func qEncodeRune(r rune) string {
	switch {
	case r == ' ':
		return "_"
	case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!*+-/", r)):
		return string(r)
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	var b strings.Builder
	for _, c := range buf[:n] {
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

// fold breaks a header line longer than 78 characters at its spaces, the
// folding of RFC 5322 2.2.3 that a reader undoes; a run without space stays
// long, within the 998 that Build checks.
func fold(line string) string {
	var b strings.Builder
	for len(line) > 78 {
		i := strings.LastIndexByte(line[:79], ' ')
		if i <= 0 {
			i = strings.IndexByte(line[79:], ' ')
			if i < 0 {
				break
			}
			i += 79
		}
		b.WriteString(line[:i])
		b.WriteString("\r\n")
		line = line[i:]
	}
	b.WriteString(line)
	return b.String()
}

func newID(fromAddress string) string {
	var r [16]byte
	rand.Read(r[:])
	domain := "localhost"
	if i := strings.LastIndexByte(fromAddress, '@'); i >= 0 {
		domain = fromAddress[i+1:]
	}
	return hex.EncodeToString(r[:]) + "@" + domain
}
