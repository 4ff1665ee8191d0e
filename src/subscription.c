/*
 * subscription.c: the subscription resource.  One table lists every field
 * with its type, bounds and default; it drives applying a create or PATCH
 * body, the stored form, and the JSON answer.  The rules that tie fields
 * together (notify needs a sink, binary mode sends one event at a time,
 * SOAP 1.1 is POST only...) are checked after every change.
 *
 * Pure: no I/O, no globals.
 */
#include "autoconfig.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudevent.h"
#include "deliver.h"
#include "filter.h"
#include "subscription.h"
#include "xmalloc.h"

enum sub_type {
	T_CHOICE,  /* a string from choices, stored as its index (int) */
	T_CHOICES, /* a string from choices, stored as a string (or NULL) */
	T_STRING,  /* a string of min to max characters, or NULL */
	T_INT,	   /* an integer from min to max */
	T_NUMBER,  /* a number from min to max */
	T_BOOL,
	T_HEADERS, /* an object of string values */
	T_FILTERS, /* a filter array */
};

struct sub_field {
	const char *name;
	enum sub_type type;
	size_t offset;
	const char *def;     /* default as text; NULL: none */
	double min, max;
	const char *choices; /* '|'-separated */
	int column;	     /* kept in its own column, not in the spec */
};

#define O(f) offsetof(struct sub, f)
static const struct sub_field sub_fields[] = {
	{ "name", T_STRING, O(name), NULL, 1, 200, NULL, 1 },
	{ "topic", T_STRING, O(topic), "default", 1, 128, NULL, 1 },
	{ "endpoint_type", T_CHOICE, O(soap), "rest", 0, 0, "rest|soap", 0 },
	{ "delivery_method", T_CHOICE, O(pull), "notify", 0, 0, "notify|pull",
	    0 },
	{ "sink", T_STRING, O(sink), NULL, 1, 2048, NULL, 0 },
	{ "http_method", T_CHOICES, O(http_method), "POST", 0, 0,
	    "POST|PUT|PATCH|DELETE|GET", 0 },
	{ "content_mode", T_CHOICE, O(binary), "structured", 0, 0,
	    "structured|binary", 0 },
	{ "soap_version", T_CHOICES, O(soap_version), NULL, 0, 0, "1.1|1.2",
	    0 },
	{ "soap_action", T_STRING, O(soap_action), NULL, 0, 1024, NULL, 0 },
	{ "state", T_CHOICE, O(state), "pub_and_sub", 0, 0,
	    "pub_and_sub|pub_only|sub_only|disabled", 1 },
	{ "batch_size", T_INT, O(batch_size), "1", 1, 1000, NULL, 0 },
	{ "wrap_in_list", T_BOOL, O(wrap_in_list), "false", 0, 1, NULL, 0 },
	{ "max_attempts", T_INT, O(max_attempts), "10", 1, 1000, NULL, 0 },
	{ "tcp_error_pause_ms", T_INT, O(tcp_error_pause_ms), "10000", 0,
	    86400000, NULL, 0 },
	{ "app_error_pause_ms", T_INT, O(app_error_pause_ms), "3000", 0,
	    86400000, NULL, 0 },
	{ "backoff_factor", T_NUMBER, O(backoff_factor), "1", 1, 100, NULL, 0 },
	{ "max_pause_ms", T_INT, O(max_pause_ms), "300000", 0, 86400000, NULL,
	    0 },
	{ "rate_limit", T_INT, O(rate_limit), "0", 0, 100000, NULL, 0 },
	{ "timeout_ms", T_INT, O(timeout_ms), "10000", 100, 300000, NULL, 0 },
	{ "headers", T_HEADERS, O(headers), NULL, 0, 64, NULL, 0 },
	{ "max_inflight", T_INT, O(max_inflight), "1", 1, 1000, NULL, 0 },
	{ "filters", T_FILTERS, O(filters), NULL, 0, 0, NULL, 0 },
	{ "secret", T_STRING, O(secret), NULL, 1, 256, NULL, 1 },
	{ "validate", T_BOOL, O(validate), "false", 0, 1, NULL, 0 },
};
#undef O
#define SUB_NFIELDS (sizeof sub_fields / sizeof sub_fields[0])

static const char *const sub_states[] = { "pub_and_sub", "pub_only",
	"sub_only", "disabled" };

