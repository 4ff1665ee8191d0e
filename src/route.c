/*
 * route.c: fan-out of an accepted event to the subscriptions of its topic.
 * Subscriptions and their compiled filters come from the catalog view, so
 * routing reads no SQL; each match is one delivery row, written in the
 * event's own transaction.
 *
 * Threads: the store's writer thread.
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "catalog.h"
#include "cloudevent.h"
#include "filter.h"
#include "route.h"
#include "store.h"
#include "subscription.h"
#include "xmalloc.h"

void
route_hits_add(struct route_hits *h, int64_t id)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->ids[i] == id)
			return;
	h->ids = xrealloc(h->ids, (h->n + 1) * sizeof *h->ids);
	h->ids[h->n++] = id;
}

void
route_hits_clear(struct route_hits *h)
{
	free(h->ids);
	h->ids = NULL;
	h->n = 0;
}

int
route_event(struct store_tx *tx, const struct catalog_view *v,
    int64_t topic_id, const struct cloudevent *ev, int64_t msg,
    struct route_hits *hits)
{
	struct sub *const *subs;
	struct buf why;
	size_t n, i;
	int rc = STORE_OK;

	subs = catalog_topic_subs(v, topic_id, &n);
	buf_init(&why, 0);
	for (i = 0; i < n && rc == STORE_OK; i++) {
		if (!sub_state_queues(subs[i]->state))
			continue;
		buf_reset(&why);
		if (!filter_match(subs[i]->filter, ev, &why))
			continue;
		rc = store_tx_delivery_insert(tx, subs[i]->id, msg,
		    why.data ? why.data : "");
		if (rc == STORE_OK && hits != NULL)
			route_hits_add(hits, subs[i]->id);
	}
	buf_free(&why);
	return rc;
}
