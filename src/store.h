/*
 * store.h: the durable store: SQLite in WAL mode behind one writer thread
 * that commits jobs in groups, and a pool of read connections.
 *
 * Thread-safe: any thread may read or submit; store_tx_* functions run only
 * inside a job's apply callback, on the writer thread.
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_tx;

/* Results of store operations. */
enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND = 1, /* no such row */
	STORE_CONFLICT = 2, /* a unique key is taken */
	STORE_FAILED = 3,   /* storage failed (I/O, full disk, locked) */
};

struct store_options {
	const char *path; /* database file */
	int sync_full;	  /* 1: synchronous=FULL, 0: NORMAL */
	int max_batch;	  /* most jobs one transaction commits */
	int64_t max_pages; /* 0, or a cap on the database size in pages */
	/* called on the writer after each commit: jobs in it, seconds taken */
	void (*on_commit)(void *cls, int jobs, double seconds);
	void *cls;
};

struct topic_row {
	int64_t id;
	char *name;
	char *description;
	char *publish_token; /* NULL when publishing is open */
	int64_t created_at;  /* ms since the epoch */
	int64_t updated_at;
};

/* An event as ingest hands it to the store. */
struct event_in {
	const char *ce_id;  /* CloudEvents id */
	const char *source; /* CloudEvents source */
	const char *type;   /* CloudEvents type */
	const char *attrs;  /* attributes, JSON format text */
	int kind;	    /* enum ce_data_kind */
	const void *data;   /* data bytes or NULL */
	size_t data_len;
};

/* An event as stored. */
struct event_row {
	int64_t msg;	     /* message id */
	int64_t topic_id;
	char *topic;	     /* topic name */
	char *attrs;	     /* attributes, JSON format text */
	int kind;	     /* enum ce_data_kind */
	unsigned char *data; /* data bytes (NUL-ended copy) or NULL */
	size_t data_len;
	int64_t received_at; /* ms since the epoch */
};

struct event_query {
	int64_t topic_id; /* 0: any topic */
	const char *type; /* NULL: any */
	const char *source;
	int64_t after;	  /* cursor: messages after this id; 0 from the start */
	int limit;
};

/*
 * Opens (creating if needed) the database, applies the migrations that are
 * newer than its version, and starts the writer.  NULL and *cause on error.
 */
struct store *store_open(const struct store_options *, char **cause);
/* Finishes queued jobs, stops the writer and closes every connection. */
void store_close(struct store *);
int store_schema_version(struct store *);
/* 0 while the last write failed (full disk, I/O error) and no event has
 * been stored since; 1 otherwise. */
int store_writable(struct store *);
/* How many subscription secrets the database file holds sealed. */
int store_file_sealed(const char *path, int64_t *n, char **cause)
    __attribute__((warn_unused_result));
/*
 * Copies the database at path to dest with SQLite's online backup (a
 * running sluiced keeps working meanwhile); -1 and *cause on error.
 */
int store_backup(const char *path, const char *dest, char **cause)
    __attribute__((warn_unused_result));

/*
 * A write job.  apply runs on the writer thread inside a transaction shared
 * with other jobs (its own savepoint: returning -1 rolls back its changes
 * only).  done runs after the commit with STORE_OK, STORE_FAILED when the
 * commit (or the job) failed on storage, or the job's own nonzero result.
 * An exclusive job is committed alone, and no job runs between its commit
 * and the end of its done: for changes that other jobs depend on (topics,
 * subscriptions), which done makes visible.  Jobs run in the order they
 * came, except that a plain job may run before an exclusive one that came
 * earlier (the writer takes turns between a batch of plain jobs and one
 * exclusive job).  So a job that must come after everything queued before
 * it (a barrier) is exclusive.
 */
typedef int (*store_apply_fn)(struct store_tx *, void *arg);
typedef void (*store_done_fn)(void *arg, int rc);
void store_submit(struct store *, store_apply_fn, store_done_fn, void *arg,
    int exclusive);
/* Submits and waits for the job; returns what done would receive. */
int store_run(struct store *, store_apply_fn, void *arg, int exclusive);

/* Time the writer uses for ids, ms since the epoch. */
int64_t store_tx_now(struct store_tx *);

