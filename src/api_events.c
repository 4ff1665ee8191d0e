/*
 * api_events.c: GET /api/v1/events and /api/v1/events/{msg}: accepted
 * events exactly as stored, in the CloudEvents JSON format.
 *
 * Threads: HTTP threads.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "cloudevent.h"
#include "dispatcher.h"
#include "fmt.h"
#include "http_server.h"
#include "jsonscan.h"
#include "store.h"
#include "xmalloc.h"

/* {"msg":..,"topic":..,"received_at":..,"event":{...}} */
static int
event_write(struct buf *b, const struct event_row *e)
{
	struct cloudevent *ev;
	char msg[FMT_MSG_LEN], when[FMT_TIME_LEN];

	ev = cloudevent_from_stored(e->attrs, (enum ce_data_kind)e->kind,
	    e->data, e->data_len);
	if (ev == NULL)
		return -1;
	fmt_msg(e->msg, msg);
	fmt_time(e->received_at, when);
	buf_printf(b, "{\"msg\":\"%s\",\"topic\":", msg);
	json_quote(b, e->topic, strlen(e->topic));
	buf_printf(b, ",\"received_at\":\"%s\",\"event\":", when);
	cloudevent_write_json(ev, 1, b);
	buf_addstr(b, "}");
	cloudevent_free(ev);
	return 0;
}

/* Replaces the closing brace of the event with its queues: ,"subscriptions":[...]} */
static void
event_subs_write(struct app *app, struct buf *b, int64_t msg)
{
	struct event_sub_row *rows;
	size_t n, i;

	if (b->len == 0 || store_event_subs(app->store, msg, &rows, &n) !=
	    STORE_OK)
		return;
	b->len--;
	buf_addstr(b, ",\"subscriptions\":[");
	for (i = 0; i < n; i++) {
		/* pushed now: the row says so once the outcome is written */
		if (rows[i].state == DS_PENDING && dispatcher_flying(
		    app->dispatcher, rows[i].sub_id, msg))
			rows[i].state = DS_INFLIGHT;
		buf_printf(b, "%s{\"id\":%lld,\"name\":", i ? "," : "",
		    (long long)rows[i].sub_id);
		json_quote(b, rows[i].name, strlen(rows[i].name));
		buf_printf(b, ",\"state\":\"%s\"}",
		    delivery_state_names[rows[i].state]);
	}
	buf_addstr(b, "]}");
	event_sub_rows_free(rows, n);
}

void
api_events_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct event_query q = { 0 };
	const char *topic = api_query(req, "topic");
	const char *cursor = api_query(req, "cursor");
	struct catalog_view *v;
	const struct catalog_topic *t;
	struct event_row *rows;
	char msg[FMT_MSG_LEN];
	struct buf b;
	size_t n, nrows, i;

	if (api_limit(req, &q.limit) != 0)
		return;
	if (cursor != NULL && fmt_msg_parse(cursor, &q.after) != 0) {
		http_reply_invalid(req, "cursor", "not a cursor from this list");
		return;
	}
	if (topic != NULL) {
		v = catalog_acquire(app->catalog);
		t = catalog_topic(v, topic);
		q.topic_id = t != NULL ? t->id : 0;
		catalog_release(app->catalog, v);
		if (q.topic_id == 0) {
			http_reply_invalid_status(
			    req, 404, "topic", "no topic named %s", topic);
			return;
		}
	}
	q.type = api_query(req, "type");
	q.source = api_query(req, "source");
	/* one more than asked for tells whether this is the last page */
	q.limit++;
	if (store_events_list(app->store, &q, &rows, &nrows) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	q.limit--;
	n = nrows > (size_t)q.limit ? (size_t)q.limit : nrows;
	buf_init(&b, 0);
	buf_addstr(&b, "{\"items\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addstr(&b, ",");
		if (event_write(&b, &rows[i]) != 0)
			buf_addstr(&b, "null");
	}
	buf_addstr(&b, "],\"next_cursor\":");
	if (nrows > n) {
		fmt_msg(rows[n - 1].msg, msg);
		buf_printf(&b, "\"%s\"}", msg);
	} else
		buf_addstr(&b, "null}");
	event_rows_free(rows, nrows);
	http_reply_buf(req, 200, &b);
}

void
api_event_get(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct event_row e;
	int64_t msg;
	struct buf b;
	int rc;

	if (fmt_msg_parse(http_req_param(req, 0), &msg) != 0) {
		http_reply_invalid_status(
		    req, 404, "msg", "no message %s", http_req_param(req, 0));
		return;
	}
	rc = store_event_get(app->store, msg, &e);
	if (rc == STORE_NOTFOUND) {
		http_reply_invalid_status(
		    req, 404, "msg", "no message %s", http_req_param(req, 0));
		return;
	}
	if (rc != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	buf_init(&b, 0);
	if (event_write(&b, &e) != 0) {
		buf_free(&b);
		http_reply_problem(req, 500, NULL, NULL, "stored event is "
		    "unreadable");
	} else {
		event_subs_write(app, &b, msg);
		http_reply_buf(req, 200, &b);
	}
	event_row_clear(&e);
}
