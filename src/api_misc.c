/*
 * api_misc.c: unauthenticated health routes: /healthz (the process is up)
 * and /readyz (the store takes writes).
 *
 * Threads: HTTP threads; the readiness probe's job on the writer.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "app.h"
#include "fmt.h"
#include "http_server.h"
#include "metrics.h"
#include "store.h"
#include "xmalloc.h"

void
api_healthz(struct http_req *req)
{
	http_reply(req, 200, "text/plain", xstrdup("ok\n"), 3);
}

static int
readyz_apply(struct api_tx *t, void *arg)
{
	return STORE_OK;
}

static void
readyz_reply(struct http_req *req, void *arg, int rc)
{
	if (rc == STORE_OK)
		http_reply(req, 200, "text/plain", xstrdup("ready\n"), 6);
	else
		http_reply_problem(req, 503, NULL, NULL,
		    "the store does not take writes");
}

void
api_readyz(struct http_req *req)
{
	if (!store_writable(http_req_app(req)->store)) {
		http_reply_header(req, "Retry-After", "5");
		http_reply_problem(req, 503, NULL, NULL, "the store failed its "
		    "last write (full disk or I/O error) and has not written "
		    "since");
		return;
	}
	api_write(req, readyz_apply, readyz_reply, NULL, API_RELOAD_NONE);
}

/* Resident memory of this process, bytes (0 if unknown). */
static long long
metrics_rss(void)
{
	long long pages = 0, size;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lld %lld", &size, &pages) != 2)
		pages = 0;
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

/*
 * One sluice_queue_messages line per (subscription, state), with pushes in
 * flight as inflight, as the subscription's status and /api/v1/stats
 * count them.
 */
static void
api_metrics_queues(struct app *app, const struct queue_count *q, size_t n,
    struct buf *b)
{
	int64_t count[4];
	size_t i, j;
	int st, have;

	for (i = 0; i < n; i = j) {
		memset(count, 0, sizeof count);
		have = 0;
		for (j = i; j < n && q[j].sub_id == q[i].sub_id; j++)
			if (q[j].state >= 0 && q[j].state < 4) {
				count[q[j].state] += q[j].count;
				have |= 1 << q[j].state;
			}
		api_counts_live(app, q[i].sub_id, count);
		for (st = 0; st < 4; st++)
			if (have & (1 << st) || count[st] != 0)
				buf_printf(b, "sluice_queue_messages{subscription="
				    "\"%lld\",state=\"%s\"} %lld\n",
				    (long long)q[i].sub_id,
				    delivery_state_names[st],
				    (long long)count[st]);
	}
}

void
api_metrics(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct queue_count *q;
	struct buf b;
	size_t n;
	char *text;

	buf_init(&b, 0);
	metrics_write(app->metrics, &b);
	buf_printf(&b, "# HELP sluice_queue_messages Messages in each "
	    "subscription's queue, by state.\n# TYPE sluice_queue_messages "
	    "gauge\n");
	if (store_queue_counts(app->store, &q, &n) == STORE_OK) {
		api_metrics_queues(app, q, n, &b);
		free(q);
	}
	buf_printf(&b, "# HELP sluice_uptime_seconds Seconds since start.\n"
	    "# TYPE sluice_uptime_seconds gauge\nsluice_uptime_seconds %lld\n",
	    (long long)((fmt_now_ms() - app->started_at) / 1000));
	buf_printf(&b, "# HELP sluice_resident_memory_bytes Resident set "
	    "size.\n# TYPE sluice_resident_memory_bytes gauge\n"
	    "sluice_resident_memory_bytes %lld\n", metrics_rss());
	text = buf_take(&b, &n);
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	    n);
}
