/*
 * test_store.c: the writer's once-per-transaction write of a
 * subscription's successes, on a real SQLite database in a temp folder.
 * A success is held until the commit; a failure after it in the same
 * transaction writes the success first (last_success_at stands, the
 * failure's count wins), a success after a failure clears the count, and
 * a job that fails gives back a success it had taken from the batch.
 * And the writer's order: a plain job passes exclusive ones queued before
 * it, the two kinds take turns, and an exclusive job waits for all before
 * it.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

/* One outcome for store_tx_sub_outcome. */
struct outcome_in {
	int ok;
	int64_t failures;
};

/* A job: outcomes for the subscription in order, then rc. */
struct job {
	int64_t sub_id;
	const struct outcome_in *o;
	size_t n;
	int rc;	      /* what the job returns: nonzero rolls it back */
	int sleep_ms; /* before anything: lets later jobs queue up */
};

static int
job_apply(struct store_tx *tx, void *arg)
{
	struct job *j = arg;
	size_t i;
	int rc = STORE_OK;

	if (j->sleep_ms > 0)
		usleep((useconds_t)j->sleep_ms * 1000);
	for (i = 0; i < j->n && rc == STORE_OK; i++)
		rc = store_tx_sub_outcome(tx, j->sub_id, j->o[i].ok,
		    j->o[i].failures, j->o[i].ok ? NULL : "boom",
		    store_tx_now(tx) + 1000, "app_error");
	return rc == STORE_OK ? j->rc : rc;
}

static void
job_done(void *arg, int rc)
{
	(void)arg;
	(void)rc;
}

struct setup {
	int64_t topic_id; /* made by the first call */
	int64_t sub_id;	  /* a new one each call */
};

static int
setup_apply(struct store_tx *tx, void *arg)
{
	struct setup *s = arg;
	struct sub_row r = { 0 };
	int rc;

	if (s->topic_id == 0 && (rc = store_tx_topic_insert(tx, "t", "", NULL,
	    &s->topic_id)) != STORE_OK)
		return rc;
	r.topic_id = s->topic_id;
	r.topic = "t";
	r.name = "s";
	r.state = "pub_and_sub";
	r.spec = "{}";
	return store_tx_sub_insert(tx, &r, &s->sub_id);
}

/* The subscription's failures and last_success_at as written. */
static void
status(struct store *st, int64_t id, int64_t *failures, int64_t *success,
    char **last_error)
{
	struct sub_status s;

	memset(&s, 0, sizeof s);
	if (store_sub_status(st, id, 0, &s) != STORE_OK)
		abort();
	*failures = s.failures;
	*success = s.last_success_at;
	*last_error = s.last_error;
	free(s.pause_reason);
}

/* A new subscription: no failures, no success yet. */
static int64_t
new_sub(struct store *st, struct setup *su)
{
	if (store_run(st, setup_apply, su, 0) != 0 || su->sub_id <= 0)
		abort();
	return su->sub_id;
}

/* Records outcomes for a new subscription in one job; reads its status. */
static void
run_case(struct store *st, struct setup *su, const struct outcome_in *o,
    size_t n, const char *what, int64_t *failures, int64_t *success,
    char **err)
{
	struct job j = { 0, o, n, 0, 0 };

	j.sub_id = new_sub(st, su);
	is_int(store_run(st, job_apply, &j, 0), 0, "%s", what);
	status(st, j.sub_id, failures, success, err);
}

/* A job that notes when it ran. */
struct mark {
	char name;
	char *order; /* the names, in the order the jobs ran */
	int sleep_ms;
};

static int
mark_apply(struct store_tx *tx, void *arg)
{
	struct mark *m = arg;

	(void)tx;
	if (m->sleep_ms > 0)
		usleep((useconds_t)m->sleep_ms * 1000);
	m->order[strlen(m->order)] = m->name;
	return 0;
}

/*
 * While the writer is busy, exclusive jobs E and F and plain jobs p and q
 * queue up as E p F q, then an exclusive barrier Z.
 */
static void
writer_order(struct store *st)
{
	char order[16] = "";
	struct mark busy = { 'b', order, 200 }, e = { 'E', order, 0 },
		    p = { 'p', order, 0 }, f = { 'F', order, 0 },
		    q = { 'q', order, 0 }, z = { 'Z', order, 0 };

	store_submit(st, mark_apply, job_done, &busy, 0);
	usleep(50 * 1000);
	store_submit(st, mark_apply, job_done, &e, 1);
	store_submit(st, mark_apply, job_done, &p, 0);
	store_submit(st, mark_apply, job_done, &f, 1);
	store_submit(st, mark_apply, job_done, &q, 0);
	is_int(store_run(st, mark_apply, &z, 1), 0, "the barrier ran");
	/* after b's batch E's turn; then p and q pass F; Z comes last */
	is_str(order, "bEpqFZ", "the writer's order");
}

int
main(void)
{
	static const struct outcome_in ok_then_fail[] = { { 1, 0 }, { 0, 1 } };
	static const struct outcome_in fail_then_ok[] = { { 0, 1 }, { 1, 0 } };
	static const struct outcome_in oks[] = { { 1, 0 }, { 1, 0 }, { 1, 0 } };
	static const struct outcome_in one_ok[] = { { 1, 0 } };
	static const struct outcome_in one_fail[] = { { 0, 3 } };
	char dir[] = "/tmp/test_store.XXXXXX", path[64], *err;
	struct store_options o = { 0 };
	struct store *st;
	struct setup su = { 0, 0 };
	int64_t failures, success;
	char *cause = NULL;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/s.db", dir);
	o.path = path;
	if ((st = store_open(&o, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		return 1;
	}

	run_case(st, &su, ok_then_fail, 2, "ok then fail", &failures,
	    &success, &err);
	is_int(failures, 1, "ok then fail: the failure's count stands");
	ok(success > 0, "ok then fail: last_success_at was written");
	is_str(err, "boom", "ok then fail: last_error");
	free(err);
	run_case(st, &su, fail_then_ok, 2, "fail then ok", &failures,
	    &success, &err);
	is_int(failures, 0, "fail then ok: the success clears the count");
	ok(success > 0, "fail then ok: last_success_at");
	free(err);
	run_case(st, &su, oks, 3, "three successes", &failures, &success,
	    &err);
	is_int(failures, 0, "three successes: no failures");
	ok(success > 0, "three successes: last_success_at");
	free(err);
	{
		/*
		 * One transaction: a blocker holds the writer while a job
		 * with a success and a job whose failure takes it back (then
		 * fails itself) queue up behind it.  The failed job's writes
		 * are rolled back; the success it took is written at commit.
		 */
		int64_t id = new_sub(st, &su);
		struct job block = { id, NULL, 0, 0, 200 };
		struct job a = { id, one_ok, 1, 0, 0 };
		struct job b = { id, one_fail, 1, STORE_FAILED, 0 };
		struct job sync = { id, NULL, 0, 0, 0 };

		store_submit(st, job_apply, job_done, &block, 0);
		usleep(50 * 1000);
		store_submit(st, job_apply, job_done, &a, 0);
		store_submit(st, job_apply, job_done, &b, 0);
		is_int(store_run(st, job_apply, &sync, 0), 0, "in one batch");
		status(st, id, &failures, &success, &err);
		is_int(failures, 0, "a failed job gives back the success it took");
		ok(success > 0, "and last_success_at is written");
		ok(err == NULL, "the failed job's failure is not kept");
		free(err);
	}
	writer_order(st);
	store_close(st);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
