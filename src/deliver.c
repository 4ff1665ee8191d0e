/*
 * deliver.c: pushing events to one endpoint over HTTP with libcurl's multi
 * interface.  Builds the request body and headers for the subscription's
 * mode (REST structured, batch, binary; SOAP 1.1/1.2 via soapxml), signs it
 * (Standard Webhooks), enforces the sink address deny list at connect time,
 * reads at most max_response bytes of the answer, and classifies the
 * outcome: a 2xx is OK; no complete response is a transport error; a
 * complete non-2xx, or a SOAP Fault in a 2xx, is an application error.
 * Subscriptions check their sink URL here too, with libcurl's own parser.
 *
 * A response whose body passes max_response is cut off there (the transfer
 * is aborted, the rest never read) and classified by what was complete: the
 * status line and headers.  A 2xx with a huge body counts as delivered, as
 * the endpoint accepted the event; for SOAP the kept head of the body is
 * still searched for a Fault.
 *
 * Transfers run on libcurl's multi socket interface driven by epoll, so a
 * worker with many idle transfers (hanging sinks) only pays for the ones
 * whose sockets are ready; deliver_wakeup writes an eventfd in that set.
 *
 * The only file that includes curl/curl.h.  Owns: the multi handle (one
 * connection pool), the epoll and eventfd descriptors, the transfers in
 * flight and their buffers, idle easy handles kept for reuse.
 *
 * Threads: a struct deliver is used by the one thread that created it;
 * deliver_wakeup may be called from any thread; deliver_global_init and
 * deliver_global_cleanup by main before and after all threads.
 */
#include "autoconfig.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cloudevent.h"
#include "deliver.h"
#include "soapxml.h"

#define DELIVER_EXCERPT      1024 /* response bytes kept for the result */
#define DELIVER_FAULT_SCAN   (64 * 1024) /* SOAP bytes searched for a Fault */
#define DELIVER_MAX_RESPONSE (1024 * 1024)
#define DELIVER_HOST_CONNS   64
#define DELIVER_TIMEOUT_MS   30000
#define DELIVER_CONNECT_MS   10000
#define DELIVER_MAX_RETRY_S  (30LL * 24 * 3600) /* bound on Retry-After */
#define DELIVER_SPARES       32                 /* idle easy handles kept */
#define DELIVER_MAX_DENY     64

/* One CIDR of the deny list. */
struct deliver_cidr {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network address, 4 or 16 bytes */
	int bits;               /* prefix length */
};

struct deliver {
	CURLM *multi;
	char *ca_file;
	char *user_agent;
	int insecure_tls;
	size_t max_response;
	struct deliver_cidr deny[DELIVER_MAX_DENY];
	size_t ndeny;
	int inflight;
	struct deliver_xfer *live; /* transfers in the multi handle */
	atomic_int woken; /* set by deliver_wakeup, cleared by deliver_run */
	int epfd;         /* epoll: curl's sockets and evfd */
	int evfd;         /* eventfd written by deliver_wakeup */
	int64_t timer_at; /* curl's timeout (monotonic ms), -1: none */
	CURL *spare[DELIVER_SPARES];
	int nspare;
};

/* One request in flight. */
struct deliver_xfer {
	struct deliver *d;
	CURL *easy;
	struct curl_slist *headers;
	char *body;   /* request body (CURLOPT_POSTFIELDS points here) */
	char *origin; /* handshake: the origin asked for; NULL otherwise */
	int soap;
	char errbuf[CURL_ERROR_SIZE];
	struct buf keep; /* head of the response body */
	size_t keep_cap; /* bytes of it kept */
	size_t received; /* response body bytes read */
	int too_big;     /* aborted past max_response */
	int denied;      /* a connect was refused by the deny list */
	int sends;       /* times libcurl was about to send the request */
	char denied_addr[INET6_ADDRSTRLEN];
	char *retry_after; /* Retry-After of the last response */
	char *allowed_origin;
	char *allowed_rate;
	int64_t started_at;
	int64_t t0; /* monotonic ms */
	deliver_done_fn done;
	void *arg;
	CURLcode code;
	struct deliver_xfer *prev, *next; /* in d->live, or finished */
};

