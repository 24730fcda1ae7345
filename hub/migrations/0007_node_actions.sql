-- The coordination team's actions on a node. A suspended node keeps its
-- credential and content but every sync request of it is refused; a removed
-- node has no credential and can never enrol again. A retired key verifies
-- only the changes sequenced up to retired_hub_seq, the hub's head when it was
-- retired (docs/protocol.md §7).
ALTER TABLE nodes ADD COLUMN suspended_at INTEGER;
ALTER TABLE nodes ADD COLUMN removed_at INTEGER;
ALTER TABLE keys ADD COLUMN retired_hub_seq INTEGER NOT NULL DEFAULT 0;
