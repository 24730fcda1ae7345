-- passkey_policy holds the roles whose members must confirm a password
-- sign-in with a passkey. A role not listed needs only the password.
CREATE TABLE passkey_policy (
	role TEXT PRIMARY KEY
) STRICT;
