-- Past bodies of resources, so that a translation's editor can see what
-- changed in its source since the version it was made from. entities keeps
-- only the current body; the triggers below copy every resource version the
-- node stores into resource_versions in the same statement, so every path
-- that writes one (authoring, a scheduled version replaced in place, a pull,
-- a reconciliation, an import) records it, and none can forget to.
--
-- Pruning: a diff only ever needs two bodies, the version a translation was
-- made from and the current one, so the versions between them are not kept.
-- A new version of a resource drops its versions older than the last
-- resource_versions_kept (3: the current and the two before, so a form shown
-- just before a change can still show what changed meanwhile) unless a live
-- translation on this node names them as its source_version. The table thus
-- holds at most 3 bodies per resource plus one per translation. A
-- translation pulled after its source version was dropped here cannot show
-- its diff; the workspace says so and shows the current source instead.
--
-- blobs is the version's attachments (JSON BlobRefs, as entities.blobs); at
-- is its updated_at.
CREATE TABLE resource_versions (
	id      TEXT NOT NULL,
	version INTEGER NOT NULL,
	body    TEXT NOT NULL,
	blobs   TEXT,
	at      TEXT NOT NULL,
	PRIMARY KEY (id, version)
);

-- A translation's resource, for the pruning below and for the worklist's
-- "is there a translation of it into L yet".
CREATE INDEX entities_translation_resource ON entities (json_extract(body, '$.resource'))
	WHERE kind = 'translation' AND deleted = 0;

-- The worklist lists the public, live resources newest change first; only
-- those rows are in this index.
CREATE INDEX entities_public_resources ON entities (updated_at, id)
	WHERE kind = 'resource' AND visibility = 'public' AND deleted = 0;

INSERT INTO resource_versions (id, version, body, blobs, at)
	SELECT id, version, body, blobs, updated_at FROM entities
	WHERE kind = 'resource' AND body IS NOT NULL AND deleted = 0;

-- A tombstone keeps its last body locally but is not a version anyone
-- translates, so it is not recorded.
CREATE TRIGGER resource_version_on_insert AFTER INSERT ON entities
	WHEN NEW.kind = 'resource' AND NEW.body IS NOT NULL AND NEW.deleted = 0
BEGIN
	INSERT INTO resource_versions (id, version, body, blobs, at) VALUES (NEW.id, NEW.version, NEW.body, NEW.blobs, NEW.updated_at)
		ON CONFLICT (id, version) DO UPDATE SET body = excluded.body, blobs = excluded.blobs, at = excluded.at;
END;

CREATE TRIGGER resource_version_on_update AFTER UPDATE OF version, body, blobs ON entities
	WHEN NEW.kind = 'resource' AND NEW.body IS NOT NULL AND NEW.deleted = 0
BEGIN
	INSERT INTO resource_versions (id, version, body, blobs, at) VALUES (NEW.id, NEW.version, NEW.body, NEW.blobs, NEW.updated_at)
		ON CONFLICT (id, version) DO UPDATE SET body = excluded.body, blobs = excluded.blobs, at = excluded.at;
	DELETE FROM resource_versions WHERE id = NEW.id AND version <= NEW.version - 3
		AND version NOT IN (SELECT json_extract(t.body, '$.source_version') FROM entities t
			WHERE t.kind = 'translation' AND t.deleted = 0 AND json_extract(t.body, '$.resource') = NEW.id);
END;

-- A deleted or erased resource is on no worklist and no translation of it
-- is outdated any more, so its past bodies go with it, in the transaction
-- that applies the tombstone. For an erasure the purge then checkpoints the
-- WAL (docs/protocol.md §17), so no past body of it is left in any file.
CREATE TRIGGER resource_versions_on_delete AFTER UPDATE OF deleted, erased ON entities
	WHEN NEW.kind = 'resource' AND NEW.deleted = 1
BEGIN
	DELETE FROM resource_versions WHERE id = NEW.id;
END;
