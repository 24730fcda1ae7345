package mail

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var fixedDate = time.Date(2027, time.February, 9, 14, 5, 0, 0, time.FixedZone("CET", 3600))

const invitationText = `Hello Anna,

You are invited to the workspace of Child Focus. Open this link within 7 days to choose your password:

https://node.example.be/invitation/Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4

If you did not expect this email, you can ignore it.
`

func TestBuild_golden(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"plain", Message{
			To:      []string{"anna@example.be"},
			Subject: "Your invitation to the bikfed workspace",
			Text:    invitationText,
		}},
		{"utf8", Message{
			To:      []string{"Zoë Dubois <zoe@example.be>", "juergen@example.de"},
			Subject: "Invitation à l’espace de travail de Child Focus — choisissez votre mot de passe ✓",
			Text:    "Bonjour Zoë,\n\nOuvrez ce lien : https://node.example.be/i/abc\n\nÀ bientôt, l’équipe — 🙂\n",
		}},
		{"alternative", Message{
			From:    "Child Focus <noreply@childfocus.example.be>",
			To:      []string{"anna@example.be"},
			Subject: "Reset your password",
			Text:    "Open https://node.example.be/reset/abc to choose a new password.\n",
			HTML:    "<p>Open <a href=\"https://node.example.be/reset/abc\">this link</a> to choose a new password.</p>\n",
		}},
		{"list-unsubscribe", Message{
			To:      []string{"anna@example.be"},
			Subject: "Bulletin",
			Text:    "A line that is long enough to be wrapped by quoted-printable, which keeps every line of the body under seventy-six characters.\n",
			Headers: []Header{
				{"List-Unsubscribe", "<https://hub.example.eu/unsubscribe/abc>, <mailto:unsubscribe@hub.example.eu?subject=abc>"},
				{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.Date = fixedDate
			tc.m.ID = "golden-" + tc.name + "@bikfed.example"
			got, rcpt, err := Build(tc.m, "bikfed <bikfed@node.example.be>")
			if err != nil {
				t.Fatal(err)
			}
			if len(rcpt) != len(tc.m.To) {
				t.Errorf("recipients %v", rcpt)
			}
			path := filepath.Join("testdata", tc.name+".eml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("differs from %s (go test -run TestBuild_golden -update):\n%s", path, got)
			}
			checkWellFormed(t, got, tc.m)
		})
	}
}

// checkWellFormed reads msg back as a mail program would and compares what
// it finds with m.
func checkWellFormed(t *testing.T, msg []byte, m Message) {
	t.Helper()
	for i, line := range bytes.Split(msg, []byte("\r\n")) {
		if len(line) > 78 {
			t.Errorf("line %d is %d long: %q", i+1, len(line), line)
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF", i+1)
		}
		for _, c := range line {
			if c >= 0x80 {
				t.Errorf("line %d is not 7-bit: %q", i+1, line)
				break
			}
		}
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("subject %q (%v), want %q", subject, err, m.Subject)
	}
	to, err := parsed.Header.AddressList("To")
	if err != nil || len(to) != len(m.To) {
		t.Errorf("to %v (%v), want %v", to, err, m.To)
	}
	if _, err := parsed.Header.Date(); err != nil {
		t.Errorf("date: %v", err)
	}
	for _, h := range m.Headers {
		if got := parsed.Header.Get(h.Name); got != h.Value {
			t.Errorf("%s: %q, want %q", h.Name, got, h.Value)
		}
	}
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if m.HTML == "" {
		if mt != "text/plain" || params["charset"] != "utf-8" {
			t.Errorf("content type %s %v", mt, params)
		}
		checkBody(t, parsed.Header.Get("Content-Transfer-Encoding"), parsed.Body, m.Text)
		return
	}
	if mt != "multipart/alternative" {
		t.Fatalf("content type %s", mt)
	}
	r := multipart.NewReader(parsed.Body, params["boundary"])
	for _, want := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		p, err := r.NextRawPart()
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.typ+"; charset=utf-8" {
			t.Errorf("part content type %q", ct)
		}
		checkBody(t, p.Header.Get("Content-Transfer-Encoding"), p, want.body)
	}
	if _, err := r.NextRawPart(); err != io.EOF {
		t.Errorf("more parts: %v", err)
	}
}

