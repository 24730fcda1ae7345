-- The community as the coordination team reads it in the console: a space's
-- threads newest activity first, and a thread's comments in the order they
-- were written. entities stays the source of truth (its change column holds
-- each body); the triggers below keep these two tables in step with it in
-- the statement that writes an entity, so every path (a push, the hub's own
-- authoring, an erasure, a node's removal) updates them and none can forget
-- to. They hold ids, spaces and times only, never words: an erasure leaves
-- nothing of the erased text here.
--
-- Times are unix milliseconds of the owner's updated_at, which the owners
-- write as RFC 3339 with any number of fractional digits: as text they would
-- not sort.

-- community_comments is every live comment, under its post. ord is the
-- ULID of its id, which orders comments by when they were written whichever
-- node wrote them.
CREATE TABLE community_comments (
	id         TEXT PRIMARY KEY,
	post       TEXT NOT NULL,
	ord        TEXT NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX community_comments_post ON community_comments (post, ord, id);
CREATE INDEX community_comments_activity ON community_comments (post, updated_at);

-- community_threads is one row per live post. created_at is when the hub
-- first applied it; last_activity is the latest updated_at of the post and
-- its live comments, so a deleted comment no longer counts.
CREATE TABLE community_threads (
	post          TEXT PRIMARY KEY,
	space         TEXT NOT NULL,
	owner         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	last_activity INTEGER NOT NULL,
	comment_count INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX community_threads_space ON community_threads (space, last_activity, post);
CREATE INDEX community_threads_space_owner ON community_threads (space, owner, last_activity, post);

CREATE TRIGGER community_on_insert AFTER INSERT ON entities
	WHEN NEW.kind IN ('post', 'comment') AND NEW.deleted = 0
BEGIN
	INSERT INTO community_comments (id, post, ord, updated_at)
		SELECT NEW.id, NEW.ref, substr(NEW.id, instr(NEW.id, ':') + 1),
			COALESCE(CAST(unixepoch(NEW.updated_at, 'subsec') * 1000 AS INTEGER), NEW.applied_at)
		WHERE NEW.kind = 'comment' AND NEW.ref IS NOT NULL
		ON CONFLICT (id) DO UPDATE SET post = excluded.post, updated_at = excluded.updated_at;
	INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity, comment_count)
		SELECT NEW.id, COALESCE(json_extract(CAST(NEW.change AS TEXT), '$.body.space'), ''), NEW.owner, NEW.applied_at, u,
			MAX(u, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = NEW.id), 0)),
			(SELECT COUNT(*) FROM community_comments c WHERE c.post = NEW.id)
		FROM (SELECT COALESCE(CAST(unixepoch(NEW.updated_at, 'subsec') * 1000 AS INTEGER), NEW.applied_at) AS u)
		WHERE NEW.kind = 'post'
		ON CONFLICT (post) DO NOTHING;
	UPDATE community_threads SET comment_count = (SELECT COUNT(*) FROM community_comments c WHERE c.post = community_threads.post),
		last_activity = MAX(updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = community_threads.post), 0))
		WHERE NEW.kind = 'comment' AND post = NEW.ref;
END;

