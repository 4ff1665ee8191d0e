-- 004_ids.sql: subscription ids are never given again after a delete (a
-- client holding an old id must not reach a new subscription), so the
-- highest id ever used is kept here.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value)
	SELECT 'subscription', coalesce(max(id), 0) FROM subscriptions;
CREATE TRIGGER subscriptions_id AFTER INSERT ON subscriptions
BEGIN
	UPDATE counters SET value = max(value, NEW.id)
	WHERE name = 'subscription';
END;
