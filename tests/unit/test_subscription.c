/*
 * test_subscription.c: the subscription resource (src/subscription.c)
 * against docs/api.md: the defaults a create fills in, each field's
 * bounds, every refused combination naming the field, PATCH semantics
 * (only the fields given change, null resets one to its default), the
 * JSON answer (secret write-only) and the stored form's round trip.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "subscription.h"
#include "tap.h"
#include "xmalloc.h"

/* Applies a JSON text to s; returns 0 or -1 and the field refused. */
static int
apply(struct sub *s, const char *json, int create, char **field,
    char **cause)
{
	json_t *j = json_loads(json, 0, NULL);
	int rc;

	if (j == NULL) {
		printf("Bail out! test JSON does not parse: %s\n", json);
		exit(1);
	}
	rc = sub_apply_json(s, j, create, field, cause);
	json_decref(j);
	return rc;
}

/* A new subscription from a create body, or NULL (prints why). */
static struct sub *
created(const char *json)
{
	struct sub *s = sub_new();
	char *field, *cause;

	if (apply(s, json, 1, &field, &cause) != 0) {
		printf("#   %s refused: %s: %s\n", json, field, cause);
		free(field);
		free(cause);
		sub_free(s);
		return NULL;
	}
	return s;
}

/* The JSON answer of s as compact sorted text (caller frees). */
static char *
text(const struct sub *s)
{
	json_t *j = sub_to_json(s);
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return t;
}

static void
test_defaults(void)
{
	struct sub *s = created("{\"sink\":\"http://127.0.0.1:9/hook\"}");
	json_t *j, *want;
	const char *key;
	json_t *v;

	ok(s != NULL, "a sink alone is a whole subscription");
	if (s == NULL)
		return;
	j = sub_to_json(s);
	want = json_loads("{\"id\":0,\"name\":\"POST http://127.0.0.1:9/hook\","
	    "\"topic\":\"default\",\"endpoint_type\":\"rest\","
	    "\"delivery_method\":\"notify\","
	    "\"sink\":\"http://127.0.0.1:9/hook\",\"http_method\":\"POST\","
	    "\"content_mode\":\"structured\",\"soap_version\":null,"
	    "\"soap_action\":null,\"state\":\"pub_and_sub\",\"batch_size\":1,"
	    "\"wrap_in_list\":false,\"max_attempts\":10,"
	    "\"tcp_error_pause_ms\":10000,\"app_error_pause_ms\":3000,"
	    "\"backoff_factor\":1.0,\"max_pause_ms\":300000,\"rate_limit\":0,"
	    "\"timeout_ms\":10000,\"headers\":{},\"max_inflight\":1,"
	    "\"filters\":[],\"secret_set\":false,\"validate\":false}", 0, NULL);
	json_object_foreach(want, key, v) {
		json_t *got = json_object_get(j, key);
		char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
		char *w = json_dumps(v, JSON_ENCODE_ANY);

		ok(got != NULL && json_equal(got, v), "default %s is %s", key, w);
		if (got == NULL || !json_equal(got, v))
			printf("#   got %s\n", g ? g : "(missing)");
		free(g);
		free(w);
	}
	is_int(json_object_size(j), json_object_size(want),
	    "the answer has exactly the documented fields");
	ok(json_object_get(j, "secret") == NULL, "secret is never in the answer");
	is_int(s->state, SUB_PUB_AND_SUB, "state pub_and_sub");
	ok(s->filter != NULL, "the empty filter list is compiled");
	json_decref(j);
	json_decref(want);
	sub_free(s);

	/* SOAP defaults to 1.1; pull is named "pull" */
	s = created("{\"sink\":\"https://h/s\",\"endpoint_type\":\"soap\"}");
	ok(s != NULL && s->soap_version != NULL &&
	    strcmp(s->soap_version, "1.1") == 0, "soap_version defaults to 1.1");
	ok(s != NULL && s->soap_action == NULL, "soap_action defaults to null");
	sub_free(s);
	s = created("{\"delivery_method\":\"pull\"}");
	ok(s != NULL && strcmp(s->name, "pull") == 0 && s->sink == NULL,
	    "a pull subscription needs no sink and is named pull");
	sub_free(s);
	s = created("{\"sink\":\"http://h/x\",\"http_method\":\"PUT\"}");
	ok(s != NULL && strcmp(s->name, "PUT http://h/x") == 0,
	    "the default name is \"<method> <sink>\"");
	sub_free(s);
}

