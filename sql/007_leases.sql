-- 007_leases.sql: pull leases are found by their end through an index of
-- the in-flight messages only (the lease janitor, crash recovery), not by
-- a scan of every queue.
CREATE INDEX IF NOT EXISTS deliveries_leased ON deliveries(lease_until)
	WHERE state = 'inflight';
