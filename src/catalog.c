/*
 * catalog.c: the in-memory view of topics and subscriptions (with their
 * filters compiled).  A committed change builds a new view, swapped in
 * under a mutex; a view is freed by reference count.  A change to one
 * subscription re-reads that one and shares the others with the view
 * before (each subscription counts the views that hold it), so a burst of
 * admin writes costs O(subscriptions) pointer copies each, not a re-parse
 * of every subscription.
 *
 * Thread-safe.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "secretbox.h"
#include "store.h"
#include "subscription.h"
#include "xmalloc.h"

struct catalog {
	struct store *store;
	const struct secretbox *secrets;
	pthread_mutex_t lock;	/* guards current and every view's refs */
	pthread_mutex_t reload; /* one reload at a time: none swaps in a
				   view built from an older read */
	int stale;		/* a reload failed (reload held) */
	struct catalog_view *current;
};

static int
catalog_sub_cmp(const void *a, const void *b)
{
	const struct sub *x = *(struct sub *const *)a;
	const struct sub *y = *(struct sub *const *)b;

	if (x->topic_id != y->topic_id)
		return x->topic_id < y->topic_id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A subscription is shared by the views built since it was last read. */
static struct sub *
catalog_sub_hold(struct sub *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

static void
catalog_sub_drop(struct sub *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		sub_free(s);
}

static void
catalog_view_free(struct catalog_view *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->ntopics; i++) {
		free(v->topics[i].name);
		free(v->topics[i].publish_token);
	}
	free(v->topics);
	for (i = 0; i < v->nsubs; i++)
		catalog_sub_drop(v->by_id[i]);
	free(v->subs);
	free(v->by_id);
	free(v);
}

struct catalog *
catalog_new(struct store *store, const struct secretbox *secrets)
{
	struct catalog *c = xcalloc(1, sizeof *c);

	c->store = store;
	c->secrets = secrets;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->reload, NULL);
	c->current = xcalloc(1, sizeof *c->current);
	c->current->refs = 1;
	return c;
}

