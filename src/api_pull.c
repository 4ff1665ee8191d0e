/*
 * api_pull.c: pull delivery for subscriptions with delivery_method pull:
 * the endpoint leases messages (POST .../pull), then acknowledges them
 * (.../ack: delivered) or gives them back (.../nack: due again, an attempt
 * counted).  A lease that ends without either counts an attempt too (the
 * dispatcher's janitor expires it).  Allowed in pub_and_sub and sub_only.
 *
 * Threads: HTTP threads; the write jobs on the store's writer.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "api.h"
#include "app.h"
#include "catalog.h"
#include "cloudevent.h"
#include "dispatcher.h"
#include "fmt.h"
#include "http_server.h"
#include "jsonscan.h"
#include "route.h"
#include "store.h"
#include "subscription.h"
#include "sysevent.h"
#include "xmalloc.h"

struct pull {
	int64_t sub_id;
	int64_t max_attempts;
	int64_t max;		/* pull: most messages to lease */
	int64_t lease_ms;
	int64_t lease_until;
	struct due_row *rows;	/* candidates */
	size_t n;
	char (*receipts)[48];	/* one per candidate */
	int *leased;		/* which candidates this request got */
	char **given;		/* ack/nack: the receipts sent */
	size_t ngiven;
	int *found;		/* ack/nack: which of them were current */
	int ok;			/* ack (1) or nack (0) */
	int rc;
};

static void
pull_free(struct pull *p)
{
	size_t i;

	due_rows_free(p->rows, p->n);
	free(p->receipts);
	free(p->leased);
	for (i = 0; i < p->ngiven; i++)
		free(p->given[i]);
	free(p->given);
	free(p->found);
	free(p);
}

/* The pull subscription of the path; replies 404/409 if it is not one. */
static const struct sub *
pull_sub(struct http_req *req, struct catalog_view *v)
{
	const struct sub *s;
	int64_t id;

	if (api_sub_id(req, &id) != 0)
		return NULL;
	if ((s = catalog_sub(v, id)) == NULL) {
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)id);
		return NULL;
	}
	if (!s->pull) {
		http_reply_invalid_status(req, 409, "delivery_method",
		    "subscription %lld "
		    "is delivery_method notify: sluice pushes its messages",
		    (long long)id);
		return NULL;
	}
	if (!sub_state_delivers(s->state)) {
		http_reply_invalid_status(req, 409, "state",
		    "subscription %lld "
		    "is %s: pulling needs pub_and_sub or sub_only",
		    (long long)id, sub_state_name(s->state));
		return NULL;
	}
	return s;
}

