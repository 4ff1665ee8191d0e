/*
 * dispatcher.h: the delivery worker pool and its scheduler.  Picks the
 * subscriptions that have due messages and are not paused, hands their
 * requests to worker threads (each with its own libcurl pool via deliver),
 * records every attempt, and pauses a subscription after a failure.
 *
 * Threads: dispatcher_wake and dispatcher_reload from any thread.
 */
#ifndef SLUICE_DISPATCHER_H
#define SLUICE_DISPATCHER_H

#include <stdint.h>

struct app;
struct dispatcher;

/* Starts the workers; NULL and *cause on error. */
struct dispatcher *dispatcher_start(struct app *, char **cause);
/* Stops taking work, waits for requests in flight, joins the workers. */
void dispatcher_stop(struct dispatcher *);
/* The subscription may have new due messages (NULL-safe). */
void dispatcher_wake(struct dispatcher *, int64_t sub_id);
/* Subscriptions changed: re-read them from the catalog (NULL-safe). */
void dispatcher_reload(struct dispatcher *);
/* The same for one subscription the catalog re-read (added or changed). */
void dispatcher_reload_sub(struct dispatcher *, int64_t sub_id);
/* Messages of the subscription were retried or purged: read its queue again. */
void dispatcher_requeue(struct dispatcher *, int64_t sub_id);
/* Messages of the subscription in pushes now in flight. */
int dispatcher_inflight(struct dispatcher *, int64_t sub_id);
/*
 * The messages themselves, sorted (caller frees *msgs): their rows still
 * say pending until the outcome is written.
 */
size_t dispatcher_flight(struct dispatcher *, int64_t sub_id, int64_t **msgs);
/* Whether that one message is among them. */
int dispatcher_flying(struct dispatcher *, int64_t sub_id, int64_t msg);
/* The same count for every subscription together. */
int64_t dispatcher_inflight_total(struct dispatcher *);
/* A pull lease ends at until: expire it then if not acknowledged. */
void dispatcher_lease(struct dispatcher *, int64_t until);
/* An operator paused (until > now) or resumed (until 0) a subscription. */
void dispatcher_pause(struct dispatcher *, int64_t sub_id, int64_t until);

#endif
