/*
 * dispatcher.c: the delivery worker pool and its scheduler.
 *
 * Each subscription that delivers has a runtime record (struct dsub): its
 * pause, consecutive failures, requests in flight and rate-limit slot.  A
 * subscription is "ready" when it may have due messages and nothing stops
 * it; ready ones wait in a round-robin list, and those that must wait (a
 * pause, a not-yet-due head message, a rate-limit slot) sit in a timer heap.
 * Nothing polls: ingest, pause ends and completions wake the workers, and
 * an idle worker sleeps in curl_multi_poll until then.
 *
 * A worker takes a ready subscription, takes its due messages (in queue
 * order; with max_inflight 1 the head message blocks the rest) from those
 * read ahead in memory, or reads the next block of them, starts one
 * request on its own libcurl pool (deliver.c) and goes on to the next.  A
 * failure, a retry, a purge or a change to the subscription drops what was
 * read ahead: the queue is read again from its head.  A
 * finished request becomes a write job that records the attempt for every
 * message it carried, moves them to delivered or back to pending (dead at
 * max_attempts), and pauses the subscription by the outcome's class.  A
 * message is "in flight" in memory only: after a crash it is still pending
 * in the store, and is delivered again (at least once).
 *
 * Threads: the workers; the writer thread runs the completion jobs;
 * dispatcher_wake/reload/pause from any thread.  One mutex guards the
 * scheduler state.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "catalog.h"
#include "cloudevent.h"
#include "config.h"
#include "deliver.h"
#include "dispatcher.h"
#include "fmt.h"
#include "log.h"
#include "metrics.h"
#include "pause.h"
#include "route.h"
#include "store.h"
#include "subscription.h"
#include "sysevent.h"
#include "xmalloc.h"

#define WORKER_MAX_REQUESTS 256	/* requests in flight per worker */
#define DISPATCH_IDLE_MS 60000	/* longest sleep with nothing to do */
/*
 * The least pause after a failure, whatever the subscription says: an
 * endpoint failing with pauses of 0 retries at most 20 times a second per
 * request slot, so it cannot crowd out healthy ones.
 */
#define DISPATCH_MIN_PAUSE_MS 50
/*
 * Due messages are read from the store in blocks of this many per
 * subscription and handed out from memory, while all the blocks together
 * hold less than DUE_BUDGET bytes (past it, each read takes one request's
 * worth).
 */
#define DUE_PREFETCH 32
#define DUE_BUDGET (64 << 20)

struct dsub {
	int64_t id;
	int64_t paused_until;	/* ms; INT64_MAX: until resumed */
	char reason[16];	/* why it is paused */
	int64_t failures;	/* consecutive failed attempts */
	int validated;		/* handshake: -1 refused, 0 not yet, 1 ok */
	int64_t allowed_rate;	/* it granted, per minute; 0: no limit */
	int inflight;		/* requests in flight (claims included) */
	int inflight_msgs;	/* messages those requests carry */
	int settling;		/* delivered, "delivered" not yet committed */
	int64_t claimed_upto;	/* highest msg in flight or settling */
	int64_t next_slot_at;	/* rate limit: not before */
	int64_t timer_at;	/* in the timer heap until then; 0: not */
	int ready;		/* in the ready list */
	int claiming;		/* a worker is reading its due messages */
	int again;		/* woken while busy: look again after */
	int loaded;		/* status read from the store */
	int delivers;		/* its state delivers and it is pushed to */
	int64_t updated_at;	/* of the subscription as last loaded */
	struct due_row *due;	/* prefetched due messages, in queue order */
	size_t ndue, duepos;	/* rows in due; the next one to send */
	size_t due_bytes;	/* what they hold */
	unsigned due_gen;	/* counts the times they were forgotten */
	struct dsub *next;	/* ready list */
	struct request *flight;	/* pushes on their way, not yet answered */
};

struct outcome;

struct worker {
	struct dispatcher *d;
	pthread_t thread;
	struct deliver *dl;
	int requests;		/* in flight on this worker */
	struct outcome **done;	/* finished this round, to record */
	size_t ndone, donesize;
};

struct timer {
	int64_t at;
	struct dsub *ds;
};

struct dispatcher {
	struct app *app;
	pthread_mutex_t lock;
	struct dsub **subs;	/* sorted by id; never freed before stop */
	size_t nsubs;
	struct dsub *ready_head, *ready_tail;
	size_t due_bytes;	/* held by all prefetched messages */
	struct timer *heap;	/* min-heap on at */
	size_t nheap, heapsize;
	struct worker *workers;
	int nworkers;
	int stopping;
	char *origin;		/* WebHook-Request-Origin we send */
	char *user_agent;
	pthread_t janitor;
	pthread_cond_t janitor_wake;
	int64_t next_lease_at;	/* when the janitor expires leases; 0 never */
};

/* One request in flight. */
struct request {
	struct worker *w;
	struct dsub *ds;
	struct catalog_view *view; /* keeps sub alive */
	const struct sub *sub;
	struct due_row *rows;
	size_t n;
	struct cloudevent **evs;   /* parsed, for SOAP and binary mode */
	struct ce_stored *stored;  /* as read, borrowing from rows */
	struct deliver_msg *msgs;
	char (*ids)[FMT_MSG_LEN];
	int handshake;
	int flying;		/* in ds->flight */
	struct request *fprev, *fnext;
};

/* A finished request on its way through the writer. */
struct outcome {
	struct dispatcher *d;
	struct request *r;
	struct deliver_result res;
	enum pause_cause cause;
	int ok;
	int gone;
	int64_t pause_ms;
	int64_t failures;
	struct route_hits hits;
	int ndead;
	int recovered;	/* the first success after failures */
	int early;	/* a success already released to the scheduler */
};

/* ---- scheduler (d->lock held) -------------------------------------- */

static int
dsub_manual(const struct dsub *ds, int64_t now)
{
	return strcmp(ds->reason, "manual") == 0 && ds->paused_until > now;
}

