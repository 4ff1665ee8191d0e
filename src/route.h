/*
 * route.h: fan-out.  Decides which subscriptions of a topic take an event
 * (their state queues new events and their filters match) and writes one
 * delivery row for each, in the transaction that stores the event.
 *
 * Threads: the store's writer thread (inside a job).
 */
#ifndef SLUICE_ROUTE_H
#define SLUICE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct catalog_view;
struct cloudevent;
struct store_tx;

/* The subscriptions that got new messages, to wake after the commit. */
struct route_hits {
	int64_t *ids;
	size_t n;
};

/* Queues msg to every matching subscription of topic_id. */
int route_event(struct store_tx *, const struct catalog_view *,
    int64_t topic_id, const struct cloudevent *, int64_t msg,
    struct route_hits *) __attribute__((warn_unused_result));
void route_hits_add(struct route_hits *, int64_t id);
void route_hits_clear(struct route_hits *);

#endif