static int64_t
deliver_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deliver_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
deliver_global_init(char **cause)
{
	CURLcode rc;

	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		*cause =
		    xasprintf("curl_global_init: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

void
deliver_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- the sink address deny list ------------------------------------ */

static int
deliver_cidr_parse(const char *s, size_t len, struct deliver_cidr *c)
{
	char text[INET6_ADDRSTRLEN + 8], *slash, *end;
	long bits;
	int max;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof text)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	if ((slash = strchr(text, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, text, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->bits = max;
	if (slash != NULL) {
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max)
			return -1;
		c->bits = (int)bits;
	}
	return 0;
}

static int
deliver_deny_parse(struct deliver *d, const char *list, char **cause)
{
	const char *p = list, *comma;
	size_t len;

	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (d->ndeny == DELIVER_MAX_DENY) {
			*cause = xasprintf("sink_deny: more than %d entries",
			    DELIVER_MAX_DENY);
			return -1;
		}
		if (deliver_cidr_parse(p, len, &d->deny[d->ndeny]) != 0) {
			*cause = xasprintf("sink_deny: not a CIDR: %.*s",
			    (int)(len > 64 ? 64 : len), p);
			return -1;
		}
		d->ndeny++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int
deliver_deny_check(const char *list, char **cause)
{
	struct deliver *d = xcalloc(1, sizeof *d);
	int rc = deliver_deny_parse(d, list, cause);

	free(d);
	return rc;
}

static int
deliver_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* 1 if the address (4 or 16 bytes of family) is in the deny list. */
static int
deliver_denied(const struct deliver *d, int family, const unsigned char *a)
{
	static const unsigned char mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	size_t i;

	/* An IPv4-mapped IPv6 address is also checked as IPv4. */
	if (family == AF_INET6 && memcmp(a, mapped, 12) == 0 &&
	    deliver_denied(d, AF_INET, a + 12))
		return 1;
	for (i = 0; i < d->ndeny; i++)
		if (d->deny[i].family == family &&
		    deliver_prefix_eq(d->deny[i].addr, a, d->deny[i].bits))
			return 1;
	return 0;
}

static curl_socket_t
deliver_opensocket(
    void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct deliver_xfer *x = clientp;
	struct sockaddr_storage ss;
	const unsigned char *a = NULL;
	size_t len = sa->addrlen;

	memset(&ss, 0, sizeof ss);
	memcpy(&ss, &sa->addr, len < sizeof ss ? len : sizeof ss);
	if (sa->family == AF_INET)
		a = (const unsigned char *)&((struct sockaddr_in *)&ss)
		        ->sin_addr;
	else if (sa->family == AF_INET6)
		a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
	if (a == NULL || deliver_denied(x->d, sa->family, a)) {
		x->denied = 1;
		if (a == NULL ||
		    inet_ntop(sa->family, a, x->denied_addr,
		        sizeof x->denied_addr) == NULL)
			strcpy(x->denied_addr, "?");
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* ---- the event loop: curl's sockets in epoll ------------------------- */

/*
 * Adds fd to the epoll set (added 0), or changes what it waits for.  A
 * socket that was closed behind our back left the set with it: added
 * again.
 */
static int
deliver_watch(struct deliver *d, int fd, uint32_t events, int added)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.fd = fd;
	if (epoll_ctl(d->epfd, added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd,
	    &ev) == 0)
		return 0;
	if (errno == ENOENT && epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	if (errno == EEXIST && epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	return -1;
}

/*
 * curl says which of its sockets to wait for, and for what.  sockp (set
 * with curl_multi_assign, forgotten by curl at CURL_POLL_REMOVE) says
 * whether the socket is in the epoll set: a pooled connection leaves it
 * between requests, and adding it back costs one call, not a failed MOD
 * and an ADD.
 */
static int
deliver_on_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct deliver *d = arg;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (deliver_watch(d, fd, events, sockp != NULL) != 0)
		return -1;
	if (sockp == NULL)
		curl_multi_assign(d->multi, fd, d);
	return 0;
}

/* curl asks to be called back after timeout_ms (-1: never). */
static int
deliver_on_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct deliver *d = arg;

	d->timer_at = timeout_ms < 0 ? -1 : deliver_mono_ms() + timeout_ms;
	return 0;
}

/* ---- the handle ------------------------------------------------------ */

struct deliver *
deliver_new(const struct deliver_options *o, char **cause)
{
	struct deliver *d = xcalloc(1, sizeof *d);

	if (o->sink_deny != NULL &&
	    deliver_deny_parse(d, o->sink_deny, cause) != 0)
		goto fail;
	d->epfd = d->evfd = -1;
	d->timer_at = -1;
	if ((d->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (d->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    deliver_watch(d, d->evfd, EPOLLIN, 0) != 0) {
		*cause = xasprintf("epoll: %s", strerror(errno));
		goto fail;
	}
	if ((d->multi = curl_multi_init()) == NULL) {
		*cause = xstrdup("curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, deliver_on_socket);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, deliver_on_timer);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    o->max_host_connections > 0 ? o->max_host_connections
	                                : (long)DELIVER_HOST_CONNS);
	curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 256L);
	d->ca_file = o->ca_file != NULL ? xstrdup(o->ca_file) : NULL;
	d->user_agent =
	    xstrdup(o->user_agent != NULL ? o->user_agent : "sluice");
	d->insecure_tls = o->insecure_tls;
	d->max_response =
	    o->max_response > 0 ? o->max_response : DELIVER_MAX_RESPONSE;
	atomic_init(&d->woken, 0);
	return d;
fail:
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->evfd >= 0)
		close(d->evfd);
	free(d);
	return NULL;
}

static void
deliver_xfer_free(struct deliver_xfer *x)
{
	struct deliver *d = x->d;

	if (x->easy != NULL) {
		if (d->nspare < DELIVER_SPARES) {
			curl_easy_reset(x->easy);
			d->spare[d->nspare++] = x->easy;
		} else
			curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x->origin);
	buf_free(&x->keep);
	free(x->retry_after);
	free(x->allowed_origin);
	free(x->allowed_rate);
	free(x);
}

void
deliver_free(struct deliver *d)
{
	struct deliver_xfer *x;
	int i;

	if (d == NULL)
		return;
	while ((x = d->live) != NULL) {
		d->live = x->next;
		curl_multi_remove_handle(d->multi, x->easy);
		deliver_xfer_free(x);
	}
	for (i = 0; i < d->nspare; i++)
		curl_easy_cleanup(d->spare[i]);
	curl_multi_cleanup(d->multi);
	close(d->epfd);
	close(d->evfd);
	free(d->ca_file);
	free(d->user_agent);
	free(d);
}

int
deliver_inflight(struct deliver *d)
{
	return d->inflight;
}

void
deliver_wakeup(struct deliver *d)
{
	uint64_t one = 1;

	atomic_store(&d->woken, 1);
	if (write(d->evfd, &one, sizeof one) < 0 && errno != EAGAIN)
		return; /* the flag alone ends the next run */
}

/* ---- sink URLs ------------------------------------------------------- */

/*
 * libcurl's own parser decides, so that a URL accepted here is one that
 * CURLOPT_URL takes when the message is sent: CURLU_NON_SUPPORT_SCHEME is
 * off (only schemes this libcurl speaks), and the port is read back as
 * libcurl understood it.
 */
int
deliver_url_parse(const char *url, long *port, char **cause)
{
	CURLU *u;
	CURLUcode rc;
	char *p = NULL, *end;
	int ret = -1;

	*port = -1;
	*cause = NULL;
	if ((u = curl_url()) == NULL)
		abort(); /* out of memory, as xmalloc would */
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_BAD_PORT_NUMBER) {
		*cause = xstrdup("the port is not a number from 1 to 65535");
		goto done;
	}
	if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* curl_url_strerror: 7.80 */
		*cause = xasprintf("libcurl cannot use it: %s",
		    curl_url_strerror(rc));
#else
		*cause = xasprintf("libcurl cannot use it (CURLUcode %d)",
		    (int)rc);
#endif
		goto done;
	}
	rc = curl_url_get(u, CURLUPART_PORT, &p, 0);
	if (rc == CURLUE_OK) {
		*port = strtol(p, &end, 10);
		if (!isdigit((unsigned char)*p) || *end != '\0') {
			*cause = xstrdup("the port is not a number from 1 to "
			    "65535");
			goto done;
		}
	} else if (rc != CURLUE_NO_PORT) {
		*cause = xstrdup("libcurl cannot read its port");
		goto done;
	}
	ret = 0;
done:
	curl_free(p);
	curl_url_cleanup(u);
	return ret;
}

/* ---- signing --------------------------------------------------------- */

int
deliver_secret_key(const char *secret, unsigned char **key, size_t *len)
{
	size_t n;
	char *padded;
	int rc;

	if (strncmp(secret, "whsec_", 6) != 0)
		return -1;
	secret += 6;
	n = strlen(secret);
	if (n == 0 || n % 4 == 1)
		return -1;
	/* the standardwebhooks library takes the key with or without padding */
	padded = xasprintf("%s%s", secret, n % 4 == 2 ? "==" :
	    n % 4 == 3 ? "=" : "");
	rc = cloudevent_base64_decode(padded, strlen(padded), key, len);
	free(padded);
	if (rc == 0 && *len == 0) {
		free(*key);
		rc = -1;
	}
	return rc;
}

char *
deliver_sign(const char *secret, const char *id, int64_t timestamp,
    const void *body, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE], *key = NULL;
	unsigned int mdlen = 0;
	size_t keylen = 0;
	struct buf msg;
	char *b64, *sig;

	/* a secret stored before whsec_ was required signs with its bytes */
	if (deliver_secret_key(secret, &key, &keylen) != 0) {
		key = (unsigned char *)xstrdup(secret);
		keylen = strlen(secret);
	}
	buf_init(&msg, 0);
	buf_printf(&msg, "%s.%lld.", id, (long long)timestamp);
	if (len > 0 && buf_add(&msg, body, len) != 0)
		abort(); /* an uncapped buffer cannot refuse */
	HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)msg.data, msg.len,
	    md, &mdlen);
	b64 = cloudevent_base64_encode(md, mdlen);
	sig = xasprintf("v1,%s", b64);
	free(b64);
	buf_free(&msg);
	free(key);
	return sig;
}

/* ---- building a request ---------------------------------------------- */

/* Appends a line to the request headers in curl's syntax. */
static void
deliver_header_line(struct deliver_xfer *x, const char *line)
{
	struct curl_slist *l;

	if ((l = curl_slist_append(x->headers, line)) == NULL)
		abort(); /* curl's malloc failed: as xmalloc */
	x->headers = l;
}

/* Adds "name: value" (curl needs "name;" to send an empty value). */
static void
deliver_header(struct deliver_xfer *x, const char *name, const char *value)
{
	char *line;

	if (*value == '\0')
		line = xasprintf("%s;", name);
	else
		line = xasprintf("%s: %s", name, value);
	deliver_header_line(x, line);
	free(line);
}

/* 1 if a user header could break or override the request's own. */
static int
deliver_header_reserved(const char *name, const char *value)
{
	static const char *const own[] = {"content-type", "content-length",
	    "host", "transfer-encoding", "connection", "expect", "soapaction",
	    "webhook-id", "webhook-timestamp", "webhook-signature",
	    "webhook-request-origin"};
	const char *p;
	size_t i;

	if (*name == '\0' || strncasecmp(name, "ce-", 3) == 0)
		return 1;
	for (p = name; *p != '\0'; p++)
		if (*p <= ' ' || *p == ':' || *p == ';' || *p == 0x7f)
			return 1;
	for (p = value; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return 1;
	for (i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcasecmp(name, own[i]) == 0)
			return 1;
	return 0;
}

static void
deliver_user_headers(struct deliver_xfer *x, const struct deliver_sub *sub)
{
	const char *const *h, *origin;

	for (h = sub->headers; h != NULL && h[0] != NULL && h[1] != NULL;
	     h += 2)
		if (!deliver_header_reserved(h[0], h[1]))
			deliver_header(x, h[0], h[1]);
	/* the CloudEvents webhook spec (1.0.2): the handshake names its
	 * origin, and so does every delivery after it */
	origin = x->origin != NULL ? x->origin : sub->origin;
	if (origin != NULL)
		deliver_header(x, "WebHook-Request-Origin", origin);
}

/* The Content-Type of a binary-mode body. */
static const char *
deliver_binary_type(const struct cloudevent *ev)
{
	const char *ct = cloudevent_get(ev, "datacontenttype");

	if (ct != NULL)
		return ct;
	switch (ev->kind) {
	case CE_DATA_JSON:
		return "application/json";
	case CE_DATA_TEXT:
		return "text/plain; charset=utf-8";
	case CE_DATA_BINARY:
		return "application/octet-stream";
	default:
		return NULL;
	}
}

static void
deliver_binary(
    struct deliver_xfer *x, const struct cloudevent *ev, struct buf *body)
{
	const char *ct = deliver_binary_type(ev);
	char **h, **p;

	/* No data and no type: curl must not invent a form Content-Type. */
	if (ct != NULL)
		deliver_header(x, "Content-Type", ct);
	else
		deliver_header_line(x, "Content-Type:");
	h = soapxml_binary_headers(ev);
	for (p = h; *p != NULL; p += 2)
		deliver_header(x, p[0], p[1]);
	soapxml_strings_free(h);
	if (ev->data_len > 0 && buf_add(body, ev->data, ev->data_len) != 0)
		abort();
}

/* One event in the CloudEvents JSON format, parsed or as stored. */
static int
deliver_write_json(const struct deliver_msg *m, struct buf *body)
{
	if (m->ev != NULL) {
		cloudevent_write_json(m->ev, 1, body);
		return 0;
	}
	return m->stored != NULL ? cloudevent_write_stored(m->stored, body) :
	    -1;
}

/* Builds body and headers; -1 if the subscription cannot be served. */
static int
deliver_build(struct deliver_xfer *x, const struct deliver_sub *sub,
    const struct deliver_msg *msgs, size_t n, struct buf *body)
{
	const struct cloudevent **evs;
	char *ct, *action;
	size_t i;
	int rc;

	if (sub->soap) {
		if ((ct = soapxml_content_type(
		         sub->soap_version, sub->soap_action)) == NULL)
			return -1;
		evs = xcalloc(n, sizeof *evs);
		for (i = 0; i < n; i++)
			evs[i] = msgs[i].ev;
		rc = soapxml_write_envelope(
		    sub->soap_version, evs, n, sub->wrap_in_list, body);
		free(evs);
		deliver_header(x, "Content-Type", ct);
		free(ct);
		if (rc == 0 && strcmp(sub->soap_version, "1.1") == 0) {
			action = xasprintf("\"%s\"",
			    sub->soap_action != NULL ? sub->soap_action : "");
			for (i = 1; action[i] != '\0' && action[i + 1] != '\0';
			     i++)
				if (action[i] == '"' || action[i] == '\r' ||
				    action[i] == '\n')
					action[i] = ' ';
			deliver_header(x, "SOAPAction", action);
			free(action);
		}
		x->soap = 1;
		return rc;
	}
	if (sub->binary) {
		if (n != 1)
			return -1;
		deliver_binary(x, msgs[0].ev, body);
		return 0;
	}
	if (n == 1 && !sub->wrap_in_list) {
		deliver_header(
		    x, "Content-Type", "application/cloudevents+json");
		return deliver_write_json(&msgs[0], body);
	}
	deliver_header(x, "Content-Type", "application/cloudevents-batch+json");
	buf_addstr(body, "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addstr(body, ",");
		if (deliver_write_json(&msgs[i], body) != 0)
			return -1;
	}
	buf_addstr(body, "]");
	return 0;
}

static void
deliver_sign_headers(struct deliver_xfer *x, const struct deliver_sub *sub,
    const struct deliver_msg *msg, const char *body, size_t len)
{
	const char *id = msg->webhook_id;
	int64_t ts = (int64_t)time(NULL);
	char *sig, *old, *both, tsbuf[24];

	if (id == NULL && (msg->ev == NULL ||
	    (id = cloudevent_get(msg->ev, "id")) == NULL))
		id = "";
	sig = deliver_sign(sub->secret, id, ts, body, len);
	/* Standard Webhooks: a space-separated list, for secret rotation */
	if (sub->previous_secret != NULL) {
		old = deliver_sign(sub->previous_secret, id, ts, body, len);
		both = xasprintf("%s %s", sig, old);
		free(sig);
		free(old);
		sig = both;
	}
	snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)ts);
	deliver_header(x, "webhook-id", id);
	deliver_header(x, "webhook-timestamp", tsbuf);
	deliver_header(x, "webhook-signature", sig);
	free(sig);
}

