// Package signin serves the pages with which people get into a bikfed
// server's workspace or console: sign-in with email and password, sign-out,
// accepting an invitation, and a forgotten password's reset link. It is
// built on internal/web for pages and middleware and on internal/account for
// everything about members, and is mounted by the caller under a prefix of
// its choosing ("/signin" on a node, "/console/signin" on the hub).
//
// No page says whether an email address has an account: a wrong password
// and an unknown address get the same answer, and so does every request
// for a reset link, whose email is sent after the answer.
package signin
