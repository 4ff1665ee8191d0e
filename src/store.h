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

/*
 * A write job.  apply runs on the writer thread inside a transaction shared
 * with other jobs (its own savepoint: returning -1 rolls back its changes
 * only).  done runs after the commit with STORE_OK, STORE_FAILED when the
 * commit (or the job) failed on storage, or the job's own nonzero result.
 * An exclusive job is committed alone, and nothing after it runs before its
 * done returns: for changes that other jobs depend on (topics,
 * subscriptions).
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
int store_event_count(struct store *, int64_t topic_id, int64_t *count);

void topic_row_clear(struct topic_row *);
void topic_rows_free(struct topic_row *, size_t);
void event_row_clear(struct event_row *);
void event_rows_free(struct event_row *, size_t);

#endif