struct bcase {
	const char *body; /* create body (a sink is added) */
	const char *field;
	int ok;
};

#define SINK "\"sink\":\"http://127.0.0.1:9/h\""
static const struct bcase bcases[] = {
	/* integers: each bound and one past it */
	{ "\"batch_size\":0", "batch_size", 0 },
	{ "\"batch_size\":1", "batch_size", 1 },
	{ "\"batch_size\":1000", "batch_size", 1 },
	{ "\"batch_size\":1001", "batch_size", 0 },
	{ "\"batch_size\":1.5", "batch_size", 0 },
	{ "\"batch_size\":\"10\"", "batch_size", 0 },
	{ "\"max_attempts\":0", "max_attempts", 0 },
	{ "\"max_attempts\":1", "max_attempts", 1 },
	{ "\"max_attempts\":1000", "max_attempts", 1 },
	{ "\"max_attempts\":1001", "max_attempts", 0 },
	{ "\"tcp_error_pause_ms\":-1", "tcp_error_pause_ms", 0 },
	{ "\"tcp_error_pause_ms\":0", "tcp_error_pause_ms", 1 },
	{ "\"tcp_error_pause_ms\":86400000", "tcp_error_pause_ms", 1 },
	{ "\"tcp_error_pause_ms\":86400001", "tcp_error_pause_ms", 0 },
	{ "\"app_error_pause_ms\":-1", "app_error_pause_ms", 0 },
	{ "\"app_error_pause_ms\":0", "app_error_pause_ms", 1 },
	{ "\"app_error_pause_ms\":86400000", "app_error_pause_ms", 1 },
	{ "\"app_error_pause_ms\":86400001", "app_error_pause_ms", 0 },
	{ "\"max_pause_ms\":-5", "max_pause_ms", 0 },
	{ "\"max_pause_ms\":0", "max_pause_ms", 1 },
	{ "\"max_pause_ms\":86400000", "max_pause_ms", 1 },
	{ "\"max_pause_ms\":86400001", "max_pause_ms", 0 },
	{ "\"rate_limit\":-1", "rate_limit", 0 },
	{ "\"rate_limit\":0", "rate_limit", 1 },
	{ "\"rate_limit\":100000", "rate_limit", 1 },
	{ "\"rate_limit\":100001", "rate_limit", 0 },
	{ "\"timeout_ms\":99", "timeout_ms", 0 },
	{ "\"timeout_ms\":100", "timeout_ms", 1 },
	{ "\"timeout_ms\":300000", "timeout_ms", 1 },
	{ "\"timeout_ms\":300001", "timeout_ms", 0 },
	{ "\"max_inflight\":0", "max_inflight", 0 },
	{ "\"max_inflight\":1", "max_inflight", 1 },
	{ "\"max_inflight\":1000", "max_inflight", 1 },
	{ "\"max_inflight\":1001", "max_inflight", 0 },
	/* numbers */
	{ "\"backoff_factor\":0.99", "backoff_factor", 0 },
	{ "\"backoff_factor\":1", "backoff_factor", 1 },
	{ "\"backoff_factor\":2.5", "backoff_factor", 1 },
	{ "\"backoff_factor\":100", "backoff_factor", 1 },
	{ "\"backoff_factor\":100.01", "backoff_factor", 0 },
	{ "\"backoff_factor\":\"2\"", "backoff_factor", 0 },
	/* booleans */
	{ "\"wrap_in_list\":1", "wrap_in_list", 0 },
	{ "\"wrap_in_list\":true", "wrap_in_list", 1 },
	{ "\"validate\":\"yes\"", "validate", 0 },
	{ "\"validate\":true", "validate", 1 },
	/* choices */
	{ "\"endpoint_type\":\"grpc\"", "endpoint_type", 0 },
	{ "\"endpoint_type\":\"REST\"", "endpoint_type", 0 },
	{ "\"delivery_method\":\"push\"", "delivery_method", 0 },
	{ "\"http_method\":\"post\"", "http_method", 0 },
	{ "\"http_method\":\"HEAD\"", "http_method", 0 },
	{ "\"http_method\":\"PO\"", "http_method", 0 },
	{ "\"http_method\":\"DELETE\"", "http_method", 1 },
	{ "\"http_method\":\"GET\"", "http_method", 1 },
	{ "\"content_mode\":\"batch\"", "content_mode", 0 },
	{ "\"state\":\"paused\"", "state", 0 },
	{ "\"state\":\"disabled\"", "state", 1 },
	{ "\"state\":5", "state", 0 },
	/* strings */
	{ "\"name\":\"\"", "name", 0 },
	{ "\"name\":\"a\"", "name", 1 },
	{ "\"name\":\"tab\\there\"", "name", 0 },
	{ "\"name\":7", "name", 0 },
	{ "\"secret\":\"short\"", "secret", 0 },
	{ "\"secret\":\"0123456789abcdef\"", "secret", 0 },
	{ "\"secret\":\"whsec_0123456789abcdef\"", "secret", 1 },
	{ "\"secret\":\"whsec_dGVzdA==\"", "secret", 1 },
	{ "\"secret\":\"whsec_\"", "secret", 0 },
	{ "\"secret\":\"whsec_01234567*9abcdef\"", "secret", 0 },
	{ "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"", "secret", 1 },
	{ "\"secret\":false", "secret", 0 },
	{ "\"topic\":\"\"", "topic", 0 },
	/* headers */
	{ "\"headers\":{\"X-Env\":\"prod\"}", "headers", 1 },
	{ "\"headers\":[\"X-Env\"]", "headers", 0 },
	{ "\"headers\":{\"X-Env\":1}", "headers.X-Env", 0 },
	{ "\"headers\":{\"bad name\":\"v\"}", "headers.bad name", 0 },
	{ "\"headers\":{\"Content-Type\":\"text/plain\"}",
	    "headers.Content-Type", 0 },
	{ "\"headers\":{\"ce-id\":\"1\"}", "headers.ce-id", 0 },
	{ "\"headers\":{\"webhook-signature\":\"x\"}",
	    "headers.webhook-signature", 0 },
	{ "\"headers\":{\"X-A\":\"line\\r\\nX-B: injected\"}", "headers.X-A",
	    0 },
	/* unknown and read-only fields */
	{ "\"colour\":\"red\"", "colour", 0 },
	{ "\"id\":5", "id", 0 },
	{ "\"status\":{}", "status", 0 },
	{ "\"secret_set\":true", "secret_set", 0 },
	{ "\"created_at\":\"2020-01-01T00:00:00Z\"", "created_at", 0 },
	/* filters are compiled at create */
	{ "\"filters\":[{\"exact\":{\"type\":\"a\"}}]", "filters", 1 },
	{ "\"filters\":[{\"sql\":\"a\"}]", "filters[0].sql", 0 },
	{ "\"filters\":[{\"any\":[]}]", "filters[0].any", 0 },
	{ "\"filters\":{\"exact\":{\"type\":\"a\"}}", "filters", 0 },
};
#define NBCASES (sizeof bcases / sizeof bcases[0])

static void
test_bounds(void)
{
	struct sub *s;
	char *body, *field, *cause;
	size_t i;
	int rc;

	for (i = 0; i < NBCASES; i++) {
		body = xasprintf("{" SINK ",%s}", bcases[i].body);
		s = sub_new();
		rc = apply(s, body, 1, &field, &cause);
		if (bcases[i].ok) {
			ok(rc == 0, "accepted: %s", bcases[i].body);
			if (rc != 0)
				printf("#   %s: %s\n", field, cause);
		} else {
			ok(rc == -1, "refused: %s", bcases[i].body);
			is_str(field, bcases[i].field, "names %s: %s",
			    bcases[i].field, bcases[i].body);
			ok(cause != NULL && *cause != '\0', "says why: %s",
			    cause ? cause : "(null)");
		}
		free(field);
		free(cause);
		free(body);
		sub_free(s);
	}
	/* a name of 200 characters is fine, 201 is not */
	body = xasprintf("{" SINK ",\"name\":\"%0200d\"}", 0);
	s = sub_new();
	ok(apply(s, body, 1, &field, &cause) == 0, "a 200-character name");
	free(field);
	free(cause);
	free(body);
	sub_free(s);
	body = xasprintf("{" SINK ",\"name\":\"%0201d\"}", 0);
	s = sub_new();
	ok(apply(s, body, 1, &field, &cause) == -1, "a 201-character name");
	is_str(field, "name", "names name");
	free(field);
	free(cause);
	free(body);
	sub_free(s);
}

/* The invalid combinations of issue 3, item 3, and their fields. */
static const struct bcase ccases[] = {
	{ "{}", "sink", 0 },
	{ "{\"delivery_method\":\"notify\"}", "sink", 0 },
	{ "{\"sink\":null}", "sink", 0 },
	{ "{\"delivery_method\":\"pull\"," SINK "}", "sink", 0 },
	{ "{\"sink\":\"ftp://h/x\"}", "sink", 0 },
	{ "{\"sink\":\"mailto:a@b\"}", "sink", 0 },
	{ "{\"sink\":\"/relative/path\"}", "sink", 0 },
	{ "{\"sink\":\"http://\"}", "sink", 0 },
	{ "{\"sink\":\"http:///path\"}", "sink", 0 },
	{ "{\"sink\":\"http://h/a b\"}", "sink", 0 },
	{ "{\"sink\":\"HTTPS://Host:8443/x?y=1\"}", "sink", 1 },
	{ "{" SINK ",\"content_mode\":\"binary\",\"batch_size\":2}",
	    "batch_size", 0 },
	{ "{" SINK ",\"content_mode\":\"binary\",\"batch_size\":1}",
	    "batch_size", 1 },
	{ "{" SINK ",\"content_mode\":\"binary\",\"wrap_in_list\":true}",
	    "wrap_in_list", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"content_mode\":\"binary\"}",
	    "content_mode", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"wrap_in_list\":true}",
	    "wrap_in_list", 1 },
	{ "{" SINK ",\"soap_version\":\"1.2\"}", "soap_version", 0 },
	{ "{" SINK ",\"soap_action\":\"urn:x\"}", "soap_action", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.0\"}",
	    "soap_version", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"http_method\":\"PUT\"}",
	    "http_method", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"http_method\":\"GET\"}",
	    "http_method", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.1\","
	    "\"http_method\":\"PATCH\"}", "http_method", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.2\","
	    "\"http_method\":\"PATCH\"}", "http_method", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.2\","
	    "\"http_method\":\"DELETE\"}", "http_method", 0 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.2\","
	    "\"http_method\":\"GET\"}", "http_method", 1 },
	{ "{" SINK ",\"endpoint_type\":\"soap\",\"soap_version\":\"1.2\","
	    "\"soap_action\":\"urn:a\"}", "http_method", 1 },
	{ "{" SINK ",\"backoff_factor\":2,\"tcp_error_pause_ms\":5000,"
	    "\"max_pause_ms\":1000}", "max_pause_ms", 1 },
	{ "{" SINK ",\"backoff_factor\":1,\"tcp_error_pause_ms\":5000,"
	    "\"max_pause_ms\":1000}", "max_pause_ms", 1 },
	{ "{" SINK ",\"backoff_factor\":2,\"app_error_pause_ms\":5000,"
	    "\"tcp_error_pause_ms\":10,\"max_pause_ms\":1000}",
	    "max_pause_ms", 1 },
	{ "{" SINK ",\"backoff_factor\":2,\"app_error_pause_ms\":1000,"
	    "\"tcp_error_pause_ms\":1000,\"max_pause_ms\":1000}",
	    "max_pause_ms", 1 },
};
#define NCCASES (sizeof ccases / sizeof ccases[0])

static void
test_combinations(void)
{
	struct sub *s;
	char *field, *cause;
	size_t i;
	int rc;

	for (i = 0; i < NCCASES; i++) {
		s = sub_new();
		rc = apply(s, ccases[i].body, 1, &field, &cause);
		if (ccases[i].ok) {
			ok(rc == 0, "accepted: %s", ccases[i].body);
			if (rc != 0)
				printf("#   %s: %s\n", field, cause);
		} else {
			ok(rc == -1, "refused: %s", ccases[i].body);
			is_str(field, ccases[i].field, "names %s: %s",
			    ccases[i].field, ccases[i].body);
		}
		free(field);
		free(cause);
		sub_free(s);
	}
}

/* Every field that differs between two answers, as "a,b". */
static char *
diff(const struct sub *a, const struct sub *b)
{
	json_t *ja = sub_to_json(a), *jb = sub_to_json(b), *v;
	const char *key;
	struct buf out;

	buf_init(&out, 0);
	json_object_foreach(ja, key, v)
		if (!json_equal(v, json_object_get(jb, key)))
			buf_printf(&out, "%s%s", out.len ? "," : "", key);
	json_decref(ja);
	json_decref(jb);
	return buf_take(&out, NULL);
}

/* Applies a PATCH to a copy of base; returns the changed fields or NULL. */
static char *
patched(const char *base, const char *patch, char **pfield)
{
	struct sub *a = created(base), *b = created(base);
	char *field, *cause, *d = NULL;

	*pfield = NULL;
	if (a == NULL || b == NULL)
		goto done;
	if (apply(b, patch, 0, &field, &cause) != 0) {
		*pfield = field;
		free(cause);
		goto done;
	}
	d = diff(a, b);
done:
	sub_free(a);
	sub_free(b);
	return d;
}

static void
test_patch(void)
{
	static const char *base = "{" SINK ",\"name\":\"orders\","
	    "\"batch_size\":20,\"max_attempts\":3,\"headers\":{\"X-A\":\"1\"},"
	    "\"filters\":[{\"exact\":{\"type\":\"a\"}}],"
	    "\"secret\":\"whsec_0123456789abcdef\",\"state\":\"pub_only\","
	    "\"backoff_factor\":2,\"timeout_ms\":500}";
	static const struct {
		const char *patch;
		const char *changed; /* fields that change; NULL: refused */
		const char *field;   /* refused: the field named */
	} c[] = {
		{ "{}", "", NULL },
		{ "{\"batch_size\":5}", "batch_size", NULL },
		{ "{\"batch_size\":20}", "", NULL },
		{ "{\"batch_size\":null}", "batch_size", NULL },
		{ "{\"max_attempts\":null,\"timeout_ms\":null}",
		    "max_attempts,timeout_ms", NULL },
		{ "{\"state\":\"disabled\"}", "state", NULL },
		{ "{\"state\":null}", "state", NULL },
		{ "{\"headers\":null}", "headers", NULL },
		{ "{\"headers\":{\"X-B\":\"2\"}}", "headers", NULL },
		{ "{\"filters\":null}", "filters", NULL },
		{ "{\"filters\":[{\"prefix\":{\"type\":\"b\"}}]}", "filters",
		    NULL },
		{ "{\"secret\":null}", "secret_set", NULL },
		{ "{\"secret\":\"whsec_fedcba9876543210\"}", "", NULL },
		{ "{\"name\":\"other\"}", "name", NULL },
		{ "{\"name\":null}", "name", NULL },
		{ "{\"sink\":\"https://other/x\"}", "sink", NULL },
		{ "{\"http_method\":\"PUT\",\"validate\":true}",
		    "http_method,validate", NULL },
		{ "{\"backoff_factor\":null}", "backoff_factor", NULL },
		/* refused */
		{ "{\"topic\":\"other\"}", NULL, "topic" },
		{ "{\"topic\":\"default\"}", NULL, "topic" },
		{ "{\"sink\":null}", NULL, "sink" },
		{ "{\"content_mode\":\"binary\"}", NULL, "batch_size" },
		{ "{\"content_mode\":\"binary\",\"batch_size\":1}", "content_mode,"
		    "batch_size", NULL },
		{ "{\"endpoint_type\":\"soap\",\"http_method\":\"PUT\"}", NULL,
		    "http_method" },
		{ "{\"batch_size\":0}", NULL, "batch_size" },
		{ "{\"nope\":1}", NULL, "nope" },
		{ "{\"id\":9}", NULL, "id" },
		{ "{\"filters\":[{\"all\":[]}]}", NULL, "filters[0].all" },
	};
	char *d, *field;
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		d = patched(base, c[i].patch, &field);
		if (c[i].changed != NULL) {
			ok(d != NULL, "PATCH %s accepted", c[i].patch);
			if (d == NULL)
				printf("#   refused, naming %s\n", field);
			else
				is_str(d, c[i].changed, "PATCH %s changes only "
				    "%s", c[i].patch, *c[i].changed ?
				    c[i].changed : "nothing");
		} else {
			ok(d == NULL, "PATCH %s refused", c[i].patch);
			is_str(field, c[i].field, "PATCH %s names %s",
			    c[i].patch, c[i].field);
		}
		free(d);
		free(field);
	}
}