void
catalog_free(struct catalog *c)
{
	if (c == NULL)
		return;
	catalog_view_free(c->current);
	pthread_mutex_destroy(&c->reload);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/*
 * Makes a subscription from its stored row, taking the row's topic and
 * name; NULL (logged) if it does not load.
 */
static struct sub *
catalog_sub_make(struct catalog *c, struct sub_row *row)
{
	struct sub *s;
	char *cause;

	if ((s = sub_load(row->spec, &cause)) == NULL) {
		log_error("catalog", "subscription %lld: %s",
		    (long long)row->id, cause);
		free(cause);
		return NULL;
	}
	s->id = row->id;
	s->topic_id = row->topic_id;
	free(s->topic);
	free(s->name);
	free(s->secret);
	s->topic = row->topic;
	s->name = row->name;
	row->topic = row->name = NULL;
	s->secret = NULL;
	if (row->secret != NULL &&
	    (s->secret = secretbox_unseal(c->secrets, row->secret)) == NULL) {
		/* never deliver unsigned what should be signed */
		log_error("catalog", "subscription %lld: its secret does not "
		    "open with this key file: skipped", (long long)s->id);
		sub_free(s);
		return NULL;
	}
	/* a previous secret that does not open only stops signing */
	if (row->previous_secret != NULL && (s->previous_secret =
	    secretbox_unseal(c->secrets, row->previous_secret)) != NULL)
		s->previous_secret_until = row->previous_secret_until;
	if (sub_state_parse(row->state, &s->state) != 0)
		s->state = SUB_DISABLED;
	s->created_at = row->created_at;
	s->updated_at = row->updated_at;
	s->refs = 1;
	return s;
}

/* Loads every subscription; one that does not load is skipped. */
static int
catalog_load_subs(struct catalog *c, struct catalog_view *v)
{
	struct sub_row *rows;
	struct sub *s;
	size_t n, i;

	if (store_subs_all(c->store, &rows, &n) != STORE_OK)
		return -1;
	/* store_subs_all reads them in id order */
	v->by_id = xcalloc(n + 1, sizeof *v->by_id);
	for (i = 0; i < n; i++)
		if ((s = catalog_sub_make(c, &rows[i])) != NULL)
			v->by_id[v->nsubs++] = s;
	sub_rows_free(rows, n);
	v->subs = xmemdup(v->by_id, (v->nsubs + 1) * sizeof *v->subs);
	qsort(v->subs, v->nsubs, sizeof *v->subs, catalog_sub_cmp);
	return 0;
}

static int
catalog_load_topics(struct catalog *c, struct catalog_view *v)
{
	struct topic_row *rows;
	char *after = NULL;
	size_t n, i;

	for (;;) {
		if (store_topics_list(c->store, after, 1000, &rows, &n) !=
		    STORE_OK) {
			free(after);
			return -1;
		}
		v->topics = xrealloc(v->topics,
		    (v->ntopics + n) * sizeof *v->topics);
		for (i = 0; i < n; i++) {
			struct catalog_topic *t = &v->topics[v->ntopics++];

			t->id = rows[i].id;
			t->name = rows[i].name;
			t->publish_token = rows[i].publish_token;
			rows[i].name = rows[i].publish_token = NULL;
		}
		free(after);
		after = n > 0 ? xstrdup(v->topics[v->ntopics - 1].name) : NULL;
		topic_rows_free(rows, n);
		if (n < 1000)
			break;
	}
	free(after);
	return 0;
}

static void
catalog_copy_topics(struct catalog_view *v, const struct catalog_view *from)
{
	size_t i;

	v->topics = xcalloc(from->ntopics + 1, sizeof *v->topics);
	for (i = 0; i < from->ntopics; i++) {
		v->topics[i].id = from->topics[i].id;
		v->topics[i].name = xstrdup(from->topics[i].name);
		v->topics[i].publish_token = from->topics[i].publish_token ?
		    xstrdup(from->topics[i].publish_token) : NULL;
	}
	v->ntopics = from->ntopics;
}

/* Makes v current (taking it) and lets go of the view it replaces. */
static void
catalog_swap(struct catalog *c, struct catalog_view *v)
{
	struct catalog_view *old;

	v->refs = 1;
	pthread_mutex_lock(&c->lock);
	old = c->current;
	c->current = v;
	if (--old->refs > 0)
		old = NULL;
	pthread_mutex_unlock(&c->lock);
	catalog_view_free(old);
}

/* Each reads a new view (NULL if the store could not be read). */
static struct catalog_view *
catalog_read_all(struct catalog *c, int64_t unused)
{
	struct catalog_view *v = xcalloc(1, sizeof *v);

	(void)unused;
	if (catalog_load_topics(c, v) != 0 || catalog_load_subs(c, v) != 0) {
		catalog_view_free(v);
		return NULL;
	}
	return v;
}

/* The topics read anew; the subscriptions shared with the current view. */
static struct catalog_view *
catalog_read_topics(struct catalog *c, int64_t unused)
{
	struct catalog_view *v = xcalloc(1, sizeof *v), *cur;
	size_t i;

	(void)unused;
	if (catalog_load_topics(c, v) != 0) {
		catalog_view_free(v);
		return NULL;
	}
	cur = catalog_acquire(c);
	v->by_id = xcalloc(cur->nsubs + 1, sizeof *v->by_id);
	for (i = 0; i < cur->nsubs; i++)
		v->by_id[i] = catalog_sub_hold(cur->by_id[i]);
	v->nsubs = cur->nsubs;
	v->subs = xmemdup(cur->subs, (cur->nsubs + 1) * sizeof *v->subs);
	catalog_release(c, cur);
	return v;
}

/*
 * Fills v->subs (by topic) from cur's, without subscription id and with s
 * (which may be NULL) in its place: one pass, no sort.
 */
static void
catalog_order_one(struct catalog_view *v, const struct catalog_view *cur,
    int64_t id, struct sub *s)
{
	size_t i, n = 0;

	v->subs = xcalloc(v->nsubs + 1, sizeof *v->subs);
	for (i = 0; i < cur->nsubs; i++) {
		if (cur->subs[i]->id == id)
			continue;
		if (s != NULL && catalog_sub_cmp(&s, &cur->subs[i]) < 0) {
			v->subs[n++] = s;
			s = NULL;
		}
		v->subs[n++] = cur->subs[i];
	}
	if (s != NULL)
		v->subs[n++] = s;
}

/* Subscription id read anew (or gone); the rest shared with the current. */
static struct catalog_view *
catalog_read_sub(struct catalog *c, int64_t id)
{
	struct catalog_view *v, *cur;
	struct sub_row row;
	struct sub *s = NULL;
	size_t at, i;
	int rc = store_sub_get(c->store, id, &row);

	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return NULL;
	if (rc == STORE_OK) {
		s = catalog_sub_make(c, &row); /* NULL: left out, as by reload */
		sub_row_clear(&row);
	}
	v = xcalloc(1, sizeof *v);
	cur = catalog_acquire(c);
	catalog_copy_topics(v, cur);
	v->by_id = xcalloc(cur->nsubs + 2, sizeof *v->by_id);
	at = catalog_sub_from(cur, id);
	for (i = 0; i < at; i++)
		v->by_id[v->nsubs++] = catalog_sub_hold(cur->by_id[i]);
	if (s != NULL)
		v->by_id[v->nsubs++] = s;
	if (at < cur->nsubs && cur->by_id[at]->id == id)
		at++;
	for (i = at; i < cur->nsubs; i++)
		v->by_id[v->nsubs++] = catalog_sub_hold(cur->by_id[i]);
	catalog_order_one(v, cur, id, s);
	catalog_release(c, cur);
	return v;
}

/*
 * Reads a view with read and swaps it in.  After a failed reload the view
 * is behind the store in ways a partial one cannot tell: the next reload,
 * of any kind, reads everything.
 */
static int
catalog_update(struct catalog *c,
    struct catalog_view *(*read)(struct catalog *, int64_t), int64_t id)
{
	struct catalog_view *v;

	pthread_mutex_lock(&c->reload);
	if (c->stale)
		read = catalog_read_all;
	if ((v = read(c, id)) == NULL)
		c->stale = 1;
	else {
		if (read == catalog_read_all)
			c->stale = 0;
		catalog_swap(c, v);
	}
	pthread_mutex_unlock(&c->reload);
	return v != NULL ? 0 : -1;
}

int
catalog_reload(struct catalog *c)
{
	return catalog_update(c, catalog_read_all, 0);
}

int
catalog_reload_topics(struct catalog *c)
{
	return catalog_update(c, catalog_read_topics, 0);
}

int
catalog_reload_sub(struct catalog *c, int64_t id)
{
	return catalog_update(c, catalog_read_sub, id);
}

struct catalog_view *
catalog_acquire(struct catalog *c)
{
	struct catalog_view *v;

	pthread_mutex_lock(&c->lock);
	v = c->current;
	v->refs++;
	pthread_mutex_unlock(&c->lock);
	return v;
}

void
catalog_release(struct catalog *c, struct catalog_view *v)
{
	int last;

	if (v == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	last = --v->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		catalog_view_free(v);
}

const struct catalog_topic *
catalog_topic(const struct catalog_view *v, const char *name)
{
	size_t lo = 0, hi = v->ntopics, mid;
	int cmp;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		cmp = strcmp(name, v->topics[mid].name);
		if (cmp == 0)
			return &v->topics[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct catalog_topic *
catalog_topic_by_id(const struct catalog_view *v, int64_t id)
{
	size_t i;

	for (i = 0; i < v->ntopics; i++)
		if (v->topics[i].id == id)
			return &v->topics[i];
	return NULL;
}

struct sub *const *
catalog_topic_subs(const struct catalog_view *v, int64_t topic_id, size_t *n)
{
	size_t lo = 0, hi = v->nsubs, mid, end;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (v->subs[mid]->topic_id < topic_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < v->nsubs && v->subs[end]->topic_id == topic_id;
	    end++)
		;
	*n = end - lo;
	return v->subs + lo;
}

/* The index in by_id of the first subscription with an id >= id. */
size_t
catalog_sub_from(const struct catalog_view *v, int64_t id)
{
	size_t lo = 0, hi = v->nsubs, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (v->by_id[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct sub *
catalog_sub(const struct catalog_view *v, int64_t id)
{
	size_t i = catalog_sub_from(v, id);

	return i < v->nsubs && v->by_id[i]->id == id ? v->by_id[i] : NULL;
}
