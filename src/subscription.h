/*
 * subscription.h: the webhook subscription resource: its fields (one
 * table drives defaults, validation, JSON in and out, and the docs), the
 * combinations that are refused, and the compiled filter.
 *
 * Pure: no I/O, no globals.  A loaded struct sub is immutable and may be
 * shared between threads (the catalog hands them out).
 */
#ifndef SLUICE_SUBSCRIPTION_H
#define SLUICE_SUBSCRIPTION_H

#include <stdint.h>

#include <jansson.h>

struct filter;

enum sub_state {
	SUB_PUB_AND_SUB, /* queue new events and deliver */
	SUB_PUB_ONLY,	 /* queue, do not deliver (nor allow pull) */
	SUB_SUB_ONLY,	 /* queue nothing new, deliver what is queued */
	SUB_DISABLED,	 /* neither; the queue is kept */
};

struct sub {
	int64_t id;		    /* server-assigned */
	int64_t topic_id;
	char *topic;		    /* topic name */
	char *name;		    /* unique per topic */
	int soap;		    /* endpoint_type soap */
	int pull;		    /* delivery_method pull */
	char *sink;		    /* notify: http(s) URL */
	char *http_method;	    /* POST PUT PATCH DELETE GET */
	int binary;		    /* content_mode binary */
	char *soap_version;	    /* "1.1" or "1.2" for SOAP, else NULL */
	char *soap_action;	    /* SOAP only, may be NULL */
	enum sub_state state;
	int64_t batch_size;	    /* 1..1000 */
	int wrap_in_list;	    /* always send a list */
	int64_t max_attempts;	    /* then dead */
	int64_t tcp_error_pause_ms; /* pause after a transport error */
	int64_t app_error_pause_ms; /* pause after an application error */
	double backoff_factor;	    /* pause multiplier per failure */
	int64_t max_pause_ms;	    /* cap of pauses */
	int64_t rate_limit;	    /* deliveries per second, 0: none */
	int64_t timeout_ms;	    /* one request */
	char **headers;		    /* name, value, ..., NULL */
	int64_t max_inflight;	    /* requests at once; 1: strict order */
	json_t *filters;	    /* as given (an array) */
	struct filter *filter;	    /* compiled from filters */
	char *secret;		    /* signing secret or NULL */
	int validate;		    /* run the handshake first */
	char *previous_secret;	    /* a replaced secret, or NULL: it signs
				       too until previous_secret_until */
	int64_t previous_secret_until; /* ms; 0: none */
	int64_t created_at;
	int64_t updated_at;
	int refs; /* catalog views that hold it (catalog.c, atomically) */
};

const char *sub_state_name(enum sub_state);
int sub_state_parse(const char *, enum sub_state *);
/* Does the state take new events into the queue?  Deliver from it? */
int sub_state_queues(enum sub_state);
int sub_state_delivers(enum sub_state);

struct sub *sub_new(void);
void sub_free(struct sub *);
/*
 * Applies a create or PATCH body: only the fields given change; null
 * resets a field to its default.  Then checks every rule and compiles the
 * filters.  -1 with *field and *cause (caller frees) if invalid.
 */
int sub_apply_json(struct sub *, json_t *body, int create, char **field,
    char **cause) __attribute__((warn_unused_result));
/* The stored form: every field but id, topic, name, state and secret. */
char *sub_spec(const struct sub *);
/* Rebuilds from the stored form; NULL if it does not parse. */
struct sub *sub_load(const char *spec, char **cause);
/* The resource without status (secret shown only as secret_set). */
json_t *sub_to_json(const struct sub *);
/* The replaced secret that still signs at now (ms), or NULL. */
const char *sub_previous_secret(const struct sub *, int64_t now);
/* The default name: "<METHOD> <sink>", or "pull". */
char *sub_default_name(const struct sub *);

#endif
