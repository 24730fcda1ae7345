-- What a SIC's youth coordinators read.
--
-- A flag's target, so that the flags on an item, and on the items a
-- node's young people wrote, are found by index rather than by reading
-- every flag of the network. Only flags are in this index.
CREATE INDEX entities_flag_target ON entities (json_extract(body, '$.target'))
	WHERE kind = 'flag';

-- The coordinators' latest decisions, newest first.
CREATE INDEX held_items_decided ON held_items (decided_at, id) WHERE state <> 'waiting';
