-- The portal's index: only what a public surface may show. It is derived from
-- the hub's aggregate and can be deleted and rebuilt at any time.

-- state holds the indexer's cursor and the index generation:
--   indexed_seq  the last hub_seq processed
--   gen          bumped at every index commit; part of every ETag
--   gen_at       unix ms of that commit; Last-Modified
--   oai_seq      the last OAI-PMH record sequence handed out
--   epoch        random, chosen when the index is created: resumption tokens
--                carry it, so a token from before a rebuild is refused
CREATE TABLE state (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO state (key, value) VALUES ('indexed_seq', 0), ('gen', 0), ('gen_at', 0), ('oai_seq', 0),
	('epoch', abs(random() % 1000000000000));

-- resources are public, published, visible resources. rid is stable across
-- versions of a resource (upsert on id) and is the rowid of resource_fts and
-- the bit of the in-memory facet sets. Lists are JSON arrays.
CREATE TABLE resources (
	rid         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	owner       TEXT NOT NULL,
	version     INTEGER NOT NULL,
	hub_seq     INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL, -- unix ms, as the owner wrote it
	title       TEXT NOT NULL,
	description TEXT NOT NULL,
	language    TEXT NOT NULL,
	languages   TEXT NOT NULL,
	age_min     INTEGER NOT NULL,
	age_max     INTEGER NOT NULL,
	type        TEXT NOT NULL,
	topics      TEXT NOT NULL,
	audiences   TEXT NOT NULL,
	minisites   TEXT NOT NULL,
	licence     TEXT NOT NULL,
	url         TEXT NOT NULL,
	blobs       TEXT NOT NULL
) STRICT;

-- translations are public translations, whether or not their resource is
-- indexed: a page joins them to their resource, so a translation of something
-- not public is never shown.
CREATE TABLE translations (
	id             TEXT PRIMARY KEY,
	resource       TEXT NOT NULL,
	owner          TEXT NOT NULL,
	hub_seq        INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	language       TEXT NOT NULL,
	title          TEXT NOT NULL,
	description    TEXT NOT NULL,
	url            TEXT NOT NULL,
	method         TEXT NOT NULL,
	review         TEXT NOT NULL,
	source_version INTEGER NOT NULL
) STRICT;
CREATE INDEX translations_resource ON translations (resource, language);

-- resource_fts indexes a resource's title, description and its translations'
-- titles and descriptions. It stores no text (contentless), and secure-delete
-- removes a deleted row's terms from the index at once, so erased text leaves
-- no trace here.
CREATE VIRTUAL TABLE resource_fts USING fts5 (
	title, description, translations,
	content = '', contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO resource_fts (resource_fts, rank) VALUES ('secure-delete', 1);

CREATE TABLE services (
	id          TEXT PRIMARY KEY,
	hub_seq     INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	name        TEXT NOT NULL,
	body        TEXT NOT NULL -- the service's JSON body
) STRICT;

-- news are public posts (the news space).
CREATE TABLE news (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	hub_seq    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	body       TEXT NOT NULL
) STRICT;
CREATE INDEX news_updated ON news (updated_at DESC);

-- profiles are the SICs' national signposting.
CREATE TABLE profiles (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	hub_seq    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	country    TEXT NOT NULL,
	name       TEXT NOT NULL,
	body       TEXT NOT NULL
) STRICT;
CREATE INDEX profiles_country ON profiles (country);

-- moderations keeps only which entity each decision is about and what it
-- decided (never its reason), so a hidden entity stays out of the index.
CREATE TABLE moderations (
	id       TEXT PRIMARY KEY,
	target   TEXT NOT NULL,
	decision TEXT NOT NULL,
	hub_seq  INTEGER NOT NULL
) STRICT;
CREATE INDEX moderations_target ON moderations (target, hub_seq);

-- pending are public entities whose publish_at is still ahead: indexed when
-- due, from the aggregate.
CREATE TABLE pending (
	id  TEXT PRIMARY KEY,
	due INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_due ON pending (due);

-- oai is every resource that was ever public, for OAI-PMH with
-- deletedRecord=persistent. seq orders harvests (a change takes the next
-- one); stamp is the datestamp, unix ms; sets is " sic:be language:nl … ".
CREATE TABLE oai (
	id      TEXT PRIMARY KEY,
	seq     INTEGER NOT NULL UNIQUE,
	stamp   INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	sets    TEXT NOT NULL
) STRICT;
CREATE INDEX oai_stamp ON oai (stamp);