/* ---- reading the response -------------------------------------------- */

static size_t
deliver_on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct deliver_xfer *x = arg;
	size_t n = size * nmemb, room;

	if (n > x->d->max_response - x->received) {
		x->too_big = 1;
		return 0; /* aborts the transfer: the rest is never read */
	}
	x->received += n;
	room = x->keep_cap - x->keep.len;
	if (room > 0 && buf_add(&x->keep, p, n < room ? n : room) != 0)
		abort();
	return n;
}

/* Stores a header value (trimmed, at most max bytes) into *dst. */
static void
deliver_header_value(const char *v, size_t len, size_t max, char **dst)
{
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	free(*dst);
	*dst = xstrndup(v, len < max ? len : max);
}

static size_t
deliver_on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct deliver_xfer *x = arg;
	size_t n = size * nmemb;

	/* A new status line (after a 1xx): forget the previous headers. */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		free(x->retry_after);
		free(x->allowed_origin);
		free(x->allowed_rate);
		x->retry_after = x->allowed_origin = x->allowed_rate = NULL;
	} else if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		deliver_header_value(p + 12, n - 12, 64, &x->retry_after);
	else if (n > 23 && strncasecmp(p, "WebHook-Allowed-Origin:", 23) == 0)
		deliver_header_value(p + 23, n - 23, 1024, &x->allowed_origin);
	else if (n > 21 && strncasecmp(p, "WebHook-Allowed-Rate:", 21) == 0)
		deliver_header_value(p + 21, n - 21, 64, &x->allowed_rate);
	return n;
}

