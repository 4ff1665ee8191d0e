/*
 * store.c: the durable store's core.  Applies the embedded migrations at
 * open, owns one writer connection driven by one thread that commits queued
 * jobs in groups (many events per fsync), and a pool of read connections
 * (WAL: readers never block the writer).  Every statement is prepared once
 * per connection and reused; the helpers that bind, step and collect rows
 * are here, and backup.
 *
 * The store is one module in four files that share store_int.h, and they
 * are the only ones that include sqlite3.h: this core, store_sql.c (the SQL
 * of every statement), store_catalog.c (topics, events, subscriptions,
 * system events, event types) and store_queue.c (queues, delivery, pull
 * leases, totals).
 *
 * Threads: store_submit, store_run and the read functions from any thread;
 * store_tx_* only on the writer thread, inside a job.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <sqlite3.h>

#include "embedded.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

struct store_job {
	store_apply_fn apply;
	store_done_fn done;
	void *arg;
	int exclusive;
	int rc;
	struct store_job *next;
};

static int64_t
store_clock_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

sqlite3_stmt *
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

void
store_done_stmt(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows. */
int
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
	    /* memory has a bound: 16 MB for the writer, 2 MB a reader */
	    writer ? "PRAGMA cache_size = -16000;" :
	    "PRAGMA cache_size = -2000;");
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

/* 0 if no row breaks a foreign key, else -1 and *err names the first. */
static int
store_migrate_fk_check(sqlite3 *db, char **err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &s, NULL) !=
	    SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*err = sqlite3_mprintf("table %s row %lld breaks a foreign key "
		    "to %s", sqlite3_column_text(s, 0),
		    (long long)sqlite3_column_int64(s, 1),
		    sqlite3_column_text(s, 2));
	else if (rc != SQLITE_DONE)
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

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
	/*
	 * Foreign keys are off while migrations run (a pragma a transaction
	 * cannot change), so a table built again does not cascade its drop;
	 * they are checked before the commit and turned on again after.
	 */
	if (sqlite3_exec(db, "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE",
	    NULL, NULL, &err) != SQLITE_OK)
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
		sqlite3_exec(db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL,
		    NULL);
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
	if (latest > have && store_migrate_fk_check(db, &err) != 0)
		goto fail;
	sql = xasprintf("PRAGMA user_version = %d", latest);
	v = sqlite3_exec(db, sql, NULL, NULL, &err);
	free(sql);
	if (v != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT; PRAGMA foreign_keys = ON", NULL, NULL,
	    &err) != SQLITE_OK)
		goto fail;
	st->version = latest;
	return 0;
fail:
	*cause = xasprintf("migrate %s: %s", st->path, err ? err : "?");
	sqlite3_free(err);
	sqlite3_exec(db, "ROLLBACK; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	return -1;
}

/* ---- the writer ---------------------------------------------------- */

static void
store_touch_add(struct store_touches *ts, int64_t topic_id, const char *type,
    const char *source, int64_t count, int64_t msg)
{
	struct store_touch *t;
	size_t i;

	for (i = 0; i < ts->n; i++) {
		t = &ts->t[i];
		if (t->topic_id == topic_id && strcmp(t->type, type) == 0 &&
		    strcmp(t->source, source) == 0) {
			t->count += count;
			return;
		}
	}
	ts->t = xrealloc(ts->t, (ts->n + 1) * sizeof *ts->t);
	t = &ts->t[ts->n++];
	t->topic_id = topic_id;
	t->type = xstrdup(type);
	t->source = xstrdup(source);
	t->count = count;
	t->msg = msg;
}

static void
store_touches_clear(struct store_touches *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->t[i].type);
		free(ts->t[i].source);
	}
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

void
store_tx_eventtype_touch(struct store_tx *tx, int64_t topic_id,
    const char *type, const char *source, int64_t msg)
{
	store_touch_add(&tx->job, topic_id, type, source, 1, msg);
}

static size_t
store_qcount_hash(int64_t sub_id, int state, size_t nslot)
{
	uint64_t h = ((uint64_t)sub_id * 4 + (uint64_t)state) *
	    UINT64_C(0x9E3779B97F4A7C15);

	return (size_t)(h >> 32) & (nslot - 1);
}

