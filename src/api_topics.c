/*
 * api_topics.c: /api/v1/topics: list, create, read, update, delete.
 * A topic name is 1 to 128 characters of letters, digits, '.', '_' and
 * '-', starting with a letter or digit; names starting with '$' are
 * reserved for sluice ($sys).  The topic "default" (POST /events) and $sys
 * cannot be deleted.
 *
 * Threads: HTTP threads; the write jobs on the store's writer.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "cloudevent.h"
#include "fmt.h"
#include "http_server.h"
#include "store.h"
#include "subscription.h"
#include "xmalloc.h"

static int
topic_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 128 || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return 0;
	return 1;
}

static json_t *
topic_json(const struct topic_row *t)
{
	char when[FMT_TIME_LEN];
	json_t *j = json_object();
	char *url;

	json_object_set_new(j, "name", json_string(t->name));
	json_object_set_new(j, "description", json_string(t->description));
	json_object_set_new(j, "publish_token_set",
	    json_boolean(t->publish_token != NULL));
	url = strcmp(t->name, "default") == 0 ? xstrdup("/events") :
	    xasprintf("/topics/%s/events", t->name);
	json_object_set_new(j, "ingest_path", json_string(url));
	free(url);
	fmt_time(t->created_at, when);
	json_object_set_new(j, "created_at", json_string(when));
	fmt_time(t->updated_at, when);
	json_object_set_new(j, "updated_at", json_string(when));
	return j;
}

void
api_topics_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct topic_row *rows;
	json_t *items, *page;
	size_t n, nrows, i;
	int limit;

	if (api_limit(req, &limit) != 0)
		return;
	/* one more than asked for tells whether this is the last page */
	if (store_topics_list(app->store, api_query(req, "cursor"), limit + 1,
		&rows, &nrows) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	n = nrows > (size_t)limit ? (size_t)limit : nrows;
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, topic_json(&rows[i]));
	page = json_object();
	json_object_set_new(page, "items", items);
	json_object_set_new(page, "next_cursor", nrows > n ?
	    json_string(rows[n - 1].name) : json_null());
	topic_rows_free(rows, nrows);
	http_reply_json(req, 200, page);
}

/* A topic write: what to change, and what came of it. */
struct topic_write {
	char *name;
	char *description;
	char *token;
	int set_description;
	int set_token;
	int force;
	int64_t id;
	int rc; /* STORE_* from apply */
};

static void
topic_write_free(struct topic_write *w)
{
	free(w->name);
	free(w->description);
	free(w->token);
	free(w);
}

/* Reads description and publish_token from a create or patch body. */
static int
topic_fields(struct http_req *req, json_t *body, struct topic_write *w)
{
	json_t *d = json_object_get(body, "description");
	json_t *t = json_object_get(body, "publish_token");

	if (d != NULL && !json_is_string(d)) {
		http_reply_invalid(req, "description", "must be a string");
		return -1;
	}
	if (d != NULL && json_string_length(d) > 1024) {
		http_reply_invalid(req, "description",
		    "must be at most 1024 bytes");
		return -1;
	}
	/* the same rule as a subscription's strings (a CloudEvents String) */
	if (d != NULL && !cloudevent_valid_string(json_string_value(d),
	    json_string_length(d))) {
		http_reply_invalid(req, "description",
		    "must be a string without control characters");
		return -1;
	}
	if (t != NULL && !json_is_null(t) &&
	    (!json_is_string(t) || json_string_length(t) < 1 ||
		json_string_length(t) > 256)) {
		http_reply_invalid(req, "publish_token",
		    "must be a string of 1 to 256 characters, or null");
		return -1;
	}
	if (d != NULL) {
		w->set_description = 1;
		w->description = xstrdup(json_string_value(d));
	}
	if (t != NULL) {
		/* only a hash is stored: a database dump does not reveal it */
		w->set_token = 1;
		w->token = json_is_string(t) ?
		    http_token_hash(json_string_value(t)) : NULL;
	}
	return 0;
}

