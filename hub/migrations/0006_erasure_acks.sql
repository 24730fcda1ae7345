-- Erasures are acknowledged explicitly: a holder tells the hub once it has
-- applied the erasure and durably purged the body and attachments, and an
-- erasure is complete when every holder has.

-- by_hub marks an erasure the coordination team issued for an entity of
-- another owner (a hub-signed erasure), with the reason it gave.
ALTER TABLE erasures ADD COLUMN by_hub INTEGER NOT NULL DEFAULT 0;
ALTER TABLE erasures ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- erasure_holders lists, per erasure, the nodes that may hold a copy of what
-- it purged: every node enrolled when the hub applied it, but the hub and the
-- entity's owner (which purges before it pushes its own erasure, or, for the
-- coordination team's, no longer runs its node). A node enrolled later can
-- only ever pull the tombstone. acked_at (unix ms) is set by the holder's
-- acknowledgement.
CREATE TABLE erasure_holders (
	hub_seq  INTEGER NOT NULL,
	node     TEXT NOT NULL,
	acked_at INTEGER,
	PRIMARY KEY (hub_seq, node)
) STRICT, WITHOUT ROWID;

-- Erasures still open when this migration ran were tracked by pull cursors:
-- a node whose cursor had passed one applied it then, and counts as having
-- acknowledged it.
INSERT INTO erasure_holders (hub_seq, node, acked_at)
	SELECT e.hub_seq, n.id, CASE WHEN n.pull_cursor >= e.hub_seq THEN CAST(strftime('%s', 'now') AS INTEGER) * 1000 END
	FROM erasures e JOIN nodes n
		ON n.enrolled_at IS NOT NULL AND n.id != 'hub' AND n.id != e.owner AND n.enrolled_hub_seq < e.hub_seq
	WHERE e.done_at IS NULL;
