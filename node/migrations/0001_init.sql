-- The node's schema. Times are UTC text in a fixed-width RFC 3339 form
-- (see timeFormat in store.go) so they compare correctly as strings.

-- identity is the enrolment Init stores: one row.
CREATE TABLE identity (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	node        TEXT NOT NULL,
	name        TEXT NOT NULL DEFAULT '',
	hub_url     TEXT NOT NULL,
	credential  TEXT NOT NULL,
	key_id      TEXT NOT NULL,
	enrolled_at TEXT NOT NULL
);

-- sync_state is one row: the epoch and both sync positions. head_seq is the
-- outbox's highest seq ever issued in this epoch; it is kept here rather than
-- read as MAX(seq) because acknowledged outbox rows are deleted.
CREATE TABLE sync_state (
	id               INTEGER PRIMARY KEY CHECK (id = 1),
	epoch            TEXT NOT NULL,
	epoch_started_at TEXT NOT NULL,
	head_seq         INTEGER NOT NULL DEFAULT 0,
	push_checkpoint  INTEGER NOT NULL DEFAULT 0,
	pull_cursor      INTEGER NOT NULL DEFAULT 0,
	hub_seq          INTEGER NOT NULL DEFAULT 0,
	-- last_*_at is the last successful exchange, last_*_attempt_at the last
	-- try, last_*_error the error of the last try (NULL when it succeeded).
	last_push_at         TEXT,
	last_push_attempt_at TEXT,
	last_push_error      TEXT,
	last_pull_at         TEXT,
	last_pull_attempt_at TEXT,
	last_pull_error      TEXT
);

-- entities holds the latest local state of every entity, own and remote.
-- version is the current version; signed_version, hash, sig and change are
-- those of the latest signed change, which lag behind version only while an
-- own entity is scheduled (its next version is not signed until publish_at).
-- outbox_seq is the seq of the own change that carried signed_version; the
-- entity is pending while it is above the push checkpoint.
-- Small columns come first so scans that do not need the bytes stay cheap.
CREATE TABLE entities (
	id             TEXT PRIMARY KEY,
	owner          TEXT NOT NULL,
	kind           TEXT NOT NULL,
	version        INTEGER NOT NULL,
	visibility     TEXT NOT NULL,
	deleted        INTEGER NOT NULL DEFAULT 0,
	erased         INTEGER NOT NULL DEFAULT 0,
	publish_at     TEXT,
	updated_at     TEXT NOT NULL,
	scheduled      INTEGER NOT NULL DEFAULT 0,
	outbox_seq     INTEGER NOT NULL DEFAULT 0,
	hub_seq        INTEGER,
	signed_version INTEGER NOT NULL DEFAULT 0,
	key_id         TEXT,
	hash           BLOB,
	sig            BLOB,
	change         BLOB,
	body           TEXT,
	blobs          TEXT
);

-- Listing by kind. Owner filters use id ranges ("be:" ... "be;"), since an
-- entity id starts with its owner, so no owner index is needed.
CREATE INDEX entities_kind ON entities (kind, id);

-- Only scheduled entities are in this index, so it stays tiny.
CREATE INDEX entities_scheduled ON entities (publish_at, id) WHERE scheduled = 1;

-- outbox is the own changes the hub has not acknowledged yet, numbered
-- gap-free within the epoch.
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY,
	entity_id  TEXT NOT NULL,
	version    INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	sig        BLOB NOT NULL,
	change     BLOB NOT NULL
);

-- refusals are records the hub refused on push, changes that failed
-- verification on pull, and scheduled entities that could not be published.
CREATE TABLE refusals (
	rid       INTEGER PRIMARY KEY,
	at        TEXT NOT NULL,
	source    TEXT NOT NULL,
	line      INTEGER NOT NULL DEFAULT 0,
	seq       INTEGER NOT NULL DEFAULT 0,
	entity_id TEXT NOT NULL DEFAULT '',
	version   INTEGER NOT NULL DEFAULT 0,
	hub_seq   INTEGER NOT NULL DEFAULT 0,
	code      TEXT NOT NULL,
	reason    TEXT NOT NULL
);

CREATE INDEX refusals_at ON refusals (at);