/* A PATCH with null resets the field to exactly its default. */
static void
test_null_resets(void)
{
	struct sub *s = created("{" SINK ",\"batch_size\":7,\"rate_limit\":9,"
	    "\"wrap_in_list\":true,\"backoff_factor\":3,"
	    "\"secret\":\"whsec_0123456789abcdef\",\"headers\":{\"X\":\"y\"},"
	    "\"filters\":[{\"exact\":{\"type\":\"a\"}}],\"name\":\"n\"}");
	struct sub *d = created("{" SINK "}");
	char *field, *cause, *delta;

	ok(s != NULL && d != NULL, "created");
	if (s == NULL || d == NULL)
		goto done;
	ok(apply(s, "{\"batch_size\":null,\"rate_limit\":null,"
	    "\"wrap_in_list\":null,\"backoff_factor\":null,\"secret\":null,"
	    "\"headers\":null,\"filters\":null,\"name\":null}", 0, &field,
	    &cause) == 0, "PATCH with nulls accepted");
	free(field);
	free(cause);
	delta = diff(s, d);
	is_str(delta, "", "after null, every field is its default again");
	free(delta);
	ok(s->secret == NULL, "the secret is gone");
	ok(s->filter != NULL, "the filter is recompiled");
done:
	sub_free(s);
	sub_free(d);
}

