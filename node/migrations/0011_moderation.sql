-- Moderation decisions the hub publishes, applied to the community read
-- side (migration 0008). As there, entities stays the source of truth and
-- triggers keep these tables in step with it, whatever path writes a
-- moderation entity (a pull, a reconciliation, a restore).
--
-- moderation_decisions is every live moderation entity: one row each, so
-- that deleting the latest decision about a target brings back the one
-- before it instead of forgetting them all.
CREATE TABLE moderation_decisions (
	moderation TEXT PRIMARY KEY,
	target     TEXT NOT NULL,
	decision   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	at         TEXT NOT NULL,
	version    INTEGER NOT NULL
);

CREATE INDEX moderation_decisions_target ON moderation_decisions (target, at, version);

-- moderation_current is the decision in force per target: the latest (by
-- the moderation entity's updated_at, then version) that is not a dismiss,
-- which leaves its target as it was. A target may be stored before or after
-- its decisions: the row does not depend on it.
CREATE TABLE moderation_current (
	target     TEXT PRIMARY KEY,
	decision   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	moderation TEXT NOT NULL,
	at         TEXT NOT NULL
) WITHOUT ROWID;

-- hidden is 1 while the item's own decision in force is a hide. A thread's
-- hidden is its post's; a comment in a hidden thread is hidden with it.
ALTER TABLE community_items ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE community_threads ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

-- The hidden are few; the reads exclude them through these.
CREATE INDEX community_items_hidden ON community_items (post) WHERE hidden = 1;
CREATE INDEX community_threads_hidden ON community_threads (post) WHERE hidden = 1;

CREATE TRIGGER moderation_on_insert AFTER INSERT ON entities
	WHEN NEW.kind = 'moderation' AND NEW.deleted = 0 AND NEW.body IS NOT NULL
BEGIN
	INSERT INTO moderation_decisions (moderation, target, decision, reason, at, version)
		VALUES (NEW.id, COALESCE(json_extract(NEW.body, '$.target'), ''), COALESCE(json_extract(NEW.body, '$.decision'), ''),
			COALESCE(json_extract(NEW.body, '$.reason'), ''), NEW.updated_at, NEW.version);
END;

-- A new version replaces the decision; a deleted or erased one lifts it.
CREATE TRIGGER moderation_on_update AFTER UPDATE OF kind, version, deleted, erased, body, updated_at ON entities
	WHEN OLD.kind = 'moderation' OR NEW.kind = 'moderation'
BEGIN
	DELETE FROM moderation_decisions WHERE moderation = OLD.id;
	INSERT INTO moderation_decisions (moderation, target, decision, reason, at, version)
		SELECT NEW.id, COALESCE(json_extract(NEW.body, '$.target'), ''), COALESCE(json_extract(NEW.body, '$.decision'), ''),
			COALESCE(json_extract(NEW.body, '$.reason'), ''), NEW.updated_at, NEW.version
		WHERE NEW.kind = 'moderation' AND NEW.deleted = 0 AND NEW.body IS NOT NULL;
END;

CREATE TRIGGER moderation_on_delete AFTER DELETE ON entities
	WHEN OLD.kind = 'moderation'
BEGIN
	DELETE FROM moderation_decisions WHERE moderation = OLD.id;
END;

-- Any change to a target's decisions recomputes the one in force and the
-- target's hidden flags.
CREATE TRIGGER moderation_decision_insert AFTER INSERT ON moderation_decisions
BEGIN
	DELETE FROM moderation_current WHERE target = NEW.target;
	INSERT INTO moderation_current (target, decision, reason, moderation, at)
		SELECT target, decision, reason, moderation, at FROM moderation_decisions
		WHERE target = NEW.target AND decision <> 'dismiss'
		ORDER BY at DESC, version DESC, moderation DESC LIMIT 1;
	UPDATE community_items SET hidden = EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = NEW.target AND m.decision = 'hide')
		WHERE id = NEW.target;
	UPDATE community_threads SET hidden = EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = NEW.target AND m.decision = 'hide')
		WHERE post = NEW.target;
END;

CREATE TRIGGER moderation_decision_delete AFTER DELETE ON moderation_decisions
BEGIN
	DELETE FROM moderation_current WHERE target = OLD.target;
	INSERT INTO moderation_current (target, decision, reason, moderation, at)
		SELECT target, decision, reason, moderation, at FROM moderation_decisions
		WHERE target = OLD.target AND decision <> 'dismiss'
		ORDER BY at DESC, version DESC, moderation DESC LIMIT 1;
	UPDATE community_items SET hidden = EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = OLD.target AND m.decision = 'hide')
		WHERE id = OLD.target;
	UPDATE community_threads SET hidden = EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = OLD.target AND m.decision = 'hide')
		WHERE post = OLD.target;
END;

-- A post or a comment that arrives after its decision (the pull's order is
-- the hub's, not the moderators') is hidden as it is stored. An update of
-- an item or a thread keeps its row, and with it its flag.
CREATE TRIGGER moderation_item_insert AFTER INSERT ON community_items
BEGIN
	UPDATE community_items SET hidden = 1
		WHERE n = NEW.n AND EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = NEW.id AND m.decision = 'hide');
END;

CREATE TRIGGER moderation_thread_insert AFTER INSERT ON community_threads
BEGIN
	UPDATE community_threads SET hidden = 1
		WHERE post = NEW.post AND EXISTS (SELECT 1 FROM moderation_current m WHERE m.target = NEW.post AND m.decision = 'hide');
END;

-- Moderation entities a node already holds.
INSERT INTO moderation_decisions (moderation, target, decision, reason, at, version)
	SELECT id, COALESCE(json_extract(body, '$.target'), ''), COALESCE(json_extract(body, '$.decision'), ''),
		COALESCE(json_extract(body, '$.reason'), ''), updated_at, version
	FROM entities WHERE kind = 'moderation' AND deleted = 0 AND body IS NOT NULL;
