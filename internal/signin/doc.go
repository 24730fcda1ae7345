// Package signin serves the pages with which people get into a bikfed
// server's workspace or console: sign-in with email and password, sign-out,
// accepting an invitation, and a forgotten password's reset link. It is
// built on internal/web for pages and middleware and on internal/account for
// everything about members, and is mounted by the caller under a prefix of
// its choosing ("/signin" on a node, "/console/signin" on the hub).
//
// With passkeys (Config.Passkeys), the sign-in page also offers sign-in
// with a passkey, the account page lists and manages the member's
// passkeys, and a member whose role the passkey policy names confirms a
// password, or a single sign-on, with one of their passkeys on a second
// page before any session starts.
//
// No page says whether an email address has an account: a wrong password
// and an unknown address get the same answer, and so does every request
// for a reset link, whose email is sent after the answer.
package signin
