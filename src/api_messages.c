/*
 * api_messages.c: a subscription's queue: browsing messages by state with
 * a cursor and a prefix search, one message with its attempts, and the
 * actions pause, resume, retry and purge (each a system event).
 *
 * Threads: HTTP threads; write jobs on the store's writer.
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
#include "subscription.h"
#include "xmalloc.h"

/* Checks that the subscription of the path exists; replies 404 if not. */
static int
msg_sub(struct http_req *req, int64_t *id)
{
	struct app *app = http_req_app(req);
	struct catalog_view *v;
	int found;

	if (api_sub_id(req, id) != 0)
		return -1;
	v = catalog_acquire(app->catalog);
	found = catalog_sub(v, *id) != NULL;
	catalog_release(app->catalog, v);
	if (!found)
		http_reply_invalid_status(
		    req, 404, "id", "no subscription %lld", (long long)*id);
	return found ? 0 : -1;
}

static int
msg_state(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < 4; i++)
		if (strcmp(s, delivery_state_names[i]) == 0)
			return i;
	return -1;
}

static void
msg_time(struct buf *b, const char *name, int64_t ms)
{
	char when[FMT_TIME_LEN];

	if (ms <= 0) {
		buf_printf(b, ",\"%s\":null", name);
		return;
	}
	fmt_time(ms, when);
	buf_printf(b, ",\"%s\":\"%s\"", name, when);
}

static void
msg_str(struct buf *b, const char *name, const char *v, size_t len)
{
	buf_printf(b, ",\"%s\":", name);
	if (v == NULL)
		buf_addstr(b, "null");
	else
		json_quote(b, v, len);
}

/* The queue fields of a message, without braces. */
static void
msg_delivery(struct buf *b, const struct message_row *m)
{
	buf_printf(b, "\"state\":\"%s\",\"attempts\":%lld",
	    delivery_state_names[m->state], (long long)m->attempts);
	msg_time(b, "next_attempt_at", m->state == DS_PENDING ?
	    (m->next_attempt_at > 0 ? m->next_attempt_at : m->received_at) : 0);
	if (m->last_status > 0)
		buf_printf(b, ",\"last_status\":%lld", (long long)m->last_status);
	else
		buf_addstr(b, ",\"last_status\":null");
	msg_str(b, "last_error", m->last_error,
	    m->last_error ? strlen(m->last_error) : 0);
	msg_time(b, "updated_at", m->updated_at);
}

/*
 * The prefix as text: its valid UTF-8 part as is (a multi-byte character
 * cut at byte 64 is dropped); binary prefixes with bytes as \xNN.
 */
static void
msg_prefix(struct buf *b, const struct message_row *m)
{
	size_t n = m->prefix_len, i;
	struct buf t;

	if (m->prefix == NULL) {
		buf_addstr(b, ",\"prefix\":null");
		return;
	}
	while (n > 0 && m->prefix_len - n < 4 &&
	    !cloudevent_valid_utf8(m->prefix, n))
		n--;
	if (cloudevent_valid_utf8(m->prefix, n)) {
		msg_str(b, "prefix", (const char *)m->prefix, n);
		return;
	}
	buf_init(&t, 0);
	for (i = 0; i < m->prefix_len; i++) {
		if (m->prefix[i] >= 0x20 && m->prefix[i] < 0x7f)
			buf_printf(&t, "%c", m->prefix[i]);
		else
			buf_printf(&t, "\\x%02x", m->prefix[i]);
	}
	msg_str(b, "prefix", t.data, t.len);
	buf_free(&t);
}

