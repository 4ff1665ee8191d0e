/*
 * test_deliver.c: the delivery module against real HTTP sinks on loopback.
 * Each sink is a small server thread on 127.0.0.1:0 (plain sockets) that
 * records the exact bytes of every request and answers as the test tells
 * it: a status with headers and a body, a SOAP Fault, no answer at all, a
 * hang, a truncated body, or a 100 MB body.
 */
#include "autoconfig.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include "cloudevent.h"
#include "deliver.h"
#include "soapxml.h"
#include "tap.h"

/* ---- the sink ---------------------------------------------------------- */

enum sink_act {
	ACT_RESPOND, /* status, headers, body */
	ACT_CLOSE,   /* close without answering */
	ACT_HANG,    /* never answer */
	ACT_PARTIAL, /* promise 100 bytes, send 10, close */
	ACT_HUGE,    /* a 100 MB body */
};

#define SINK_CONNS 64
#define HUGE_BYTES (100L * 1024 * 1024)

struct sink_conn {
	int fd;   /* -1: free slot */
	int hung; /* ignore it until the sink stops */
	char *in; /* bytes received, not yet a whole request */
	size_t len;
};

struct sink {
	int lfd, port;
	pthread_t th;
	pthread_mutex_t mu;
	atomic_int stop;
	struct sink_conn conns[SINK_CONNS];
	/* what to answer (set under mu) */
	enum sink_act act;
	int status;
	char headers[512]; /* extra response header lines, CRLF-terminated */
	char *body;
	size_t body_len;
	/* what happened (read under mu) */
	int accepts, requests;
	char *req; /* the last request, NUL-terminated */
	size_t req_len;
	long sent; /* body bytes of the last ACT_HUGE answer */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0 && (w = send(fd, c, n, MSG_NOSIGNAL)) > 0) {
		c += w;
		n -= (size_t)w;
	}
}

static void
conn_close(struct sink_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->hung = 0;
	free(c->in);
	c->in = NULL;
	c->len = 0;
}

/* Length of the complete request at the start of c->in, or 0. */
static size_t
request_len(const struct sink_conn *c)
{
	const char *end, *p;
	size_t head, cl = 0;

	if (c->len == 0)
		return 0;
	c->in[c->len] = '\0';
	if ((end = strstr(c->in, "\r\n\r\n")) == NULL)
		return 0;
	head = (size_t)(end - c->in) + 4;
	for (p = c->in; p != NULL && p < end; p = strstr(p, "\r\n")) {
		p += p == c->in ? 0 : 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			cl = strtoul(p + 15, NULL, 10);
		if (p == c->in)
			p++;
	}
	return c->len >= head + cl ? head + cl : 0;
}

static void
sink_answer(struct sink *s, struct sink_conn *c)
{
	char head[1024], chunk[65536], *out;
	int n;

	switch (s->act) {
	case ACT_RESPOND:
		n = snprintf(head, sizeof head,
		    "HTTP/1.1 %d Test\r\n"
		    "Content-Length: %zu\r\n%s\r\n",
		    s->status, s->body_len, s->headers);
		/* one write: a second small one would wait for an ACK */
		out = malloc((size_t)n + s->body_len);
		memcpy(out, head, (size_t)n);
		if (s->body_len > 0)
			memcpy(out + n, s->body, s->body_len);
		send_all(c->fd, out, (size_t)n + s->body_len);
		free(out);
		break;
	case ACT_CLOSE:
		conn_close(c);
		break;
	case ACT_HANG:
		c->hung = 1;
		break;
	case ACT_PARTIAL:
		n = snprintf(head, sizeof head,
		    "HTTP/1.1 %d Test\r\n"
		    "Content-Length: 100\r\n\r\n0123456789",
		    s->status);
		send_all(c->fd, head, (size_t)n);
		conn_close(c);
		break;
	case ACT_HUGE:
		n = snprintf(head, sizeof head,
		    "HTTP/1.1 %d Test\r\n"
		    "Content-Length: %ld\r\n\r\n",
		    s->status, HUGE_BYTES);
		send_all(c->fd, head, (size_t)n);
		memset(chunk, 'x', sizeof chunk);
		for (s->sent = 0; s->sent < HUGE_BYTES;
		     s->sent += (long)sizeof chunk) {
			if (send(c->fd, chunk, sizeof chunk, MSG_NOSIGNAL) !=
			    (ssize_t)sizeof chunk)
				break;
		}
		conn_close(c);
		break;
	}
}

static void
sink_read(struct sink *s, struct sink_conn *c)
{
	char tmp[65536];
	ssize_t r;
	size_t n;

	r = recv(c->fd, tmp, sizeof tmp, 0);
	if (r <= 0) {
		conn_close(c);
		return;
	}
	if (c->hung)
		return;
	/* A TLS ClientHello: this sink speaks plain HTTP only. */
	if (c->len == 0 && tmp[0] == 0x16) {
		conn_close(c);
		return;
	}
	c->in = realloc(c->in, c->len + (size_t)r + 1);
	memcpy(c->in + c->len, tmp, (size_t)r);
	c->len += (size_t)r;
	while (c->fd >= 0 && !c->hung && (n = request_len(c)) > 0) {
		pthread_mutex_lock(&s->mu);
		free(s->req);
		s->req = malloc(n + 1);
		memcpy(s->req, c->in, n);
		s->req[n] = '\0';
		s->req_len = n;
		s->requests++;
		memmove(c->in, c->in + n, c->len - n);
		c->len -= n;
		sink_answer(s, c);
		pthread_mutex_unlock(&s->mu);
	}
}

