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
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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
	S_EVENT_COUNT,
	S_TOPIC_INSERT,
	S_TOPIC_UPDATE,
	S_TOPIC_DELETE,
	S_TOPIC_SUBS,
	S_TOPIC_GET,
	S_TOPICS_LIST,
	S_MAX_MSG,
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
	[S_EVENT_COUNT] = "SELECT count(*) FROM events WHERE topic_id = ?",
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

struct store_tx {
	struct store *st;
	int64_t now; /* ms since the epoch when the transaction began */
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
	    "PRAGMA cache_size = -16000;");
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
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK)
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
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
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
	sql = xasprintf("PRAGMA user_version = %d", latest);
	v = sqlite3_exec(db, sql, NULL, NULL, &err);
	free(sql);
	if (v != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
		goto fail;
	st->version = latest;
	return 0;
fail:
	*cause = xasprintf("migrate %s: %s", st->path, err ? err : "?");
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* ---- the writer ---------------------------------------------------- */

static void
store_run_batch(struct store *st, struct store_job *batch)
{
	struct store_tx tx = { st, store_clock_ms() };
	struct store_job *j, *next;
	int failed;

	failed = store_exec_stmt(&st->writer, S_BEGIN) != STORE_OK;
	for (j = batch; j != NULL && !failed; j = j->next) {
		if (store_exec_stmt(&st->writer, S_SAVEPOINT) != STORE_OK) {
			failed = 1;
			break;
		}
		j->rc = j->apply(&tx, j->arg);
		if (j->rc != 0)
			store_exec_stmt(&st->writer, S_ROLLBACK_TO);
		store_exec_stmt(&st->writer, S_RELEASE);
	}
	if (!failed && store_exec_stmt(&st->writer, S_COMMIT) != STORE_OK)
		failed = 1;
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

static void
store_read_event(sqlite3_stmt *s, struct event_row *e)
{
	const void *p;
	int n;

	e->msg = sqlite3_column_int64(s, 0);
	e->topic_id = sqlite3_column_int64(s, 1);
	e->topic = store_col_text(s, 2);
	e->attrs = store_col_text(s, 3);
	e->kind = sqlite3_column_int(s, 4);
	p = sqlite3_column_blob(s, 5);
	n = sqlite3_column_bytes(s, 5);
	e->data = NULL;
	e->data_len = 0;
	if (p != NULL || e->kind != 0) {
		e->data = xmalloc((size_t)n + 1);
		if (n > 0)
			memcpy(e->data, p, (size_t)n);
		e->data[n] = '\0';
		e->data_len = (size_t)n;
	}
	e->received_at = sqlite3_column_int64(s, 6);
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
	struct store_rows r = { NULL, 0, sizeof *out, store_read_topic_v };
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL || (s = store_stmt(c, S_TOPIC_GET)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = store_query(c, S_TOPIC_GET, s, store_collect, &r);
	store_reader_put(st, c);
	if (rc == STORE_OK && r.n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		*out = *(struct topic_row *)r.rows;
	free(r.rows);
	return rc;
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
	return STORE_FAILED;
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
	if (sqlite3_changes(w->db) == 1)
		return STORE_OK;
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
	struct store_rows r = { NULL, 0, sizeof *out, store_read_event_v };
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL || (s = store_stmt(c, S_EVENT_GET)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	sqlite3_bind_int64(s, 1, msg);
	rc = store_query(c, S_EVENT_GET, s, store_collect, &r);
	store_reader_put(st, c);
	if (rc == STORE_OK && r.n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		*out = *(struct event_row *)r.rows;
	free(r.rows);
	return rc;
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

int
store_event_count(struct store *st, int64_t topic_id, int64_t *count)
{
	struct store_conn *c = store_reader(st);
	sqlite3_stmt *s;
	int rc;

	if (c == NULL || (s = store_stmt(c, S_EVENT_COUNT)) == NULL) {
		if (c != NULL)
			store_reader_put(st, c);
		return STORE_FAILED;
	}
	sqlite3_bind_int64(s, 1, topic_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(s, 0);
	store_done_stmt(s);
	store_reader_put(st, c);
	return rc == SQLITE_ROW ? STORE_OK : STORE_FAILED;
}