static int
pull_int(struct http_req *req, json_t *body, const char *name, int64_t def,
    int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(body, name);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		http_reply_invalid(req, name, "must be a whole number from "
		    "%lld to %lld", (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* A receipt names the message and cannot be guessed: msg.random. */
static void
pull_receipt(char out[48], int64_t msg)
{
	unsigned char rnd[8];

	fmt_msg(msg, out);
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		abort(); /* no randomness: a broken host */
	snprintf(out + FMT_MSG_LEN - 1, 48 - FMT_MSG_LEN + 1,
	    ".%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

/*
 * Writer thread: the due messages are read and leased in one job, so
 * concurrent pulls never see the same candidates.
 */
static int
pull_apply(struct api_tx *t, void *arg)
{
	struct pull *p = arg;
	size_t i;

	p->lease_until = store_tx_now(t->tx) + p->lease_ms;
	p->rc = store_tx_due(t->tx, p->sub_id, (int)p->max, &p->rows, &p->n);
	if (p->rc != STORE_OK)
		return p->rc;
	p->receipts = xcalloc(p->n + 1, sizeof *p->receipts);
	p->leased = xcalloc(p->n + 1, sizeof *p->leased);
	for (i = 0; i < p->n; i++) {
		pull_receipt(p->receipts[i], p->rows[i].msg);
		p->rc = store_tx_lease(t->tx, p->sub_id, p->rows[i].msg,
		    p->lease_until, p->receipts[i], &p->leased[i]);
		if (p->rc != STORE_OK)
			return p->rc;
	}
	return STORE_OK;
}

static void
pull_reply(struct http_req *req, void *arg, int rc)
{
	struct pull *p = arg;
	struct cloudevent *ev;
	char msg[FMT_MSG_LEN], when[FMT_TIME_LEN];
	struct buf b;
	size_t i;
	int first = 1;

	if (rc != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		pull_free(p);
		return;
	}
	dispatcher_lease(http_req_app(req)->dispatcher, p->lease_until);
	fmt_time(p->lease_until, when);
	buf_init(&b, 0);
	buf_addstr(&b, "{\"items\":[");
	for (i = 0; i < p->n; i++) {
		if (!p->leased[i])
			continue;
		ev = cloudevent_from_stored(p->rows[i].ev.attrs,
		    (enum ce_data_kind)p->rows[i].ev.kind, p->rows[i].ev.data,
		    p->rows[i].ev.data_len);
		fmt_msg(p->rows[i].msg, msg);
		buf_printf(&b, "%s{\"msg\":\"%s\",\"receipt\":\"%s\","
		    "\"lease_until\":\"%s\",\"attempts\":%lld,\"event\":",
		    first ? "" : ",", msg, p->receipts[i], when,
		    (long long)p->rows[i].attempts);
		if (ev != NULL)
			cloudevent_write_json(ev, 1, &b);
		else
			buf_addstr(&b, "null");
		buf_addstr(&b, "}");
		cloudevent_free(ev);
		first = 0;
	}
	/* not paged (each pull leases the next ones), but shaped as a list */
	buf_addstr(&b, "],\"next_cursor\":null}");
	http_reply_buf(req, 200, &b);
	pull_free(p);
}

void
api_sub_pull(struct http_req *req)
{
	static const char *const fields[] = { "max", "lease_ms", NULL };
	struct app *app = http_req_app(req);
	struct catalog_view *v = catalog_acquire(app->catalog);
	const struct sub *s = pull_sub(req, v);
	struct pull *p = NULL;
	json_t *body = NULL;
	int64_t max, lease_ms;
	size_t len;

	if (s == NULL)
		goto done;
	http_req_body(req, &len);
	if (len > 0 && ((body = http_req_json(req)) == NULL ||
	    api_known_fields(req, body, fields) != 0))
		goto done;
	if (pull_int(req, body, "max", 10, 1, 1000, &max) != 0 ||
	    pull_int(req, body, "lease_ms", 30000, 1000, 3600000,
		&lease_ms) != 0)
		goto done;
	p = xcalloc(1, sizeof *p);
	p->sub_id = s->id;
	p->max = max;
	p->lease_ms = lease_ms;
	api_write(req, pull_apply, pull_reply, p, API_RELOAD_NONE);
	p = NULL;
done:
	if (p != NULL)
		pull_free(p);
	json_decref(body);
	catalog_release(app->catalog, v);
}

/* ---- ack and nack -------------------------------------------------- */

static int
receipt_apply(struct api_tx *t, void *arg)
{
	struct pull *p = arg;
	struct attempt_in a = { 0 };
	int64_t sub_id, msg;
	char id[32], msgid[FMT_MSG_LEN];
	json_t *meta;
	size_t i;
	int dead, settled = 0;

	for (i = 0; i < p->ngiven; i++) {
		p->rc = store_tx_receipt(t->tx, p->given[i], &sub_id, &msg);
		if (p->rc == STORE_NOTFOUND || (p->rc == STORE_OK &&
		    sub_id != p->sub_id))
			continue;
		if (p->rc != STORE_OK)
			return p->rc;
		a.sub_id = sub_id;
		a.msg = msg;
		a.started_at = store_tx_now(t->tx);
		a.outcome = p->ok ? "ok" : "nack";
		a.max_attempts = p->max_attempts;
		a.next_attempt_at = store_tx_now(t->tx);
		if ((p->rc = store_tx_attempt(t->tx, &a, &dead)) != STORE_OK)
			return p->rc;
		p->found[i] = 1;
		settled = 1;
		if (!dead)
			continue;
		snprintf(id, sizeof id, "%lld", (long long)sub_id);
		fmt_msg(msg, msgid);
		/* dead: its attempts reached max_attempts */
		meta = json_pack("{sssIss}", "msg", msgid, "attempts",
		    (json_int_t)p->max_attempts, "last_error", "nack");
		p->rc = api_sysevent(t, "delivery", "dead", id, meta);
		json_decref(meta);
		if (p->rc != STORE_OK)
			return p->rc;
	}
	/* the subscription's status, once for all the receipts settled */
	p->rc = settled ? store_tx_sub_pulled(t->tx, p->sub_id, p->ok ? NULL :
	    "nack") : STORE_OK;
	return p->rc;
}

static void
receipt_reply(struct http_req *req, void *arg, int rc)
{
	struct pull *p = arg;
	json_t *unknown, *o;
	size_t i, n = 0;

	if (rc != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		pull_free(p);
		return;
	}
	unknown = json_array();
	for (i = 0; i < p->ngiven; i++) {
		if (p->found[i])
			n++;
		else
			json_array_append_new(unknown, json_string(p->given[i]));
	}
	if (!p->ok)
		dispatcher_wake(http_req_app(req)->dispatcher, p->sub_id);
	o = json_pack("{sIso}", p->ok ? "acked" : "nacked", (json_int_t)n,
	    "unknown", unknown);
	http_reply_json(req, 200, o);
	pull_free(p);
}

static void
receipt_action(struct http_req *req, int ok)
{
	static const char *const fields[] = { "receipts", NULL };
	struct app *app = http_req_app(req);
	struct catalog_view *v = catalog_acquire(app->catalog);
	const struct sub *s = pull_sub(req, v);
	struct pull *p = NULL;
	json_t *body = NULL, *list, *r;
	size_t i;

	if (s == NULL || (body = http_req_json(req)) == NULL ||
	    api_known_fields(req, body, fields) != 0)
		goto done;
	list = json_object_get(body, "receipts");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > 1000) {
		http_reply_invalid(req, "receipts", "must be a list of 1 to "
		    "1000 receipts from pull");
		goto done;
	}
	p = xcalloc(1, sizeof *p);
	p->sub_id = s->id;
	p->max_attempts = s->max_attempts;
	p->ok = ok;
	p->given = xcalloc(json_array_size(list), sizeof *p->given);
	p->found = xcalloc(json_array_size(list), sizeof *p->found);
	json_array_foreach(list, i, r) {
		if (!json_is_string(r) || json_string_length(r) > 64) {
			http_reply_invalid(req, "receipts", "item %zu is not a "
			    "receipt", i);
			goto done;
		}
		p->given[p->ngiven++] = xstrdup(json_string_value(r));
	}
	api_write(req, receipt_apply, receipt_reply, p, API_RELOAD_NONE);
	p = NULL;
done:
	if (p != NULL)
		pull_free(p);
	json_decref(body);
	catalog_release(app->catalog, v);
}

void
api_sub_ack(struct http_req *req)
{
	receipt_action(req, 1);
}

void
api_sub_nack(struct http_req *req)
{
	receipt_action(req, 0);
}