/* Inserts an event; STORE_CONFLICT (and *msg set to the first) if dup. */
int store_tx_event_insert(struct store_tx *, int64_t topic_id,
    const struct event_in *, int64_t *msg) __attribute__((warn_unused_result));
int store_tx_topic_insert(struct store_tx *, const char *name,
    const char *description, const char *publish_token, int64_t *id)
    __attribute__((warn_unused_result));
int store_tx_topic_update(struct store_tx *, int64_t id,
    const char *description, const char *publish_token)
    __attribute__((warn_unused_result));
int store_tx_topic_delete(struct store_tx *, int64_t id)
    __attribute__((warn_unused_result));
int store_tx_topic_subscriptions(struct store_tx *, int64_t id,
    int64_t *count) __attribute__((warn_unused_result));

/* Reads, from any thread.  Rows are the caller's to free. */
int store_topic_get(struct store *, const char *name, struct topic_row *);
int store_topics_list(struct store *, const char *after, int limit,
    struct topic_row **rows, size_t *n);
int store_event_get(struct store *, int64_t msg, struct event_row *);
int store_events_list(struct store *, const struct event_query *,
    struct event_row **rows, size_t *n);

void topic_row_clear(struct topic_row *);
void topic_rows_free(struct topic_row *, size_t);
void event_row_clear(struct event_row *);
void event_rows_free(struct event_row *, size_t);



/* ---- subscriptions, queues, system events (issue 3) ---------------- */

struct sub_row {
	int64_t id;
	int64_t topic_id;
	char *topic;  /* topic name */
	char *name;
	char *state;  /* pub_and_sub, pub_only, sub_only, disabled */
	char *spec;   /* the stored JSON form (subscription.h) */
	char *secret; /* or NULL */
	int64_t created_at;
	int64_t updated_at;
	char *previous_secret;	       /* a replaced secret, or NULL */
	int64_t previous_secret_until; /* it signs too until then (ms) */
};

/* Queue states, in the order counts are reported. */
enum delivery_state { DS_PENDING, DS_INFLIGHT, DS_DELIVERED, DS_DEAD };
extern const char *const delivery_state_names[4];

struct sub_status {
	int64_t paused_until;  /* ms since the epoch; 0: not paused */
	char *pause_reason;    /* tcp_error, app_error, manual, ... or NULL */
	int64_t failures;      /* consecutive failed attempts */
	int validated;	       /* handshake: 0 not yet, 1 allowed, -1 refused */
	char *last_error;      /* or NULL */
	int64_t last_error_at; /* 0: never */
	int64_t last_success_at;
	int64_t allowed_rate;  /* granted by the handshake, per minute; 0 none */
	int64_t count[4];      /* messages by enum delivery_state */
};

struct message_row {
	int64_t msg;
	int state;		/* enum delivery_state */
	int64_t attempts;
	int64_t next_attempt_at;
	int64_t last_status;	/* 0: none */
	char *last_error;
	char *matched;		/* the filter clause that matched */
	int64_t updated_at;
	int64_t received_at;
	char *ce_id;
	char *source;
	char *type;
	unsigned char *prefix;	/* first bytes of the data */
	size_t prefix_len;
};

struct message_query {
	int64_t sub_id;
	int state;	   /* -1: any */
	const char *q;	   /* substring of the prefix, or NULL */
	int64_t after;	   /* cursor: messages after this id */
	int limit;
	/*
	 * Messages pushed now (sorted): their rows say pending until the
	 * outcome is written, but they are listed as inflight.
	 */
	const int64_t *flight;
	size_t nflight;
};

struct attempt_row {
	int64_t id;
	int64_t started_at;
	int64_t duration_ms;
	char *outcome;		/* ok, transport_error, app_error */
	int64_t http_status;	/* 0: none */
	char *error;
	unsigned char *response;
	size_t response_len;
};

struct appevent_row {
	int64_t id;
	char *operation;
	char *entity;
	char *entity_id;
	char *actor;
	int64_t time;
	char *metadata; /* JSON text */
};

struct eventtype_row {
	char *topic;
	char *type;
	char *source;
	int64_t count;
	int64_t first_seen;
	int64_t last_seen;
	int64_t example_msg;
};

/* Which subscriptions an event was queued to. */
struct event_sub_row {
	int64_t sub_id;
	char *name;
	int state; /* enum delivery_state */
};

