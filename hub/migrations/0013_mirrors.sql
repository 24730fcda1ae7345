-- Mirrors: read-only replicas of the public portal (mirrors.go).

-- ever_public is set once any version of an entity was public. A mirror is
-- sent every public version and, for an entity that was public and is not
-- any more, a withdrawal, so it never holds a later non-public version's
-- bytes and never keeps what is no longer public. Versions applied before
-- this column existed count by their latest visibility.
ALTER TABLE entities ADD COLUMN ever_public INTEGER NOT NULL DEFAULT 0;
UPDATE entities SET ever_public = 1 WHERE visibility = 'public';
CREATE INDEX entities_public ON entities (hub_seq) WHERE ever_public = 1;

-- mirrors are the registered mirrors. credential_hash is set at enrolment;
-- cursor and last_pull_at are written lazily from memory (a mirror
-- long-polls all the time).
CREATE TABLE mirrors (
	name            TEXT PRIMARY KEY,
	created_at      INTEGER NOT NULL,
	credential_hash BLOB,
	enrolled_at     INTEGER,
	cursor          INTEGER NOT NULL DEFAULT 0,
	last_pull_at    INTEGER,
	removed_at      INTEGER
) STRICT;

-- mirror_tokens are one-time enrolment tokens, stored hashed.
CREATE TABLE mirror_tokens (
	secret_hash BLOB PRIMARY KEY,
	mirror      TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER
) STRICT;
