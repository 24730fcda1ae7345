package mailpittest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// mail is a multipart/alternative message with a text and an HTML body.
func mail(from string, to []string, subject, text, htmlBody string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender <%s>\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: <%d@mailpittest.example>\r\n", time.Now().UnixNano())
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	b.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + htmlBody + "\r\n")
	b.WriteString("--b1--\r\n")
	return []byte(b.String())
}

func TestServer_SendAndRead(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.SMTPAddr, "127.0.0.1:") || !strings.HasPrefix(s.HTTPURL, "http://127.0.0.1:") || s.SMTPPort == 0 {
		t.Fatalf("Start = smtp %q (%q %d), http %q", s.SMTPAddr, s.SMTPHost, s.SMTPPort, s.HTTPURL)
	}

	unsubscribed := make(chan string, 1)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.ParseForm()
			unsubscribed <- r.URL.Path + " " + r.PostForm.Get("List-Unsubscribe")
		}
		fmt.Fprint(w, "ok "+r.URL.Path)
	}))
	t.Cleanup(site.Close)

	msg := mail("hub@bikfed.example", []string{"ann@be.example"}, "Your invitation",
		"Open "+site.URL+"/invite/abc?x=1&y=2. It expires in 7 days.",
		`<p><a href="`+site.URL+`/invite/abc?x=1&amp;y=2">Accept</a> or <a href='`+site.URL+`/help'>help</a></p>`,
		"List-Unsubscribe: <"+site.URL+"/unsub/tok>, <mailto:unsub@bikfed.example>",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click")
	auth := smtp.PlainAuth("", "node-be", "any-password", s.SMTPHost)
	// joann@ is a Bcc recipient that a substring search for ann@ would
	// also find.
	if err := smtp.SendMail(s.SMTPAddr, auth, "hub@bikfed.example", []string{"ann@be.example", "joann@be.example"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}

	m := s.WaitForMessage(t, "ann@be.example")
	if m.Subject != "Your invitation" || m.From == nil || m.From.Address != "hub@bikfed.example" || m.Username != "node-be" {
		t.Errorf("message subject %q from %+v username %q", m.Subject, m.From, m.Username)
	}
	if !strings.Contains(m.Text, "It expires in 7 days") || !strings.Contains(m.HTML, "Accept</a>") {
		t.Errorf("text %q, html %q", m.Text, m.HTML)
	}
	wantLinks := []string{site.URL + "/invite/abc?x=1&y=2", site.URL + "/help"}
	if got := m.Links(); !slices.Equal(got, wantLinks) {
		t.Errorf("Links = %q, want %q", got, wantLinks)
	}
	invite, err := m.Link("/invite/")
	if err != nil || invite != wantLinks[0] {
		t.Errorf("Link(/invite/) = %q, %v", invite, err)
	}
	if _, err := m.Link("/nowhere"); err == nil {
		t.Error("Link(/nowhere) found a link")
	}

	resp, err := Follow(t.Context(), site.Client(), invite)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok /invite/abc" {
		t.Errorf("following the invitation: %q", body)
	}

	h, err := s.Headers(t.Context(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post header = %q", got)
	}
	resp, err = m.UnsubscribeOneClick(t.Context(), site.Client())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-unsubscribed; got != "/unsub/tok One-Click" {
		t.Errorf("one-click unsubscribe posted %q", got)
	}

	raw, err := s.Raw(t.Context(), m.ID)
	if err != nil || !strings.Contains(string(raw), "Subject: Your invitation") {
		t.Errorf("Raw = %.80q, %v", raw, err)
	}

	// A second message, to joann@ only: a substring search for ann@
	// finds both, MessagesTo only the first.
	other := mail("hub@bikfed.example", []string{"joann@be.example"}, "Other", "t", "<p>h</p>")
	if err := smtp.SendMail(s.SMTPAddr, auth, "hub@bikfed.example", []string{"joann@be.example"}, other); err != nil {
		t.Fatalf("send: %v", err)
	}
	s.WaitForMessage(t, "joann@be.example", SubjectContains("Other"))
	if found, err := s.Search(t.Context(), "to:ann@be.example"); err != nil || len(found) != 2 {
		t.Errorf("Search(to:ann@be.example) = %d messages, %v; want both", len(found), err)
	}
	ann, err := s.MessagesTo(t.Context(), "ANN@be.example")
	if err != nil || len(ann) != 1 || ann[0].ID != m.ID {
		t.Errorf("MessagesTo(ann) = %+v, %v", ann, err)
	}
	joann, err := s.MessagesTo(t.Context(), "joann@be.example")
	if err != nil || len(joann) != 2 || joann[1].ID != m.ID {
		t.Errorf("MessagesTo(joann, a Bcc of the first) = %+v, %v", joann, err)
	}
	found, err := s.Search(t.Context(), `subject:"Your invitation"`)
	if err != nil || len(found) != 1 {
		t.Errorf("Search = %d messages, %v", len(found), err)
	}
	if _, err := s.Message(t.Context(), "no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Message(no-such-id) = %v, want ErrNotFound", err)
	}

	if err := s.DeleteAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Messages(t.Context()); err != nil || len(all) != 0 {
		t.Errorf("after DeleteAll: %d messages, %v", len(all), err)
	}
}

