/*
 * store.c: the durable store, and the only file that includes sqlite3.h.
 * Applies the embedded migrations at open, owns one writer connection driven
 * by one thread that commits queued jobs in groups (many events per fsync),
 * and a pool of read connections (WAL: readers never block the writer).
 * Every statement is prepared once per connection and reused.
 *
 * Threads: store_submit, store_run and the read functions from any thread;
 * store_tx_* only on the writer thread, inside a job.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sqlite3.h>

#include "embedded.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* Every statement, prepared on first use on each connection. */
enum stmt {
	S_EVENT_INSERT,
	S_EVENT_DUP,
	S_EVENT_GET,
	S_EVENTS_LIST,
	S_TOPIC_INSERT,
	S_TOPIC_UPDATE,
	S_TOPIC_DELETE,
	S_TOPIC_SUBS,
	S_TOPIC_GET,
	S_TOPICS_LIST,
	S_MAX_MSG,
	S_SUB_INSERT,
	S_SUB_UPDATE,
	S_SUB_DELETE,
	S_SUB_PAUSE,
	S_RESUME_DUE,
	S_SUBS_ALL,
	S_SUB_GET,
	S_SUB_STATUS,
	S_SUB_COUNTS,
	S_DELIVERY_INSERT,
	S_MESSAGES_ANY,
	S_MESSAGES_STATE,
	S_MESSAGE_GET,
	S_ATTEMPTS_LIST,
	S_EVENT_SUBS,
	S_RETRY_STATE,
	S_RETRY_MSG,
	S_PURGE_STATE,
	S_PURGE_MSG,
	S_APPEVENT_INSERT,
	S_APPEVENTS_LIST,
	S_EVENTTYPE_UPSERT,
	S_QCOUNT_ADD,
	S_QCOUNT_ORPHANS,
	S_EVENTS_ADD,
	S_EVENTS_RECOUNT,
	S_DELIVERY_STATE,
	S_EVENTTYPES_LIST,
	S_TOTALS,
	S_TOTAL_COUNTS,
	S_QUEUE_COUNTS,
	S_SEALED,
	S_DUE_STRICT,
	S_DUE_AFTER,
	S_NEXT_DUE,
	S_ATTEMPT_INSERT,
	S_DELIVERY_DONE,
	S_DELIVERY_FAIL,
	S_SUB_OUTCOME,
	S_SUB_OUTCOME_OK,
	S_SUB_STATE,
	S_SUB_VALIDATED,
	S_RECOVER,
	S_RETIRE_DELIVERIES,
	S_RETIRE_EVENTS,
	S_LEASE,
	S_RECEIPT,
	S_LEASES_EXPIRED,
	S_NEXT_LEASE,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
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
	    "spec = ?4, secret = ?5, updated_at = ?6, validated = 0, "
	    "allowed_rate = 0, "
	    "paused_until = CASE WHEN pause_reason = 'gone' AND "
	    "?3 <> 'disabled' THEN 0 ELSE paused_until END, "
	    "pause_reason = CASE WHEN pause_reason = 'gone' AND "
	    "?3 <> 'disabled' THEN NULL ELSE pause_reason END WHERE id = ?1",
	[S_SUB_DELETE] = "DELETE FROM subscriptions WHERE id = ?",
	[S_SUB_PAUSE] = "UPDATE subscriptions SET paused_until = ?2, "
	    "pause_reason = ?3, failures = CASE WHEN ?2 = 0 THEN 0 "
	    "ELSE failures END WHERE id = ?1",
	[S_RESUME_DUE] = "UPDATE deliveries INDEXED BY deliveries_by_state "
	    "SET next_attempt_at = 0 "
	    "WHERE sub_id = ? AND state = 'pending' AND next_attempt_at > 0",
	[S_SUBS_ALL] = "SELECT s.id, s.topic_id, t.name, s.name, s.state, "
	    "s.spec, s.secret, s.created_at, s.updated_at FROM subscriptions s "
	    "JOIN topics t ON t.id = s.topic_id ORDER BY s.id",
	[S_SUB_GET] = "SELECT s.id, s.topic_id, t.name, s.name, s.state, "
	    "s.spec, s.secret, s.created_at, s.updated_at FROM subscriptions s "
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
	[S_APPEVENT_INSERT] = "INSERT INTO appevent (operation, entity, "
	    "entity_id, actor, time, metadata) VALUES (?, ?, ?, ?, ?, ?)",
	[S_APPEVENTS_LIST] = "SELECT id, operation, entity, entity_id, actor, "
	    "time, metadata FROM appevent WHERE (?1 IS NULL OR operation = ?1) "
	    "AND id < ?2 ORDER BY id DESC LIMIT ?3",
	[S_EVENTTYPE_UPSERT] = "INSERT INTO eventtypes (topic_id, type, "
	    "source, count, first_seen, last_seen, example_msg) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
	    "ON CONFLICT (topic_id, type, source) DO UPDATE SET "
	    "count = count + excluded.count, last_seen = excluded.last_seen",
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
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int busy; /* reader pool: handed out */
};

struct store_job {
	store_apply_fn apply;
	store_done_fn done;
	void *arg;
	int exclusive;
	int rc;
	struct store_job *next;
};

/* Counts of one (topic, type, source) seen in a transaction. */
struct store_touch {
	int64_t topic_id;
	char *type;
	char *source;
	int64_t count;
	int64_t msg; /* an example: the first seen */
};

struct store_touches {
	struct store_touch *t;
	size_t n;
};

/* Changes to queue_counts: n messages more (or less) in a queue's state. */
struct store_qcount {
	int64_t sub_id;
	int state;
	int64_t n;
};

struct store_qcounts {
	struct store_qcount *c;
	size_t n, size;
	size_t *slot;	/* open addressing on (sub_id, state): index + 1 */
	size_t nslot;	/* a power of two, 2 * size */
	int orphans;	/* subscriptions went: drop their rows */
	int64_t events; /* events stored (or removed: < 0) */
	int recount;	/* events went by a cascade: count them again */
};

struct store_tx {
	struct store *st;
	int64_t now; /* ms since the epoch when the transaction began */
	struct store_touches job;   /* event types the running job saw */
	struct store_touches batch; /* those of the jobs that succeeded */
	struct store_qcounts qjob;  /* queue count changes of the job */
	struct store_qcounts qbatch; /* those of the jobs that succeeded */
};

#define STORE_READERS 32

struct store {
	struct store_options opt;
	char *path;
	struct store_conn writer;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the job queue and the reader pool */
	pthread_cond_t wake;  /* jobs queued, or stopping */
	pthread_cond_t freed; /* a reader came back */
	struct store_job *head, *tail;
	int stopping;
	struct store_conn readers[STORE_READERS];
	int nreaders;	  /* opened so far */
	int64_t last_msg; /* writer thread only */
	int version;
	/* ms of the last failed write and of the last commit that stored
	 * events: the store takes writes unless the failure is the newer */
	_Atomic int64_t failed_at;
	_Atomic int64_t wrote_at;
};

static int64_t
store_clock_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static sqlite3_stmt *
store_stmt(struct store_conn *c, enum stmt s)
{
	if (c->stmt[s] == NULL &&
	    sqlite3_prepare_v3(c->db, stmt_sql[s], -1,
		SQLITE_PREPARE_PERSISTENT, &c->stmt[s], NULL) != SQLITE_OK) {
		log_error("store", "prepare %d: %s", (int)s,
		    sqlite3_errmsg(c->db));
		return NULL;
	}
	return c->stmt[s];
}

