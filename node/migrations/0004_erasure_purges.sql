-- Erasures (docs/protocol.md §17). Applying an erasure, whichever path
-- applies it (a pull, the node's own delete --erase, a re-pull after a new
-- epoch), notes it here in the same transaction, with the attachments the
-- entity referenced until then: the triggers below see the row before it is
-- overwritten. The node then deletes those blobs (unless a live entity or a
-- pending change still references them), checkpoints the WAL so the erased
-- text leaves every file, marks the row purged, and acknowledges it to the
-- hub. A crash anywhere in between leaves the row to be finished later.
CREATE TABLE erasure_purges (
	entity_id TEXT PRIMARY KEY,
	-- hub_seq is the pulled erasure's, acknowledged to the hub; NULL for the
	-- node's own erasure, which the hub does not wait for.
	hub_seq   INTEGER,
	-- blobs is entities.blobs as it was before the erasure (JSON BlobRefs).
	blobs     TEXT,
	purged    INTEGER NOT NULL DEFAULT 0
);

-- A pulled change has outbox_seq 0; the node's own erasure carries its seq.
CREATE TRIGGER erasure_purge_on_update AFTER UPDATE OF erased ON entities
	WHEN NEW.erased = 1 AND OLD.erased = 0
BEGIN
	INSERT INTO erasure_purges (entity_id, hub_seq, blobs)
		VALUES (NEW.id, CASE WHEN NEW.outbox_seq = 0 THEN NEW.hub_seq END, OLD.blobs)
		ON CONFLICT (entity_id) DO UPDATE SET hub_seq = excluded.hub_seq,
			blobs = COALESCE(excluded.blobs, erasure_purges.blobs), purged = 0;
END;

-- An erasure of an entity this node never held still needs acknowledging.
CREATE TRIGGER erasure_purge_on_insert AFTER INSERT ON entities
	WHEN NEW.erased = 1
BEGIN
	INSERT INTO erasure_purges (entity_id, hub_seq)
		VALUES (NEW.id, CASE WHEN NEW.outbox_seq = 0 THEN NEW.hub_seq END)
		ON CONFLICT (entity_id) DO UPDATE SET hub_seq = excluded.hub_seq, purged = 0;
END;
