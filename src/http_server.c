/*
 * http_server.c: the HTTP server on libmicrohttpd, and one of the few files
 * that include microhttpd.h.  Owns the route table and the plumbing every
 * handler shares: per-request state (allocated on the first callback, freed
 * in the completion callback), body accumulation capped at max_body (a
 * declared length over it is a 413, after reading and dropping the body if
 * it is no more than HTTP_DRAIN_FACTOR times the limit; a chunked body over
 * it is discarded as it arrives), bearer auth, JSON and problem+json
 * replies, and suspended connections for replies that come from the store's
 * writer thread.
 *
 * Threads: MHD's pool runs the callbacks; http_reply_* may come from any
 * thread, once per request.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "fmt.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

/* A body declared up to this many times max_body is read before its 413. */
#define HTTP_DRAIN_FACTOR 4

enum http_auth {
	AUTH_NONE,  /* open: ingest (topics check their own token), health */
	AUTH_ADMIN, /* /api/v1: the admin token */
};

struct http_route {
	const char *method;  /* request method */
	const char *pattern; /* path; a "*" segment matches any one segment,
				a final "**" the rest of the path */
	void (*handler)(struct http_req *);
	enum http_auth auth;
};

static const struct http_route http_routes[] = {
	{ "POST", "/events", api_ingest_default, AUTH_NONE },
	{ "OPTIONS", "/events", api_ingest_options, AUTH_NONE },
	{ "POST", "/topics/*/events", api_ingest_topic, AUTH_NONE },
	{ "OPTIONS", "/topics/*/events", api_ingest_options, AUTH_NONE },
	{ "GET", "/api/v1/topics", api_topics_list, AUTH_ADMIN },
	{ "POST", "/api/v1/topics", api_topics_create, AUTH_ADMIN },
	{ "GET", "/api/v1/topics/*", api_topic_get, AUTH_ADMIN },
	{ "PATCH", "/api/v1/topics/*", api_topic_update, AUTH_ADMIN },
	{ "DELETE", "/api/v1/topics/*", api_topic_delete, AUTH_ADMIN },
	{ "GET", "/api/v1/events", api_events_list, AUTH_ADMIN },
	{ "GET", "/api/v1/events/*", api_event_get, AUTH_ADMIN },
	{ "GET", "/api/v1/subscriptions", api_subs_list, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions", api_subs_create, AUTH_ADMIN },
	{ "GET", "/api/v1/subscriptions/*", api_sub_get, AUTH_ADMIN },
	{ "PATCH", "/api/v1/subscriptions/*", api_sub_update, AUTH_ADMIN },
	{ "DELETE", "/api/v1/subscriptions/*", api_sub_delete, AUTH_ADMIN },
	{ "GET", "/api/v1/subscriptions/*/messages", api_messages_list,
	    AUTH_ADMIN },
	{ "GET", "/api/v1/subscriptions/*/messages/*", api_message_get,
	    AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/pause", api_sub_pause, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/resume", api_sub_resume, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/retry", api_sub_retry, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/purge", api_sub_purge, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/pull", api_sub_pull, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/ack", api_sub_ack, AUTH_ADMIN },
	{ "POST", "/api/v1/subscriptions/*/nack", api_sub_nack, AUTH_ADMIN },
	{ "GET", "/api/v1/sysevents", api_sysevents_list, AUTH_ADMIN },
	{ "GET", "/api/v1/eventtypes", api_eventtypes_list, AUTH_ADMIN },
	{ "GET", "/api/v1/stats", api_stats, AUTH_ADMIN },
	{ "GET", "/healthz", api_healthz, AUTH_NONE },
	{ "GET", "/readyz", api_readyz, AUTH_NONE },
	{ "GET", "/metrics", api_metrics, AUTH_NONE },
	{ "GET", "/admin/config.json", api_web_config, AUTH_NONE },
	{ "GET", "/admin/**", api_static_get, AUTH_NONE },
	{ "HEAD", "/admin/**", api_static_get, AUTH_NONE },
	{ "GET", "/admin", api_static_redirect, AUTH_NONE },
	{ "HEAD", "/admin", api_static_redirect, AUTH_NONE },
	{ "GET", "/", api_static_redirect, AUTH_NONE },
	{ "HEAD", "/", api_static_redirect, AUTH_NONE },
};
#define HTTP_NROUTES (sizeof http_routes / sizeof http_routes[0])
#define HTTP_MAX_PARAMS 4

struct http_server {
	struct app *app;
	struct MHD_Daemon *mhd;
	char address[80];
	atomic_int active; /* requests between first callback and completion */
	atomic_int stopping; /* draining: replies close their connection */
	atomic_int refusing; /* new requests get 503 (never suspended) */
	atomic_int nsuspended; /* connections waiting for another thread */
};

struct http_header {
	char *name;
	char *value;
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const struct http_route *route;
	const char *method;
	const char *path;
	char *params[HTTP_MAX_PARAMS];
	struct buf body;
	int too_large;	       /* the body passed max_body: discard it */
	int dispatched;	       /* the handler has run */
	int answered;	       /* a response is queued: ignore the rest */
	int suspended;	       /* the reply comes from another thread */
	const char **hnames;   /* http_req_headers, gathered on demand */
	const char **hvalues;
	size_t nheaders;
	/* the reply */
	struct MHD_Response *response;
	unsigned status;
	struct http_header *rheaders;
	size_t nrheaders;
};

/* ---- routing ------------------------------------------------------- */

/* Matches path against pattern, capturing "*" segments. */
static int
http_match(const char *pattern, const char *path, char **params)
{
	int np = 0;
	const char *seg;
	size_t n;

	while (*pattern != '\0') {
		if (strcmp(pattern, "**") == 0) {
			/* a final "**" matches the rest of the path, if any */
			if (params != NULL && np < HTTP_MAX_PARAMS)
				params[np] = xstrdup(path);
			return 1;
		}
		if (*pattern == '*') {
			seg = path;
			n = strcspn(path, "/");
			if (n == 0 || np == HTTP_MAX_PARAMS)
				return 0;
			if (params != NULL)
				params[np] = xstrndup(seg, n);
			np++;
			path += n;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	if (*path == '/' && path[1] == '\0')
		path++;
	return *path == '\0';
}

/* Finds the route; sets *allow to the methods the path takes. */
static const struct http_route *
http_route_find(const char *method, const char *path, struct buf *allow)
{
	const struct http_route *r;
	size_t i;

	for (i = 0; i < HTTP_NROUTES; i++) {
		r = &http_routes[i];
		if (!http_match(r->pattern, path, NULL))
			continue;
		if (strcmp(r->method, method) == 0)
			return r;
		if (allow->len > 0)
			buf_addstr(allow, ", ");
		buf_addstr(allow, r->method);
	}
	return NULL;
}

/* ---- request accessors --------------------------------------------- */

struct app *
http_req_app(struct http_req *req)
{
	return req->srv->app;
}



const char *
http_req_param(struct http_req *req, int i)
{
	return i >= 0 && i < HTTP_MAX_PARAMS ? req->params[i] : NULL;
}

const char *
http_req_query(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

const char *
http_req_header(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_req_body(struct http_req *req, size_t *len)
{
	*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

static enum MHD_Result
http_gather_header(void *cls, enum MHD_ValueKind kind, const char *name,
    const char *value)
{
	struct http_req *req = cls;

	req->hnames = xrealloc(req->hnames,
	    (req->nheaders + 1) * sizeof *req->hnames);
	req->hvalues = xrealloc(req->hvalues,
	    (req->nheaders + 1) * sizeof *req->hvalues);
	req->hnames[req->nheaders] = name;
	req->hvalues[req->nheaders] = value ? value : "";
	req->nheaders++;
	return MHD_YES;
}

size_t
http_req_headers(struct http_req *req, const char ***names,
    const char ***values)
{
	if (req->hnames == NULL)
		MHD_get_connection_values(req->conn, MHD_HEADER_KIND,
		    http_gather_header, req);
	*names = req->hnames;
	*values = req->hvalues;
	return req->nheaders;
}

json_t *
http_req_json(struct http_req *req)
{
	json_error_t err;
	json_t *j;

	j = json_loadb(req->body.data ? req->body.data : "", req->body.len,
	    JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(j)) {
		http_reply_invalid(req, "body", "expected a JSON object: %s",
		    j == NULL ? err.text : "not an object");
		json_decref(j);
		return NULL;
	}
	return j;
}

const char *
http_req_actor(struct http_req *req)
{
	return http_req_app(req)->cfg->admin_token != NULL ? "admin" :
	    "anonymous";
}

/* ---- replies ------------------------------------------------------- */

void
http_reply_header(struct http_req *req, const char *name, const char *value)
{
	struct http_header *h;

	req->rheaders = xrealloc(req->rheaders,
	    (req->nrheaders + 1) * sizeof *req->rheaders);
	h = &req->rheaders[req->nrheaders++];
	h->name = xstrdup(name);
	h->value = xstrdup(value);
}

void
http_reply(struct http_req *req, unsigned status, const char *ctype,
    char *body, size_t len)
{
	struct MHD_Response *r;
	size_t i;

	if (body == NULL)
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer_with_free_callback(len,
		    body, free);
	if (r == NULL)
		abort();
	if (ctype != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* while draining, each connection ends with its current request */
	if (atomic_load(&req->srv->stopping))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	for (i = 0; i < req->nrheaders; i++)
		MHD_add_response_header(r, req->rheaders[i].name,
		    req->rheaders[i].value);
	req->status = status;
	req->response = r;
	/* the resumed connection calls http_access again, which queues it */
	if (req->suspended)
		MHD_resume_connection(req->conn);
}

void
http_reply_buf(struct http_req *req, unsigned status, struct buf *b)
{
	size_t len;
	char *text = buf_take(b, &len);

	http_reply(req, status, "application/json", text, len);
}

void
http_reply_json(struct http_req *req, unsigned status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	json_decref(j);
	if (text == NULL)
		abort();
	http_reply(req, status, "application/json", text, strlen(text));
}

static const char *
http_status_title(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

json_t *
http_json_text(const char *s)
{
	json_t *j;
	struct buf b;
	const unsigned char *p;

	if (s == NULL)
		return NULL;
	if ((j = json_string(s)) != NULL)
		return j;
	/* not UTF-8 (a path or header as sent): bytes past ASCII as %XX */
	buf_init(&b, 0);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		buf_printf(&b, *p < 0x80 ? "%c" : "%%%02X", *p);
	j = json_stringn(b.data ? b.data : "", b.len);
	buf_free(&b);
	return j;
}

void
http_reply_problem(struct http_req *req, unsigned status, const char *title,
    json_t *errors, const char *fmt, ...)
{
	json_t *p = json_object();
	va_list ap;
	char *detail, *text;

	va_start(ap, fmt);
	detail = xvasprintf(fmt, ap);
	va_end(ap);
	json_object_set_new(p, "type", json_string("about:blank"));
	json_object_set_new(p, "title",
	    json_string(title ? title : http_status_title(status)));
	json_object_set_new(p, "status", json_integer(status));
	json_object_set_new(p, "detail", http_json_text(detail));
	json_object_set_new(p, "instance", http_json_text(req->path));
	if (errors != NULL)
		json_object_set_new(p, "errors", errors);
	free(detail);
	text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	if (text == NULL)
		abort();
	http_reply(req, status, "application/problem+json", text,
	    strlen(text));
}

static void http_reply_field(struct http_req *, unsigned, const char *,
    const char *, va_list) __attribute__((format(printf, 4, 0)));

/* Is this an ingest URL (/events, /topics/{name}/events)? */
static int
http_req_ingest(const struct http_req *req)
{
	size_t n = strlen(req->path);

	return strcmp(req->path, "/events") == 0 ||
	    (strncmp(req->path, "/topics/", 8) == 0 && n > 15 &&
	        strcmp(req->path + n - 7, "/events") == 0);
}

static void
http_reply_field(struct http_req *req, unsigned status, const char *field,
    const char *fmt, va_list ap)
{
	json_t *errors = json_array(), *e = json_object();
	char *reason = xvasprintf(fmt, ap);

	json_object_set_new(e, http_req_ingest(req) ? "attribute" : "field",
	    http_json_text(field));
	json_object_set_new(e, "reason", http_json_text(reason));
	json_object_set_new(e, "detail", http_json_text(reason));
	json_array_append_new(errors, e);
	http_reply_problem(req, status, status == 400 ? "Invalid request" :
	    NULL, errors, "%s: %s", field, reason);
	free(reason);
}

void
http_reply_invalid(struct http_req *req, const char *field, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_field(req, 400, field, fmt, ap);
	va_end(ap);
}

void
http_reply_invalid_status(struct http_req *req, unsigned status,
    const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_field(req, status, field, fmt, ap);
	va_end(ap);
}

void
http_suspend(struct http_req *req)
{
	atomic_fetch_add(&req->srv->nsuspended, 1);
	req->suspended = 1;
	MHD_suspend_connection(req->conn);
}

/* ---- auth ---------------------------------------------------------- */

char *
http_token_hash(const char *token)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	char *out = xmalloc(7 + 2 * sizeof d + 1);
	size_t i;

	SHA256((const unsigned char *)token, strlen(token), d);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < sizeof d; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
	return out;
}

int
http_token_equal(const char *given, const char *expected)
{
	unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
	char *hashed;
	int same;

	/* a stored "sha256:" hash is compared with the given token's */
	if (strncmp(expected, "sha256:", 7) == 0) {
		hashed = http_token_hash(given);
		SHA256((const unsigned char *)hashed, strlen(hashed), a);
		SHA256((const unsigned char *)expected, strlen(expected), b);
		free(hashed);
	} else {
		/* hashing first hides the expected token's length */
		SHA256((const unsigned char *)given, strlen(given), a);
		SHA256((const unsigned char *)expected, strlen(expected), b);
	}
	same = CRYPTO_memcmp(a, b, sizeof a) == 0;
	return same;
}

int
http_check_bearer(struct http_req *req, const char *token)
{
	const char *h = http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		http_reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"sluice\"");
		http_reply_invalid_status(req, 401, "Authorization",
		    "this route needs Authorization: Bearer <token>");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (!http_token_equal(h, token)) {
		http_reply_invalid_status(req, 403, "Authorization",
		    "the bearer token is not valid for this route");
		return -1;
	}
	return 0;
}

/* ---- MHD callbacks ------------------------------------------------- */

static void
http_req_free(struct http_req *req)
{
	size_t i;

	for (i = 0; i < HTTP_MAX_PARAMS; i++)
		free(req->params[i]);
	for (i = 0; i < req->nrheaders; i++) {
		free(req->rheaders[i].name);
		free(req->rheaders[i].value);
	}
	free(req->rheaders);
	free(req->hnames);
	free(req->hvalues);
	buf_free(&req->body);
	if (req->response != NULL)
		MHD_destroy_response(req->response);
	free(req);
}

static enum MHD_Result
http_queue(struct http_req *req)
{
	enum MHD_Result rc;

	req->answered = 1;
	rc = MHD_queue_response(req->conn, req->status, req->response);
	MHD_destroy_response(req->response);
	req->response = NULL;
	return rc;
}

static void
http_too_large(struct http_req *req)
{
	struct app *app = req->srv->app;

	if (http_req_ingest(req))
		atomic_fetch_add(&app->metrics->rejected[MR_TOO_LARGE], 1);
	http_reply_invalid_status(req, 413, "body", "larger than the limit "
	    "of %lld bytes", (long long)app->cfg->max_body);
}

/*
 * Differing Content-Length values make the body's end ambiguous (RFC 9112
 * 6.3): a proxy that read the other one would see another request.
 */
static int
http_framing_ambiguous(struct http_req *req)
{
	const char **names, **values, *first = NULL;
	size_t n = http_req_headers(req, &names, &values), i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(names[i], MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
			continue;
		if (first != NULL && strcmp(first, values[i]) != 0)
			return 1;
		first = values[i];
	}
	return 0;
}

/*
 * %00 in the path would end it there once decoded: the request would reach
 * the route before it (http_unescape keeps it as it is).  1 if refused.
 */
static int
http_refuse_nul(struct http_req *req)
{
	if (strstr(req->path, "%00") == NULL)
		return 0;
	http_reply_invalid(req, "path", "contains a NUL byte (%%00)");
	return 1;
}

/* The first callback: route, auth and the declared body length. */
static void
http_begin(struct http_req *req)
{
	const struct config *cfg = req->srv->app->cfg;
	const char *cl, *expect;
	unsigned long long len;
	struct buf allow;

	if (http_refuse_nul(req))
		return;
	buf_init(&allow, 0);
	req->route = http_route_find(req->method, req->path, &allow);
	if (req->route == NULL && allow.len > 0) {
		http_reply_header(req, MHD_HTTP_HEADER_ALLOW, allow.data);
		http_reply_invalid_status(req, 405, "method",
		    "%s is not allowed on %s (allowed: %s)", req->method,
		    req->path, allow.data);
	} else if (req->route == NULL)
		http_reply_invalid_status(req, 404, "path",
		    "no such resource: %s", req->path);
	buf_free(&allow);
	if (req->route == NULL)
		return;
	http_match(req->route->pattern, req->path, req->params);
	if (req->route->auth == AUTH_ADMIN) {
		if (!req->srv->app->api_open) {
			http_reply_invalid_status(req, 403, "admin_token",
			    "the admin API is off: set admin_token to serve "
			    "it on a non-loopback address");
			return;
		}
		if (cfg->admin_token != NULL &&
		    http_check_bearer(req, cfg->admin_token) != 0)
			return;
	}
	if (http_framing_ambiguous(req)) {
		http_reply_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
		http_reply_invalid(req, "Content-Length", "given more than "
		    "once, with different values");
		return;
	}
	cl = http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL || (len = strtoull(cl, NULL, 10)) <=
	    (uint64_t)cfg->max_body)
		return;
	/*
	 * A client that waits for 100 Continue, or would send more than a few
	 * times the limit, is answered now.  One already sending a body of
	 * modest size is read to its end (and the body dropped) first: a
	 * close with its bytes unread would reset the connection, and the
	 * client could lose the 413 in the middle of writing (RFC 9112, 9.6).
	 */
	expect = http_req_header(req, MHD_HTTP_HEADER_EXPECT);
	if (expect != NULL || len > (uint64_t)cfg->max_body * HTTP_DRAIN_FACTOR)
		http_too_large(req);
	else
		req->too_large = 1;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *req = *con_cls;

	if (req == NULL) {
		req = xcalloc(1, sizeof *req);
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->path = url;
		buf_init(&req->body, (size_t)srv->app->cfg->max_body);
		*con_cls = req;
		/* counted before stopping is read: see http_server_stop */
		atomic_fetch_add(&srv->active, 1);
		if (atomic_load(&srv->refusing)) {
			http_reply_header(req, MHD_HTTP_HEADER_CONNECTION,
			    "close");
			http_reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
			http_reply_invalid_status(req, 503, "sluiced",
			    "stopping: retry");
			return http_queue(req);
		}
		http_begin(req);
		if (req->response != NULL)
			return http_queue(req);
		return MHD_YES;
	}
	/*
	 * Answered early (an error before the body was read): MHD may still
	 * call with the rest of the body; it is dropped, no handler runs.
	 */
	if (req->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!req->too_large &&
		    buf_add(&req->body, upload_data, *upload_data_size) != 0) {
			req->too_large = 1;
			buf_free(&req->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->response != NULL) {
		/* resumed: http_reply is done with req->suspended */
		if (req->suspended) {
			req->suspended = 0;
			atomic_fetch_sub(&srv->nsuspended, 1);
		}
		return http_queue(req);
	}
	if (req->dispatched)
		return MHD_YES;
	req->dispatched = 1;
	if (req->too_large)
		http_too_large(req);
	else
		req->route->handler(req);
	if (req->suspended)
		return MHD_YES;
	if (req->response == NULL)
		http_reply_problem(req, 500, NULL, NULL, "no reply");
	return http_queue(req);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req *req = *con_cls;

	if (req == NULL)
		return;
	/* resumed, but the client had gone: MHD does not call back first */
	if (req->suspended)
		atomic_fetch_sub(&srv->nsuspended, 1);
	http_req_free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->active, 1);
}

/*
 * Decodes %HH in a path or query value in place, as MHD would, but keeps
 * %00 as it is: a NUL would end the text there (see http_refuse_nul).
 */
static size_t
http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *r = s, *w = s;
	int hi, lo;

	(void)cls;
	(void)conn;
	while (*r != '\0') {
		if (r[0] == '%' &&
		    (hi = fmt_hex_digit((unsigned char)r[1])) >= 0 &&
		    (lo = fmt_hex_digit((unsigned char)r[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi << 4 | lo);
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* MHD's logger type carries no format attribute; its formats are MHD's. */
static void http_mhd_log(void *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http", "mhd: %s", msg);
	free(msg);
}

/* ---- start and stop ------------------------------------------------ */

/*
 * A host name: its first IPv4 address, or else its first IPv6 one
 * (localhost is 127.0.0.1, as in the default; clients that try ::1 first
 * go on to it).
 */
static int
http_resolve_listen(const char *listen, const char *host, uint16_t port,
    struct sockaddr_storage *ss, char **cause)
{
	struct addrinfo hints, *res = NULL, *a, *pick;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	for (pick = res, a = res; rc == 0 && a != NULL; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	if (rc != 0 || pick == NULL || pick->ai_addrlen > sizeof *ss) {
		*cause = xasprintf("listen: cannot resolve \"%s\" of \"%s\": "
		    "%s", host, listen, rc != 0 ? gai_strerror(rc) :
		    "no address");
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, pick->ai_addr, pick->ai_addrlen);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

static int
http_parse_listen(const char *listen, struct sockaddr_storage *ss,
    char **cause)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon, *h = listen;
	size_t hlen;
	char *end;
	long port;

	memset(ss, 0, sizeof *ss);
	if (*h == '[') {
		colon = strstr(h, "]:");
		if (colon == NULL)
			goto bad;
		h++;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			goto bad;
		hlen = (size_t)(colon - h);
	}
	if (hlen >= sizeof host)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535)
		goto bad;
	if (inet_pton(AF_INET, hlen ? host : "0.0.0.0", &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if (listen[0] != '[')
		return http_resolve_listen(listen, host, (uint16_t)port, ss,
		    cause);
bad:
	*cause = xasprintf("listen: \"%s\" is not ADDR:PORT (an address or "
	    "host name and a port, e.g. 127.0.0.1:8080, [::1]:8080 or "
	    "localhost:8080)", listen);
	return -1;
}

static int
http_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
}

struct http_server *
http_server_start(struct app *app, char **cause)
{
	const struct config *cfg = app->cfg;
	struct http_server *srv = xcalloc(1, sizeof *srv);
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	char host[INET6_ADDRSTRLEN];
	unsigned flags;

	if (http_parse_listen(cfg->listen, &ss, cause) != 0) {
		free(srv);
		return NULL;
	}
	app->api_open = cfg->admin_token != NULL || http_is_loopback(&ss);
	if (!app->api_open)
		log_warn("http", "no admin_token is set and %s is not a "
		    "loopback address: the admin API (/api/v1) is off",
		    cfg->listen);
	else if (cfg->admin_token == NULL)
		log_info("http", "no admin_token is set: the admin API is "
		    "open to anyone on this host (loopback only)");
	srv->app = app;
	/*
	 * poll(), not epoll: MHD_quiesce_daemon on an epoll daemon with its
	 * own threads races MHD_epoll() removing the listening socket, and
	 * the loser calls MHD_PANIC ("Failed to remove listen FD from epoll
	 * set"), aborting sluiced on SIGTERM now and then (MHD 0.9.75).
	 */
	flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)(cfg->idle_timeout / 1000),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		*cause = xasprintf("cannot listen on %s (in use, or not an "
		    "address of this host)", cfg->listen);
		free(srv);
		return NULL;
	}
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
	    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr, host,
	    sizeof host);
	snprintf(srv->address, sizeof srv->address,
	    ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
	    info ? (unsigned)info->port : 0);
	return srv;
}

const char *
http_server_address(struct http_server *srv)
{
	return srv->address;
}

/* Waits until no request is in progress, or wait_ms in all has passed. */
static void
http_server_drain(struct http_server *srv, int *waited, int wait_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	while (atomic_load(&srv->active) > 0 && *waited < wait_ms) {
		nanosleep(&ts, NULL);
		*waited += 10;
	}
}

void
http_server_stop(struct http_server *srv, int wait_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int waited = 0;
	MHD_socket s;

	if (srv == NULL)
		return;
	/* the listening socket is ours to close, once MHD is done with it */
	s = MHD_quiesce_daemon(srv->mhd);
	/*
	 * Drain: no new connections; requests on open ones are still served
	 * but close their connection.  Then refuse what still arrives (at
	 * once, never suspended) and wait for the rest: MHD_stop_daemon must
	 * not find a suspended connection.
	 */
	atomic_store(&srv->stopping, 1);
	http_server_drain(srv, &waited, wait_ms);
	atomic_store(&srv->refusing, 1);
	http_server_drain(srv, &waited, wait_ms);
	/* a suspended request waits for the store, which always answers */
	while (atomic_load(&srv->nsuspended) > 0) {
		if (waited == wait_ms)
			log_warn("http", "waiting for %d request(s) the store "
			    "has not answered", atomic_load(&srv->nsuspended));
		nanosleep(&ts, NULL);
		waited += 10;
	}
	MHD_stop_daemon(srv->mhd);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	free(srv);
}
