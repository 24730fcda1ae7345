-- events are the public Safer Internet Day events, one row per live event.
-- The lists read an edition whole and filter it in memory, as the guide's
-- pages do: the columns are what the edition's counts and order need, the
-- body is the event as its organiser signed it.
CREATE TABLE events (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	version    INTEGER NOT NULL,
	hub_seq    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	edition    INTEGER NOT NULL,
	start      INTEGER NOT NULL, -- unix milliseconds
	country    TEXT NOT NULL,
	body       TEXT NOT NULL
) STRICT;
CREATE INDEX events_edition ON events (edition, start);