/* A push with messages is on its way (they read inflight meanwhile). */
static void
flight_add(struct dsub *ds, struct request *r)
{
	ds->inflight_msgs += (int)r->n;
	r->flying = 1;
	r->fprev = NULL;
	r->fnext = ds->flight;
	if (ds->flight != NULL)
		ds->flight->fprev = r;
	ds->flight = r;
}

/* Its answer came, or it never left. */
static void
flight_end(struct dsub *ds, struct request *r)
{
	if (!r->flying)
		return;
	ds->inflight_msgs -= (int)r->n;
	r->flying = 0;
	if (r->fprev != NULL)
		r->fprev->fnext = r->fnext;
	else
		ds->flight = r->fnext;
	if (r->fnext != NULL)
		r->fnext->fprev = r->fprev;
}

static void
timer_swap(struct dispatcher *d, size_t a, size_t b)
{
	struct timer t = d->heap[a];

	d->heap[a] = d->heap[b];
	d->heap[b] = t;
}

static void
timer_push(struct dispatcher *d, struct dsub *ds, int64_t at)
{
	size_t i;

	if (ds->timer_at != 0 && ds->timer_at <= at)
		return;
	ds->timer_at = at;
	if (d->nheap == d->heapsize) {
		d->heapsize = d->heapsize ? d->heapsize * 2 : 64;
		d->heap = xrealloc(d->heap, d->heapsize * sizeof *d->heap);
	}
	i = d->nheap++;
	d->heap[i].at = at;
	d->heap[i].ds = ds;
	while (i > 0 && d->heap[(i - 1) / 2].at > d->heap[i].at) {
		timer_swap(d, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
timer_pop(struct dispatcher *d)
{
	size_t i = 0, l, m;

	d->heap[0] = d->heap[--d->nheap];
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < d->nheap && d->heap[l].at < d->heap[m].at)
			m = l;
		if (l + 1 < d->nheap && d->heap[l + 1].at < d->heap[m].at)
			m = l + 1;
		if (m == i)
			break;
		timer_swap(d, i, m);
		i = m;
	}
}

static void
ready_push(struct dispatcher *d, struct dsub *ds)
{
	if (ds->ready)
		return;
	ds->ready = 1;
	ds->next = NULL;
	if (d->ready_tail != NULL)
		d->ready_tail->next = ds;
	else
		d->ready_head = ds;
	d->ready_tail = ds;
}

static struct dsub *
dsub_find(struct dispatcher *d, int64_t id)
{
	size_t lo = 0, hi = d->nsubs, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (d->subs[mid]->id == id)
			return d->subs[mid];
		if (d->subs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct dsub *
dsub_get(struct dispatcher *d, int64_t id)
{
	struct dsub *ds = dsub_find(d, id);
	size_t i;

	if (ds != NULL)
		return ds;
	ds = xcalloc(1, sizeof *ds);
	ds->id = id;
	d->subs = xrealloc(d->subs, (d->nsubs + 1) * sizeof *d->subs);
	for (i = d->nsubs; i > 0 && d->subs[i - 1]->id > id; i--)
		d->subs[i] = d->subs[i - 1];
	d->subs[i] = ds;
	d->nsubs++;
	return ds;
}

static size_t
due_row_size(const struct due_row *r)
{
	return sizeof *r + (r->ev.attrs ? strlen(r->ev.attrs) : 0) +
	    r->ev.data_len;
}

/*
 * Drops a subscription's prefetched messages: the store's view of its
 * queue changed in a way they do not show (a failure, a retry, a purge, a
 * change to the subscription).
 */
static void
dsub_forget(struct dispatcher *d, struct dsub *ds)
{
	size_t i;

	for (i = ds->duepos; i < ds->ndue; i++)
		event_row_clear(&ds->due[i].ev);
	free(ds->due);
	ds->due = NULL;
	ds->ndue = ds->duepos = 0;
	d->due_bytes -= ds->due_bytes;
	ds->due_bytes = 0;
	ds->due_gen++;
}

/* Keeps the rows just read as the prefetched messages (none held). */
static void
dsub_fill(struct dispatcher *d, struct dsub *ds, struct due_row *rows,
    size_t n)
{
	size_t i;

	ds->due = rows;
	ds->ndue = n;
	ds->duepos = 0;
	for (i = 0; i < n; i++)
		ds->due_bytes += due_row_size(&rows[i]);
	d->due_bytes += ds->due_bytes;
}

/*
 * Moves up to max leading prefetched messages that are due into r; returns
 * how many.  *head_at: when the first one left is due (0: none left).
 */
static size_t
dsub_take(struct dispatcher *d, struct dsub *ds, struct request *r,
    size_t max, int64_t now, int64_t *head_at)
{
	size_t n = 0, i, size;

	while (n < max && ds->duepos + n < ds->ndue &&
	    ds->due[ds->duepos + n].next_attempt_at <= now)
		n++;
	if (n > 0) {
		r->rows = xcalloc(n, sizeof *r->rows);
		for (i = 0; i < n; i++) {
			r->rows[i] = ds->due[ds->duepos + i];
			size = due_row_size(&r->rows[i]);
			ds->due_bytes -= size;
			d->due_bytes -= size;
		}
		ds->duepos += n;
		r->n = n;
	}
	if (ds->duepos == ds->ndue) {
		free(ds->due);
		ds->due = NULL;
		ds->ndue = ds->duepos = 0;
	}
	*head_at = ds->ndue > 0 ? ds->due[ds->duepos].next_attempt_at : 0;
	return n;
}

static void
dispatcher_kick(struct dispatcher *d)
{
	int i;

	for (i = 0; i < d->nworkers; i++)
		if (d->workers[i].dl != NULL)
			deliver_wakeup(d->workers[i].dl);
}

/* Moves expired timers to the ready list; returns ms to the next one. */
static int64_t
sched_timers(struct dispatcher *d, int64_t now)
{
	struct dsub *ds;

	while (d->nheap > 0 && d->heap[0].at <= now) {
		ds = d->heap[0].ds;
		if (ds->timer_at == d->heap[0].at) {
			ds->timer_at = 0;
			ready_push(d, ds);
		}
		timer_pop(d);
	}
	return d->nheap > 0 ? d->heap[0].at - now : DISPATCH_IDLE_MS;
}

/*
 * Takes the next subscription that may send now; NULL when none.  The sub
 * it returns is counted in flight (a claim) until the request ends.
 */
static struct dsub *
sched_take(struct dispatcher *d, const struct catalog_view *v, int64_t now,
    const struct sub **subp, int *handshake)
{
	const struct sub *s;
	struct dsub *ds;

	while ((ds = d->ready_head) != NULL) {
		d->ready_head = ds->next;
		if (d->ready_head == NULL)
			d->ready_tail = NULL;
		ds->ready = 0;
		s = catalog_sub(v, ds->id);
		if (s == NULL || s->pull || !sub_state_delivers(s->state) ||
		    !ds->loaded) {
			dsub_forget(d, ds);
			continue;
		}
		if (ds->paused_until > now) {
			if (ds->paused_until != INT64_MAX)
				timer_push(d, ds, ds->paused_until);
			continue;
		}
		if (ds->claiming || ds->inflight >= (s->validate &&
		    ds->validated == 0 ? 1 : s->max_inflight)) {
			ds->again = 1;
			continue;
		}
		if (s->validate && ds->validated < 0)
			continue;
		if (ds->next_slot_at > now) {
			timer_push(d, ds, ds->next_slot_at);
			continue;
		}
		*handshake = s->validate && ds->validated == 0;
		ds->inflight++;
		ds->claiming = 1;
		ds->again = 0;
		*subp = s;
		return ds;
	}
	return NULL;
}

/* ---- requests ------------------------------------------------------ */

static void
request_free(struct request *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		cloudevent_free(r->evs[i]);
	free(r->evs);
	free(r->stored);
	free(r->msgs);
	free(r->ids);
	due_rows_free(r->rows, r->n);
	free(r);
}

/* The subscription's request fields for deliver. */
static void
request_sub(const struct sub *s, const char *origin, struct deliver_sub *ds)
{
	memset(ds, 0, sizeof *ds);
	ds->id = s->id;
	ds->sink = s->sink;
	ds->http_method = s->http_method;
	ds->soap = s->soap;
	ds->binary = s->binary;
	ds->soap_version = s->soap_version;
	ds->soap_action = s->soap_action;
	/* an endpoint set up for batches always gets the batch shape */
	ds->wrap_in_list = s->wrap_in_list || s->batch_size > 1;
	ds->headers = (const char *const *)s->headers;
	ds->secret = s->secret;
	ds->previous_secret = sub_previous_secret(s, fmt_now_ms());
	ds->timeout_ms = s->timeout_ms;
	ds->origin = origin;
	ds->request_rate = s->rate_limit * 60;
}

static void request_done(void *, const struct deliver_result *);

/* Ends a claim that sent nothing (d->lock not held). */
static void
request_cancel(struct dispatcher *d, struct request *r, int64_t wait_until)
{
	struct dsub *ds = r->ds;

	pthread_mutex_lock(&d->lock);
	ds->inflight--;
	ds->claiming = 0;
	flight_end(ds, r);
	if (r->n > 0) {
		/* taken but not sent: read them again */
		dsub_forget(d, ds);
		if (ds->inflight == 0 && ds->settling == 0)
			ds->claimed_upto = 0;
	}
	if (wait_until > 0)
		timer_push(d, ds, wait_until);
	else if (ds->again)
		ready_push(d, ds);
	pthread_mutex_unlock(&d->lock);
	catalog_release(d->app->catalog, r->view);
	request_free(r);
}

/* Reads the due messages and starts the request (d->lock not held). */
static void
request_start(struct worker *w, struct request *r, int64_t now)
{
	struct dispatcher *d = w->d;
	const struct sub *s = r->sub;
	struct deliver_sub dsub;
	struct due_row *rows;
	int64_t after, at = 0, spacing, granted;
	size_t i, n, nrows, limit;
	unsigned gen;
	int strict = s->max_inflight == 1;

	request_sub(s, d->origin, &dsub);
	if (r->handshake) {
		pthread_mutex_lock(&d->lock);
		r->ds->claiming = 0;
		pthread_mutex_unlock(&d->lock);
		if (deliver_handshake(w->dl, &dsub, d->origin, request_done,
		    r) != 0)
			request_cancel(d, r, now + s->tcp_error_pause_ms);
		else
			w->requests++;
		return;
	}
	pthread_mutex_lock(&d->lock);
	n = dsub_take(d, r->ds, r, s->batch_size, now, &at);
	/* skip what other requests carry, or delivered but not yet written */
	after = r->ds->inflight > 1 || r->ds->settling > 0 ?
	    r->ds->claimed_upto : 0;
	limit = d->due_bytes < DUE_BUDGET && s->batch_size < DUE_PREFETCH ?
	    DUE_PREFETCH : s->batch_size;
	gen = r->ds->due_gen;
	pthread_mutex_unlock(&d->lock);
	if (n == 0 && at == 0) {
		if (store_due(d->app->store, s->id, strict, after, now,
		    (int)limit, &rows, &nrows) != STORE_OK) {
			request_cancel(d, r, now + 1000);
			return;
		}
		pthread_mutex_lock(&d->lock);
		if (gen == r->ds->due_gen && r->ds->ndue == 0) {
			dsub_fill(d, r->ds, rows, nrows);
			n = dsub_take(d, r->ds, r, s->batch_size, now, &at);
		} else {
			/* forgotten meanwhile: what was read may be stale */
			r->ds->again = 1;
			due_rows_free(rows, nrows);
		}
		pthread_mutex_unlock(&d->lock);
	}
	if (n == 0) {
		if (at == 0 && !strict)
			store_next_due(d->app->store, s->id, &at);
		request_cancel(d, r, at > now ? at : 0);
		return;
	}
	r->evs = xcalloc(n, sizeof *r->evs);
	r->stored = xcalloc(n, sizeof *r->stored);
	r->msgs = xcalloc(n, sizeof *r->msgs);
	r->ids = xcalloc(n, sizeof *r->ids);
	for (i = 0; i < n; i++) {
		struct event_row *e = &r->rows[i].ev;

		r->stored[i] = (struct ce_stored){ e->attrs,
			(enum ce_data_kind)e->kind, e->data, e->data_len };
		/* JSON bodies are written from the stored text as it is */
		if (s->soap || s->binary)
			r->evs[i] = cloudevent_from_stored(e->attrs,
			    (enum ce_data_kind)e->kind, e->data, e->data_len);
		fmt_msg(r->rows[i].msg, r->ids[i]);
		r->msgs[i].webhook_id = r->ids[i];
		r->msgs[i].ev = r->evs[i];
		r->msgs[i].stored = &r->stored[i];
	}
	pthread_mutex_lock(&d->lock);
	r->ds->claiming = 0;
	flight_add(r->ds, r);
	if (r->rows[n - 1].msg > r->ds->claimed_upto)
		r->ds->claimed_upto = r->rows[n - 1].msg;
	spacing = pause_rate_spacing(s->rate_limit, (int64_t)n);
	/* under the rate the endpoint granted in its handshake (per minute:
	 * n requests a minute take as long as 60 n a second), too */
	if (s->validate && (granted = pause_rate_spacing(r->ds->allowed_rate,
	    (int64_t)n * 60)) > spacing)
		spacing = granted;
	r->ds->next_slot_at = (r->ds->next_slot_at > now ?
	    r->ds->next_slot_at : now) + spacing;
	/* with room for more, let another request of this sub start */
	if (r->ds->inflight < s->max_inflight)
		ready_push(d, r->ds);
	pthread_mutex_unlock(&d->lock);
	if (deliver_start(w->dl, &dsub, r->msgs, r->n, request_done, r) != 0) {
		log_error("dispatch", "subscription %lld: cannot start a "
		    "request", (long long)s->id);
		request_cancel(d, r, now + s->tcp_error_pause_ms);
		return;
	}
	w->requests++;
}

/* ---- outcomes ------------------------------------------------------ */

static const char *
outcome_name(enum deliver_outcome o)
{
	return o == DELIVER_OK ? "ok" : o == DELIVER_TRANSPORT ?
	    "transport_error" : "app_error";
}

static const char *
cause_name(enum pause_cause c)
{
	return c == PAUSE_TRANSPORT ? "tcp_error" : c == PAUSE_APP ?
	    "app_error" : "retry_after";
}

static int
outcome_handshake(struct store_tx *tx, struct outcome *o)
{
	return store_tx_sub_validated(tx, o->r->sub->id, o->ok ? 1 :
	    o->res.outcome == DELIVER_APP ? -1 : 0, o->ok ?
	    o->res.allowed_rate : 0);
}

/* Writer thread: records a system event for an outcome (meta borrowed). */
static int
outcome_record(struct store_tx *tx, struct outcome *o, const char *entity,
    const char *operation, const char *id, json_t *meta)
{
	struct catalog_view *v = catalog_acquire(o->d->app->catalog);
	struct sysevent se = { entity, operation, id, "system", meta };
	int rc = sysevent_record(tx, v, o->d->app->node, &se, &o->hits);

	catalog_release(o->d->app->catalog, v);
	return rc;
}

/*
 * Writer thread: subscription.pause by the system when a failure starts a
 * run of them, subscription.resume when the first success ends it.
 */
static int
outcome_outage(struct store_tx *tx, struct outcome *o, const char *id)
{
	json_t *meta;
	int rc;

	if (o->ok)
		meta = json_pack("{ss}", "reason", "delivered");
	else {
		meta = json_pack("{sssIsI}", "reason", cause_name(o->cause),
		    "pause_ms", (json_int_t)o->pause_ms, "http_status",
		    (json_int_t)o->res.http_status);
		json_object_set_new(meta, "last_error", o->res.error != NULL ?
		    json_string(o->res.error) : json_null());
	}
	rc = outcome_record(tx, o, "subscription", o->ok ? "resume" : "pause",
	    id, meta);
	json_decref(meta);
	return rc;
}

/* Writer thread: records the attempt of every message the request held. */
static int
outcome_apply(struct store_tx *tx, void *arg)
{
	struct outcome *o = arg;
	struct request *r = o->r;
	const struct sub *s = r->sub;
	struct attempt_in a;
	char id[32];
	size_t i;
	int dead, rc = STORE_OK;

	if (r->handshake)
		return outcome_handshake(tx, o);
	memset(&a, 0, sizeof a);
	a.sub_id = s->id;
	a.started_at = o->res.started_at;
	a.duration_ms = o->res.duration_ms;
	a.outcome = outcome_name(o->res.outcome);
	a.http_status = o->res.http_status;
	a.error = o->res.error;
	a.response = o->res.response;
	a.response_len = o->res.response_len;
	a.max_attempts = s->max_attempts;
	a.next_attempt_at = store_tx_now(tx) + o->pause_ms;
	snprintf(id, sizeof id, "%lld", (long long)s->id);
	for (i = 0; i < r->n && rc == STORE_OK; i++) {
		a.msg = r->rows[i].msg;
		rc = store_tx_attempt(tx, &a, &dead);
		if (rc == STORE_OK && dead) {
			json_t *meta = json_pack("{sssIss}", "msg", r->ids[i],
			    "attempts", (json_int_t)r->rows[i].attempts + 1,
			    "last_error", o->res.error ? o->res.error : "");

			rc = outcome_record(tx, o, "delivery", "dead", id, meta);
			json_decref(meta);
			o->ndead++;
		}
	}
	/* an outage starts and ends as system events (not each retry) */
	if (rc == STORE_OK && !o->gone && (o->recovered ||
	    (!o->ok && o->failures == 1)))
		rc = outcome_outage(tx, o, id);
	/* 410: paused until an operator turns the subscription on again */
	if (rc == STORE_OK)
		rc = store_tx_sub_outcome(tx, s->id, o->ok, o->failures,
		    o->res.error, o->gone ? INT64_MAX : store_tx_now(tx) +
		    o->pause_ms, o->gone ? "gone" : cause_name(o->cause));
	if (rc == STORE_OK && o->gone) {
		rc = store_tx_sub_state(tx, s->id, "disabled");
		if (rc == STORE_OK)
			rc = outcome_record(tx, o, "subscription", "gone", id,
			    NULL);
	}
	return rc;
}

/* Writer thread, after the commit: updates the scheduler. */
static void
outcome_done(void *arg, int rc)
{
	struct outcome *o = arg;
	struct dispatcher *d = o->d;
	struct request *r = o->r;
	struct dsub *ds = r->ds;
	int64_t now = fmt_now_ms();
	size_t i;
	int kick = 0;

	if (rc != STORE_OK)
		log_error("dispatch", "subscription %lld: the attempt could not "
		    "be recorded; its messages stay pending",
		    (long long)r->sub->id);
	else if (o->ok && !r->handshake)
		atomic_fetch_add(&d->app->metrics->messages_delivered, r->n);
	else
		atomic_fetch_add(&d->app->metrics->messages_dead,
		    (unsigned)o->ndead);
	if (o->gone && catalog_reload_sub(d->app->catalog, r->sub->id) != 0)
		log_error("dispatch", "catalog: reload failed");
	pthread_mutex_lock(&d->lock);
	if (o->early)
		ds->settling--;
	else {
		ds->inflight--;
		flight_end(ds, r);
	}
	if (r->handshake) {
		ds->validated = o->ok ? 1 : o->res.outcome == DELIVER_APP ? -1 :
		    0;
		ds->allowed_rate = o->ok ? o->res.allowed_rate : 0;
	}
	if (o->ok) {
		ds->failures = 0;
	} else {
		ds->failures = o->failures;
		dsub_forget(d, ds);
		/* an operator's pause wins over an error's */
		if (!dsub_manual(ds, now)) {
			ds->paused_until = o->gone ? INT64_MAX :
			    now + o->pause_ms;
			snprintf(ds->reason, sizeof ds->reason, "%s",
			    o->gone ? "gone" : cause_name(o->cause));
		}
	}
	/* nothing on its way: read the queue from its head again */
	if (ds->inflight == 0 && ds->settling == 0)
		ds->claimed_upto = 0;
	/* a success released early was made ready when it came back */
	if (ds->paused_until > now && ds->paused_until != INT64_MAX) {
		timer_push(d, ds, ds->paused_until);
		kick = 1; /* workers sleep until the next timer they know */
	} else if (ds->paused_until <= now && (!o->early || ds->again)) {
		ready_push(d, ds);
		kick = 1;
	}
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < o->hits.n; i++)
		dispatcher_wake(d, o->hits.ids[i]);
	if (kick)
		dispatcher_kick(d);
	if (log_enabled(LOGL_DEBUG))
		log_debug("dispatch", "subscription %lld: %zu message(s) %s "
		    "status %d in %lld ms%s", (long long)r->sub->id, r->n,
		    outcome_name(o->res.outcome), o->res.http_status,
		    (long long)o->res.duration_ms, o->ndead ? " (dead)" : "");
	route_hits_clear(&o->hits);
	catalog_release(d->app->catalog, r->view);
	request_free(r);
	free(o->res.error);
	free(o->res.response);
	free(o->res.allowed_origin);
	free(o);
}

/* Worker thread: a request finished; record it through the writer. */
static void
request_done(void *arg, const struct deliver_result *res)
{
	struct request *r = arg;
	struct dispatcher *d = r->w->d;
	const struct sub *s = r->sub;
	struct outcome *o = xcalloc(1, sizeof *o);
	struct pause_rule rule = { s->tcp_error_pause_ms, s->app_error_pause_ms,
		s->backoff_factor, s->max_pause_ms };

	r->w->requests--;
	o->d = d;
	o->r = r;
	o->res = *res;
	o->res.error = res->error ? xstrdup(res->error) : NULL;
	o->res.response = res->response_len ?
	    xmemdup(res->response, res->response_len) : NULL;
	o->res.allowed_origin = res->allowed_origin ?
	    xstrdup(res->allowed_origin) : NULL;
	o->ok = res->outcome == DELIVER_OK;
	o->gone = !r->handshake && res->http_status == 410;
	atomic_fetch_add(&d->app->metrics->deliveries[res->outcome == DELIVER_OK ?
	    MO_OK : res->outcome == DELIVER_TRANSPORT ? MO_TRANSPORT : MO_APP],
	    1);
	metrics_observe(&d->app->metrics->attempt_seconds,
	    (double)res->duration_ms / 1000.0, 0);
	pthread_mutex_lock(&d->lock);
	o->failures = o->ok ? 0 : r->ds->failures + 1;
	o->recovered = o->ok && !r->handshake && r->ds->failures > 0;
	/*
	 * A success satisfies order: the next request may go before the
	 * "delivered" write commits (reads skip past claimed_upto meanwhile;
	 * after a crash it is sent again: at least once).  A failure waits
	 * for its commit: the pause and the attempt count depend on it.
	 */
	if (o->ok && !r->handshake) {
		o->early = 1;
		r->ds->inflight--;
		flight_end(r->ds, r);
		r->ds->settling++;
		r->ds->failures = 0;
		if (r->ds->paused_until <= fmt_now_ms())
			ready_push(d, r->ds);
	}
	pthread_mutex_unlock(&d->lock);
	if (!o->ok) {
		o->cause = res->outcome == DELIVER_TRANSPORT ? PAUSE_TRANSPORT :
		    res->retry_after_ms >= 0 ? PAUSE_RETRY_AFTER : PAUSE_APP;
		o->pause_ms = pause_after(&rule, o->cause, o->failures,
		    res->retry_after_ms);
		if (o->pause_ms < DISPATCH_MIN_PAUSE_MS)
			o->pause_ms = DISPATCH_MIN_PAUSE_MS;
		if (r->handshake && res->outcome == DELIVER_APP)
			o->pause_ms = 0;
		atomic_fetch_add(&d->app->metrics->pauses[o->cause], 1);
		if (o->gone)
			log_info("dispatch", "subscription %lld: 410 Gone: "
			    "disabled until turned on again", (long long)s->id);
		else
			log_info("dispatch", "subscription %lld: %s%s (status "
			    "%d): pausing %lld ms", (long long)s->id,
			    r->handshake ? "handshake " : "",
			    outcome_name(res->outcome), res->http_status,
			    (long long)o->pause_ms);
	}
	if (r->w->ndone == r->w->donesize) {
		r->w->donesize = r->w->donesize ? r->w->donesize * 2 : 64;
		r->w->done = xrealloc(r->w->done, r->w->donesize *
		    sizeof *r->w->done);
	}
	r->w->done[r->w->ndone++] = o;
}

/* The outcomes of one round of a worker, recorded in one write job. */
struct outcomes {
	struct outcome **o;
	size_t n;
};

static int
outcomes_apply(struct store_tx *tx, void *arg)
{
	struct outcomes *b = arg;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < b->n && rc == STORE_OK; i++)
		rc = outcome_apply(tx, b->o[i]);
	return rc;
}

static void
outcomes_done(void *arg, int rc)
{
	struct outcomes *b = arg;
	size_t i;

	for (i = 0; i < b->n; i++)
		outcome_done(b->o[i], rc);
	free(b->o);
	free(b);
}

/* Hands what finished in this round to the writer (worker thread). */
static void
worker_record(struct worker *w)
{
	struct outcomes *b;

	if (w->ndone == 0)
		return;
	b = xcalloc(1, sizeof *b);
	b->o = w->done;	/* the job owns them now */
	b->n = w->ndone;
	w->done = NULL;
	w->ndone = w->donesize = 0;
	store_submit(w->d->app->store, outcomes_apply, outcomes_done, b, 0);
}

/* ---- workers ------------------------------------------------------- */

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct dispatcher *d = w->d;
	struct catalog_view *v;
	struct request *r;
	const struct sub *s;
	struct dsub *ds;
	int64_t now, wait;
	int handshake;
	char name[16];

	snprintf(name, sizeof name, "sluice-deliv%d", (int)(w - d->workers));
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		now = fmt_now_ms();
		pthread_mutex_lock(&d->lock);
		if (d->stopping && w->requests == 0) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		wait = sched_timers(d, now);
		while (!d->stopping && w->requests < WORKER_MAX_REQUESTS) {
			v = catalog_acquire(d->app->catalog);
			ds = sched_take(d, v, now, &s, &handshake);
			if (ds == NULL) {
				catalog_release(d->app->catalog, v);
				break;
			}
			pthread_mutex_unlock(&d->lock);
			r = xcalloc(1, sizeof *r);
			r->w = w;
			r->ds = ds;
			r->view = v;
			r->sub = s;
			r->handshake = handshake;
			request_start(w, r, now);
			pthread_mutex_lock(&d->lock);
		}
		/* taking may have set timers (rate limits, not-yet-due heads) */
		if (d->nheap > 0 && d->heap[0].at - now < wait)
			wait = d->heap[0].at - now;
		pthread_mutex_unlock(&d->lock);
		if (wait > DISPATCH_IDLE_MS)
			wait = DISPATCH_IDLE_MS;
		deliver_run(w->dl, wait > 0 ? (int)wait : 0);
		worker_record(w);
	}
	free(w->done);
	return NULL;
}