/*
 * WebHook-Allowed-Rate: a positive number of requests per minute, or "*"
 * for no limit.  Anything else grants no limit either (0): the endpoint
 * allowed the origin, and a garbled rate is not a refusal.
 */
static int64_t
deliver_allowed_rate(const char *v)
{
	char *end;
	long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0)
		return 0;
	return (int64_t)n;
}

/* Retry-After (delta-seconds or an HTTP-date) in ms, or -1. */
static int64_t
deliver_retry_after(const char *v)
{
	long long s;
	time_t t;
	char *end;

	if (v == NULL || *v == '\0')
		return -1;
	if (isdigit((unsigned char)*v)) {
		s = strtoll(v, &end, 10);
		if (*end != '\0')
			return -1;
	} else {
		if ((t = curl_getdate(v, NULL)) == -1)
			return -1;
		s = (long long)(t - time(NULL));
		if (s < 0)
			s = 0;
	}
	if (s > DELIVER_MAX_RETRY_S)
		s = DELIVER_MAX_RETRY_S;
	return (int64_t)s * 1000;
}

/* curl's words for a failed transfer, without trailing blanks. */
static char *
deliver_curl_error(const struct deliver_xfer *x)
{
	char *e = xstrdup(
	    x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(x->code));
	size_t n = strlen(e);

	while (n > 0 && isspace((unsigned char)e[n - 1]))
		e[--n] = '\0';
	return e;
}

