-- 010_event_count.sql: the number of stored events, kept by the writer
-- (summed per transaction) so that stats do not count the events table.
INSERT OR REPLACE INTO counters (name, value)
	SELECT 'events', count(*) FROM events;
