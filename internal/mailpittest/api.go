package mailpittest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ErrNotFound is returned for a message the server does not have.
var ErrNotFound = errors.New("mailpit: no such message")

const (
	// WaitTimeout is how long WaitFor waits for a message to arrive.
	WaitTimeout = 30 * time.Second
	pollEvery   = 50 * time.Millisecond
	pageSize    = 500
	maxBody     = 64 << 20
)

// Address is a mailbox as Mailpit parsed it from a header.
type Address struct {
	Name    string
	Address string
}

// Summary is a message as Mailpit lists it (its MessageSummary).
type Summary struct {
	// ID is Mailpit's own ID of the message, for Message and Headers.
	ID string
	// MessageID is the Message-ID header, without angle brackets.
	MessageID string
	From      *Address
	To        []Address
	Cc        []Address
	// Bcc are the envelope recipients that no header names.
	Bcc     []Address
	ReplyTo []Address
	Subject string
	// Created is when Mailpit received the message.
	Created time.Time
	// Username is the SMTP AUTH username the message was sent with.
	Username    string
	Size        uint64
	Attachments int
	// Snippet is the start of the text, up to 250 characters.
	Snippet string
}

// Message is a whole message as Mailpit parsed it.
type Message struct {
	ID         string
	MessageID  string
	From       *Address
	To         []Address
	Cc         []Address
	Bcc        []Address
	ReplyTo    []Address
	ReturnPath string
	Subject    string
	// Date is the Date header, or when Mailpit received the message.
	Date     time.Time
	Username string
	// Text and HTML are the decoded text/plain and text/html bodies.
	Text            string
	HTML            string
	Size            uint64
	ListUnsubscribe ListUnsubscribe
	Inline          []Attachment
	Attachments     []Attachment
}

// ListUnsubscribe is Mailpit's reading of the List-Unsubscribe headers.
type ListUnsubscribe struct {
	// Header is the List-Unsubscribe header as sent.
	Header string
	// Links are the mailto: and http(s) links in it, at most one of each.
	Links []string
	// Errors is what Mailpit found wrong with the headers, if anything.
	Errors string
	// HeaderPost is the List-Unsubscribe-Post header (RFC 8058).
	HeaderPost string
}

// Attachment is a part of a message that is not its text or HTML body.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        uint64
}

type messagesPage struct {
	Total         int       `json:"total"`
	MessagesCount int       `json:"messages_count"`
	Start         int       `json:"start"`
	Messages      []Summary `json:"messages"`
}

// Messages lists every message the server holds, newest first.
func (s *Server) Messages(ctx context.Context) ([]Summary, error) {
	return s.list(ctx, "/api/v1/messages", url.Values{})
}

// Search lists the messages matching a Mailpit search query, newest
// first. Its terms (to:, from:, subject:, is:unread, has:attachment, words)
// match substrings: to:ann@x.example also finds joann@x.example. MessagesTo
// matches an address exactly.
func (s *Server) Search(ctx context.Context, query string) ([]Summary, error) {
	return s.list(ctx, "/api/v1/search", url.Values{"query": {query}})
}

func (s *Server) list(ctx context.Context, path string, q url.Values) ([]Summary, error) {
	var all []Summary
	for {
		q.Set("start", strconv.Itoa(len(all)))
		q.Set("limit", strconv.Itoa(pageSize))
		var page messagesPage
		if err := s.getJSON(ctx, path+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Messages...)
		if len(page.Messages) < pageSize || len(all) >= page.MessagesCount {
			return all, nil
		}
	}
}

