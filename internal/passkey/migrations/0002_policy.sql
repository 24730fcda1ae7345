-- passkey_policy holds the roles whose members must confirm a password
-- sign-in with a passkey. A role not listed needs only the password.
CREATE TABLE passkey_policy (
	role TEXT PRIMARY KEY
) STRICT;

-- A pending sign-in remembers how its member was identified before the
-- passkey ('password', 'oidc'), for the audit log of the sign-in that the
-- passkey finishes.
ALTER TABLE passkey_pending ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
