/*
 * store_catalog.c: the store's catalog: topics, events, subscriptions,
 * system events and event types: their rows, reads and writes, and the
 * message ids the writer hands out to events.  The queues and delivery are
 * store_queue.c; connections, the writer and the helpers that bind and
 * collect rows are store.c (shared through store_int.h).  It opens no
 * connection and no transaction of its own: reads take a pooled reader,
 * writes run in the job's transaction (struct store_tx).
 *
 * Threads: the read functions from any thread (each on a pooled reader);
 * store_tx_* only on the writer thread, inside a job.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

/* ---- rows ---------------------------------------------------------- */

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
void
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
	int rc = store_tx_exec(tx, S_SUB_UPDATE, &n, "ittttiti", r->id,
	    r->name, r->state, r->spec, r->secret, tx->now, r->previous_secret,
	    r->previous_secret_until);

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
	int64_t n, *rows;
	size_t k;
	int rc = store_tx_exec(tx, S_SUB_PAUSE, &n, "iit", id, until,
	    until > 0 ? reason : NULL);

	if (rc == STORE_OK && n == 0) {
		/* not there, or gone */
		rc = store_tx_select(tx, S_SUB_STATUS, sizeof *rows,
		    store_read_int, (void **)&rows, &k, "i", id);
		free(rows);
		return rc != STORE_OK ? rc : k > 0 ? STORE_CONFLICT :
		    STORE_NOTFOUND;
	}
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
	r->previous_secret = store_col_text(s, 9);
	r->previous_secret_until = sqlite3_column_int64(s, 10);
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
	free(r->previous_secret);
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
store_appevents_list(struct store *st, const struct appevent_filter *f,
    int64_t before, int limit, struct appevent_row **rows, size_t *n)
{
	return store_select(st, S_APPEVENTS_LIST, sizeof **rows,
	    store_read_appevent, (void **)rows, n, "tiittt", f->operation,
	    before > 0 ? before : INT64_MAX, (int64_t)limit, f->entity,
	    f->entity_id, f->actor);
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