/* The slot of (sub_id, state): holding it, or empty for it. */
static size_t *
store_qcount_slot(struct store_qcounts *q, int64_t sub_id, int state)
{
	size_t i = store_qcount_hash(sub_id, state, q->nslot);
	struct store_qcount *c;

	while (q->slot[i] != 0) {
		c = &q->c[q->slot[i] - 1];
		if (c->sub_id == sub_id && c->state == state)
			break;
		i = (i + 1) & (q->nslot - 1);
	}
	return &q->slot[i];
}

static void
store_qcount_add(struct store_qcounts *q, int64_t sub_id, int state,
    int64_t n)
{
	size_t *slot, i;

	if (q->n == q->size) {
		q->size = q->size ? q->size * 2 : 16;
		q->c = xrealloc(q->c, q->size * sizeof *q->c);
		free(q->slot);
		q->nslot = q->size * 2;
		q->slot = xcalloc(q->nslot, sizeof *q->slot);
		for (i = 0; i < q->n; i++)
			*store_qcount_slot(q, q->c[i].sub_id, q->c[i].state) =
			    i + 1;
	}
	slot = store_qcount_slot(q, sub_id, state);
	if (*slot != 0) {
		q->c[*slot - 1].n += n;
		return;
	}
	q->c[q->n++] = (struct store_qcount){ sub_id, state, n };
	*slot = q->n;
}

static void
store_qcounts_clear(struct store_qcounts *q)
{
	free(q->c);
	free(q->slot);
	memset(q, 0, sizeof *q);
}

/*
 * n messages more (or fewer) in the queue's state.  Summed per transaction
 * and written once before the commit: a row per (queue, state) touched,
 * not one per message.
 */
void
store_tx_count(struct store_tx *tx, int64_t sub_id, int state, int64_t n)
{
	if (n != 0)
		store_qcount_add(&tx->qjob, sub_id, state, n);
}

void
store_tx_sub_ok_later(struct store_tx *tx, int64_t sub_id)
{
	store_qcount_add(&tx->qjob, sub_id, STORE_QC_SUB_OK, 1);
}

/* The entry of (sub_id, state), or NULL. */
static struct store_qcount *
store_qcount_find(struct store_qcounts *q, int64_t sub_id, int state)
{
	size_t *slot;

	if (q->nslot == 0)
		return NULL;
	slot = store_qcount_slot(q, sub_id, state);
	return *slot != 0 ? &q->c[*slot - 1] : NULL;
}

int
store_tx_sub_ok_take(struct store_tx *tx, int64_t sub_id)
{
	struct store_qcount *c;
	int taken = 0;

	if ((c = store_qcount_find(&tx->qjob, sub_id, STORE_QC_SUB_OK)) !=
	    NULL && c->n > 0) {
		c->n = 0;
		taken = 1;
	}
	if ((c = store_qcount_find(&tx->qbatch, sub_id, STORE_QC_SUB_OK)) !=
	    NULL && c->n > 0) {
		c->n = 0;
		taken = 1;
		/* the job may yet fail: then the batch holds it again */
		store_qcount_add(&tx->qjob, sub_id, STORE_QC_SUB_TAKEN, 1);
	}
	return taken;
}

/* Writes the batch's queue count changes and held successes. */
static int
store_tx_qcount_flush(struct store_tx *tx)
{
	struct store_qcount *c;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < tx->qbatch.n && rc == STORE_OK; i++) {
		c = &tx->qbatch.c[i];
		if (c->n == 0)
			continue;
		if (c->state == STORE_QC_SUB_OK)
			rc = store_tx_exec(tx, S_SUB_OUTCOME_OK, NULL, "ii",
			    c->sub_id, tx->now);
		else
			rc = store_tx_exec(tx, S_QCOUNT_ADD, NULL, "iti",
			    c->sub_id, delivery_state_names[c->state], c->n);
	}
	if (rc == STORE_OK && tx->qbatch.orphans)
		rc = store_tx_exec(tx, S_QCOUNT_ORPHANS, NULL, "");
	if (rc == STORE_OK && tx->qbatch.recount)
		rc = store_tx_exec(tx, S_EVENTS_RECOUNT, NULL, "");
	else if (rc == STORE_OK && tx->qbatch.events != 0)
		rc = store_tx_exec(tx, S_EVENTS_ADD, NULL, "i",
		    tx->qbatch.events);
	store_qcounts_clear(&tx->qbatch);
	return rc;
}

