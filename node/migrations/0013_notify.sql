-- Email notifications of the community (node/notify.go): what each member
-- chose per space, the posts and comments that arrived since, and every
-- message planned and sent, one per recipient. Nothing here holds a post's
-- words: messages are written from the live entities when they are sent, so
-- a hidden or erased item never goes out and leaves no copy here.

-- notify_prefs is a member's choice for one space: every post ('post') or
-- the daily digest ('digest'). A space without a row is 'none'. member_id
-- is an account member's id; a removed member's choices go with them.
CREATE TABLE notify_prefs (
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	space      TEXT NOT NULL,
	mode       TEXT NOT NULL CHECK (mode IN ('post', 'digest')),
	updated_at TEXT NOT NULL,
	PRIMARY KEY (member_id, space)
) WITHOUT ROWID;

CREATE INDEX notify_prefs_space ON notify_prefs (space, mode);

-- notify_members is, per member who ever chose, the language of their
-- emails and where their digest stands: the last queue seq it covered and
-- the digest period (a local day) it was last planned for.
CREATE TABLE notify_members (
	member_id  INTEGER PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
	lang       TEXT NOT NULL,
	digest_seq INTEGER NOT NULL DEFAULT 0,
	digest_day TEXT NOT NULL DEFAULT ''
);

-- notify_queue numbers community items in the order they arrive on this
-- node, written or pulled, in the transaction that stores them. Nothing is
-- queued while no member has chosen anything, so a node without
-- subscribers pays nothing on its pulls. AUTOINCREMENT: a number is never
-- reused, so a cursor never skips an item.
CREATE TABLE notify_queue (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	item TEXT NOT NULL
);

CREATE TRIGGER notify_on_item AFTER INSERT ON community_items
	WHEN EXISTS (SELECT 1 FROM notify_prefs)
BEGIN
	INSERT INTO notify_queue (item) VALUES (NEW.id);
END;

-- notify_state holds the queue seq up to which every-post messages are
-- planned, and the key that signs unsubscribe links.
CREATE TABLE notify_state (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	post_seq INTEGER NOT NULL,
	key      BLOB NOT NULL
);

-- notify_outbox is one message to one member. kind 'post' names the item
-- in ref; 'digest' names its period in ref and covers the queue's
-- (from_seq, to_seq]. A row is planned in the transaction that moves the
-- cursor, and marked sent after the mail server took it: a crash between
-- the two sends one message twice at most, and loses none.
CREATE TABLE notify_outbox (
	id         INTEGER PRIMARY KEY,
	member_id  INTEGER NOT NULL REFERENCES members (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL CHECK (kind IN ('post', 'digest')),
	ref        TEXT NOT NULL,
	from_seq   INTEGER NOT NULL DEFAULT 0,
	to_seq     INTEGER NOT NULL DEFAULT 0,
	planned_at TEXT NOT NULL,
	state      TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'sent', 'skipped', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	done_at    TEXT,
	UNIQUE (member_id, kind, ref)
);

CREATE INDEX notify_outbox_planned ON notify_outbox (id) WHERE state = 'planned';
