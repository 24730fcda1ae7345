-- Passkeys (WebAuthn credentials) of the members in the account tables, and
-- the short-lived state of a ceremony between its two requests. Apply after
-- the account set: the rows belong to members and go with them.

-- passkey_users gives each member a random WebAuthn user handle, which the
-- authenticator stores with the credential and returns at a usernameless
-- sign-in. It is random rather than the member's id so that it says nothing
-- about the member to anyone who reads it off the authenticator.
CREATE TABLE passkey_users (
	member_id INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
	handle    BLOB NOT NULL UNIQUE
) STRICT;

-- passkeys are the credential records. flags holds the authenticator data
-- flags seen at registration and updated at each sign-in (UP, UV, BE, BS).
CREATE TABLE passkeys (
	id                 BLOB PRIMARY KEY,          -- the credential id
	member_id          INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	name               TEXT NOT NULL,             -- given by the member
	public_key         BLOB NOT NULL,             -- COSE key
	attestation_type   TEXT NOT NULL,
	attestation_format TEXT NOT NULL,
	aaguid             BLOB NOT NULL,
	sign_count         INTEGER NOT NULL,
	transports         TEXT NOT NULL,             -- space-separated
	attachment         TEXT NOT NULL,
	flags              INTEGER NOT NULL,
	created_at         INTEGER NOT NULL,          -- unix ms
	last_used_at       INTEGER
) STRICT;
CREATE INDEX passkeys_member ON passkeys (member_id);

-- passkey_ceremonies hold a begun ceremony's challenge until it is
-- finished, once, or expires. The browser holds the token in a cookie;
-- only its SHA-256 is kept here.
CREATE TABLE passkey_ceremonies (
	hash       BLOB PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('register', 'login', 'second')),
	member_id  INTEGER REFERENCES members (id) ON DELETE CASCADE,
	data       BLOB NOT NULL,                     -- webauthn.SessionData as JSON
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at);

-- passkey_pending marks a sign-in whose password was accepted and whose
-- passkey is still needed. Like a ceremony, its token lives in a cookie and
-- only its SHA-256 here.
CREATE TABLE passkey_pending (
	hash       BLOB PRIMARY KEY,
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_pending_expires ON passkey_pending (expires_at);
