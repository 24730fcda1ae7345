-- incarnations records every start of the hub's server, in order. A hub
-- database restored from a copy lacks the rows of the starts that came after
-- the copy, so a node that last saw one of those can tell that the hub went
-- back in time (docs/protocol.md §11, restore detection). start_seq is the
-- hub_seq head when the incarnation started: the end, in this database's
-- history, of the incarnation before it.
CREATE TABLE incarnations (
	ord        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	started_at INTEGER NOT NULL,
	start_seq  INTEGER NOT NULL
);
