/*
 * api.h: the HTTP handlers, one api_*.c file per resource.  The route table
 * in http_server.c maps methods and paths to them.
 *
 * Handlers run on the HTTP server's threads and reply through http_reply_*.
 */
#ifndef SLUICE_API_H
#define SLUICE_API_H

#include <jansson.h>

struct http_req;

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

/* api_misc.c */
void api_healthz(struct http_req *);
void api_readyz(struct http_req *);

/* api_static.c: the web admin's files under /admin/. */
void api_static_get(struct http_req *);
void api_static_redirect(struct http_req *);

/* api_common.c: plumbing the handlers share. */
struct store_tx;
/* Reads ?limit= (1..1000, default 100); replies 400 and returns -1 if bad. */
int api_limit(struct http_req *, int *limit);
/*
 * Runs apply as an exclusive write job with the connection suspended; after
 * the commit reloads the catalog (when the job changed it) and calls reply
 * with the store's result.  arg belongs to the caller until reply.
 */
void api_write(struct http_req *, int (*apply)(struct store_tx *, void *),
    void (*reply)(struct http_req *, void *, int), void *arg, int reload);
/* Checks that obj has only members named in fields (NULL-ended). */
int api_known_fields(struct http_req *, json_t *obj,
    const char *const *fields);

#endif
