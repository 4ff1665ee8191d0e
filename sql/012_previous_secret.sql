-- 012_previous_secret.sql: a replaced signing secret keeps signing beside
-- the new one until previous_secret_until (ms since the epoch; 0: none),
-- so that receivers verifying with the old one go on working while they
-- change over (Standard Webhooks' webhook-signature is a list for this).
-- Sealed like secret.
ALTER TABLE subscriptions ADD COLUMN previous_secret TEXT;
ALTER TABLE subscriptions ADD COLUMN previous_secret_until INTEGER NOT NULL
	DEFAULT 0;