/* ---- janitor: crash recovery at start, retention ------------------- */

static int
janitor_recover(struct store_tx *tx, void *arg)
{
	int64_t *n = arg;

	return store_tx_recover(tx, n);
}

/* work[0]: remove what is older than this; work[1]: rows removed. */
static int
janitor_retire(struct store_tx *tx, void *arg)
{
	int64_t *work = arg;

	return store_tx_retention(tx, work[0], 500, &work[1]);
}

static int
dispatcher_barrier(struct store_tx *tx, void *arg)
{
	return STORE_OK;
}

struct janitor_leases {
	struct dispatcher *d;
	int64_t next;	/* when the next lease ends */
	int64_t expired;
	struct route_hits hits;
};

/* Leases that ended unacknowledged: due again, an attempt counted. */
static int
janitor_leases(struct store_tx *tx, void *arg)
{
	struct janitor_leases *jl = arg;
	struct dispatcher *d = jl->d;
	struct catalog_view *v = catalog_acquire(d->app->catalog);
	struct attempt_in a = { 0 };
	struct lease_row *rows;
	const struct sub *s;
	struct sysevent se;
	char id[32], msg[FMT_MSG_LEN];
	json_t *meta;
	size_t n, i;
	int rc, dead;

	rc = store_tx_leases_expired(tx, 500, &rows, &n);
	for (i = 0; rc == STORE_OK && i < n; i++) {
		s = catalog_sub(v, rows[i].sub_id);
		a.sub_id = rows[i].sub_id;
		a.msg = rows[i].msg;
		a.started_at = store_tx_now(tx);
		a.outcome = "lease_expired";
		a.error = "the lease ended without ack or nack";
		a.max_attempts = s ? s->max_attempts : 10;
		a.next_attempt_at = store_tx_now(tx);
		rc = store_tx_attempt(tx, &a, &dead);
		if (rc == STORE_OK)
			rc = store_tx_sub_pulled(tx, a.sub_id, a.error);
		jl->expired++;
		if (rc != STORE_OK || !dead)
			continue;
		snprintf(id, sizeof id, "%lld", (long long)a.sub_id);
		fmt_msg(a.msg, msg);
		meta = json_pack("{sssIss}", "msg", msg, "attempts",
		    (json_int_t)a.max_attempts, "last_error", a.error);
		se = (struct sysevent){ "delivery", "dead", id, "system", meta };
		rc = sysevent_record(tx, v, d->app->node, &se, &jl->hits);
		json_decref(meta);
	}
	free(rows);
	catalog_release(d->app->catalog, v);
	if (rc == STORE_OK)
		rc = store_tx_next_lease(tx, &jl->next);
	return rc;
}