static void
store_done_stmt(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows. */
static int
store_exec_stmt(struct store_conn *c, enum stmt which)
{
	sqlite3_stmt *s = store_stmt(c, which);
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	rc = sqlite3_step(s);
	store_done_stmt(s);
	if (rc != SQLITE_DONE) {
		log_error("store", "%s: %s", stmt_sql[which],
		    sqlite3_errmsg(c->db));
		return STORE_FAILED;
	}
	return STORE_OK;
}

static int
store_conn_open(struct store_conn *c, const char *path, int writer,
    const struct store_options *opt, char **cause)
{
	char *err = NULL, *sql;
	int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	    SQLITE_OPEN_READONLY;

	memset(c, 0, sizeof *c);
	if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		*cause = xasprintf("open %s: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sqlite3_close(c->db);
		c->db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(c->db, 5000);
	sqlite3_extended_result_codes(c->db, 1);
	sql = xasprintf("PRAGMA foreign_keys = ON; %s%s%s",
	    writer ? "PRAGMA journal_mode = WAL; " : "",
	    writer ? (opt->sync_full ? "PRAGMA synchronous = FULL; " :
			"PRAGMA synchronous = NORMAL; ") : "",
	    /* memory has a bound: 16 MB for the writer, 2 MB a reader */
	    writer ? "PRAGMA cache_size = -16000;" :
	    "PRAGMA cache_size = -2000;");
	if (sqlite3_exec(c->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		*cause = xasprintf("configure %s: %s", path, err);
		sqlite3_free(err);
		free(sql);
		return -1;
	}
	free(sql);
	if (writer && opt->max_pages > 0) {
		sql = xasprintf("PRAGMA max_page_count = %lld",
		    (long long)opt->max_pages);
		sqlite3_exec(c->db, sql, NULL, NULL, NULL);
		free(sql);
	}
	return 0;
}

static void
store_conn_close(struct store_conn *c)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		log_error("store", "close: %s", sqlite3_errmsg(c->db));
	c->db = NULL;
}

/* ---- migrations ---------------------------------------------------- */

/* 0 if no row breaks a foreign key, else -1 and *err names the first. */
static int
store_migrate_fk_check(sqlite3 *db, char **err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL) !=
	    SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*err = sqlite3_mprintf("table %s row %lld breaks a foreign key "
		    "to %s", sqlite3_column_text(s, 0),
		    (long long)sqlite3_column_int64(s, 1),
		    sqlite3_column_text(s, 2));
	else if (rc != SQLITE_DONE)
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Migrations are sql/NNN_name.sql; NNN is the version each brings. */
static int
store_migrate(struct store *st, char **cause)
{
	const struct embedded_file *f;
	sqlite3 *db = st->writer.db;
	sqlite3_stmt *s;
	int have, latest = 0, v;
	char *err = NULL, *sql;

	for (f = embedded_sql; f->name != NULL; f++)
		if ((v = atoi(f->name)) > latest)
			latest = v;
	/*
	 * Foreign keys are off while migrations run (a pragma a transaction
	 * cannot change), so a table built again does not cascade its drop;
	 * they are checked before the commit and turned on again after.
	 */
	if (sqlite3_exec(db, "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE",
	    NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		goto fail;
	}
	have = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (have > latest) {
		*cause = xasprintf("database %s has schema version %d, newer "
		    "than this sluiced knows (%d): use a newer sluiced",
		    st->path, have, latest);
		sqlite3_exec(db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL,
		    NULL);
		return -1;
	}
	for (f = embedded_sql; f->name != NULL; f++) {
		if ((v = atoi(f->name)) <= have)
			continue;
		if (sqlite3_exec(db, (const char *)f->data, NULL, NULL,
			&err) != SQLITE_OK) {
			sql = xasprintf("migration %s: %s", f->name, err);
			sqlite3_free(err);
			err = sqlite3_mprintf("%s", sql);
			free(sql);
			goto fail;
		}
		log_info("store", "applied migration %s", f->name);
	}
	if (latest > have && store_migrate_fk_check(db, &err) != 0)
		goto fail;
	sql = xasprintf("PRAGMA user_version = %d", latest);
	v = sqlite3_exec(db, sql, NULL, NULL, &err);
	free(sql);
	if (v != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT; PRAGMA foreign_keys = ON", NULL, NULL,
	    &err) != SQLITE_OK)
		goto fail;
	st->version = latest;
	return 0;
fail:
	*cause = xasprintf("migrate %s: %s", st->path, err ? err : "?");
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	return -1;
}

/* ---- the writer ---------------------------------------------------- */

static int store_tx_exec(struct store_tx *, enum stmt, int64_t *,
    const char *, ...);

static void
store_touch_add(struct store_touches *ts, int64_t topic_id, const char *type,
    const char *source, int64_t count, int64_t msg)
{
	struct store_touch *t;
	size_t i;

	for (i = 0; i < ts->n; i++) {
		t = &ts->t[i];
		if (t->topic_id == topic_id && strcmp(t->type, type) == 0 &&
		    strcmp(t->source, source) == 0) {
			t->count += count;
			return;
		}
	}
	ts->t = xrealloc(ts->t, (ts->n + 1) * sizeof *ts->t);
	t = &ts->t[ts->n++];
	t->topic_id = topic_id;
	t->type = xstrdup(type);
	t->source = xstrdup(source);
	t->count = count;
	t->msg = msg;
}

static void
store_touches_clear(struct store_touches *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->t[i].type);
		free(ts->t[i].source);
	}
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

void
store_tx_eventtype_touch(struct store_tx *tx, int64_t topic_id,
    const char *type, const char *source, int64_t msg)
{
	store_touch_add(&tx->job, topic_id, type, source, 1, msg);
}

static size_t
store_qcount_hash(int64_t sub_id, int state, size_t nslot)
{
	uint64_t h = ((uint64_t)sub_id * 4 + (uint64_t)state) *
	    UINT64_C(0x9E3779B97F4A7C15);

	return (size_t)(h >> 32) & (nslot - 1);
}

/* The slot of (sub_id, state): holding it, or empty for it. */
static size_t *
store_qcount_slot(struct store_qcounts *q, int64_t sub_id, int state)
{
	size_t i = store_qcount_hash(sub_id, state, q->nslot);
	struct store_qcount *c;

	while (q->slot[i] != 0) {
		c = &q->c[q->slot[i] - 1];
		if (c->sub_id == sub_id && c->state == state)
			break;
		i = (i + 1) & (q->nslot - 1);
	}
	return &q->slot[i];
}

static void
store_qcount_add(struct store_qcounts *q, int64_t sub_id, int state,
    int64_t n)
{
	size_t *slot, i;

	if (q->n == q->size) {
		q->size = q->size ? q->size * 2 : 16;
		q->c = xrealloc(q->c, q->size * sizeof *q->c);
		free(q->slot);
		q->nslot = q->size * 2;
		q->slot = xcalloc(q->nslot, sizeof *q->slot);
		for (i = 0; i < q->n; i++)
			*store_qcount_slot(q, q->c[i].sub_id, q->c[i].state) =
			    i + 1;
	}
	slot = store_qcount_slot(q, sub_id, state);
	if (*slot != 0) {
		q->c[*slot - 1].n += n;
		return;
	}
	q->c[q->n++] = (struct store_qcount){ sub_id, state, n };
	*slot = q->n;
}

static void
store_qcounts_clear(struct store_qcounts *q)
{
	free(q->c);
	free(q->slot);
	memset(q, 0, sizeof *q);
}

/*
 * n messages more (or fewer) in the queue's state.  Summed per transaction
 * and written once before the commit: a row per (queue, state) touched,
 * not one per message.
 */
static void
store_tx_count(struct store_tx *tx, int64_t sub_id, int state, int64_t n)
{
	if (n != 0)
		store_qcount_add(&tx->qjob, sub_id, state, n);
}

/* Writes the batch's queue count changes. */
static int
store_tx_qcount_flush(struct store_tx *tx)
{
	struct store_qcount *c;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < tx->qbatch.n && rc == STORE_OK; i++) {
		c = &tx->qbatch.c[i];
		if (c->n != 0)
			rc = store_tx_exec(tx, S_QCOUNT_ADD, NULL, "iti",
			    c->sub_id, delivery_state_names[c->state], c->n);
	}
	if (rc == STORE_OK && tx->qbatch.orphans)
		rc = store_tx_exec(tx, S_QCOUNT_ORPHANS, NULL, "");
	if (rc == STORE_OK && tx->qbatch.recount)
		rc = store_tx_exec(tx, S_EVENTS_RECOUNT, NULL, "");
	else if (rc == STORE_OK && tx->qbatch.events != 0)
		rc = store_tx_exec(tx, S_EVENTS_ADD, NULL, "i",
		    tx->qbatch.events);
	store_qcounts_clear(&tx->qbatch);
	return rc;
}

