-- 011_names_are_labels.sql: a subscription's name is a label, not a key.
-- Names were unique per topic, and an unnamed subscription is named after
-- its method and sink, so a second subscription to the same endpoint (say
-- with other filters) or a second unnamed pull subscription was refused
-- with 409.  SQLite cannot drop a table constraint, so the table is built
-- again (the migration runs with foreign keys off: the drop must not
-- cascade to the queues) with the same rows and ids.
CREATE TABLE subscriptions_new (
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
	allowed_rate    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO subscriptions_new (id, topic_id, name, state, spec, secret,
	created_at, updated_at, paused_until, pause_reason, failures, validated,
	last_error, last_error_at, last_success_at, allowed_rate)
	SELECT id, topic_id, name, state, spec, secret, created_at, updated_at,
	    paused_until, pause_reason, failures, validated, last_error,
	    last_error_at, last_success_at, allowed_rate
	FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_new RENAME TO subscriptions;
CREATE INDEX subscriptions_by_topic ON subscriptions(topic_id, name);
CREATE TRIGGER subscriptions_id AFTER INSERT ON subscriptions
BEGIN
	UPDATE counters SET value = max(value, NEW.id)
	WHERE name = 'subscription';
END;
