// Package passkey lets members of a bikfed server sign in with passkeys
// (WebAuthn credentials), on their own or as a second factor after their
// password. It builds on internal/account for members and sessions and on
// github.com/go-webauthn/webauthn for the ceremonies' verification, and it
// knows nothing of hubs or nodes.
//
// A ceremony takes two requests: Begin sends the browser a random challenge
// and keeps it server-side under a random token that travels in an HttpOnly
// cookie; Finish takes that token, deletes the ceremony whatever the outcome
// (a challenge is answered at most once), and verifies the authenticator's
// answer against it. Ceremonies expire after a few minutes.
//
// Sign-in is usernameless: the authenticator offers the passkeys it holds
// for this site, and the one chosen names its member through its user
// handle, a random value per member that tells nothing about them.
//
// A passkey whose signature counter goes backwards is refused: two
// authenticators are then using one key, and one of them is a copy.
//
// Which members need a passkey after their password is a per-role policy
// kept in the database (RequiredRoles, SetRequiredRoles). Their sign-in is
// pending until one of their own passkeys confirms it; a member who has no
// passkey yet may add the first one at that step, and only then.
//
// The HTTP side answers JSON and is driven by a small script served as a
// static file (no inline script, so a strict Content-Security-Policy with
// script-src 'self' and connect-src 'self' holds). Pages show passkey forms
// hidden; the script reveals them only where WebAuthn is available, so a
// page without JavaScript still works with a password.
package passkey
