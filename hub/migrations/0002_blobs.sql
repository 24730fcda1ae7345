-- Attachments. The bytes live in the blob store (a directory or an S3
-- bucket); these tables say which blobs the hub holds, who is charged for
-- them, which entities reference them, and which uploads are in progress.
-- HEAD, quotas, public serving and garbage collection are SQL over them, so
-- none of them has to ask the object store.

-- blobs holds one row per stored, verified blob; the row is written only
-- after the store has the bytes. owner is the node that uploaded it first,
-- charged for it against its quota. last_referenced_at (unix ms) is when a
-- change last started or stopped referencing it: a blob without references
-- is collected once that is older than the grace period; 0 marks the
-- attachments of an erased entity, collected at the next run.
CREATE TABLE blobs (
	sha256             TEXT PRIMARY KEY,
	size               INTEGER NOT NULL,
	media_type         TEXT NOT NULL,
	owner              TEXT NOT NULL,
	created_at         INTEGER NOT NULL,
	last_referenced_at INTEGER
) STRICT;
CREATE INDEX blobs_owner ON blobs (owner);

-- blob_refs lists the attachments of every live (not deleted) entity, with
-- the name and media type the change gives them: what /files serves and
-- what keeps a blob from being collected. The apply transaction keeps it in
-- step with entities (syncBlobRefs in blobs.go).
CREATE TABLE blob_refs (
	sha256     TEXT NOT NULL,
	entity_id  TEXT NOT NULL,
	name       TEXT NOT NULL,
	media_type TEXT NOT NULL,
	PRIMARY KEY (sha256, entity_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX blob_refs_entity ON blob_refs (entity_id);

-- blob_uploads are uploads in progress (their bytes are in the staging
-- directory). They count against the uploader's quota, so partial uploads
-- cannot fill the disk either.
CREATE TABLE blob_uploads (
	sha256     TEXT NOT NULL,
	node       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	started_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (sha256, node)
) STRICT;

-- blob_quotas overrides the configured per-node quota (bytes).
CREATE TABLE blob_quotas (
	node  TEXT PRIMARY KEY,
	quota INTEGER NOT NULL
) STRICT;

-- Entities applied before this migration ('"blobs"' as bytes: only changes
-- that mention attachments are parsed).
INSERT OR IGNORE INTO blob_refs (sha256, entity_id, name, media_type)
	SELECT json_extract(j.value, '$.sha256'), e.id, json_extract(j.value, '$.name'), json_extract(j.value, '$.media_type')
	FROM entities e, json_each(CAST(e.change AS TEXT), '$.blobs') j
	WHERE e.deleted = 0 AND instr(e.change, X'22626c6f627322') > 0;