func checkBody(t *testing.T, cte string, r io.Reader, want string) {
	t.Helper()
	if cte != "quoted-printable" {
		t.Errorf("transfer encoding %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(r))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(string(body), "\r\n", "\n")
	if strings.TrimRight(got, "\n") != strings.TrimRight(want, "\n") {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestBuild_refuses(t *testing.T) {
	ok := Message{To: []string{"anna@example.be"}, Subject: "Hi", Text: "Hello"}
	for _, tc := range []struct {
		name string
		edit func(m *Message)
		from string
		want error
	}{
		{"CRLF in subject", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, "", ErrHeaderInjection},
		{"LF in subject", func(m *Message) { m.Subject = "Hi\nBcc: eve@example.com" }, "", ErrHeaderInjection},
		{"CR in subject", func(m *Message) { m.Subject = "Hi\rBcc: eve@example.com" }, "", ErrHeaderInjection},
		{"CRLF in recipient", func(m *Message) { m.To = []string{"anna@example.be\r\nBcc: eve@example.com"} }, "", ErrHeaderInjection},
		{"CRLF in recipient name", func(m *Message) { m.To = []string{"\"Anna\r\nBcc: eve@example.com\" <anna@example.be>"} }, "", ErrHeaderInjection},
		{"CRLF in from", func(m *Message) { m.From = "a@example.be\r\nBcc: eve@example.com" }, "", ErrHeaderInjection},
		{"CRLF in configured from", nil, "a@example.be\nBcc: eve@example.com", ErrHeaderInjection},
		{"CRLF in extra value", func(m *Message) { m.Headers = []Header{{"List-Unsubscribe", "<x>\r\nBcc: eve@example.com"}} }, "", ErrHeaderInjection},
		{"CRLF in extra name", func(m *Message) { m.Headers = []Header{{"X-A\r\nBcc", "eve@example.com"}} }, "", ErrHeaderInjection},
		{"CRLF in link", func(m *Message) { m.Link = "https://x\r\nTo: eve@example.com" }, "", ErrHeaderInjection},
		{"CRLF in message id", func(m *Message) { m.ID = "a@b\r\nBcc: eve@example.com" }, "", ErrInvalidHeader},
		{"colon in extra name", func(m *Message) { m.Headers = []Header{{"Bcc: x", "y"}} }, "", ErrInvalidHeader},
		{"extra replaces Bcc", func(m *Message) { m.Headers = []Header{{"bcc", "eve@example.com"}} }, "", ErrInvalidHeader},
		{"extra replaces To", func(m *Message) { m.Headers = []Header{{"To", "eve@example.com"}} }, "", ErrInvalidHeader},
		{"extra replaces Content-Type", func(m *Message) { m.Headers = []Header{{"Content-Type", "text/html"}} }, "", ErrInvalidHeader},
		{"non-ASCII extra", func(m *Message) { m.Headers = []Header{{"X-A", "é"}} }, "", ErrInvalidHeader},
		{"control character", func(m *Message) { m.Subject = "a\x1b[2Jb" }, "", ErrInvalidHeader},
		{"invalid UTF-8 subject", func(m *Message) { m.Subject = "a\xffb" }, "", ErrInvalidText},
		{"invalid UTF-8 text", func(m *Message) { m.Text = "a\xffb" }, "", ErrInvalidText},
		{"link not in text", func(m *Message) { m.Link = "https://node.example.be/i/other" }, "", ErrInvalidText},
		{"empty text", func(m *Message) { m.Text = "" }, "", ErrInvalidText},
		{"no recipient", func(m *Message) { m.To = nil }, "", ErrNoRecipients},
		{"bad recipient", func(m *Message) { m.To = []string{"not an address"} }, "", ErrInvalidAddress},
		{"non-ASCII address", func(m *Message) { m.To = []string{"jürgen@example.de"} }, "", ErrInvalidAddress},
		{"two in one", func(m *Message) { m.To = []string{"a@example.be, eve@example.com"} }, "", ErrInvalidAddress},
		{"too many", func(m *Message) { m.To = slicesRepeat("a@example.be", 51) }, "", ErrTooLarge},
		{"long subject", func(m *Message) { m.Subject = strings.Repeat("é", 251) }, "", ErrTooLarge},
		{"long extra", func(m *Message) { m.Headers = []Header{{"X-A", strings.Repeat("a", 995)}} }, "", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			if tc.edit != nil {
				tc.edit(&m)
			}
			from := "bikfed@node.example.be"
			if tc.from != "" {
				from = tc.from
			}
			msg, _, err := Build(m, from)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v; message:\n%s", err, tc.want, msg)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestBuild_defaults(t *testing.T) {
	msg, _, err := Build(Message{To: []string{"a@example.be"}, Subject: "x", Text: "y"}, "bikfed@node.example.be")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if id := parsed.Header.Get("Message-ID"); !strings.HasSuffix(id, "@node.example.be>") || len(id) < 40 {
		t.Errorf("Message-ID %q", id)
	}
	if d, err := parsed.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %v %v", d, err)
	}
}

// FuzzBuild feeds untrusted text to every field a caller could fill from
// a form: whatever Build accepts must read back with exactly the headers
// it wrote.
func FuzzBuild(f *testing.F) {
	f.Add("Anna <anna@example.be>", "Subject", "X-Tag", "value", "body")
	f.Add("a@example.be\r\nBcc: e@example.com", "S\nBcc: x", "X\r\nY", "v\r\n", "b")
	f.Add("\"A\\\"\r\n\" <a@b.c>", "=?utf-8?q?x?=", "List-Unsubscribe", "<https://x>", "é")
	f.Fuzz(func(t *testing.T, to, subject, name, value, text string) {
		m := Message{To: []string{to}, Subject: subject, Text: text, Headers: []Header{{name, value}}}
		msg, rcpt, err := Build(m, "bikfed@node.example.be")
		if err != nil {
			return
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("unreadable message: %v\n%s", err, msg)
		}
		want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
			"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true}
		want[textprotoKey(name)] = true
		for k, vs := range parsed.Header {
			if !want[k] || len(vs) != 1 {
				t.Fatalf("header %q %q not written by Build\n%s", k, vs, msg)
			}
		}
		if len(rcpt) != 1 || strings.ContainsAny(rcpt[0], "\r\n") {
			t.Fatalf("recipients %q", rcpt)
		}
		// A reader unfolds and trims, which collapses white space.
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if got := parsed.Header.Get(name); norm(got) != norm(value) {
			t.Fatalf("%s: %q, want %q", name, got, value)
		}
	})
}

func textprotoKey(s string) string { return textproto.CanonicalMIMEHeaderKey(s) }