/* Ends a job: its event types and counts stand only if it succeeded. */
static void
store_tx_job_end(struct store_tx *tx, int ok)
{
	size_t i;

	for (i = 0; ok && i < tx->job.n; i++)
		store_touch_add(&tx->batch, tx->job.t[i].topic_id,
		    tx->job.t[i].type, tx->job.t[i].source, tx->job.t[i].count,
		    tx->job.t[i].msg);
	store_touches_clear(&tx->job);
	for (i = 0; ok && i < tx->qjob.n; i++)
		store_qcount_add(&tx->qbatch, tx->qjob.c[i].sub_id,
		    tx->qjob.c[i].state, tx->qjob.c[i].n);
	if (ok && tx->qjob.orphans)
		tx->qbatch.orphans = 1;
	if (ok && tx->qjob.recount)
		tx->qbatch.recount = 1;
	if (ok)
		tx->qbatch.events += tx->qjob.events;
	store_qcounts_clear(&tx->qjob);
}

/* Writes the batch's event-type counts: one upsert per distinct type. */
static int
store_tx_touch_flush(struct store_tx *tx)
{
	struct store_touch *t;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < tx->batch.n && rc == STORE_OK; i++) {
		t = &tx->batch.t[i];
		rc = store_tx_exec(tx, S_EVENTTYPE_UPSERT, NULL, "ittiii",
		    t->topic_id, t->type, t->source, t->count, tx->now, t->msg);
	}
	store_touches_clear(&tx->batch);
	return rc;
}

static double
store_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
store_run_batch(struct store *st, struct store_job *batch)
{
	struct store_tx tx = { .st = st, .now = store_clock_ms() };
	struct store_job *j, *next;
	double started = store_seconds();
	int failed, inserted, jobs = 0;

	failed = store_exec_stmt(&st->writer, S_BEGIN) != STORE_OK;
	for (j = batch; j != NULL && !failed; j = j->next) {
		jobs++;
		if (store_exec_stmt(&st->writer, S_SAVEPOINT) != STORE_OK) {
			failed = 1;
			break;
		}
		j->rc = j->apply(&tx, j->arg);
		/*
		 * SQLITE_FULL or an I/O error may roll back the whole
		 * transaction: then the next SAVEPOINT would open a new one
		 * that RELEASE commits, storing later jobs that are then
		 * answered as failed.  Fail the batch instead.
		 */
		if (j->rc != 0 && sqlite3_get_autocommit(st->writer.db))
			failed = 1;
		else if (j->rc != 0 &&
		    store_exec_stmt(&st->writer, S_ROLLBACK_TO) != STORE_OK)
			failed = 1;
		else if (store_exec_stmt(&st->writer, S_RELEASE) != STORE_OK)
			failed = 1;
		store_tx_job_end(&tx, j->rc == 0 && !failed);
	}
	/* events were stored by a job that succeeded (each counts a type) */
	inserted = tx.batch.n > 0;
	if (!failed && store_tx_touch_flush(&tx) != STORE_OK)
		failed = 1;
	if (!failed && store_tx_qcount_flush(&tx) != STORE_OK)
		failed = 1;
	if (!failed && store_exec_stmt(&st->writer, S_COMMIT) != STORE_OK)
		failed = 1;
	if (failed)
		atomic_store(&st->failed_at, tx.now);
	else if (inserted)
		atomic_store(&st->wrote_at, tx.now + 1);
	if (!failed && st->opt.on_commit != NULL)
		st->opt.on_commit(st->opt.cls, jobs, store_seconds() - started);
	store_touches_clear(&tx.job);
	store_touches_clear(&tx.batch);
	store_qcounts_clear(&tx.qjob);
	store_qcounts_clear(&tx.qbatch);
	if (failed) {
		if (sqlite3_get_autocommit(st->writer.db) == 0)
			store_exec_stmt(&st->writer, S_ROLLBACK);
		/* the msg ids handed out may come again: re-read the last */
		st->last_msg = 0;
	}
	for (j = batch; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg, failed ? STORE_FAILED : j->rc);
		free(j);
	}
}

static void *
store_writer_main(void *arg)
{
	struct store *st = arg;
	struct store_job *batch, **tailp, *j;
	int n;

	pthread_setname_np(pthread_self(), "sluice-writer");
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->head == NULL && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (st->head == NULL)
			break;
		/* a run of plain jobs, or one exclusive job alone */
		batch = st->head;
		tailp = &batch;
		n = 0;
		for (j = st->head; j != NULL && n < st->opt.max_batch; j = j->next) {
			if (j->exclusive && n > 0)
				break;
			tailp = &j->next;
			n++;
			if (j->exclusive)
				break;
		}
		st->head = *tailp;
		*tailp = NULL;
		if (st->head == NULL)
			st->tail = NULL;
		pthread_mutex_unlock(&st->lock);
		store_run_batch(st, batch);
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

void
store_submit(struct store *st, store_apply_fn apply, store_done_fn done,
    void *arg, int exclusive)
{
	struct store_job *j = xcalloc(1, sizeof *j);

	j->apply = apply;
	j->done = done;
	j->arg = arg;
	j->exclusive = exclusive;
	pthread_mutex_lock(&st->lock);
	if (st->tail != NULL)
		st->tail->next = j;
	else
		st->head = j;
	st->tail = j;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
}

struct store_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int finished;
	int rc;
	store_apply_fn apply;
	void *arg;
};

static int
store_wait_apply(struct store_tx *tx, void *arg)
{
	struct store_wait *w = arg;

	return w->apply(tx, w->arg);
}

static void
store_wait_done(void *arg, int rc)
{
	struct store_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->rc = rc;
	w->finished = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int
store_run(struct store *st, store_apply_fn apply, void *arg, int exclusive)
{
	struct store_wait w = { .apply = apply, .arg = arg };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	store_submit(st, store_wait_apply, store_wait_done, &w, exclusive);
	pthread_mutex_lock(&w.lock);
	while (!w.finished)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return w.rc;
}

int64_t
store_tx_now(struct store_tx *tx)
{
	return tx->now;
}

/* ---- open and close ------------------------------------------------ */

struct store *
store_open(const struct store_options *opt, char **cause)
{
	struct store *st = xcalloc(1, sizeof *st);

	st->opt = *opt;
	if (st->opt.max_batch <= 0)
		st->opt.max_batch = 512;
	st->path = xstrdup(opt->path);
	st->opt.path = st->path;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->wake, NULL);
	pthread_cond_init(&st->freed, NULL);
	if (store_conn_open(&st->writer, st->path, 1, opt, cause) != 0 ||
	    store_migrate(st, cause) != 0)
		goto fail;
	if (pthread_create(&st->thread, NULL, store_writer_main, st) != 0) {
		*cause = xstrdup("cannot start the writer thread");
		goto fail;
	}
	return st;
fail:
	store_conn_close(&st->writer);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	pthread_cond_destroy(&st->freed);
	free(st->path);
	free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	for (i = 0; i < st->nreaders; i++)
		store_conn_close(&st->readers[i]);
	store_conn_close(&st->writer);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->wake);
	pthread_cond_destroy(&st->freed);
	free(st->path);
	free(st);
}

int
store_schema_version(struct store *st)
{
	return st->version;
}

/* ---- the reader pool ----------------------------------------------- */

static struct store_conn *
store_reader(struct store *st)
{
	struct store_conn *c = NULL;
	char *cause = NULL;
	int i;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		for (i = 0; i < st->nreaders; i++)
			if (!st->readers[i].busy) {
				c = &st->readers[i];
				goto found;
			}
		if (st->nreaders < STORE_READERS)
			break;
		pthread_cond_wait(&st->freed, &st->lock);
	}
	c = &st->readers[st->nreaders];
	if (store_conn_open(c, st->path, 0, &st->opt, &cause) != 0) {
		log_error("store", "reader: %s", cause);
		free(cause);
		store_conn_close(c);
		pthread_mutex_unlock(&st->lock);
		return NULL;
	}
	st->nreaders++;
found:
	c->busy = 1;
	pthread_mutex_unlock(&st->lock);
	return c;
}