-- A new version replaces the row in place (the apply path's upsert), a
-- tombstone or an erasure takes it out. A tombstone has no body and so no
-- ref: the comment's thread is the one it was under before.
CREATE TRIGGER community_on_update AFTER UPDATE ON entities
	WHEN NEW.kind IN ('post', 'comment') OR OLD.kind IN ('post', 'comment')
BEGIN
	DELETE FROM community_comments WHERE id = NEW.id AND (NEW.deleted = 1 OR NEW.kind != 'comment' OR NEW.ref IS NULL);
	DELETE FROM community_threads WHERE post = NEW.id AND (NEW.deleted = 1 OR NEW.kind != 'post');
	INSERT INTO community_comments (id, post, ord, updated_at)
		SELECT NEW.id, NEW.ref, substr(NEW.id, instr(NEW.id, ':') + 1),
			COALESCE(CAST(unixepoch(NEW.updated_at, 'subsec') * 1000 AS INTEGER), NEW.applied_at)
		WHERE NEW.kind = 'comment' AND NEW.deleted = 0 AND NEW.ref IS NOT NULL
		ON CONFLICT (id) DO UPDATE SET post = excluded.post, updated_at = excluded.updated_at;
	INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity, comment_count)
		SELECT NEW.id, COALESCE(json_extract(CAST(NEW.change AS TEXT), '$.body.space'), ''), NEW.owner, NEW.applied_at, u,
			MAX(u, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = NEW.id), 0)),
			(SELECT COUNT(*) FROM community_comments c WHERE c.post = NEW.id)
		FROM (SELECT COALESCE(CAST(unixepoch(NEW.updated_at, 'subsec') * 1000 AS INTEGER), NEW.applied_at) AS u)
		WHERE NEW.kind = 'post' AND NEW.deleted = 0
		ON CONFLICT (post) DO UPDATE SET space = excluded.space, updated_at = excluded.updated_at,
			last_activity = excluded.last_activity, comment_count = excluded.comment_count;
	UPDATE community_threads SET comment_count = (SELECT COUNT(*) FROM community_comments c WHERE c.post = community_threads.post),
		last_activity = MAX(updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = community_threads.post), 0))
		WHERE (NEW.kind = 'comment' OR OLD.kind = 'comment') AND post IN (NEW.ref, OLD.ref);
END;

-- The hub never deletes an entity's row (a deletion is a tombstone
-- version), but should a row go, its traces here go with it.
CREATE TRIGGER community_on_delete AFTER DELETE ON entities
	WHEN OLD.kind IN ('post', 'comment')
BEGIN
	DELETE FROM community_comments WHERE id = OLD.id;
	DELETE FROM community_threads WHERE post = OLD.id;
	UPDATE community_threads SET comment_count = (SELECT COUNT(*) FROM community_comments c WHERE c.post = community_threads.post),
		last_activity = MAX(updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = community_threads.post), 0))
		WHERE OLD.kind = 'comment' AND post = OLD.ref;
END;

-- What the hub held before this migration.
INSERT INTO community_comments (id, post, ord, updated_at)
	SELECT id, ref, substr(id, instr(id, ':') + 1), COALESCE(CAST(unixepoch(updated_at, 'subsec') * 1000 AS INTEGER), applied_at)
	FROM entities WHERE kind = 'comment' AND deleted = 0 AND ref IS NOT NULL;
INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity, comment_count)
	SELECT e.id, COALESCE(json_extract(CAST(e.change AS TEXT), '$.body.space'), ''), e.owner, e.applied_at, u,
		MAX(u, COALESCE((SELECT MAX(c.updated_at) FROM community_comments c WHERE c.post = e.id), 0)),
		(SELECT COUNT(*) FROM community_comments c WHERE c.post = e.id)
	FROM (SELECT *, COALESCE(CAST(unixepoch(updated_at, 'subsec') * 1000 AS INTEGER), applied_at) AS u FROM entities) e
	WHERE e.kind = 'post' AND e.deleted = 0;

-- console_authors says which member of the coordination team wrote each
-- post and comment the hub published from the console, so that they, and
-- only they, may edit it: the signed body names the author only by name.
CREATE TABLE console_authors (
	entity    TEXT PRIMARY KEY,
	member_id INTEGER NOT NULL
) STRICT;

-- community_news records each blog post the team made public news: which
-- news item, from which post, by which member, when (unix ms). The console
-- shows it beside the blog post, so the same post is not made news twice
-- by mistake.
CREATE TABLE community_news (
	news       TEXT PRIMARY KEY,
	source     TEXT NOT NULL,
	member_id  INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX community_news_source ON community_news (source, created_at);
