-- Attachments. The bytes live in the local blob store (<data>/blobs, one
-- file per blob, named by its SHA-256); these tables track what is still to
-- be fetched and what no longer has a use.

-- blob_fetches are attachments of pulled entities this node does not hold
-- yet. A failed fetch is retried with backoff; it never holds back the pull
-- cursor, which only covers the entity rows.
CREATE TABLE blob_fetches (
	sha256     TEXT PRIMARY KEY,
	size       INTEGER NOT NULL,
	media_type TEXT NOT NULL,
	entity_id  TEXT NOT NULL, -- one entity that references it, for messages
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    TEXT NOT NULL,
	last_error TEXT
);
CREATE INDEX blob_fetches_next ON blob_fetches (next_at);

-- blob_state is one row: the hub_seq up to which pulled entities have been
-- looked at for attachments.
CREATE TABLE blob_state (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	scan_cursor INTEGER NOT NULL DEFAULT 0
);
INSERT INTO blob_state (id, scan_cursor) VALUES (1, 0);

-- blob_unreferenced notes since when a local blob has had no live entity
-- and no pending change referencing it; it is removed once that is older
-- than the grace period.
CREATE TABLE blob_unreferenced (
	sha256 TEXT PRIMARY KEY,
	since  TEXT NOT NULL
);

-- Only entities with attachments are in this index, so finding the newly
-- pulled ones is a short range scan.
CREATE INDEX entities_blobs ON entities (hub_seq) WHERE blobs IS NOT NULL;