static void
store_reader_put(struct store *st, struct store_conn *c)
{
	pthread_mutex_lock(&st->lock);
	c->busy = 0;
	pthread_cond_signal(&st->freed);
	pthread_mutex_unlock(&st->lock);
}

/* ---- rows ---------------------------------------------------------- */

static char *
store_col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static void
store_read_topic(sqlite3_stmt *s, struct topic_row *t)
{
	t->id = sqlite3_column_int64(s, 0);
	t->name = store_col_text(s, 1);
	t->description = store_col_text(s, 2);
	t->publish_token = store_col_text(s, 3);
	t->created_at = sqlite3_column_int64(s, 4);
	t->updated_at = sqlite3_column_int64(s, 5);
}

/* Reads msg, topic_id, topic, attrs, data_kind, data, received_at at i. */
static void
store_read_event_at(sqlite3_stmt *s, int i, struct event_row *e)
{
	const void *p;
	int n;

	e->msg = sqlite3_column_int64(s, i);
	e->topic_id = sqlite3_column_int64(s, i + 1);
	e->topic = store_col_text(s, i + 2);
	e->attrs = store_col_text(s, i + 3);
	e->kind = sqlite3_column_int(s, i + 4);
	p = sqlite3_column_blob(s, i + 5);
	n = sqlite3_column_bytes(s, i + 5);
	e->data = NULL;
	e->data_len = 0;
	if (p != NULL || e->kind != 0) {
		e->data = xmalloc((size_t)n + 1);
		if (n > 0)
			memcpy(e->data, p, (size_t)n);
		e->data[n] = '\0';
		e->data_len = (size_t)n;
	}
	e->received_at = sqlite3_column_int64(s, i + 6);
}

static void
store_read_event(sqlite3_stmt *s, struct event_row *e)
{
	store_read_event_at(s, 0, e);
}

void
topic_row_clear(struct topic_row *t)
{
	free(t->name);
	free(t->description);
	free(t->publish_token);
	memset(t, 0, sizeof *t);
}

void
topic_rows_free(struct topic_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		topic_row_clear(&rows[i]);
	free(rows);
}

void
event_row_clear(struct event_row *e)
{
	free(e->topic);
	free(e->attrs);
	free(e->data);
	memset(e, 0, sizeof *e);
}

void
event_rows_free(struct event_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		event_row_clear(&rows[i]);
	free(rows);
}

/*
 * Steps a bound query on a reader, handing each row to fn; the rows are
 * collected by the callers below.  Returns STORE_OK or STORE_FAILED.
 */
static int
store_query(struct store_conn *c, enum stmt which, sqlite3_stmt *s,
    void (*fn)(sqlite3_stmt *, void *), void *arg)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(s, arg);
	store_done_stmt(s);
	if (rc != SQLITE_DONE) {
		log_error("store", "%s: %s", stmt_sql[which],
		    sqlite3_errmsg(c->db));
		return STORE_FAILED;
	}
	return STORE_OK;
}

/*
 * The one row a lookup by key found, moved to out (size bytes); frees the
 * rows.  STORE_NOTFOUND when there was none.
 */
static int store_select(struct store *, enum stmt, size_t,
    void (*)(sqlite3_stmt *, void *), void **, size_t *, const char *, ...);

static int
store_one(int rc, void *rows, size_t n, void *out, size_t size)
{
	if (rc == STORE_OK && n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		memcpy(out, rows, size);
	free(rows);
	return rc;
}

struct store_rows {
	void *rows;
	size_t n;
	size_t size; /* bytes of one row */
	void (*read)(sqlite3_stmt *, void *row);
};

static void
store_collect(sqlite3_stmt *s, void *arg)
{
	struct store_rows *r = arg;

	r->rows = xrealloc(r->rows, (r->n + 1) * r->size);
	memset((char *)r->rows + r->n * r->size, 0, r->size);
	r->read(s, (char *)r->rows + r->n * r->size);
	r->n++;
}

static void
store_read_topic_v(sqlite3_stmt *s, void *row)
{
	store_read_topic(s, row);
}

static void
store_read_event_v(sqlite3_stmt *s, void *row)
{
	store_read_event(s, row);
}

/* ---- topics -------------------------------------------------------- */

int
store_topic_get(struct store *st, const char *name, struct topic_row *out)
{
	struct topic_row *rows;
	size_t n;
	int rc = store_select(st, S_TOPIC_GET, sizeof *rows,
	    store_read_topic_v, (void **)&rows, &n, "t", name);

	return store_one(rc, rows, n, out, sizeof *out);
}

int
store_topics_list(struct store *st, const char *after, int limit,
    struct topic_row **rows, size_t *n)
{
	struct store_rows r = { NULL, 0, sizeof **rows, store_read_topic_v };
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL || (s = store_stmt(c, S_TOPICS_LIST)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, limit);
	rc = store_query(c, S_TOPICS_LIST, s, store_collect, &r);
	store_reader_put(st, c);
	*rows = r.rows;
	*n = r.n;
	return rc;
}

/* Steps a write statement on the writer; maps constraint failures. */
static int
store_tx_step(struct store_tx *tx, enum stmt which, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	store_done_stmt(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return STORE_CONFLICT;
	log_error("store", "%s: %s", stmt_sql[which],
	    sqlite3_errmsg(tx->st->writer.db));
	atomic_store(&tx->st->failed_at, tx->now);
	return STORE_FAILED;
}

int
store_writable(struct store *st)
{
	int64_t failed = atomic_load(&st->failed_at);

	return failed == 0 || atomic_load(&st->wrote_at) > failed;
}

int
store_tx_topic_insert(struct store_tx *tx, const char *name,
    const char *description, const char *token, int64_t *id)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_TOPIC_INSERT);
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, description ? description : "", -1,
	    SQLITE_STATIC);
	if (token != NULL)
		sqlite3_bind_text(s, 3, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, tx->now);
	sqlite3_bind_int64(s, 5, tx->now);
	rc = store_tx_step(tx, S_TOPIC_INSERT, s);
	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(tx->st->writer.db);
	return rc;
}

int
store_tx_topic_update(struct store_tx *tx, int64_t id,
    const char *description, const char *token)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_TOPIC_UPDATE);
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_text(s, 1, description ? description : "", -1,
	    SQLITE_STATIC);
	if (token != NULL)
		sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, tx->now);
	sqlite3_bind_int64(s, 4, id);
	rc = store_tx_step(tx, S_TOPIC_UPDATE, s);
	if (rc == STORE_OK && sqlite3_changes(tx->st->writer.db) == 0)
		rc = STORE_NOTFOUND;
	return rc;
}

int
store_tx_topic_delete(struct store_tx *tx, int64_t id)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_TOPIC_DELETE);
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, id);
	rc = store_tx_step(tx, S_TOPIC_DELETE, s);
	if (rc == STORE_OK && sqlite3_changes(tx->st->writer.db) == 0)
		rc = STORE_NOTFOUND;
	tx->qjob.orphans = 1; /* its subscriptions' queues went too */
	tx->qjob.recount = 1; /* and its events */
	return rc;
}

int
store_tx_topic_subscriptions(struct store_tx *tx, int64_t id, int64_t *count)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_TOPIC_SUBS);
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(s, 0);
	store_done_stmt(s);
	return rc == SQLITE_ROW ? STORE_OK : STORE_FAILED;
}

/* ---- events -------------------------------------------------------- */

/* The next message id: the millisecond in the high bits, then a count. */
static int
store_next_msg(struct store_tx *tx, int64_t *msg)
{
	struct store *st = tx->st;
	sqlite3_stmt *s;
	int64_t t = tx->now << 20;

	if (st->last_msg == 0) {
		if ((s = store_stmt(&st->writer, S_MAX_MSG)) == NULL)
			return STORE_FAILED;
		if (sqlite3_step(s) == SQLITE_ROW)
			st->last_msg = sqlite3_column_int64(s, 0);
		store_done_stmt(s);
	}
	st->last_msg = t > st->last_msg ? t : st->last_msg + 1;
	*msg = st->last_msg;
	return STORE_OK;
}

