/*
 * test_filter.c: the CloudEvents Subscriptions API filter dialects
 * (src/filter.c).  Each dialect on required attributes, optional ones and
 * extensions (string, integer and boolean carried), nesting of all, any
 * and not, an empty list matching everything, a missing attribute, the
 * "why" text a match explains itself with, and every compile error with
 * the field path it names.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cloudevent.h"
#include "filter.h"
#include "tap.h"

#define CTS "application/cloudevents+json"

/* The event of a structured-mode JSON text (aborts the test if refused). */
static struct cloudevent *
event(const char *json)
{
	struct ce_list l = { 0 };
	struct ce_problem p = { 0 };
	struct cloudevent *ev;

	if (cloudevent_parse_http(CTS, NULL, 0, json, strlen(json), &l,
	    &p) != 0 || l.n != 1) {
		printf("Bail out! test event refused: %s\n", json);
		exit(1);
	}
	ev = l.ev[0];
	l.ev[0] = NULL;
	l.n = 0;
	ce_list_free(&l);
	return ev;
}

/* The event every match case runs against. */
static const char *const EV =
    "{\"specversion\":\"1.0\",\"id\":\"42\",\"source\":\"/shop/eu/orders\","
    "\"type\":\"com.shop.order.created\",\"subject\":\"img/cat.png\","
    "\"datacontenttype\":\"application/json\",\"region\":\"eu-west\","
    "\"prio\":5,\"urgent\":true,\"data\":{\"n\":1}}";

struct mcase {
	const char *filters; /* JSON array (or null) */
	int match;	     /* 1 if the event matches */
	const char *why;     /* on a match: the explanation, NULL: unchecked */
};

