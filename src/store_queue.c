/*
 * store_queue.c: the store's delivery queues: a delivery row per
 * (subscription, event), browsing, retry and purge, the due messages of a
 * subscription, attempts and their outcomes, retention, pull leases and
 * receipts, and the queue counts and totals kept with every change.  Topics,
 * events and subscriptions themselves are store_catalog.c; connections, the
 * writer and the helpers that bind and collect rows are store.c (shared
 * through store_int.h).  It opens no connection of its own: reads take a
 * pooled reader (a message's detail in one read transaction), writes run in
 * the job's transaction (struct store_tx), and every change of a message's
 * state is counted with store_tx_count, so that queue_counts stays true.
 *
 * Threads: the read functions from any thread (each on a pooled reader);
 * store_tx_* only on the writer thread, inside a job.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fmt.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

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

/* Whether msg is among the n sorted ids of v. */
static int
msgs_have(const int64_t *v, size_t n, int64_t msg)
{
	return n > 0 && bsearch(&msg, v, n, sizeof *v, fmt_msg_cmp) != NULL;
}

static int
messages_select(struct store *st, const struct message_query *q, int state,
    int64_t after, int64_t limit, struct message_row **rows, size_t *n)
{
	size_t qlen = q->q ? strlen(q->q) : 0;

	if (state >= 0)
		return store_select(st, S_MESSAGES_STATE, sizeof **rows,
		    store_read_message, (void **)rows, n, "iibit", q->sub_id,
		    after, q->q, qlen, limit, delivery_state_names[state]);
	return store_select(st, S_MESSAGES_ANY, sizeof **rows,
	    store_read_message, (void **)rows, n, "iibi", q->sub_id, after,
	    q->q, qlen, limit);
}

/* The rows of the messages pushed now, after the cursor, that match q. */
static int
flight_rows(struct store *st, const struct message_query *q,
    struct message_row **rows, size_t *n)
{
	struct message_row *one;
	size_t i, k, size = 0;
	int rc = STORE_OK;

