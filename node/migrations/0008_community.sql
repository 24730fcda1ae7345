-- The community's read side: thread lists, thread pages, unread markers and
-- search over posts and comments. entities stays the source of truth; the
-- triggers below keep these tables in step with it in the same statement,
-- so every path that writes a post or a comment (authoring, a pull, a
-- reconciliation, an erasure) updates them and none can forget to.
--
-- Only live posts and comments are here: a tombstone or an erasure takes
-- its row, its search entry and (for a post) its thread out in the
-- transaction that applies it. The search table purges deleted entries at
-- once (secure-delete), and an erasure's WAL checkpoint (migration 0004)
-- then leaves the erased text in no file.

-- community_items is every live post and comment. n is a stable integer key
-- for the search table's rowid (entities' own rowid is not stable across a
-- VACUUM). post is the thread: a post's own id, or a comment's post.
CREATE TABLE community_items (
	n          INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	post       TEXT NOT NULL,
	owner      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

-- A thread page reads its comments in order; the counts and last activity
-- below read the same range.
CREATE INDEX community_items_comments ON community_items (post, created_at, id) WHERE kind = 'comment';

-- community_threads is one row per live post. created_at is when this node
-- first stored the post; last_activity_at is the latest updated_at of the
-- post and its live comments, so a deleted comment no longer counts.
CREATE TABLE community_threads (
	post             TEXT PRIMARY KEY,
	space            TEXT NOT NULL,
	owner            TEXT NOT NULL,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	last_activity_at TEXT NOT NULL,
	comment_count    INTEGER NOT NULL DEFAULT 0
);

-- A space's threads, newest activity first, paged by (last_activity_at, post).
CREATE INDEX community_threads_space ON community_threads (space, last_activity_at, post);

-- community_reads is how far each member has read each thread: the thread's
-- last_activity_at as the member last saw it (not the wall clock, which
-- differs between the nodes that wrote the thread). member_id is an
-- account member's id.
CREATE TABLE community_reads (
	member_id INTEGER NOT NULL,
	post      TEXT NOT NULL,
	seen_at   TEXT NOT NULL,
	PRIMARY KEY (member_id, post)
) WITHOUT ROWID;

-- The search table keeps its own copy of the text (title and raw Markdown),
-- so snippets need no JSON parsing. rowid is community_items.n. space and
-- sic hold the thread's space and the item's owner as one hex token each,
-- so a search filters on them inside the full-text index instead of
-- looking up every match's thread: a common word matches a large part of
-- the community. A comment whose post is not live (not arrived yet, or
-- deleted) has the space token none (not hex), which every search excludes.
CREATE VIRTUAL TABLE community_fts USING fts5 (title, text, space, sic, tokenize = 'unicode61 remove_diacritics 2');

-- Deleted entries leave the index at once instead of at the next merge, so
-- an erased text is in no page of the search table.
INSERT INTO community_fts (community_fts, rank) VALUES ('secure-delete', 1);

CREATE TRIGGER community_on_insert AFTER INSERT ON entities
	WHEN NEW.kind IN ('post', 'comment') AND NEW.deleted = 0 AND NEW.body IS NOT NULL
BEGIN
	INSERT INTO community_items (id, kind, post, owner, created_at, updated_at)
		VALUES (NEW.id, NEW.kind, CASE NEW.kind WHEN 'post' THEN NEW.id ELSE COALESCE(json_extract(NEW.body, '$.post'), '') END,
			NEW.owner, NEW.updated_at, NEW.updated_at)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, post = excluded.post, owner = excluded.owner, updated_at = excluded.updated_at;
	INSERT INTO community_fts (rowid, title, text, space, sic)
		SELECT n, COALESCE(json_extract(NEW.body, '$.title'), ''), COALESCE(json_extract(NEW.body, '$.text'), ''),
			CASE NEW.kind WHEN 'post' THEN COALESCE(NULLIF(hex(json_extract(NEW.body, '$.space')), ''), 'none')
				ELSE COALESCE((SELECT NULLIF(hex(t.space), '') FROM community_threads t WHERE t.post = community_items.post), 'none') END,
			hex(NEW.owner)
		FROM community_items WHERE id = NEW.id;
	-- A post may arrive after some of its comments.
	INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity_at, comment_count)
		SELECT NEW.id, COALESCE(json_extract(NEW.body, '$.space'), ''), NEW.owner, NEW.updated_at, NEW.updated_at,
			MAX(NEW.updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_items c WHERE c.post = NEW.id AND c.kind = 'comment'), '')),
			(SELECT COUNT(*) FROM community_items c WHERE c.post = NEW.id AND c.kind = 'comment')
		WHERE NEW.kind = 'post';
	UPDATE community_threads SET comment_count = comment_count + 1, last_activity_at = MAX(last_activity_at, NEW.updated_at)
		WHERE NEW.kind = 'comment' AND post = json_extract(NEW.body, '$.post');
END;

-- An update takes the old state out and puts the new one in, keeping the
-- item's n and created_at.
CREATE TRIGGER community_on_update AFTER UPDATE OF kind, version, deleted, erased, body ON entities
	WHEN OLD.kind IN ('post', 'comment') OR NEW.kind IN ('post', 'comment')