static const struct mcase mcases[] = {
	/* no filters */
	{ "[]", 1, "no filters: every event" },
	{ "null", 1, "no filters: every event" },
	/* exact on required, optional and extension attributes */
	{ "[{\"exact\":{\"type\":\"com.shop.order.created\"}}]", 1,
	    "exact type=com.shop.order.created" },
	{ "[{\"exact\":{\"type\":\"com.shop.order\"}}]", 0, NULL },
	{ "[{\"exact\":{\"type\":\"com.shop.order.created.v2\"}}]", 0, NULL },
	{ "[{\"exact\":{\"type\":\"COM.SHOP.ORDER.CREATED\"}}]", 0, NULL },
	{ "[{\"exact\":{\"id\":\"42\"}}]", 1, "exact id=42" },
	{ "[{\"exact\":{\"specversion\":\"1.0\"}}]", 1,
	    "exact specversion=1.0" },
	{ "[{\"exact\":{\"source\":\"/shop/eu/orders\"}}]", 1, NULL },
	{ "[{\"exact\":{\"subject\":\"img/cat.png\"}}]", 1, NULL },
	{ "[{\"exact\":{\"datacontenttype\":\"application/json\"}}]", 1, NULL },
	{ "[{\"exact\":{\"region\":\"eu-west\"}}]", 1, "exact region=eu-west" },
	{ "[{\"exact\":{\"region\":\"eu\"}}]", 0, NULL },
	/* integer and boolean extensions compare by their text */
	{ "[{\"exact\":{\"prio\":\"5\"}}]", 1, "exact prio=5" },
	{ "[{\"exact\":{\"prio\":\"05\"}}]", 0, NULL },
	{ "[{\"exact\":{\"urgent\":\"true\"}}]", 1, NULL },
	{ "[{\"exact\":{\"urgent\":\"false\"}}]", 0, NULL },
	/* several properties in one expression: all must hold */
	{ "[{\"exact\":{\"type\":\"com.shop.order.created\","
	    "\"region\":\"eu-west\"}}]", 1,
	    "exact type=com.shop.order.created and exact region=eu-west" },
	{ "[{\"exact\":{\"type\":\"com.shop.order.created\","
	    "\"region\":\"us\"}}]", 0, NULL },
	/* prefix */
	{ "[{\"prefix\":{\"type\":\"com.shop.\"}}]", 1,
	    "prefix type=com.shop." },
	{ "[{\"prefix\":{\"source\":\"/shop/eu/orders\"}}]", 1, NULL },
	{ "[{\"prefix\":{\"source\":\"/shop/us\"}}]", 0, NULL },
	{ "[{\"prefix\":{\"source\":\"/shop/eu/orders/more\"}}]", 0, NULL },
	{ "[{\"prefix\":{\"region\":\"eu-\"}}]", 1, "prefix region=eu-" },
	/* suffix */
	{ "[{\"suffix\":{\"subject\":\".png\"}}]", 1, "suffix subject=.png" },
	{ "[{\"suffix\":{\"subject\":\".jpg\"}}]", 0, NULL },
	{ "[{\"suffix\":{\"type\":\"x.com.shop.order.created\"}}]", 0, NULL },
	{ "[{\"suffix\":{\"region\":\"-west\"}}]", 1, NULL },
	/* an attribute the event lacks never matches; not of it does */
	{ "[{\"exact\":{\"dataschema\":\"x\"}}]", 0, NULL },
	{ "[{\"prefix\":{\"tenant\":\"t\"}}]", 0, NULL },
	{ "[{\"suffix\":{\"time\":\"Z\"}}]", 0, NULL },
	{ "[{\"not\":{\"exact\":{\"tenant\":\"a\"}}}]", 1,
	    "not(exact tenant=a)" },
	/* not */
	{ "[{\"not\":{\"exact\":{\"type\":\"com.shop.order.deleted\"}}}]", 1,
	    "not(exact type=com.shop.order.deleted)" },
	{ "[{\"not\":{\"prefix\":{\"type\":\"com.shop\"}}}]", 0, NULL },
	{ "[{\"not\":{\"not\":{\"suffix\":{\"subject\":\".png\"}}}}]", 1,
	    "not(not(suffix subject=.png))" },
	/* all */
	{ "[{\"all\":[{\"prefix\":{\"type\":\"com.shop.\"}},"
	    "{\"exact\":{\"region\":\"eu-west\"}}]}]", 1,
	    "prefix type=com.shop. and exact region=eu-west" },
	{ "[{\"all\":[{\"prefix\":{\"type\":\"com.shop.\"}},"
	    "{\"exact\":{\"region\":\"us\"}}]}]", 0, NULL },
	{ "[{\"all\":[{\"exact\":{\"id\":\"42\"}}]}]", 1, "exact id=42" },
	/* any: the why names the clause that matched */
	{ "[{\"any\":[{\"exact\":{\"type\":\"a\"}},"
	    "{\"suffix\":{\"type\":\".created\"}},"
	    "{\"exact\":{\"type\":\"b\"}}]}]", 1, "suffix type=.created" },
	{ "[{\"any\":[{\"exact\":{\"type\":\"a\"}},"
	    "{\"exact\":{\"type\":\"b\"}}]}]", 0, NULL },
	{ "[{\"any\":[{\"exact\":{\"region\":\"eu-west\"}},"
	    "{\"exact\":{\"prio\":\"5\"}}]}]", 1, "exact region=eu-west" },
	/* the top-level list is ANDed */
	{ "[{\"exact\":{\"id\":\"42\"}},{\"suffix\":{\"subject\":\".png\"}}]",
	    1, "exact id=42 and suffix subject=.png" },
	{ "[{\"exact\":{\"id\":\"42\"}},{\"suffix\":{\"subject\":\".gif\"}}]",
	    0, NULL },
	{ "[{\"exact\":{\"id\":\"41\"}},{\"suffix\":{\"subject\":\".png\"}}]",
	    0, NULL },
	/* nesting */
	{ "[{\"all\":[{\"any\":[{\"exact\":{\"region\":\"us\"}},"
	    "{\"prefix\":{\"region\":\"eu\"}}]},"
	    "{\"not\":{\"exact\":{\"urgent\":\"false\"}}}]}]", 1,
	    "prefix region=eu and not(exact urgent=false)" },
	{ "[{\"all\":[{\"any\":[{\"exact\":{\"region\":\"us\"}},"
	    "{\"prefix\":{\"region\":\"ap\"}}]},"
	    "{\"not\":{\"exact\":{\"urgent\":\"false\"}}}]}]", 0, NULL },
	{ "[{\"any\":[{\"all\":[{\"exact\":{\"type\":\"x\"}},"
	    "{\"exact\":{\"id\":\"42\"}}]},"
	    "{\"all\":[{\"suffix\":{\"source\":\"/orders\"}},"
	    "{\"exact\":{\"prio\":\"5\"}}]}]}]", 1,
	    "suffix source=/orders and exact prio=5" },
	{ "[{\"not\":{\"any\":[{\"exact\":{\"type\":\"x\"}},"
	    "{\"exact\":{\"type\":\"y\"}}]}}]", 1,
	    "not(exact type=x or exact type=y)" },
	{ "[{\"not\":{\"all\":[{\"exact\":{\"id\":\"42\"}},"
	    "{\"exact\":{\"region\":\"eu-west\"}}]}}]", 0, NULL },
};
#define NMCASES (sizeof mcases / sizeof mcases[0])

struct ecase {
	const char *filters;
	const char *field; /* the path the error names */
	const char *cause; /* text the cause contains */
};