static int
topic_create_apply(struct api_tx *t, void *arg)
{
	struct topic_write *w = arg;

	w->rc = store_tx_topic_insert(t->tx, w->name, w->description, w->token,
	    &w->id);
	if (w->rc == STORE_OK)
		w->rc = api_sysevent(t, "topic", "create", w->name, NULL);
	return w->rc;
}

/* Answers with the topic as it now stands. */
static void
topic_reply(struct http_req *req, struct topic_write *w, unsigned status)
{
	struct topic_row t;
	char *loc;

	if (store_topic_get(http_req_app(req)->store, w->name, &t) != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	if (status == 201) {
		loc = xasprintf("/api/v1/topics/%s", t.name);
		http_reply_header(req, MHD_HTTP_HEADER_LOCATION, loc);
		free(loc);
	}
	http_reply_json(req, status, topic_json(&t));
	topic_row_clear(&t);
}

static void
topic_create_reply(struct http_req *req, void *arg, int rc)
{
	struct topic_write *w = arg;

	if (rc == STORE_OK)
		topic_reply(req, w, 201);
	else if (w->rc == STORE_CONFLICT)
		http_reply_invalid_status(req, 409, "name",
		    "a topic named %s exists", w->name);
	else
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	topic_write_free(w);
}

void
api_topics_create(struct http_req *req)
{
	static const char *const fields[] = { "name", "description",
		"publish_token", NULL };
	struct topic_write *w;
	json_t *body, *name;

	if ((body = http_req_json(req)) == NULL)
		return;
	if (api_known_fields(req, body, fields) != 0)
		goto done;
	name = json_object_get(body, "name");
	if (!json_is_string(name) || !topic_name_valid(json_string_value(name))) {
		http_reply_invalid(req, "name", "required: 1 to 128 letters, "
		    "digits, '.', '_' or '-', starting with a letter or digit");
		goto done;
	}
	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(json_string_value(name));
	if (topic_fields(req, body, w) != 0) {
		topic_write_free(w);
		goto done;
	}
	api_write(req, topic_create_apply, topic_create_reply, w,
	    API_RELOAD_TOPICS);
done:
	json_decref(body);
}

/* Loads the topic named in the path; replies 404 (or 503) if it can't. */
static int
topic_load(struct http_req *req, struct topic_row *t)
{
	int rc = store_topic_get(http_req_app(req)->store,
	    http_req_param(req, 0), t);

	if (rc == STORE_NOTFOUND)
		http_reply_invalid_status(req, 404, "name", "no topic named %s",
		    http_req_param(req, 0));
	else if (rc != STORE_OK)
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	return rc == STORE_OK ? 0 : -1;
}

void
api_topic_get(struct http_req *req)
{
	struct topic_row t;

	if (topic_load(req, &t) != 0)
		return;
	http_reply_json(req, 200, topic_json(&t));
	topic_row_clear(&t);
}

/*
 * Reads the topic inside the write job, so that PATCHes in flight at the
 * same time each keep the fields the other changed.
 */
static int
topic_update_apply(struct api_tx *t, void *arg)
{
	struct topic_write *w = arg;
	struct topic_row cur;

	if ((w->rc = store_tx_topic_get(t->tx, w->name, &cur)) != STORE_OK)
		return w->rc;
	w->id = cur.id;
	if (!w->set_description) {
		free(w->description);
		w->description = xstrdup(cur.description);
	}
	if (!w->set_token) {
		free(w->token);
		w->token = cur.publish_token ? xstrdup(cur.publish_token) :
		    NULL;
	}
	topic_row_clear(&cur);
	w->rc = store_tx_topic_update(t->tx, w->id, w->description, w->token);
	if (w->rc == STORE_OK) {
		/* the fields the request set, as subscription.update says */
		json_t *meta = json_pack("{ss}", "fields", w->set_description &&
		    w->set_token ? "description,publish_token" :
		    w->set_description ? "description" :
		    w->set_token ? "publish_token" : "");
		w->rc = api_sysevent(t, "topic", "update", w->name, meta);
		json_decref(meta);
	}
	return w->rc;
}

static void
topic_update_reply(struct http_req *req, void *arg, int rc)
{
	struct topic_write *w = arg;

	if (rc == STORE_OK)
		topic_reply(req, w, 200);
	else if (w->rc == STORE_NOTFOUND)
		http_reply_invalid_status(
		    req, 404, "name", "no topic named %s", w->name);
	else
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	topic_write_free(w);
}

void
api_topic_update(struct http_req *req)
{
	static const char *const fields[] = { "description", "publish_token",
		NULL };
	struct topic_write *w;
	struct topic_row t;
	json_t *body;

	if ((body = http_req_json(req)) == NULL)
		return;
	if (api_known_fields(req, body, fields) != 0 || topic_load(req, &t) != 0)
		goto done;
	w = xcalloc(1, sizeof *w);
	w->id = t.id;
	w->name = xstrdup(t.name);
	if (topic_fields(req, body, w) != 0) {
		topic_write_free(w);
		topic_row_clear(&t);
		goto done;
	}
	topic_row_clear(&t);
	api_write(req, topic_update_apply, topic_update_reply, w,
	    API_RELOAD_TOPICS);
done:
	json_decref(body);
}

/*
 * A forced delete takes the topic's subscriptions with it: each is
 * recorded (subscription.delete, as if deleted on its own).  The catalog
 * is current: admin writes that change it run alone, and reload it.
 */
static int
topic_delete_subs_recorded(struct api_tx *t, int64_t topic_id)
{
	struct catalog_view *v = catalog_acquire(t->app->catalog);
	json_t *meta = json_pack("{sb}", "topic_deleted", 1);
	char id[32];
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < v->nsubs && rc == STORE_OK; i++) {
		if (v->subs[i]->topic_id != topic_id)
			continue;
		snprintf(id, sizeof id, "%lld", (long long)v->subs[i]->id);
		rc = api_sysevent(t, "subscription", "delete", id, meta);
	}
	json_decref(meta);
	catalog_release(t->app->catalog, v);
	return rc;
}