static void
janitor_expire(struct dispatcher *d)
{
	struct janitor_leases jl = { d, 0, 0, { NULL, 0 } };
	size_t i;

	if (store_run(d->app->store, janitor_leases, &jl, 0) != STORE_OK) {
		jl.next = fmt_now_ms() + 1000;
		route_hits_clear(&jl.hits);
	}
	for (i = 0; i < jl.hits.n; i++)
		dispatcher_wake(d, jl.hits.ids[i]);
	route_hits_clear(&jl.hits);
	if (jl.expired > 0)
		log_info("dispatch", "%lld pull lease(s) ended without ack: "
		    "due again", (long long)jl.expired);
	pthread_mutex_lock(&d->lock);
	if (d->next_lease_at <= fmt_now_ms() ||
	    (jl.next > 0 && jl.next < d->next_lease_at))
		d->next_lease_at = jl.next;
	pthread_mutex_unlock(&d->lock);
}

/* Deletes delivered messages past retention, in small transactions. */
static void
janitor_retention(struct dispatcher *d)
{
	int64_t work[2];
	int rounds;

	for (rounds = 0; rounds < 100; rounds++) {
		work[0] = fmt_now_ms() - d->app->cfg->retention;
		work[1] = 0;
		if (store_run(d->app->store, janitor_retire, work, 0) !=
		    STORE_OK || work[1] < 500)
			break;
	}
}