int store_tx_sub_insert(struct store_tx *, const struct sub_row *,
    int64_t *id) __attribute__((warn_unused_result));
int store_tx_sub_update(struct store_tx *, const struct sub_row *)
    __attribute__((warn_unused_result));
int store_tx_sub_delete(struct store_tx *, int64_t id)
    __attribute__((warn_unused_result));
/*
 * Sets or clears (until 0) a pause.  STORE_CONFLICT: its endpoint answered
 * 410 Gone, which only turning the subscription on again lifts.
 */
int store_tx_sub_pause(struct store_tx *, int64_t id, int64_t until,
    const char *reason) __attribute__((warn_unused_result));
int store_subs_all(struct store *, struct sub_row **rows, size_t *n);
int store_sub_get(struct store *, int64_t id, struct sub_row *);
/* The status; queue counts (a scan of its queue) only with counts 1. */
int store_sub_status(struct store *, int64_t id, int counts,
    struct sub_status *);

int store_tx_delivery_insert(struct store_tx *, int64_t sub_id,
    int64_t msg, const char *matched) __attribute__((warn_unused_result));
int store_messages_list(struct store *, const struct message_query *,
    struct message_row **rows, size_t *n);
/* A queued message and its attempts (caller frees), read in one snapshot. */
int store_message_get(struct store *, int64_t sub_id, int64_t msg,
    struct message_row *, struct attempt_row **att, size_t *natt);
int store_event_subs(struct store *, int64_t msg,
    struct event_sub_row **rows, size_t *n);
/*
 * Retry (back to pending, attempts reset) or purge (delete) the messages
 * of a subscription in a state, or those listed in msgs.
 */
int store_tx_messages_retry(struct store_tx *, int64_t sub_id, int state,
    const int64_t *msgs, size_t nmsgs, int64_t *affected)
    __attribute__((warn_unused_result));
/* Pending messages whose push is on its way: a purge leaves them. */
struct purge_keep {
	const int64_t *msgs;	/* sorted */
	size_t n;
};
int store_tx_messages_purge(struct store_tx *, int64_t sub_id, int state,
    const int64_t *msgs, size_t nmsgs, const struct purge_keep *,
    int64_t *affected) __attribute__((warn_unused_result));

int store_tx_appevent_insert(struct store_tx *, const char *operation,
    const char *entity, const char *entity_id, const char *actor,
    const char *metadata, int64_t *id) __attribute__((warn_unused_result));
/* What a system-events list keeps (each NULL: any). */
struct appevent_filter {
	const char *operation; /* e.g. subscription.create */
	const char *entity;    /* e.g. subscription */
	const char *entity_id; /* e.g. 3 */
	const char *actor;     /* admin, anonymous or system */
};
/* Newest first; before: cursor (0 from the newest). */
int store_appevents_list(struct store *, const struct appevent_filter *,
    int64_t before, int limit, struct appevent_row **rows, size_t *n);

/* Counts an event in the catalog of types (flushed at commit). */
void store_tx_eventtype_touch(struct store_tx *, int64_t topic_id,
    const char *type, const char *source, int64_t msg);
int store_eventtypes_list(struct store *, int64_t topic_id, int offset,
    int limit, struct eventtype_row **rows, size_t *n);

struct store_totals {
	int64_t topics;
	int64_t subscriptions;
	int64_t events;
	int64_t count[4]; /* deliveries by enum delivery_state */
};
int store_totals(struct store *, struct store_totals *);

/* Queue depth of every subscription by state. */
struct queue_count {
	int64_t sub_id;
	int state; /* enum delivery_state */
	int64_t count;
};
int store_queue_counts(struct store *, struct queue_count **rows, size_t *n);

/* How many subscriptions hold a sealed secret. */
int store_sealed_secrets(struct store *, int64_t *n);

void sub_row_clear(struct sub_row *);
void sub_rows_free(struct sub_row *, size_t);
void sub_status_clear(struct sub_status *);
void message_rows_free(struct message_row *, size_t);
void message_row_clear(struct message_row *);
void attempt_rows_free(struct attempt_row *, size_t);
void appevent_rows_free(struct appevent_row *, size_t);
void eventtype_rows_free(struct eventtype_row *, size_t);
void event_sub_rows_free(struct event_sub_row *, size_t);

