/*
 * api_subscriptions.c: /api/v1/subscriptions: list, create, read, update
 * (PATCH changes only the fields given), delete.  Fields and their rules
 * live in subscription.c; this file maps them to HTTP.  Reads come from
 * the catalog (in memory) plus live queue counts from the store.
 *
 * Threads: HTTP threads; write jobs on the store's writer.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "config.h"
#include "fmt.h"
#include "http_server.h"
#include "secretbox.h"
#include "store.h"
#include "subscription.h"
#include "xmalloc.h"

static json_t *
api_time_or_null(int64_t ms)
{
	char when[FMT_TIME_LEN];

	if (ms <= 0)
		return json_null();
	fmt_time(ms, when);
	return json_string(when);
}

/* The subscription's live status: pause, queue counts, last outcomes. */
static json_t *
sub_status_json(struct app *app, const struct sub *s)
{
	static const char *const validation[] = { "refused", "none", "allowed" };
	struct sub_status st;
	json_t *o, *q;
	int64_t now = fmt_now_ms();
	int i, paused;

	if (store_sub_status(app->store, s->id, 1, &st) != STORE_OK)
		return json_null();
	paused = st.paused_until > now;
	api_counts_live(app, s->id, st.count);
	o = json_object();
	json_object_set_new(o, "paused", json_boolean(paused));
	json_object_set_new(o, "paused_until", paused &&
	    st.paused_until != INT64_MAX ? api_time_or_null(st.paused_until) :
	    json_null());
	json_object_set_new(o, "pause_reason", paused && st.pause_reason ?
	    json_string(st.pause_reason) : json_null());
	q = json_object();
	for (i = 0; i < 4; i++)
		json_object_set_new(q, delivery_state_names[i],
		    json_integer(st.count[i]));
	json_object_set_new(o, "queue", q);
	json_object_set_new(o, "consecutive_failures",
	    json_integer(st.failures));
	json_object_set_new(o, "last_error", st.last_error ?
	    json_string(st.last_error) : json_null());
	json_object_set_new(o, "last_error_at",
	    api_time_or_null(st.last_error_at));
	json_object_set_new(o, "last_success_at",
	    api_time_or_null(st.last_success_at));
	json_object_set_new(o, "validation", json_string(
	    validation[st.validated < 0 ? 0 : st.validated > 0 ? 2 : 1]));
	json_object_set_new(o, "allowed_rate", st.validated > 0 &&
	    st.allowed_rate > 0 ? json_integer(st.allowed_rate) : json_null());
	sub_status_clear(&st);
	return o;
}

json_t *
api_sub_json(struct app *app, const struct sub *s)
{
	json_t *o = sub_to_json(s);

	json_object_set_new(o, "created_at", api_time_or_null(s->created_at));
	json_object_set_new(o, "updated_at", api_time_or_null(s->updated_at));
	json_object_set_new(o, "previous_secret_until",
	    sub_previous_secret(s, fmt_now_ms()) != NULL ?
	    api_time_or_null(s->previous_secret_until) : json_null());
	json_object_set_new(o, "status", sub_status_json(app, s));
	return o;
}

/* Parses the {id} of the path; replies 404 if it is not one. */
int
api_sub_id(struct http_req *req, int64_t *id)
{
	const char *p = http_req_param(req, 0);

	if (api_whole(p, INT64_MAX, id) != 0) {
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %s", p);
		return -1;
	}
	return 0;
}

