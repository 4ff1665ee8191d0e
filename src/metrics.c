/*
 * metrics.c: sluice's counters and histograms, and their Prometheus text
 * exposition.  Gauges that live in the store (queue depths) are added by
 * the /metrics handler.
 *
 * Thread-safe: atomics only.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "metrics.h"
#include "xmalloc.h"

/* Buckets: seconds for latencies, job counts for group commits. */
static const double metrics_time_le[METRICS_BUCKETS] = { 0.0005, 0.001,
	0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double metrics_count_le[METRICS_BUCKETS] = { 1, 2, 4, 8, 16,
	32, 64, 128, 256, 512, 1024, 2048, 4096, 8192 };

static const char *const metrics_reject_names[MR_COUNT] = { "invalid",
	"unsupported_media_type", "too_large", "topic_not_found",
	"unauthorized", "storage_unavailable" };
static const char *const metrics_outcome_names[MO_COUNT] = { "ok",
	"transport_error", "app_error" };
static const char *const metrics_pause_names[3] = { "tcp_error",
	"app_error", "retry_after" };

struct metrics *
metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

void
metrics_observe(struct metrics_hist *h, double v, int is_count)
{
	const double *le = is_count ? metrics_count_le : metrics_time_le;
	int i;

	for (i = 0; i < METRICS_BUCKETS && v > le[i]; i++)
		;
	atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_us, (uint_fast64_t)(v * 1e6));
}

static void
metrics_hist_write(struct buf *b, const char *name, const char *help,
    struct metrics_hist *h, int is_count)
{
	const double *le = is_count ? metrics_count_le : metrics_time_le;
	uint_fast64_t cum = 0;
	int i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += atomic_load(&h->bucket[i]);
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, le[i],
		    (unsigned long long)cum);
	}
	cum += atomic_load(&h->bucket[METRICS_BUCKETS]);
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)cum);
	buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)atomic_load(&h->sum_us) / 1e6, name,
	    (unsigned long long)atomic_load(&h->count));
}

static void
metrics_counter(struct buf *b, const char *name, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

void
metrics_write(struct metrics *m, struct buf *b)
{
	int i;

	metrics_counter(b, "sluice_events_accepted_total",
	    "Events accepted (committed and answered 202).");
	buf_printf(b, "sluice_events_accepted_total %llu\n",
	    (unsigned long long)atomic_load(&m->accepted));
	metrics_counter(b, "sluice_events_duplicate_total",
	    "Events whose (topic, source, id) was already stored.");
	buf_printf(b, "sluice_events_duplicate_total %llu\n",
	    (unsigned long long)atomic_load(&m->duplicates));
	metrics_counter(b, "sluice_events_rejected_total",
	    "Ingest requests refused, by reason.");
	for (i = 0; i < MR_COUNT; i++)
		buf_printf(b, "sluice_events_rejected_total{reason=\"%s\"} "
		    "%llu\n", metrics_reject_names[i],
		    (unsigned long long)atomic_load(&m->rejected[i]));
	metrics_counter(b, "sluice_delivery_attempts_total",
	    "Delivery requests, by outcome class.");
	for (i = 0; i < MO_COUNT; i++)
		buf_printf(b, "sluice_delivery_attempts_total{outcome=\"%s\"} "
		    "%llu\n", metrics_outcome_names[i],
		    (unsigned long long)atomic_load(&m->deliveries[i]));
	metrics_counter(b, "sluice_messages_delivered_total",
	    "Messages acknowledged by a 2xx (or a pull ack).");
	buf_printf(b, "sluice_messages_delivered_total %llu\n",
	    (unsigned long long)atomic_load(&m->messages_delivered));
	metrics_counter(b, "sluice_messages_dead_total",
	    "Messages that reached max_attempts.");
	buf_printf(b, "sluice_messages_dead_total %llu\n",
	    (unsigned long long)atomic_load(&m->messages_dead));
	metrics_counter(b, "sluice_pauses_total",
	    "Subscription pauses after a failure, by reason.");
	for (i = 0; i < 3; i++)
		buf_printf(b, "sluice_pauses_total{reason=\"%s\"} %llu\n",
		    metrics_pause_names[i],
		    (unsigned long long)atomic_load(&m->pauses[i]));
	metrics_hist_write(b, "sluice_delivery_attempt_duration_seconds",
	    "Time from sending a delivery request to its outcome.",
	    &m->attempt_seconds, 0);
	metrics_hist_write(b, "sluice_sqlite_commit_duration_seconds",
	    "Time one group-commit transaction takes (fsync included).",
	    &m->commit_seconds, 0);
	metrics_hist_write(b, "sluice_group_commit_jobs",
	    "Write jobs (ingest requests, attempts...) per committed "
	    "transaction.", &m->commit_jobs, 1);
}
