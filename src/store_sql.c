/*
 * store_sql.c: the SQL of every statement the store prepares, indexed by
 * enum stmt (store_int.h).  Owns no state: a constant table that the other
 * parts of the store read to prepare a statement or to name it in a log
 * line.  The comments name the index that serves each queue query.  No code
 * here; a new statement is an enum stmt entry and its text in this table
 * (the only other SQL is store.c's pragmas and the migrations in sql/).
 *
 * Threads: any (constant data).
 */
#include "autoconfig.h"

#include "store_int.h"

const char *const stmt_sql[S_COUNT] = {
	[S_EVENT_INSERT] = "INSERT INTO events (msg, topic_id, ce_id, source, "
	    "type, attrs, data_kind, data, prefix, received_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (topic_id, source, ce_id) DO NOTHING",
	[S_EVENT_DUP] = "SELECT msg FROM events "
	    "WHERE topic_id = ? AND source = ? AND ce_id = ?",
	[S_EVENT_GET] = "SELECT e.msg, e.topic_id, t.name, e.attrs, "
	    "e.data_kind, e.data, e.received_at FROM events e "
	    "JOIN topics t ON t.id = e.topic_id WHERE e.msg = ?",
	/* served by events_by_topic, or the primary key without a topic */
	[S_EVENTS_LIST] = "SELECT e.msg, e.topic_id, t.name, e.attrs, "
	    "e.data_kind, e.data, e.received_at FROM events e "
	    "JOIN topics t ON t.id = e.topic_id "
	    "WHERE (?1 = 0 OR e.topic_id = ?1) AND e.msg > ?2 "
	    "AND (?3 IS NULL OR e.type = ?3) AND (?4 IS NULL OR e.source = ?4) "
	    "ORDER BY e.msg LIMIT ?5",
	[S_TOPIC_INSERT] = "INSERT INTO topics (name, description, "
	    "publish_token, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
	[S_TOPIC_UPDATE] = "UPDATE topics SET description = ?, "
	    "publish_token = ?, updated_at = ? WHERE id = ?",
	[S_TOPIC_DELETE] = "DELETE FROM topics WHERE id = ?",
	[S_TOPIC_SUBS] = "SELECT count(*) FROM subscriptions WHERE topic_id = ?",
	[S_TOPIC_GET] = "SELECT id, name, description, publish_token, "
	    "created_at, updated_at FROM topics WHERE name = ?",
	[S_TOPICS_LIST] = "SELECT id, name, description, publish_token, "
	    "created_at, updated_at FROM topics WHERE name > ? "
	    "ORDER BY name LIMIT ?",
	[S_MAX_MSG] = "SELECT coalesce(max(msg), 0) FROM events",
	/* counters keeps ids from coming back after a delete (004_ids.sql) */
	[S_SUB_INSERT] = "INSERT INTO subscriptions (id, topic_id, name, state, "
	    "spec, secret, created_at, updated_at) VALUES ((SELECT value + 1 "
	    "FROM counters WHERE name = 'subscription'), ?, ?, ?, ?, ?, ?, ?)",
	/*
	 * A change may point it elsewhere: the handshake runs again.  Turned
	 * on again, a subscription its endpoint had gone from (410) is
	 * unpaused.
	 */
	[S_SUB_UPDATE] = "UPDATE subscriptions SET name = ?2, state = ?3, "
	    "spec = ?4, secret = ?5, updated_at = ?6, previous_secret = ?7, "
	    "previous_secret_until = ?8, validated = 0, "
	    "allowed_rate = 0, "
	    "paused_until = CASE WHEN pause_reason = 'gone' AND "
	    "?3 <> 'disabled' THEN 0 ELSE paused_until END, "
	    "pause_reason = CASE WHEN pause_reason = 'gone' AND "
	    "?3 <> 'disabled' THEN NULL ELSE pause_reason END WHERE id = ?1",
	[S_SUB_DELETE] = "DELETE FROM subscriptions WHERE id = ?",
	/* a 410 Gone is lifted only by turning the subscription on */
	[S_SUB_PAUSE] = "UPDATE subscriptions SET paused_until = ?2, "
	    "pause_reason = ?3, failures = CASE WHEN ?2 = 0 THEN 0 "
	    "ELSE failures END WHERE id = ?1 "
	    "AND pause_reason IS NOT 'gone'",
	[S_RESUME_DUE] = "UPDATE deliveries INDEXED BY deliveries_by_state "
	    "SET next_attempt_at = 0 "
	    "WHERE sub_id = ? AND state = 'pending' AND next_attempt_at > 0",
	[S_SUBS_ALL] = "SELECT s.id, s.topic_id, t.name, s.name, s.state, "
	    "s.spec, s.secret, s.created_at, s.updated_at, s.previous_secret, "
	    "s.previous_secret_until FROM subscriptions s "
	    "JOIN topics t ON t.id = s.topic_id ORDER BY s.id",
	[S_SUB_GET] = "SELECT s.id, s.topic_id, t.name, s.name, s.state, "
	    "s.spec, s.secret, s.created_at, s.updated_at, s.previous_secret, "
	    "s.previous_secret_until FROM subscriptions s "
	    "JOIN topics t ON t.id = s.topic_id WHERE s.id = ?",
	[S_SUB_STATUS] = "SELECT paused_until, pause_reason, failures, "
	    "validated, last_error, last_error_at, last_success_at, "
	    "allowed_rate FROM subscriptions WHERE id = ?",
	/* served by deliveries_by_state */
	/* queue_counts, kept with every change (store_tx_count) */
	[S_SUB_COUNTS] = "SELECT state, n FROM queue_counts WHERE sub_id = ?",
	[S_DELIVERY_INSERT] = "INSERT INTO deliveries (sub_id, msg, matched, "
	    "updated_at) VALUES (?, ?, ?, ?)",
	/* the primary key (sub_id, msg) serves both orders and cursors */
	[S_MESSAGES_ANY] = "SELECT d.msg, d.state, d.attempts, "
	    "d.next_attempt_at, d.last_status, d.last_error, d.matched, "
	    "d.updated_at, e.received_at, e.ce_id, e.source, e.type, e.prefix "
	    "FROM deliveries d JOIN events e ON e.msg = d.msg "
	    "WHERE d.sub_id = ?1 AND d.msg > ?2 "
	    "AND (?3 IS NULL OR instr(e.prefix, ?3) > 0) "
	    "ORDER BY d.msg LIMIT ?4",
	/*
	 * deliveries_by_state (sub_id, state, msg), named: without it the
	 * planner walks the primary key through every message of the queue,
	 * delivered ones included.
	 */
	[S_MESSAGES_STATE] = "SELECT d.msg, d.state, d.attempts, "
	    "d.next_attempt_at, d.last_status, d.last_error, d.matched, "
	    "d.updated_at, e.received_at, e.ce_id, e.source, e.type, e.prefix "
	    "FROM deliveries d INDEXED BY deliveries_by_state "
	    "JOIN events e ON e.msg = d.msg "
	    "WHERE d.sub_id = ?1 AND d.msg > ?2 "
	    "AND (?3 IS NULL OR instr(e.prefix, ?3) > 0) AND d.state = ?5 "
	    "ORDER BY d.msg LIMIT ?4",
	[S_MESSAGE_GET] = "SELECT d.msg, d.state, d.attempts, "
	    "d.next_attempt_at, d.last_status, d.last_error, d.matched, "
	    "d.updated_at, e.received_at, e.ce_id, e.source, e.type, e.prefix "
	    "FROM deliveries d JOIN events e ON e.msg = d.msg "
	    "WHERE d.sub_id = ? AND d.msg = ?",
	[S_ATTEMPTS_LIST] = "SELECT id, started_at, duration_ms, outcome, "
	    "http_status, error, response FROM attempts "
	    "WHERE sub_id = ? AND msg = ? ORDER BY id",
	[S_EVENT_SUBS] = "SELECT d.sub_id, s.name, d.state FROM deliveries d "
	    "JOIN subscriptions s ON s.id = d.sub_id WHERE d.msg = ? "
	    "ORDER BY d.sub_id",
	[S_RETRY_STATE] = "UPDATE deliveries SET state = 'pending', "
	    "attempts = 0, next_attempt_at = 0, lease_until = NULL, "
	    "receipt = NULL, updated_at = ?3 WHERE sub_id = ?1 AND state = ?2",
	[S_RETRY_MSG] = "UPDATE deliveries SET state = 'pending', "
	    "attempts = 0, next_attempt_at = 0, lease_until = NULL, "
	    "receipt = NULL, updated_at = ?3 WHERE sub_id = ?1 AND msg = ?2 "
	    "AND state <> 'inflight'",
	[S_PURGE_STATE] = "DELETE FROM deliveries WHERE sub_id = ?1 "
	    "AND state = ?2",
	[S_PURGE_MSG] = "DELETE FROM deliveries WHERE sub_id = ?1 "
	    "AND msg = ?2 AND state <> 'inflight'",
	[S_PURGE_BETWEEN] = "DELETE FROM deliveries WHERE sub_id = ?1 "
	    "AND state = ?2 AND msg > ?3 AND msg < ?4",
	[S_APPEVENT_INSERT] = "INSERT INTO appevent (operation, entity, "
	    "entity_id, actor, time, metadata) VALUES (?, ?, ?, ?, ?, ?)",
	[S_APPEVENTS_LIST] = "SELECT id, operation, entity, entity_id, actor, "
	    "time, metadata FROM appevent WHERE (?1 IS NULL OR operation = ?1) "
	    "AND (?4 IS NULL OR entity = ?4) "
	    "AND (?5 IS NULL OR entity_id = ?5) "
	    "AND (?6 IS NULL OR coalesce(actor, 'system') = ?6) "
	    "AND id < ?2 ORDER BY id DESC LIMIT ?3",
	[S_EVENTTYPE_UPSERT] = "INSERT INTO eventtypes (topic_id, type, "
	    "source, count, first_seen, last_seen, example_msg) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
	    "ON CONFLICT (topic_id, type, source) DO UPDATE SET "
	    "count = count + excluded.count, last_seen = excluded.last_seen, "
	    /* the latest: the one retention removes last */
	    "example_msg = excluded.example_msg",
	[S_EVENTTYPES_LIST] = "SELECT t.name, e.type, e.source, e.count, "
	    "e.first_seen, e.last_seen, e.example_msg FROM eventtypes e "
	    "JOIN topics t ON t.id = e.topic_id "
	    "WHERE (?1 = 0 OR e.topic_id = ?1) "
	    "ORDER BY t.name, e.type, e.source LIMIT ?2 OFFSET ?3",
	[S_TOTALS] = "SELECT (SELECT count(*) FROM topics), "
	    "(SELECT count(*) FROM subscriptions), "
	    "(SELECT value FROM counters WHERE name = 'events')",
	[S_TOTAL_COUNTS] = "SELECT state, sum(n) FROM queue_counts "
	    "GROUP BY state",
	[S_QUEUE_COUNTS] = "SELECT sub_id, state, n FROM queue_counts "
	    "WHERE n > 0 ORDER BY sub_id, state",
	[S_SEALED] = "SELECT count(*) FROM subscriptions "
	    "WHERE secret LIKE 'v1:%'",
	/* deliveries_by_state (sub_id, state, msg), named (see above) */
	[S_DUE_STRICT] = "SELECT d.msg, d.attempts, d.next_attempt_at, "
	    "e.msg, e.topic_id, '', e.attrs, e.data_kind, e.data, "
	    "e.received_at FROM deliveries d INDEXED BY deliveries_by_state "
	    "JOIN events e ON e.msg = d.msg "
	    "WHERE d.sub_id = ?1 AND d.state = 'pending' AND d.msg > ?3 "
	    "ORDER BY d.msg LIMIT ?2",
	[S_DUE_AFTER] = "SELECT d.msg, d.attempts, d.next_attempt_at, "
	    "e.msg, e.topic_id, '', e.attrs, e.data_kind, e.data, "
	    "e.received_at FROM deliveries d INDEXED BY deliveries_by_state "
	    "JOIN events e ON e.msg = d.msg "
	    "WHERE d.sub_id = ?1 AND d.state = 'pending' AND d.msg > ?3 "
	    "AND d.next_attempt_at <= ?4 ORDER BY d.msg LIMIT ?2",
	[S_NEXT_DUE] = "SELECT min(next_attempt_at) FROM deliveries "
	    "INDEXED BY deliveries_by_state "
	    "WHERE sub_id = ? AND state = 'pending'",
	[S_ATTEMPT_INSERT] = "INSERT INTO attempts (sub_id, msg, started_at, "
	    "duration_ms, outcome, http_status, error, response) "
	    "VALUES (?, ?, ?, ?, ?, nullif(?, 0), ?, ?)",
	/* ?5: the state it leaves (pending or inflight), for queue_counts */
	[S_DELIVERY_DONE] = "UPDATE deliveries SET state = 'delivered', "
	    "attempts = attempts + 1, last_status = nullif(?3, 0), "
	    "last_error = NULL, lease_until = NULL, receipt = NULL, "
	    "updated_at = ?4 WHERE sub_id = ?1 AND msg = ?2 AND state = ?5",
	/* queue_counts: the sums of a transaction, written before its commit */
	[S_QCOUNT_ADD] = "INSERT INTO queue_counts (sub_id, state, n) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (sub_id, state) "
	    "DO UPDATE SET n = n + ?3",
	[S_QCOUNT_ORPHANS] = "DELETE FROM queue_counts WHERE sub_id NOT IN "
	    "(SELECT id FROM subscriptions)",
	[S_EVENTS_ADD] = "UPDATE counters SET value = value + ? "
	    "WHERE name = 'events'",
	[S_EVENTS_RECOUNT] = "UPDATE counters SET value = "
	    "(SELECT count(*) FROM events) WHERE name = 'events'",
	[S_DELIVERY_STATE] = "SELECT state FROM deliveries "
	    "WHERE sub_id = ? AND msg = ?",
	[S_DELIVERY_FAIL] = "UPDATE deliveries SET attempts = attempts + 1, "
	    "state = CASE WHEN attempts + 1 >= ?5 THEN 'dead' "
	    "ELSE 'pending' END, next_attempt_at = ?6, "
	    "last_status = nullif(?3, 0), last_error = ?4, lease_until = NULL, "
	    "receipt = NULL, updated_at = ?7 WHERE sub_id = ?1 AND msg = ?2 "
	    "AND state = ?8 RETURNING state",
	/* an operator's pause (until resumed, or its end) wins */
	[S_SUB_OUTCOME] = "UPDATE subscriptions SET failures = ?2, "
	    "last_error = ?3, last_error_at = ?4, "
	    "paused_until = CASE WHEN pause_reason = 'manual' "
	    "AND paused_until > ?4 THEN paused_until ELSE ?5 END, "
	    "pause_reason = CASE WHEN pause_reason = 'manual' "
	    "AND paused_until > ?4 THEN pause_reason ELSE ?6 END WHERE id = ?1",
	[S_SUB_OUTCOME_OK] = "UPDATE subscriptions SET failures = 0, "
	    "last_success_at = ?2 WHERE id = ?1",
	/* a pull subscription's nack or ended lease: no pause */
	[S_SUB_LAST_ERROR] = "UPDATE subscriptions SET last_error = ?2, "
	    "last_error_at = ?3 WHERE id = ?1",
	[S_SUB_STATE] = "UPDATE subscriptions SET state = ?2, "
	    "updated_at = ?3 WHERE id = ?1",
	[S_SUB_VALIDATED] = "UPDATE subscriptions SET validated = ?2, "
	    "allowed_rate = ?3 WHERE id = ?1",
	/* deliveries_leased */
	[S_RECOVER] = "UPDATE deliveries SET state = 'pending' "
	    "WHERE state = 'inflight' AND lease_until IS NULL RETURNING sub_id",
	/* deliveries_delivered_by_age */
	[S_RETIRE_DELIVERIES] = "DELETE FROM deliveries WHERE (sub_id, msg) IN "
	    "(SELECT sub_id, msg FROM deliveries WHERE state = 'delivered' "
	    "AND updated_at < ?1 LIMIT ?2) RETURNING sub_id",
	[S_RETIRE_EVENTS] = "DELETE FROM events WHERE msg IN (SELECT e.msg "
	    "FROM events e WHERE e.msg < ?1 AND NOT EXISTS (SELECT 1 FROM "
	    "deliveries d WHERE d.msg = e.msg) ORDER BY e.msg LIMIT ?2)",
	/* the oldest rows only: a pass costs the same however many are kept */
	[S_RETIRE_APPEVENTS] = "DELETE FROM appevent WHERE id IN (SELECT id "
	    "FROM appevent ORDER BY id LIMIT ?2) AND time < ?1",
	[S_LEASE] = "UPDATE deliveries SET state = 'inflight', "
	    "lease_until = ?3, receipt = ?4, updated_at = ?5 "
	    "WHERE sub_id = ?1 AND msg = ?2 AND state = 'pending'",
	/* deliveries_by_receipt */
	[S_RECEIPT] = "SELECT sub_id, msg FROM deliveries WHERE receipt = ? "
	    "AND state = 'inflight' AND lease_until >= ?",
	[S_LEASES_EXPIRED] = "SELECT sub_id, msg FROM deliveries "
	    "WHERE state = 'inflight' AND lease_until < ?1 LIMIT ?2",
	[S_NEXT_LEASE] = "SELECT min(lease_until) FROM deliveries "
	    "WHERE state = 'inflight' AND lease_until IS NOT NULL",
	[S_SAVEPOINT] = "SAVEPOINT job",
	[S_RELEASE] = "RELEASE job",
	[S_ROLLBACK_TO] = "ROLLBACK TO job",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	/* a reader's snapshot over several statements */
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};