void
api_messages_list(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct message_query q = { 0 };
	const char *state = api_query(req, "state");
	const char *cursor = api_query(req, "cursor");
	struct message_row *rows;
	int64_t *flight;
	char msg[FMT_MSG_LEN];
	struct buf b;
	size_t n, nrows, i;
	int rc;

	if (msg_sub(req, &q.sub_id) != 0 || api_limit(req, &q.limit) != 0)
		return;
	q.state = -1;
	if (state != NULL && (q.state = msg_state(state)) < 0) {
		http_reply_invalid(req, "state",
		    "must be pending, inflight, delivered or dead");
		return;
	}
	if (cursor != NULL && fmt_msg_parse(cursor, &q.after) != 0) {
		http_reply_invalid(req, "cursor", "not a cursor from this list");
		return;
	}
	q.q = api_query(req, "q");
	if (q.q != NULL && strlen(q.q) > 64) {
		http_reply_invalid(req, "q", "the prefix is 64 bytes: search "
		    "for at most 64");
		return;
	}
	/* one more than asked for tells whether this is the last page */
	q.limit++;
	q.nflight = dispatcher_flight(app->dispatcher, q.sub_id, &flight);
	q.flight = flight;
	rc = store_messages_list(app->store, &q, &rows, &nrows);
	free(flight);
	if (rc != STORE_OK) {
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	q.limit--;
	n = nrows > (size_t)q.limit ? (size_t)q.limit : nrows;
	buf_init(&b, 0);
	buf_addstr(&b, "{\"items\":[");
	for (i = 0; i < n; i++) {
		fmt_msg(rows[i].msg, msg);
		buf_printf(&b, "%s{\"msg\":\"%s\",", i ? "," : "", msg);
		msg_delivery(&b, &rows[i]);
		msg_time(&b, "received_at", rows[i].received_at);
		msg_str(&b, "type", rows[i].type, strlen(rows[i].type));
		msg_str(&b, "source", rows[i].source, strlen(rows[i].source));
		msg_str(&b, "id", rows[i].ce_id, strlen(rows[i].ce_id));
		msg_prefix(&b, &rows[i]);
		buf_addstr(&b, "}");
	}
	buf_addstr(&b, "],\"next_cursor\":");
	if (nrows > n) {
		fmt_msg(rows[n - 1].msg, msg);
		buf_printf(&b, "\"%s\"}", msg);
	} else
		buf_addstr(&b, "null}");
	message_rows_free(rows, nrows);
	http_reply_buf(req, 200, &b);
}

static void
msg_attempts(struct buf *b, const struct attempt_row *a, size_t n)
{
	char when[FMT_TIME_LEN];
	size_t i;

	buf_addstr(b, ",\"attempts\":[");
	for (i = 0; i < n; i++) {
		fmt_time(a[i].started_at, when);
		buf_printf(b, "%s{\"time\":\"%s\",\"duration_ms\":%lld,"
		    "\"outcome\":\"%s\"", i ? "," : "", when,
		    (long long)a[i].duration_ms, a[i].outcome);
		if (a[i].http_status > 0)
			buf_printf(b, ",\"http_status\":%lld",
			    (long long)a[i].http_status);
		else
			buf_addstr(b, ",\"http_status\":null");
		msg_str(b, "error", a[i].error,
		    a[i].error ? strlen(a[i].error) : 0);
		if (a[i].response != NULL &&
		    cloudevent_valid_utf8(a[i].response, a[i].response_len))
			msg_str(b, "response", (const char *)a[i].response,
			    a[i].response_len);
		else if (a[i].response != NULL) {
			char *b64 = cloudevent_base64_encode(a[i].response,
			    a[i].response_len);

			msg_str(b, "response_base64", b64, strlen(b64));
			free(b64);
		} else
			buf_addstr(b, ",\"response\":null");
		buf_addstr(b, "}");
	}
	buf_addstr(b, "]");
}

void
api_message_get(struct http_req *req)
{
	struct app *app = http_req_app(req);
	struct message_row m;
	struct event_row e;
	struct attempt_row *att = NULL;
	struct cloudevent *ev;
	char msgid[FMT_MSG_LEN], when[FMT_TIME_LEN];
	int64_t sub_id, msg;
	size_t natt = 0;
	struct buf b;
	int rc;

	if (msg_sub(req, &sub_id) != 0)
		return;
	if (fmt_msg_parse(http_req_param(req, 1), &msg) != 0 ||
	    (rc = store_message_get(app->store, sub_id, msg, &m, &att,
	    &natt)) == STORE_NOTFOUND) {
		http_reply_invalid_status(req, 404, "msg",
		    "no message %s in the "
		    "queue of subscription %lld",
		    http_req_param(req, 1), (long long)sub_id);
		return;
	}
	if (rc != STORE_OK || store_event_get(app->store, msg, &e) != STORE_OK) {
		if (rc == STORE_OK) {
			message_row_clear(&m);
			attempt_rows_free(att, natt);
		}
		http_reply_problem(req, 503, NULL, NULL, "storage unavailable");
		return;
	}
	if (m.state == DS_PENDING && dispatcher_flying(app->dispatcher, sub_id,
	    msg))
		m.state = DS_INFLIGHT; /* pushed now: the row says so after */
	ev = cloudevent_from_stored(e.attrs, (enum ce_data_kind)e.kind, e.data,
	    e.data_len);
	buf_init(&b, 0);
	fmt_msg(msg, msgid);
	fmt_time(e.received_at, when);
	buf_printf(&b, "{\"msg\":\"%s\",\"subscription\":%lld", msgid,
	    (long long)sub_id);
	msg_str(&b, "topic", e.topic, strlen(e.topic));
	buf_printf(&b, ",\"received_at\":\"%s\",\"event\":", when);
	if (ev != NULL)
		cloudevent_write_json(ev, 1, &b);
	else
		buf_addstr(&b, "null");
	buf_addstr(&b, ",\"delivery\":{");
	msg_delivery(&b, &m);
	buf_addstr(&b, "}");
	msg_str(&b, "matched", m.matched, m.matched ? strlen(m.matched) : 0);
	msg_attempts(&b, att, natt);
	buf_addstr(&b, "}");
	cloudevent_free(ev);
	attempt_rows_free(att, natt);
	event_row_clear(&e);
	message_row_clear(&m);
	http_reply_buf(req, 200, &b);
}

/* ---- actions ------------------------------------------------------- */

enum msg_action { A_PAUSE, A_RESUME, A_RETRY, A_PURGE };
static const char *const msg_action_names[] = { "pause", "resume", "retry",
	"purge" };

/*
 * The body fields each action takes: a field that belongs to another
 * action is unknown here (a 400), never silently ignored.
 */
static const char *const msg_pause_fields[] = { "duration_ms", NULL };
static const char *const msg_no_fields[] = { NULL };
static const char *const msg_target_fields[] = { "state", "msgs", NULL };
static const char *const *const msg_action_fields[] = {
	[A_PAUSE] = msg_pause_fields,
	[A_RESUME] = msg_no_fields,
	[A_RETRY] = msg_target_fields,
	[A_PURGE] = msg_target_fields,
};

#define MSG_STATE(s) (1u << (s))
/*
 * What a purge with no state and no msgs removes: the backlog, pending and
 * dead.  Delivered messages are history, kept for browsing until retention
 * (event detail shows them too): an operator who wants them gone says
 * {"state":"delivered"}.  Inflight ones (leased to a pull client, or
 * pushed now) are never purged.
 */
#define MSG_PURGE_DEFAULT (MSG_STATE(DS_PENDING) | MSG_STATE(DS_DEAD))

struct msg_op {
	enum msg_action action;
	int64_t sub_id;
	int64_t until;	 /* pause */
	unsigned states; /* retry, purge: MSG_STATE bits (0: by msgs) */
	int64_t *msgs;
	size_t nmsgs;
	int64_t affected;
	int rc;
};

/* One retry or purge: of the msgs listed (state -1), or of a state. */
static int
msg_op_target_apply(struct api_tx *t, struct msg_op *op, int state,
    const int64_t *msgs, size_t nmsgs, const struct purge_keep *keep,
    int64_t *n)
{
	if (op->action == A_RETRY)
		return store_tx_messages_retry(t->tx, op->sub_id, state, msgs,
		    nmsgs, n);
	return store_tx_messages_purge(t->tx, op->sub_id, state, msgs, nmsgs,
	    keep, n);
}

/*
 * Retries or purges the messages listed, or those in each state asked.
 * A purge leaves the messages whose push is on its way: they show as
 * inflight, and the push's outcome decides what becomes of them.
 */
static int
msg_op_messages(struct api_tx *t, struct msg_op *op)
{
	struct purge_keep keep = { NULL, 0 };
	int64_t *flight = NULL, n;
	int st, rc = STORE_OK;

	if (op->action == A_PURGE) {
		keep.n = dispatcher_flight(t->app->dispatcher, op->sub_id,
		    &flight);
		keep.msgs = flight;
	}
	op->affected = 0;
	if (op->states == 0)
		rc = msg_op_target_apply(t, op, -1, op->msgs, op->nmsgs, &keep,
		    &op->affected);
	for (st = 0; st < 4 && op->states != 0 && rc == STORE_OK; st++) {
		if ((op->states & MSG_STATE(st)) == 0)
			continue;
		rc = msg_op_target_apply(t, op, st, NULL, 0, &keep, &n);
		if (rc == STORE_OK)
			op->affected += n;
	}
	free(flight);
	return rc;
}

/* The states of a retry or purge for its system event: "state" or "states". */
static void
msg_op_states(json_t *meta, unsigned states)
{
	json_t *a = json_array();
	int st;

	for (st = 0; st < 4; st++)
		if ((states & MSG_STATE(st)) != 0)
			json_array_append_new(a,
			    json_string(delivery_state_names[st]));
	if (json_array_size(a) == 1)
		json_object_set(meta, "state", json_array_get(a, 0));
	else if (json_array_size(a) > 1)
		json_object_set(meta, "states", a);
	json_decref(a);
}

static int
msg_op_apply(struct api_tx *t, void *arg)
{
	struct msg_op *op = arg;
	char id[32], when[FMT_TIME_LEN];
	json_t *meta;

	switch (op->action) {
	case A_PAUSE:
	case A_RESUME:
		op->rc = store_tx_sub_pause(t->tx, op->sub_id, op->until,
		    "manual");
		break;
	case A_RETRY:
	case A_PURGE:
		op->rc = msg_op_messages(t, op);
		break;
	}
	if (op->rc != STORE_OK)
		return op->rc;
	snprintf(id, sizeof id, "%lld", (long long)op->sub_id);
	if (op->action == A_PAUSE) {
		/* until an operator resumes it (null), or a time */
		fmt_time(op->until, when);
		meta = json_pack("{so}", "paused_until",
		    op->until == INT64_MAX ? json_null() : json_string(when));
	} else if (op->action == A_RESUME)
		meta = json_object();
	else {
		meta = json_pack("{sI}", "affected", (json_int_t)op->affected);
		msg_op_states(meta, op->states);
	}
	op->rc = api_sysevent(t, "subscription", msg_action_names[op->action],
	    id, meta);
	json_decref(meta);
	return op->rc;
}

static void
msg_op_reply(struct http_req *req, void *arg, int rc)
{
	struct msg_op *op = arg;
	struct app *app = http_req_app(req);
	struct catalog_view *v;
	const struct sub *s;

	if (rc != STORE_OK) {
		if (op->rc == STORE_NOTFOUND)
			http_reply_invalid_status(req, 404, "id",
			    "no such subscription");
		else if (op->rc == STORE_CONFLICT)
			http_reply_invalid_status(req, 409, "state",
			    "subscription %lld is disabled: its endpoint "
			    "answered 410 Gone. Turn it on again with PATCH "
			    "{\"state\": \"pub_and_sub\"} (or sub_only) to "
			    "deliver its queue", (long long)op->sub_id);
		else
			http_reply_problem(req, 503, NULL, NULL,
			    "storage unavailable");
		goto done;
	}
	if (op->action == A_PAUSE || op->action == A_RESUME)
		dispatcher_pause(app->dispatcher, op->sub_id, op->until);
	else
		dispatcher_requeue(app->dispatcher, op->sub_id);
	if (op->action >= A_RETRY) {
		http_reply_json(req, 200, json_pack("{sI}", "affected",
		    (json_int_t)op->affected));
		goto done;
	}
	v = catalog_acquire(app->catalog);
	if ((s = catalog_sub(v, op->sub_id)) != NULL)
		http_reply_json(req, 200, api_sub_json(app, s));
	else
		http_reply_invalid_status(
		    req, 404, "id", "no such subscription");
	catalog_release(app->catalog, v);
done:
	free(op->msgs);
	free(op);
}

/*
 * Reads {"state": S} or {"msgs": [...]} for retry and purge; with neither,
 * the states in def.  Retry moves dead messages back to pending, so its
 * only state is dead; purge takes pending, delivered or dead.
 */
static int
msg_op_target(struct http_req *req, json_t *body, struct msg_op *op,
    unsigned def)
{
	json_t *state = json_object_get(body, "state");
	json_t *msgs = json_object_get(body, "msgs"), *m;
	size_t i;
	int st;

	if (state != NULL && msgs != NULL) {
		http_reply_invalid(req, "msgs", "give state or msgs, not both");
		return -1;
	}
	if (msgs == NULL && state == NULL) {
		op->states = def;
		return 0;
	}
	if (msgs == NULL) {
		st = msg_state(json_string_value(state));
		if (op->action == A_RETRY && st != DS_DEAD) {
			http_reply_invalid(req, "state", "must be dead: retry "
			    "takes dead messages back to pending");
			return -1;
		}
		if (st < 0 || st == DS_INFLIGHT) {
			http_reply_invalid(req, "state",
			    "must be pending, delivered or dead");
			return -1;
		}
		op->states = MSG_STATE(st);
		return 0;
	}
	op->states = 0;
	if (!json_is_array(msgs) || json_array_size(msgs) == 0 ||
	    json_array_size(msgs) > 1000) {
		http_reply_invalid(req, "msgs", "must be a list of 1 to 1000 "
		    "message ids");
		return -1;
	}
	op->msgs = xcalloc(json_array_size(msgs), sizeof *op->msgs);
	json_array_foreach(msgs, i, m) {
		if (!json_is_string(m) ||
		    fmt_msg_parse(json_string_value(m), &op->msgs[i]) != 0) {
			http_reply_invalid(req, "msgs", "item %zu is not a "
			    "message id", i);
			return -1;
		}
	}
	op->nmsgs = json_array_size(msgs);
	return 0;
}

static void
msg_action(struct http_req *req, enum msg_action action)
{
	struct msg_op *op = xcalloc(1, sizeof *op);
	json_t *body = NULL, *dur;
	size_t len;

	op->action = action;
	if (msg_sub(req, &op->sub_id) != 0)
		goto fail;
	http_req_body(req, &len);
	if (len > 0 && ((body = http_req_json(req)) == NULL ||
	    api_known_fields(req, body, msg_action_fields[action]) != 0))
		goto fail;
	if (action == A_PAUSE) {
		dur = json_object_get(body, "duration_ms");
		if (dur != NULL && (!json_is_integer(dur) ||
		    json_integer_value(dur) < 1 ||
		    json_integer_value(dur) > 30LL * 86400000)) {
			http_reply_invalid(req, "duration_ms", "must be a whole "
			    "number of ms from 1 to 30 days");
			goto fail;
		}
		op->until = dur ? fmt_now_ms() + json_integer_value(dur) :
		    INT64_MAX;
	} else if (action >= A_RETRY && msg_op_target(req, body, op,
	    action == A_RETRY ? MSG_STATE(DS_DEAD) : MSG_PURGE_DEFAULT) != 0)
		goto fail;
	json_decref(body);
	api_write(req, msg_op_apply, msg_op_reply, op, API_RELOAD_NONE);
	return;
fail:
	json_decref(body);
	free(op->msgs);
	free(op);
}

void
api_sub_pause(struct http_req *req)
{
	msg_action(req, A_PAUSE);
}

void
api_sub_resume(struct http_req *req)
{
	msg_action(req, A_RESUME);
}

void
api_sub_retry(struct http_req *req)
{
	msg_action(req, A_RETRY);
}

void
api_sub_purge(struct http_req *req)
{
	msg_action(req, A_PURGE);
}