static const struct ecase ecases[] = {
	/* the list itself */
	{ "{\"exact\":{\"type\":\"a\"}}", "filters", "array" },
	{ "\"type=a\"", "filters", "array" },
	{ "5", "filters", "array" },
	/* an expression is an object with one dialect */
	{ "[\"exact\"]", "filters[0]", "one dialect" },
	{ "[[]]", "filters[0]", "one dialect" },
	{ "[{}]", "filters[0]", "one dialect" },
	{ "[{\"exact\":{\"type\":\"a\"},\"prefix\":{\"type\":\"b\"}}]",
	    "filters[0]", "one dialect" },
	{ "[{\"exact\":{\"type\":\"a\"}},null]", "filters[1]", "one dialect" },
	/* unknown dialects */
	{ "[{\"sql\":\"type = 'a'\"}]", "filters[0].sql",
	    "unknown filter dialect" },
	{ "[{\"Exact\":{\"type\":\"a\"}}]", "filters[0].Exact",
	    "unknown filter dialect" },
	{ "[{\"all\":[{\"exact\":{\"type\":\"a\"}},{\"regex\":{\"type\":\"."
	    "\"}}]}]", "filters[0].all[1].regex", "unknown filter dialect" },
	/* exact, prefix, suffix take a non-empty object of strings */
	{ "[{\"exact\":\"type\"}]", "filters[0].exact", "object" },
	{ "[{\"prefix\":[\"type\"]}]", "filters[0].prefix", "object" },
	{ "[{\"suffix\":{}}]", "filters[0].suffix", "object" },
	{ "[{\"exact\":null}]", "filters[0].exact", "object" },
	{ "[{\"exact\":{\"type\":5}}]", "filters[0].exact.type", "string" },
	{ "[{\"exact\":{\"urgent\":true}}]", "filters[0].exact.urgent",
	    "string" },
	{ "[{\"prefix\":{\"source\":null}}]", "filters[0].prefix.source",
	    "string" },
	{ "[{\"suffix\":{\"subject\":[\".png\"]}}]",
	    "filters[0].suffix.subject", "string" },
	/* values must not be empty (Subscriptions API 3.2.4.1.1) */
	{ "[{\"exact\":{\"subject\":\"\"}}]", "filters[0].exact.subject",
	    "not be empty" },
	{ "[{\"prefix\":{\"type\":\"a\",\"source\":\"\"}}]",
	    "filters[0].prefix.source", "not be empty" },
	{ "[{\"not\":{\"suffix\":{\"region\":\"\"}}}]",
	    "filters[0].not.suffix.region", "not be empty" },
	/* attribute names are [a-z0-9]+ */
	{ "[{\"exact\":{\"Type\":\"a\"}}]", "filters[0].exact.Type",
	    "attribute name" },
	{ "[{\"exact\":{\"my-ext\":\"a\"}}]", "filters[0].exact.my-ext",
	    "attribute name" },
	{ "[{\"prefix\":{\"\":\"a\"}}]", "filters[0].prefix.", "attribute name" },
	{ "[{\"exact\":{\"type\":\"a\",\"data.x\":\"b\"}}]",
	    "filters[0].exact.data.x", "attribute name" },
	/* all and any take a non-empty array; not takes one filter */
	{ "[{\"all\":[]}]", "filters[0].all", "non-empty array" },
	{ "[{\"any\":[]}]", "filters[0].any", "non-empty array" },
	{ "[{\"any\":{\"exact\":{\"type\":\"a\"}}}]", "filters[0].any",
	    "non-empty array" },
	{ "[{\"all\":null}]", "filters[0].all", "non-empty array" },
	{ "[{\"not\":[]}]", "filters[0].not", "one dialect" },
	{ "[{\"not\":{}}]", "filters[0].not", "one dialect" },
	{ "[{\"not\":[{\"exact\":{\"type\":\"a\"}}]}]", "filters[0].not",
	    "one dialect" },
	/* errors deep inside name the whole path */
	{ "[{\"exact\":{\"type\":\"a\"}},{\"not\":{\"any\":[]}}]",
	    "filters[1].not.any", "non-empty array" },
	{ "[{\"all\":[{\"exact\":{\"type\":\"a\"}},{\"any\":[{\"prefix\":"
	    "{\"source\":1}}]}]}]", "filters[0].all[1].any[0].prefix.source",
	    "string" },
	{ "[{\"any\":[{\"all\":[{\"not\":{\"all\":[]}}]}]}]",
	    "filters[0].any[0].all[0].not.all", "non-empty array" },
};
#define NECASES (sizeof ecases / sizeof ecases[0])