func TestServer_WaitFor(t *testing.T) {
	s := Start(t)
	send := func(subject string) {
		msg := mail("a@x.example", []string{"b@x.example"}, subject, "text", "<p>html</p>")
		if err := smtp.SendMail(s.SMTPAddr, nil, "a@x.example", []string{"b@x.example"}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Sent while WaitFor polls, so that the wait does not pass on
	// messages that were there before it started.
	go func() {
		for i := range 3 {
			send(fmt.Sprintf("digest %d", i))
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	defer cancel()
	msgs, err := s.WaitFor(ctx, 3, To("b@x.example"), SubjectContains("digest"))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("digest %d", i); m.Subject != want {
			t.Errorf("message %d: %q, want %q (oldest first)", i, m.Subject, want)
		}
	}

	short, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(short, 1, To("nobody@x.example")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor a message that never comes = %v", err)
	}
}

func TestServer_TLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode TLSMode
	}{
		{"starttls", TLSStartTLS},
		{"implicit", TLSImplicit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := StartConfig(t, Config{TLS: tc.mode})
			tlsConfig := &tls.Config{RootCAs: s.RootCAs, ServerName: s.SMTPHost}
			var c *smtp.Client
			if tc.mode == TLSImplicit {
				conn, err := tls.Dial("tcp", s.SMTPAddr, tlsConfig)
				if err != nil {
					t.Fatalf("dial tls: %v", err)
				}
				if c, err = smtp.NewClient(conn, s.SMTPHost); err != nil {
					t.Fatal(err)
				}
			} else {
				// Refused before the upgrade, accepted after it.
				plain, err := smtp.Dial(s.SMTPAddr)
				if err != nil {
					t.Fatal(err)
				}
				if err := plain.Mail("a@x.example"); err == nil {
					t.Error("MAIL accepted before STARTTLS")
				}
				plain.Close()
				if c, err = smtp.Dial(s.SMTPAddr); err != nil {
					t.Fatal(err)
				}
				if err := c.StartTLS(tlsConfig); err != nil {
					t.Fatalf("starttls: %v", err)
				}
			}
			defer c.Close()
			if err := c.Auth(smtp.PlainAuth("", "u", "p", s.SMTPHost)); err != nil {
				t.Fatalf("auth: %v", err)
			}
			if err := c.Mail("a@x.example"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("tls@x.example"); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			w.Write(mail("a@x.example", []string{"tls@x.example"}, "over "+tc.name, "t", "<p>h</p>"))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			c.Quit()
			if m := s.WaitForMessage(t, "tls@x.example"); m.Subject != "over "+tc.name {
				t.Errorf("subject %q", m.Subject)
			}
		})
	}
}

func TestMessage_Links(t *testing.T) {
	for _, tc := range []struct {
		name, text, html string
		want             []string
	}{
		{"text only", "See https://a.example/x, then http://b.example/y.", "", []string{"https://a.example/x", "http://b.example/y"}},
		{"html entities", "", `<a class="c" href="https://a.example/?p=1&amp;q=2">x</a>`, []string{"https://a.example/?p=1&q=2"}},
		{"html before text, once each", "https://a.example/2 https://a.example/1", `<a href="https://a.example/1">`, []string{"https://a.example/1", "https://a.example/2"}},
		{"mailto and anchors ignored", "mailto:x@y.example", `<a href="#top">t</a><a href="mailto:x@y.example">m</a>`, nil},
		{"in angle brackets", "<https://a.example/u>", "", []string{"https://a.example/u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Message{Text: tc.text, HTML: tc.html}
			if got := m.Links(); !slices.Equal(got, tc.want) {
				t.Errorf("Links = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMessage_UnsubscribeOneClick_NotOffered(t *testing.T) {
	m := &Message{ListUnsubscribe: ListUnsubscribe{Header: "<https://a.example/u>", Links: []string{"https://a.example/u"}}}
	if _, err := m.UnsubscribeOneClick(t.Context(), http.DefaultClient); !errors.Is(err, ErrNoOneClick) {
		t.Errorf("without List-Unsubscribe-Post: %v, want ErrNoOneClick", err)
	}
}

// fatalTB records the message of a Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStart_MissingBinary(t *testing.T) {
	t.Setenv("BIKFED_MAILPIT", t.TempDir()+"/no-such-mailpit")
	ftb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ftb)
		t.Error("Start returned without a server")
	}()
	<-done
	if !strings.Contains(ftb.msg, "make mailpit") {
		t.Errorf("failure message %q does not say to run make mailpit", ftb.msg)
	}
}

func TestBinary(t *testing.T) {
	t.Setenv("BIKFED_MAILPIT", "")
	t.Setenv("BIKFED_CACHE", "/cache")
	if got, _ := Binary(); got != "/cache/mailpit-"+Version+"/mailpit" {
		t.Errorf("Binary with BIKFED_CACHE = %q", got)
	}
	t.Setenv("BIKFED_MAILPIT", "/opt/mailpit")
	if got, _ := Binary(); got != "/opt/mailpit" {
		t.Errorf("Binary with BIKFED_MAILPIT = %q", got)
	}
}

// The binary's directory is named after the pin, so the script that builds
// it and this package must agree on it.
func TestVersion_MatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../scripts/mailpit.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nversion="+Version+"\n") {
		t.Errorf("scripts/mailpit.sh does not pin %s", Version)
	}
}