static void *
sink_main(void *arg)
{
	struct sink *s = arg;
	struct pollfd pfd[SINK_CONNS + 1];
	int i, n, fd;

	while (!atomic_load(&s->stop)) {
		pfd[0].fd = s->lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < SINK_CONNS; i++) {
			pfd[i + 1].fd = s->conns[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if ((n = poll(pfd, SINK_CONNS + 1, 20)) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			fd = accept(s->lfd, NULL, NULL);
			for (i = 0; fd >= 0 && i < SINK_CONNS; i++)
				if (s->conns[i].fd < 0) {
					s->conns[i].fd = fd;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
			pthread_mutex_lock(&s->mu);
			s->accepts++;
			pthread_mutex_unlock(&s->mu);
		}
		for (i = 0; i < SINK_CONNS; i++)
			if (s->conns[i].fd >= 0 &&
			    (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				sink_read(s, &s->conns[i]);
	}
	return NULL;
}

static struct sink *
sink_start(void)
{
	struct sink *s = calloc(1, sizeof *s);
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int i, one = 1;

	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(s->lfd, 16) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sa, &len) != 0) {
		perror("sink");
		exit(1);
	}
	s->port = ntohs(sa.sin_port);
	for (i = 0; i < SINK_CONNS; i++)
		s->conns[i].fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->stop, 0);
	s->act = ACT_RESPOND;
	s->status = 200;
	pthread_create(&s->th, NULL, sink_main, s);
	return s;
}

static void
sink_stop(struct sink *s)
{
	int i;

	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	for (i = 0; i < SINK_CONNS; i++)
		if (s->conns[i].fd >= 0)
			conn_close(&s->conns[i]);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	free(s->req);
	free(s->body);
	free(s);
}

/* Sets the next answer. */
static void
sink_set(struct sink *s, enum sink_act act, int status, const char *headers,
    const char *body)
{
	pthread_mutex_lock(&s->mu);
	s->act = act;
	s->status = status;
	snprintf(s->headers, sizeof s->headers, "%s", headers);
	free(s->body);
	s->body = strdup(body);
	s->body_len = strlen(body);
	pthread_mutex_unlock(&s->mu);
}

/* A copy of the last request (caller frees). */
static char *
sink_request(struct sink *s, size_t *len)
{
	char *r;

	pthread_mutex_lock(&s->mu);
	r = s->req != NULL ? strdup(s->req) : NULL;
	*len = s->req_len;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int
sink_count(struct sink *s, int *field)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = *field;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- reading a recorded request ------------------------------------------ */

/* The value of a header (caller frees), NULL if absent. */
static char *
header(const char *req, const char *name)
{
	const char *p = strstr(req, "\r\n"), *end = strstr(req, "\r\n\r\n");
	const char *v, *e;
	size_t nl = strlen(name);

	for (; p != NULL && p < end; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			v = p + 3 + nl;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			return strndup(v, (size_t)(e - v));
		}
	}
	return NULL;
}

static int
header_count(const char *req, const char *prefix)
{
	const char *p = strstr(req, "\r\n"), *end = strstr(req, "\r\n\r\n");
	int n = 0;

	for (; p != NULL && p < end; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static const char *
body_of(const char *req)
{
	return strstr(req, "\r\n\r\n") + 4;
}

static char *
request_line(const char *req)
{
	return strndup(req, (size_t)(strstr(req, "\r\n") - req));
}

#define is_header(req, name, want, ...)                                        \
	do {                                                                   \
		char *h_ = header((req), (name));                              \
		is_str(h_, (want), __VA_ARGS__);                               \
		free(h_);                                                      \
	} while (0)

/* ---- running deliveries -------------------------------------------------- */

struct got {
	int done;
	enum deliver_outcome outcome;
	int status;
	char *error;
	unsigned char *response;
	size_t response_len;
	int64_t retry_after_ms, duration_ms, started_at;
	char *allowed_origin;
};

static void
on_done(void *arg, const struct deliver_result *r)
{
	struct got *g = arg;

	g->done++;
	g->outcome = r->outcome;
	g->status = r->http_status;
	g->error = r->error != NULL ? strdup(r->error) : NULL;
	g->response = NULL;
	if (r->response != NULL) {
		g->response = malloc(r->response_len + 1);
		memcpy(g->response, r->response, r->response_len + 1);
	}
	g->response_len = r->response_len;
	g->retry_after_ms = r->retry_after_ms;
	g->duration_ms = r->duration_ms;
	g->started_at = r->started_at;
	g->allowed_origin =
	    r->allowed_origin != NULL ? strdup(r->allowed_origin) : NULL;
}

static void
got_free(struct got *g)
{
	free(g->error);
	free(g->response);
	free(g->allowed_origin);
	memset(g, 0, sizeof *g);
}

static void
wait_done(struct deliver *d, struct got *g)
{
	int64_t end = now_ms() + 15000;

	while (!g->done && now_ms() < end)
		deliver_run(d, 200);
}

static struct cloudevent *
event(const char *json)
{
	struct ce_list l;
	struct ce_problem pr;
	struct cloudevent *ev;

	memset(&pr, 0, sizeof pr);
	if (cloudevent_parse_http("application/cloudevents+json", NULL, 0, json,
	        strlen(json), &l, &pr) != 0) {
		printf("# bad test event %s\n", json);
		exit(1);
	}
	ev = l.ev[0];
	l.ev[0] = NULL;
	ce_list_free(&l);
	return ev;
}

static char *
json_of(const struct cloudevent *ev)
{
	struct buf b;

	buf_init(&b, 0);
	cloudevent_write_json(ev, 1, &b);
	return buf_take(&b, NULL);
}

static struct cloudevent *ev1, *ev2, *evbin;
static struct deliver_options opts = {.user_agent = "sluice/test"};

/* Delivers msgs to sink s with sub (its sink URL filled in here). */
static void
deliver_one(struct deliver *d, struct sink *s, struct deliver_sub *sub,
    const struct deliver_msg *msgs, size_t n, struct got *g)
{
	char url[128];

	if (s != NULL)
		snprintf(
		    url, sizeof url, "http://127.0.0.1:%d/hook?x=1", s->port);
	if (sub->sink == NULL)
		sub->sink = url;
	memset(g, 0, sizeof *g);
	if (deliver_start(d, sub, msgs, n, on_done, g) != 0) {
		ok(0, "deliver_start");
		return;
	}
	wait_done(d, g);
	if (sub->sink == url)
		sub->sink = NULL;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_structured(struct deliver *d, struct sink *s)
{
	const char *hdrs[] = {"X-Token", "abc def", "Content-Type", "evil",
	    "X-Bad", "a\r\nInjected: 1", "X-Empty", "", NULL};
	struct deliver_sub sub = {.id = 1, .headers = hdrs, .timeout_ms = 5000};
	struct deliver_msg m[2] = {{"msg_1", ev1, NULL}, {"msg_2", ev2, NULL}};
	struct got g;
	char *req, *line, *j1 = json_of(ev1), *j2 = json_of(ev2), *want;
	size_t len;

	sink_set(s, ACT_RESPOND, 200, "X-Sink: yes\r\n", "ok");
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.done, 1, "structured: done called once");
	is_int(g.outcome, DELIVER_OK, "structured: 200 is OK");
	is_int(g.status, 200, "structured: status");
	ok(g.error == NULL, "structured: no error");
	ok(g.response_len == 2 && memcmp(g.response, "ok", 2) == 0,
	    "structured: response body kept");
	is_int(g.retry_after_ms, -1, "structured: no Retry-After");
	ok(g.started_at > 1600000000000LL, "started_at is wall-clock ms");
	req = sink_request(s, &len);
	is_str(line = request_line(req), "POST /hook?x=1 HTTP/1.1",
	    "structured: method and path");
	free(line);
	is_header(req, "Content-Type", "application/cloudevents+json",
	    "structured: content type (the subscription's cannot override)");
	is_int(header_count(req, "Content-Type:"), 1, "one Content-Type");
	is_header(req, "User-Agent", "sluice/test", "User-Agent");
	is_header(req, "X-Token", "abc def", "custom header");
	is_header(req, "X-Empty", "", "custom header with an empty value");
	ok(header(req, "X-Bad") == NULL && header(req, "Injected") == NULL,
	    "a header value with CRLF is not sent");
	ok(header(req, "Expect") == NULL, "no Expect: 100-continue");
	ok(header(req, "webhook-signature") == NULL, "unsigned without secret");
	is_str(body_of(req), j1, "structured: body is the event's JSON");
	free(req);
	got_free(&g);

	deliver_one(d, s, &sub, m, 2, &g);
	is_int(g.outcome, DELIVER_OK, "batch: OK");
	req = sink_request(s, &len);
	is_header(req, "Content-Type", "application/cloudevents-batch+json",
	    "batch: content type");
	want = xasprintf("[%s,%s]", j1, j2);
	is_str(body_of(req), want, "batch: a JSON array of both events");
	free(want);
	free(req);
	got_free(&g);

	sub.wrap_in_list = 1;
	deliver_one(d, s, &sub, m, 1, &g);
	req = sink_request(s, &len);
	is_header(req, "Content-Type", "application/cloudevents-batch+json",
	    "wrap_in_list: batch content type for one event");
	want = xasprintf("[%s]", j1);
	is_str(body_of(req), want, "wrap_in_list: a list of one");
	free(want);
	free(req);
	got_free(&g);
	free(j1);
	free(j2);
}

static void
test_binary(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {
	    .binary = 1, .http_method = "PUT", .timeout_ms = 5000};
	struct deliver_msg m = {"msg_b", evbin, NULL};
	struct got g;
	char *req, *line;
	size_t len;

	sink_set(s, ACT_RESPOND, 202, "", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "binary: 202 is OK");
	ok(g.response == NULL && g.response_len == 0, "empty response body");
	req = sink_request(s, &len);
	is_str(
	    line = request_line(req), "PUT /hook?x=1 HTTP/1.1", "binary: PUT");
	free(line);
	is_header(req, "Content-Type", "text/plain; charset=utf-8",
	    "binary: Content-Type is datacontenttype");
	is_header(req, "ce-specversion", "1.0", "ce-specversion");
	is_header(req, "ce-id", "b%201", "ce-id percent-encoded");
	is_header(req, "ce-source", "/s", "ce-source");
	is_header(req, "ce-type", "t.bin", "ce-type");
	is_header(req, "ce-myext", "a%20b%22c%25d%C3%A9~",
	    "ce-myext: space, "
	    "quote, percent and UTF-8 encoded");
	is_header(req, "ce-count", "42", "integer extension");
	ok(header(req, "ce-datacontenttype") == NULL,
	    "no ce-datacontenttype header");
	is_int(header_count(req, "ce-"), 6, "six ce- headers");
	is_str(body_of(req), "caf\xc3\xa9 <data>\n", "binary: body is data");
	free(req);
	got_free(&g);

	/* No data, no type: no Content-Type at all, empty body. */
	sub.http_method = "DELETE";
	deliver_one(d, s, &sub, (struct deliver_msg[]){{"m", ev2, NULL}}, 1, &g);
	req = sink_request(s, &len);
	is_str(line = request_line(req), "DELETE /hook?x=1 HTTP/1.1", "DELETE");
	free(line);
	ok(header(req, "Content-Type") == NULL, "no data: no Content-Type");
	is_header(req, "Content-Length", "0", "no data: empty body");
	free(req);
	got_free(&g);

	sub.binary = 0;
	sub.http_method = "GET";
	deliver_one(d, s, &sub, &m, 1, &g);
	req = sink_request(s, &len);
	is_str(line = request_line(req), "GET /hook?x=1 HTTP/1.1",
	    "GET carries the event as a body");
	free(line);
	ok(strlen(body_of(req)) > 10 && body_of(req)[0] == '{',
	    "GET: structured body sent");
	free(req);
	got_free(&g);

	sub.http_method = "PATCH";
	deliver_one(d, s, &sub, &m, 1, &g);
	req = sink_request(s, &len);
	ok(strncmp(req, "PATCH /hook", 11) == 0, "PATCH");
	free(req);
	got_free(&g);
}

static void
test_soap(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {.soap = 1,
	    .soap_version = "1.1",
	    .soap_action = "urn:notify",
	    .timeout_ms = 5000};
	struct deliver_msg m[2] = {{"msg_1", ev1, NULL}, {"msg_2", ev2, NULL}};
	const struct cloudevent *evs[2] = {ev1, ev2};
	struct got g;
	struct buf want;
	char *req;
	size_t len;
	static const char fault11[] =
	    "<?xml version=\"1.0\"?>"
	    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
	    "envelope/\"><soap:Body><soap:Fault><faultcode>soap:Server"
	    "</faultcode><faultstring>no</faultstring></soap:Fault>"
	    "</soap:Body></soap:Envelope>";
	static const char fault12[] =
	    "<e:Envelope xmlns:e=\"http://www.w3."
	    "org/2003/05/soap-envelope\"><e:Body><e:Fault><e:Code><e:Value>"
	    "e:Receiver</e:Value></e:Code></e:Fault></e:Body></e:Envelope>";
	static const char fine[] =
	    "<soap:Envelope xmlns:soap=\"http://"
	    "schemas.xmlsoap.org/soap/envelope/\"><soap:Body><r>ok</r>"
	    "</soap:Body></soap:Envelope>";

	buf_init(&want, 0);
	sink_set(s, ACT_RESPOND, 200, "Content-Type: text/xml\r\n", fine);
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "SOAP 1.1: 200 without Fault is OK");
	req = sink_request(s, &len);
	is_header(req, "Content-Type", "text/xml; charset=utf-8",
	    "SOAP 1.1 content type");
	is_header(req, "SOAPAction", "\"urn:notify\"", "SOAPAction quoted");
	if (soapxml_write_envelope("1.1", evs, 1, 0, &want) != 0)
		abort();
	is_str(body_of(req), want.data, "SOAP 1.1 body: the envelope");
	free(req);
	got_free(&g);

	sub.soap_version = "1.2";
	deliver_one(d, s, &sub, m, 2, &g);
	req = sink_request(s, &len);
	is_header(req, "Content-Type",
	    "application/soap+xml; charset=utf-8; "
	    "action=\"urn:notify\"",
	    "SOAP 1.2 content type with action");
	ok(header(req, "SOAPAction") == NULL, "SOAP 1.2: no SOAPAction");
	buf_reset(&want);
	if (soapxml_write_envelope("1.2", evs, 2, 0, &want) != 0)
		abort();
	is_str(body_of(req), want.data, "SOAP 1.2 batch body");
	ok(strstr(body_of(req), "<batch") != NULL, "batch element");
	free(req);
	got_free(&g);
	buf_free(&want);

	sink_set(s, ACT_RESPOND, 200, "Content-Type: text/xml\r\n", fault11);
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "SOAP 1.1 Fault in a 200: app error");
	is_int(g.status, 200, "status still 200");
	ok(g.error != NULL && strstr(g.error, "SOAP Fault") != NULL,
	    "error says SOAP Fault: %s", g.error ? g.error : "");
	ok(g.response != NULL && strstr((char *)g.response, "faultstring"),
	    "response excerpt holds the Fault");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 200, "", fault12);
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "SOAP 1.2 Fault in a 200: app error");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 500, "", fault11);
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "SOAP Fault in a 500: app error");
	is_int(g.status, 500, "status 500");
	got_free(&g);

	/* A REST endpoint answering Fault-looking XML is not SOAP. */
	sub.soap = 0;
	sink_set(s, ACT_RESPOND, 200, "", fault11);
	deliver_one(d, s, &sub, m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "REST: Fault text in a 200 is OK");
	got_free(&g);
}

