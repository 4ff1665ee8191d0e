/*
 * metrics.h: counters and histograms for GET /metrics (Prometheus text
 * exposition format).  Updated lock-free from any thread.
 *
 * Thread-safe: every field is atomic.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "xmalloc.h"

enum metrics_reject {
	MR_INVALID,	/* 400 */
	MR_MEDIA_TYPE,	/* 415 */
	MR_TOO_LARGE,	/* 413 */
	MR_NOT_FOUND,	/* 404 topic */
	MR_AUTH,	/* 401/403 */
	MR_STORAGE,	/* 503 */
	MR_COUNT
};

enum metrics_outcome { MO_OK, MO_TRANSPORT, MO_APP, MO_COUNT };

#define METRICS_BUCKETS 14

struct metrics_hist {
	atomic_uint_fast64_t bucket[METRICS_BUCKETS + 1]; /* last: +Inf */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us; /* sum of observations, micro-units */
};

struct metrics {
	atomic_uint_fast64_t accepted;
	atomic_uint_fast64_t duplicates;
	atomic_uint_fast64_t rejected[MR_COUNT];
	atomic_uint_fast64_t deliveries[MO_COUNT]; /* attempts by class */
	atomic_uint_fast64_t messages_delivered;
	atomic_uint_fast64_t messages_dead;
	atomic_uint_fast64_t pauses[3];	 /* tcp_error, app_error, retry_after */
	struct metrics_hist attempt_seconds;
	struct metrics_hist commit_seconds;
	struct metrics_hist commit_jobs;
};

struct metrics *metrics_new(void);
void metrics_free(struct metrics *);
/* Histograms: seconds for *_seconds, a count for commit_jobs. */
void metrics_observe(struct metrics_hist *, double value, int is_count);
/* Writes every counter and histogram in the text format. */
void metrics_write(struct metrics *, struct buf *);

#endif
