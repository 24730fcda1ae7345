package mail

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Printer is the Sender when no mail server is configured: it writes who
// the message is for, its subject and its link (or its text, when it has
// no link) to W, so that the person running a command can pass the link on
// themselves.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Send checks m as SMTP would and writes its essentials.
func (p *Printer) Send(ctx context.Context, m Message) error {
	if _, _, err := Build(m, "printer@localhost"); err != nil {
		return fmt.Errorf("build message: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "To: %s\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	if m.Link != "" {
		fmt.Fprintf(&b, "Link: %s\n", m.Link)
	} else {
		b.WriteString("\n" + strings.TrimRight(m.Text, "\n") + "\n")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, b.String()); err != nil {
		return fmt.Errorf("print message: %w", err)
	}
	return nil
}
