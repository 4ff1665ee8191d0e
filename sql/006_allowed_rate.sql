-- 006_allowed_rate.sql: the rate a validated endpoint granted in its
-- abuse-protection handshake (WebHook-Allowed-Rate, requests per minute;
-- 0: no limit given, or "*").  Deliveries keep under it.
ALTER TABLE subscriptions ADD COLUMN allowed_rate INTEGER NOT NULL DEFAULT 0;
