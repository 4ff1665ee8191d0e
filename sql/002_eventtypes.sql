-- 002_eventtypes.sql: the event-type catalog, kept at ingest (one upsert per
-- distinct topic, type and source in each committed group), and the index
-- that lets system events be listed newest first per entity.

CREATE TABLE eventtypes (
	topic_id    INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
	type        TEXT NOT NULL,
	source      TEXT NOT NULL,
	count       INTEGER NOT NULL,
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	example_msg INTEGER NOT NULL,
	PRIMARY KEY (topic_id, type, source)
) WITHOUT ROWID;

CREATE INDEX appevent_by_entity ON appevent(entity, entity_id, id);
