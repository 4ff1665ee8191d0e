/*
 * test_catalog.c: the catalog's partial reloads on a real SQLite database
 * in a temp folder.  After each change, re-reading one subscription (added,
 * changed, deleted) or the topics alone gives the view a whole reload
 * gives; the subscriptions it did not touch are shared with the view
 * before, and a view a reader still holds keeps what it showed.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "store.h"
#include "subscription.h"
#include "tap.h"

/* One change to the stored topics and subscriptions. */
struct change {
	enum { ADD_TOPIC, ADD_SUB, SET_SUB, DEL_SUB } op;
	const char *topic; /* ADD_TOPIC, ADD_SUB: its name */
	int64_t topic_id;  /* ADD_SUB */
	int64_t id;	   /* SET_SUB, DEL_SUB; set by ADD_* */
	const char *state; /* ADD_SUB, SET_SUB */
	const char *sink;  /* ADD_SUB, SET_SUB */
};

static int
change_apply(struct store_tx *tx, void *arg)
{
	struct change *c = arg;
	struct sub_row r = { 0 };
	char spec[128];

	snprintf(spec, sizeof spec, "{\"sink\":\"%s\"}", c->sink ? c->sink :
	    "");
	r.id = c->id;
	r.topic_id = c->topic_id;
	r.topic = (char *)c->topic;
	r.name = (char *)c->sink;
	r.state = (char *)c->state;
	r.spec = spec;
	switch (c->op) {
	case ADD_TOPIC:
		return store_tx_topic_insert(tx, c->topic, "", NULL, &c->id);
	case ADD_SUB:
		return store_tx_sub_insert(tx, &r, &c->id);
	case SET_SUB:
		return store_tx_sub_update(tx, &r);
	case DEL_SUB:
		return store_tx_sub_delete(tx, c->id);
	}
	return -1;
}

static int64_t
change(struct store *st, struct change c)
{
	if (store_run(st, change_apply, &c, 0) != STORE_OK)
		abort();
	return c.id;
}

/*
 * Whether two views hold the same topics and subscriptions, in the same
 * orders, with the same fields that a change can touch.
 */
static int
same_view(const struct catalog_view *a, const struct catalog_view *b)
{
	size_t i;

	if (a->ntopics != b->ntopics || a->nsubs != b->nsubs)
		return 0;
	for (i = 0; i < a->ntopics; i++)
		if (a->topics[i].id != b->topics[i].id ||
		    strcmp(a->topics[i].name, b->topics[i].name) != 0)
			return 0;
	for (i = 0; i < a->nsubs; i++) {
		const struct sub *x = a->subs[i], *y = b->subs[i];

		if (x->id != y->id || x->topic_id != y->topic_id ||
		    x->state != y->state || strcmp(x->sink, y->sink) != 0 ||
		    strcmp(x->name, y->name) != 0 ||
		    x->updated_at != y->updated_at ||
		    a->by_id[i]->id != b->by_id[i]->id)
			return 0;
	}
	return 1;
}

/* The view after a partial reload equals a whole reload's. */
static void
check_whole(struct catalog *part, struct catalog *whole, const char *what)
{
	struct catalog_view *p, *w;

	if (catalog_reload(whole) != 0)
		abort();
	p = catalog_acquire(part);
	w = catalog_acquire(whole);
	ok(same_view(p, w), "%s: the view a whole reload gives", what);
	catalog_release(part, p);
	catalog_release(whole, w);
}

