/*
 * api_ingest.c: POST /events and POST /topics/{topic}/events, and the
 * CloudEvents webhook abuse-protection handshake (OPTIONS) on both.  Parses
 * and validates on the HTTP thread, then hands the events to the store's
 * writer and suspends the connection: the 202 goes out only after the
 * transaction holding the events has committed (group commit: concurrent
 * requests share one).
 *
 * Threads: handlers on HTTP threads; ingest_apply on the writer thread;
 * ingest_done on the writer thread after the commit.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "cloudevent.h"
#include "config.h"
#include "fmt.h"
#include "http_server.h"
#include "jsonscan.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "store.h"
#include "xmalloc.h"

/* One ingest request on its way through the writer. */
struct ingest {
	struct http_req *req;
	struct app *app;
	int64_t topic_id;
	struct ce_list events;
	char **attrs;	/* each event's attributes, JSON format text */
	int64_t *msg;	/* each event's message id (or the one it repeats) */
	int *dup;	/* 1 where the event is a duplicate */
	int failure;	/* STORE_NOTFOUND or STORE_FAILED from apply */
	struct route_hits hits; /* subscriptions that got messages */
};

static void
ingest_free(struct ingest *in)
{
	size_t i;

	for (i = 0; i < in->events.n; i++)
		free(in->attrs[i]);
	free(in->attrs);
	free(in->msg);
	free(in->dup);
	route_hits_clear(&in->hits);
	ce_list_free(&in->events);
	free(in);
}

static int
ingest_store(struct store_tx *tx, struct ingest *in,
    const struct catalog_view *v)
{
	struct event_in e;
	size_t i;
	int rc;

	if (catalog_topic_by_id(v, in->topic_id) == NULL) {
		in->failure = STORE_NOTFOUND;
		return -1;
	}
	for (i = 0; i < in->events.n; i++) {
		const struct cloudevent *ev = in->events.ev[i];

		e.ce_id = cloudevent_get(ev, "id");
		e.source = cloudevent_get(ev, "source");
		e.type = cloudevent_get(ev, "type");
		e.attrs = in->attrs[i];
		e.kind = ev->kind;
		e.data = ev->data;
		e.data_len = ev->data_len;
		rc = store_tx_event_insert(tx, in->topic_id, &e, &in->msg[i]);
		if (rc == STORE_CONFLICT) {
			in->dup[i] = 1;
			continue;
		}
		if (rc == STORE_OK) {
			store_tx_eventtype_touch(tx, in->topic_id, e.type,
			    e.source, in->msg[i]);
			rc = route_event(tx, v, in->topic_id, ev, in->msg[i],
			    &in->hits);
		}
		if (rc != STORE_OK) {
			in->failure = STORE_FAILED;
			return -1;
		}
	}
	return 0;
}

/* Writer thread: stores and routes every event, or none. */
static int
ingest_apply(struct store_tx *tx, void *arg)
{
	struct ingest *in = arg;
	struct catalog_view *v = catalog_acquire(in->app->catalog);
	int rc = ingest_store(tx, in, v);

	catalog_release(in->app->catalog, v);
	if (rc != STORE_OK)
		route_hits_clear(&in->hits);
	return rc;
}
static void
ingest_list(struct buf *b, struct ingest *in, int dup)
{
	char msg[FMT_MSG_LEN];
	const char *s;
	size_t i;
	int first = 1;

	buf_addstr(b, "[");
	for (i = 0; i < in->events.n; i++) {
		if (in->dup[i] != dup)
			continue;
		fmt_msg(in->msg[i], msg);
		buf_printf(b, "%s{\"msg\":\"%s\",\"id\":", first ? "" : ",",
		    msg);
		s = cloudevent_get(in->events.ev[i], "id");
		json_quote(b, s, strlen(s));
		buf_addstr(b, ",\"source\":");
		s = cloudevent_get(in->events.ev[i], "source");
		json_quote(b, s, strlen(s));
		buf_addstr(b, "}");
		first = 0;
	}
	buf_addstr(b, "]");
}