/* Ends a job: its event types and counts stand only if it succeeded. */
static void
store_tx_job_end(struct store_tx *tx, int ok)
{
	size_t i;

	for (i = 0; ok && i < tx->job.n; i++)
		store_touch_add(&tx->batch, tx->job.t[i].topic_id,
		    tx->job.t[i].type, tx->job.t[i].source, tx->job.t[i].count,
		    tx->job.t[i].msg);
	store_touches_clear(&tx->job);
	for (i = 0; i < tx->qjob.n; i++) {
		if (tx->qjob.c[i].state == STORE_QC_SUB_TAKEN) {
			if (!ok) /* its write went with the job */
				store_qcount_add(&tx->qbatch,
				    tx->qjob.c[i].sub_id, STORE_QC_SUB_OK, 1);
		} else if (ok)
			store_qcount_add(&tx->qbatch, tx->qjob.c[i].sub_id,
			    tx->qjob.c[i].state, tx->qjob.c[i].n);
	}
	if (ok && tx->qjob.orphans)
		tx->qbatch.orphans = 1;
	if (ok && tx->qjob.recount)
		tx->qbatch.recount = 1;
	if (ok)
		tx->qbatch.events += tx->qjob.events;
	store_qcounts_clear(&tx->qjob);
}

/* Writes the batch's event-type counts: one upsert per distinct type. */
static int
store_tx_touch_flush(struct store_tx *tx)
{
	struct store_touch *t;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < tx->batch.n && rc == STORE_OK; i++) {
		t = &tx->batch.t[i];
		rc = store_tx_exec(tx, S_EVENTTYPE_UPSERT, NULL, "ittiii",
		    t->topic_id, t->type, t->source, t->count, tx->now, t->msg);
	}
	store_touches_clear(&tx->batch);
	return rc;
}

