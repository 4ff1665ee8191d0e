/*
 * catalog.h: the topics and subscriptions held in memory, so that
 * ingest resolves a topic and routes an event without reading SQL.  Readers
 * take a reference to an immutable view; a reload after a committed change
 * swaps in a new view, and the old one is freed when its last reader lets go.
 *
 * Thread-safe.
 */
#ifndef SLUICE_CATALOG_H
#define SLUICE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct catalog;
struct sub;

struct catalog_topic {
	int64_t id;
	char *name;
	char *publish_token; /* NULL when publishing is open */
};

struct catalog_view {
	struct catalog_topic *topics; /* sorted by name */
	size_t ntopics;
	struct sub **subs;	      /* sorted by topic id, then id */
	struct sub **by_id;	      /* the same, sorted by id */
	size_t nsubs;
	int refs; /* readers holding it, plus one while it is current */
};

struct secretbox;

/* secrets (borrowed) opens the subscriptions' sealed secrets. */
struct catalog *catalog_new(struct store *, const struct secretbox *secrets);
void catalog_free(struct catalog *);
/*
 * Rebuilds the view from the store; -1 if the store could not be read
 * (the view stays as it was, and the next reload of any kind reads
 * everything).  catalog_reload_topics re-reads the topics
 * alone, catalog_reload_sub the one subscription (added, changed or
 * deleted): after a change that touched nothing else they give the view a
 * whole reload gives, at a fraction of its cost.
 */
int catalog_reload(struct catalog *) __attribute__((warn_unused_result));
int catalog_reload_topics(struct catalog *)
    __attribute__((warn_unused_result));
int catalog_reload_sub(struct catalog *, int64_t id)
    __attribute__((warn_unused_result));
struct catalog_view *catalog_acquire(struct catalog *);
void catalog_release(struct catalog *, struct catalog_view *);
const struct catalog_topic *catalog_topic(const struct catalog_view *,
    const char *name);
const struct catalog_topic *catalog_topic_by_id(const struct catalog_view *,
    int64_t id);
/* The subscriptions of a topic: *n of them from the returned one. */
struct sub *const *catalog_topic_subs(const struct catalog_view *,
    int64_t topic_id, size_t *n);
const struct sub *catalog_sub(const struct catalog_view *, int64_t id);
/* Where in by_id the subscriptions with an id >= id start. */
size_t catalog_sub_from(const struct catalog_view *, int64_t id);

#endif
