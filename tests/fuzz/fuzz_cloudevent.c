/*
 * fuzz_cloudevent.c: libFuzzer target for the CloudEvents parser.  The first
 * input byte picks the HTTP binding mode (binary, structured, batch); in
 * binary mode the rest is "name: value\n" header lines, a blank line, then
 * the body.  Every accepted event must survive cloudevent_write_json and
 * re-parse in structured mode to the same attributes and data, and its
 * stored form must come back unchanged through cloudevent_from_stored.
 * JSON bodies are also checked against jansson: what jansson accepts (short
 * and without NUL bytes) jsonscan must accept, and what jsonscan accepts
 * jansson must accept unless a number is too big for it or a key holds
 * \u0000.
 *
 * Not part of the daemon; built with --enable-fuzzing (clang).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cloudevent.h"
#include "jsonscan.h"

#define FUZZ_MAX_HEADERS 64

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fuzz_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Data bytes compared; JSON data may lose whitespace around it. */
static int
fuzz_same_data(const struct cloudevent *a, const struct cloudevent *b)
{
	const unsigned char *p = a->data, *q = b->data;
	size_t n = a->data_len, m = b->data_len;

	if (a->kind != b->kind)
		return 0;
	if (a->kind == CE_DATA_JSON) {
		while (n > 0 && fuzz_is_ws(*p)) {
			p++;
			n--;
		}
		while (n > 0 && fuzz_is_ws(p[n - 1]))
			n--;
		while (m > 0 && fuzz_is_ws(*q)) {
			q++;
			m--;
		}
		while (m > 0 && fuzz_is_ws(q[m - 1]))
			m--;
	}
	return n == m && (n == 0 || memcmp(p, q, n) == 0);
}

static int
fuzz_same_attrs(const struct cloudevent *a, const struct cloudevent *b)
{
	const struct ce_attr *x;
	size_t i;

	if (a->nattrs != b->nattrs)
		return 0;
	for (i = 0; i < a->nattrs; i++) {
		x = cloudevent_attr(b, a->attrs[i].name);
		if (x == NULL || x->type != a->attrs[i].type ||
		    strcmp(x->value, a->attrs[i].value) != 0)
			return 0;
	}
	return 1;
}

static void
fuzz_check(const struct cloudevent *ev)
{
	struct ce_problem pr;
	struct cloudevent *st;
	struct ce_list again;
	struct buf out;

	buf_init(&out, 0);
	cloudevent_write_json(ev, 1, &out);
	if (cloudevent_parse_http("application/cloudevents+json", NULL, 0,
	    out.data, out.len, &again, &pr) != 0)
		abort();
	if (again.n != 1 || !fuzz_same_attrs(ev, again.ev[0]) ||
	    !fuzz_same_data(ev, again.ev[0]))
		abort();
	ce_list_free(&again);

	buf_reset(&out);
	cloudevent_write_json(ev, 0, &out);
	st = cloudevent_from_stored(out.data, ev->kind, ev->data,
	    ev->data_len);
	if (st == NULL || !fuzz_same_attrs(ev, st) || st->kind != ev->kind ||
	    st->data_len != ev->data_len ||
	    (ev->data_len > 0 && memcmp(st->data, ev->data, ev->data_len)))
		abort();
	cloudevent_free(st);
	buf_free(&out);
}

static void
fuzz_json_agree(const char *text, size_t len)
{
	json_error_t err;
	json_t *j;
	int ours;

	ours = jsonscan_validate(text, len, NULL) == 0;
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j != NULL && !ours && len < 1000 && memchr(text, 0, len) == NULL)
		abort();
	if (j == NULL && ours && strstr(err.text, "overflow") == NULL &&
	    strstr(err.text, "too big") == NULL &&
	    strstr(err.text, "NUL byte in object key") == NULL)
		abort();
	json_decref(j);
}

/* Splits "name: value\n" lines up to a blank line; returns the body. */
static const char *
fuzz_headers(char *text, size_t len, struct ce_header *h, size_t *nh,
    const char **ct)
{
	char *p = text, *end = text + len, *nl, *colon;

	*nh = 0;
	*ct = NULL;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl == p)
			return p + 1;
		*nl = '\0';
		colon = strchr(p, ':');
		if (colon != NULL && *nh < FUZZ_MAX_HEADERS) {
			*colon++ = '\0';
			while (*colon == ' ')
				colon++;
			if (strcasecmp(p, "content-type") == 0)
				*ct = colon;
			else {
				h[*nh].name = p;
				h[(*nh)++].value = colon;
			}
		}
		p = nl + 1;
	}
	return end;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ce_header h[FUZZ_MAX_HEADERS];
	const char *ct, *body;
	struct ce_problem pr;
	struct ce_list l;
	char *text;
	size_t nh = 0, blen, i;

	if (size < 1)
		return 0;
	text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	body = text;
	blen = size - 1;
	switch (data[0] % 3) {
	case 0:
		body = fuzz_headers(text, size - 1, h, &nh, &ct);
		blen = (size_t)(text + size - 1 - body);
		break;
	case 1:
		ct = "application/cloudevents+json";
		break;
	default:
		ct = "application/cloudevents-batch+json; charset=utf-8";
		break;
	}
	if (data[0] % 3 != 0)
		fuzz_json_agree(body, blen);
	if (cloudevent_parse_http(ct, h, nh, body, blen, &l, &pr) == 0) {
		for (i = 0; i < l.n; i++)
			fuzz_check(l.ev[i]);
		ce_list_free(&l);
	} else {
		if (pr.status != 400 && pr.status != 415)
			abort();
		if (pr.nfaults == 0 || pr.title == NULL)
			abort();
		ce_problem_free(&pr);
	}
	free(text);
	return 0;
}