/* ---- delivery (issue 4) -------------------------------------------- */

/* A message due for delivery, with its event. */
struct due_row {
	int64_t msg;
	int64_t attempts;
	int64_t next_attempt_at;
	struct event_row ev;
};

/*
 * The next pending messages of a subscription in queue order.  strict: the
 * first limit pending ones whether due or not (the caller waits for the
 * head); otherwise only those due by now with msg > after.
 */
int store_due(struct store *, int64_t sub_id, int strict, int64_t after,
    int64_t now, int limit, struct due_row **rows, size_t *n);
/* When the earliest pending message falls due (0 if none is pending). */
int store_next_due(struct store *, int64_t sub_id, int64_t *at);
void due_rows_free(struct due_row *, size_t);

/* One attempt's outcome, recorded for each message it carried. */
struct attempt_in {
	int64_t sub_id;
	int64_t msg;
	int64_t started_at;
	int64_t duration_ms;
	const char *outcome;	/* ok, transport_error, app_error */
	int64_t http_status;	/* 0: none */
	const char *error;
	const void *response;
	size_t response_len;
	int64_t max_attempts;	/* failures up to here make it dead */
	int64_t next_attempt_at;
};

/* Records the attempt; *dead set when the message went dead. */
int store_tx_attempt(struct store_tx *, const struct attempt_in *, int *dead)
    __attribute__((warn_unused_result));
/* The subscription's delivery status after an attempt. */
int store_tx_sub_outcome(struct store_tx *, int64_t sub_id, int ok,
    int64_t failures, const char *error, int64_t paused_until,
    const char *reason) __attribute__((warn_unused_result));
/*
 * A pull subscription's status after an ack (error NULL: last_success_at),
 * or a nack or an ended lease (last_error); pull has no pauses.
 */
int store_tx_sub_pulled(struct store_tx *, int64_t sub_id, const char *error)
    __attribute__((warn_unused_result));
int store_tx_sub_state(struct store_tx *, int64_t sub_id, const char *state)
    __attribute__((warn_unused_result));
/* The handshake's result and the rate it granted (per minute, 0: none). */
int store_tx_sub_validated(struct store_tx *, int64_t sub_id, int validated,
    int64_t allowed_rate) __attribute__((warn_unused_result));
/* At start: push deliveries left in flight by a crash are pending again. */
int store_tx_recover(struct store_tx *, int64_t *count)
    __attribute__((warn_unused_result));
/*
 * Removes up to limit delivered messages older than before (and attempts
 * and events no queue holds any more); *removed counts the rows.
 */
int store_tx_retention(struct store_tx *, int64_t before, int limit,
    int64_t *removed) __attribute__((warn_unused_result));

/* ---- reads inside a write job (they see the job's own changes) ---- */

int store_tx_sub_get(struct store_tx *, int64_t id, struct sub_row *)
    __attribute__((warn_unused_result));
int store_tx_topic_get(struct store_tx *, const char *name,
    struct topic_row *) __attribute__((warn_unused_result));
/* Pending messages due now, in queue order (for pull). */
int store_tx_due(struct store_tx *, int64_t sub_id, int limit,
    struct due_row **rows, size_t *n) __attribute__((warn_unused_result));

/* ---- pull delivery ------------------------------------------------- */

/* Leases a pending message to a puller; *leased 0 if it was taken. */
int store_tx_lease(struct store_tx *, int64_t sub_id, int64_t msg,
    int64_t lease_until, const char *receipt, int *leased)
    __attribute__((warn_unused_result));
/* The leased message a receipt names (STORE_NOTFOUND: unknown or ended). */
int store_tx_receipt(struct store_tx *, const char *receipt, int64_t *sub_id,
    int64_t *msg) __attribute__((warn_unused_result));
/* Up to limit leases that ended before now. */
struct lease_row {
	int64_t sub_id;
	int64_t msg;
};
int store_tx_leases_expired(struct store_tx *, int limit,
    struct lease_row **rows, size_t *n) __attribute__((warn_unused_result));
/* When the next lease ends (0: none). */
int store_tx_next_lease(struct store_tx *, int64_t *at)
    __attribute__((warn_unused_result));

#endif