static void
test_statuses(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	char big[5001], hdr[128], date[64];
	struct got g;
	time_t t;

	sink_set(s, ACT_RESPOND, 500, "", "boom");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "500: app error");
	is_int(g.status, 500, "500 status");
	is_str(g.error, "HTTP 500", "500 error text");
	ok(g.response_len == 4 && strcmp((char *)g.response, "boom") == 0,
	    "500 body kept");
	is_int(g.retry_after_ms, -1, "no Retry-After on 500");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 404, "Retry-After: 5\r\n", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "404: app error");
	is_int(g.retry_after_ms, -1, "Retry-After ignored on 404");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 301, "Location: http://127.0.0.1:1/\r\n", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "301 not followed: app error");
	is_int(g.status, 301, "301 status");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 429, "Retry-After: 7\r\n", "slow down");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "429: app error");
	is_int(g.retry_after_ms, 7000, "429 Retry-After: 7 -> 7000 ms");
	got_free(&g);

	t = time(NULL) + 20;
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	snprintf(hdr, sizeof hdr, "Retry-After: %s\r\n", date);
	sink_set(s, ACT_RESPOND, 503, hdr, "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "503: app error");
	ok(g.retry_after_ms >= 18000 && g.retry_after_ms <= 21000,
	    "503 Retry-After HTTP-date 20 s ahead -> %lld ms",
	    (long long)g.retry_after_ms);
	got_free(&g);

	sink_set(s, ACT_RESPOND, 429, "Retry-After: soon\r\n", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.retry_after_ms, -1, "unparsable Retry-After ignored");
	got_free(&g);

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[1024] = 'b';
	sink_set(s, ACT_RESPOND, 200, "", big);
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "5000-byte answer: OK");
	is_int(g.response_len, 1024, "response excerpt capped at 1 KiB");
	ok(g.response != NULL && g.response[1023] == 'a' &&
	        g.response[1024] == '\0',
	    "excerpt is the first 1024 bytes");
	got_free(&g);
}