int
store_tx_event_insert(struct store_tx *tx, int64_t topic_id,
    const struct event_in *ev, int64_t *msg)
{
	struct store_conn *w = &tx->st->writer;
	sqlite3_stmt *s = store_stmt(w, S_EVENT_INSERT);
	int rc;

	if (s == NULL || store_next_msg(tx, msg) != STORE_OK)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, *msg);
	sqlite3_bind_int64(s, 2, topic_id);
	sqlite3_bind_text(s, 3, ev->ce_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, ev->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, ev->attrs, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, ev->kind);
	if (ev->kind != 0) {
		sqlite3_bind_blob(s, 8, ev->data ? ev->data : "",
		    (int)ev->data_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 9, ev->data ? ev->data : "",
		    (int)(ev->data_len < 64 ? ev->data_len : 64),
		    SQLITE_STATIC);
	}
	sqlite3_bind_int64(s, 10, tx->now);
	rc = store_tx_step(tx, S_EVENT_INSERT, s);
	if (rc != STORE_OK)
		return rc;
	if (sqlite3_changes(w->db) == 1) {
		tx->qjob.events++;
		return STORE_OK;
	}
	/* a duplicate: report the message it repeats */
	if ((s = store_stmt(w, S_EVENT_DUP)) == NULL)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, topic_id);
	sqlite3_bind_text(s, 2, ev->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ev->ce_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*msg = sqlite3_column_int64(s, 0);
	store_done_stmt(s);
	return rc == SQLITE_ROW ? STORE_CONFLICT : STORE_FAILED;
}

int
store_event_get(struct store *st, int64_t msg, struct event_row *out)
{
	struct event_row *rows;
	size_t n;
	int rc = store_select(st, S_EVENT_GET, sizeof *rows,
	    store_read_event_v, (void **)&rows, &n, "i", msg);

	return store_one(rc, rows, n, out, sizeof *out);
}

int
store_events_list(struct store *st, const struct event_query *q,
    struct event_row **rows, size_t *n)
{
	struct store_rows r = { NULL, 0, sizeof **rows, store_read_event_v };
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL || (s = store_stmt(c, S_EVENTS_LIST)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	sqlite3_bind_int64(s, 1, q->topic_id);
	sqlite3_bind_int64(s, 2, q->after);
	if (q->type != NULL)
		sqlite3_bind_text(s, 3, q->type, -1, SQLITE_STATIC);
	if (q->source != NULL)
		sqlite3_bind_text(s, 4, q->source, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, q->limit);
	rc = store_query(c, S_EVENTS_LIST, s, store_collect, &r);
	store_reader_put(st, c);
	*rows = r.rows;
	*n = r.n;
	return rc;
}


/* ---- generic binding ----------------------------------------------- */

/*
 * Binds parameters 1.. by fmt: 'i' int64_t, 't' const char * (NULL binds
 * NULL), 'b' const void * and size_t (a blob), 'n' NULL.
 */
static void
store_bindv(sqlite3_stmt *s, const char *fmt, va_list ap)
{
	const char *t;
	const void *p;
	size_t n;
	int i;

	for (i = 1; *fmt != '\0'; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			if ((t = va_arg(ap, const char *)) != NULL)
				sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			if (p != NULL)
				sqlite3_bind_blob(s, i, p, (int)n,
				    SQLITE_STATIC);
			break;
		default:
			break;
		}
	}
}

/* Runs a write on the writer; *changes gets the rows it changed. */
static int
store_tx_exec(struct store_tx *tx, enum stmt which, int64_t *changes,
    const char *fmt, ...)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, which);
	va_list ap;
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	va_start(ap, fmt);
	store_bindv(s, fmt, ap);
	va_end(ap);
	rc = store_tx_step(tx, which, s);
	if (changes != NULL)
		*changes = rc == STORE_OK ? sqlite3_changes(tx->st->writer.db) : 0;
	return rc;
}

/* Reads rows on the writer, inside the job's transaction. */
static int
store_tx_select(struct store_tx *tx, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, ...)
{
	struct store_rows r = { NULL, 0, size, read };
	struct store_conn *c = &tx->st->writer;
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	*rows = NULL;
	*n = 0;
	if ((s = store_stmt(c, which)) == NULL)
		return STORE_FAILED;
	va_start(ap, fmt);
	store_bindv(s, fmt, ap);
	va_end(ap);
	rc = store_query(c, which, s, store_collect, &r);
	*rows = r.rows;
	*n = r.n;
	return rc;
}

/* Reads rows on a pooled reader, each through read into a grown array. */
static int
store_select(struct store *st, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, ...)
{
	struct store_rows r = { NULL, 0, size, read };
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	*rows = NULL;
	*n = 0;
	if (c == NULL || (s = store_stmt(c, which)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	va_start(ap, fmt);
	store_bindv(s, fmt, ap);
	va_end(ap);
	rc = store_query(c, which, s, store_collect, &r);
	store_reader_put(st, c);
	*rows = r.rows;
	*n = r.n;
	return rc;
}

static unsigned char *
store_col_blob(sqlite3_stmt *s, int i, size_t *len)
{
	const void *p = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);
	unsigned char *out;

	*len = 0;
	if (p == NULL)
		return NULL;
	out = xmalloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

const char *const delivery_state_names[4] = { "pending", "inflight",
	"delivered", "dead" };

static int
store_state_index(const unsigned char *s)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp((const char *)s, delivery_state_names[i]) == 0)
			return i;
	return DS_PENDING;
}

/* ---- subscriptions ------------------------------------------------- */

int
store_tx_sub_insert(struct store_tx *tx, const struct sub_row *r, int64_t *id)
{
	int rc = store_tx_exec(tx, S_SUB_INSERT, NULL, "ittttii", r->topic_id,
	    r->name, r->state, r->spec, r->secret, tx->now, tx->now);

	if (rc == STORE_OK)
		*id = sqlite3_last_insert_rowid(tx->st->writer.db);
	return rc;
}

