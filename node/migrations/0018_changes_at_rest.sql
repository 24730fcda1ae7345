-- entities keeps each signed change once, compressed (internal/atrest: zstd
-- with a dictionary trained on changes), in change_z. change becomes a
-- virtual column that decompresses it, and body one that takes the body out
-- of the change, unless body_own holds a body the change does not carry
-- (see node/atrest.go). Every query, trigger and index written against change
-- and body reads them as before. The rewrite is Go code run in this
-- migration's transaction (migrateChangesAtRest), after this file. Nothing is
-- re-signed: decompressing gives back the very bytes that were signed.
--
-- resource_versions no longer copies the current version of a resource,
-- which entities holds: it keeps past versions only. A new version of a
-- resource moves the one it replaces there; ResourceVersion reads the
-- current version from entities. The rest is as migration 0007 says:
-- versions older than the last three go unless a live translation here is
-- made from them, and a deleted or erased resource takes its past versions
-- with it.

DELETE FROM resource_versions WHERE EXISTS (SELECT 1 FROM entities e
	WHERE e.id = resource_versions.id AND e.version = resource_versions.version
		AND e.kind = 'resource' AND e.deleted = 0 AND e.body IS NOT NULL);

DROP TRIGGER resource_version_on_insert;
DROP TRIGGER resource_version_on_update;

CREATE TRIGGER resource_version_on_update AFTER UPDATE OF version, body, blobs ON entities
	WHEN OLD.kind = 'resource' AND NEW.kind = 'resource' AND NEW.deleted = 0
BEGIN
	INSERT INTO resource_versions (id, version, body, blobs, at)
		SELECT OLD.id, OLD.version, OLD.body, OLD.blobs, OLD.updated_at
		WHERE OLD.version != NEW.version AND OLD.body IS NOT NULL AND OLD.deleted = 0
		ON CONFLICT (id, version) DO UPDATE SET body = excluded.body, blobs = excluded.blobs, at = excluded.at;
	-- The current version is the entity itself: a copy of it, or of a later
	-- version, is stale.
	DELETE FROM resource_versions WHERE id = NEW.id AND version >= NEW.version;
	DELETE FROM resource_versions WHERE id = NEW.id AND version <= NEW.version - 3
		AND version NOT IN (SELECT json_extract(t.body, '$.source_version') FROM entities t
			WHERE t.kind = 'translation' AND t.deleted = 0 AND json_extract(t.body, '$.resource') = NEW.id);
END;
