-- 009_queue_counts.sql: each queue's message count by state, kept by the
-- writer with every change (summed per transaction, written before its
-- commit), so /metrics, stats and a subscription's status read a few rows
-- instead of counting every message kept for retention (200 ms per million
-- before).
CREATE TABLE queue_counts (
	sub_id INTEGER NOT NULL,
	state  TEXT NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (sub_id, state)
) WITHOUT ROWID;
INSERT INTO queue_counts (sub_id, state, n)
	SELECT sub_id, state, count(*) FROM deliveries GROUP BY sub_id, state;
