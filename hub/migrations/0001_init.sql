-- The hub's aggregate: the latest version of every entity of every owner, the
-- registry of nodes with their sync checkpoints, and the key directory.

-- nodes are the SICs (and the hub itself, id 'hub', whose own outbox goes
-- through the same apply path as pushes). Pull cursors are written here
-- periodically from memory so an idle poll costs no write transaction.
CREATE TABLE nodes (
	id               TEXT PRIMARY KEY,
	name             TEXT NOT NULL,
	created_at       INTEGER NOT NULL,           -- unix ms
	enrolled_at      INTEGER,                    -- first enrolment, unix ms
	enrolled_hub_seq INTEGER NOT NULL DEFAULT 0, -- hub head at first enrolment: the node holds nothing older it did not pull
	credential_hash  BLOB,                       -- SHA-256 of "<node>.<secret>"
	epoch            TEXT NOT NULL DEFAULT '',
	applied_seq      INTEGER NOT NULL DEFAULT 0,
	head_seq         INTEGER NOT NULL DEFAULT 0,
	pull_cursor      INTEGER NOT NULL DEFAULT 0,
	last_push_at     INTEGER,
	last_pull_at     INTEGER,
	last_success_at  INTEGER,
	refusal_count    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- enrol_tokens holds only the SHA-256 of each one-time secret.
CREATE TABLE enrol_tokens (
	secret_hash BLOB PRIMARY KEY,
	node        TEXT NOT NULL REFERENCES nodes (id),
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER
) STRICT;

-- epochs records every checkpoint reset of a node (a restore or reinstall).
CREATE TABLE epochs (
	node             TEXT NOT NULL REFERENCES nodes (id),
	epoch            TEXT NOT NULL,
	started_at       INTEGER NOT NULL,
	prev_epoch       TEXT NOT NULL,
	prev_applied_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX epochs_node ON epochs (node);

-- keys is the key directory. Keys are never deleted so old changes stay
-- verifiable.
CREATE TABLE keys (
	key_id     TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	public_key BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	retired_at INTEGER
) STRICT;

-- entities keeps only the latest version of each entity. hub_seq is the rowid:
-- a new version moves the row to the end, so the changes feed is a plain rowid
-- range scan and MAX(hub_seq) (the counter's restart point) is O(1).
-- change holds the exact signed bytes; nothing here is ever re-encoded.
-- ref is the entity a translation, comment or moderation points at.
-- There is no index on owner: an id starts with "<owner>:", so id order
-- already groups each owner's entities, in the order manifests digest them.
CREATE TABLE entities (
	hub_seq    INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	owner      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	visibility TEXT NOT NULL,
	deleted    INTEGER NOT NULL,
	erased     INTEGER NOT NULL,
	publish_at INTEGER,          -- unix ms
	updated_at TEXT NOT NULL,    -- as the owner wrote it
	applied_at INTEGER NOT NULL, -- unix ms, for pull lag
	change     BLOB NOT NULL,
	sig        BLOB NOT NULL,
	hash       BLOB NOT NULL,    -- SHA-256 of change
	key_id     TEXT NOT NULL,
	ref        TEXT
) STRICT;
CREATE INDEX entities_ref ON entities (ref) WHERE ref IS NOT NULL;

-- rejections keeps the latest refusals per node (pruned to 100); the total is
-- nodes.refusal_count.
CREATE TABLE rejections (
	rowid_  INTEGER PRIMARY KEY,
	node    TEXT NOT NULL,
	at      INTEGER NOT NULL,
	line    INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	entity  TEXT NOT NULL,
	version INTEGER NOT NULL,
	code    TEXT NOT NULL,
	reason  TEXT NOT NULL
) STRICT;
CREATE INDEX rejections_node ON rejections (node, rowid_);

-- erasures tracks GDPR erasures until every node that may hold a copy has
-- pulled past them.
CREATE TABLE erasures (
	hub_seq INTEGER PRIMARY KEY,
	id      TEXT NOT NULL,
	owner   TEXT NOT NULL,
	at      INTEGER NOT NULL,
	done_at INTEGER
) STRICT;