static void
test_transport(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct got g;
	char url[128];
	int64_t t0;
	int port;

	sink_set(s, ACT_CLOSE, 0, "", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(
	    g.outcome, DELIVER_TRANSPORT, "closed without answer: transport");
	is_int(g.status, 0, "no status");
	ok(g.error != NULL && *g.error != '\0', "curl's error: %s",
	    g.error ? g.error : "");
	got_free(&g);

	sink_set(s, ACT_PARTIAL, 200, "", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "200 with a cut body: transport");
	ok(g.error != NULL, "partial: %s", g.error ? g.error : "");
	got_free(&g);

	sink_set(s, ACT_HANG, 0, "", "");
	sub.timeout_ms = 300;
	t0 = now_ms();
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "hang past timeout: transport");
	ok(g.duration_ms >= 290 && g.duration_ms <= 800,
	    "timeout 300 ms took %lld ms", (long long)g.duration_ms);
	ok(now_ms() - t0 < 1500, "and returned promptly");
	ok(g.error != NULL && strstr(g.error, "timed out") != NULL,
	    "timeout error: %s", g.error ? g.error : "");
	got_free(&g);
	sub.timeout_ms = 5000;

	/* Nothing listening. */
	{
		struct sink *gone = sink_start();

		port = gone->port;
		sink_stop(gone);
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	sub.sink = url;
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "connection refused: transport");
	ok(g.error != NULL, "refused: %s", g.error ? g.error : "");
	got_free(&g);

	/* TLS to a sink that speaks plain HTTP. */
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", s->port);
	sink_set(s, ACT_RESPOND, 200, "", "ok");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "TLS failure: transport");
	ok(g.error != NULL, "TLS: %s", g.error ? g.error : "");
	got_free(&g);

	sub.sink = "http://no-such-host.invalid/";
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "DNS failure: transport");
	got_free(&g);
}