static void *
janitor_main(void *arg)
{
	struct dispatcher *d = arg;
	int64_t period = d->app->cfg->retention / 4, next_retention = 0, now,
	    until;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "sluice-janitor");
	if (period > 60000)
		period = 60000;
	if (period < 250)
		period = 250;
	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		now = fmt_now_ms();
		if (d->next_lease_at > 0 && d->next_lease_at <= now) {
			pthread_mutex_unlock(&d->lock);
			janitor_expire(d);
			pthread_mutex_lock(&d->lock);
			continue;
		}
		if (next_retention <= now) {
			pthread_mutex_unlock(&d->lock);
			janitor_retention(d);
			next_retention = fmt_now_ms() + period;
			pthread_mutex_lock(&d->lock);
			continue;
		}
		until = next_retention;
		if (d->next_lease_at > 0 && d->next_lease_at < until)
			until = d->next_lease_at;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000;
		pthread_cond_timedwait(&d->janitor_wake, &d->lock, &ts);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- start, stop, wake --------------------------------------------- */

/*
 * Takes in a subscription the first time it is seen, or again after a
 * change to it, and makes it ready if it delivers.  Only one seen for the
 * first time reads its pause state from the store (the dispatcher keeps it
 * after that): a change to one subscription costs no SQL for the others.
 */
