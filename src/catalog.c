/*
 * catalog.c: the in-memory view of topics and subscriptions (with their
 * filters compiled).  Reloaded whole after each committed change (changes
 * are rare; lookups are per event), swapped under a mutex, freed by
 * reference count.
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
	pthread_mutex_t lock; /* guards current and every view's refs */
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
		sub_free(v->subs[i]);
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
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Loads every subscription; one that does not parse is logged, skipped. */
static int
catalog_load_subs(struct catalog *c, struct catalog_view *v)
{
	struct sub_row *rows;
	struct sub *s;
	char *cause;
	size_t n, i;

	if (store_subs_all(c->store, &rows, &n) != STORE_OK)
		return -1;
	v->subs = xcalloc(n + 1, sizeof *v->subs);
	for (i = 0; i < n; i++) {
		if ((s = sub_load(rows[i].spec, &cause)) == NULL) {
			log_error("catalog", "subscription %lld: %s",
			    (long long)rows[i].id, cause);
			free(cause);
			continue;
		}
		s->id = rows[i].id;
		s->topic_id = rows[i].topic_id;
		free(s->topic);
		free(s->name);
		free(s->secret);
		s->topic = rows[i].topic;
		s->name = rows[i].name;
		rows[i].topic = rows[i].name = NULL;
		s->secret = NULL;
		if (rows[i].secret != NULL && (s->secret = secretbox_unseal(
		    c->secrets, rows[i].secret)) == NULL) {
			/* never deliver unsigned what should be signed */
			log_error("catalog", "subscription %lld: its secret "
			    "does not open with this key file: skipped",
			    (long long)s->id);
			sub_free(s);
			continue;
		}
		if (sub_state_parse(rows[i].state, &s->state) != 0)
			s->state = SUB_DISABLED;
		s->created_at = rows[i].created_at;
		s->updated_at = rows[i].updated_at;
		v->subs[v->nsubs++] = s;
	}
	sub_rows_free(rows, n);
	/* store_subs_all reads them in id order */
	v->by_id = xmemdup(v->subs, (v->nsubs + 1) * sizeof *v->subs);
	qsort(v->subs, v->nsubs, sizeof *v->subs, catalog_sub_cmp);
	return 0;
}

int
catalog_reload(struct catalog *c)
{
	struct catalog_view *v = xcalloc(1, sizeof *v), *old;
	struct topic_row *rows;
	char *after = NULL;
	size_t n, i;

	for (;;) {
		if (store_topics_list(c->store, after, 1000, &rows, &n) !=
		    STORE_OK) {
			free(after);
			catalog_view_free(v);
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
	if (catalog_load_subs(c, v) != 0) {
		catalog_view_free(v);
		return -1;
	}
	v->refs = 1;
	pthread_mutex_lock(&c->lock);
	old = c->current;
	c->current = v;
	if (--old->refs > 0)
		old = NULL;
	pthread_mutex_unlock(&c->lock);
	catalog_view_free(old);
	return 0;
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