static void
test_huge(struct sink *s)
{
	struct deliver_options o = opts;
	struct deliver_sub sub = {.timeout_ms = 10000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct deliver *d;
	struct got g;
	long sent;
	char *cause = NULL;

	o.max_response = 256 * 1024;
	d = deliver_new(&o, &cause);
	sink_set(s, ACT_HUGE, 200, "", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "200 with a 100 MB body: OK (accepted)");
	is_int(g.response_len, 1024, "huge: excerpt 1 KiB");
	pthread_mutex_lock(&s->mu);
	sent = s->sent;
	pthread_mutex_unlock(&s->mu);
	ok(sent < 32L * 1024 * 1024,
	    "huge: transfer cut off early (sink wrote %ld of %ld bytes)", sent,
	    HUGE_BYTES);
	got_free(&g);

	sink_set(s, ACT_HUGE, 500, "", "");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_APP, "500 with a 100 MB body: app error");
	is_int(g.status, 500, "huge 500: status");
	got_free(&g);
	deliver_free(d);
}

static void
test_reuse(void)
{
	struct sink *s = sink_start();
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct deliver *d;
	struct got g;
	char *cause = NULL;
	int i;

	d = deliver_new(&opts, &cause);
	for (i = 0; i < 3; i++) {
		deliver_one(d, s, &sub, &m, 1, &g);
		got_free(&g);
	}
	is_int(sink_count(s, &s->requests), 3, "reuse: three requests");
	is_int(sink_count(s, &s->accepts), 1,
	    "reuse: on one TCP connection (one accept)");
	deliver_free(d);
	sink_stop(s);
}

static void
test_deny(struct sink *s)
{
	struct deliver_options o = opts;
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct deliver *d;
	struct got g;
	char *cause = NULL;
	int before;

	o.sink_deny = "10.0.0.0/8, 127.0.0.0/8,::1/128";
	d = deliver_new(&o, &cause);
	ok(d != NULL, "deny list parsed");
	before = sink_count(s, &s->accepts);
	sink_set(s, ACT_RESPOND, 200, "", "ok");
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "127.0.0.0/8 denied: transport");
	is_str(g.error, "sink address denied: 127.0.0.1", "denied error");
	is_int(sink_count(s, &s->accepts), before, "sink never connected");
	got_free(&g);
	deliver_free(d);

	o.sink_deny = "10.0.0.0/8,::1,fc00::/7,127.0.0.2/32";
	d = deliver_new(&o, &cause);
	deliver_one(d, s, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "a deny list not covering it: OK");
	got_free(&g);
	deliver_free(d);

	o.sink_deny = "127.0.0.1/33";
	ok(deliver_new(&o, &cause) == NULL && cause != NULL,
	    "bad prefix refused: %s", cause ? cause : "");
	free(cause);
	cause = NULL;
	o.sink_deny = "10.0.0.0/8,localhost";
	ok(deliver_new(&o, &cause) == NULL && cause != NULL,
	    "a name refused: %s", cause ? cause : "");
	free(cause);
}