static void
dispatcher_load_one(struct dispatcher *d, const struct sub *s)
{
	struct sub_status st;
	struct dsub *ds;
	int first, changed;

	pthread_mutex_lock(&d->lock);
	ds = dsub_get(d, s->id);
	first = !ds->loaded;
	changed = ds->updated_at != s->updated_at;
	pthread_mutex_unlock(&d->lock);
	if (!first && !changed)
		return;
	if (first && store_sub_status(d->app->store, s->id, 0, &st) !=
	    STORE_OK)
		return;
	pthread_mutex_lock(&d->lock);
	if (first) {
		ds->paused_until = st.paused_until;
		snprintf(ds->reason, sizeof ds->reason, "%s",
		    st.pause_reason ? st.pause_reason : "");
		ds->failures = st.failures;
		ds->validated = st.validated;
		ds->allowed_rate = st.allowed_rate;
		ds->loaded = 1;
		sub_status_clear(&st);
	} else {
		/* a change runs the handshake again */
		ds->validated = 0;
		ds->allowed_rate = 0;
		dsub_forget(d, ds);
	}
	/* turned on again after a 410 (the store cleared it too) */
	if (strcmp(ds->reason, "gone") == 0 && s->state != SUB_DISABLED) {
		ds->paused_until = 0;
		ds->reason[0] = '\0';
	}
	ds->updated_at = s->updated_at;
	ds->delivers = !s->pull && sub_state_delivers(s->state);
	if (ds->delivers)
		ready_push(d, ds);
	pthread_mutex_unlock(&d->lock);
}