int
store_tx_sub_update(struct store_tx *tx, const struct sub_row *r)
{
	int64_t n;
	int rc = store_tx_exec(tx, S_SUB_UPDATE, &n, "itttti", r->id, r->name,
	    r->state, r->spec, r->secret, tx->now);

	return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

int
store_tx_sub_delete(struct store_tx *tx, int64_t id)
{
	int64_t n;
	int rc = store_tx_exec(tx, S_SUB_DELETE, &n, "i", id);

	tx->qjob.orphans = 1; /* its queue went with it */
	return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

int
store_tx_sub_pause(struct store_tx *tx, int64_t id, int64_t until,
    const char *reason)
{
	int64_t n;
	int rc = store_tx_exec(tx, S_SUB_PAUSE, &n, "iit", id, until,
	    until > 0 ? reason : NULL);

	if (rc == STORE_OK && n == 0)
		return STORE_NOTFOUND;
	/* resuming makes the waiting messages due now */
	if (rc == STORE_OK && until == 0)
		rc = store_tx_exec(tx, S_RESUME_DUE, NULL, "i", id);
	return rc;
}

static void
store_read_sub(sqlite3_stmt *s, void *row)
{
	struct sub_row *r = row;

	r->id = sqlite3_column_int64(s, 0);
	r->topic_id = sqlite3_column_int64(s, 1);
	r->topic = store_col_text(s, 2);
	r->name = store_col_text(s, 3);
	r->state = store_col_text(s, 4);
	r->spec = store_col_text(s, 5);
	r->secret = store_col_text(s, 6);
	r->created_at = sqlite3_column_int64(s, 7);
	r->updated_at = sqlite3_column_int64(s, 8);
}

int
store_subs_all(struct store *st, struct sub_row **rows, size_t *n)
{
	return store_select(st, S_SUBS_ALL, sizeof **rows, store_read_sub,
	    (void **)rows, n, "");
}

int
store_sub_get(struct store *st, int64_t id, struct sub_row *out)
{
	struct sub_row *rows;
	size_t n;
	int rc = store_select(st, S_SUB_GET, sizeof *rows, store_read_sub,
	    (void **)&rows, &n, "i", id);

	return store_one(rc, rows, n, out, sizeof *out);
}

static void
store_read_status(sqlite3_stmt *s, void *row)
{
	struct sub_status *r = row;

	r->paused_until = sqlite3_column_int64(s, 0);
	r->pause_reason = store_col_text(s, 1);
	r->failures = sqlite3_column_int64(s, 2);
	r->validated = sqlite3_column_int(s, 3);
	r->last_error = store_col_text(s, 4);
	r->last_error_at = sqlite3_column_int64(s, 5);
	r->last_success_at = sqlite3_column_int64(s, 6);
	r->allowed_rate = sqlite3_column_int64(s, 7);
}

struct store_count {
	int state;
	int64_t count;
};

static void
store_read_count(sqlite3_stmt *s, void *row)
{
	struct store_count *r = row;

	r->state = store_state_index(sqlite3_column_text(s, 0));
	r->count = sqlite3_column_int64(s, 1);
}

int
store_sub_status(struct store *st, int64_t id, int with_counts,
    struct sub_status *out)
{
	struct sub_status *rows;
	struct store_count *counts;
	size_t n, i;
	int rc;

	memset(out, 0, sizeof *out);
	rc = store_select(st, S_SUB_STATUS, sizeof *rows, store_read_status,
	    (void **)&rows, &n, "i", id);
	rc = store_one(rc, rows, n, out, sizeof *out);
	if (rc != STORE_OK || !with_counts)
		return rc;
	rc = store_select(st, S_SUB_COUNTS, sizeof *counts, store_read_count,
	    (void **)&counts, &n, "i", id);
	for (i = 0; i < n; i++)
		out->count[counts[i].state] += counts[i].count;
	free(counts);
	return rc;
}

void
sub_row_clear(struct sub_row *r)
{
	free(r->topic);
	free(r->name);
	free(r->state);
	free(r->spec);
	free(r->secret);
	memset(r, 0, sizeof *r);
}

void
sub_rows_free(struct sub_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sub_row_clear(&rows[i]);
	free(rows);
}

void
sub_status_clear(struct sub_status *s)
{
	free(s->pause_reason);
	free(s->last_error);
	memset(s, 0, sizeof *s);
}

/* ---- queues -------------------------------------------------------- */

int
store_tx_delivery_insert(struct store_tx *tx, int64_t sub_id, int64_t msg,
    const char *matched)
{
	int rc = store_tx_exec(tx, S_DELIVERY_INSERT, NULL, "iiti", sub_id,
	    msg, matched, tx->now);

	if (rc == STORE_OK)
		store_tx_count(tx, sub_id, DS_PENDING, 1);
	return rc;
}

static void
store_read_message(sqlite3_stmt *s, void *row)
{
	struct message_row *r = row;

	r->msg = sqlite3_column_int64(s, 0);
	r->state = store_state_index(sqlite3_column_text(s, 1));
	r->attempts = sqlite3_column_int64(s, 2);
	r->next_attempt_at = sqlite3_column_int64(s, 3);
	r->last_status = sqlite3_column_int64(s, 4);
	r->last_error = store_col_text(s, 5);
	r->matched = store_col_text(s, 6);
	r->updated_at = sqlite3_column_int64(s, 7);
	r->received_at = sqlite3_column_int64(s, 8);
	r->ce_id = store_col_text(s, 9);
	r->source = store_col_text(s, 10);
	r->type = store_col_text(s, 11);
	r->prefix = store_col_blob(s, 12, &r->prefix_len);
}

int
store_messages_list(struct store *st, const struct message_query *q,
    struct message_row **rows, size_t *n)
{
	size_t qlen = q->q ? strlen(q->q) : 0;

	if (q->state >= 0)
		return store_select(st, S_MESSAGES_STATE, sizeof **rows,
		    store_read_message, (void **)rows, n, "iibit", q->sub_id,
		    q->after, q->q, qlen, (int64_t)q->limit,
		    delivery_state_names[q->state]);
	return store_select(st, S_MESSAGES_ANY, sizeof **rows,
	    store_read_message, (void **)rows, n, "iibi", q->sub_id, q->after,
	    q->q, qlen, (int64_t)q->limit);
}

int
store_message_get(struct store *st, int64_t sub_id, int64_t msg,
    struct message_row *out)
{
	struct message_row *rows;
	size_t n;
	int rc = store_select(st, S_MESSAGE_GET, sizeof *rows,
	    store_read_message, (void **)&rows, &n, "ii", sub_id, msg);

	return store_one(rc, rows, n, out, sizeof *out);
}

void
message_row_clear(struct message_row *r)
{
	free(r->last_error);
	free(r->matched);
	free(r->ce_id);
	free(r->source);
	free(r->type);
	free(r->prefix);
	memset(r, 0, sizeof *r);
}

void
message_rows_free(struct message_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		message_row_clear(&rows[i]);
	free(rows);
}

static void
store_read_attempt(sqlite3_stmt *s, void *row)
{
	struct attempt_row *r = row;

	r->id = sqlite3_column_int64(s, 0);
	r->started_at = sqlite3_column_int64(s, 1);
	r->duration_ms = sqlite3_column_int64(s, 2);
	r->outcome = store_col_text(s, 3);
	r->http_status = sqlite3_column_int64(s, 4);
	r->error = store_col_text(s, 5);
	r->response = store_col_blob(s, 6, &r->response_len);
}

int
store_attempts_list(struct store *st, int64_t sub_id, int64_t msg,
    struct attempt_row **rows, size_t *n)
{
	return store_select(st, S_ATTEMPTS_LIST, sizeof **rows,
	    store_read_attempt, (void **)rows, n, "ii", sub_id, msg);
}

void
attempt_rows_free(struct attempt_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].outcome);
		free(rows[i].error);
		free(rows[i].response);
	}
	free(rows);
}

static void
store_read_event_sub(sqlite3_stmt *s, void *row)
{
	struct event_sub_row *r = row;

	r->sub_id = sqlite3_column_int64(s, 0);
	r->name = store_col_text(s, 1);
	r->state = store_state_index(sqlite3_column_text(s, 2));
}

int
store_event_subs(struct store *st, int64_t msg, struct event_sub_row **rows,
    size_t *n)
{
	return store_select(st, S_EVENT_SUBS, sizeof **rows,
	    store_read_event_sub, (void **)rows, n, "i", msg);
}

void
event_sub_rows_free(struct event_sub_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(rows[i].name);
	free(rows);
}

static void
store_read_state(sqlite3_stmt *s, void *row)
{
	*(int *)row = store_state_index(sqlite3_column_text(s, 0));
}

/*
 * Applies a by-state or by-message statement; counts the rows changed.
 * to: the state they move to (a retry), or -1 (a purge removes them).
 */
static int
store_tx_messages(struct store_tx *tx, enum stmt by_state, enum stmt by_msg,
    int64_t sub_id, int state, const int64_t *msgs, size_t nmsgs, int to,
    int64_t *affected)
{
	int64_t n;
	size_t i, nold;
	int rc, *old;

	*affected = 0;
	if (msgs == NULL) {
		rc = store_tx_exec(tx, by_state, affected, "iti", sub_id,
		    delivery_state_names[state], tx->now);
		store_tx_count(tx, sub_id, state, -*affected);
		if (to >= 0)
			store_tx_count(tx, sub_id, to, *affected);
		return rc;
	}
	for (i = 0; i < nmsgs; i++) {
		/* the state it leaves, for queue_counts */
		rc = store_tx_select(tx, S_DELIVERY_STATE, sizeof *old,
		    store_read_state, (void **)&old, &nold, "ii", sub_id,
		    msgs[i]);
		if (rc == STORE_OK)
			rc = store_tx_exec(tx, by_msg, &n, "iii", sub_id,
			    msgs[i], tx->now);
		if (rc == STORE_OK && n == 1 && nold == 1) {
			store_tx_count(tx, sub_id, old[0], -1);
			if (to >= 0)
				store_tx_count(tx, sub_id, to, 1);
		}
		free(old);
		if (rc != STORE_OK)
			return rc;
		*affected += n;
	}
	return STORE_OK;
}

int
store_tx_messages_retry(struct store_tx *tx, int64_t sub_id, int state,
    const int64_t *msgs, size_t nmsgs, int64_t *affected)
{
	return store_tx_messages(tx, S_RETRY_STATE, S_RETRY_MSG, sub_id, state,
	    msgs, nmsgs, DS_PENDING, affected);
}