const char *
sub_state_name(enum sub_state s)
{
	return sub_states[s];
}

int
sub_state_parse(const char *s, enum sub_state *out)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, sub_states[i]) == 0) {
			*out = (enum sub_state)i;
			return 0;
		}
	return -1;
}

int
sub_state_queues(enum sub_state s)
{
	return s == SUB_PUB_AND_SUB || s == SUB_PUB_ONLY;
}

int
sub_state_delivers(enum sub_state s)
{
	return s == SUB_PUB_AND_SUB || s == SUB_SUB_ONLY;
}

/* The index of v in a '|'-separated list, or -1. */
static int
sub_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;
	int i = 0;

	while (p != NULL) {
		if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return i;
		p = strchr(p, '|');
		if (p != NULL)
			p++;
		i++;
	}
	return -1;
}

static const char *
sub_choice_name(const char *choices, int index, char *out, size_t size)
{
	const char *p = choices, *end;
	size_t n;

	while (index-- > 0 && p != NULL)
		if ((p = strchr(p, '|')) != NULL)
			p++;
	if (p == NULL)
		return NULL;
	end = strchr(p, '|');
	n = end ? (size_t)(end - p) : strlen(p);
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

static void
sub_headers_free(char **h)
{
	size_t i;

	for (i = 0; h != NULL && h[i] != NULL; i++)
		free(h[i]);
	free(h);
}

/* Frees whatever the field holds and sets its default. */
static void
sub_field_reset(struct sub *s, const struct sub_field *f)
{
	void *p = (char *)s + f->offset;

	switch (f->type) {
	case T_CHOICE:
		*(int *)p = f->def ? sub_choice(f->choices, f->def) : 0;
		break;
	case T_CHOICES:
	case T_STRING:
		free(*(char **)p);
		*(char **)p = f->def ? xstrdup(f->def) : NULL;
		break;
	case T_INT:
		*(int64_t *)p = f->def ? strtoll(f->def, NULL, 10) : 0;
		break;
	case T_NUMBER:
		*(double *)p = f->def ? strtod(f->def, NULL) : 0;
		break;
	case T_BOOL:
		*(int *)p = f->def && strcmp(f->def, "true") == 0;
		break;
	case T_HEADERS:
		sub_headers_free(*(char ***)p);
		*(char ***)p = NULL;
		break;
	case T_FILTERS:
		json_decref(*(json_t **)p);
		*(json_t **)p = json_array();
		break;
	}
}

struct sub *
sub_new(void)
{
	struct sub *s = xcalloc(1, sizeof *s);
	size_t i;

	for (i = 0; i < SUB_NFIELDS; i++)
		sub_field_reset(s, &sub_fields[i]);
	return s;
}

void
sub_free(struct sub *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < SUB_NFIELDS; i++)
		if (sub_fields[i].type == T_STRING ||
		    sub_fields[i].type == T_CHOICES)
			free(*(char **)((char *)s + sub_fields[i].offset));
	sub_headers_free(s->headers);
	free(s->previous_secret);
	json_decref(s->filters);
	filter_free(s->filter);
	free(s);
}

/*
 * A header name: an RFC 7230 token that sluice does not set itself; a
 * value: field-vchar, SP and HTAB (no other control character, no DEL).
 */
static int
sub_header_ok(const char *name, const char *value, char **cause)
{
	static const char *const own[] = { "content-type", "content-length",
		"host", "user-agent", "transfer-encoding", "connection",
		"soapaction", "webhook-id", "webhook-timestamp",
		"webhook-signature", NULL };
	const char *p;
	size_t i;

	for (p = name; *p != '\0'; p++)
		if (!(*p > 0x20 && *p < 0x7f && strchr("()<>@,;:\\\"/[]?={}",
		    *p) == NULL))
			break;
	if (*name == '\0' || *p != '\0') {
		*cause = xstrdup("not a valid header name");
		return 0;
	}
	for (i = 0; own[i] != NULL; i++)
		if (strcasecmp(name, own[i]) == 0 ||
		    strncasecmp(name, "ce-", 3) == 0) {
			*cause = xstrdup("sluice sets this header itself");
			return 0;
		}
	for (p = value; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			*cause = xstrdup("control characters are not allowed in "
			    "a header value");
			return 0;
		}
	return 1;
}

