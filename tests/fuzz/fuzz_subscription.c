/*
 * fuzz_subscription.c: libFuzzer target for a subscription as the admin
 * API takes it: the input is a create body (JSON).  sub_apply_json must
 * accept it or name a field and a cause; an accepted one must come back
 * the same from its stored form (sub_spec, sub_load, sub_spec again), and
 * its compiled filters must evaluate against a few events without fault.
 * This runs the filter dialects' compiler over whatever the input holds.
 *
 * Not part of the daemon; built with --enable-fuzzing (clang).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cloudevent.h"
#include "filter.h"
#include "xmalloc.h"
#include "subscription.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Events with attributes of each type for the filters to look at. */
static const char *const fuzz_events[] = {
	"{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\","
	"\"type\":\"com.example.order\",\"subject\":\"a/b\","
	"\"time\":\"2026-01-02T03:04:05Z\",\"n\":42,\"flag\":true,"
	"\"ext\":\"x\",\"data\":{\"k\":1}}",
	"{\"specversion\":\"1.0\",\"id\":\"\\u00e9\",\"source\":\"urn:x\","
	"\"type\":\"x\",\"datacontenttype\":\"text/plain\","
	"\"data_base64\":\"AAE=\"}",
};

static void
fuzz_filters(const struct filter *f)
{
	struct ce_list l;
	struct ce_problem pr;
	struct buf why;
	size_t i, j;

	for (i = 0; i < sizeof fuzz_events / sizeof *fuzz_events; i++) {
		memset(&l, 0, sizeof l);
		memset(&pr, 0, sizeof pr);
		if (cloudevent_parse_http("application/cloudevents+json", NULL,
		    0, fuzz_events[i], strlen(fuzz_events[i]), &l, &pr) != 0)
			abort();
		for (j = 0; j < l.n; j++) {
			buf_init(&why, 0);
			if (filter_match(f, l.ev[j], &why) != filter_match(f,
			    l.ev[j], NULL))
				abort();
			buf_free(&why);
		}
		ce_list_free(&l);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size,
	    JSON_REJECT_DUPLICATES, NULL);
	char *field = NULL, *cause = NULL, *spec, *again;
	struct sub *s, *back;

	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	s = sub_new();
	if (sub_apply_json(s, body, 1, &field, &cause) != 0) {
		if (field == NULL || cause == NULL)
			abort();
		free(field);
		free(cause);
	} else {
		if (field != NULL || cause != NULL)
			abort();
		spec = sub_spec(s);
		if ((back = sub_load(spec, &cause)) == NULL)
			abort(); /* what was accepted must load again */
		again = sub_spec(back);
		if (strcmp(spec, again) != 0)
			abort();
		fuzz_filters(s->filter);
		free(again);
		free(spec);
		sub_free(back);
	}
	sub_free(s);
	json_decref(body);
	return 0;
}
