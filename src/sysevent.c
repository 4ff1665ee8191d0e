/*
 * sysevent.c: records an operation in appevent and publishes it into $sys
 * as a CloudEvent like any other: stored, counted in the type catalog and
 * routed to the subscriptions of $sys.
 *
 * Threads: the store's writer thread.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "catalog.h"
#include "dispatcher.h"
#include "cloudevent.h"
#include "fmt.h"
#include "route.h"
#include "store.h"
#include "sysevent.h"
#include "xmalloc.h"

static void
sysevent_attr(struct cloudevent *ev, const char *name, const char *value)
{
	struct ce_attr *a;

	ev->attrs = xrealloc(ev->attrs, (ev->nattrs + 1) * sizeof *ev->attrs);
	a = &ev->attrs[ev->nattrs++];
	a->name = xstrdup(name);
	a->type = CE_VALUE_STRING;
	a->value = xstrdup(value);
}

/* The CloudEvent of an operation (appevent row id). */
static struct cloudevent *
sysevent_event(const char *node, const struct sysevent *se, int64_t id,
    int64_t now, const char *metadata)
{
	struct cloudevent *ev = xcalloc(1, sizeof *ev);
	char when[FMT_TIME_LEN], *s;
	json_t *data;

	sysevent_attr(ev, "specversion", "1.0");
	s = xasprintf("%s-%lld", node, (long long)id);
	sysevent_attr(ev, "id", s);
	free(s);
	s = xasprintf("/sluice/%s", node);
	sysevent_attr(ev, "source", s);
	free(s);
	s = xasprintf("io.sluice.%s.%s", se->entity, se->operation);
	sysevent_attr(ev, "type", s);
	free(s);
	fmt_time(now, when);
	sysevent_attr(ev, "time", when);
	if (se->entity_id != NULL)
		sysevent_attr(ev, "subject", se->entity_id);
	sysevent_attr(ev, "datacontenttype", "application/json");
	data = json_object();
	json_object_set_new(data, "operation", json_sprintf("%s.%s",
	    se->entity, se->operation));
	json_object_set_new(data, "entity", json_string(se->entity));
	json_object_set_new(data, "entity_id", se->entity_id ?
	    json_string(se->entity_id) : json_null());
	json_object_set_new(data, "actor", json_string(se->actor));
	json_object_set_new(data, "metadata", json_loads(metadata, 0, NULL));
	s = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	ev->kind = CE_DATA_JSON;
	ev->data = (unsigned char *)s;
	ev->data_len = strlen(s);
	return ev;
}

int
sysevent_record(struct store_tx *tx, const struct catalog_view *v,
    const char *node, const struct sysevent *se, struct route_hits *hits)
{
	const struct catalog_topic *sys = catalog_topic(v, "$sys");
	struct cloudevent *ev = NULL;
	struct event_in in;
	char *metadata, *op;
	int64_t id, msg;
	struct buf attrs;
	int rc;

	metadata = se->metadata ? json_dumps(se->metadata, JSON_COMPACT) :
	    xstrdup("{}");
	op = xasprintf("%s.%s", se->entity, se->operation);
	rc = store_tx_appevent_insert(tx, op, se->entity, se->entity_id,
	    se->actor, metadata, &id);
	if (rc != STORE_OK || sys == NULL)
		goto done;
	ev = sysevent_event(node, se, id, store_tx_now(tx), metadata);
	buf_init(&attrs, 0);
	cloudevent_write_json(ev, 0, &attrs);
	in.ce_id = cloudevent_get(ev, "id");
	in.source = cloudevent_get(ev, "source");
	in.type = cloudevent_get(ev, "type");
	in.attrs = attrs.data;
	in.kind = ev->kind;
	in.data = ev->data;
	in.data_len = ev->data_len;
	rc = store_tx_event_insert(tx, sys->id, &in, &msg);
	if (rc == STORE_OK) {
		store_tx_eventtype_touch(tx, sys->id, in.type, in.source, msg);
		rc = route_event(tx, v, sys->id, ev, msg, hits);
	} else if (rc == STORE_CONFLICT)
		rc = STORE_OK; /* an id reused after a restore: keep the row */
	buf_free(&attrs);
done:
	cloudevent_free(ev);
	free(metadata);
	free(op);
	return rc;
}

struct sysevent_job {
	struct app *app;
	const struct sysevent *se;
	struct route_hits hits;
};

static int
sysevent_job_apply(struct store_tx *tx, void *arg)
{
	struct sysevent_job *j = arg;
	struct catalog_view *v = catalog_acquire(j->app->catalog);
	int rc = sysevent_record(tx, v, j->app->node, j->se, &j->hits);

	catalog_release(j->app->catalog, v);
	return rc;
}

int
sysevent_emit(struct app *app, const struct sysevent *se)
{
	struct sysevent_job j = { app, se, { NULL, 0 } };
	size_t i;
	int rc;

	rc = store_run(app->store, sysevent_job_apply, &j, 0);
	for (i = 0; rc == STORE_OK && i < j.hits.n; i++)
		dispatcher_wake(app->dispatcher, j.hits.ids[i]);
	route_hits_clear(&j.hits);
	return rc == STORE_OK ? 0 : -1;
}