static void
test_handshake(struct deliver *d, struct sink *s)
{
	const char *hdrs[] = {"Authorization", "Bearer t", NULL};
	struct deliver_sub sub = {.timeout_ms = 5000, .headers = hdrs};
	struct got g;
	char url[128], *req, *line;
	size_t len;

	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", s->port);
	sub.sink = url;
	sink_set(s, ACT_RESPOND, 200,
	    "WebHook-Allowed-Origin: sluice.example\r\n", "");
	memset(&g, 0, sizeof g);
	ok(deliver_handshake(d, &sub, "sluice.example", on_done, &g) == 0,
	    "handshake started");
	wait_done(d, &g);
	is_int(g.outcome, DELIVER_OK, "handshake allowed");
	is_str(g.allowed_origin, "sluice.example", "allowed_origin");
	req = sink_request(s, &len);
	is_str(line = request_line(req), "OPTIONS /hook HTTP/1.1", "OPTIONS");
	free(line);
	is_header(req, "WebHook-Request-Origin", "sluice.example",
	    "WebHook-Request-Origin");
	is_header(req, "Authorization", "Bearer t", "handshake: custom header");
	free(req);
	got_free(&g);

	sink_set(s, ACT_RESPOND, 200, "WebHook-Allowed-Origin: *\r\n", "");
	if (deliver_handshake(d, &sub, "sluice.example", on_done, &g) != 0)
		abort();
	wait_done(d, &g);
	is_int(g.outcome, DELIVER_OK, "handshake: * allows any origin");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 200, "WebHook-Allowed-Origin: other\r\n", "");
	if (deliver_handshake(d, &sub, "sluice.example", on_done, &g) != 0)
		abort();
	wait_done(d, &g);
	is_int(g.outcome, DELIVER_APP, "handshake: another origin refused");
	is_str(g.allowed_origin, "other", "allowed_origin shows what it said");
	got_free(&g);

	sink_set(s, ACT_RESPOND, 405, "", "");
	if (deliver_handshake(d, &sub, "sluice.example", on_done, &g) != 0)
		abort();
	wait_done(d, &g);
	is_int(g.outcome, DELIVER_APP, "handshake: 405 refused");
	ok(g.allowed_origin == NULL, "no allowed origin");
	got_free(&g);

	sub.sink = "http://127.0.0.1:1/";
	if (deliver_handshake(d, &sub, "sluice.example", on_done, &g) != 0)
		abort();
	wait_done(d, &g);
	is_int(g.outcome, DELIVER_TRANSPORT, "handshake: no listener");
	got_free(&g);
}

static char *
hmac_b64(const void *key, size_t klen, const char *msg)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *b64, *sig;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	    strlen(msg), md, &n);
	b64 = cloudevent_base64_encode(md, n);
	sig = xasprintf("v1,%s", b64);
	free(b64);
	return sig;
}

static void
test_signing(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {.timeout_ms = 5000,
	    .secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
	struct deliver_msg m[2] = {
	    {"msg_p5jXN8AQM9LWM0D4loKWxJek", ev1, NULL}, {"msg_2", ev2, NULL}};
	char *sig, *req, *id, *ts, *got, *want;
	const char *body = "{\"test\": 2432232314}";
	struct got g;
	size_t len;
	long long t;

	sig = deliver_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body));
	is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	    "Standard Webhooks test vector");
	free(sig);
	sig = deliver_sign("rawsecret", "id1", 5, "b", 1);
	is_str(sig, want = hmac_b64("rawsecret", 9, "id1.5.b"),
	    "a secret without whsec_ is used as raw bytes");
	free(sig);
	free(want);
	sig = deliver_sign("whsec_c2VjcmV0c2VjcmV0c2VjcmV0eA", "id1", 5, "b", 1);
	is_str(sig, want = hmac_b64("secretsecretsecretx", 19, "id1.5.b"),
	    "whsec_ with unpadded base64 is decoded, as standardwebhooks does");
	free(sig);
	free(want);

	sink_set(s, ACT_RESPOND, 200, "", "");
	deliver_one(d, s, &sub, m, 2, &g);
	got_free(&g);
	req = sink_request(s, &len);
	id = header(req, "webhook-id");
	ts = header(req, "webhook-timestamp");
	got = header(req, "webhook-signature");
	is_str(id, "msg_p5jXN8AQM9LWM0D4loKWxJek",
	    "webhook-id is the first message's id");
	t = ts != NULL ? atoll(ts) : 0;
	ok(t >= (long long)time(NULL) - 5 && t <= (long long)time(NULL),
	    "webhook-timestamp is now (%s)", ts ? ts : "");
	sig = deliver_sign(
	    sub.secret, id ? id : "", t, body_of(req), strlen(body_of(req)));
	is_str(got, sig, "webhook-signature signs id.timestamp.body");
	free(sig);
	free(id);
	free(ts);
	free(got);
	free(req);

	deliver_one(d, s, &sub, m, 1, &g);
	got_free(&g);
	req = sink_request(s, &len);
	is_header(req, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
	    "webhook-id stable across retries");
	free(req);
}

/* ---- TLS --------------------------------------------------------------- */

/* A TLS sink: answers every request 200 "ok" over one TLS connection each. */
struct tls_sink {
	int lfd, port;
	SSL_CTX *ctx;
	pthread_t th;
	atomic_int stop;
};

