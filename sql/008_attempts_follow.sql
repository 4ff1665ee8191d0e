-- 008_attempts_follow.sql: a message's attempts go when its delivery row
-- goes (retention, purge, a subscription's removal), found through
-- attempts_by_delivery.  Retention used to look for orphaned attempts with
-- a scan of the whole attempts table on every pass.
CREATE TRIGGER IF NOT EXISTS deliveries_attempts_gone AFTER DELETE ON deliveries
BEGIN
	DELETE FROM attempts WHERE sub_id = OLD.sub_id AND msg = OLD.msg;
END;
DELETE FROM attempts WHERE NOT EXISTS (SELECT 1 FROM deliveries d
	WHERE d.sub_id = attempts.sub_id AND d.msg = attempts.msg);
