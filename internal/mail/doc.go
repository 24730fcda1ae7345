// Package mail sends the emails a bikfed server writes to people: an
// invitation, a password reset, a node's community notifications and
// digests (with extra headers such as List-Unsubscribe).
//
// A Message is built into an RFC 5322 message (UTF-8 subject as RFC 2047
// encoded words, a quoted-printable text/plain body with an optional HTML
// alternative) and handed to a Sender: SMTP, which talks to the operator's
// mail server with STARTTLS or implicit TLS under a timeout and the
// caller's context, or Printer, which writes the essentials of the message
// (recipient, subject, link) for a person at a terminal when no mail server
// is configured.
//
// Every header value and address is checked before it is written: a CR or
// LF in any of them, which would let one value add headers or recipients of
// its own, is refused rather than cleaned.
package mail
