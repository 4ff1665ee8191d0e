-- 001_init.sql: the first schema.  Times are milliseconds since the epoch.
-- Message ids (msg) are time-ordered 64-bit integers: the high 44 bits are
-- the millisecond they were accepted, the low 20 a sequence.

CREATE TABLE topics (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	description   TEXT NOT NULL DEFAULT '',
	publish_token TEXT,              -- NULL: publishing needs no token
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

-- One row per accepted event.  attrs holds the context attributes in the
-- CloudEvents JSON format, each with the type it was carried as; data holds
-- the bytes exactly as received; prefix the first 64 of them, for search.
CREATE TABLE events (
	msg         INTEGER PRIMARY KEY,
	topic_id    INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
	ce_id       TEXT NOT NULL,
	source      TEXT NOT NULL,
	type        TEXT NOT NULL,
	attrs       TEXT NOT NULL,
	data_kind   INTEGER NOT NULL,    -- 0 none, 1 JSON, 2 text, 3 binary
	data        BLOB,
	prefix      BLOB,
	received_at INTEGER NOT NULL,
	UNIQUE (topic_id, source, ce_id)
);
CREATE INDEX events_by_topic ON events(topic_id, msg);

-- Webhook subscriptions.  spec is the JSON resource without its secret and
-- live status; the columns beside it are what queries and delivery need.
CREATE TABLE subscriptions (
	id              INTEGER PRIMARY KEY,
	topic_id        INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
	name            TEXT NOT NULL,
	state           TEXT NOT NULL DEFAULT 'pub_and_sub',
	spec            TEXT NOT NULL,
	secret          TEXT,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	paused_until    INTEGER NOT NULL DEFAULT 0,
	pause_reason    TEXT,
	failures        INTEGER NOT NULL DEFAULT 0, -- consecutive failed attempts
	validated       INTEGER NOT NULL DEFAULT 0, -- handshake: 0 no, 1 ok, -1 refused
	last_error      TEXT,
	last_error_at   INTEGER,
	last_success_at INTEGER,
	UNIQUE (topic_id, name)
);

-- The delivery queues: one row per (subscription, event).
CREATE TABLE deliveries (
	sub_id          INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
	msg             INTEGER NOT NULL REFERENCES events(msg) ON DELETE CASCADE,
	state           TEXT NOT NULL DEFAULT 'pending', -- pending inflight delivered dead
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	lease_until     INTEGER,
	receipt         TEXT,
	matched         TEXT,            -- the filter clause that matched
	last_status     INTEGER,
	last_error      TEXT,
	updated_at      INTEGER NOT NULL,
	PRIMARY KEY (sub_id, msg)
) WITHOUT ROWID;
CREATE INDEX deliveries_by_state ON deliveries(sub_id, state, msg);
CREATE INDEX deliveries_by_msg ON deliveries(msg);

-- One row per delivery attempt.
CREATE TABLE attempts (
	id          INTEGER PRIMARY KEY,
	sub_id      INTEGER NOT NULL,
	msg         INTEGER NOT NULL,
	started_at  INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL,
	outcome     TEXT NOT NULL,       -- ok, transport_error, app_error
	http_status INTEGER,
	error       TEXT,
	response    BLOB                 -- first 1 KiB of the response body
);
CREATE INDEX attempts_by_delivery ON attempts(sub_id, msg, id);

-- sluice's own operations (system events).
CREATE TABLE appevent (
	id        INTEGER PRIMARY KEY,
	operation TEXT NOT NULL,         -- e.g. subscription.create
	entity    TEXT NOT NULL,
	entity_id TEXT,
	actor     TEXT,
	time      INTEGER NOT NULL,
	metadata  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX appevent_by_operation ON appevent(operation, id);

-- The topic of POST /events, and the reserved topic of system events.
INSERT INTO topics (name, description, created_at, updated_at) VALUES
	('default', 'the topic of POST /events',
	 CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
	 CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
	('$sys', 'sluice''s own operations (reserved)',
	 CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
	 CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