/* Takes in every subscription of the catalog (dispatcher_load_one). */
static void
dispatcher_load(struct dispatcher *d)
{
	struct catalog_view *v = catalog_acquire(d->app->catalog);
	size_t i;

	for (i = 0; i < v->nsubs; i++)
		dispatcher_load_one(d, v->subs[i]);
	catalog_release(d->app->catalog, v);
}

struct dispatcher *
dispatcher_start(struct app *app, char **cause)
{
	struct dispatcher *d = xcalloc(1, sizeof *d);
	struct deliver_options opt = { 0 };
	int64_t recovered = 0;
	long cores;
	int i;

	d->app = app;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->janitor_wake, NULL);
	d->origin = xstrdup(app->node);
	d->next_lease_at = fmt_now_ms();
	d->user_agent = xasprintf("sluice/%s", PACKAGE_VERSION);
	if (store_run(app->store, janitor_recover, &recovered, 0) != STORE_OK)
		log_warn("dispatch", "could not reset messages left in flight");
	else if (recovered > 0)
		log_info("dispatch", "%lld message(s) left in flight by the last "
		    "run are pending again", (long long)recovered);
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	d->nworkers = app->cfg->workers > 0 ? (int)app->cfg->workers :
	    cores > 0 ? (int)cores : 1;
	d->workers = xcalloc((size_t)d->nworkers, sizeof *d->workers);
	opt.ca_file = app->cfg->ca_file;
	opt.insecure_tls = app->cfg->insecure_tls;
	opt.sink_deny = app->cfg->sink_deny;
	opt.user_agent = d->user_agent;
	opt.max_response = 1 << 20;
	if (opt.insecure_tls)
		log_warn("dispatch", "insecure_tls is on: sinks' TLS "
		    "certificates are NOT verified");
	for (i = 0; i < d->nworkers; i++) {
		d->workers[i].d = d;
		if ((d->workers[i].dl = deliver_new(&opt, cause)) == NULL)
			goto fail;
	}
	dispatcher_load(d);
	for (i = 0; i < d->nworkers; i++)
		if (pthread_create(&d->workers[i].thread, NULL, worker_main,
		    &d->workers[i]) != 0)
			fatalx("dispatch", "cannot start worker threads");
	if (pthread_create(&d->janitor, NULL, janitor_main, d) != 0)
		fatalx("dispatch", "cannot start the janitor thread");
	log_info("dispatch", "%d delivery worker(s)", d->nworkers);
	return d;