static size_t
topic_subs(struct catalog *c, int64_t topic_id)
{
	struct catalog_view *v = catalog_acquire(c);
	size_t n;

	catalog_topic_subs(v, topic_id, &n);
	catalog_release(c, v);
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/test_catalog.XXXXXX", path[64], *cause = NULL;
	struct store_options o = { 0 };
	struct catalog *cat, *whole;
	struct catalog_view *v0, *v1, *v2;
	struct store *st;
	int64_t a, b, s1, s2, s3, s4, c;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/s.db", dir);
	o.path = path;
	if ((st = store_open(&o, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		return 1;
	}
	cat = catalog_new(st, NULL);
	whole = catalog_new(st, NULL);

	a = change(st, (struct change){ ADD_TOPIC, "a", 0, 0, NULL, NULL });
	b = change(st, (struct change){ ADD_TOPIC, "b", 0, 0, NULL, NULL });
	s1 = change(st, (struct change){ ADD_SUB, "a", a, 0, "pub_and_sub",
	    "http://127.0.0.1:9/1" });
	s2 = change(st, (struct change){ ADD_SUB, "b", b, 0, "pub_and_sub",
	    "http://127.0.0.1:9/2" });
	s3 = change(st, (struct change){ ADD_SUB, "a", a, 0, "pub_and_sub",
	    "http://127.0.0.1:9/3" });
	is_int(catalog_reload(cat), 0, "a whole reload");
	v0 = catalog_acquire(cat);
	is_int(v0->nsubs, 3, "three subscriptions");
	is_int(topic_subs(cat, a), 2, "two of them on topic a");

	/* added: a fourth, on b */
	s4 = change(st, (struct change){ ADD_SUB, "b", b, 0, "pub_only",
	    "http://127.0.0.1:9/4" });
	is_int(catalog_reload_sub(cat, s4), 0, "re-read the added one");
	v1 = catalog_acquire(cat);
	is_int(v1->nsubs, 4, "added: four subscriptions");
	ok(catalog_sub(v1, s4) != NULL &&
	    catalog_sub(v1, s4)->state == SUB_PUB_ONLY,
	    "added: it is in the view, with its state");
	ok(catalog_sub(v1, s1) == catalog_sub(v0, s1) &&
	    catalog_sub(v1, s3) == catalog_sub(v0, s3),
	    "added: the others are shared with the view before");
	is_int(topic_subs(cat, b), 2, "added: topic b routes to two");
	is_int(v0->nsubs, 3, "added: a held view still has three");
	check_whole(cat, whole, "added");

	/* changed: the first, state and sink */
	change(st, (struct change){ SET_SUB, "a", a, s1, "disabled",
	    "http://127.0.0.1:9/one" });
	is_int(catalog_reload_sub(cat, s1), 0, "re-read the changed one");
	v2 = catalog_acquire(cat);
	ok(catalog_sub(v2, s1) != catalog_sub(v1, s1),
	    "changed: it is a new subscription");
	is_int(catalog_sub(v2, s1)->state, SUB_DISABLED,
	    "changed: its new state");
	is_str(catalog_sub(v2, s1)->sink, "http://127.0.0.1:9/one",
	    "changed: its new sink");
	is_str(catalog_sub(v0, s1)->sink, "http://127.0.0.1:9/1",
	    "changed: the views held before show it as it was");
	check_whole(cat, whole, "changed");
	catalog_release(cat, v1);
	catalog_release(cat, v0);

	/* deleted: the second; then an id that never was */
	change(st, (struct change){ DEL_SUB, NULL, 0, s2, NULL, NULL });
	is_int(catalog_reload_sub(cat, s2), 0, "re-read the deleted one");
	is_int(topic_subs(cat, b), 1, "deleted: topic b routes to one");
	ok(catalog_sub(v2, s2) != NULL, "deleted: a held view still has it");
	check_whole(cat, whole, "deleted");
	is_int(catalog_reload_sub(cat, s4 + 100), 0, "an unknown id");
	check_whole(cat, whole, "an unknown id changes nothing");

	/* topics alone: the subscriptions are shared */
	c = change(st, (struct change){ ADD_TOPIC, "c", 0, 0, NULL, NULL });
	is_int(catalog_reload_topics(cat), 0, "re-read the topics");
	v0 = catalog_acquire(cat);
	ok(catalog_topic(v0, "c") != NULL &&
	    catalog_topic(v0, "c")->id == c, "topics: the new topic");
	ok(catalog_sub(v0, s3) == catalog_sub(v2, s3),
	    "topics: the subscriptions are shared");
	check_whole(cat, whole, "topics");
	catalog_release(cat, v0);
	catalog_release(cat, v2);

	catalog_free(cat);
	catalog_free(whole);
	store_close(st);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
