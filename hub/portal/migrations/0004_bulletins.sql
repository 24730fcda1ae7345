-- bulletins are the editions of the quarterly bulletin, by edition
-- (YYYY-MM), their address. The record is small and the archive short:
-- pages read the body whole.
CREATE TABLE bulletins (
	id         TEXT PRIMARY KEY,
	hub_seq    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	edition    TEXT NOT NULL,
	body       TEXT NOT NULL -- the bulletin's JSON body
) STRICT;
CREATE INDEX bulletins_edition ON bulletins (edition, hub_seq);