int
store_tx_messages_purge(struct store_tx *tx, int64_t sub_id, int state,
    const int64_t *msgs, size_t nmsgs, int64_t *affected)
{
	return store_tx_messages(tx, S_PURGE_STATE, S_PURGE_MSG, sub_id, state,
	    msgs, nmsgs, -1, affected);
}

/* ---- system events ------------------------------------------------- */

int
store_tx_appevent_insert(struct store_tx *tx, const char *operation,
    const char *entity, const char *entity_id, const char *actor,
    const char *metadata, int64_t *id)
{
	int rc = store_tx_exec(tx, S_APPEVENT_INSERT, NULL, "ttttit",
	    operation, entity, entity_id, actor, tx->now,
	    metadata ? metadata : "{}");

	if (rc == STORE_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(tx->st->writer.db);
	return rc;
}

static void
store_read_appevent(sqlite3_stmt *s, void *row)
{
	struct appevent_row *r = row;

	r->id = sqlite3_column_int64(s, 0);
	r->operation = store_col_text(s, 1);
	r->entity = store_col_text(s, 2);
	r->entity_id = store_col_text(s, 3);
	r->actor = store_col_text(s, 4);
	r->time = sqlite3_column_int64(s, 5);
	r->metadata = store_col_text(s, 6);
}

int
store_appevents_list(struct store *st, const char *operation, int64_t before,
    int limit, struct appevent_row **rows, size_t *n)
{
	return store_select(st, S_APPEVENTS_LIST, sizeof **rows,
	    store_read_appevent, (void **)rows, n, "tii", operation,
	    before > 0 ? before : INT64_MAX, (int64_t)limit);
}

void
appevent_rows_free(struct appevent_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].operation);
		free(rows[i].entity);
		free(rows[i].entity_id);
		free(rows[i].actor);
		free(rows[i].metadata);
	}
	free(rows);
}

/* ---- event types --------------------------------------------------- */

static void
store_read_eventtype(sqlite3_stmt *s, void *row)
{
	struct eventtype_row *r = row;

	r->topic = store_col_text(s, 0);
	r->type = store_col_text(s, 1);
	r->source = store_col_text(s, 2);
	r->count = sqlite3_column_int64(s, 3);
	r->first_seen = sqlite3_column_int64(s, 4);
	r->last_seen = sqlite3_column_int64(s, 5);
	r->example_msg = sqlite3_column_int64(s, 6);
}

int
store_eventtypes_list(struct store *st, int64_t topic_id, int offset,
    int limit, struct eventtype_row **rows, size_t *n)
{
	return store_select(st, S_EVENTTYPES_LIST, sizeof **rows,
	    store_read_eventtype, (void **)rows, n, "iii", topic_id,
	    (int64_t)limit, (int64_t)offset);
}

void
eventtype_rows_free(struct eventtype_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].topic);
		free(rows[i].type);
		free(rows[i].source);
	}
	free(rows);
}

/* ---- totals -------------------------------------------------------- */

static void
store_read_totals(sqlite3_stmt *s, void *row)
{
	struct store_totals *t = row;

	t->topics = sqlite3_column_int64(s, 0);
	t->subscriptions = sqlite3_column_int64(s, 1);
	t->events = sqlite3_column_int64(s, 2);
}

int
store_totals(struct store *st, struct store_totals *out)
{
	struct store_totals *rows;
	struct store_count *counts;
	size_t n, i;
	int rc;

	memset(out, 0, sizeof *out);
	rc = store_select(st, S_TOTALS, sizeof *rows, store_read_totals,
	    (void **)&rows, &n, "");
	if (rc == STORE_OK && n == 1)
		*out = rows[0];
	free(rows);
	if (rc != STORE_OK)
		return rc;
	rc = store_select(st, S_TOTAL_COUNTS, sizeof *counts, store_read_count,
	    (void **)&counts, &n, "");
	for (i = 0; i < n; i++)
		out->count[counts[i].state] += counts[i].count;
	free(counts);
	return rc;
}

/* ---- delivery ------------------------------------------------------ */

static void
store_read_due(sqlite3_stmt *s, void *row)
{
	struct due_row *r = row;

	r->msg = sqlite3_column_int64(s, 0);
	r->attempts = sqlite3_column_int64(s, 1);
	r->next_attempt_at = sqlite3_column_int64(s, 2);
	store_read_event_at(s, 3, &r->ev);
}

int
store_due(struct store *st, int64_t sub_id, int strict, int64_t after,
    int64_t now, int limit, struct due_row **rows, size_t *n)
{
	if (strict)
		return store_select(st, S_DUE_STRICT, sizeof **rows,
		    store_read_due, (void **)rows, n, "iii", sub_id,
		    (int64_t)limit, after);
	return store_select(st, S_DUE_AFTER, sizeof **rows, store_read_due,
	    (void **)rows, n, "iiii", sub_id, (int64_t)limit, after, now);
}

static void
store_read_int(sqlite3_stmt *s, void *row)
{
	*(int64_t *)row = sqlite3_column_int64(s, 0);
}

int
store_next_due(struct store *st, int64_t sub_id, int64_t *at)
{
	int64_t *rows;
	size_t n;
	int rc = store_select(st, S_NEXT_DUE, sizeof *rows, store_read_int,
	    (void **)&rows, &n, "i", sub_id);

	*at = rc == STORE_OK && n == 1 ? rows[0] : 0;
	free(rows);
	return rc;
}

void
due_rows_free(struct due_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		event_row_clear(&rows[i].ev);
	free(rows);
}

/* The failure of a message in state from; *moved: it was in that state. */
static int
store_tx_delivery_fail(struct store_tx *tx, const struct attempt_in *a,
    int from, int *moved, int *dead)
{
	sqlite3_stmt *s;
	int rc;

	*moved = 0;
	if ((s = store_stmt(&tx->st->writer, S_DELIVERY_FAIL)) == NULL)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, a->sub_id);
	sqlite3_bind_int64(s, 2, a->msg);
	sqlite3_bind_int64(s, 3, a->http_status);
	if (a->error != NULL)
		sqlite3_bind_text(s, 4, a->error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, a->max_attempts);
	sqlite3_bind_int64(s, 6, a->next_attempt_at);
	sqlite3_bind_int64(s, 7, tx->now);
	sqlite3_bind_text(s, 8, delivery_state_names[from], -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*moved = 1;
		*dead = strcmp((const char *)sqlite3_column_text(s, 0),
		    "dead") == 0;
		rc = sqlite3_step(s);
	}
	store_done_stmt(s);
	if (rc != SQLITE_DONE) {
		log_error("store", "%s: %s", stmt_sql[S_DELIVERY_FAIL],
		    sqlite3_errmsg(tx->st->writer.db));
		return STORE_FAILED;
	}
	if (*moved) {
		store_tx_count(tx, a->sub_id, from, -1);
		store_tx_count(tx, a->sub_id, *dead ? DS_DEAD : DS_PENDING, 1);
	}
	return STORE_OK;
}

int
store_tx_attempt(struct store_tx *tx, const struct attempt_in *a, int *dead)
{
	static const int from[] = { DS_PENDING, DS_INFLIGHT };
	int64_t n = 0;
	size_t i;
	int rc, moved = 0, ok = strcmp(a->outcome, "ok") == 0;

	*dead = 0;
	rc = store_tx_exec(tx, S_ATTEMPT_INSERT, NULL, "iiiititb", a->sub_id,
	    a->msg, a->started_at, a->duration_ms, a->outcome, a->http_status,
	    a->error, a->response, a->response_len);
	/* a push delivery leaves pending, a pull one inflight */
	for (i = 0; i < 2 && rc == STORE_OK && n == 0 && !moved; i++) {
		if (!ok) {
			rc = store_tx_delivery_fail(tx, a, from[i], &moved,
			    dead);
			continue;
		}
		rc = store_tx_exec(tx, S_DELIVERY_DONE, &n, "iiiit",
		    a->sub_id, a->msg, a->http_status, tx->now,
		    delivery_state_names[from[i]]);
		if (rc == STORE_OK && n == 1) {
			store_tx_count(tx, a->sub_id, from[i], -1);
			store_tx_count(tx, a->sub_id, DS_DELIVERED, 1);
		}
	}
	return rc;
}

