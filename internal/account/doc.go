// Package account holds the people who sign in to a bikfed server: their
// membership and roles, passwords, one-time invitation and reset links,
// server-side sessions, sign-in throttling and an audit log.
//
// It knows nothing of hubs or nodes. A server opens its own database, applies
// this package's migrations to it with Migrate, and hands the Store the roles
// that exist on its side of the network; everything else (which role may do
// what, how links reach people, the web pages) is the server's.
//
// Secrets never rest in the database: passwords are argon2id hashes, and
// invitation, reset and session tokens are stored only as their SHA-256, so a
// copy of the database lets no one sign in.
package account
