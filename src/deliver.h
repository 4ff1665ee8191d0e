/*
 * deliver.h: pushing events to one endpoint over HTTP: builds the REST
 * (structured, batch, binary) or SOAP 1.1/1.2 request for a subscription,
 * signs it (Standard Webhooks), runs it on a libcurl multi handle with
 * connection reuse, and classifies the outcome.  The only user of libcurl.
 *
 * Threads: a struct deliver belongs to one worker thread (one connection
 * pool per worker); deliver_wakeup may be called from any thread.
 */
#ifndef SLUICE_DELIVER_H
#define SLUICE_DELIVER_H

#include <stddef.h>
#include <stdint.h>

struct cloudevent;
struct ce_stored;
struct deliver;

/* What a request needs from its subscription (all borrowed). */
struct deliver_sub {
	int64_t id;		    /* subscription id, for logs */
	const char *sink;	    /* http(s) URL */
	const char *http_method;    /* POST, PUT, PATCH, DELETE, GET */
	int soap;		    /* 1: SOAP endpoint, 0: REST */
	int binary;		    /* REST content_mode binary */
	const char *soap_version;   /* "1.1" or "1.2" (SOAP only) */
	const char *soap_action;    /* SOAPAction / action= (may be NULL) */
	int wrap_in_list;	    /* REST structured: always send a batch */
	const char *const *headers; /* extra headers: name, value, ..., NULL;
				       ones that would replace the request's
				       own (Content-Type, Host, ce-*,
				       webhook-*, SOAPAction, ...) or hold
				       CR/LF are not sent */
	const char *secret;	    /* Standard Webhooks secret or NULL */
	const char *previous_secret; /* signs too (a rotation), or NULL */
	int64_t timeout_ms;	    /* whole request, connect included */
	const char *origin;	    /* sent as Origin on deliveries (the
				       webhook spec's handshake origin), or
				       NULL */
	int64_t request_rate;	    /* handshake: WebHook-Request-Rate to ask
				       for, per minute; 0: none */
};

/* One event in a request. */
struct deliver_msg {
	const char *webhook_id;	     /* stable across retries (the msg id) */
	const struct cloudevent *ev; /* the event, or NULL: */
	/* as stored, for REST structured and batch requests (not parsed) */
	const struct ce_stored *stored;
};

enum deliver_outcome {
	DELIVER_OK,	   /* a 2xx (and, for SOAP, no Fault) */
	DELIVER_TRANSPORT, /* no complete HTTP response */
	DELIVER_APP,	   /* a complete non-2xx response, or a SOAP Fault */
};

struct deliver_result {
	enum deliver_outcome outcome;
	int http_status;	 /* 0 when there was no response */
	char *error;		 /* what went wrong, for a human; NULL if ok */
	unsigned char *response; /* first bytes of the body (at most 1 KiB,
				    NUL after them); NULL if none */
	size_t response_len;
	int64_t retry_after_ms;	 /* from Retry-After on 429/503, or -1 */
	int64_t started_at;	 /* ms since the epoch */
	int64_t duration_ms;
	char *allowed_origin;	 /* handshake: WebHook-Allowed-Origin or NULL */
	int64_t allowed_rate;	 /* handshake: WebHook-Allowed-Rate, requests
				    per minute; 0 for "*", none or invalid */
};

/*
 * Checks a sink_deny list (comma-separated CIDRs) as deliver_new reads
 * it: -1 and *cause ("sink_deny: ...") if it is not one.
 */
int deliver_deny_check(const char *list, char **cause);

/* Settings of one struct deliver (strings are copied by deliver_new). */
struct deliver_options {
	const char *ca_file;   /* CA bundle, NULL for the system's */
	int insecure_tls;      /* 1: skip certificate verification */
	const char *sink_deny; /* comma-separated CIDRs, NULL for none */
	const char *user_agent; /* e.g. "sluice/0.1.0" */
	size_t max_response;   /* most response bytes read (rest discarded);
				  0: 1 MiB */
	long max_host_connections; /* per host and worker; 0: 64 */
};

/*
 * Called from deliver_run on the owning thread, exactly once per started
 * request.  result and its strings are borrowed: deliver frees them when
 * done returns (copy what you keep).  done may call deliver_start and
 * deliver_handshake, but not deliver_free.
 */
typedef void (*deliver_done_fn)(void *arg, const struct deliver_result *);

/*
 * libcurl's process-wide setup: main calls deliver_global_init once before
 * any thread starts (and before deliver_new), deliver_global_cleanup once
 * after every struct deliver is freed.
 */
int deliver_global_init(char **cause) __attribute__((warn_unused_result));
void deliver_global_cleanup(void);

/* NULL and *cause set if an option is invalid (e.g. a bad CIDR). */
struct deliver *deliver_new(const struct deliver_options *, char **cause);
/* Abandons transfers in flight without calling their done; NULL is ok. */
void deliver_free(struct deliver *);

/*
 * Starts a request carrying n events (n > 1 only for batches).  On 0 done
 * will be called from a later deliver_run; on -1 (no sink, n == 0, binary
 * mode with n > 1, an unknown SOAP version or method) nothing was started
 * and done is never called.  sub and msgs are only read during the call.
 */
int deliver_start(struct deliver *, const struct deliver_sub *,
    const struct deliver_msg *msgs, size_t n, deliver_done_fn, void *arg)
    __attribute__((warn_unused_result));
/*
 * Starts the CloudEvents webhook abuse-protection handshake: OPTIONS with
 * WebHook-Request-Origin: origin, and WebHook-Request-Rate (per minute)
 * when the subscription has a rate_limit.  The outcome is DELIVER_OK when the
 * endpoint allowed the origin (allowed_origin set), DELIVER_APP when it
 * answered without allowing it, DELIVER_TRANSPORT without an answer.
 */
int deliver_handshake(struct deliver *, const struct deliver_sub *,
    const char *origin, deliver_done_fn, void *arg)
    __attribute__((warn_unused_result));
/*
 * Runs transfers until one finishes or timeout_ms passes (or a wakeup),
 * calling done for each finished one.  Returns the transfers in flight.
 */
int deliver_run(struct deliver *, int timeout_ms);
/* Makes a deliver_run in progress return early (any thread). */
void deliver_wakeup(struct deliver *);
int deliver_inflight(struct deliver *);

/*
 * Asks libcurl whether it can send to url as written (its scheme one this
 * libcurl supports, its host and port well formed).  Returns 0 and the
 * port the URL names in *port (-1 when it names none; 0 passes, the
 * caller decides), or -1 and *cause (for a human; the caller frees).
 * No I/O; any thread.
 */
int deliver_url_parse(const char *url, long *port, char **cause)
    __attribute__((warn_unused_result));
/*
 * The signing key of a Standard Webhooks secret: "whsec_" and the key in
 * base64, padded or not (as the standardwebhooks library reads it).
 * Returns 0 and a buffer the caller frees, or -1 if secret is not that.
 */
int deliver_secret_key(const char *secret, unsigned char **key, size_t *len);
/*
 * Standard Webhooks signature "v1,<base64>" of id.timestamp.body (caller
 * frees), keyed by deliver_secret_key().  A secret stored before the API
 * required that form signs with its raw bytes, which standardwebhooks
 * verifies with { format: "raw" }.
 */
char *deliver_sign(const char *secret, const char *id, int64_t timestamp,
    const void *body, size_t len);

#endif