int
store_tx_sub_outcome(struct store_tx *tx, int64_t sub_id, int ok,
    int64_t failures, const char *error, int64_t paused_until,
    const char *reason)
{
	if (ok)
		return store_tx_exec(tx, S_SUB_OUTCOME_OK, NULL, "ii", sub_id,
		    tx->now);
	return store_tx_exec(tx, S_SUB_OUTCOME, NULL, "iitiit", sub_id,
	    failures, error, tx->now, paused_until, reason);
}

int
store_tx_sub_state(struct store_tx *tx, int64_t sub_id, const char *state)
{
	return store_tx_exec(tx, S_SUB_STATE, NULL, "iti", sub_id, state,
	    tx->now);
}

int
store_tx_sub_validated(struct store_tx *tx, int64_t sub_id, int validated,
    int64_t allowed_rate)
{
	return store_tx_exec(tx, S_SUB_VALIDATED, NULL, "iii", sub_id,
	    (int64_t)validated, allowed_rate);
}

int
store_tx_recover(struct store_tx *tx, int64_t *count)
{
	int64_t *subs;
	size_t n, i;
	int rc = store_tx_select(tx, S_RECOVER, sizeof *subs, store_read_int,
	    (void **)&subs, &n, "");

	for (i = 0; rc == STORE_OK && i < n; i++) {
		store_tx_count(tx, subs[i], DS_INFLIGHT, -1);
		store_tx_count(tx, subs[i], DS_PENDING, 1);
	}
	*count = rc == STORE_OK ? (int64_t)n : 0;
	free(subs);
	return rc;
}

int
store_tx_retention(struct store_tx *tx, int64_t before, int limit,
    int64_t *removed)
{
	int64_t n = 0, *subs;
	size_t nsubs, i;
	int rc;

	*removed = 0;
	rc = store_tx_select(tx, S_RETIRE_DELIVERIES, sizeof *subs,
	    store_read_int, (void **)&subs, &nsubs, "ii", before,
	    (int64_t)limit);
	for (i = 0; rc == STORE_OK && i < nsubs; i++)
		store_tx_count(tx, subs[i], DS_DELIVERED, -1);
	free(subs);
	*removed += rc == STORE_OK ? (int64_t)nsubs : 0;
	/* their attempts go with them (trigger deliveries_attempts_gone) */
	if (rc == STORE_OK)
		rc = store_tx_exec(tx, S_RETIRE_EVENTS, &n, "ii", before << 20,
		    (int64_t)limit);
	if (rc == STORE_OK)
		tx->qjob.events -= n;
	*removed += n;
	return rc;
}

/* ---- pull delivery ------------------------------------------------- */

int
store_tx_lease(struct store_tx *tx, int64_t sub_id, int64_t msg,
    int64_t lease_until, const char *receipt, int *leased)
{
	int64_t n;
	int rc = store_tx_exec(tx, S_LEASE, &n, "iiiti", sub_id, msg,
	    lease_until, receipt, tx->now);

	*leased = rc == STORE_OK && n == 1;
	if (*leased) {
		store_tx_count(tx, sub_id, DS_PENDING, -1);
		store_tx_count(tx, sub_id, DS_INFLIGHT, 1);
	}
	return rc;
}

/* Steps a writer-side query whose rows are (int64, int64). */
static int
store_tx_pairs(struct store_tx *tx, enum stmt which, sqlite3_stmt *s,
    struct lease_row **rows, size_t *n)
{
	int rc;

	*rows = NULL;
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*rows = xrealloc(*rows, (*n + 1) * sizeof **rows);
		(*rows)[*n].sub_id = sqlite3_column_int64(s, 0);
		(*rows)[*n].msg = sqlite3_column_int64(s, 1);
		(*n)++;
	}
	store_done_stmt(s);
	if (rc != SQLITE_DONE) {
		log_error("store", "%s: %s", stmt_sql[which],
		    sqlite3_errmsg(tx->st->writer.db));
		free(*rows);
		*rows = NULL;
		*n = 0;
		return STORE_FAILED;
	}
	return STORE_OK;
}

int
store_tx_receipt(struct store_tx *tx, const char *receipt, int64_t *sub_id,
    int64_t *msg)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_RECEIPT);
	struct lease_row *rows;
	size_t n;
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_text(s, 1, receipt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, tx->now);
	if ((rc = store_tx_pairs(tx, S_RECEIPT, s, &rows, &n)) != STORE_OK)
		return rc;
	if (n == 0)
		rc = STORE_NOTFOUND;
	else {
		*sub_id = rows[0].sub_id;
		*msg = rows[0].msg;
	}
	free(rows);
	return rc;
}

int
store_tx_leases_expired(struct store_tx *tx, int limit,
    struct lease_row **rows, size_t *n)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_LEASES_EXPIRED);

	if (s == NULL)
		return STORE_FAILED;
	sqlite3_bind_int64(s, 1, tx->now);
	sqlite3_bind_int64(s, 2, limit);
	return store_tx_pairs(tx, S_LEASES_EXPIRED, s, rows, n);
}

int
store_tx_next_lease(struct store_tx *tx, int64_t *at)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, S_NEXT_LEASE);
	int rc;

	*at = 0;
	if (s == NULL)
		return STORE_FAILED;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*at = sqlite3_column_int64(s, 0);
	store_done_stmt(s);
	return rc == SQLITE_ROW ? STORE_OK : STORE_FAILED;
}

static void
store_read_queue_count(sqlite3_stmt *s, void *row)
{
	struct queue_count *r = row;

	r->sub_id = sqlite3_column_int64(s, 0);
	r->state = store_state_index(sqlite3_column_text(s, 1));
	r->count = sqlite3_column_int64(s, 2);
}

int
store_queue_counts(struct store *st, struct queue_count **rows, size_t *n)
{
	return store_select(st, S_QUEUE_COUNTS, sizeof **rows,
	    store_read_queue_count, (void **)rows, n, "");
}

/* ---- backup -------------------------------------------------------- */

int
store_backup(const char *path, const char *dest, char **cause)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		*cause = xasprintf("open %s: %s", path, src ?
		    sqlite3_errmsg(src) : "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		*cause = xasprintf("open %s: %s", dest, dst ?
		    sqlite3_errmsg(dst) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(src, 5000);
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		*cause = xasprintf("backup to %s: %s", dest,
		    sqlite3_errmsg(dst));
		goto fail;
	}
	/* in steps, so a busy writer is never held up for long */
	while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK ||
	    rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		if (rc != SQLITE_OK)
			sqlite3_sleep(10);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		*cause = xasprintf("backup to %s: %s", dest,
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_close(src);
	sqlite3_close(dst);
	return 0;
fail:
	sqlite3_close(src);
	sqlite3_close(dst);
	return -1;
}

/* ---- reads inside a write job -------------------------------------- */

int
store_tx_sub_get(struct store_tx *tx, int64_t id, struct sub_row *out)
{
	struct sub_row *rows;
	size_t n;
	int rc = store_tx_select(tx, S_SUB_GET, sizeof *rows, store_read_sub,
	    (void **)&rows, &n, "i", id);

	return store_one(rc, rows, n, out, sizeof *out);
}

int
store_tx_topic_get(struct store_tx *tx, const char *name,
    struct topic_row *out)
{
	struct topic_row *rows;
	size_t n;
	int rc = store_tx_select(tx, S_TOPIC_GET, sizeof *rows,
	    store_read_topic_v, (void **)&rows, &n, "t", name);

	return store_one(rc, rows, n, out, sizeof *out);
}

int
store_tx_due(struct store_tx *tx, int64_t sub_id, int limit,
    struct due_row **rows, size_t *n)
{
	return store_tx_select(tx, S_DUE_AFTER, sizeof **rows, store_read_due,
	    (void **)rows, n, "iiii", sub_id, (int64_t)limit, (int64_t)0,
	    tx->now);
}

int
store_sealed_secrets(struct store *st, int64_t *n)
{
	int64_t *rows;
	size_t nrows;
	int rc = store_select(st, S_SEALED, sizeof *rows, store_read_int,
	    (void **)&rows, &nrows, "");

	*n = rc == STORE_OK && nrows == 1 ? rows[0] : 0;
	free(rows);
	return rc;
}
