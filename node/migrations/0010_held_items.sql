-- held_items are posts and comments of youth members kept on this node
-- until a youth coordinator decides on them. Nothing here is signed or in
-- the outbox: an approval writes the entity through the ordinary authoring
-- path (entity_id is then its id), a rejection keeps the item, with the
-- coordinator's reason, for its author to read. member_id and decided_by
-- are account member ids; body is the draft's JSON with the author already
-- set to the member's pseudonym.
CREATE TABLE held_items (
	id         TEXT PRIMARY KEY,
	member_id  INTEGER NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('post', 'comment')),
	visibility TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	state      TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'approved', 'rejected')),
	reason     TEXT NOT NULL DEFAULT '',
	decided_by INTEGER,
	decided_at TEXT,
	entity_id  TEXT
);

-- The coordinators' queue and a member's own items, oldest first.
CREATE INDEX held_items_state ON held_items (state, created_at, id);
CREATE INDEX held_items_member ON held_items (member_id, created_at, id);
