-- person_erasures records each erasure of a person (Node.ErasePerson): a
-- member removed together with every post, comment and flag they wrote. It
-- keeps no personal data (the account is gone): the member's number, who
-- erased them, when, and how many items of each kind, so that the admin can
-- follow the erasure until every holder has purged it. actor is the audit
-- log's actor (member:<id>, admin-token). checked_at is when the hub last
-- said how far the erasures had got; complete_at when every holder had.
CREATE TABLE person_erasures (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	member_id   INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	at          TEXT NOT NULL,
	posts       INTEGER NOT NULL,
	comments    INTEGER NOT NULL,
	flags       INTEGER NOT NULL,
	held        INTEGER NOT NULL,
	checked_at  TEXT,
	complete_at TEXT
);

-- person_erasure_items are the entities a person erasure erased, with what
-- the hub last reported of each: hub_seq of the erasure on the hub (0 until
-- it has it), whether it is complete there, and holders, a JSON array of
-- {"node", "acked"}. local marks an entity that never leaves this node (a
-- national youth space's), whose erasure only this node holds.
CREATE TABLE person_erasure_items (
	erasure_id INTEGER NOT NULL REFERENCES person_erasures (id),
	entity_id  TEXT NOT NULL,
	kind       TEXT NOT NULL,
	local      INTEGER NOT NULL DEFAULT 0,
	hub_seq    INTEGER NOT NULL DEFAULT 0,
	complete   INTEGER NOT NULL DEFAULT 0,
	holders    TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (erasure_id, entity_id)
) WITHOUT ROWID;
