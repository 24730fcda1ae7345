-- bulletin_subscribers are the people who asked for the bulletin by email:
-- the only personal data the hub keeps about the public, here and nowhere
-- else (no change, feed, index, export or log carries it). A row is
-- deleted, not marked, when its person unsubscribes. AUTOINCREMENT keeps
-- an erased row's id from coming back for someone else, so a delivery
-- record or an old link never points at another person.
CREATE TABLE bulletin_subscribers (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	email        TEXT NOT NULL,     -- lower-cased address
	lang         TEXT NOT NULL,     -- a portal interface language
	created_at   INTEGER NOT NULL,  -- unix ms, in the links' tokens
	confirmed_at INTEGER,           -- unix ms; NULL while the opt-in is pending
	mailed_at    INTEGER NOT NULL   -- unix ms of the last confirmation mail
) STRICT;
CREATE UNIQUE INDEX bulletin_subscribers_email ON bulletin_subscribers (email);

-- bulletin_sendings are the editions sent or being sent: one sending per
-- edition, whose recipients are fixed when it starts.
CREATE TABLE bulletin_sendings (
	edition     TEXT PRIMARY KEY,
	entity      TEXT NOT NULL,      -- the bulletin's entity id
	started_at  INTEGER NOT NULL,
	finished_at INTEGER             -- NULL while deliveries wait
) STRICT;

-- bulletin_deliveries record each subscriber's copy of an edition by the
-- subscriber's id, never the address. A delivery is claimed (committed)
-- before the mail server is spoken to and marked sent or failed after, so
-- after a crash a claimed one is known as uncertain and never sent again:
-- at most one copy per person and edition.
CREATE TABLE bulletin_deliveries (
	edition    TEXT NOT NULL REFERENCES bulletin_sendings (edition),
	subscriber INTEGER NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('waiting', 'claimed', 'sent', 'failed')),
	changed_at INTEGER NOT NULL,
	PRIMARY KEY (edition, subscriber)
) STRICT, WITHOUT ROWID;
CREATE INDEX bulletin_deliveries_waiting ON bulletin_deliveries (edition, state, subscriber);

-- bulletin_drafts are editions the coordination team is composing: the
-- body as the console last saved it, not yet signed. Publishing signs it
-- as a bulletin change and removes the draft.
CREATE TABLE bulletin_drafts (
	edition    TEXT PRIMARY KEY,
	body       TEXT NOT NULL, -- the bulletin's JSON body
	updated_at INTEGER NOT NULL,
	member_id  INTEGER NOT NULL
) STRICT;
