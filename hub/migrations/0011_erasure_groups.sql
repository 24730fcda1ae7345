-- erasure_groups labels erasures an owner asked about together
-- (POST /v1/erasures/status): the erasure of a person, everything one
-- member of the owner's node wrote. grp is the owner's own label, which
-- says nothing about the person. A label may come before the erasure it
-- names has been pushed, so it is kept per entity id, not per hub_seq.
CREATE TABLE erasure_groups (
	id  TEXT PRIMARY KEY,
	grp TEXT NOT NULL
) STRICT, WITHOUT ROWID;