/* Fills r from a finished transfer. */
static void
deliver_classify(struct deliver_xfer *x, struct deliver_result *r)
{
	long status = 0;
	int complete;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	r->retry_after_ms = -1;
	/* Past max_response the status line and headers were complete. */
	complete = x->code == CURLE_OK || (x->too_big && status >= 100);
	if (!complete) {
		r->outcome = DELIVER_TRANSPORT;
		r->http_status = 0;
		if (x->denied)
			r->error = xasprintf(
			    "sink address denied: %s", x->denied_addr);
		else if (x->sends > 1)
			r->error = xstrdup("the connection closed without an "
			    "answer (a reused connection)");
		else
			r->error = deliver_curl_error(x);
		return;
	}
	if (status == 429 || status == 503)
		r->retry_after_ms = deliver_retry_after(x->retry_after);
	if (x->origin != NULL) {
		if (x->allowed_origin != NULL)
			r->allowed_origin = xstrdup(x->allowed_origin);
		r->allowed_rate = deliver_allowed_rate(x->allowed_rate);
		if (status < 200 || status > 299) {
			r->outcome = DELIVER_APP;
			r->error = xasprintf("HTTP %ld", status);
		} else if (x->allowed_origin == NULL ||
		    (strcmp(x->allowed_origin, "*") != 0 &&
		        strcasecmp(x->allowed_origin, x->origin) != 0)) {
			r->outcome = DELIVER_APP;
			r->error = xasprintf("origin %s not allowed "
			                     "(WebHook-Allowed-Origin: %s)",
			    x->origin,
			    x->allowed_origin != NULL ? x->allowed_origin
			                              : "none");
		} else
			r->outcome = DELIVER_OK;
		return;
	}
	if (x->soap && x->keep.len > 0 &&
	    soapxml_has_fault(x->keep.data, x->keep.len)) {
		r->outcome = DELIVER_APP;
		r->error = xasprintf("SOAP Fault (HTTP %ld)", status);
	} else if (status < 200 || status > 299) {
		r->outcome = DELIVER_APP;
		r->error = xasprintf("HTTP %ld", status);
	} else
		r->outcome = DELIVER_OK;
}

