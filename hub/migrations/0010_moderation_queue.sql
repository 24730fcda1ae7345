-- The moderation queue reads flags, decisions and European youth items by
-- the entity they are about. entities_ref alone would visit every
-- translation and comment of a target to find its few flags and decisions;
-- these partial indexes hold only what the queue asks for, with hub_seq so
-- that "the latest decision" and "flags after it" are read from the index.
CREATE INDEX entities_flags ON entities (ref, hub_seq) WHERE kind = 'flag' AND deleted = 0;
CREATE INDEX entities_decisions ON entities (ref, hub_seq) WHERE kind = 'moderation' AND deleted = 0;
CREATE INDEX entities_youth ON entities (hub_seq) WHERE visibility = 'youth' AND kind IN ('post', 'comment') AND deleted = 0;