static double
store_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
store_run_batch(struct store *st, struct store_job *batch)
{
	struct store_tx tx = { .st = st, .now = store_clock_ms() };
	struct store_job *j, *next;
	double started = store_seconds();
	int failed, inserted, jobs = 0;

	failed = store_exec_stmt(&st->writer, S_BEGIN) != STORE_OK;
	for (j = batch; j != NULL && !failed; j = j->next) {
		jobs++;
		if (store_exec_stmt(&st->writer, S_SAVEPOINT) != STORE_OK) {
			failed = 1;
			break;
		}
		j->rc = j->apply(&tx, j->arg);
		/*
		 * SQLITE_FULL or an I/O error may roll back the whole
		 * transaction: then the next SAVEPOINT would open a new one
		 * that RELEASE commits, storing later jobs that are then
		 * answered as failed.  Fail the batch instead.
		 */
		if (j->rc != 0 && sqlite3_get_autocommit(st->writer.db))
			failed = 1;
		else if (j->rc != 0 &&
		    store_exec_stmt(&st->writer, S_ROLLBACK_TO) != STORE_OK)
			failed = 1;
		else if (store_exec_stmt(&st->writer, S_RELEASE) != STORE_OK)
			failed = 1;
		store_tx_job_end(&tx, j->rc == 0 && !failed);
	}
	/* events were stored by a job that succeeded (each counts a type) */
	inserted = tx.batch.n > 0;
	if (!failed && store_tx_touch_flush(&tx) != STORE_OK)
		failed = 1;
	if (!failed && store_tx_qcount_flush(&tx) != STORE_OK)
		failed = 1;
	if (!failed && store_exec_stmt(&st->writer, S_COMMIT) != STORE_OK)
		failed = 1;
	if (failed)
		atomic_store(&st->failed_at, tx.now);
	else if (inserted)
		atomic_store(&st->wrote_at, tx.now + 1);
	if (!failed && st->opt.on_commit != NULL)
		st->opt.on_commit(st->opt.cls, jobs, store_seconds() - started);
	store_touches_clear(&tx.job);
	store_touches_clear(&tx.batch);
	store_qcounts_clear(&tx.qjob);
	store_qcounts_clear(&tx.qbatch);
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

/* Takes the first job off the queue (st->lock held). */
static struct store_job *
store_take_head(struct store *st)
{
	struct store_job *j = st->head;

	if ((st->head = j->next) == NULL)
		st->tail = NULL;
	j->next = NULL;
	return j;
}

/*
 * Takes up to max_batch plain jobs off the queue (st->lock held), in
 * their order, passing the exclusive ones between them; NULL if none.
 */
static struct store_job *
store_take_plain(struct store *st)
{
	struct store_job *batch = NULL, **tailp = &batch, **pp, *j,
			 *prev = NULL;
	int n = 0;

	for (pp = &st->head; (j = *pp) != NULL && n < st->opt.max_batch;) {
		if (j->exclusive) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (st->tail == j)
			st->tail = prev;
		j->next = NULL;
		*tailp = j;
		tailp = &j->next;
		n++;
	}
	return batch;
}

/*
 * The writer runs a batch of plain jobs, or one exclusive job, and the two
 * kinds take turns: a plain job may pass exclusive ones queued before it,
 * while an exclusive job runs only from the head of the queue.  So a run
 * of admin writes, each committed alone, does not hold up the ingest
 * queued behind it, and a stream of ingest does not starve them either.
 */
static void *
store_writer_main(void *arg)
{
	struct store *st = arg;
	struct store_job *batch;
	int exclusive_turn = 0;

	pthread_setname_np(pthread_self(), "sluice-writer");
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (st->head == NULL && !st->stopping)
			pthread_cond_wait(&st->wake, &st->lock);
		if (st->head == NULL)
			break;
		if (exclusive_turn && st->head->exclusive)
			batch = store_take_head(st);
		else if ((batch = store_take_plain(st)) == NULL)
			batch = store_take_head(st); /* exclusive ones only */
		exclusive_turn = !batch->exclusive;
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


int
store_writable(struct store *st)
{
	int64_t failed = atomic_load(&st->failed_at);

	return failed == 0 || atomic_load(&st->wrote_at) > failed;
}

/* ---- the reader pool ----------------------------------------------- */

struct store_conn *
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

void
store_reader_put(struct store *st, struct store_conn *c)
{
	pthread_mutex_lock(&st->lock);
	c->busy = 0;
	pthread_cond_signal(&st->freed);
	pthread_mutex_unlock(&st->lock);
}

/* ---- rows ---------------------------------------------------------- */

char *
store_col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/*
 * Steps a bound query on a reader, handing each row to fn; the rows are
 * collected by the callers below.  Returns STORE_OK or STORE_FAILED.
 */
int
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

/*
 * The one row a lookup by key found, moved to out (size bytes); frees the
 * rows.  STORE_NOTFOUND when there was none.
 */
int
store_one(int rc, void *rows, size_t n, void *out, size_t size)
{
	if (rc == STORE_OK && n == 0)
		rc = STORE_NOTFOUND;
	if (rc == STORE_OK)
		memcpy(out, rows, size);
	free(rows);
	return rc;
}

void
store_collect(sqlite3_stmt *s, void *arg)
{
	struct store_rows *r = arg;

	r->rows = xrealloc(r->rows, (r->n + 1) * r->size);
	memset((char *)r->rows + r->n * r->size, 0, r->size);
	r->read(s, (char *)r->rows + r->n * r->size);
	r->n++;
}

void
store_read_int(sqlite3_stmt *s, void *row)
{
	*(int64_t *)row = sqlite3_column_int64(s, 0);
}

/* ---- generic binding ----------------------------------------------- */

/* Steps a write statement on the writer; maps constraint failures. */
int
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
	atomic_store(&tx->st->failed_at, tx->now);
	return STORE_FAILED;
}

/*
 * Binds parameters 1.. by fmt: 'i' int64_t, 't' const char * (NULL binds
 * NULL), 'b' const void * and size_t (a blob), 'n' NULL.
 */
static void
store_bindv(sqlite3_stmt *s, const char *fmt, va_list ap)
{
	const char *t;
	const void *p;
	size_t n;
	int i;

	for (i = 1; *fmt != '\0'; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			sqlite3_bind_int64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			if ((t = va_arg(ap, const char *)) != NULL)
				sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			if (p != NULL)
				sqlite3_bind_blob(s, i, p, (int)n,
				    SQLITE_STATIC);
			break;
		default:
			break;
		}
	}
}