static int
topic_delete_apply(struct api_tx *t, void *arg)
{
	struct topic_write *w = arg;
	int64_t subs = 0;
	json_t *meta;

	w->rc = store_tx_topic_subscriptions(t->tx, w->id, &subs);
	if (w->rc == STORE_OK && subs > 0 && !w->force)
		w->rc = STORE_CONFLICT;
	if (w->rc == STORE_OK && subs > 0)
		w->rc = topic_delete_subs_recorded(t, w->id);
	if (w->rc == STORE_OK)
		w->rc = store_tx_topic_delete(t->tx, w->id);
	if (w->rc == STORE_OK) {
		meta = json_pack("{sI}", "subscriptions_deleted", (json_int_t)subs);
		w->rc = api_sysevent(t, "topic", "delete", w->name, meta);
		json_decref(meta);
	}
	return w->rc;
}

static void
topic_delete_reply(struct http_req *req, void *arg, int rc)
{
	struct topic_write *w = arg;

	if (rc == STORE_OK)
		http_reply(req, 204, NULL, NULL, 0);
	else if (w->rc == STORE_CONFLICT)
		http_reply_invalid_status(req, 409, "force", "topic %s has "
		    "subscriptions: delete them first, or add ?force=true",
		    w->name);
	else if (w->rc == STORE_NOTFOUND)
		http_reply_invalid_status(
		    req, 404, "name", "no topic named %s", w->name);
	else
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	topic_write_free(w);
}

void
api_topic_delete(struct http_req *req)
{
	const char *force = api_query(req, "force");
	struct topic_write *w;
	struct topic_row t;

	if (force != NULL && strcmp(force, "true") != 0 &&
	    strcmp(force, "false") != 0) {
		http_reply_invalid(req, "force", "must be true or false");
		return;
	}
	if (topic_load(req, &t) != 0)
		return;
	if (strcmp(t.name, "default") == 0 || t.name[0] == '$') {
		http_reply_invalid_status(req, 409, "name",
		    "topic %s is built in and cannot be deleted", t.name);
		topic_row_clear(&t);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->id = t.id;
	w->name = xstrdup(t.name);
	w->force = force != NULL && strcmp(force, "true") == 0;
	topic_row_clear(&t);
	api_write(req, topic_delete_apply, topic_delete_reply, w,
	    API_RELOAD_ALL);
}
