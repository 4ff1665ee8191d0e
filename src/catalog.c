/*
 * catalog.c: the in-memory view of topics.  Reloaded whole after each
 * committed change (changes are rare; lookups are per request), swapped
 * under a mutex, freed by reference count.
 *
 * Thread-safe.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

struct catalog {
	struct store *store;
	pthread_mutex_t lock; /* guards current and every view's refs */
	struct catalog_view *current;
};

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
	free(v);
}

struct catalog *
catalog_new(struct store *store)
{
	struct catalog *c = xcalloc(1, sizeof *c);

	c->store = store;
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