BEGIN
	DELETE FROM community_fts WHERE rowid = (SELECT n FROM community_items WHERE id = OLD.id);
	-- The old comment leaves its thread's count and activity.
	UPDATE community_threads SET comment_count = comment_count - 1,
		last_activity_at = MAX(updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_items c
			WHERE c.post = community_threads.post AND c.kind = 'comment' AND c.id <> OLD.id), ''))
		WHERE post = (SELECT post FROM community_items WHERE id = OLD.id AND kind = 'comment');
	DELETE FROM community_items WHERE id = OLD.id
		AND NOT (NEW.kind IN ('post', 'comment') AND NEW.deleted = 0 AND NEW.body IS NOT NULL);
	DELETE FROM community_threads WHERE post = OLD.id
		AND NOT (NEW.kind = 'post' AND NEW.deleted = 0 AND NEW.body IS NOT NULL);

	INSERT INTO community_items (id, kind, post, owner, created_at, updated_at)
		SELECT NEW.id, NEW.kind, CASE NEW.kind WHEN 'post' THEN NEW.id ELSE COALESCE(json_extract(NEW.body, '$.post'), '') END,
			NEW.owner, NEW.updated_at, NEW.updated_at
		WHERE NEW.kind IN ('post', 'comment') AND NEW.deleted = 0 AND NEW.body IS NOT NULL
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, post = excluded.post, owner = excluded.owner, updated_at = excluded.updated_at;
	INSERT INTO community_fts (rowid, title, text, space, sic)
		SELECT n, COALESCE(json_extract(NEW.body, '$.title'), ''), COALESCE(json_extract(NEW.body, '$.text'), ''),
			CASE NEW.kind WHEN 'post' THEN COALESCE(NULLIF(hex(json_extract(NEW.body, '$.space')), ''), 'none')
				ELSE COALESCE((SELECT NULLIF(hex(t.space), '') FROM community_threads t WHERE t.post = community_items.post), 'none') END,
			hex(NEW.owner)
		FROM community_items WHERE id = NEW.id;
	INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity_at, comment_count)
		SELECT NEW.id, COALESCE(json_extract(NEW.body, '$.space'), ''), NEW.owner, NEW.updated_at, NEW.updated_at,
			MAX(NEW.updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_items c WHERE c.post = NEW.id AND c.kind = 'comment'), '')),
			(SELECT COUNT(*) FROM community_items c WHERE c.post = NEW.id AND c.kind = 'comment')
		WHERE NEW.kind = 'post' AND NEW.deleted = 0 AND NEW.body IS NOT NULL
		ON CONFLICT (post) DO UPDATE SET space = excluded.space, owner = excluded.owner, updated_at = excluded.updated_at,
			last_activity_at = excluded.last_activity_at, comment_count = excluded.comment_count;
	UPDATE community_threads SET comment_count = comment_count + 1, last_activity_at = MAX(last_activity_at, NEW.updated_at)
		WHERE NEW.kind = 'comment' AND NEW.deleted = 0 AND NEW.body IS NOT NULL AND post = json_extract(NEW.body, '$.post');
END;

-- A post's readers go with it; a reinstated post is read afresh. Its
-- comments leave search with it.
CREATE TRIGGER community_on_thread_delete AFTER DELETE ON community_threads
BEGIN
	DELETE FROM community_reads WHERE post = OLD.post;
	UPDATE community_fts SET space = 'none'
		WHERE rowid IN (SELECT n FROM community_items WHERE post = OLD.post AND kind = 'comment');
END;

-- A post's comments are searched in its space, wherever it moves; those
-- stored before it become searchable when it comes.
CREATE TRIGGER community_on_thread_insert AFTER INSERT ON community_threads
BEGIN
	UPDATE community_fts SET space = COALESCE(NULLIF(hex(NEW.space), ''), 'none')
		WHERE rowid IN (SELECT n FROM community_items WHERE post = NEW.post AND kind = 'comment');
END;

CREATE TRIGGER community_on_thread_move AFTER UPDATE OF space ON community_threads
	WHEN OLD.space IS NOT NEW.space
BEGIN
	UPDATE community_fts SET space = COALESCE(NULLIF(hex(NEW.space), ''), 'none')
		WHERE rowid IN (SELECT n FROM community_items WHERE post = NEW.post AND kind = 'comment');
END;

-- Posts and comments a node already holds (the threads first, so the
-- search rows find their space).
INSERT INTO community_items (id, kind, post, owner, created_at, updated_at)
	SELECT id, kind, CASE kind WHEN 'post' THEN id ELSE COALESCE(json_extract(body, '$.post'), '') END, owner, updated_at, updated_at
	FROM entities WHERE kind IN ('post', 'comment') AND deleted = 0 AND body IS NOT NULL;
INSERT INTO community_threads (post, space, owner, created_at, updated_at, last_activity_at, comment_count)
	SELECT p.id, COALESCE(json_extract(e.body, '$.space'), ''), p.owner, p.created_at, p.updated_at,
		MAX(p.updated_at, COALESCE((SELECT MAX(c.updated_at) FROM community_items c WHERE c.post = p.id AND c.kind = 'comment'), '')),
		(SELECT COUNT(*) FROM community_items c WHERE c.post = p.id AND c.kind = 'comment')
	FROM community_items p JOIN entities e ON e.id = p.id WHERE p.kind = 'post';
INSERT INTO community_fts (rowid, title, text, space, sic)
	SELECT i.n, COALESCE(json_extract(e.body, '$.title'), ''), COALESCE(json_extract(e.body, '$.text'), ''),
		COALESCE((SELECT NULLIF(hex(t.space), '') FROM community_threads t WHERE t.post = i.post), 'none'), hex(i.owner)
	FROM community_items i JOIN entities e ON e.id = i.id;