void
api_subs_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	const char *topic = api_query(req, "topic");
	const char *cursor = api_query(req, "cursor");
	struct catalog_view *v;
	json_t *items, *page;
	int64_t after = 0;
	size_t i;
	int limit, n = 0, more = 0;

	if (api_limit(req, &limit) != 0)
		return;
	/* a cursor is the last id of the page before */
	if (cursor != NULL && api_whole(cursor, INT64_MAX - 1, &after) != 0) {
		http_reply_invalid(req, "cursor", "not a cursor from this list");
		return;
	}
	v = catalog_acquire(app->catalog);
	if (topic != NULL && catalog_topic(v, topic) == NULL) {
		catalog_release(app->catalog, v);
		http_reply_invalid_status(
		    req, 404, "topic", "no topic named %s", topic);
		return;
	}
	items = json_array();
	for (i = catalog_sub_from(v, after + 1); i < v->nsubs && n < limit;
	    i++) {
		const struct sub *s = v->by_id[i];

		if (topic != NULL && strcmp(s->topic, topic) != 0)
			continue;
		json_array_append_new(items, api_sub_json(app, s));
		after = s->id;
		n++;
	}
	/* a full page has a next one only if a matching subscription follows */
	for (more = 0; n == limit && i < v->nsubs && !more; i++)
		more = topic == NULL || strcmp(v->by_id[i]->topic, topic) == 0;
	page = json_object();
	json_object_set_new(page, "items", items);
	json_object_set_new(page, "next_cursor", more ?
	    json_sprintf("%lld", (long long)after) : json_null());
	catalog_release(app->catalog, v);
	http_reply_json(req, 200, page);
}

/* A subscription write and what came of it. */
struct sub_write {
	struct sub *sub;	/* the new form (create, update) */
	char *changed;		/* update: the fields given, for the event */
	json_t *body;		/* update: the PATCH, applied in the job */
	char *field, *cause;	/* update: why the job refused it */
	int64_t id;
	int rc;			/* STORE_* or SUB_W_* */
};

/* Outcomes of an update job besides STORE_*. */
#define SUB_W_INVALID 100	/* the PATCH is refused: field, cause */
#define SUB_W_BROKEN 101	/* the stored row does not load: cause */

static void
sub_write_free(struct sub_write *w)
{
	sub_free(w->sub);
	free(w->changed);
	json_decref(w->body);
	free(w->field);
	free(w->cause);
	free(w);
}

/* The row to store; *spec and r->secret (sealed) are the caller's. */
static void
sub_row_of(struct app *app, const struct sub *s, struct sub_row *r,
    char **spec)
{
	memset(r, 0, sizeof *r);
	*spec = sub_spec(s);
	r->id = s->id;
	r->topic_id = s->topic_id;
	r->name = s->name;
	r->state = (char *)sub_state_name(s->state);
	r->spec = *spec;
	r->secret = s->secret ? secretbox_seal(app->secrets, s->secret) : NULL;
}

static int
sub_create_apply(struct api_tx *t, void *arg)
{
	struct sub_write *w = arg;
	struct sub_row r;
	char *spec, id[32];
	json_t *meta;

	sub_row_of(t->app, w->sub, &r, &spec);
	w->rc = store_tx_sub_insert(t->tx, &r, &w->id);
	free(spec);
	free(r.secret);
	if (w->rc == STORE_OK) {
		t->changed_sub = w->id;
		snprintf(id, sizeof id, "%lld", (long long)w->id);
		meta = json_pack("{ssss}", "topic", w->sub->topic, "name",
		    w->sub->name);
		w->rc = api_sysevent(t, "subscription", "create", id, meta);
		json_decref(meta);
	}
	return w->rc;
}

/* Answers with the subscription as the catalog now has it. */
static void
sub_reply(struct http_req *req, int64_t id, unsigned status)
{
	struct app *app = http_req_app(req);
	struct catalog_view *v = catalog_acquire(app->catalog);
	const struct sub *s = catalog_sub(v, id);
	char *loc;

	if (s == NULL)
		http_reply_problem(req, 503, NULL, NULL,
		    "the subscription was stored but could not be loaded");
	else {
		if (status == 201) {
			loc = xasprintf("/api/v1/subscriptions/%lld",
			    (long long)id);
			http_reply_header(req, MHD_HTTP_HEADER_LOCATION, loc);
			free(loc);
		}
		http_reply_json(req, status, api_sub_json(app, s));
	}
	catalog_release(app->catalog, v);
}

static void
sub_write_reply(struct http_req *req, void *arg, int rc)
{
	struct sub_write *w = arg;

	if (rc == STORE_OK)
		sub_reply(req, w->id, w->changed ? 200 : 201);
	else if (w->rc == SUB_W_INVALID)
		http_reply_invalid(req, w->field, "%s", w->cause);
	else if (w->rc == SUB_W_BROKEN)
		http_reply_problem(req, 500, NULL, NULL, "subscription %lld: %s",
		    (long long)w->id, w->cause);
	else if (w->rc == STORE_CONFLICT)	/* the topic's foreign key */
		http_reply_invalid(req, "topic", "no topic named %s (it was "
		    "just deleted)", w->sub->topic);
	else if (w->rc == STORE_NOTFOUND)
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)w->id);
	else
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	sub_write_free(w);
}