static void
deliver_finish(struct deliver_xfer *x)
{
	struct deliver_result r;
	size_t n;

	memset(&r, 0, sizeof r);
	deliver_classify(x, &r);
	r.started_at = x->started_at;
	r.duration_ms = deliver_mono_ms() - x->t0;
	if ((n = x->keep.len < DELIVER_EXCERPT ? x->keep.len
	                                       : DELIVER_EXCERPT) > 0) {
		r.response = xmalloc(n + 1);
		memcpy(r.response, x->keep.data, n);
		r.response[n] = '\0';
		r.response_len = n;
	}
	x->done(x->arg, &r);
	free(r.error);
	free(r.response);
	free(r.allowed_origin);
}

/* ---- running transfers ----------------------------------------------- */

static struct deliver_xfer *
deliver_xfer_new(struct deliver *d, const struct deliver_sub *sub,
    deliver_done_fn done, void *arg)
{
	struct deliver_xfer *x;
	CURL *e;

	if (sub->sink == NULL || *sub->sink == '\0')
		return NULL;
	if (d->nspare > 0)
		e = d->spare[--d->nspare];
	else if ((e = curl_easy_init()) == NULL)
		return NULL;
	x = xcalloc(1, sizeof *x);
	x->d = d;
	x->easy = e;
	x->done = done;
	x->arg = arg;
	buf_init(&x->keep, 0);
	x->keep_cap = DELIVER_EXCERPT;
	x->started_at = deliver_wall_ms();
	x->t0 = deliver_mono_ms();
	return x;
}

