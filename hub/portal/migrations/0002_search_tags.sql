-- The full-text index gains a tags column: each resource's topics, type and
-- audiences as tag tokens ('0vt' || topic, '0vy' || type, '0va' ||
-- audience, hyphens removed; see vocabToken), so that a vocabulary label
-- searched in any language finds the resources tagged with it.
-- resource_terms lists the index's words, for compound forms and spelling
-- suggestions. A contentless table cannot gain a column: it is made again
-- and filled from the resources and their translations.
DROP TABLE resource_fts;
CREATE VIRTUAL TABLE resource_fts USING fts5 (
	title, description, translations, tags,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO resource_fts (resource_fts, rank) VALUES ('secure-delete', 1);
INSERT INTO resource_fts (rowid, title, description, translations, tags)
	SELECT r.rid, r.title, r.description,
		(SELECT group_concat(t.title || ' ' || t.description, ' ') FROM translations t WHERE t.resource = r.id),
		(SELECT group_concat(tok, ' ') FROM (
			SELECT '0vt' || replace(value, '-', '') AS tok FROM json_each(r.topics)
			UNION ALL SELECT '0vy' || replace(r.type, '-', '')
			UNION ALL SELECT '0va' || replace(value, '-', '') FROM json_each(r.audiences)))
	FROM resources r;
CREATE VIRTUAL TABLE resource_terms USING fts5vocab (resource_fts, row);
