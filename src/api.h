/*
 * api.h: the HTTP handlers, one api_*.c file per resource.  The route table
 * in http_server.c maps methods and paths to them.
 *
 * Handlers run on the HTTP server's threads and reply through http_reply_*.
 */
#ifndef SLUICE_API_H
#define SLUICE_API_H

#include <stdint.h>

#include <jansson.h>

struct app;
struct http_req;
struct route_hits;

/* api_ingest.c */
void api_ingest_default(struct http_req *);
void api_ingest_topic(struct http_req *);
void api_ingest_options(struct http_req *);

/* api_topics.c */
void api_topics_list(struct http_req *);
void api_topics_create(struct http_req *);
void api_topic_get(struct http_req *);
void api_topic_update(struct http_req *);
void api_topic_delete(struct http_req *);

/* api_events.c */
void api_events_list(struct http_req *);
void api_event_get(struct http_req *);

/* api_subscriptions.c */
struct sub;
json_t *api_sub_json(struct app *, const struct sub *);
int api_sub_id(struct http_req *, int64_t *id);
void api_subs_list(struct http_req *);
void api_subs_create(struct http_req *);
void api_sub_get(struct http_req *);
void api_sub_update(struct http_req *);
void api_sub_delete(struct http_req *);

/* api_messages.c */
void api_messages_list(struct http_req *);
void api_message_get(struct http_req *);
void api_sub_pause(struct http_req *);
void api_sub_resume(struct http_req *);
void api_sub_retry(struct http_req *);
void api_sub_purge(struct http_req *);

/* api_pull.c */
void api_sub_pull(struct http_req *);
void api_sub_ack(struct http_req *);
void api_sub_nack(struct http_req *);

/* api_sysevents.c */
void api_sysevents_list(struct http_req *);
void api_eventtypes_list(struct http_req *);
void api_stats(struct http_req *);

/* api_misc.c */
void api_healthz(struct http_req *);
void api_readyz(struct http_req *);
void api_metrics(struct http_req *);

/* api_static.c: the web admin's files under /admin/. */
void api_static_get(struct http_req *);
void api_static_redirect(struct http_req *);
/* /admin/config.json: what the web admin needs before signing in. */
void api_web_config(struct http_req *);

/* api_common.c: plumbing the handlers share. */
struct store_tx;

/* What an admin write job sees on the writer thread. */
struct api_tx {
	struct store_tx *tx;
	struct app *app;
	const char *actor;	 /* for system events */
	struct route_hits *hits; /* subscriptions to wake after the commit */
	int64_t changed_sub;	 /* API_RELOAD_SUB: the one it changed */
};

/* What of the catalog an admin write changed, to re-read after its commit. */
enum api_reload {
	API_RELOAD_NONE,
	API_RELOAD_SUB,	   /* one subscription: api_tx.changed_sub */
	API_RELOAD_TOPICS, /* topics, no subscription */
	API_RELOAD_ALL,
};

/*
 * The value of query parameter name, or NULL when it is absent or empty:
 * the documented URL templates (?topic=&limit=&cursor=) send every
 * parameter, so an empty one means "not given".  Borrowed from the request.
 */
const char *api_query(struct http_req *, const char *name);
/* Reads ?limit= (1..1000, default 100); replies 400 and returns -1 if bad. */
int api_limit(struct http_req *, int *limit);
/*
 * Queue counts as a user sees them: pushes in flight are pending in the
 * store until their outcome is written, and count as inflight here.
 * count is by enum delivery_state; sub_id 0 for all subscriptions.
 */
void api_counts_live(struct app *, int64_t sub_id, int64_t count[4]);
/*
 * Parses s as a whole number from 1 to max: decimal digits only (no sign,
 * space or other text).  0, or -1 if it is not one.
 */
int api_whole(const char *s, int64_t max, int64_t *out);
/*
 * Runs apply as an exclusive write job with the connection suspended; after
 * the commit reloads the catalog (when the job changed it), wakes the
 * subscriptions that got messages, and calls reply with the store's result.
 * arg belongs to the caller until reply.
 */
void api_write(struct http_req *, int (*apply)(struct api_tx *, void *),
    void (*reply)(struct http_req *, void *, int), void *arg,
    enum api_reload reload);
/* Records a system event in the job's transaction. */
int api_sysevent(struct api_tx *, const char *entity, const char *operation,
    const char *entity_id, json_t *metadata)
    __attribute__((warn_unused_result));
/* Wakes the dispatcher for each subscription in hits (any thread). */
void api_wake(struct app *, const struct route_hits *);
/* Checks that obj has only members named in fields (NULL-ended). */
int api_known_fields(struct http_req *, json_t *obj,
    const char *const *fields);

#endif