/* The options every request shares. */
#if LIBCURL_VERSION_NUM >= 0x075000
/*
 * Called each time libcurl is about to send the request.  When a reused
 * connection closes with no answer, libcurl sends the request again at
 * once on a new one: the endpoint gets it twice, and the failure (a
 * transport error, which pauses the subscription) is never seen.  The
 * second send is refused, so the attempt ends as that transport error.
 */
static int
deliver_on_prereq(void *arg, char *primary_ip, char *local_ip,
    int primary_port, int local_port)
{
	struct deliver_xfer *x = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	return ++x->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}
#endif

static void
deliver_setopts(struct deliver_xfer *x, const struct deliver_sub *sub)
{
	struct deliver *d = x->d;
	CURL *e = x->easy;
	long timeout, connect;

	timeout =
	    sub->timeout_ms > 0 ? (long)sub->timeout_ms : DELIVER_TIMEOUT_MS;
	connect = timeout < DELIVER_CONNECT_MS ? timeout : DELIVER_CONNECT_MS;
	curl_easy_setopt(e, CURLOPT_URL, sub->sink);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(
	    e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never an env proxy */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect);
	curl_easy_setopt(e, CURLOPT_USERAGENT, d->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, deliver_on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, deliver_on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
#if LIBCURL_VERSION_NUM >= 0x075000
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, deliver_on_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
#endif
	if (d->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, d->ca_file);
	if (d->insecure_tls) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (d->ndeny > 0) {
		curl_easy_setopt(
		    e, CURLOPT_OPENSOCKETFUNCTION, deliver_opensocket);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	}
	deliver_header_line(x, "Expect:"); /* no 100-continue round trip */
	deliver_user_headers(x, sub);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
}

static int
deliver_add(struct deliver_xfer *x)
{
	struct deliver *d = x->d;

	if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK)
		return -1;
	x->prev = NULL;
	if ((x->next = d->live) != NULL)
		d->live->prev = x;
	d->live = x;
	d->inflight++;
	return 0;
}