/* Applies body to s; replies 400 naming the field if it is refused. */
static int
sub_apply(struct http_req *req, struct sub *s, json_t *body, int create)
{
	char *field, *cause;

	if (sub_apply_json(s, body, create, &field, &cause) == 0)
		return 0;
	http_reply_invalid(req, field, "%s", cause);
	free(field);
	free(cause);
	return -1;
}

void
api_subs_create(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct catalog_view *v;
	const struct catalog_topic *t;
	struct sub_write *w;
	json_t *body;

	if ((body = http_req_json(req)) == NULL)
		return;
	w = xcalloc(1, sizeof *w);
	w->sub = sub_new();
	if (sub_apply(req, w->sub, body, 1) != 0) {
		sub_write_free(w);
		json_decref(body);
		return;
	}
	json_decref(body);
	v = catalog_acquire(app->catalog);
	t = catalog_topic(v, w->sub->topic);
	if (t != NULL)
		w->sub->topic_id = t->id;
	catalog_release(app->catalog, v);
	if (w->sub->topic_id == 0) {
		http_reply_invalid(req, "topic", "no topic named %s",
		    w->sub->topic);
		sub_write_free(w);
		return;
	}
	api_write(req, sub_create_apply, sub_write_reply, w, API_RELOAD_SUB);
}

void
api_sub_get(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct catalog_view *v;
	const struct sub *s;
	int64_t id;

	if (api_sub_id(req, &id) != 0)
		return;
	v = catalog_acquire(app->catalog);
	if ((s = catalog_sub(v, id)) == NULL)
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)id);
	else
		http_reply_json(req, 200, api_sub_json(app, s));
	catalog_release(app->catalog, v);
}

/*
 * The stored row as a struct sub that can be changed (takes over r's
 * strings; the caller still clears r).  NULL and *cause if it does not
 * load.
 */
static struct sub *
sub_of_row(struct app *app, struct sub_row *r, char **cause)
{
	struct sub *s;

	if ((s = sub_load(r->spec, cause)) == NULL)
		return NULL;
	s->id = r->id;
	s->topic_id = r->topic_id;
	free(s->topic);
	free(s->name);
	s->topic = r->topic;
	s->name = r->name;
	r->topic = r->name = NULL;
	if (r->secret != NULL && (s->secret = secretbox_unseal(app->secrets,
	    r->secret)) == NULL) {
		*cause = xstrdup("its secret does not open with this key file");
		sub_free(s);
		return NULL;
	}
	if (sub_state_parse(r->state, &s->state) != 0)
		s->state = SUB_DISABLED;
	return s;
}

/* Loads the stored subscription; replies 404/500/503 if it can't. */
static struct sub *
sub_load_row(struct http_req *req, int64_t id)
{
	struct sub_row r;
	struct sub *s;
	char *cause = NULL;
	int rc = store_sub_get(http_req_app(req)->store, id, &r);

	if (rc == STORE_NOTFOUND) {
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)id);
		return NULL;
	}
	if (rc != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL,
		    "storage unavailable (subscription %lld)", (long long)id);
		return NULL;
	}
	if ((s = sub_of_row(http_req_app(req), &r, &cause)) == NULL)
		http_reply_problem(req, 500, NULL, NULL, "subscription %lld "
		    "does not load: %s", (long long)id, cause);
	free(cause);
	sub_row_clear(&r);
	return s;
}

/*
 * The previous secret to store with r (sealed, r's to free): a secret
 * replaced by another signs beside it for secret_rotation_grace; with no
 * secret there is none; else the stored one (was_row) stays while it
 * lasts.  was is the secret before the change.
 */
static void
sub_row_previous(struct api_tx *t, const char *was, const struct sub *s,
    struct sub_row *was_row, struct sub_row *r)
{
	int64_t now = store_tx_now(t->tx);

