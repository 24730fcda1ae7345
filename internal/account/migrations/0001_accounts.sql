-- The accounts of the people who sign in to this database's server: members,
-- their one-time tokens, their sessions and the audit log. Every secret is
-- stored only as its SHA-256, so a copy of the database lets no one sign in.

-- members are the people. roles is a space-separated list validated by the
-- caller's role set. pseudonym is the network-wide name of a youth member.
CREATE TABLE members (
	id            INTEGER PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,   -- normalised: trimmed, lowercase
	name          TEXT NOT NULL,
	roles         TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
	pseudonym     TEXT UNIQUE,
	password_hash TEXT,                   -- PHC string, NULL until one is set
	created_at    INTEGER NOT NULL,       -- unix ms
	updated_at    INTEGER NOT NULL
) STRICT;

-- tokens are the one-time links: invitations and password resets.
CREATE TABLE tokens (
	hash       BLOB PRIMARY KEY,          -- SHA-256 of the token
	kind       TEXT NOT NULL CHECK (kind IN ('invite', 'reset')),
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT;
CREATE INDEX tokens_member ON tokens (member_id);

CREATE TABLE sessions (
	hash         BLOB PRIMARY KEY,        -- SHA-256 of the cookie's token
	member_id    INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	user_agent   TEXT NOT NULL,
	address      TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_member ON sessions (member_id);

-- audit keeps no reference to members, so that a removed member's history
-- stays readable (by id) until it is pruned.
CREATE TABLE audit (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        INTEGER NOT NULL,
	event     TEXT NOT NULL,
	member_id INTEGER,
	actor     TEXT NOT NULL,
	address   TEXT NOT NULL,
	detail    TEXT NOT NULL
) STRICT;
CREATE INDEX audit_at ON audit (at);