/* 1 if m is one of the methods a subscription may name. */
static int
deliver_method_ok(const char *m)
{
	static const char *const ok[] = {
	    "POST", "PUT", "PATCH", "DELETE", "GET"};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

int
deliver_start(struct deliver *d, const struct deliver_sub *sub,
    const struct deliver_msg *msgs, size_t n, deliver_done_fn done, void *arg)
{
	const char *method =
	    sub->http_method != NULL ? sub->http_method : "POST";
	struct deliver_xfer *x;
	struct buf body;
	size_t len;

	if (n == 0 || !deliver_method_ok(method) ||
	    (x = deliver_xfer_new(d, sub, done, arg)) == NULL)
		return -1;
	buf_init(&body, 0);
	if (deliver_build(x, sub, msgs, n, &body) != 0) {
		buf_free(&body);
		goto fail;
	}
	x->body = buf_take(&body, &len);
	if (x->body == NULL)
		x->body = xstrdup("");
	if (x->soap)
		x->keep_cap = DELIVER_FAULT_SCAN;
	if (sub->secret != NULL && *sub->secret != '\0')
		deliver_sign_headers(x, sub, &msgs[0], x->body, len);
	deliver_setopts(x, sub);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
	if (deliver_add(x) != 0)
		goto fail;
	return 0;
fail:
	deliver_xfer_free(x);
	return -1;
}

int
deliver_handshake(struct deliver *d, const struct deliver_sub *sub,
    const char *origin, deliver_done_fn done, void *arg)
{
	struct deliver_xfer *x;
	const char *p;
	char rate[32];

	for (p = origin; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			return -1;
	if ((x = deliver_xfer_new(d, sub, done, arg)) == NULL)
		return -1;
	x->origin = xstrdup(origin); /* sent by deliver_user_headers */
	if (sub->request_rate > 0) {
		snprintf(rate, sizeof rate, "%lld", (long long)sub->request_rate);
		deliver_header(x, "WebHook-Request-Rate", rate);
	}
	deliver_setopts(x, sub);
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, "OPTIONS");
	if (deliver_add(x) != 0) {
		deliver_xfer_free(x);
		return -1;
	}
	return 0;
}

/* Moves finished transfers out of the multi handle, then calls done. */
static int
deliver_reap(struct deliver *d)
{
	struct deliver_xfer *x, *head = NULL, **tail = &head;
	CURLMsg *m;
	int left, n = 0;

	while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(
		    m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		x->code = m->data.result;
		curl_multi_remove_handle(d->multi, x->easy);
		d->inflight--;
		if (x->prev != NULL)
			x->prev->next = x->next;
		else
			d->live = x->next;
		if (x->next != NULL)
			x->next->prev = x->prev;
		x->next = NULL;
		*tail = x;
		tail = &x->next;
	}
	while ((x = head) != NULL) {
		head = x->next;
		deliver_finish(x);
		deliver_xfer_free(x);
		n++;
	}
	return n;
}

/* Hands what epoll saw to curl. */
static void
deliver_events(struct deliver *d, const struct epoll_event *ev, int n)
{
	uint64_t count;
	int i, flags, running;

	for (i = 0; i < n; i++) {
		if (ev[i].data.fd == d->evfd) {
			/* drained; EAGAIN only if another read came first */
			if (read(d->evfd, &count, sizeof count) < 0)
				count = 0;
			continue;
		}
		flags = 0;
		if (ev[i].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (ev[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (ev[i].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(
		    d->multi, ev[i].data.fd, flags, &running);
	}
}

/*
 * Waits on curl's sockets with epoll and lets curl act only on the ones
 * that are ready (curl_multi_socket_action), so transfers that are idle
 * (a hanging sink) cost nothing per round.
 */
int
deliver_run(struct deliver *d, int timeout_ms)
{
	struct epoll_event ev[64];
	int64_t now = deliver_mono_ms(), deadline, wait;
	int n, running;

	deadline = now + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		wait = deadline - now;
		if (d->timer_at >= 0 && d->timer_at - now < wait)
			wait = d->timer_at - now;
		n = epoll_wait(d->epfd, ev, 64, wait > 0 ? (int)wait : 0);
		if (n > 0)
			deliver_events(d, ev, n);
		now = deliver_mono_ms();
		if (d->timer_at >= 0 && d->timer_at <= now) {
			d->timer_at = -1;
			curl_multi_socket_action(
			    d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		if (deliver_reap(d) > 0 || atomic_exchange(&d->woken, 0))
			break;
		now = deliver_mono_ms();
		if (now >= deadline)
			break;
	}
	return d->inflight;
}
