/*
 * api_sysevents.c: the record of sluice's own operations
 * (/api/v1/sysevents), the catalog of event types seen
 * (/api/v1/eventtypes), and overall counts (/api/v1/stats).
 *
 * Threads: HTTP threads.
 */
#include "autoconfig.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "fmt.h"
#include "http_server.h"
#include "store.h"
#include "xmalloc.h"

static json_t *
sys_time(int64_t ms)
{
	char when[FMT_TIME_LEN];

	fmt_time(ms, when);
	return json_string(when);
}

void
api_sysevents_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	const struct appevent_filter f = { api_query(req, "operation"),
		api_query(req, "entity"), api_query(req, "entity_id"),
		api_query(req, "actor") };
	const char *cursor = api_query(req, "cursor");
	struct appevent_row *rows;
	json_t *items, *item, *page;
	int64_t before = 0;
	size_t n, nrows, i;
	int limit;

	if (api_limit(req, &limit) != 0)
		return;
	if (cursor != NULL && api_whole(cursor, INT64_MAX, &before) != 0) {
		http_reply_invalid(req, "cursor", "not a cursor from this list");
		return;
	}
	/* one more than asked for tells whether this is the last page */
	if (store_appevents_list(app->store, &f, before, limit + 1, &rows,
		&nrows) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	n = nrows > (size_t)limit ? (size_t)limit : nrows;
	items = json_array();
	for (i = 0; i < n; i++) {
		item = json_pack("{sIssssss}", "id", (json_int_t)rows[i].id,
		    "operation", rows[i].operation, "entity", rows[i].entity,
		    "actor", rows[i].actor ? rows[i].actor : "system");
		json_object_set_new(item, "entity_id", rows[i].entity_id ?
		    json_string(rows[i].entity_id) : json_null());
		json_object_set_new(item, "time", sys_time(rows[i].time));
		json_object_set_new(item, "metadata",
		    json_loads(rows[i].metadata, 0, NULL));
		json_array_append_new(items, item);
	}
	page = json_object();
	json_object_set_new(page, "items", items);
	json_object_set_new(page, "next_cursor", nrows > n ?
	    json_sprintf("%lld", (long long)rows[n - 1].id) : json_null());
	appevent_rows_free(rows, nrows);
	http_reply_json(req, 200, page);
}

void
api_eventtypes_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	const char *topic = api_query(req, "topic");
	const char *cursor = api_query(req, "cursor");
	struct catalog_view *v;
	const struct catalog_topic *t;
	struct eventtype_row *rows;
	char msg[FMT_MSG_LEN];
	json_t *items, *item, *page;
	int64_t topic_id = 0;
	size_t n, nrows, i;
	int64_t offset = 0;
	int limit;

	if (api_limit(req, &limit) != 0)
		return;
	if (cursor != NULL && api_whole(cursor, INT_MAX - 1000, &offset) != 0) {
		http_reply_invalid(req, "cursor", "not a cursor from this list");
		return;
	}
	if (topic != NULL) {
		v = catalog_acquire(app->catalog);
		t = catalog_topic(v, topic);
		topic_id = t ? t->id : 0;
		catalog_release(app->catalog, v);
		if (topic_id == 0) {
			http_reply_invalid_status(
			    req, 404, "topic", "no topic named %s", topic);
			return;
		}
	}
	/* one more than asked for tells whether this is the last page */
	if (store_eventtypes_list(app->store, topic_id, (int)offset, limit + 1,
		&rows, &nrows) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	n = nrows > (size_t)limit ? (size_t)limit : nrows;
	items = json_array();
	for (i = 0; i < n; i++) {
		fmt_msg(rows[i].example_msg, msg);
		item = json_pack("{sssssssIss}", "topic", rows[i].topic,
		    "type", rows[i].type, "source", rows[i].source, "count",
		    (json_int_t)rows[i].count, "example_msg", msg);
		json_object_set_new(item, "first_seen",
		    sys_time(rows[i].first_seen));
		json_object_set_new(item, "last_seen",
		    sys_time(rows[i].last_seen));
		json_array_append_new(items, item);
	}
	page = json_object();
	json_object_set_new(page, "items", items);
	json_object_set_new(page, "next_cursor", nrows > n ?
	    json_sprintf("%lld", (long long)offset + limit) : json_null());
	eventtype_rows_free(rows, nrows);
	http_reply_json(req, 200, page);
}

void
api_stats(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct store_totals t;
	json_t *o, *q;
	int i;

	if (store_totals(app->store, &t) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	api_counts_live(app, 0, t.count);
	q = json_object();
	for (i = 0; i < 4; i++)
		json_object_set_new(q, delivery_state_names[i],
		    json_integer(t.count[i]));
	o = json_pack("{sssssIsIsIso}", "node", app->node, "version",
	    PACKAGE_VERSION, "uptime_s",
	    (json_int_t)((fmt_now_ms() - app->started_at) / 1000), "topics",
	    (json_int_t)t.topics, "subscriptions", (json_int_t)t.subscriptions,
	    "queue", q);
	json_object_set_new(o, "events", json_integer(t.events));
	json_object_set_new(o, "started_at", sys_time(app->started_at));
	http_reply_json(req, 200, o);
}
