// Package mailpittest runs a real SMTP server, Mailpit, for tests, and reads
// what it received through Mailpit's REST API, so that outgoing mail is
// tested end to end: the client's SMTP dialogue, authentication and TLS,
// the message as a mail client parses it, and the links people follow.
//
// The server binary is built once per machine by scripts/mailpit.sh (make
// mailpit) at a pinned release. A missing binary fails the test instead of
// skipping it: a skipped mail test looks green in CI while testing nothing.
//
// Every server accepts any SMTP username and password, or none, and records
// the username a message was sent with. By default it speaks plain SMTP and
// takes PLAIN and LOGIN authentication without TLS; with Config.TLS it
// requires STARTTLS or speaks implicit TLS, with a certificate for
// 127.0.0.1 and localhost that only Server.RootCAs trusts.
package mailpittest