/* Writer thread, after the commit: answers the producer. */
static void
ingest_done(void *arg, int rc)
{
	struct ingest *in = arg;
	struct buf b;
	size_t i;

	if (rc == STORE_OK) {
		for (i = 0; i < in->events.n; i++)
			atomic_fetch_add(in->dup[i] ? &in->app->metrics->duplicates :
			    &in->app->metrics->accepted, 1);
		api_wake(in->app, &in->hits);
		buf_init(&b, 0);
		buf_addstr(&b, "{\"accepted\":");
		ingest_list(&b, in, 0);
		buf_addstr(&b, ",\"duplicates\":");
		ingest_list(&b, in, 1);
		buf_addstr(&b, "}");
		http_reply_buf(in->req, 202, &b);
	} else if (in->failure == STORE_NOTFOUND) {
		atomic_fetch_add(&in->app->metrics->rejected[MR_NOT_FOUND], 1);
		http_reply_invalid_status(in->req, 404, "topic",
		    "the topic was deleted");
	} else {
		atomic_fetch_add(&in->app->metrics->rejected[MR_STORAGE], 1);
		http_reply_header(in->req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		http_reply_invalid_status(in->req, 503, "storage",
		    "the events could not be stored; nothing was accepted: "
		    "retry later");
	}
	ingest_free(in);
}

static json_t *
ingest_faults(const struct ce_problem *pr)
{
	json_t *errors = json_array(), *e;
	size_t i;

	for (i = 0; i < pr->nfaults; i++) {
		const struct ce_fault *f = &pr->faults[i];

		e = json_object();
		if (f->index >= 0)
			json_object_set_new(e, "index", json_integer(f->index));
		json_object_set_new(e, "attribute",
		    http_json_text(f->attribute));
		json_object_set_new(e, "reason", http_json_text(f->reason));
		json_object_set_new(e, "detail", http_json_text(f->reason));
		json_array_append_new(errors, e);
	}
	return errors;
}

static void
ingest_problem(struct http_req *req, struct ce_problem *pr)
{
	const struct ce_fault *f = &pr->faults[0];

	atomic_fetch_add(&http_req_app(req)->metrics->rejected[
	    pr->status == 415 ? MR_MEDIA_TYPE : MR_INVALID], 1);
	if (f->index >= 0)
		http_reply_problem(req, (unsigned)pr->status, pr->title,
		    ingest_faults(pr), "event %d of the batch: %s: %s%s",
		    f->index, f->attribute, f->reason,
		    pr->nfaults > 1 ? " (and more: see errors)" : "");
	else
		http_reply_problem(req, (unsigned)pr->status, pr->title,
		    ingest_faults(pr), "%s: %s%s", f->attribute, f->reason,
		    pr->nfaults > 1 ? " (and more: see errors)" : "");
}

/*
 * The topic an ingest URL names: 0 with its id and, if token is not NULL,
 * its publish token (caller frees), or -1 once a 403 ($-topics are
 * sluice's own) or 404 is sent.
 */
static int
ingest_topic(struct http_req *req, const char *topic, int64_t *id,
    char **token)
{
	struct app *app = http_req_app(req);
	struct catalog_view *v;
	const struct catalog_topic *t;

	if (topic[0] == '$') {
		http_reply_invalid_status(req, 403, "topic", "%s is reserved "
		    "for sluice's own events", topic);
		return -1;
	}
	v = catalog_acquire(app->catalog);
	t = catalog_topic(v, topic);
	if (t != NULL) {
		*id = t->id;
		if (token != NULL)
			*token = t->publish_token ?
			    xstrdup(t->publish_token) : NULL;
	}
	catalog_release(app->catalog, v);
	if (t == NULL) {
		atomic_fetch_add(&app->metrics->rejected[MR_NOT_FOUND], 1);
		http_reply_invalid_status(req, 404, "topic",
		    "no topic named %s", topic);
		return -1;
	}
	return 0;
}

static void
ingest(struct http_req *req, const char *topic)
{
	struct app *app = http_req_app(req);
	struct ce_header *hdrs;
	struct ce_problem pr;
	struct ingest *in;
	const char **names, **values, *body;
	size_t nh, i, len;
	struct buf attrs;
	int64_t topic_id;
	char *token;

	if (ingest_topic(req, topic, &topic_id, &token) != 0)
		return;
	if (token != NULL && http_check_bearer(req, token) != 0) {
		atomic_fetch_add(&app->metrics->rejected[MR_AUTH], 1);
		free(token);
		return;
	}
	free(token);
	nh = http_req_headers(req, &names, &values);
	hdrs = xcalloc(nh + 1, sizeof *hdrs);
	for (i = 0; i < nh; i++) {
		hdrs[i].name = names[i];
		hdrs[i].value = values[i];
	}
	body = http_req_body(req, &len);
	in = xcalloc(1, sizeof *in);
	if (cloudevent_parse_http(http_req_header(req,
		MHD_HTTP_HEADER_CONTENT_TYPE), hdrs, nh, body, len, &in->events,
		&pr) != 0) {
		free(hdrs);
		ingest_problem(req, &pr);
		ce_problem_free(&pr);
		ingest_free(in);
		return;
	}
	free(hdrs);
	in->req = req;
	in->app = app;
	in->topic_id = topic_id;
	in->attrs = xcalloc(in->events.n + 1, sizeof *in->attrs);
	in->msg = xcalloc(in->events.n + 1, sizeof *in->msg);
	in->dup = xcalloc(in->events.n + 1, sizeof *in->dup);
	for (i = 0; i < in->events.n; i++) {
		buf_init(&attrs, 0);
		cloudevent_write_json(in->events.ev[i], 0, &attrs);
		in->attrs[i] = buf_take(&attrs, NULL);
	}
	http_suspend(req);
	store_submit(app->store, ingest_apply, ingest_done, in, 0);
}

void
api_ingest_default(struct http_req *req)
{
	ingest(req, "default");
}

void
api_ingest_topic(struct http_req *req)
{
	ingest(req, http_req_param(req, 0));
}

/*
 * Is origin in the comma-separated list (or is the list "*")?  An empty
 * allowed_origins leaves the list NULL: no origin is allowed.
 */
static int
ingest_origin_allowed(const char *list, const char *origin)
{
	size_t n = strlen(origin), len;
	const char *p = list;

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if ((len == 1 && *p == '*') ||
		    (len == n && strncasecmp(p, origin, n) == 0))
			return 1;
		p += len;
	}
	return 0;
}

/*
 * The abuse-protection handshake of the CloudEvents webhook spec: a sender
 * asks with WebHook-Request-Origin; we allow it (echoing the origin) when
 * the topic takes events and allowed_origins lets the origin in.
 */
void
api_ingest_options(struct http_req *req)
{
	const struct config *cfg = http_req_app(req)->cfg;
	const char *origin = http_req_header(req, "WebHook-Request-Origin");
	const char *topic = http_req_param(req, 0);
	int64_t id;

	if (ingest_topic(req, topic != NULL ? topic : "default", &id,
	    NULL) != 0)
		return;
	http_reply_header(req, MHD_HTTP_HEADER_ALLOW, "POST, OPTIONS");
	if (origin == NULL) {
		http_reply(req, 204, NULL, NULL, 0);
		return;
	}
	if (!ingest_origin_allowed(cfg->allowed_origins, origin)) {
		http_reply_invalid_status(req, 403, "WebHook-Request-Origin",
		    "origin %s may not send events here", origin);
		return;
	}
	http_reply_header(req, "WebHook-Allowed-Origin", origin);
	http_reply_header(req, "WebHook-Allowed-Rate", "*");
	http_reply(req, 200, NULL, NULL, 0);
}
