// Package oidctest runs a real OpenID Connect provider for tests, so that
// single sign-on is tested against a provider that was written by someone
// else, with its own idea of the protocol, rather than against one written
// inside the test that agrees with whatever the code assumes.
//
// The provider is the example server of github.com/zitadel/oidc, built once
// per machine by scripts/oidc.sh (make oidc) at a pinned release, with the
// example's main rewritten (scripts/oidc) only to listen on 127.0.0.1
// rather than on every interface. It keeps
// everything in memory, serves a plain HTML login form, and knows the
// clients and users listed in this package. A missing binary fails the test
// instead of skipping it: a skipped sign-in test looks green in CI while
// testing nothing.
//
// What the provider does, as the tests rely on it:
//
//   - It listens on 127.0.0.1:PORT only, never on another interface.
//   - Its issuer is http://localhost:PORT/ (trailing slash included,
//     whatever address it is reached on), which is what discovery returns
//     and what the iss claim of every token says.
//   - Clients "web" and "api" are confidential (client_secret_basic or
//     client_secret_post) with the secret "secret"; both accept exactly the
//     redirect URIs given to Start, http included. A token issued to "api"
//     is one with the wrong audience for a relying party configured as
//     "web". Client "native" is public, requires PKCE, and accepts the
//     redirect URIs given to Start on any loopback port.
//   - ID tokens live one hour and are signed RS256 with a key generated at
//     start, so a restarted provider's tokens do not verify against the old
//     key set. The lifetime cannot be changed: an expired token is obtained
//     by verifying with a clock an hour or more ahead.
//   - In the authorization code flow the ID token carries the subject and no
//     userinfo claims: email, email_verified and name come from the userinfo
//     endpoint, called with the access token (which lives five minutes).
package oidctest