static void
test_secret(void)
{
	struct sub *s = created("{" SINK ",\"secret\":\"whsec_c2VjcmV0c2VjcmV0\"}");
	json_t *j;
	char *t, *spec;

	ok(s != NULL, "created with a secret");
	if (s == NULL)
		return;
	j = sub_to_json(s);
	ok(json_is_true(json_object_get(j, "secret_set")), "secret_set true");
	ok(json_object_get(j, "secret") == NULL, "no secret member");
	json_decref(j);
	t = text(s);
	ok(strstr(t, "c2VjcmV0c2VjcmV0") == NULL,
	    "the secret's text is nowhere in the answer");
	free(t);
	spec = sub_spec(s);
	ok(strstr(spec, "c2VjcmV0c2VjcmV0") == NULL,
	    "nor in the stored spec (it has its own column)");
	free(spec);
	sub_free(s);
}

static void
test_round_trip(void)
{
	static const char *const bodies[] = {
		"{" SINK "}",
		"{" SINK ",\"name\":\"x\",\"topic\":\"orders\",\"state\":\"sub_only\","
		    "\"http_method\":\"PATCH\",\"content_mode\":\"binary\","
		    "\"max_attempts\":1000,\"tcp_error_pause_ms\":0,"
		    "\"app_error_pause_ms\":86400000,\"backoff_factor\":1.5,"
		    "\"max_pause_ms\":86400000,\"rate_limit\":100000,"
		    "\"timeout_ms\":100,\"max_inflight\":1000,"
		    "\"headers\":{\"X-Env\":\"prod\",\"Authorization\":\"Bearer x\"},"
		    "\"filters\":[{\"all\":[{\"exact\":{\"type\":\"a\"}},"
		    "{\"not\":{\"any\":[{\"prefix\":{\"source\":\"/x\"}},"
		    "{\"suffix\":{\"region\":\"-eu\"}}]}}]}],"
		    "\"validate\":true}",
		"{\"sink\":\"https://h/soap\",\"endpoint_type\":\"soap\","
		    "\"soap_version\":\"1.2\",\"http_method\":\"GET\","
		    "\"soap_action\":\"urn:sluice#x\",\"batch_size\":1000}",
		"{\"delivery_method\":\"pull\",\"batch_size\":50,"
		    "\"wrap_in_list\":true}",
	};
	struct sub *s, *l;
	char *spec, *spec2, *cause, *d;
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		s = created(bodies[i]);
		ok(s != NULL, "created: %s", bodies[i]);
		if (s == NULL)
			continue;
		spec = sub_spec(s);
		l = sub_load(spec, &cause);
		ok(l != NULL, "the stored spec loads: %s", spec);
		if (l == NULL) {
			printf("#   %s\n", cause);
			free(cause);
			free(spec);
			sub_free(s);
			continue;
		}
		spec2 = sub_spec(l);
		is_str(spec2, spec, "spec -> load -> spec is the same");
		/* the columns (name, topic, state, secret) are not in it */
		free(l->name);
		l->name = s->name ? xstrdup(s->name) : NULL;
		free(l->topic);
		l->topic = xstrdup(s->topic);
		l->state = s->state;
		d = diff(s, l);
		is_str(d, "", "load gives back every field but the columns");
		ok(l->filter != NULL, "load compiles the filters");
		free(d);
		free(spec2);
		free(spec);
		sub_free(l);
		sub_free(s);
	}
	/* a stored form that does not parse */
	l = sub_load("{not json", &cause);
	ok(l == NULL && cause != NULL, "a broken spec does not load");
	free(cause);
	l = sub_load("{\"batch_size\":0,\"sink\":\"http://h/\"}", &cause);
	ok(l == NULL && cause != NULL, "an out-of-range spec does not load");
	free(cause);
	l = sub_load("{\"sink\":\"http://h/\",\"filters\":[{\"any\":[]}]}",
	    &cause);
	ok(l == NULL && cause != NULL, "a spec whose filters do not compile "
	    "does not load");
	free(cause);
	/* a rule tightened after a subscription was stored does not lose it */
	l = sub_load("{\"sink\":\"http://h/\",\"content_mode\":\"binary\","
	    "\"batch_size\":2}", &cause);
	ok(l != NULL, "a stored spec that a newer rule refuses still loads");
	if (l != NULL) {
		char *f2, *c2;

		is_int(l->batch_size, 2, "as it was stored");
		ok(apply(l, "{\"rate_limit\":2}", 0, &f2, &c2) == -1,
		    "but a PATCH must fix it");
		is_str(f2, "batch_size", "naming batch_size");
		free(f2);
		free(c2);
	}
	sub_free(l);
	l = sub_load("{\"endpoint_type\":\"soap\",\"sink\":\"http://h/\"}",
	    &cause);
	ok(l != NULL && l->soap_version != NULL &&
	    strcmp(l->soap_version, "1.1") == 0, "a stored SOAP spec gets 1.1");
	sub_free(l);
}

