/*
 * sysevent.h: sluice's own operations (topic and subscription changes,
 * pauses, dead letters, server start and stop, stats): written to the
 * appevent table and published as CloudEvents into the reserved topic $sys
 * (type io.sluice.<entity>.<operation>, source /sluice/<node>), in the
 * transaction of the change itself.
 *
 * Threads: the store's writer thread (inside a job).
 */
#ifndef SLUICE_SYSEVENT_H
#define SLUICE_SYSEVENT_H

#include <jansson.h>

struct catalog_view;
struct route_hits;
struct store_tx;

struct sysevent {
	const char *entity;    /* topic, subscription, delivery, server */
	const char *operation; /* create, update, delete, pause, ... */
	const char *entity_id; /* or NULL */
	const char *actor;     /* admin, anonymous, system */
	json_t *metadata;      /* borrowed; NULL for {} */
};

/* Records the operation and queues its CloudEvent to $sys's subscribers. */
int sysevent_record(struct store_tx *, const struct catalog_view *,
    const char *node, const struct sysevent *, struct route_hits *)
    __attribute__((warn_unused_result));

struct app;

/*
 * Records an operation outside any other change (server start, stop,
 * stats) in a job of its own, and wakes the $sys subscriptions.  Blocks
 * until committed; -1 if it could not be stored.
 */
int sysevent_emit(struct app *, const struct sysevent *);

#endif