	if (s->secret == NULL)
		return;
	if (was != NULL && strcmp(was, s->secret) != 0) {
		if (t->app->cfg->secret_rotation_grace > 0) {
			r->previous_secret = secretbox_seal(t->app->secrets,
			    was);
			r->previous_secret_until = now +
			    t->app->cfg->secret_rotation_grace;
		}
	} else if (was_row->previous_secret_until > now) {
		r->previous_secret = was_row->previous_secret;
		r->previous_secret_until = was_row->previous_secret_until;
		was_row->previous_secret = NULL;
	}
}

/*
 * Applies the PATCH to the row as the job reads it, so that PATCHes in
 * flight at the same time each keep the fields the other changed.
 */
static int
sub_update_apply(struct api_tx *t, void *arg)
{
	struct sub_write *w = arg;
	struct sub_row r, was_row;
	char *spec, *was, id[32];
	json_t *meta;

	if ((w->rc = store_tx_sub_get(t->tx, w->id, &was_row)) != STORE_OK)
		return w->rc;
	sub_free(w->sub);
	w->sub = sub_of_row(t->app, &was_row, &w->cause);
	if (w->sub == NULL) {
		sub_row_clear(&was_row);
		return w->rc = SUB_W_BROKEN;
	}
	was = w->sub->secret != NULL ? xstrdup(w->sub->secret) : NULL;
	if (sub_apply_json(w->sub, w->body, 0, &w->field, &w->cause) != 0) {
		free(was);
		sub_row_clear(&was_row);
		return w->rc = SUB_W_INVALID;
	}
	sub_row_of(t->app, w->sub, &r, &spec);
	sub_row_previous(t, was, w->sub, &was_row, &r);
	free(was);
	sub_row_clear(&was_row);
	w->rc = store_tx_sub_update(t->tx, &r);
	free(spec);
	free(r.secret);
	free(r.previous_secret);
	if (w->rc == STORE_OK) {
		t->changed_sub = w->id;
		snprintf(id, sizeof id, "%lld", (long long)w->id);
		meta = json_pack("{ssss}", "fields", w->changed, "state",
		    sub_state_name(w->sub->state));
		w->rc = api_sysevent(t, "subscription", "update", id, meta);
		json_decref(meta);
	}
	return w->rc;
}

void
api_sub_update(struct http_req *req)
{
	struct sub_write *w;
	struct buf changed;
	const char *key;
	json_t *body, *val;
	int64_t id;

	if (api_sub_id(req, &id) != 0 || (body = http_req_json(req)) == NULL)
		return;
	w = xcalloc(1, sizeof *w);
	w->id = id;
	if ((w->sub = sub_load_row(req, id)) == NULL ||
	    sub_apply(req, w->sub, body, 0) != 0) {
		sub_write_free(w);
		json_decref(body);
		return;
	}
	buf_init(&changed, 0);
	json_object_foreach(body, key, val)
		buf_printf(&changed, "%s%s", changed.len ? "," : "", key);
	w->changed = buf_take(&changed, NULL);
	/* checked here for a quick 400; applied again in the job */
	w->body = body;
	api_write(req, sub_update_apply, sub_write_reply, w, API_RELOAD_SUB);
}

static int
sub_delete_apply(struct api_tx *t, void *arg)
{
	struct sub_write *w = arg;
	char id[32];

	w->rc = store_tx_sub_delete(t->tx, w->id);
	if (w->rc == STORE_OK) {
		t->changed_sub = w->id;
		snprintf(id, sizeof id, "%lld", (long long)w->id);
		w->rc = api_sysevent(t, "subscription", "delete", id, NULL);
	}
	return w->rc;
}

static void
sub_delete_reply(struct http_req *req, void *arg, int rc)
{
	struct sub_write *w = arg;

	if (rc == STORE_OK)
		http_reply(req, 204, NULL, NULL, 0);
	else if (w->rc == STORE_NOTFOUND)
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)w->id);
	else
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
	sub_write_free(w);
}

void
api_sub_delete(struct http_req *req)
{
	struct sub_write *w;
	int64_t id;

	if (api_sub_id(req, &id) != 0)
		return;
	w = xcalloc(1, sizeof *w);
	w->id = id;
	api_write(req, sub_delete_apply, sub_delete_reply, w,
	    API_RELOAD_SUB);
}