/* A default name follows the sink and method; a chosen one stays. */
static void
test_default_name_follows(void)
{
	struct sub *s = created("{\"sink\":\"http://a/x\"}");
	struct sub *n = created("{\"sink\":\"http://a/x\",\"name\":\"mine\"}");
	char *field, *cause;

	ok(s != NULL && n != NULL, "created");
	if (s == NULL || n == NULL)
		goto done;
	ok(apply(s, "{\"sink\":\"http://b/y\"}", 0, &field, &cause) == 0,
	    "PATCH sink");
	is_str(s->name, "POST http://b/y", "the default name follows the sink");
	ok(apply(s, "{\"http_method\":\"PUT\"}", 0, &field, &cause) == 0,
	    "PATCH http_method");
	is_str(s->name, "PUT http://b/y", "and the method");
	ok(apply(s, "{\"sink\":\"http://c/z\",\"name\":\"PUT http://b/y\"}",
	    0, &field, &cause) == 0, "PATCH sink with the old name given");
	is_str(s->name, "PUT http://b/y", "a name given in the PATCH wins");
	ok(apply(n, "{\"sink\":\"http://b/y\"}", 0, &field, &cause) == 0,
	    "PATCH sink of a named one");
	is_str(n->name, "mine", "a chosen name stays");
done:
	sub_free(s);
	sub_free(n);
}