fail:
	for (i = 0; i < d->nworkers; i++)
		deliver_free(d->workers[i].dl);
	free(d->workers);
	free(d->origin);
	free(d->user_agent);
	free(d);
	return NULL;
}

void
dispatcher_stop(struct dispatcher *d)
{
	size_t i;
	int w;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_signal(&d->janitor_wake);
	pthread_mutex_unlock(&d->lock);
	dispatcher_kick(d);
	for (w = 0; w < d->nworkers; w++)
		pthread_join(d->workers[w].thread, NULL);
	pthread_join(d->janitor, NULL);
	/* jobs queued in the writer before this must find us (exclusive:
	 * it runs after all of them) */
	store_run(d->app->store, dispatcher_barrier, NULL, 1);
	for (w = 0; w < d->nworkers; w++)
		deliver_free(d->workers[w].dl);
	for (i = 0; i < d->nsubs; i++) {
		dsub_forget(d, d->subs[i]);
		free(d->subs[i]);
	}
	free(d->subs);
	free(d->heap);
	free(d->workers);
	free(d->origin);
	free(d->user_agent);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->janitor_wake);
	free(d);
}

void
dispatcher_wake(struct dispatcher *d, int64_t sub_id)
{
	struct dsub *ds;
	int kick = 0;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	ds = dsub_find(d, sub_id);
	/* only a subscription that may send, and is not already due */
	if (ds != NULL && ds->loaded && ds->delivers) {
		if (ds->inflight > 0)
			ds->again = 1;
		/* sched_take holds it back if max_inflight is reached */
		if (ds->timer_at == 0 && !ds->ready) {
			ready_push(d, ds);
			kick = 1;
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (kick)
		dispatcher_kick(d);
}

void
dispatcher_requeue(struct dispatcher *d, int64_t sub_id)
{
	struct dsub *ds;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	if ((ds = dsub_find(d, sub_id)) != NULL)
		dsub_forget(d, ds);
	pthread_mutex_unlock(&d->lock);
	dispatcher_wake(d, sub_id);
}

void
dispatcher_reload(struct dispatcher *d)
{
	if (d == NULL)
		return;
	dispatcher_load(d);
	dispatcher_kick(d);
}

void
dispatcher_reload_sub(struct dispatcher *d, int64_t sub_id)
{
	struct catalog_view *v;
	const struct sub *s;

	if (d == NULL)
		return;
	v = catalog_acquire(d->app->catalog);
	if ((s = catalog_sub(v, sub_id)) != NULL)
		dispatcher_load_one(d, s);
	catalog_release(d->app->catalog, v);
	dispatcher_kick(d);
}

int
dispatcher_inflight(struct dispatcher *d, int64_t sub_id)
{
	struct dsub *ds;
	int n = 0;

	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	if ((ds = dsub_find(d, sub_id)) != NULL)
		n = ds->inflight_msgs;
	pthread_mutex_unlock(&d->lock);
	return n;
}

size_t
dispatcher_flight(struct dispatcher *d, int64_t sub_id, int64_t **msgs)
{
	const struct request *r;
	struct dsub *ds;
	size_t n = 0, i;

	*msgs = NULL;
	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	if ((ds = dsub_find(d, sub_id)) != NULL && ds->inflight_msgs > 0) {
		*msgs = xcalloc((size_t)ds->inflight_msgs, sizeof **msgs);
		for (r = ds->flight; r != NULL; r = r->fnext)
			for (i = 0; i < r->n; i++)
				(*msgs)[n++] = r->rows[i].msg;
	}
	pthread_mutex_unlock(&d->lock);
	if (n > 1)
		qsort(*msgs, n, sizeof **msgs, fmt_msg_cmp);
	return n;
}

int
dispatcher_flying(struct dispatcher *d, int64_t sub_id, int64_t msg)
{
	int64_t *msgs;
	size_t n = dispatcher_flight(d, sub_id, &msgs);
	int found = n > 0 && bsearch(&msg, msgs, n, sizeof *msgs,
	    fmt_msg_cmp) != NULL;

	free(msgs);
	return found;
}

int64_t
dispatcher_inflight_total(struct dispatcher *d)
{
	int64_t n = 0;
	size_t i;

	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nsubs; i++)
		n += d->subs[i]->inflight_msgs;
	pthread_mutex_unlock(&d->lock);
	return n;
}

void
dispatcher_lease(struct dispatcher *d, int64_t until)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->next_lease_at == 0 || until < d->next_lease_at) {
		d->next_lease_at = until;
		pthread_cond_signal(&d->janitor_wake);
	}
	pthread_mutex_unlock(&d->lock);
}

void
dispatcher_pause(struct dispatcher *d, int64_t sub_id, int64_t until)
{
	struct dsub *ds;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	ds = dsub_get(d, sub_id);
	ds->paused_until = until;
	snprintf(ds->reason, sizeof ds->reason, "manual");
	if (until == 0) {
		ds->failures = 0;
		ds->timer_at = 0;
		ready_push(d, ds);
	} else if (until != INT64_MAX)
		timer_push(d, ds, until);
	pthread_mutex_unlock(&d->lock);
	dispatcher_kick(d);
}
