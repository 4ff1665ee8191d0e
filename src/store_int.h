/*
 * store_int.h: private to the store (store.c, store_sql.c, store_catalog.c,
 * store_queue.c); no other module includes it.  What the parts share: the
 * statements, the connections, the store and its writer's transaction, and
 * the helpers that prepare, bind, step and collect rows.  The interface of
 * the store is store.h, which keeps sqlite3.h private.
 *
 * Threads: a struct store_conn is used by one thread at a time: the writer
 * connection by the writer thread, a reader by the thread that took it from
 * the pool until it puts it back.
 */
#ifndef SLUICE_STORE_INT_H
#define SLUICE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

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
	S_PURGE_BETWEEN,
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
	S_SUB_LAST_ERROR,
	S_SUB_STATE,
	S_SUB_VALIDATED,
	S_RECOVER,
	S_RETIRE_DELIVERIES,
	S_RETIRE_EVENTS,
	S_RETIRE_APPEVENTS,
	S_LEASE,
	S_RECEIPT,
	S_LEASES_EXPIRED,
	S_NEXT_LEASE,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S_COUNT
};

/* The SQL of each statement (store_sql.c). */
extern const char *const stmt_sql[S_COUNT];

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int busy; /* reader pool: handed out */
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

/*
 * Keys of store_qcounts beside the delivery states: a success to write for
 * the subscription (n > 0), and one taken back from the batch by the
 * running job (restored if the job fails).
 */
#define STORE_QC_SUB_OK 8
#define STORE_QC_SUB_TAKEN 9

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

struct store_job; /* a queued job (store.c) */

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

/* The rows of a query as store_collect grows them: read fills each one. */
struct store_rows {
	void *rows;
	size_t n;
	size_t size; /* bytes of one row */
	void (*read)(sqlite3_stmt *, void *row);
};

/* How many messages of a queue (or of all) are in one state. */
struct store_count {
	int state;
	int64_t count;
};

/* store.c: statements and readers */
sqlite3_stmt *store_stmt(struct store_conn *, enum stmt);
void store_done_stmt(sqlite3_stmt *);
struct store_conn *store_reader(struct store *);
void store_reader_put(struct store *, struct store_conn *);

/* store.c: the writer's queue_counts changes of the running job */
void store_tx_count(struct store_tx *, int64_t sub_id, int state, int64_t n);
/*
 * A subscription's successful delivery, written once per transaction
 * (failures = 0, last_success_at) however many it had.
 */
void store_tx_sub_ok_later(struct store_tx *, int64_t sub_id);
/*
 * Takes back the success store_tx_sub_ok_later holds for the subscription,
 * for its caller to write now, before a failure that follows it: 1 if
 * there was one.  Should the running job fail, it is held again.
 */
int store_tx_sub_ok_take(struct store_tx *, int64_t sub_id);

/* store.c: rows */
char *store_col_text(sqlite3_stmt *, int);
unsigned char *store_col_blob(sqlite3_stmt *, int, size_t *len);
int store_state_index(const unsigned char *);
int store_query(struct store_conn *, enum stmt, sqlite3_stmt *,
    void (*)(sqlite3_stmt *, void *), void *);
int store_one(int rc, void *rows, size_t n, void *out, size_t size);
void store_collect(sqlite3_stmt *, void *);
void store_read_int(sqlite3_stmt *, void *);

/* store.c: steps, writes and selects; fmt binds as store_bindv says */
int store_tx_step(struct store_tx *, enum stmt, sqlite3_stmt *);
int store_tx_exec(struct store_tx *, enum stmt, int64_t *changes,
    const char *fmt, ...);
int store_tx_select(struct store_tx *, enum stmt, size_t,
    void (*)(sqlite3_stmt *, void *), void **, size_t *, const char *fmt, ...);
int store_select(struct store *, enum stmt, size_t,
    void (*)(sqlite3_stmt *, void *), void **, size_t *, const char *fmt, ...);
/* The same on a connection the caller holds (several in one snapshot). */
int store_select_on(struct store_conn *, enum stmt, size_t,
    void (*)(sqlite3_stmt *, void *), void **, size_t *, const char *fmt, ...);
/* Runs a statement that returns no rows. */
int store_exec_stmt(struct store_conn *, enum stmt);

/* store_catalog.c: an event's columns from column i on */
void store_read_event_at(sqlite3_stmt *, int i, struct event_row *);

/* store_queue.c: a (state, count) row into a struct store_count */
void store_read_count(sqlite3_stmt *, void *);

#endif /* SLUICE_STORE_INT_H */