/* Runs a write on the writer; *changes gets the rows it changed. */
int
store_tx_exec(struct store_tx *tx, enum stmt which, int64_t *changes,
    const char *fmt, ...)
{
	sqlite3_stmt *s = store_stmt(&tx->st->writer, which);
	va_list ap;
	int rc;

	if (s == NULL)
		return STORE_FAILED;
	va_start(ap, fmt);
	store_bindv(s, fmt, ap);
	va_end(ap);
	rc = store_tx_step(tx, which, s);
	if (changes != NULL)
		*changes = rc == STORE_OK ? sqlite3_changes(tx->st->writer.db) : 0;
	return rc;
}

/* Reads rows on the writer, inside the job's transaction. */
int
store_tx_select(struct store_tx *tx, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, ...)
{
	struct store_rows r = { NULL, 0, size, read };
	struct store_conn *c = &tx->st->writer;
	sqlite3_stmt *s;
	va_list ap;
	int rc;

	*rows = NULL;
	*n = 0;
	if ((s = store_stmt(c, which)) == NULL)
		return STORE_FAILED;
	va_start(ap, fmt);
	store_bindv(s, fmt, ap);
	va_end(ap);
	rc = store_query(c, which, s, store_collect, &r);
	*rows = r.rows;
	*n = r.n;
	return rc;
}

/* Reads rows on a pooled reader, each through read into a grown array. */
static int
store_select_v(struct store_conn *c, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, va_list ap)
{
	struct store_rows r = { NULL, 0, size, read };
	sqlite3_stmt *s;
	int rc;

	*rows = NULL;
	*n = 0;
	if ((s = store_stmt(c, which)) == NULL)
		return STORE_FAILED;
	store_bindv(s, fmt, ap);
	rc = store_query(c, which, s, store_collect, &r);
	*rows = r.rows;
	*n = r.n;
	return rc;
}

int
store_select_on(struct store_conn *c, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = store_select_v(c, which, size, read, rows, n, fmt, ap);
	va_end(ap);
	return rc;
}

int
store_select(struct store *st, enum stmt which, size_t size,
    void (*read)(sqlite3_stmt *, void *), void **rows, size_t *n,
    const char *fmt, ...)
{
	struct store_conn *c = store_reader(st);
	va_list ap;
	int rc;

	*rows = NULL;
	*n = 0;
	if (c == NULL)
		return STORE_FAILED;
	va_start(ap, fmt);
	rc = store_select_v(c, which, size, read, rows, n, fmt, ap);
	va_end(ap);
	store_reader_put(st, c);
	return rc;
}

unsigned char *
store_col_blob(sqlite3_stmt *s, int i, size_t *len)
{
	const void *p = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);
	unsigned char *out;

	*len = 0;
	if (p == NULL)
		return NULL;
	out = xmalloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return out;
}

const char *const delivery_state_names[4] = { "pending", "inflight",
	"delivered", "dead" };

int
store_state_index(const unsigned char *s)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp((const char *)s, delivery_state_names[i]) == 0)
			return i;
	return DS_PENDING;
}

/* ---- backup -------------------------------------------------------- */

int
store_file_sealed(const char *path, int64_t *n, char **cause)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc = -1;

	*n = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, stmt_sql[S_SEALED], -1, &s, NULL) !=
	    SQLITE_OK) {
		*cause = xasprintf("open %s: %s", path, db ?
		    sqlite3_errmsg(db) : "out of memory");
		goto done;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		*cause = xasprintf("read %s: %s", path, sqlite3_errmsg(db));
		goto done;
	}
	*n = sqlite3_column_int64(s, 0);
	rc = 0;
done:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

int
store_backup(const char *path, const char *dest, char **cause)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		*cause = xasprintf("open %s: %s", path, src ?
		    sqlite3_errmsg(src) : "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		*cause = xasprintf("open %s: %s", dest, dst ?
		    sqlite3_errmsg(dst) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(src, 5000);
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		*cause = xasprintf("backup to %s: %s", dest,
		    sqlite3_errmsg(dst));
		goto fail;
	}
	/* in steps, so a busy writer is never held up for long */
	while ((rc = sqlite3_backup_step(b, 256)) == SQLITE_OK ||
	    rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		if (rc != SQLITE_OK)
			sqlite3_sleep(10);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		*cause = xasprintf("backup to %s: %s", dest,
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_close(src);
	sqlite3_close(dst);
	return 0;
fail:
	sqlite3_close(src);
	sqlite3_close(dst);
	return -1;
}
