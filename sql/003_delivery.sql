-- 003_delivery.sql: what the delivery engine needs: finding delivered
-- messages past their retention without a scan, and pull receipts.
CREATE INDEX deliveries_by_age ON deliveries(state, updated_at);
CREATE INDEX deliveries_by_receipt ON deliveries(receipt) WHERE receipt IS NOT NULL;