static void
test_matches(void)
{
	struct cloudevent *ev = event(EV);
	struct filter *f;
	char *field, *cause;
	struct buf why;
	json_t *j;
	size_t i;
	int m;

	for (i = 0; i < NMCASES; i++) {
		j = json_loads(mcases[i].filters, JSON_DECODE_ANY, NULL);
		f = filter_compile(j, &field, &cause);
		ok(f != NULL && field == NULL && cause == NULL,
		    "compiles: %s", mcases[i].filters);
		if (f == NULL) {
			printf("#   %s: %s\n", field, cause);
			free(field);
			free(cause);
			json_decref(j);
			continue;
		}
		/* the compiled tree does not keep the JSON */
		json_decref(j);
		m = filter_match(f, ev, NULL);
		is_int(m, mcases[i].match, "%s %s", mcases[i].match ? "matches" :
		    "does not match", mcases[i].filters);
		buf_init(&why, 0);
		is_int(filter_match(f, ev, &why), mcases[i].match,
		    "same answer when asked why: %s", mcases[i].filters);
		if (mcases[i].match && mcases[i].why != NULL)
			is_str(why.data ? why.data : "", mcases[i].why,
			    "why: %s", mcases[i].filters);
		if (!mcases[i].match)
			is_int(why.len, 0, "no why text without a match: %s",
			    mcases[i].filters);
		buf_free(&why);
		filter_free(f);
	}
	cloudevent_free(ev);
}

/* A filter without optional attributes or extensions on a bare event. */
static void
test_bare_event(void)
{
	struct cloudevent *ev = event("{\"specversion\":\"1.0\",\"id\":\"1\","
	    "\"source\":\"/s\",\"type\":\"t\"}");
	static const struct {
		const char *filters;
		int match;
	} c[] = {
		{ "[{\"exact\":{\"subject\":\"s\"}}]", 0 },
		{ "[{\"not\":{\"exact\":{\"subject\":\"s\"}}}]", 1 },
		{ "[{\"prefix\":{\"region\":\"e\"}}]", 0 },
		{ "[{\"not\":{\"suffix\":{\"region\":\"u\"}}}]", 1 },
		{ "[{\"exact\":{\"type\":\"t\",\"subject\":\"x\"}}]", 0 },
		{ "[{\"any\":[{\"exact\":{\"subject\":\"x\"}},"
		    "{\"exact\":{\"type\":\"t\"}}]}]", 1 },
	};
	char *field, *cause;
	struct filter *f;
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		j = json_loads(c[i].filters, 0, NULL);
		f = filter_compile(j, &field, &cause);
		json_decref(j);
		ok(f != NULL, "compiles: %s", c[i].filters);
		if (f != NULL)
			is_int(filter_match(f, ev, NULL), c[i].match,
			    "bare event: %s", c[i].filters);
		filter_free(f);
		free(field);
		free(cause);
	}
	cloudevent_free(ev);
}

static void
test_errors(void)
{
	struct filter *f;
	char *field, *cause;
	json_t *j;
	size_t i;

	for (i = 0; i < NECASES; i++) {
		j = json_loads(ecases[i].filters, JSON_DECODE_ANY, NULL);
		ok(j != NULL, "test JSON parses: %s", ecases[i].filters);
		f = filter_compile(j, &field, &cause);
		ok(f == NULL, "refused: %s", ecases[i].filters);
		is_str(field, ecases[i].field, "names the field: %s",
		    ecases[i].filters);
		ok(cause != NULL && strstr(cause, ecases[i].cause) != NULL,
		    "says why (\"%s\"): %s", ecases[i].cause, ecases[i].filters);
		if (cause != NULL && strstr(cause, ecases[i].cause) == NULL)
			printf("#   cause: %s\n", cause);
		filter_free(f);
		free(field);
		free(cause);
		json_decref(j);
	}
}

/* A deep tree compiles and evaluates (no per-level limit below JSON's). */
static void
test_deep(void)
{
	struct cloudevent *ev = event(EV);
	struct buf b;
	struct filter *f;
	char *field, *cause;
	json_t *j;
	int i, depth = 200;

	buf_init(&b, 0);
	buf_addstr(&b, "[");
	for (i = 0; i < depth; i++)
		buf_addstr(&b, "{\"not\":");
	buf_addstr(&b, "{\"exact\":{\"type\":\"x\"}}");
	for (i = 0; i < depth; i++)
		buf_addstr(&b, "}");
	buf_addstr(&b, "]");
	j = json_loads(b.data, 0, NULL);
	f = filter_compile(j, &field, &cause);
	ok(f != NULL, "200 nested nots compile");
	if (f != NULL)
		is_int(filter_match(f, ev, NULL), 0,
		    "an even number of nots around a miss is a miss");
	filter_free(f);
	free(field);
	free(cause);
	json_decref(j);
	buf_free(&b);
	cloudevent_free(ev);
}

int
main(void)
{
	test_matches();
	test_bare_event();
	test_errors();
	test_deep();
	return tap_done();
}
