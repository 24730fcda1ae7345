-- authorship is which member of this node wrote each own post, comment and
-- flag. The signed body names the author for the network (a name and SIC,
-- or a pseudonym); only this node knows the account behind it, so an
-- author may edit their own and an erasure of a person finds everything
-- they wrote. member_id is an account member's id; the row outlives the
-- account's removal until the erasure it starts has taken the entities.
CREATE TABLE authorship (
	entity_id TEXT PRIMARY KEY,
	member_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX authorship_member ON authorship (member_id, entity_id);
