-- import_keys remember the entity an import record with a ref (and no id)
-- created, so that running an interrupted import again matches each record
-- instead of creating it twice. key is "ref:<ref>". The row is written in
-- the same transaction as the entity.
CREATE TABLE import_keys (
	key TEXT PRIMARY KEY,
	id  TEXT NOT NULL
) STRICT;

-- imports is one row per run of an import: how far it got, and whether it
-- finished, so that the next run can say how far an interrupted one got.
CREATE TABLE imports (
	id          INTEGER PRIMARY KEY,
	started_at  TEXT NOT NULL,
	records     INTEGER NOT NULL DEFAULT 0, -- records read and committed
	created     INTEGER NOT NULL DEFAULT 0,
	finished_at TEXT
) STRICT;
