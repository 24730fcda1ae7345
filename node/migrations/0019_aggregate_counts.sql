-- entity_counts keeps how many entities of each kind each owner has here,
-- tombstones included, for Status: counting them from entities read every
-- entity (its kind index at best), so a one-shot `bikfed node status` or
-- `bikfed node sync` cost time and pages in proportion to the aggregate.
-- Triggers keep it exact on every write; the owner is the id's prefix, as
-- entity ids are made (protocol.NewEntityID). A row may fall to zero (an
-- entity's kind changed); Status leaves those out.
CREATE TABLE entity_counts (
	owner TEXT NOT NULL,
	kind  TEXT NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (owner, kind)
) WITHOUT ROWID;

INSERT INTO entity_counts (owner, kind, n)
	SELECT substr(id, 1, instr(id, ':') - 1), kind, count(*) FROM entities GROUP BY 1, 2;

CREATE TRIGGER entity_counts_on_insert AFTER INSERT ON entities
BEGIN
	INSERT INTO entity_counts (owner, kind, n) VALUES (substr(NEW.id, 1, instr(NEW.id, ':') - 1), NEW.kind, 1)
		ON CONFLICT (owner, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER entity_counts_on_delete AFTER DELETE ON entities
BEGIN
	UPDATE entity_counts SET n = n - 1 WHERE owner = substr(OLD.id, 1, instr(OLD.id, ':') - 1) AND kind = OLD.kind;
END;

-- An upsert sets kind on every update; the count only moves when it changes.
CREATE TRIGGER entity_counts_on_update AFTER UPDATE OF id, kind ON entities
	WHEN OLD.id IS NOT NEW.id OR OLD.kind IS NOT NEW.kind
BEGIN
	UPDATE entity_counts SET n = n - 1 WHERE owner = substr(OLD.id, 1, instr(OLD.id, ':') - 1) AND kind = OLD.kind;
	INSERT INTO entity_counts (owner, kind, n) VALUES (substr(NEW.id, 1, instr(NEW.id, ':') - 1), NEW.kind, 1)
		ON CONFLICT (owner, kind) DO UPDATE SET n = n + 1;
END;

-- community_term_counts keeps the community search's common words with the
-- rows that hold each (RefreshSearchStats, every hour), and
-- community_term_stats when they were counted and over how many rows, so
-- that a node starting up takes them from here instead of reading the whole
-- index's vocabulary again. Like the in-memory copy, it holds only words in
-- at least 256 rows: the community's most frequent, not anyone's text.
CREATE TABLE community_term_counts (
	term TEXT PRIMARY KEY,
	doc  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE community_term_stats (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	rows INTEGER NOT NULL,
	at   TEXT NOT NULL
);