static int
sub_set_headers(struct sub *s, json_t *v, char **field, char **cause)
{
	const char *name;
	json_t *hv;
	char **h;
	size_t n = 0;

	if (!json_is_object(v) || json_object_size(v) > 64) {
		*field = xstrdup("headers");
		*cause = xstrdup("must be an object of at most 64 name: string");
		return -1;
	}
	h = xcalloc(2 * json_object_size(v) + 1, sizeof *h);
	json_object_foreach(v, name, hv) {
		if (!json_is_string(hv) || json_string_length(hv) > 4096 ||
		    !sub_header_ok(name, json_string_value(hv), cause)) {
			*field = xasprintf("headers.%s", name);
			if (*cause == NULL)
				*cause = xstrdup("must be a string of at most "
				    "4096 bytes");
			sub_headers_free(h);
			return -1;
		}
		h[n++] = xstrdup(name);
		h[n++] = xstrdup(json_string_value(hv));
	}
	sub_headers_free(s->headers);
	s->headers = h;
	return 0;
}

/* The characters (code points) of a JSON string: jansson's are UTF-8. */
static size_t
sub_chars(const json_t *v)
{
	const unsigned char *p = (const unsigned char *)json_string_value(v);
	size_t len = json_string_length(v), n = 0, i;

	for (i = 0; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Sets one field from its JSON value (null: the default). */
static int
sub_set(struct sub *s, const struct sub_field *f, json_t *v, char **field,
    char **cause)
{
	void *p = (char *)s + f->offset;
	double d;
	int i;

	if (json_is_null(v)) {
		sub_field_reset(s, f);
		return 0;
	}
	switch (f->type) {
	case T_CHOICE:
	case T_CHOICES:
		if (!json_is_string(v) ||
		    (i = sub_choice(f->choices, json_string_value(v))) < 0) {
			*cause = xasprintf("must be one of %s", f->choices);
			goto bad;
		}
		if (f->type == T_CHOICE)
			*(int *)p = i;
		else {
			free(*(char **)p);
			*(char **)p = xstrdup(json_string_value(v));
		}
		return 0;
	case T_STRING:
		if (!json_is_string(v) || sub_chars(v) < f->min ||
		    sub_chars(v) > f->max ||
		    !cloudevent_valid_string(json_string_value(v),
			json_string_length(v))) {
			*cause = xasprintf("must be a string of %.0f to %.0f "
			    "characters without control characters", f->min,
			    f->max);
			goto bad;
		}
		free(*(char **)p);
		*(char **)p = xstrdup(json_string_value(v));
		return 0;
	case T_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max) {
			*cause = xasprintf("must be a whole number from %.0f to "
			    "%.0f", f->min, f->max);
			goto bad;
		}
		*(int64_t *)p = json_integer_value(v);
		return 0;
	case T_NUMBER:
		d = json_number_value(v);
		if (!json_is_number(v) || !isfinite(d) || d < f->min ||
		    d > f->max) {
			*cause = xasprintf("must be a number from %g to %g",
			    f->min, f->max);
			goto bad;
		}
		*(double *)p = d;
		return 0;
	case T_BOOL:
		if (!json_is_boolean(v)) {
			*cause = xstrdup("must be true or false");
			goto bad;
		}
		*(int *)p = json_is_true(v);
		return 0;
	case T_HEADERS:
		return sub_set_headers(s, v, field, cause);
	case T_FILTERS:
		json_decref(s->filters);
		s->filters = json_incref(v);
		return 0;
	}
bad:
	*field = xstrdup(f->name);
	return -1;
}

/*
 * Why messages could never be sent to this sink (caller frees), or NULL.
 * libcurl (through deliver) parses it as CURLOPT_URL will; the port range
 * is checked here as well, as libcurl takes port 0.
 */
static char *
sub_url_problem(const char *url)
{
	const char *host, *p;
	char *cause;
	long port;

	if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		host = NULL;
	if (host == NULL || *host == '\0' || *host == '/' || *host == ':' ||
	    *host == '?')
		return xstrdup("must be an http:// or https:// URL with a host");
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return xstrdup("must be an http:// or https:// URL "
			    "without spaces or control characters");
	if (deliver_url_parse(url, &port, &cause) != 0)
		return cause;
	if (port != -1 && (port < 1 || port > 65535))
		return xstrdup("the port is not a number from 1 to 65535");
	return NULL;
}

#define SUB_RULE(cond, f, ...)                                               \
	do {                                                                 \
		if (cond) {                                                  \
			*field = xstrdup(f);                                 \
			*cause = xasprintf(__VA_ARGS__);                     \
			return -1;                                           \
		}                                                            \
	} while (0)

/* 1 if the Standard Webhooks library can verify what this secret signs. */
static int
sub_secret_ok(const char *secret)
{
	unsigned char *key;
	size_t len;

	if (deliver_secret_key(secret, &key, &len) != 0)
		return 0;
	free(key);
	return 1;
}

/* The rules that tie fields together. */
static int
sub_rules(struct sub *s, char **field, char **cause)
{
	SUB_RULE(!s->pull && s->sink == NULL, "sink",
	    "required: delivery_method notify pushes to a sink URL");
	SUB_RULE(s->pull && s->sink != NULL, "sink",
	    "not used with delivery_method pull: the endpoint polls");
	if (s->sink != NULL && (*cause = sub_url_problem(s->sink)) != NULL) {
		*field = xstrdup("sink");
		return -1;
	}
	SUB_RULE(s->secret != NULL && !sub_secret_ok(s->secret), "secret",
	    "must be whsec_ followed by the key in base64 (Standard Webhooks)");
	SUB_RULE(s->soap && s->binary, "content_mode",
	    "binary mode is for REST endpoints; SOAP carries the event in "
	    "its envelope");
	SUB_RULE(s->binary && s->batch_size > 1, "batch_size",
	    "must be 1 with content_mode binary (one event per request)");
	SUB_RULE(s->binary && s->wrap_in_list, "wrap_in_list",
	    "not possible with content_mode binary");
	SUB_RULE(!s->soap && s->soap_version != NULL, "soap_version",
	    "only for endpoint_type soap");
	SUB_RULE(!s->soap && s->soap_action != NULL, "soap_action",
	    "only for endpoint_type soap");
	SUB_RULE(s->soap && strcmp(s->soap_version, "1.1") == 0 &&
	    strcmp(s->http_method, "POST") != 0, "http_method",
	    "SOAP 1.1 is sent with POST only");
	SUB_RULE(s->soap && strcmp(s->soap_version, "1.2") == 0 &&
	    strcmp(s->http_method, "POST") != 0 &&
	    strcmp(s->http_method, "GET") != 0, "http_method",
	    "SOAP 1.2 is sent with POST or GET only");
	return 0;
}

/*
 * Fills the derived default, checks the rules (strict: a create or PATCH;
 * a stored subscription was checked when it was stored, and loads even if
 * a later version tightened a rule) and compiles the filters.
 */
static int
sub_check(struct sub *s, int strict, char **field, char **cause)
{
	char *ffield, *fcause;

	if (s->soap && s->soap_version == NULL)
		s->soap_version = xstrdup("1.1");
	if (strict && sub_rules(s, field, cause) != 0)
		return -1;
	filter_free(s->filter);
	s->filter = filter_compile(s->filters, &ffield, &fcause);
	if (s->filter == NULL) {
		*field = ffield;
		*cause = fcause;
		return -1;
	}
	return 0;
}

int
sub_apply_json(struct sub *s, json_t *body, int create, char **field,
    char **cause)
{
	const char *key;
	char *def;
	json_t *v;
	size_t i;
	int named_by_default;

	*field = *cause = NULL;
	/* a name that is the default follows the sink and method it names */
	def = s->name != NULL ? sub_default_name(s) : NULL;
	named_by_default = def != NULL && strcmp(s->name, def) == 0 &&
	    json_object_get(body, "name") == NULL;
	free(def);
	json_object_foreach(body, key, v) {
		for (i = 0; i < SUB_NFIELDS; i++)
			if (strcmp(sub_fields[i].name, key) == 0)
				break;
		if (i == SUB_NFIELDS) {
			*field = xstrdup(key);
			*cause = xstrdup(strcmp(key, "id") == 0 ||
			    strcmp(key, "status") == 0 ||
			    strcmp(key, "secret_set") == 0 ||
			    strcmp(key, "previous_secret_until") == 0 ||
			    strcmp(key, "created_at") == 0 ||
			    strcmp(key, "updated_at") == 0 ?
			    "read-only field" : "unknown field");
			return -1;
		}
		if (!create && strcmp(key, "topic") == 0) {
			*field = xstrdup(key);
			*cause = xstrdup("cannot be changed: create a new "
			    "subscription on the other topic");
			return -1;
		}
		if (sub_set(s, &sub_fields[i], v, field, cause) != 0)
			return -1;
	}
	/* switching to REST drops the SOAP-only fields the body leaves out */
	if (json_object_get(body, "endpoint_type") != NULL && !s->soap) {
		if (json_object_get(body, "soap_version") == NULL) {
			free(s->soap_version);
			s->soap_version = NULL;
		}
		if (json_object_get(body, "soap_action") == NULL) {
			free(s->soap_action);
			s->soap_action = NULL;
		}
	}
	if (named_by_default) {
		free(s->name);
		s->name = NULL;
	}
	if (s->name == NULL)
		s->name = sub_default_name(s);
	return sub_check(s, 1, field, cause);
}

char *
sub_default_name(const struct sub *s)
{
	if (s->pull || s->sink == NULL)
		return xstrdup("pull");
	return xasprintf("%s %s", s->http_method, s->sink);
}

/* The field's value as JSON (NULL for a field without a value). */
static json_t *
sub_field_json(const struct sub *s, const struct sub_field *f)
{
	const void *p = (const char *)s + f->offset;
	char name[32];
	json_t *o;
	char **h;

	switch (f->type) {
	case T_CHOICE:
		return json_string(sub_choice_name(f->choices, *(const int *)p,
		    name, sizeof name));
	case T_CHOICES:
	case T_STRING:
		return *(char *const *)p ? json_string(*(char *const *)p) :
		    json_null();
	case T_INT:
		return json_integer(*(const int64_t *)p);
	case T_NUMBER:
		return json_real(*(const double *)p);
	case T_BOOL:
		return json_boolean(*(const int *)p);
	case T_HEADERS:
		o = json_object();
		for (h = *(char **const *)p; h != NULL && *h != NULL; h += 2)
			json_object_set_new(o, h[0], json_string(h[1]));
		return o;
	case T_FILTERS:
		/* a copy: s may be a catalog view's, read by several threads,
		 * and jansson's reference count is not safe to share */
		return json_deep_copy(*(json_t *const *)p);
	}
	return json_null();
}

char *
sub_spec(const struct sub *s)
{
	json_t *o = json_object();
	char *text;
	size_t i;

	for (i = 0; i < SUB_NFIELDS; i++)
		if (!sub_fields[i].column)
			json_object_set_new(o, sub_fields[i].name,
			    sub_field_json(s, &sub_fields[i]));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

struct sub *
sub_load(const char *spec, char **cause)
{
	struct sub *s = sub_new();
	json_t *o = json_loads(spec, 0, NULL);
	char *field = NULL;
	const char *key;
	json_t *v;
	size_t i;

	*cause = NULL;
	if (!json_is_object(o))
		goto fail;
	json_object_foreach(o, key, v) {
		for (i = 0; i < SUB_NFIELDS; i++)
			if (strcmp(sub_fields[i].name, key) == 0 &&
			    !sub_fields[i].column)
				break;
		if (i < SUB_NFIELDS &&
		    sub_set(s, &sub_fields[i], v, &field, cause) != 0)
			goto fail;
	}
	if (sub_check(s, 0, &field, cause) != 0)
		goto fail;
	json_decref(o);
	return s;
fail:
	if (*cause == NULL)
		*cause = xstrdup("stored subscription does not parse");
	free(field);
	json_decref(o);
	sub_free(s);
	return NULL;
}

const char *
sub_previous_secret(const struct sub *s, int64_t now)
{
	return s->previous_secret_until > now ? s->previous_secret : NULL;
}

json_t *
sub_to_json(const struct sub *s)
{
	json_t *o = json_object();
	size_t i;

	json_object_set_new(o, "id", json_integer(s->id));
	for (i = 0; i < SUB_NFIELDS; i++)
		if (strcmp(sub_fields[i].name, "secret") != 0)
			json_object_set_new(o, sub_fields[i].name,
			    sub_field_json(s, &sub_fields[i]));
	json_object_set_new(o, "secret_set", json_boolean(s->secret != NULL));
	return o;
}
