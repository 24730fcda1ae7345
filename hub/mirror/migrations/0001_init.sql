-- A mirror's copy of the hub's public selection (hub/mirrors.go).

-- entities holds the latest public version of each entity pulled, as its
-- owner signed it, or (change NULL) its withdrawal: it was public and is
-- not any more. hub_seq is the hub's; applied_at (unix ms) the hub's time
-- of receipt, so the portal dates pages as the hub's does.
CREATE TABLE entities (
	hub_seq    INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	change     BLOB,
	sig        BLOB,
	applied_at INTEGER NOT NULL,
	erased     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- state: 'cursor', the hub_seq the next pull asks after.
CREATE TABLE state (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO state (key, value) VALUES ('cursor', 0);

-- acks are the erasures applied here and not yet acknowledged to the hub:
-- acknowledged once the portal's index has purged them too.
-- blobs lists the erased version's attachments, removed from the cache
-- before the acknowledgement.
CREATE TABLE acks (
	hub_seq INTEGER PRIMARY KEY,
	blobs   TEXT NOT NULL DEFAULT '[]'
) STRICT;