/* PATCH back to REST drops the SOAP-only fields the body leaves out. */
static void
test_soap_to_rest(void)
{
	struct sub *s = created("{" SINK ",\"endpoint_type\":\"soap\","
	    "\"soap_action\":\"urn:x\"}");
	char *field, *cause;

	ok(s != NULL && strcmp(s->soap_version, "1.1") == 0, "SOAP 1.1");
	if (s == NULL)
		return;
	ok(apply(s, "{\"endpoint_type\":\"rest\"}", 0, &field, &cause) == 0,
	    "PATCH endpoint_type rest alone is accepted");
	ok(s->soap_version == NULL && s->soap_action == NULL,
	    "soap_version and soap_action are gone");
	free(field);
	free(cause);
	ok(apply(s, "{\"endpoint_type\":\"rest\",\"soap_action\":\"a\"}", 0,
	    &field, &cause) == -1, "naming soap_action with rest is refused");
	is_str(field, "soap_action", "names soap_action");
	free(field);
	free(cause);
	sub_free(s);
}

static void
test_states(void)
{
	enum sub_state st;

	ok(sub_state_queues(SUB_PUB_AND_SUB) && sub_state_delivers(SUB_PUB_AND_SUB),
	    "pub_and_sub queues and delivers");
	ok(sub_state_queues(SUB_PUB_ONLY) && !sub_state_delivers(SUB_PUB_ONLY),
	    "pub_only queues and does not deliver");
	ok(!sub_state_queues(SUB_SUB_ONLY) && sub_state_delivers(SUB_SUB_ONLY),
	    "sub_only delivers and queues nothing new");
	ok(!sub_state_queues(SUB_DISABLED) && !sub_state_delivers(SUB_DISABLED),
	    "disabled does neither");
	ok(sub_state_parse("sub_only", &st) == 0 && st == SUB_SUB_ONLY,
	    "parses sub_only");
	ok(sub_state_parse("paused", &st) == -1, "refuses paused");
	is_str(sub_state_name(SUB_PUB_ONLY), "pub_only", "names pub_only");
}

int
main(void)
{
	test_defaults();
	test_bounds();
	test_combinations();
	test_patch();
	test_null_resets();
	test_secret();
	test_round_trip();
	test_soap_to_rest();
	test_default_name_follows();
	test_states();
	return tap_done();
}