	*rows = NULL;
	*n = 0;
	for (i = 0; i < q->nflight && *n < (size_t)q->limit; i++) {
		if (q->flight[i] <= q->after)
			continue;
		/* the first pending message from it on: it, if it still is */
		rc = messages_select(st, q, DS_PENDING, q->flight[i] - 1, 1,
		    &one, &k);
		if (rc != STORE_OK)
			break;
		if (k == 1 && one[0].msg == q->flight[i]) {
			if (*n == size) {
				size = size ? size * 2 : 8;
				*rows = xrealloc(*rows, size * sizeof **rows);
			}
			one[0].state = DS_INFLIGHT;
			(*rows)[(*n)++] = one[0];
			free(one);
		} else
			message_rows_free(one, k);
	}
	if (rc != STORE_OK) {
		message_rows_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* Merges two lists in queue order into *a, keeping at most limit rows. */
static void
rows_merge(struct message_row **a, size_t *na, struct message_row *b,
    size_t nb, size_t limit)
{
	struct message_row *m = xcalloc(*na + nb + 1, sizeof *m);
	size_t i = 0, j = 0, k = 0;

	while (i < *na || j < nb) {
		struct message_row *next = j == nb || (i < *na &&
		    (*a)[i].msg < b[j].msg) ? &(*a)[i++] : &b[j++];

		if (k < limit)
			m[k++] = *next;
		else
			message_row_clear(next);
	}
	free(*a);
	free(b);
	*a = m;
	*na = k;
}

int
store_messages_list(struct store *st, const struct message_query *q,
    struct message_row **rows, size_t *n)
{
	struct message_row *more;
	size_t i, k, nmore;
	int rc;

	if (q->nflight == 0 || q->state == DS_DELIVERED || q->state == DS_DEAD)
		return messages_select(st, q, q->state, q->after, q->limit,
		    rows, n);
	if (q->state == DS_INFLIGHT) {
		/* the leased ones, and the pushed ones */
		rc = messages_select(st, q, q->state, q->after, q->limit, rows,
		    n);
		if (rc == STORE_OK && (rc = flight_rows(st, q, &more,
		    &nmore)) != STORE_OK) {
			message_rows_free(*rows, *n);
			*rows = NULL;
			*n = 0;
		}
		if (rc == STORE_OK)
			rows_merge(rows, n, more, nmore, (size_t)q->limit);
		return rc;
	}
	/* pending: read past the pushed ones and leave them out; any: mark */
	rc = messages_select(st, q, q->state, q->after, q->state == DS_PENDING ?
	    q->limit + (int64_t)q->nflight : q->limit, rows, n);
	if (rc != STORE_OK)
		return rc;
	for (i = k = 0; i < *n; i++) {
		struct message_row *r = &(*rows)[i];

		if (r->state == DS_PENDING && msgs_have(q->flight, q->nflight,
		    r->msg)) {
			if (q->state == DS_PENDING) {
				message_row_clear(r);
				continue;
			}
			r->state = DS_INFLIGHT;
		}
		if (k >= (size_t)q->limit)
			message_row_clear(r);
		else
			(*rows)[k++] = *r;
	}
	*n = k;
	return STORE_OK;
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
store_message_get(struct store *st, int64_t sub_id, int64_t msg,
    struct message_row *out, struct attempt_row **att, size_t *natt)
{
	struct store_conn *c = store_reader(st);
	struct message_row *rows;
	size_t n;
	int rc, found;

	*att = NULL;
	*natt = 0;
	if (c == NULL)
		return STORE_FAILED;
	/* one snapshot: the state and the attempts that led to it agree */
	if (store_exec_stmt(c, S_BEGIN_READ) != STORE_OK) {
		store_reader_put(st, c);
		return STORE_FAILED;
	}
	rc = store_select_on(c, S_MESSAGE_GET, sizeof *rows,
	    store_read_message, (void **)&rows, &n, "ii", sub_id, msg);
	rc = store_one(rc, rows, n, out, sizeof *out);
	found = rc == STORE_OK;
	if (found)
		rc = store_select_on(c, S_ATTEMPTS_LIST, sizeof **att,
		    store_read_attempt, (void **)att, natt, "ii", sub_id, msg);
	if (store_exec_stmt(c, S_COMMIT) != STORE_OK) {
		store_exec_stmt(c, S_ROLLBACK); /* never hand on an open snapshot */
		if (rc == STORE_OK)
			rc = STORE_FAILED;
	}
	store_reader_put(st, c);
	if (rc != STORE_OK && found) {
		message_row_clear(out);
		attempt_rows_free(*att, *natt);
		*att = NULL;
		*natt = 0;
	}
	return rc;
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
    const int64_t *msgs, size_t nmsgs, const struct purge_keep *keep,
    int64_t *affected)
{
	int64_t *left, lo = 0, hi, n;
	size_t i, nleft = 0;
	int rc = STORE_OK;

	if (keep->n == 0 || (msgs == NULL && state != DS_PENDING))
		return store_tx_messages(tx, S_PURGE_STATE, S_PURGE_MSG,
		    sub_id, state, msgs, nmsgs, -1, affected);
	*affected = 0;
	if (msgs == NULL) {
		/* the pending ones around those on their way */
		for (i = 0; i <= keep->n && rc == STORE_OK; i++) {
			hi = i < keep->n ? keep->msgs[i] : INT64_MAX;
			rc = store_tx_exec(tx, S_PURGE_BETWEEN, &n, "itii",
			    sub_id, delivery_state_names[state], lo, hi);
			if (rc == STORE_OK)
				*affected += n;
			lo = hi;
		}
		store_tx_count(tx, sub_id, state, -*affected);
		return rc;
	}
	left = xcalloc(nmsgs + 1, sizeof *left);
	for (i = 0; i < nmsgs; i++)
		if (!msgs_have(keep->msgs, keep->n, msgs[i]))
			left[nleft++] = msgs[i];
	rc = store_tx_messages(tx, S_PURGE_STATE, S_PURGE_MSG, sub_id, state,
	    left, nleft, -1, affected);
	free(left);
	return rc;
}

/* ---- totals -------------------------------------------------------- */

void
store_read_count(sqlite3_stmt *s, void *row)
{
	struct store_count *r = row;

	r->state = store_state_index(sqlite3_column_text(s, 0));
	r->count = sqlite3_column_int64(s, 1);
}

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
store_tx_sub_pulled(struct store_tx *tx, int64_t sub_id, const char *error)
{
	if (error == NULL)
		return store_tx_exec(tx, S_SUB_OUTCOME_OK, NULL, "ii", sub_id,
		    tx->now);
	return store_tx_exec(tx, S_SUB_LAST_ERROR, NULL, "iti", sub_id, error,
	    tx->now);
}

int
store_tx_sub_outcome(struct store_tx *tx, int64_t sub_id, int ok,
    int64_t failures, const char *error, int64_t paused_until,
    const char *reason)
{
	int rc = STORE_OK;

	/* one write per subscription a transaction, before the commit */
	if (ok) {
		store_tx_sub_ok_later(tx, sub_id);
		return STORE_OK;
	}
	/* a success held for later comes first: last_success_at stands */
	if (store_tx_sub_ok_take(tx, sub_id))
		rc = store_tx_exec(tx, S_SUB_OUTCOME_OK, NULL, "ii", sub_id,
		    tx->now);
	if (rc == STORE_OK)
		rc = store_tx_exec(tx, S_SUB_OUTCOME, NULL, "iitiit", sub_id,
		    failures, error, tx->now, paused_until, reason);
	return rc;
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
	/* system events are kept as long (their $sys copies went above) */
	if (rc == STORE_OK)
		rc = store_tx_exec(tx, S_RETIRE_APPEVENTS, &n, "ii", before,
		    (int64_t)limit);
	if (rc == STORE_OK)
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

/* ---- reads inside a write job -------------------------------------- */

int
store_tx_due(struct store_tx *tx, int64_t sub_id, int limit,
    struct due_row **rows, size_t *n)
{
	return store_tx_select(tx, S_DUE_AFTER, sizeof **rows, store_read_due,
	    (void **)rows, n, "iiii", sub_id, (int64_t)limit, (int64_t)0,
	    tx->now);
}