static void
tls_serve(struct tls_sink *t, int fd)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	                             "Connection: close\r\n\r\nok";
	char in[8192];
	size_t len = 0;
	SSL *ssl = SSL_new(t->ctx);
	int r;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		while (len < sizeof in - 1 &&
		    (r = SSL_read(ssl, in + len, (int)(sizeof in - 1 - len))) >
		        0) {
			len += (size_t)r;
			in[len] = '\0';
			if (strstr(in, "\r\n\r\n") != NULL)
				break;
		}
		SSL_write(ssl, answer, (int)strlen(answer));
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
}

static void *
tls_main(void *arg)
{
	struct tls_sink *t = arg;
	struct pollfd p;
	struct timeval tv = {2, 0};
	int fd;

	while (!atomic_load(&t->stop)) {
		p.fd = t->lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 20) <= 0 ||
		    (fd = accept(t->lfd, NULL, NULL)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		tls_serve(t, fd);
	}
	return NULL;
}

/* Makes a self-signed certificate for 127.0.0.1 in dir; 0 on success. */
static int
tls_cert(const char *dir)
{
	char *cmd;
	int rc;

	cmd = xasprintf("openssl req -x509 -newkey ec -pkeyopt "
	                "ec_paramgen_curve:prime256v1 -nodes -days 1 "
	                "-subj /CN=127.0.0.1 -addext "
	                "subjectAltName=IP:127.0.0.1 -keyout %s/key.pem "
	                "-out %s/cert.pem >/dev/null 2>&1",
	    dir, dir);
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
test_tls(void)
{
	char dir[] = "/tmp/test_deliverXXXXXX", path[256], url[128];
	struct deliver_options o = opts;
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	struct tls_sink t;
	struct deliver *d;
	struct got g;
	char *cause = NULL;

	if (mkdtemp(dir) == NULL || tls_cert(dir) != 0) {
		ok(1, "# SKIP openssl cannot make a test certificate");
		return;
	}
	memset(&t, 0, sizeof t);
	t.ctx = SSL_CTX_new(TLS_server_method());
	snprintf(path, sizeof path, "%s/cert.pem", dir);
	SSL_CTX_use_certificate_file(t.ctx, path, SSL_FILETYPE_PEM);
	snprintf(path, sizeof path, "%s/key.pem", dir);
	SSL_CTX_use_PrivateKey_file(t.ctx, path, SSL_FILETYPE_PEM);
	t.lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(t.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(t.lfd, 8) != 0 ||
	    getsockname(t.lfd, (struct sockaddr *)&sa, &salen) != 0)
		abort();
	t.port = ntohs(sa.sin_port);
	atomic_init(&t.stop, 0);
	pthread_create(&t.th, NULL, tls_main, &t);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/hook", t.port);
	sub.sink = url;

	d = deliver_new(&o, &cause);
	deliver_one(d, NULL, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_TRANSPORT,
	    "TLS: a self-signed certificate is refused by default");
	ok(g.error != NULL, "TLS verification error: %s",
	    g.error ? g.error : "");
	got_free(&g);
	deliver_free(d);

	o.insecure_tls = 1;
	d = deliver_new(&o, &cause);
	deliver_one(d, NULL, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "TLS: insecure_tls accepts it");
	ok(g.response_len == 2 && memcmp(g.response, "ok", 2) == 0,
	    "TLS: the answer read over TLS");
	got_free(&g);
	deliver_free(d);

	o.insecure_tls = 0;
	snprintf(path, sizeof path, "%s/cert.pem", dir);
	o.ca_file = path;
	d = deliver_new(&o, &cause);
	deliver_one(d, NULL, &sub, &m, 1, &g);
	is_int(g.outcome, DELIVER_OK, "TLS: verified against ca_file");
	got_free(&g);
	deliver_free(d);

	atomic_store(&t.stop, 1);
	pthread_join(t.th, NULL);
	close(t.lfd);
	SSL_CTX_free(t.ctx);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
}

struct waker {
	struct deliver *d;
	int delay_ms;
};

static void *
waker_main(void *arg)
{
	struct waker *w = arg;

	usleep((useconds_t)w->delay_ms * 1000);
	deliver_wakeup(w->d);
	return NULL;
}

static void
test_run(struct deliver *d, struct sink *s)
{
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct waker w = {d, 100};
	struct got g[3];
	pthread_t th;
	int64_t t0;
	char url[128];
	int i, n;

	t0 = now_ms();
	is_int(deliver_run(d, 150), 0, "idle run: nothing in flight");
	ok(now_ms() - t0 >= 140 && now_ms() - t0 < 1000,
	    "idle run waits its timeout (%lld ms)", (long long)(now_ms() - t0));

	pthread_create(&th, NULL, waker_main, &w);
	t0 = now_ms();
	deliver_run(d, 5000);
	pthread_join(th, NULL);
	ok(now_ms() - t0 < 1000,
	    "deliver_wakeup from another thread ends "
	    "a 5 s run after %lld ms",
	    (long long)(now_ms() - t0));

	memset(g, 0, sizeof g);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
	sub.sink = url;
	sink_set(s, ACT_RESPOND, 200, "", "");
	for (i = 0; i < 3; i++)
		if (deliver_start(d, &sub, &m, 1, on_done, &g[i]) != 0)
			abort();
	is_int(deliver_inflight(d), 3, "three in flight");
	t0 = now_ms();
	while ((g[0].done + g[1].done + g[2].done) < 3 && now_ms() - t0 < 10000)
		deliver_run(d, 200);
	is_int(g[0].done + g[1].done + g[2].done, 3, "all three done once");
	is_int(deliver_inflight(d), 0, "none in flight");
	for (i = 0; i < 3; i++)
		got_free(&g[i]);

	n = 0;
	n += deliver_start(d, &sub, &m, 0, on_done, g) == -1;
	sub.binary = 1;
	n += deliver_start(
	         d, &sub, (struct deliver_msg[]){m, m}, 2, on_done, g) == -1;
	sub.binary = 0;
	sub.soap = 1;
	sub.soap_version = "1.3";
	n += deliver_start(d, &sub, &m, 1, on_done, g) == -1;
	sub.soap = 0;
	sub.http_method = "TRACE";
	n += deliver_start(d, &sub, &m, 1, on_done, g) == -1;
	sub.http_method = NULL;
	sub.sink = NULL;
	n += deliver_start(d, &sub, &m, 1, on_done, g) == -1;
	is_int(n, 5, "requests that cannot be built are refused");
	is_int(deliver_inflight(d), 0, "and nothing is in flight");
	deliver_run(d, 10);
	is_int(g[0].done, 0, "done never called for them");
}

/* Many idle transfers (a hanging sink) beside a healthy one. */
static void
test_idle_neighbours(struct sink *s)
{
	struct sink *hang = sink_start();
	struct deliver_sub hsub = {.timeout_ms = 30000};
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct got idle[50], g;
	struct deliver *d;
	char url[128], *cause = NULL;
	int64_t t0, alone, beside;
	int i, okn = 0;

	d = deliver_new(&opts, &cause);
	sink_set(s, ACT_RESPOND, 200, "", "ok");
	t0 = now_ms();
	for (i = 0; i < 20; i++) {
		deliver_one(d, s, &sub, &m, 1, &g);
		okn += g.outcome == DELIVER_OK;
		got_free(&g);
	}
	alone = now_ms() - t0;
	sink_set(hang, ACT_HANG, 0, "", "");
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", hang->port);
	hsub.sink = url;
	memset(idle, 0, sizeof idle);
	for (i = 0; i < 50; i++)
		if (deliver_start(d, &hsub, &m, 1, on_done, &idle[i]) != 0)
			abort();
	t0 = now_ms();
	while (sink_count(hang, &hang->requests) < 50 && now_ms() - t0 < 5000)
		deliver_run(d, 20);
	is_int(sink_count(hang, &hang->requests), 50,
	    "50 requests hang at one sink");
	t0 = now_ms();
	for (i = 0; i < 20; i++) {
		deliver_one(d, s, &sub, &m, 1, &g);
		okn += g.outcome == DELIVER_OK;
		got_free(&g);
	}
	beside = now_ms() - t0;
	is_int(okn, 40, "a healthy sink is served beside them");
	is_int(deliver_inflight(d), 50, "the hanging ones are still in flight");
	ok(beside <= 5 * alone + 500, "and not much slower (%lld vs %lld ms)",
	    (long long)beside, (long long)alone);
	printf("# 20 sequential deliveries: %lld ms alone, %lld ms beside 50 "
	       "hanging transfers\n",
	    (long long)alone, (long long)beside);
	deliver_free(d);
	for (i = 0; i < 50; i++)
		got_free(&idle[i]);
	sink_stop(hang);
}

static void
test_free_inflight(struct sink *s)
{
	struct deliver_sub sub = {.timeout_ms = 5000};
	struct deliver_msg m = {"msg_1", ev1, NULL};
	struct deliver *d;
	struct got g;
	char url[128], *cause = NULL;

	memset(&g, 0, sizeof g);
	d = deliver_new(&opts, &cause);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
	sub.sink = url;
	sink_set(s, ACT_HANG, 0, "", "");
	if (deliver_start(d, &sub, &m, 1, on_done, &g) != 0)
		abort();
	deliver_run(d, 50);
	deliver_free(d);
	is_int(g.done, 0, "deliver_free abandons a transfer in flight");
}

int
main(void)
{
	struct deliver *d;
	struct sink *s;
	char *cause = NULL;

	if (deliver_global_init(&cause) != 0) {
		printf("Bail out! %s\n", cause);
		return 1;
	}
	ev1 = event("{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/s\","
	            "\"type\":\"t\",\"datacontenttype\":\"application/json\","
	            "\"data\":{\"n\":1}}");
	ev2 = event("{\"specversion\":\"1.0\",\"id\":\"e2\",\"source\":\"/s\","
	            "\"type\":\"t\"}");
	evbin = event(
	    "{\"specversion\":\"1.0\",\"id\":\"b 1\",\"source\":"
	    "\"/s\",\"type\":\"t.bin\",\"datacontenttype\":\"text/plain; "
	    "charset=utf-8\",\"myext\":\"a b\\\"c%d\\u00e9~\",\"count\":42,"
	    "\"data\":\"caf\\u00e9 <data>\\n\"}");
	d = deliver_new(&opts, &cause);
	ok(d != NULL, "deliver_new");
	s = sink_start();
	test_structured(d, s);
	test_binary(d, s);
	test_soap(d, s);
	test_statuses(d, s);
	test_transport(d, s);
	test_huge(s);
	test_reuse();
	test_deny(s);
	test_handshake(d, s);
	test_signing(d, s);
	test_tls();
	test_run(d, s);
	test_idle_neighbours(s);
	test_free_inflight(s);
	deliver_free(d);
	sink_stop(s);
	cloudevent_free(ev1);
	cloudevent_free(ev2);
	cloudevent_free(evbin);
	deliver_global_cleanup();
	return tap_done();
}
