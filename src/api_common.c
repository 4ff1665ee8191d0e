/*
 * api_common.c: what the admin handlers share: query values (empty means
 * absent), list limits, unknown-field checks, and admin writes that run on
 * the store's writer with the connection suspended and the catalog
 * reloaded after the commit.
 *
 * Threads: HTTP threads; api_write's completion on the writer thread.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "dispatcher.h"
#include "http_server.h"
#include "log.h"
#include "route.h"
#include "store.h"
#include "sysevent.h"
#include "xmalloc.h"

const char *
api_query(struct http_req *req, const char *name)
{
	const char *v = http_req_query(req, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void
api_counts_live(struct app *app, int64_t sub_id, int64_t count[4])
{
	int64_t n = sub_id > 0 ? dispatcher_inflight(app->dispatcher, sub_id) :
	    dispatcher_inflight_total(app->dispatcher);

	if (n > count[DS_PENDING])
		n = count[DS_PENDING];
	count[DS_PENDING] -= n;
	count[DS_INFLIGHT] += n;
}

int
api_whole(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < 1)
		return -1;
	*out = v;
	return 0;
}

int
api_limit(struct http_req *req, int *limit)
{
	const char *s = api_query(req, "limit");
	int64_t v;

	*limit = 100;
	if (s == NULL)
		return 0;
	if (api_whole(s, 1000, &v) != 0) {
		http_reply_invalid(req, "limit",
		    "must be a whole number from 1 to 1000");
		return -1;
	}
	*limit = (int)v;
	return 0;
}

int
api_known_fields(struct http_req *req, json_t *obj,
    const char *const *fields)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; fields[i] != NULL; i++)
			if (strcmp(fields[i], key) == 0)
				break;
		if (fields[i] == NULL) {
			http_reply_invalid(req, key, "unknown field");
			return -1;
		}
	}
	return 0;
}

struct api_write_job {
	struct http_req *req;
	struct app *app;
	const char *actor;
	int (*apply)(struct api_tx *, void *);
	void (*reply)(struct http_req *, void *, int);
	void *arg;
	enum api_reload reload;
	int64_t changed_sub;
	struct route_hits hits;
};

static int
api_write_apply(struct store_tx *tx, void *arg)
{
	struct api_write_job *w = arg;
	struct api_tx t = { tx, w->app, w->actor, &w->hits, 0 };
	int rc = w->apply(&t, w->arg);

	if (rc != 0)
		route_hits_clear(&w->hits);
	w->changed_sub = t.changed_sub;
	return rc;
}

/*
 * Re-reads what the committed job changed, in the catalog and then in the
 * dispatcher (which holds no topics): all of it if the job did not say.
 */
static void
api_write_reload(struct api_write_job *w)
{
	struct catalog *c = w->app->catalog;
	int rc;

	if (w->reload == API_RELOAD_SUB && w->changed_sub > 0) {
		rc = catalog_reload_sub(c, w->changed_sub);
		dispatcher_reload_sub(w->app->dispatcher, w->changed_sub);
	} else if (w->reload == API_RELOAD_TOPICS)
		rc = catalog_reload_topics(c);
	else {
		rc = catalog_reload(c);
		dispatcher_reload(w->app->dispatcher);
	}
	if (rc != 0)
		log_error("api", "catalog: reload failed after a change");
}

static void
api_write_done(void *arg, int rc)
{
	struct api_write_job *w = arg;

	if (rc == STORE_OK) {
		if (w->reload != API_RELOAD_NONE)
			api_write_reload(w);
		api_wake(w->app, &w->hits);
	}
	route_hits_clear(&w->hits);
	w->reply(w->req, w->arg, rc);
	free(w);
}

int
api_sysevent(struct api_tx *t, const char *entity, const char *operation,
    const char *entity_id, json_t *metadata)
{
	struct sysevent se = { entity, operation, entity_id, t->actor,
		metadata };
	struct catalog_view *v = catalog_acquire(t->app->catalog);
	int rc = sysevent_record(t->tx, v, t->app->node, &se, t->hits);

	catalog_release(t->app->catalog, v);
	return rc;
}

void
api_wake(struct app *app, const struct route_hits *hits)
{
	size_t i;

	for (i = 0; i < hits->n; i++)
		dispatcher_wake(app->dispatcher, hits->ids[i]);
}

void
api_write(struct http_req *req, int (*apply)(struct api_tx *, void *),
    void (*reply)(struct http_req *, void *, int), void *arg,
    enum api_reload reload)
{
	struct api_write_job *w = xcalloc(1, sizeof *w);

	w->req = req;
	w->app = http_req_app(req);
	w->actor = http_req_actor(req);
	w->apply = apply;
	w->reply = reply;
	w->arg = arg;
	w->reload = reload;
	http_suspend(req);
	store_submit(w->app->store, api_write_apply, api_write_done, w, 1);
}
