/*
 * http_server.h: the HTTP server (libmicrohttpd): the route table, body
 * accumulation with limits, bearer-token auth, JSON and problem+json
 * replies, and replies that come later from another thread (the handler
 * suspends the connection; the reply resumes it).
 *
 * Thread-safe: handlers run on the server's threads; http_reply_* may be
 * called from any thread once per request.
 */
#ifndef SLUICE_HTTP_SERVER_H
#define SLUICE_HTTP_SERVER_H

#include <stddef.h>

#include <jansson.h>

#include "xmalloc.h"

struct app;
struct http_server;
struct http_req;

/* Starts listening; NULL and *cause on error. */
struct http_server *http_server_start(struct app *, char **cause);
/* The address actually bound, e.g. 127.0.0.1:8080 (port 0 resolved). */
const char *http_server_address(struct http_server *);
/*
 * Stops accepting, lets requests in flight finish (at most wait_ms), and
 * stops the server.
 */
void http_server_stop(struct http_server *, int wait_ms);

struct app *http_req_app(struct http_req *);
/* The i-th "*" segment of the route pattern, percent-decoded. */
const char *http_req_param(struct http_req *, int i);
const char *http_req_query(struct http_req *, const char *name);
const char *http_req_header(struct http_req *, const char *name);
const char *http_req_body(struct http_req *, size_t *len);
/* The request's headers, in order; valid until the reply. */
size_t http_req_headers(struct http_req *, const char ***names,
    const char ***values);
/* Parses the body as a JSON object; replies 400 and returns NULL if not. */
json_t *http_req_json(struct http_req *);
/* Who made the request, for system events: "admin" or "anonymous". */
const char *http_req_actor(struct http_req *);

/* Adds a header to the coming reply. */
void http_reply_header(struct http_req *, const char *name,
    const char *value);
/* Replies with body (takes ownership; NULL for none). */
void http_reply(struct http_req *, unsigned status, const char *ctype,
    char *body, size_t len);
/* Replies with the JSON value (takes ownership). */
void http_reply_json(struct http_req *, unsigned status, json_t *);
/* Replies with JSON text built in b (takes its bytes). */
void http_reply_buf(struct http_req *, unsigned status, struct buf *b);
/*
 * Replies application/problem+json (RFC 9457): errors (taken, may be
 * NULL) lists {"attribute"/"field", "reason"} objects.
 */
void http_reply_problem(struct http_req *, unsigned status,
    const char *title, json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * A 400 naming one field in its errors list (as "attribute" on the ingest
 * URLs, which name CloudEvents attributes; as "field" elsewhere).
 */
void http_reply_invalid(struct http_req *, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * A JSON string of text that may not be UTF-8 (a path or header as sent):
 * bytes past ASCII are written %XX when it is not.  NULL for NULL (which
 * json_object_set_new leaves out).
 */
json_t *http_json_text(const char *s);
/* Like http_reply_invalid with another status (401, 404, 409, 503...). */
void http_reply_invalid_status(struct http_req *, unsigned status,
    const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The handler's reply will come later, from another thread. */
void http_suspend(struct http_req *);

/*
 * Compares a given token with the expected one (plain, or a stored
 * "sha256:<hex>" hash from http_token_hash) without leaking where they
 * differ.
 */
int http_token_equal(const char *given, const char *expected);
/* "sha256:<hex>": how publish tokens are stored (caller frees). */
char *http_token_hash(const char *token);
/* Checks "Authorization: Bearer <token>"; replies 401/403 if wrong. */
int http_check_bearer(struct http_req *, const char *token);

#endif