// MessagesTo lists the messages that have addr among their To, Cc or Bcc
// recipients (compared without regard to case), newest first.
func (s *Server) MessagesTo(ctx context.Context, addr string) ([]Summary, error) {
	all, err := s.Messages(ctx)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, m := range all {
		if To(addr)(m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Message returns the message with Mailpit's ID id.
func (s *Server) Message(ctx context.Context, id string) (*Message, error) {
	var m Message
	if err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Headers returns the headers of the message with Mailpit's ID id, keys
// in canonical form (Content-Type, List-Unsubscribe-Post).
func (s *Server) Headers(ctx context.Context, id string) (http.Header, error) {
	var h map[string][]string
	if err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h); err != nil {
		return nil, err
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = v
	}
	return out, nil
}

// Raw returns the message with Mailpit's ID id as it was received.
func (s *Server) Raw(ctx context.Context, id string) ([]byte, error) {
	return s.get(ctx, "/api/v1/message/"+url.PathEscape(id)+"/raw")
}

// Part returns the decoded content of one attachment or inline part.
func (s *Server) Part(ctx context.Context, id, partID string) ([]byte, error) {
	return s.get(ctx, "/api/v1/message/"+url.PathEscape(id)+"/part/"+url.PathEscape(partID))
}

// DeleteAll deletes every message, so that a test can wait for new ones
// without older ones matching.
func (s *Server) DeleteAll(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.HTTPURL+"/api/v1/messages", strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("mailpit delete all: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit delete all: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit delete all: %s", resp.Status)
	}
	return nil
}

func (s *Server) getJSON(ctx context.Context, path string, v any) error {
	b, err := s.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	return nil
}

func (s *Server) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return b, nil
	case http.StatusNotFound:
		return nil, fmt.Errorf("mailpit GET %s: %w", path, ErrNotFound)
	default:
		return nil, fmt.Errorf("mailpit GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
}

// Filter selects messages for Find and WaitFor.
type Filter func(Summary) bool

// To selects messages with addr among their To, Cc or Bcc recipients.
func To(addr string) Filter {
	return func(m Summary) bool {
		for _, list := range [][]Address{m.To, m.Cc, m.Bcc} {
			for _, a := range list {
				if strings.EqualFold(a.Address, addr) {
					return true
				}
			}
		}
		return false
	}
}

// SubjectContains selects messages whose subject contains sub.
func SubjectContains(sub string) Filter {
	return func(m Summary) bool { return strings.Contains(m.Subject, sub) }
}

// Find lists the messages that pass every filter, oldest first.
func (s *Server) Find(ctx context.Context, filters ...Filter) ([]Summary, error) {
	all, err := s.Messages(ctx)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for i := len(all) - 1; i >= 0; i-- {
		if matches(all[i], filters) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

func matches(m Summary, filters []Filter) bool {
	for _, f := range filters {
		if !f(m) {
			return false
		}
	}
	return true
}

// WaitFor waits until the server holds n messages that pass every filter,
// and returns them, oldest first, read in full.
func (s *Server) WaitFor(ctx context.Context, n int, filters ...Filter) ([]*Message, error) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var found []Summary
	var lastErr error
	for {
		found, lastErr = s.Find(ctx, filters...)
		if lastErr == nil && len(found) >= n {
			break
		}
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = fmt.Errorf("%d of %d messages", len(found), n)
			}
			return nil, fmt.Errorf("mailpit wait: %w: %w", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
	out := make([]*Message, 0, len(found))
	for _, sum := range found {
		m, err := s.Message(ctx, sum.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// WaitForMessage waits up to WaitTimeout for a message to addr that passes
// the filters and returns the oldest such message; the test fails, listing
// what did arrive, if none comes.
func (s *Server) WaitForMessage(t testing.TB, addr string, filters ...Filter) *Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), WaitTimeout)
	defer cancel()
	msgs, err := s.WaitFor(ctx, 1, append([]Filter{To(addr)}, filters...)...)
	if err != nil {
		t.Fatalf("no message to %s: %v\n%s", addr, err, s.describe(t.Context()))
	}
	return msgs[0]
}

// describe lists the messages the server holds, for a failure message.
func (s *Server) describe(ctx context.Context) string {
	all, err := s.Messages(ctx)
	if err != nil {
		return "messages: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d messages:", len(all))
	for _, m := range all {
		var to []string
		for _, a := range append(append(append([]Address{}, m.To...), m.Cc...), m.Bcc...) {
			to = append(to, a.Address)
		}
		fmt.Fprintf(&b, "\n  to %s: %q", strings.Join(to, ", "), m.Subject)
	}
	return b.String()
}

var (
	hrefAttr = regexp.MustCompile(`(?i)\shref\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	textURL  = regexp.MustCompile(`https?://[^\s<>"']+`)
)

// Links returns the http(s) links of the message, those of its HTML (href
// attributes) before those of its text, each once, in order of appearance.
func (m *Message) Links() []string {
	var out []string
	seen := map[string]bool{}
	add := func(l string) {
		if (strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")) && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, g := range hrefAttr.FindAllStringSubmatch(m.HTML, -1) {
		add(strings.TrimSpace(html.UnescapeString(g[1] + g[2])))
	}
	for _, l := range textURL.FindAllString(m.Text, -1) {
		// A sentence may end right after a link.
		add(strings.TrimRight(l, ".,;:!?)]"))
	}
	return out
}

// Link returns the first of Links that contains sub.
func (m *Message) Link(sub string) (string, error) {
	for _, l := range m.Links() {
		if strings.Contains(l, sub) {
			return l, nil
		}
	}
	return "", fmt.Errorf("message %q to %v has no link containing %q; links: %v", m.Subject, m.To, sub, m.Links())
}

// Follow opens link with client (which should carry a cookie jar if the
// site sets cookies), following redirects as a browser does, and returns
// the response, body unread.
func Follow(ctx context.Context, client *http.Client, link string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", link, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", link, err)
	}
	return resp, nil
}

// ErrNoOneClick is returned by UnsubscribeOneClick for a message that does
// not offer RFC 8058 one-click unsubscription.
var ErrNoOneClick = errors.New("message offers no one-click unsubscribe")

// UnsubscribeOneClick does what a mail client does for RFC 8058: it POSTs
// List-Unsubscribe=One-Click to the https (or, in tests, http) link of the
// List-Unsubscribe header, and returns the response, body unread. The
// message must carry List-Unsubscribe-Post: List-Unsubscribe=One-Click.
func (m *Message) UnsubscribeOneClick(ctx context.Context, client *http.Client) (*http.Response, error) {
	if m.ListUnsubscribe.HeaderPost != "List-Unsubscribe=One-Click" {
		return nil, fmt.Errorf("%w: List-Unsubscribe-Post is %q", ErrNoOneClick, m.ListUnsubscribe.HeaderPost)
	}
	var link string
	for _, l := range m.ListUnsubscribe.Links {
		if strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
			link = l
			break
		}
	}
	if link == "" {
		return nil, fmt.Errorf("%w: List-Unsubscribe %q has no http(s) link", ErrNoOneClick, m.ListUnsubscribe.Header)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, link, strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		return nil, fmt.Errorf("unsubscribe: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("unsubscribe: %w", err)
	}
	return resp, nil
}
