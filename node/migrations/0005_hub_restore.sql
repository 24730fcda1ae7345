-- hub_incarnation is the hub incarnation the pull cursor was obtained from:
-- a hub restored from an older copy does not know the incarnations that came
-- after the copy, which is how the node tells it went back in time.
-- reconcile is set when the hub may lack own changes it once acknowledged (a
-- new epoch, a hub restored from a copy): the next push first compares own
-- content with the hub's manifest and re-sends what the hub lacks.
-- hub_rewound_at is when this node last found the hub behind what it had.
ALTER TABLE sync_state ADD COLUMN hub_incarnation TEXT NOT NULL DEFAULT '';
-- hub_prev_incarnation is the incarnation before hub_incarnation, and
-- hub_prev_end the hub_seq its history ended at, as the hub said when the node
-- moved on: a copy taken while the hub was stopped knows the previous
-- incarnation but not the one the node pulled from last.
ALTER TABLE sync_state ADD COLUMN hub_prev_incarnation TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_state ADD COLUMN hub_prev_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN reconcile INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN hub_rewound_at TEXT;
-- hub_clock_offset_ms is the hub's clock minus the node's as last measured
-- (NULL before any answer), for status shown by another process.
ALTER TABLE sync_state ADD COLUMN hub_clock_offset_ms INTEGER;

-- rebase holds own changes the hub refused as stale_version or
-- version_conflict while they were still the entity's latest local state:
-- edits made on a database restored from a backup. The next reconciliation
-- signs their content again on top of the hub's version, so the edit is not
-- lost and the entity never shows as synced while it differs from the hub.
CREATE TABLE rebase (
	entity_id TEXT PRIMARY KEY,
	seq       INTEGER NOT NULL
);
